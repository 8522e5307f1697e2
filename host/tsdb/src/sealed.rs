//! Sealed chunk codec: a compact, read-optimised encoding of `(ms, f64)` samples for chunks written to disk once.
//!
//! The head keeps Gorilla/XOR chunks because they can be appended to sample
//! by sample. A sealed chunk is encoded once from all its samples, so the
//! encoder can look at the whole series and pick the representation that is
//! smallest for it: most real series are perfectly regular scrapes of
//! integers or of decimals printed with a few digits, and those collapse to
//! a few bits per sample or less.
//!
//! # Format (version 1)
//!
//! ```text
//! u8            format = 1
//! uvarint       n, the number of samples
//! (n == 0: nothing follows)
//! varint        t0 (zigzag)
//! (n >= 2) timestamps:
//!   u8 mode
//!   0 grid:      uvarint step                    t[i] = t0 + i*step exactly
//!   1 residual:  uvarint step, varint r[n-1],    t[i] = t0 + i*step + r[i]
//!                packed r[1..n]
//!   2 delta:     uvarint t[n-1] - t0,            t[i] = t[i-1] + d[i]
//!                packed d[1..n]
//!   3 shared:    uvarint t[n-1] - t0,            the timestamps of the
//!                uvarint reference               chunk at `reference`
//!                (format 2 only, see below)
//! values:
//!   u8 mode
//!   0 const int: varint m                         every value is m (an integer)
//!   1 const raw: 8 bytes LE bits                  every value has these bits
//!   2 decimal:   u8 e | order << 4, varint initial values (order of them),
//!                packed differences of the given order of the mantissas;
//!                v[i] = m[i] as f64 / 10^e
//!   3 xor:       Gorilla-style XOR bit stream to the end of the input
//!   modes 0-2 end with exceptions: uvarint count, then per exception
//!   uvarint gap to the previous one and 8 bytes LE of raw value bits.
//! packed x[..] (signed 64-bit integers), in blocks of 128:
//!   varint (zigzag) min - previous block's min, u8 width (0..=64),
//!   ceil(len*width/8) bytes: x - min, width bits each, LSB first
//! ```
//!
//! # Format 2: shared timestamps
//!
//! Format 1 with timestamp mode 3 (and only that mode): the timestamps are
//! those of another chunk, a format 1 chunk with the same count, first and
//! last timestamp, found by `reference`, a position whose meaning the
//! container gives (a part file: the other chunk's byte offset in it). All
//! series scraped from one target share their timestamps, so a part can
//! store one column of jittered timestamps per target instead of one per
//! series. The last timestamp stays in the chunk so that [`header`] needs
//! no lookup; a reference to a shared chunk is an error (no chains, so a
//! decode resolves at most once and cannot loop). Standalone chunks stay
//! format 1, readable by code that predates format 2.
//!
//! All arithmetic wraps, so any strictly increasing `i64` timestamps and any
//! `f64` bit patterns round-trip exactly: values that are not decimals of at
//! most 15 digits (NaN payloads such as the stale marker, ±Inf, -0.0, full
//! precision floats) are stored as raw bits, either as exceptions or, when
//! there are many of them, in XOR mode.
//!
//! # Choices
//!
//! - Timestamps are predicted by a grid (median interval) rather than by
//!   delta-of-delta: scrape jitter of ±j ms around the grid costs
//!   `log2(2j+1)` bits, its delta-of-delta would span ±4j. A missed scrape
//!   shifts the residuals of the rest of the chunk, which the per-block
//!   minimum absorbs. Irregular series fall back to plain deltas.
//! - Decimal mantissas are tried with differences of order 0, 1 and 2 and the
//!   smallest encoding wins: gauges bounded in a range, counters and
//!   constant-rate counters respectively.
//! - Per-block frame of reference (minimum + bit width) instead of zigzag:
//!   counter increments are all positive and often far from zero; the block
//!   minimum removes the offset, which zigzag could not.
//! - Decoding unpacks a block into a small buffer and then runs one tight
//!   loop per mode, with no per-sample branch on the mode.
//!
//! # Untrusted input
//!
//! Decoding never panics and never allocates more than the input can
//! justify: modes that cost no bytes per sample (grid timestamps) are only
//! used for `n <= 65536`; in every other mode each block of 128 samples costs
//! at least 2 bytes, so the sample count is checked against the input
//! length before the output is reserved. Shared timestamps cost nothing
//! either: their count must match the referenced chunk's, which is checked
//! as above, before anything is reserved.

use crate::varint::{put_uvarint, unzigzag, zigzag};
use thiserror::Error;

/// First byte of every encoding with its timestamps inline.
const FORMAT_V1: u8 = 1;
/// First byte of an encoding whose timestamps are another chunk's.
const FORMAT_V2: u8 = 2;

/// Largest number of samples one encoding may hold.
pub const MAX_SAMPLES: usize = u32::MAX as usize;

