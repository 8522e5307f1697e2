//! The write-ahead log's record payloads: how a [`Record`] becomes bytes
//! and back.
//!
//! A payload starts with a kind byte. Samples are written columnar
//! (`SAMPLES_COLUMNS`): the count, the first ref and timestamp, then the
//! ref deltas, the timestamps (one flag when a whole scrape shares its
//! timestamp), then the values. A value is coded against the previous
//! value logged for the same series in the same file ([`LastValues`]): an
//! integer that follows an integer as the zig-zag varint of the
//! difference (a counter's increase is usually one byte); a decimal of at
//! most `MAX_DIGITS` digits after the point that follows one of as many
//! digits as the difference of their mantissas ([`sealed::mantissa`], the
//! chunk codec's: a gauge moving by tenths is a byte or two, not eight);
//! anything else as the varint of its bits XOR the previous bits. The
//! value's first varint `u` says which: `u & 1 == 0` an integer step of
//! `unzigzag(u >> 1)`; `u == 1` the XOR in a second varint; otherwise a
//! decimal step of `unzigzag(u >> 4)` in units of `10^-e`, `e = u >> 1 & 7`
//! (1 to 7). That state lives with one
//! file: every segment and checkpoint starts from zero (a series with no
//! value yet counts as 0.0), and a series record resets its ref; so a
//! reader decodes any file from its start, and the writer starts a new
//! segment whenever it cannot vouch for the state (at open, after a write
//! error).
//!
//! The body after the kind byte is then compressed (the kind byte's high
//! bits say how) when that makes it smaller: snappy, or zstd behind the
//! varint of the decoded length. Only bodies up to `MAX_COMPRESSED_BODY`
//! are compressed, and no decoded body is larger. Older payload kinds (`SAMPLES`, `SAMPLES_DELTA`) are
//! still read; they carry raw values and leave the state alone.

use crate::sealed::{self, POW10};
use crate::varint::{get_uvarint, put_uvarint, unzigzag, zigzag};
use rustc_hash::FxHashMap;
use wasmetheus_model::Label;

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const TOMBSTONE: u8 = 3;
/// Samples with refs and timestamps as varint deltas to the first sample,
/// values as 8 raw bytes (read only: written by earlier versions).
const SAMPLES_DELTA: u8 = 4;
/// Samples in columns, values against each series' previous value.
const SAMPLES_COLUMNS: u8 = 5;
/// Kind-byte flags: the body is snappy-compressed / zstd-compressed.
const SNAPPY: u8 = 0x40;
const ZSTD: u8 = 0x80;
const KIND: u8 = 0x3f;
/// Bodies shorter than this are never compressed.
const MIN_COMPRESS: usize = 64;
/// zstd's level: the fastest of its regular levels.
const ZSTD_LEVEL: i32 = 1;

/// The most digits after the point a decimal step carries (three bits).
const MAX_DIGITS: usize = 7;

/// A record larger than this is corruption, not data.
pub(crate) const MAX_RECORD: usize = 64 << 20;
/// Only bodies up to this size are compressed, so a decoder never expands
/// a record beyond it (a few bytes a sample decode to 24: a small bound
/// keeps a hostile record's memory small).
const MAX_COMPRESSED_BODY: usize = 16 << 20;

/// What the log holds, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A series and the ref its samples use from here on in the log. Refs
    /// are the head's; a ref may be bound again by a later record (a
    /// replay packs far refs into dense head refs and logs the new
    /// bindings), so a reader follows the bindings in order.
    Series { r: u32, labels: Vec<Label> },
    /// Samples of known series.
    Samples(Vec<(u32, i64, f64)>),
    /// Samples of series `r` in `[mint, maxt]` were deleted.
    Tombstone { r: u32, mint: i64, maxt: i64 },
}

/// How record bodies are compressed (`--storage.tsdb.wal-compression`,
/// `--storage.tsdb.wal-compression-type`). Any log reads whatever it was
/// written with: the setting only chooses how new records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalCompression {
    None,
    Snappy,
    #[default]
    Zstd,
}