/// Values per bit-packed block: large enough that the 2-byte block header is
/// negligible, small enough that an outlier widens only its own block.
const BLOCK: usize = 128;
// A block's patch count and patch indexes are single bytes.
const _: () = assert!(BLOCK <= 255);

/// Flag in a block's width byte: a patch count and patches follow.
const PATCHED: u8 = 0x80;

/// Largest chunk that may use grid timestamps, the one mode that costs no
/// bytes per sample (so that a tiny corrupt input cannot claim billions of
/// samples; larger chunks pay 2 bytes per block of 128 instead).
const GRID_MAX: usize = 1 << 16;

const TS_GRID: u8 = 0;
const TS_RESIDUAL: u8 = 1;
const TS_DELTA: u8 = 2;
const TS_SHARED: u8 = 3;

const V_CONST_INT: u8 = 0;
const V_CONST_RAW: u8 = 1;
const V_DECIMAL: u8 = 2;
const V_XOR: u8 = 3;

/// Powers of ten that are exact in an f64 and keep `m / 10^e` correctly
/// rounded for |m| < 2^53.
pub(crate) const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

const TWO53: f64 = 9_007_199_254_740_992.0;

/// What [`header`] reads without decoding the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedHeader {
    pub count: usize,
    /// First timestamp; `i64::MAX` for an empty chunk (an empty interval).
    pub min_time: i64,
    /// Last timestamp; `i64::MIN` for an empty chunk.
    pub max_time: i64,
}

/// Why bytes could not be decoded as a sealed chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SealedError {
    /// The input ended in the middle of the encoding.
    #[error("sealed chunk is truncated")]
    Truncated,
    /// The first byte is not a format this code knows.
    #[error("unknown sealed chunk format {0}")]
    UnknownFormat(u8),
    /// The bytes are not something the encoder can produce.
    #[error("malformed sealed chunk: {0}")]
    Malformed(&'static str),
    /// Bytes left over after the last sample.
    #[error("{0} bytes of trailing data after the sealed chunk")]
    TrailingData(usize),
}

type Result<T> = std::result::Result<T, SealedError>;

// ---------------------------------------------------------------------------
// Encoding

/// Encodes samples sorted by strictly increasing timestamp, appending to
/// `out`. The order is the caller's guarantee: other input still encodes
/// and round-trips, but may be rejected by [`decode`]'s sanity checks.
///
/// # Panics
///
/// If there are more than [`MAX_SAMPLES`] samples.
pub fn encode(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    encode_with(samples, None, out);
}

/// [`encode`], with the timestamps replaced by `shared_ts`, a reference to
/// an earlier chunk (format 1) with the same [`encode_timestamps`] bytes,
/// when that is smaller than storing them inline (a few bytes of regular
/// timestamps are not worth a reference). Returns whether it did; the
/// decoder then needs [`decode_with`] and a resolver of the reference.
///
/// # Panics
///
/// If there are more than [`MAX_SAMPLES`] samples.
pub fn encode_with(samples: &[(i64, f64)], shared_ts: Option<u64>, out: &mut Vec<u8>) -> bool {
    let n = samples.len();
    assert!(
        n <= MAX_SAMPLES,
        "{n} samples exceed the sealed chunk limit"
    );
    let mut times = Vec::new();
    let mut shared = Vec::new();
    if n >= 2 {
        encode_times(samples, &mut times);
        if let Some(reference) = shared_ts {
            shared.push(TS_SHARED);
            put_uvarint(
                &mut shared,
                samples[n - 1].0.wrapping_sub(samples[0].0) as u64,
            );
            put_uvarint(&mut shared, reference);
        }
    }
    let use_shared = !shared.is_empty() && shared.len() < times.len();
    out.push(if use_shared { FORMAT_V2 } else { FORMAT_V1 });
    put_uvarint(out, n as u64);
    if n == 0 {
        return false;
    }
    put_uvarint(out, zigzag(samples[0].0));
    out.extend_from_slice(if use_shared { &shared } else { &times });
    encode_values(samples, out);
    use_shared
}

/// Appends the bytes that determine the timestamps of `samples`' inline
/// encoding (count, first timestamp, timestamp mode and data): two sample
/// lists with equal bytes here have equal timestamps, so the first one's
/// chunk can be the [`encode_with`] reference of the other's. Nothing for
/// fewer than 2 samples, which have nothing worth sharing.
pub fn encode_timestamps(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let n = samples.len();
    if n >= 2 {
        put_uvarint(out, n as u64);
        put_uvarint(out, zigzag(samples[0].0));
        encode_times(samples, out);
    }
}