impl std::str::FromStr for WalCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(WalCompression::None),
            "snappy" => Ok(WalCompression::Snappy),
            "zstd" => Ok(WalCompression::Zstd),
            other => Err(format!(
                "unknown WAL compression {other:?}: use snappy, zstd or none"
            )),
        }
    }
}

const PAGE_BITS: u32 = 10;
const PAGE: usize = 1 << PAGE_BITS;

/// The bits of the last value logged for each ref in the current file (0
/// when none): 8 bytes a series in pages allocated as refs are used while
/// refs are dense (head refs are), far refs in a map, so what a decoder
/// holds grows with the samples it read, whatever refs a file names.
#[derive(Default)]
pub(crate) struct LastValues {
    pages: Vec<Option<Box<[u64]>>>,
    /// Pages allocated.
    allocated: usize,
    /// Slots set to a value other than 0 (an upper bound of the refs held).
    used: usize,
    far: FxHashMap<u32, u64>,
}

impl LastValues {
    #[inline]
    fn get(&self, r: u32) -> u64 {
        // A ref once in the map stays there.
        if !self.far.is_empty()
            && let Some(&bits) = self.far.get(&r)
        {
            return bits;
        }
        match self.pages.get((r >> PAGE_BITS) as usize) {
            Some(Some(page)) => page[r as usize & (PAGE - 1)],
            _ => 0,
        }
    }

    #[inline]
    fn set(&mut self, r: u32, bits: u64) {
        if !self.far.is_empty()
            && let Some(slot) = self.far.get_mut(&r)
        {
            *slot = bits;
            return;
        }
        let i = (r >> PAGE_BITS) as usize;
        if let Some(Some(page)) = self.pages.get_mut(i) {
            let slot = &mut page[r as usize & (PAGE - 1)];
            self.used += usize::from(*slot == 0 && bits != 0);
            *slot = bits;
            return;
        }
        if bits == 0 {
            // Absent means 0 already.
            return;
        }
        // A new page only near the pages there are, and only while at
        // least a quarter of the allocated slots are in use.
        let dense =
            i < 2 * self.pages.len() + 16 && self.allocated * PAGE <= 4 * self.used + 4 * PAGE;
        if dense {
            if i >= self.pages.len() {
                self.pages.resize_with(i + 1, || None);
            }
            let mut page = vec![0; PAGE].into_boxed_slice();
            page[r as usize & (PAGE - 1)] = bits;
            self.pages[i] = Some(page);
            self.allocated += 1;
            self.used += 1;
        } else {
            self.far.insert(r, bits);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.pages.clear();
        self.far.clear();
        self.allocated = 0;
        self.used = 0;
    }
}

/// `bits` as an integer when it is one that survives the trip through
/// `i64` bit for bit (not -0.0, not beyond ±2^53).
#[inline]
fn as_int(bits: u64) -> Option<i64> {
    let v = f64::from_bits(bits);
    if v.abs() < 9_007_199_254_740_992.0 {
        let i = v as i64;
        if (i as f64).to_bits() == bits {
            return Some(i);
        }
    }
    None
}

#[inline]
fn put_value(out: &mut Vec<u8>, prev: u64, bits: u64) {
    if let (Some(p), Some(v)) = (as_int(prev), as_int(bits)) {
        // |v - p| < 2^54: the shifted zig-zag fits.
        put_uvarint(out, zigzag(v - p) << 1);
    } else if let Some((e, step)) = decimal_step(prev, bits) {
        // |step| < 2^54: the shifted zig-zag fits too.
        put_uvarint(out, zigzag(step) << 4 | (e as u64) << 1 | 1);
    } else {
        out.push(1);
        put_uvarint(out, prev ^ bits);
    }
}

/// `bits` as a step from `prev` in units of `10^-e`, for the fewest digits
/// `e` (1 to [`MAX_DIGITS`]) that give both as exact decimals.
#[inline]
fn decimal_step(prev: u64, bits: u64) -> Option<(usize, i64)> {
    let (p, v) = (f64::from_bits(prev), f64::from_bits(bits));
    if !v.is_finite() || !p.is_finite() {
        return None;
    }
    (1..=MAX_DIGITS).find_map(|e| {
        let m = sealed::mantissa(v, e)?;
        Some((e, m - sealed::mantissa(p, e)?))
    })
}

/// The value a decimal step `u` (see the module doc) leads to from `prev`.
#[inline]
fn take_decimal_step(prev: u64, u: u64) -> Option<u64> {
    let e = (u >> 1 & 7) as usize;
    if e == 0 {
        return None;
    }
    let m = sealed::mantissa(f64::from_bits(prev), e)?.checked_add(unzigzag(u >> 4))?;
    if m.unsigned_abs() >= 1 << 53 {
        return None;
    }
    Some((m as f64 / POW10[e]).to_bits())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Writes record payloads for one file, in order.
pub(crate) struct Encoder {
    last: LastValues,
    compression: WalCompression,
    body: Vec<u8>,
    packed: Vec<u8>,
    refs: Vec<u8>,
    times: Vec<u8>,
    zstd: Option<zstd::block::Compressor>,
}

impl Encoder {
    pub(crate) fn new(compression: WalCompression) -> Encoder {
        Encoder {
            last: LastValues::default(),
            compression,
            body: Vec::new(),
            packed: Vec::new(),
            refs: Vec::new(),
            times: Vec::new(),
            zstd: None,
        }
    }

    pub(crate) fn compression(&self) -> WalCompression {
        self.compression
    }

    /// Compresses what is framed from now on with `compression`.
    pub(crate) fn set_compression(&mut self, compression: WalCompression) {
        self.compression = compression;
    }

    /// Starts a new file: no series has a previous value.
    pub(crate) fn reset(&mut self) {
        self.last.clear();
    }

    /// Appends `record` framed (length, checksum, payload) to `out`.
    pub(crate) fn frame(&mut self, record: &Record, out: &mut Vec<u8>) {
        self.body.clear();
        let kind = self.encode(record);
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        out.push(kind);
        let mut compressed = false;
        if (MIN_COMPRESS..=MAX_COMPRESSED_BODY).contains(&self.body.len()) {
            match self.compression {
                WalCompression::None => {}
                WalCompression::Snappy => {
                    self.packed
                        .resize(snap::raw::max_compress_len(self.body.len()), 0);
                    if let Ok(n) = snap::raw::Encoder::new().compress(&self.body, &mut self.packed)
                        && n < self.body.len()
                    {
                        out[start + 8] |= SNAPPY;
                        out.extend_from_slice(&self.packed[..n]);
                        compressed = true;
                    }
                }
                WalCompression::Zstd => {
                    self.packed.clear();
                    self.packed
                        .reserve(zstd::zstd_safe::compress_bound(self.body.len()));
                    let zstd = self.zstd.get_or_insert_with(zstd::block::Compressor::new);
                    if let Ok(n) = zstd.compress_to_buffer(&self.body, &mut self.packed, ZSTD_LEVEL)
                        && n + 10 < self.body.len()
                    {
                        out[start + 8] |= ZSTD;
                        put_uvarint(out, self.body.len() as u64);
                        out.extend_from_slice(&self.packed[..n]);
                        compressed = true;
                    }
                }
            }
        }
        if !compressed {
            out.extend_from_slice(&self.body);
        }
        let payload = &out[start + 8..];
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32fast::hash(payload).to_le_bytes();
        out[start..start + 4].copy_from_slice(&len);
        out[start + 4..start + 8].copy_from_slice(&crc);
    }

    /// Writes the body of `record` (after its kind byte) to `self.body`.
    fn encode(&mut self, record: &Record) -> u8 {
        let out = &mut self.body;
        match record {
            Record::Series { r, labels } => {
                self.last.set(*r, 0);
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&(labels.len() as u32).to_le_bytes());
                for l in labels {
                    put_str(out, &l.name);
                    put_str(out, &l.value);
                }
                SERIES
            }
            Record::Samples(samples) => {
                put_uvarint(out, samples.len() as u64);
                let Some(&(r0, t0, _)) = samples.first() else {
                    return SAMPLES_COLUMNS;
                };
                put_uvarint(out, u64::from(r0));
                put_uvarint(out, zigzag(t0));
                self.refs.clear();
                self.times.clear();
                let mut same_time = true;
                let (mut pr, mut pt) = (r0, t0);
                for &(r, t, _) in &samples[1..] {
                    put_uvarint(&mut self.refs, zigzag(i64::from(r) - i64::from(pr)));
                    put_uvarint(&mut self.times, zigzag(t.wrapping_sub(pt)));
                    same_time &= t == t0;
                    (pr, pt) = (r, t);
                }
                out.extend_from_slice(&self.refs);
                if same_time {
                    out.push(0);
                } else {
                    out.push(1);
                    out.extend_from_slice(&self.times);
                }
                for &(r, _, v) in samples {
                    let bits = v.to_bits();
                    put_value(out, self.last.get(r), bits);
                    self.last.set(r, bits);
                }
                SAMPLES_COLUMNS
            }
            Record::Tombstone { r, mint, maxt } => {
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&mint.to_le_bytes());
                out.extend_from_slice(&maxt.to_le_bytes());
                TOMBSTONE
            }
        }
    }
}