fn encode_times(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let n = samples.len();
    let t0 = samples[0].0;
    let deltas: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].0.wrapping_sub(w[0].0))
        .collect();
    // Deltas are positive but may exceed i64::MAX, hence unsigned order.
    let step = {
        let mut d: Vec<u64> = deltas.iter().map(|&d| d as u64).collect();
        let mid = d.len() / 2;
        *d.select_nth_unstable(mid).1
    };
    let mut grid = t0;
    let residuals: Vec<i64> = samples[1..]
        .iter()
        .map(|&(t, _)| {
            grid = grid.wrapping_add(step as i64);
            t.wrapping_sub(grid)
        })
        .collect();
    if n <= GRID_MAX && residuals.iter().all(|&r| r == 0) {
        out.push(TS_GRID);
        put_uvarint(out, step);
        return;
    }
    let mut res = vec![TS_RESIDUAL];
    put_uvarint(&mut res, step);
    put_uvarint(&mut res, zigzag(residuals[n - 2]));
    pack(&residuals, &mut res);
    let mut del = vec![TS_DELTA];
    put_uvarint(&mut del, samples[n - 1].0.wrapping_sub(t0) as u64);
    pack(&deltas, &mut del);
    out.extend_from_slice(if res.len() <= del.len() { &res } else { &del });
}

fn encode_values(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let n = samples.len();
    let mut best: Option<Vec<u8>> = None;

    // Constant, possibly with a few exceptions (a stale marker at the end).
    let c = samples[0].1.to_bits();
    let differing = samples.iter().filter(|s| s.1.to_bits() != c).count();
    if differing <= n / 8 {
        let mut buf = Vec::new();
        match mantissa(f64::from_bits(c), 0) {
            Some(m) => {
                buf.push(V_CONST_INT);
                put_uvarint(&mut buf, zigzag(m));
            }
            None => {
                buf.push(V_CONST_RAW);
                buf.extend_from_slice(&c.to_le_bytes());
            }
        }
        let exc: Vec<usize> = (0..n).filter(|&i| samples[i].1.to_bits() != c).collect();
        put_exceptions(samples, &exc, &mut buf);
        offer(buf, &mut best);
    }

    if differing > 0 {
        for e in decimal_exponents(samples) {
            if let Some(buf) = encode_decimal(samples, e) {
                offer(buf, &mut best);
            }
        }
    }

    // XOR only pays off for values needing more than a byte in the others.
    if best.as_ref().is_none_or(|b| b.len() > n) {
        let mut buf = vec![V_XOR];
        encode_xor(samples, &mut buf);
        offer(buf, &mut best);
    }
    out.extend_from_slice(&best.unwrap_or_default());
}

/// `v` as `m / 10^e` with |m| < 2^53, if that is bit-exact (`m as f64 /
/// POW10[e]` gives `v` back bit for bit).
#[inline]
pub(crate) fn mantissa(v: f64, e: usize) -> Option<i64> {
    let p = POW10[e];
    let s = v * p;
    // Also rejects ±Inf.
    if s.is_nan() || s.abs() >= TWO53 {
        return None;
    }
    let m = s.round() as i64;
    let exact = |m: i64| m.unsigned_abs() < 1 << 53 && (m as f64 / p).to_bits() == v.to_bits();
    if exact(m) {
        return Some(m);
    }
    // Near 2^53 the product's rounding error can reach 1.
    if s.abs() >= (1u64 << 50) as f64 {
        return [m - 1, m + 1].into_iter().find(|&m| exact(m));
    }
    None
}

/// The decimal exponents worth trying: the smallest one that represents
/// every value that is a decimal at all, and the smallest that represents
/// all but a few (the rest become exceptions). None when too few values
/// are decimals.
fn decimal_exponents(samples: &[(i64, f64)]) -> Vec<usize> {
    let n = samples.len();
    let mut hist = [0usize; 16];
    let mut non_decimal = 0;
    for &(_, v) in samples {
        match (0..16).find(|&e| mantissa(v, e).is_some()) {
            Some(e) => hist[e] += 1,
            None => {
                non_decimal += 1;
                if non_decimal > n / 4 {
                    return Vec::new();
                }
            }
        }
    }
    let Some(all) = (0..16).rev().find(|&e| hist[e] > 0) else {
        return Vec::new();
    };
    let mut above = 0;
    let mut most = all;
    for e in (0..all).rev() {
        above += hist[e + 1];
        if above > n / 16 {
            break;
        }
        most = e;
    }
    if most == all {
        vec![all]
    } else {
        vec![all, most]
    }
}

fn encode_decimal(samples: &[(i64, f64)], e: usize) -> Option<Vec<u8>> {
    let n = samples.len();
    let ms: Vec<Option<i64>> = samples.iter().map(|s| mantissa(s.1, e)).collect();
    let first = ms.iter().flatten().next().copied()?;
    let exc: Vec<usize> = (0..n).filter(|&i| ms[i].is_none()).collect();

    let mut best: Option<Vec<u8>> = None;
    for order in 0..=2usize.min(n) {
        // Exceptions take the value the order predicts (the first mantissa
        // before any other), so they add nothing to the differences.
        let mut m: Vec<i64> = Vec::with_capacity(n);
        for (i, x) in ms.iter().enumerate() {
            let predicted = match (order, i) {
                (_, 0) => first,
                (2, 2..) => m[i - 1].wrapping_mul(2).wrapping_sub(m[i - 2]),
                _ => m[i - 1],
            };
            m.push(x.unwrap_or(predicted));
        }
        let mut buf = vec![V_DECIMAL, e as u8 | (order as u8) << 4];
        let diffs: Vec<i64> = match order {
            0 => m,
            1 => {
                put_uvarint(&mut buf, zigzag(m[0]));
                m.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect()
            }
            _ => {
                put_uvarint(&mut buf, zigzag(m[0]));
                put_uvarint(&mut buf, zigzag(m[1].wrapping_sub(m[0])));
                m.windows(3)
                    .map(|w| {
                        w[2].wrapping_sub(w[1])
                            .wrapping_sub(w[1].wrapping_sub(w[0]))
                    })
                    .collect()
            }
        };
        pack(&diffs, &mut buf);
        put_exceptions(samples, &exc, &mut buf);
        offer(buf, &mut best);
    }
    best
}

fn put_exceptions(samples: &[(i64, f64)], exc: &[usize], out: &mut Vec<u8>) {
    put_uvarint(out, exc.len() as u64);
    let mut next = 0;
    for &i in exc {
        put_uvarint(out, (i - next) as u64);
        out.extend_from_slice(&samples[i].1.to_bits().to_le_bytes());
        next = i + 1;
    }
}

/// Bit-packs `xs` in blocks of [`BLOCK`]: per block a base and a width such
/// that most values lie in `base .. base + 2^width`; the others (a missed
/// scrape, a counter reset) are patched in afterwards instead of widening
/// the whole block.
fn pack(xs: &[i64], out: &mut Vec<u8>) {
    let mut prev_base = 0i64;
    for block in xs.chunks(BLOCK) {
        let (base, width) = choose_frame(block);
        put_uvarint(out, zigzag(base.wrapping_sub(prev_base)));
        prev_base = base;
        let fits = |x: i64| width == 64 || (x.wrapping_sub(base) as u64) >> width == 0;
        let patched = block.iter().filter(|&&x| !fits(x)).count();
        if patched == 0 {
            out.push(width as u8);
        } else {
            out.push(width as u8 | PATCHED);
            out.push(patched as u8);
        }
        if width > 0 {
            let mut w = BitWriter::default();
            for &x in block {
                let x = if fits(x) {
                    x.wrapping_sub(base) as u64
                } else {
                    0
                };
                w.write(x, width, out);
            }
            w.finish(out);
        }
        for (i, &x) in block.iter().enumerate() {
            if !fits(x) {
                out.push(i as u8);
                put_uvarint(out, zigzag(x.wrapping_sub(base)));
            }
        }
    }
}

/// Picks a block's base and width. The window either starts at the block's
/// minimum (patching high outliers) or ends at its maximum (patching low
/// ones); both are evaluated for every width from bit-length histograms,
/// in time linear in the block. Patch sizes are estimated from bit lengths.
fn choose_frame(block: &[i64]) -> (i64, u32) {
    let len = block.len();
    let (min, max) = block
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    // x - min fits a u64 for any two i64s with x >= min.
    let bits = |d: i64| 64 - (d as u64).leading_zeros();
    let full = bits(max.wrapping_sub(min));
    let mut best = ((len * full as usize).div_ceil(8), min, full);
    if full == 0 {
        return (min, 0);
    }
    let (mut from_min, mut from_max) = ([0usize; 65], [0usize; 65]);
    for &x in block {
        from_min[bits(x.wrapping_sub(min)) as usize] += 1;
        from_max[bits(max.wrapping_sub(x)) as usize] += 1;
    }
    // Walking widths downwards, the values beyond the window accumulate,
    // and so do the estimated bytes of their patches (index byte plus
    // a varint of a zigzagged offset about as long as the value's distance).
    let patch = |l: usize| 1 + (l + 1).div_ceil(7);
    let (mut cost_hi, mut cost_lo) = (0, 0);
    for b in (0..full as usize).rev() {
        cost_hi += from_min[b + 1] * patch(b + 1);
        cost_lo += from_max[b + 1] * patch(b + 1);
        // Patches only grow with narrower windows: no hope left.
        if 1 + cost_hi.min(cost_lo) >= best.0 {
            break;
        }
        let packed = (len * b).div_ceil(8) + 1;
        if packed + cost_hi < best.0 {
            best = (packed + cost_hi, min, b as u32);
        }
        if packed + cost_lo < best.0 {
            let base = max.wrapping_sub(((1u64 << b) - 1) as i64);
            best = (packed + cost_lo, base, b as u32);
        }
    }
    (best.1, best.2)
}

/// LSB-first bit writer. Holds fewer than 64 pending bits between writes.
#[derive(Default)]
struct BitWriter {
    acc: u128,
    nbits: u32,
}