/// A cursor over a payload that fails instead of panicking on short input.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn uvarint(&mut self) -> Option<u64> {
        let mut pos = 0;
        let x = get_uvarint(self.0, &mut pos)?;
        self.0 = &self.0[pos..];
        Some(x)
    }
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

/// Reads the record payloads of one file, in order.
#[derive(Default)]
pub(crate) struct Decoder {
    last: LastValues,
    buf: Vec<u8>,
    zstd: Option<zstd::block::Decompressor>,
}

impl Decoder {
    /// The record in `payload`, or `None` when it is not one.
    pub(crate) fn decode(&mut self, payload: &[u8]) -> Option<Record> {
        let (&kind, body) = payload.split_first()?;
        let body = match kind & !KIND {
            0 => body,
            SNAPPY => {
                let n = snap::raw::decompress_len(body).ok()?;
                if n > MAX_COMPRESSED_BODY {
                    return None;
                }
                self.buf.resize(n, 0);
                let got = snap::raw::Decoder::new()
                    .decompress(body, &mut self.buf)
                    .ok()?;
                (got == n).then_some(())?;
                &self.buf[..]
            }
            ZSTD => {
                let mut c = Cursor(body);
                let n = usize::try_from(c.uvarint()?).ok()?;
                if n > MAX_COMPRESSED_BODY {
                    return None;
                }
                self.buf.clear();
                self.buf.reserve(n);
                let zstd = self.zstd.get_or_insert_with(zstd::block::Decompressor::new);
                let got = zstd.decompress_to_buffer(c.0, &mut self.buf).ok()?;
                (got == n && self.buf.len() == n).then_some(())?;
                &self.buf[..]
            }
            _ => return None,
        };
        decode_body(kind & KIND, body, &mut self.last)
    }
}

fn decode_body(kind: u8, body: &[u8], last: &mut LastValues) -> Option<Record> {
    let mut c = Cursor(body);
    let record = match kind {
        SERIES => {
            let r = c.u32()?;
            let n = c.u32()? as usize;
            // Two length prefixes a label: a count beyond the payload is
            // corruption.
            if n > c.0.len() / 8 {
                return None;
            }
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                labels.push(Label::new(c.string()?, c.string()?));
            }
            last.set(r, 0);
            Record::Series { r, labels }
        }
        SAMPLES => {
            let n = c.u32()? as usize;
            // 20 bytes a sample: a count beyond the payload is corruption.
            if n > c.0.len() / 20 {
                return None;
            }
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                samples.push((c.u32()?, c.u64()? as i64, f64::from_bits(c.u64()?)));
            }
            Record::Samples(samples)
        }
        SAMPLES_DELTA => {
            let n = c.uvarint()? as usize;
            // At least 10 bytes a sample: a count beyond the payload is
            // corruption.
            if n > c.0.len() / 10 {
                return None;
            }
            let mut samples = Vec::with_capacity(n);
            if n > 0 {
                let r0 = i64::from(c.u32()?);
                let t0 = c.u64()? as i64;
                for _ in 0..n {
                    let r = u32::try_from(r0.checked_add(unzigzag(c.uvarint()?))?).ok()?;
                    let t = t0.wrapping_add(unzigzag(c.uvarint()?));
                    samples.push((r, t, f64::from_bits(c.u64()?)));
                }
            }
            Record::Samples(samples)
        }
        SAMPLES_COLUMNS => Record::Samples(decode_columns(&mut c, last)?),
        TOMBSTONE => Record::Tombstone {
            r: c.u32()?,
            mint: c.u64()? as i64,
            maxt: c.u64()? as i64,
        },
        _ => return None,
    };
    c.0.is_empty().then_some(record)
}