impl BitWriter {
    /// Writes the low `width` bits of `x` (the other bits must be zero).
    #[inline]
    fn write(&mut self, x: u64, width: u32, out: &mut Vec<u8>) {
        self.acc |= (x as u128) << self.nbits;
        self.nbits += width;
        if self.nbits >= 64 {
            out.extend_from_slice(&(self.acc as u64).to_le_bytes());
            self.acc >>= 64;
            self.nbits -= 64;
        }
    }

    fn finish(self, out: &mut Vec<u8>) {
        let tail = self.nbits.div_ceil(8) as usize;
        out.extend_from_slice(&(self.acc as u64).to_le_bytes()[..tail]);
    }
}

/// Gorilla-style XOR: `0` same value; `10` + significant bits in the
/// previous window; `11` + 6 bits leading zeros + 6 bits (significant
/// length - 1) + significant bits.
fn encode_xor(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let mut w = BitWriter::default();
    let mut prev = samples[0].1.to_bits();
    w.write(prev, 64, out);
    // (leading, significant) of the current window; sig 0 = none yet.
    let (mut lead, mut sig) = (0u32, 0u32);
    for &(_, v) in &samples[1..] {
        let v = v.to_bits();
        let x = v ^ prev;
        prev = v;
        if x == 0 {
            w.write(0, 1, out);
            continue;
        }
        let (l, t) = (x.leading_zeros(), x.trailing_zeros());
        if sig != 0 && l >= lead && t >= 64 - lead - sig {
            w.write(0b01, 2, out);
            w.write(x >> (64 - lead - sig), sig, out);
        } else {
            lead = l;
            sig = 64 - l - t;
            w.write(0b11 | (lead as u64) << 2 | ((sig - 1) as u64) << 8, 14, out);
            w.write(x >> t, sig, out);
        }
    }
    w.finish(out);
}

// ---------------------------------------------------------------------------
// Decoding

/// Appends the decoded samples to `out`. On error `out` is left as it was.
/// A chunk with shared timestamps (format 2) is an error: it needs
/// [`decode_with`].
pub fn decode(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<()> {
    decode_with(bytes, |_| None, out)
}

/// [`decode`], resolving a shared timestamp reference with `resolve`: the
/// bytes of the referenced chunk, which may go on past its end (as a part
/// file does: they are not read), or `None` for a reference that points
/// nowhere. The referenced chunk must have its timestamps inline and the
/// same count, first and last timestamp.
pub fn decode_with<'r>(
    bytes: &[u8],
    resolve: impl FnOnce(u64) -> Option<&'r [u8]>,
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    let base = out.len();
    let r = decode_into(bytes, resolve, out);
    if r.is_err() {
        out.truncate(base);
    }
    r
}

/// Reads the sample count and time range without decoding the samples.
pub fn header(bytes: &[u8]) -> Result<SealedHeader> {
    let h = parse_header(&mut Reader::new(bytes))?;
    Ok(SealedHeader {
        count: h.count,
        min_time: h.min_time,
        max_time: h.max_time,
    })
}

#[derive(Debug, Clone, Copy)]
enum Times {
    Empty,
    Single,
    Grid { step: i64 },
    Residual { step: i64 },
    Delta,
    Shared { reference: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Head {
    count: usize,
    min_time: i64,
    max_time: i64,
    times: Times,
}

fn parse_header(rd: &mut Reader<'_>) -> Result<Head> {
    let format = rd.u8()?;
    if format != FORMAT_V1 && format != FORMAT_V2 {
        return Err(SealedError::UnknownFormat(format));
    }
    let count = rd.uvarint()?;
    if count > MAX_SAMPLES as u64 {
        return Err(SealedError::Malformed("sample count too large"));
    }
    let n = count as usize;
    if format == FORMAT_V2 && n < 2 {
        return Err(SealedError::Malformed("format 2 without shared timestamps"));
    }
    if n == 0 {
        return Ok(Head {
            count: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            times: Times::Empty,
        });
    }
    let t0 = unzigzag(rd.uvarint()?);
    let (times, max_time) = if n == 1 {
        (Times::Single, t0)
    } else {
        // Format 2 is exactly format 1 with shared timestamps.
        match rd.u8()? {
            TS_SHARED if format == FORMAT_V2 => {
                let span = rd.uvarint()? as i64;
                let reference = rd.uvarint()?;
                (Times::Shared { reference }, t0.wrapping_add(span))
            }
            _ if format == FORMAT_V2 => {
                return Err(SealedError::Malformed("format 2 without shared timestamps"));
            }
            TS_GRID => {
                if n > GRID_MAX {
                    return Err(SealedError::Malformed("grid timestamps for a large chunk"));
                }
                let step = rd.uvarint()? as i64;
                let span = ((n - 1) as i64).wrapping_mul(step);
                (Times::Grid { step }, t0.wrapping_add(span))
            }
            TS_RESIDUAL => {
                let step = rd.uvarint()? as i64;
                let last = unzigzag(rd.uvarint()?);
                let span = ((n - 1) as i64).wrapping_mul(step).wrapping_add(last);
                (Times::Residual { step }, t0.wrapping_add(span))
            }
            TS_DELTA => {
                let span = rd.uvarint()? as i64;
                (Times::Delta, t0.wrapping_add(span))
            }
            _ => return Err(SealedError::Malformed("unknown timestamp mode")),
        }
    };
    if n >= 2 && max_time <= t0 {
        return Err(SealedError::Malformed("time range ends before it starts"));
    }
    // Each packed block costs at least 2 bytes, so the input bounds the
    // count before anything is allocated for it.
    if matches!(times, Times::Residual { .. } | Times::Delta)
        && rd.remaining() / 2 < (n - 1).div_ceil(BLOCK)
    {
        return Err(SealedError::Truncated);
    }
    Ok(Head {
        count: n,
        min_time: t0,
        max_time,
        times,
    })
}

fn decode_into<'r>(
    bytes: &[u8],
    resolve: impl FnOnce(u64) -> Option<&'r [u8]>,
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    let mut rd = Reader::new(bytes);
    let h = parse_header(&mut rd)?;
    let n = h.count;
    if n > 0 {
        let base = out.len();
        let mut blocks = Blocks::new();
        if let Times::Shared { reference } = h.times {
            let target = resolve(reference).ok_or(SealedError::Malformed(
                "shared timestamps refer to no chunk",
            ))?;
            let mut trd = Reader::new(target);
            // The referenced header bounds the count by its own bytes
            // before anything is reserved (a shared chunk costs nothing
            // per sample).
            let th = parse_header(&mut trd)?;
            if matches!(th.times, Times::Shared { .. }) {
                return Err(SealedError::Malformed(
                    "shared timestamps refer to shared timestamps",
                ));
            }
            if (th.count, th.min_time, th.max_time) != (n, h.min_time, h.max_time) {
                return Err(SealedError::Malformed(
                    "shared timestamps belong to a different time range",
                ));
            }
            out.reserve(n);
            decode_times(&mut trd, &th, &mut blocks, out)?;
        } else {
            out.reserve(n);
            decode_times(&mut rd, &h, &mut blocks, out)?;
        }
        decode_values(&mut rd, &mut blocks, &mut out[base..])?;
    }
    match rd.remaining() {
        0 => Ok(()),
        r => Err(SealedError::TrailingData(r)),
    }
}

fn decode_times(
    rd: &mut Reader<'_>,
    h: &Head,
    blocks: &mut Blocks,
    out: &mut Vec<(i64, f64)>,
) -> Result<()> {
    let n = h.count;
    let mut t = h.min_time;
    out.push((t, 0.0));
    // Strictly increasing timestamps are part of the contract: check them,
    // without a branch per sample.
    let mut disorder = false;
    // `extend` over slice and range iterators writes without a capacity
    // check per sample.
    match h.times {
        Times::Empty | Times::Single => {}
        Times::Shared { .. } => {
            return Err(SealedError::Malformed(
                "shared timestamps refer to shared timestamps",
            ));
        }
        Times::Grid { step } => {
            out.extend((1..n).map(|_| {
                let next = t.wrapping_add(step);
                disorder |= next <= t;
                t = next;
                (t, 0.0)
            }));
        }
        Times::Residual { step } => {
            let mut grid = t;
            let blocks = blocks.start(n - 1);
            while let Some((base, xs)) = blocks.next(rd)? {
                out.extend(xs.iter().map(|&x| {
                    grid = grid.wrapping_add(step);
                    let next = grid.wrapping_add(base.wrapping_add(x as i64));
                    disorder |= next <= t;
                    t = next;
                    (t, 0.0)
                }));
            }
        }
        Times::Delta => {
            let blocks = blocks.start(n - 1);
            while let Some((base, xs)) = blocks.next(rd)? {
                out.extend(xs.iter().map(|&x| {
                    let next = t.wrapping_add(base.wrapping_add(x as i64));
                    disorder |= next <= t;
                    t = next;
                    (t, 0.0)
                }));
            }
        }
    }
    if disorder {
        return Err(SealedError::Malformed("timestamps not strictly increasing"));
    }
    if t != h.max_time {
        return Err(SealedError::Malformed(
            "last timestamp disagrees with the header",
        ));
    }
    Ok(())
}

fn decode_values(rd: &mut Reader<'_>, blocks: &mut Blocks, out: &mut [(i64, f64)]) -> Result<()> {
    let n = out.len();
    match rd.u8()? {
        V_CONST_INT => {
            let v = unzigzag(rd.uvarint()?) as f64;
            out.iter_mut().for_each(|s| s.1 = v);
        }
        V_CONST_RAW => {
            let v = f64::from_bits(rd.u64_le()?);
            out.iter_mut().for_each(|s| s.1 = v);
        }
        V_DECIMAL => decode_decimal(rd, blocks, out)?,
        V_XOR => return decode_xor(rd, out),
        _ => return Err(SealedError::Malformed("unknown value mode")),
    }
    // Exceptions.
    let count = rd.uvarint()?;
    if count > n as u64 || count as usize > rd.remaining() / 9 {
        return Err(SealedError::Malformed("too many exceptions"));
    }
    let mut next = 0usize;
    for _ in 0..count {
        let gap = rd.uvarint()?;
        let i = match usize::try_from(gap).ok().and_then(|g| g.checked_add(next)) {
            Some(i) if i < n => i,
            _ => return Err(SealedError::Malformed("exception position out of range")),
        };
        out[i].1 = f64::from_bits(rd.u64_le()?);
        next = i + 1;
    }
    Ok(())
}

fn decode_decimal(rd: &mut Reader<'_>, blocks: &mut Blocks, out: &mut [(i64, f64)]) -> Result<()> {
    let n = out.len();
    let eo = rd.u8()?;
    let e = (eo & 15) as usize;
    let order = (eo >> 4) as usize;
    if order > 2 || order > n {
        return Err(SealedError::Malformed("bad difference order"));
    }
    let mut m = [0i64; 2];
    for x in m.iter_mut().take(order) {
        *x = unzigzag(rd.uvarint()?);
    }
    // Second-order state: (mantissa, difference).
    let (m0, d0) = (m[0], m[1]);
    let blocks = blocks.start(n - order);
    // Integers need no division, which is the costliest step.
    if e == 0 {
        decimal_loop(rd, blocks, out, order, m0, d0, |m| m as f64)
    } else {
        let p = POW10[e];
        decimal_loop(rd, blocks, out, order, m0, d0, |m| m as f64 / p)
    }
}

#[inline(always)]
fn decimal_loop(
    rd: &mut Reader<'_>,
    blocks: &mut Blocks,
    out: &mut [(i64, f64)],
    order: usize,
    mut m: i64,
    mut d: i64,
    to_f64: impl Fn(i64) -> f64,
) -> Result<()> {
    if order >= 1 {
        out[0].1 = to_f64(m);
    }
    if order == 2 {
        m = m.wrapping_add(d);
        out[1].1 = to_f64(m);
    }
    let mut i = order;
    while let Some((base, xs)) = blocks.next(rd)? {
        let dst = &mut out[i..i + xs.len()];
        i += xs.len();
        match order {
            0 => {
                for (s, &x) in dst.iter_mut().zip(xs) {
                    s.1 = to_f64(base.wrapping_add(x as i64));
                }
            }
            1 => {
                for (s, &x) in dst.iter_mut().zip(xs) {
                    m = m.wrapping_add(base.wrapping_add(x as i64));
                    s.1 = to_f64(m);
                }
            }
            _ => {
                for (s, &x) in dst.iter_mut().zip(xs) {
                    d = d.wrapping_add(base.wrapping_add(x as i64));
                    m = m.wrapping_add(d);
                    s.1 = to_f64(m);
                }
            }
        }
    }
    Ok(())
}

fn decode_xor(rd: &mut Reader<'_>, out: &mut [(i64, f64)]) -> Result<()> {
    let data = rd.rest();
    // Every value costs at least one bit, the first 64.
    if (data.len() as u64) * 8 < 63 + out.len() as u64 {
        return Err(SealedError::Truncated);
    }
    let mut r = BitReader { data, pos: 0 };
    let mut v = r.read(64);
    out[0].1 = f64::from_bits(v);
    let (mut lead, mut sig) = (0u32, 0u32);
    for s in &mut out[1..] {
        let w = r.peek();
        if w & 1 == 0 {
            r.pos += 1;
        } else {
            if w & 2 != 0 {
                lead = (w >> 2) as u32 & 63;
                sig = ((w >> 8) as u32 & 63) + 1;
                r.pos += 14;
                if lead + sig > 64 {
                    return Err(SealedError::Malformed("XOR window exceeds 64 bits"));
                }
            } else {
                if sig == 0 {
                    return Err(SealedError::Malformed("XOR window reused before set"));
                }
                r.pos += 2;
            }
            v ^= r.read(sig) << (64 - lead - sig);
        }
        s.1 = f64::from_bits(v);
    }
    // Reads past the end returned zeros; only the last byte's padding may
    // be unused.
    let used = r.pos.div_ceil(8);
    if used > data.len() {
        return Err(SealedError::Truncated);
    }
    if used < data.len() {
        return Err(SealedError::TrailingData(data.len() - used));
    }
    Ok(())
}

/// Iterates over the bit-packed blocks of a section, unpacking each into a
/// buffer. One is reused for all sections of a decode: its buffers are
/// 2 KiB that would otherwise be zeroed per section.
struct Blocks {
    left: usize,
    prev_base: i64,
    xs: [u64; BLOCK],
    /// Zero-padded copy of a block too close to the end of the input for
    /// unaligned 16-byte loads.
    tail: [u8; BLOCK * 8 + 16],
}

impl Blocks {
    fn new() -> Self {
        Self {
            left: 0,
            prev_base: 0,
            xs: [0; BLOCK],
            tail: [0; BLOCK * 8 + 16],
        }
    }