fn decode_columns(c: &mut Cursor<'_>, last: &mut LastValues) -> Option<Vec<(u32, i64, f64)>> {
    let n = c.uvarint()? as usize;
    // At least two bytes a sample (a ref delta and a value): a count
    // beyond the payload is corruption.
    if n > c.0.len() / 2 + 1 {
        return None;
    }
    let mut samples: Vec<(u32, i64, f64)> = Vec::with_capacity(n);
    if n == 0 {
        return Some(samples);
    }
    let r0 = u32::try_from(c.uvarint()?).ok()?;
    let t0 = unzigzag(c.uvarint()?);
    samples.push((r0, t0, 0.0));
    let mut r = i64::from(r0);
    for _ in 1..n {
        r = r.checked_add(unzigzag(c.uvarint()?))?;
        samples.push((u32::try_from(r).ok()?, t0, 0.0));
    }
    match c.take(1)?[0] {
        0 => {}
        1 => {
            let mut t = t0;
            for s in &mut samples[1..] {
                t = t.wrapping_add(unzigzag(c.uvarint()?));
                s.1 = t;
            }
        }
        _ => return None,
    }
    for s in &mut samples {
        let prev = last.get(s.0);
        let u = c.uvarint()?;
        let bits = if u & 1 == 0 {
            let v = as_int(prev)?.checked_add(unzigzag(u >> 1))?;
            (v as f64).to_bits()
        } else if u == 1 {
            prev ^ c.uvarint()?
        } else {
            take_decimal_step(prev, u)?
        };
        last.set(s.0, bits);
        s.2 = f64::from_bits(bits);
    }
    Some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &[(u32, i64, f64)]) -> Vec<(u32, i64, u64)> {
        s.iter().map(|(r, t, v)| (*r, *t, v.to_bits())).collect()
    }

    fn payloads(records: &[Record], compression: WalCompression) -> Vec<Vec<u8>> {
        let mut enc = Encoder::new(compression);
        records
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                enc.frame(r, &mut out);
                out[8..].to_vec()
            })
            .collect()
    }

    fn round_trip(records: &[Record]) {
        for compression in [
            WalCompression::None,
            WalCompression::Snappy,
            WalCompression::Zstd,
        ] {
            let mut dec = Decoder::default();
            for (payload, record) in payloads(records, compression).iter().zip(records) {
                let back = dec.decode(payload).expect("decodes");
                match (&back, record) {
                    (Record::Samples(a), Record::Samples(b)) => assert_eq!(bits(a), bits(b)),
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
    }

    #[test]
    fn values_round_trip_bit_for_bit_against_the_previous_value() {
        let odd = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0002),
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_007_199_254_740_991.0,
            -9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e300,
            f64::MIN_POSITIVE,
            0.1,
            12_345.0,
            // Decimals: steps between them, to and from integers, at the
            // edge of 2^53 and of MAX_DIGITS, and ones that are not.
            0.7,
            -2.5,
            123.4,
            123.45,
            0.1234567,
            0.12345678,
            900_719_925_474.099_1,
            -900_719_925_474.099_1,
            0.1 + 0.2,
        ];
        let mut records = vec![Record::Series {
            r: 3,
            labels: vec![Label::new("__name__", "m")],
        }];
        for (i, &a) in odd.iter().enumerate() {
            for &b in &odd {
                records.push(Record::Samples(vec![
                    (3, i as i64, a),
                    (u32::MAX, i64::MIN, b),
                    (0, i64::MAX, a),
                ]));
                records.push(Record::Samples(vec![(3, i as i64 + 1, b), (0, -1, b)]));
            }
        }
        // A ref bound again starts from zero on both sides.
        records.push(Record::Series {
            r: 3,
            labels: vec![Label::new("__name__", "n")],
        });
        records.push(Record::Samples(vec![(3, 7, 5.0)]));
        round_trip(&records);
    }

    #[test]
    fn a_scrape_of_counters_costs_a_few_bytes_a_sample() {
        let scrape = |n: i64| {
            Record::Samples(
                (0..1000u32)
                    .map(|r| {
                        (
                            r,
                            1_700_000_000_000 + n * 15_000,
                            (n * i64::from(r % 20)) as f64,
                        )
                    })
                    .collect(),
            )
        };
        let records: Vec<Record> = (0..10).map(scrape).collect();
        round_trip(&records);
        last_payload_at_most(
            &records,
            &[
                (WalCompression::None, 3_000),
                (WalCompression::Snappy, 2_500),
                (WalCompression::Zstd, 1_000),
            ],
        );
    }

    /// The last record of `records` takes at most so many bytes with each
    /// compression.
    fn last_payload_at_most(records: &[Record], limits: &[(WalCompression, usize)]) {
        for &(compression, at_most) in limits {
            let last = payloads(records, compression).pop().unwrap();
            assert!(
                last.len() <= at_most,
                "{compression:?}: {} bytes for the last record",
                last.len()
            );
        }
    }

    #[test]
    fn a_scrape_of_decimal_gauges_costs_a_byte_or_two_a_sample() {
        // Gauges printed with one digit after the point, moving by up to
        // ±0.9 a scrape.
        let scrape = |n: u32| {
            Record::Samples(
                (0..1000u32)
                    .map(|r| {
                        let tenths = (r.wrapping_mul(2_654_435_761) ^ n.wrapping_mul(40_503)) % 10;
                        (
                            r,
                            1_700_000_000_000,
                            f64::from(r) + f64::from(tenths) / 10.0,
                        )
                    })
                    .collect(),
            )
        };
        let records: Vec<Record> = (0..10).map(scrape).collect();
        round_trip(&records);
        last_payload_at_most(
            &records,
            &[(WalCompression::None, 3_200), (WalCompression::Zstd, 2_000)],
        );
    }

    #[test]
    fn a_decimal_step_from_a_value_that_is_no_such_decimal_is_refused() {
        // 0.1 + 0.2 has no mantissa with one digit: a step of tenths from
        // it is corruption, as is a decimal tag without digits.
        let mut dec = Decoder::default();
        dec.last.set(3, (0.1f64 + 0.2).to_bits());
        let mut payload = vec![SAMPLES_COLUMNS];
        put_uvarint(&mut payload, 1);
        put_uvarint(&mut payload, 3);
        put_uvarint(&mut payload, 0);
        payload.push(0);
        let mut decimal = payload.clone();
        put_uvarint(&mut decimal, zigzag(1) << 4 | 1 << 1 | 1);
        assert_eq!(dec.decode(&decimal), None);
        let mut untagged = payload.clone();
        put_uvarint(&mut untagged, zigzag(1) << 4 | 1);
        assert_eq!(dec.decode(&untagged), None);
        // From 0.3 the same step is 0.4.
        dec.last.set(3, 0.3f64.to_bits());
        assert_eq!(
            dec.decode(&decimal),
            Some(Record::Samples(vec![(3, 0, 0.4)]))
        );
    }

    #[test]
    fn every_truncation_and_corruption_is_refused_or_harmless() {
        let records = vec![
            Record::Series {
                r: 1,
                labels: vec![Label::new("a", "b".repeat(100))],
            },
            Record::Samples(
                (0..200)
                    .map(|i| (i, i64::from(i), f64::from(i) * 0.5))
                    .collect(),
            ),
            Record::Tombstone {
                r: 1,
                mint: -5,
                maxt: 9,
            },
        ];
        for compression in [
            WalCompression::None,
            WalCompression::Snappy,
            WalCompression::Zstd,
        ] {
            for payload in payloads(&records, compression) {
                for cut in 0..payload.len() {
                    assert_eq!(
                        Decoder::default().decode(&payload[..cut]),
                        None,
                        "{compression:?} cut at {cut}"
                    );
                }
                // Flipped bits decode to something or nothing, never panic.
                for i in 0..payload.len() {
                    let mut bad = payload.clone();
                    bad[i] ^= 0x5a;
                    let _ = Decoder::default().decode(&bad);
                }
            }
        }
        // A compressed body that claims more than a record may hold.
        let mut huge = vec![SAMPLES_COLUMNS | ZSTD];
        put_uvarint(&mut huge, (MAX_COMPRESSED_BODY + 1) as u64);
        assert_eq!(Decoder::default().decode(&huge), None);
        let mut snappy = vec![SAMPLES_COLUMNS | SNAPPY];
        put_uvarint(&mut snappy, u64::from(u32::MAX));
        assert_eq!(Decoder::default().decode(&snappy), None);
        assert_eq!(
            Decoder::default().decode(&[SAMPLES_COLUMNS | SNAPPY | ZSTD]),
            None
        );
        // A count beyond the payload is refused before anything is allocated.
        let mut many = vec![SAMPLES_COLUMNS];
        put_uvarint(&mut many, 1 << 40);
        assert_eq!(Decoder::default().decode(&many), None);
    }

    /// Refs far apart cost what their samples cost, not a page each.
    #[test]
    fn sparse_refs_do_not_allocate_pages() {
        let mut last = LastValues::default();
        for k in 0..100_000u32 {
            last.set(k.wrapping_mul(40_503) | 1 << 31, 1);
        }
        assert!(last.allocated <= 8, "{} pages", last.allocated);
        for k in 0..100_000u32 {
            assert_eq!(last.get(k.wrapping_mul(40_503) | 1 << 31), 1);
        }
        // Dense refs get pages.
        let mut dense = LastValues::default();
        for r in 0..100_000u32 {
            dense.set(r, u64::from(r) + 1);
        }
        assert!(dense.far.is_empty());
        assert!((0..100_000u32).all(|r| dense.get(r) == u64::from(r) + 1));
        // A far ref set before its page exists stays where it is.
        let mut mixed = LastValues::default();
        mixed.set(5_000_000, 7);
        for r in 0..20_000u32 {
            mixed.set(r, 1);
        }
        mixed.set(5_000_000, 0);
        assert_eq!(mixed.get(5_000_000), 0);
        mixed.set(5_000_000, 9);
        assert_eq!(mixed.get(5_000_000), 9);
    }

    #[test]
    fn older_sample_records_are_still_read() {
        let mut delta = vec![SAMPLES_DELTA, 2];
        delta.extend_from_slice(&7u32.to_le_bytes());
        delta.extend_from_slice(&100i64.to_le_bytes());
        for (dr, dt, v) in [(0u64, 0u64, 1.5f64), (2, 2, -2.0)] {
            put_uvarint(&mut delta, dr);
            put_uvarint(&mut delta, dt);
            delta.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        assert_eq!(
            Decoder::default().decode(&delta),
            Some(Record::Samples(vec![(7, 100, 1.5), (8, 101, -2.0)]))
        );
        let mut raw = vec![SAMPLES];
        raw.extend_from_slice(&1u32.to_le_bytes());
        raw.extend_from_slice(&9u32.to_le_bytes());
        raw.extend_from_slice(&5i64.to_le_bytes());
        raw.extend_from_slice(&0.25f64.to_bits().to_le_bytes());
        assert_eq!(
            Decoder::default().decode(&raw),
            Some(Record::Samples(vec![(9, 5, 0.25)]))
        );
    }
}