    /// Starts a section of `len` packed values.
    fn start(&mut self, len: usize) -> &mut Self {
        self.left = len;
        self.prev_base = 0;
        self
    }

    /// The next block's base and offsets from it.
    #[inline]
    fn next(&mut self, rd: &mut Reader<'_>) -> Result<Option<(i64, &[u64])>> {
        if self.left == 0 {
            return Ok(None);
        }
        let len = self.left.min(BLOCK);
        self.left -= len;
        let base = self.prev_base.wrapping_add(unzigzag(rd.uvarint()?));
        self.prev_base = base;
        let w = rd.u8()?;
        let width = (w & !PATCHED) as u32;
        if width > 64 {
            return Err(SealedError::Malformed("bit width above 64"));
        }
        let patches = if w & PATCHED != 0 { rd.u8()? } else { 0 };
        let nbytes = (len * width as usize).div_ceil(8);
        let start = rd.pos;
        rd.take(nbytes)?;
        // Unpack in place when the input goes on for 16 more bytes (their
        // bits are masked off), from a padded copy otherwise.
        let src = match rd.data.get(start..start + nbytes + 16) {
            Some(src) => src,
            None => {
                self.tail[..nbytes].copy_from_slice(&rd.data[start..start + nbytes]);
                self.tail[nbytes..nbytes + 16].fill(0);
                &self.tail[..nbytes + 16]
            }
        };
        let xs = &mut self.xs[..len];
        unpack(src, width, xs);
        for _ in 0..patches {
            let i = rd.u8()? as usize;
            let x = unzigzag(rd.uvarint()?) as u64;
            *xs.get_mut(i)
                .ok_or(SealedError::Malformed("patch index out of range"))? = x;
        }
        Ok(Some((base, xs)))
    }
}

/// Unpacks `xs.len()` values of `width` bits, LSB first, from `src`, which
/// has 16 bytes beyond the packed data so that every value is one unaligned
/// load, shift and mask.
#[inline]
fn unpack(src: &[u8], width: u32, xs: &mut [u64]) {
    if width == 0 {
        xs.fill(0);
        return;
    }
    let w = width as usize;
    if width <= 56 {
        let mask = (1u64 << width) - 1;
        for (i, x) in xs.iter_mut().enumerate() {
            let bit = i * w;
            let word = u64::from_le_bytes(src[bit >> 3..(bit >> 3) + 8].try_into().unwrap());
            *x = (word >> (bit & 7)) & mask;
        }
    } else {
        let mask = u64::MAX >> (64 - width);
        for (i, x) in xs.iter_mut().enumerate() {
            let bit = i * w;
            let word = u128::from_le_bytes(src[bit >> 3..(bit >> 3) + 16].try_into().unwrap());
            *x = (word >> (bit & 7)) as u64 & mask;
        }
    }
}

/// Byte reader over the input; every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(SealedError::Truncated);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = &self.data[self.pos..];
        self.pos = self.data.len();
        s
    }

    #[inline]
    fn u8(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or(SealedError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    #[inline]
    fn uvarint(&mut self) -> Result<u64> {
        let mut x = 0u64;
        let mut shift = 0;
        loop {
            let b = self.u8()?;
            // The 10th byte may only carry the 64th bit.
            if shift == 63 && b > 1 {
                return Err(SealedError::Malformed("varint overflows 64 bits"));
            }
            x |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(x);
            }
            shift += 7;
        }
    }
}

/// LSB-first bit reader for the XOR stream; reads past the end return
/// zeros and the caller checks `pos` afterwards.
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    /// At least the next 57 bits, in the low bits.
    #[inline]
    fn peek(&self) -> u64 {
        let byte = self.pos >> 3;
        let word = match self.data.get(byte..byte + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap()),
            None => {
                let mut b = [0u8; 8];
                let tail = self.data.get(byte..).unwrap_or_default();
                b[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(b)
            }
        };
        word >> (self.pos & 7)
    }

    /// Reads `n` bits, 1 <= n <= 64.
    #[inline]
    fn read(&mut self, n: u32) -> u64 {
        if n <= 56 {
            let x = self.peek() & ((1u64 << n) - 1);
            self.pos += n as usize;
            x
        } else {
            let lo = self.read(32);
            lo | self.read(n - 32) << 32
        }
    }
}

// ---------------------------------------------------------------------------
// Varints

/// Keeps the shorter of `best` and `cand`.
fn offer(cand: Vec<u8>, best: &mut Option<Vec<u8>>) {
    if best.as_ref().is_none_or(|b| cand.len() < b.len()) {
        *best = Some(cand);
    }
}
