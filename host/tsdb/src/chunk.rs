//! Head chunk codec: Gorilla/XOR compression of `(ms, f64)` samples, byte-for-byte Prometheus' XOR chunks.
//!
//! # Format
//!
//! [`XorChunk::bytes`] is exactly what Prometheus' `chunkenc.XORChunk::Bytes()`
//! returns, so chunks can later be written into (and read back from)
//! Prometheus-compatible block files without re-encoding. We deliberately keep
//! Prometheus' bit buckets instead of inventing a "better" variant: the
//! buckets are tuned for millisecond timestamps of periodic scrapes (a dod of
//! 0 costs one bit, scrape jitter of up to ±8 s costs 16 bits), the possible
//! gain of smaller buckets is a few bits per sample, and interoperability with
//! existing tooling is worth more than that.
//!
//! ```text
//! u16 BE        number of samples
//! varint        t0 (zigzag)
//! 64 bits       v0
//! uvarint       t1 - t0                       (strictly positive)
//! xor(v1)
//! for every further sample:
//!   dod = (t[i] - t[i-1]) - (t[i-1] - t[i-2])   (wrapping 64-bit arithmetic)
//!     '0'                       dod == 0
//!     '10'   + 14 bits          -(2^13 - 1) <= dod <= 2^13
//!     '110'  + 17 bits          -(2^16 - 1) <= dod <= 2^16
//!     '1110' + 20 bits          -(2^19 - 1) <= dod <= 2^19
//!     '1111' + 64 bits          anything else
//!   xor(v[i])
//! xor(v) with x = bits(v) ^ bits(previous v):
//!   '0'                         x == 0
//!   '10' + significant bits     x fits the previous leading/trailing window
//!   '11' + 5 bits leading zeros (clamped to 31) + 6 bits significant length
//!        (64 is written as 0) + significant bits
//! ```
//!
//! Bits are packed MSB first; the last byte is zero padded. Values are XORed
//! as raw bit patterns, so every f64 (all NaN payloads, the stale marker, ±0,
//! ±Inf, subnormals) round-trips bit-exactly. Timestamp arithmetic wraps, so
//! any strictly increasing sequence of i64 timestamps is representable, even
//! `i64::MIN` followed by `i64::MAX`.
//!
//! # Speed
//!
//! Decoding is the hot path (every query decodes whole chunks), so:
//!
//! - The decoder keeps up to 63 unread bits in a `u64` and refills it with
//!   one unaligned big-endian 8-byte load ("variant 4" of Fabian Giesen's bit
//!   reader series): every field is a shift and a mask, never a bit loop.
//! - It refills only when fewer bits are left than the next fields may need;
//!   a refill sits on the critical dependency chain, while a regular sample
//!   (dod `0`, value `0`) is only 2 bits.
//! - [`ChunkIter`] decodes batches of samples into a small buffer with the
//!   decoder state in local variables (registers); `next` just copies a
//!   sample out. The batch loop does not check for running off the end of the
//!   data; a batch that did (only with corrupt input) is decoded again with
//!   a check per sample.
//! - [`XorChunk`] keeps zero padding (`PAD` bytes) after the encoded data, so
//!   neither the writer's 9-byte read-modify-write nor the reader's 8-byte
//!   loads need an end-of-buffer special case; the reader still has a
//!   zero-filling slow path for plain slices handed to [`ChunkIter::new`].
//! - Branches beat conditional moves and lookup tables here: predicted
//!   branches let the CPU run ahead, computed bit counts lengthen the
//!   dependency chain (measured ~40% slower even on jittered timestamps).

use crate::varint::{unzigzag, zigzag};
use thiserror::Error;

/// Samples per chunk at which the head cuts a new one. Prometheus uses 120:
/// with 15 s scrapes that is 30 minutes, and the compression ratio of the
/// XOR encoding stops improving noticeably beyond that.
pub const TARGET_SAMPLES: usize = 120;

/// Hard limit of the format: the sample count is stored as a `u16`.
pub const MAX_SAMPLES: usize = u16::MAX as usize;

/// Size of the sample-count header.
const HEADER_BYTES: usize = 2;

/// Zero bytes [`XorChunk`] keeps in its buffer from the byte holding the
/// write position on. The writer ORs a 64-bit word plus a spill byte there
/// (9 bytes); the reader runs up to 7 bytes ahead of the bit it decodes and
/// then loads 8 bytes, so it needs 15 bytes after the last data byte to never
/// take its slow path. 9 + 15 = 24 covers both, at a memory cost of at most
/// 24 bytes per chunk.
const PAD: usize = 24;
/// Bytes of zeroed room added beyond the padding when the buffer grows.
const GROW_AHEAD: usize = 32;

/// Why a sample was not appended. The chunk is left unchanged in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AppendError {
    /// The timestamp is before the chunk's last sample.
    #[error("out-of-order sample: timestamp {t} is before the last timestamp {last}")]
    OutOfOrder { last: i64, t: i64 },
    /// The timestamp equals the chunk's last sample.
    #[error("duplicate sample timestamp {t}")]
    Duplicate { t: i64 },
    /// The chunk holds [`MAX_SAMPLES`] samples; the caller must cut a new one
    /// (it normally does so long before, at [`TARGET_SAMPLES`]).
    #[error("chunk is full ({MAX_SAMPLES} samples)")]
    Full,
}

/// Why bytes could not be decoded as a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChunkError {
    /// Fewer bytes than the 2-byte header.
    #[error("chunk of {len} bytes is shorter than its header")]
    TooShort { len: usize },
    /// The header disagrees with the sample count recorded by the caller.
    #[error("chunk header says {header} samples, expected {expected}")]
    CountMismatch { header: u16, expected: usize },
    /// The data ended before sample `sample` was complete.
    #[error("chunk data truncated in sample {sample}")]
    Truncated { sample: usize },
    /// Sample `sample` is not something the encoder can produce.
    #[error("malformed chunk data in sample {sample}: {what}")]
    Malformed { sample: usize, what: &'static str },
    /// Bits after the last sample that are not the zero padding of the last byte.
    #[error("{bits} bits of unexpected data after the last sample")]
    TrailingData { bits: usize },
}

/// An append-only Gorilla/XOR compressed chunk of samples.
#[derive(Debug, Clone)]
pub struct XorChunk {
    /// Header + bitstream, followed by zero padding (see [`PAD`]).
    buf: Vec<u8>,
    /// Bits used in `buf`, header included (at most 65,535 samples of at
    /// most 145 bits: a `u32` holds it, and keeps the struct at 64 bytes).
    nbits: u32,
    num: u16,
    min_t: i64,
    // Appender state: what the next sample is encoded against.
    t: i64,
    delta: u64,
    v: u64,
    /// Leading zeros of the current XOR window; `0xff` until the first window
    /// is established (Prometheus uses the same sentinel).
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// An empty chunk (whose bytes are the 2-byte header `[0, 0]`).
    pub fn new() -> Self {
        // 64 bytes hold the padding, the header, the first sample and some 80
        // samples of a regular series; the Vec doubles from there. (Prometheus
        // starts at 128.) `shrink_to_fit` trims a completed chunk.
        let mut buf = Vec::with_capacity(64);
        buf.resize(HEADER_BYTES + PAD, 0);
        Self {
            buf,
            nbits: (HEADER_BYTES * 8) as u32,
            num: 0,
            min_t: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.num)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// Whether the chunk reached [`TARGET_SAMPLES`] and the caller should
    /// start a new one.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() >= TARGET_SAMPLES
    }

    /// The encoded chunk (Prometheus XOR chunk layout, header included).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..(self.nbits as usize).div_ceil(8)]
    }

    /// Timestamp of the first sample; `i64::MAX` for an empty chunk, so that
    /// `[min_time, max_time]` is an empty interval that overlaps nothing.
    #[inline]
    pub fn min_time(&self) -> i64 {
        if self.num > 0 { self.min_t } else { i64::MAX }
    }

    /// Timestamp of the last sample; `i64::MIN` for an empty chunk.
    #[inline]
    pub fn max_time(&self) -> i64 {
        if self.num > 0 { self.t } else { i64::MIN }
    }

    /// The last sample, without decoding anything.
    #[inline]
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.num > 0).then(|| (self.t, f64::from_bits(self.v)))
    }

    /// Releases spare capacity (keeps the zero padding), for chunks that are
    /// complete but stay in memory.
    pub fn shrink_to_fit(&mut self) {
        // Bytes past the data and its padding are all zero: dropping them
        // changes nothing the reader sees.
        self.buf.truncate((self.nbits as usize).div_ceil(8) + PAD);
        self.buf.shrink_to_fit();
    }

    /// Iterates over the samples in timestamp order.
    #[inline]
    pub fn iter(&self) -> ChunkIter<'_> {
        // `buf` includes the zero padding: the reader never takes its slow
        // path, while `end_bits` still bounds what it may consume.
        ChunkIter::with_state(&self.buf, self.nbits as usize, self.len())
    }

    /// Appends a sample; `t` must be greater than the last timestamp.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), AppendError> {
        if self.num > 0 {
            if t < self.t {
                return Err(AppendError::OutOfOrder { last: self.t, t });
            }
            if t == self.t {
                return Err(AppendError::Duplicate { t });
            }
        }
        if self.len() >= MAX_SAMPLES {
            return Err(AppendError::Full);
        }
        let v = v.to_bits();
        match self.num {
            0 => {
                self.write_uvarint(zigzag(t));
                self.write_bits(v, 64);
                self.min_t = t;
            }
            1 => {
                // Wrapping: t - t0 may exceed i64::MAX, but is < 2^64.
                let delta = t.wrapping_sub(self.t) as u64;
                self.write_uvarint(delta);
                self.write_xor(v);
                self.delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.delta) as i64;
                self.write_dod(dod);
                self.write_xor(v);
                self.delta = delta;
            }
        }
        self.t = t;
        self.v = v;
        self.num += 1;
        self.buf[..HEADER_BYTES].copy_from_slice(&self.num.to_be_bytes());
        Ok(())
    }

    /// Reopens a chunk from its [`bytes`](Self::bytes), e.g. after reading it
    /// from disk, so that it can be iterated and appended to.
    ///
    /// `num_samples` is the count the caller recorded; it must match the
    /// header. The data is decoded once (about as expensive as one full
    /// iteration) to restore the appender state, which also validates it
    /// completely: afterwards iteration cannot fail.
    pub fn from_bytes(mut bytes: Vec<u8>, num_samples: usize) -> Result<Self, ChunkError> {
        let mut it = ChunkIter::new(&bytes, num_samples)?;
        let first = it.next().map(|s| s.0);
        it.by_ref().for_each(drop);
        if let Some(e) = it.err() {
            return Err(e);
        }
        let end = bytes.len() * 8;
        let mut d = it.dec;
        let used = d.consumed_bits();
        // The encoder pads only the last byte, with zeros; anything else means
        // the bytes or the count are wrong. (Zero padding also matters for
        // appending: the writer ORs into it.)
        let rest = end - used;
        if rest >= 8 || (rest > 0 && d.read(&bytes, rest as u32) != 0) {
            return Err(ChunkError::TrailingData { bits: rest });
        }
        let leading = if d.sig == 0 {
            0xff
        } else {
            (64 - d.sig - d.trailing) as u8
        };
        bytes.resize(bytes.len() + PAD, 0);
        Ok(Self {
            buf: bytes,
            // At most 65,535 decoded samples' bits: fits.
            nbits: used as u32,
            num: num_samples as u16,
            min_t: first.unwrap_or(0),
            t: d.t,
            delta: d.delta,
            v: d.v,
            leading,
            trailing: d.trailing as u8,
        })
    }

    /// Writes the low `n` bits of `v` (1 <= n <= 64, higher bits zero).
    #[inline(always)]
    fn write_bits(&mut self, v: u64, n: u32) {
        debug_assert!((1..=64).contains(&n) && (n == 64 || v >> n == 0));
        let idx = (self.nbits >> 3) as usize;
        let off = self.nbits & 7;
        if self.buf.len() < idx + PAD {
            // Grown a few bytes ahead rather than one at a time: a resize
            // per byte was a sixth of the append cost. Exactly, not by
            // doubling: every series has an open chunk, and doubling left
            // a third of their memory unused on average. `shrink_to_fit`
            // trims the rest.
            let want = idx + PAD + GROW_AHEAD;
            self.buf.reserve_exact(want - self.buf.len());
            self.buf.resize(want, 0);
        }
        let aligned = v << (64 - n);
        let word: &mut [u8; 8] = (&mut self.buf[idx..idx + 8]).try_into().unwrap();
        *word = (u64::from_be_bytes(*word) | (aligned >> off)).to_be_bytes();
        if off + n > 64 {
            // off >= 1 here: the lowest `off` bits of `aligned` spill over.
            self.buf[idx + 8] = ((aligned << (64 - off)) >> 56) as u8;
        }
        self.nbits += n;
    }

    fn write_uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.write_bits((x & 0x7f) | 0x80, 8);
            x >>= 7;
        }
        self.write_bits(x, 8);
    }

    #[inline(always)]
    fn write_dod(&mut self, dod: i64) {
        // Control prefix and payload go out as one write.
        if dod == 0 {
            self.write_bits(0, 1);
        } else if bit_range(dod, 14) {
            self.write_bits((0b10 << 14) | (dod as u64 & mask(14)), 16);
        } else if bit_range(dod, 17) {
            self.write_bits((0b110 << 17) | (dod as u64 & mask(17)), 20);
        } else if bit_range(dod, 20) {
            self.write_bits((0b1110 << 20) | (dod as u64 & mask(20)), 24);
        } else {
            self.write_bits(0b1111, 4);
            self.write_bits(dod as u64, 64);
        }
    }

    #[inline(always)]
    fn write_xor(&mut self, v: u64) {
        let x = v ^ self.v;
        if x == 0 {
            self.write_bits(0, 1);
            return;
        }
        // 5 bits only: 31 stands for "31 or more" (the window just gets wider).
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.write_bits(0b10, 2);
            self.write_bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        // sig is 1..=64; 64 does not fit 6 bits and is written as 0 (a
        // window of 0 significant bits never occurs: that is the x == 0 case).
        let ctl = (0b11 << 11) | (u64::from(leading) << 6) | u64::from(sig & 63);
        self.write_bits(ctl, 13);
        self.write_bits(x >> trailing, sig);
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = (i64, f64);
    type IntoIter = ChunkIter<'a>;
    fn into_iter(self) -> ChunkIter<'a> {
        self.iter()
    }
}

#[inline(always)]
fn mask(n: u32) -> u64 {
    (1u64 << n) - 1
}

/// Whether `x` fits an `n`-bit dod bucket. Prometheus' range is asymmetric,
/// `-(2^(n-1) - 1) ..= 2^(n-1)`, and so is ours, for byte compatibility.
#[inline(always)]
fn bit_range(x: i64, n: u32) -> bool {
    let half = 1i64 << (n - 1);
    -(half - 1) <= x && x <= half
}

/// Reverses [`bit_range`]'s packing of an `n`-bit dod: values above half the
/// range stand for negative ones.
#[inline(always)]
fn unpack_dod(raw: u64, n: u32) -> i64 {
    if raw > 1 << (n - 1) {
        raw as i64 - (1i64 << n)
    } else {
        raw as i64
    }
}

/// Decoder state: an MSB-first bit reader plus what the next sample is
/// decoded against. It is `Copy` so that [`ChunkIter::fill`] can work on a
/// local copy that lives in registers for a whole batch of samples.
///
/// `buf` holds the next bits MSB-aligned; the top `valid` of them are
/// accounted for, and every bit below is either zero or the correct next
/// data bit, which is what lets `refill` OR in a fresh 8-byte load without
/// masking.
#[derive(Debug, Clone, Copy)]
struct Decoder {
    /// Byte offset of the next 8-byte load.
    pos: usize,
    buf: u64,
    valid: u32,
    t: i64,
    delta: u64,
    v: u64,
    /// Significant bits of the current XOR window, 0 while there is none.
    sig: u32,
    trailing: u32,
}

impl Decoder {
    fn new() -> Self {
        Self {
            pos: HEADER_BYTES,
            buf: 0,
            valid: 0,
            t: 0,
            delta: 0,
            v: 0,
            sig: 0,
            trailing: 0,
        }
    }

    /// Makes at least 56 bits available. Past the end of `data` it reads
    /// zeros; the caller detects that through [`consumed_bits`](Self::consumed_bits).
    #[inline(always)]
    fn refill(&mut self, data: &[u8]) {
        let word = match data.get(self.pos..self.pos + 8) {
            Some(w) => u64::from_be_bytes(w.try_into().unwrap()),
            None => load_tail(data, self.pos),
        };
        self.buf |= word >> self.valid;
        self.pos += ((63 - self.valid) >> 3) as usize;
        self.valid |= 56;
    }

    /// Makes at least `n` <= 56 bits available.
    #[inline(always)]
    fn ensure(&mut self, data: &[u8], n: u32) {
        if self.valid < n {
            self.refill(data);
        }
    }

    /// Takes `n` bits, 1 <= n <= `valid` (so at most 56 right after a refill).
    #[inline(always)]
    fn take(&mut self, n: u32) -> u64 {
        debug_assert!(n >= 1 && n <= self.valid);
        let v = self.buf >> (64 - n);
        self.skip(n);
        v
    }

    #[inline(always)]
    fn skip(&mut self, n: u32) {
        self.buf <<= n;
        self.valid -= n;
    }

    /// Reads `n` bits, 1 <= n <= 64.
    #[inline(always)]
    fn read(&mut self, data: &[u8], n: u32) -> u64 {
        self.refill(data);
        if n <= 56 {
            self.take(n)
        } else {
            let hi = self.take(32);
            self.refill(data);
            (hi << (n - 32)) | self.take(n - 32)
        }
    }

    /// Bits consumed since the start of `data` (reads past its end included).
    #[inline(always)]
    fn consumed_bits(&self) -> usize {
        self.pos * 8 - self.valid as usize
    }

    fn read_uvarint(&mut self, data: &[u8]) -> Result<u64, &'static str> {
        let mut x = 0u64;
        for shift in (0..70).step_by(7) {
            self.refill(data);
            let b = self.take(8);
            if b < 0x80 {
                // The 10th byte may only carry the 64th bit.
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(x | (b << shift));
            }
            x |= (b & 0x7f) << shift;
        }
        Err("varint overflows 64 bits")
    }

    /// Sample 0 or 1, whose timestamps are varints.
    #[inline(never)]
    fn decode_head(&mut self, data: &[u8], i: usize) -> Result<(), &'static str> {
        if i == 0 {
            let x = self.read_uvarint(data)?;
            self.t = unzigzag(x);
            self.v = self.read(data, 64);
            return Ok(());
        }
        let prev = self.t;
        self.delta = self.read_uvarint(data)?;
        self.t = prev.wrapping_add(self.delta as i64);
        if self.t <= prev {
            return Err("timestamps not increasing");
        }
        self.decode_xor(data)
    }

    /// Any sample after the second: the hot path.
    ///
    /// Branches are cheaper than table lookups and conditional moves here:
    /// the consumed bit counts feed the next refill, and a predicted branch
    /// lets the CPU run ahead where computed counts would lengthen that
    /// dependency chain (measured: ~40% slower on regular data).
    #[inline(always)]
    fn decode_sample(&mut self, data: &[u8]) -> Result<(), &'static str> {
        let prev = self.t;
        // Refill only when needed: a refill's load and shifts sit on the
        // critical dependency chain, and a regular sample (dod '0', value '0')
        // takes just 2 bits. 37 bits cover the largest common dod (24) plus a
        // value's control bits (13).
        self.ensure(data, 37);
        let buf = self.buf;
        let dod = if buf >> 63 == 0 {
            // Regular scrapes: by far the most common case.
            self.skip(1);
            0
        } else if buf & (1 << 62) == 0 {
            // '10' + 14 bits: jitter up to ±8 s. Prefix and payload together.
            unpack_dod(self.take(16) & mask(14), 14)
        } else {
            self.decode_wide_dod(data)
        };
        self.delta = self.delta.wrapping_add(dod as u64);
        self.t = prev.wrapping_add(self.delta as i64);
        if self.t <= prev {
            return Err("timestamps not increasing");
        }
        // At least 37 - 24 = 13 bits are left for the value's control bits
        // (and after a 64-bit dod, `read` left at least 24).
        let n = self.decode_xor_control()?;
        self.decode_xor_payload(data, n);
        Ok(())
    }

    /// The rarer dod buckets: '110' + 17 bits, '1110' + 20, '1111' + 64.
    #[inline(never)]
    fn decode_wide_dod(&mut self, data: &[u8]) -> i64 {
        let ones = (!self.buf).leading_zeros();
        match ones {
            2 => unpack_dod(self.take(20) & mask(17), 17),
            3 => unpack_dod(self.take(24) & mask(20), 20),
            _ => {
                self.skip(4);
                self.read(data, 64) as i64
            }
        }
    }

    #[inline(always)]
    fn decode_xor(&mut self, data: &[u8]) -> Result<(), &'static str> {
        self.refill(data);
        let n = self.decode_xor_control()?;
        self.decode_xor_payload(data, n);
        Ok(())
    }

    /// The control bits of a value (needs at least 13 bits available);
    /// returns how many payload bits follow.
    #[inline(always)]
    fn decode_xor_control(&mut self) -> Result<u32, &'static str> {
        let buf = self.buf;
        if buf >> 63 == 0 {
            // Unchanged value: no payload.
            self.skip(1);
            return Ok(0);
        }
        if buf & (1 << 62) == 0 {
            // '10': the previous window.
            self.skip(2);
            if self.sig == 0 {
                return Err("XOR window reused before one was set");
            }
        } else {
            // '11' + 5 bits leading zeros + 6 bits length (0 means 64).
            let ctl = self.take(13);
            let leading = (ctl >> 6) as u32 & 31;
            let sig = match ctl as u32 & 63 {
                0 => 64,
                s => s,
            };
            if leading + sig > 64 {
                return Err("XOR window wider than 64 bits");
            }
            self.sig = sig;
            self.trailing = 64 - leading - sig;
        }
        Ok(self.sig)
    }

    /// The payload announced by `decode_xor_control`.
    #[inline(always)]
    fn decode_xor_payload(&mut self, data: &[u8], n: u32) {
        if n == 0 {
            return;
        }
        let bits = if n <= 56 {
            self.ensure(data, n);
            self.take(n)
        } else {
            self.refill(data);
            let hi = self.take(32);
            self.refill(data);
            (hi << (n - 32)) | self.take(n - 32)
        };
        self.v ^= bits << self.trailing;
    }
}

/// The last (up to 8) bytes from `pos` on, zero-filled: the reader's slow
/// path for plain slices without padding.
#[cold]
#[inline(never)]
fn load_tail(data: &[u8], pos: usize) -> u64 {
    let mut tmp = [0u8; 8];
    let rest = data.get(pos..).unwrap_or(&[]);
    let n = rest.len().min(8);
    tmp[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(tmp)
}

/// Samples decoded per batch. The decoder state stays in registers within a
/// batch; `next` then only copies a sample out of the buffer.
const BATCH: usize = 32;

/// Iterator over a chunk's samples.
///
/// Corrupt data (only possible with [`ChunkIter::new`] on unvalidated bytes)
/// ends the iteration early; [`err`](Self::err) then says why.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    data: &'a [u8],
    end_bits: usize,
    /// Samples to decode; lowered to `decoded` on corruption.
    n: usize,
    decoded: usize,
    dec: Decoder,
    out: [(i64, f64); BATCH],
    out_len: usize,
    /// Next sample of `out` to return; `out[out_pos - 1]` is the sample most
    /// recently returned (kept for `seek`).
    out_pos: usize,
    err: Option<ChunkError>,
}

impl<'a> ChunkIter<'a> {
    /// Iterates over raw chunk bytes (e.g. read from disk without
    /// [`XorChunk::from_bytes`]). Only the header is checked here; corruption
    /// further in stops the iteration and is reported by [`err`](Self::err).
    pub fn new(bytes: &'a [u8], num_samples: usize) -> Result<Self, ChunkError> {
        let Some(header) = bytes.get(..HEADER_BYTES) else {
            return Err(ChunkError::TooShort { len: bytes.len() });
        };
        let header = u16::from_be_bytes([header[0], header[1]]);
        if usize::from(header) != num_samples {
            return Err(ChunkError::CountMismatch {
                header,
                expected: num_samples,
            });
        }
        Ok(Self::with_state(bytes, bytes.len() * 8, num_samples))
    }

    fn with_state(data: &'a [u8], end_bits: usize, n: usize) -> Self {
        Self {
            data,
            end_bits,
            n,
            decoded: 0,
            dec: Decoder::new(),
            out: [(0, 0.0); BATCH],
            out_len: 0,
            out_pos: 0,
            err: None,
        }
    }

    /// Why the iteration stopped early, if it did.
    pub fn err(&self) -> Option<ChunkError> {
        self.err
    }

    /// Advances to the first sample with timestamp >= `t` and returns it.
    ///
    /// Like Prometheus' `Seek`, it never moves backwards: if the sample most
    /// recently returned by `next`/`seek` already satisfies `t`, that sample
    /// is returned again. Either way, `next` continues after the returned one.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if self.err.is_some() {
            return None;
        }
        if let Some(&cur) = self.out_pos.checked_sub(1).and_then(|i| self.out.get(i))
            && cur.0 >= t
        {
            return Some(cur);
        }
        // Values are XOR-chained, so skipping still decodes every sample.
        self.find(|s| s.0 >= t)
    }

    /// Decodes the next batch into `out`. Leaves `out` alone if nothing could
    /// be decoded, so that the current sample stays available to `seek`.
    #[inline(never)]
    fn fill(&mut self) {
        let data = self.data;
        let end_bits = self.end_bits;
        let want = (self.n - self.decoded).min(BATCH);
        let mut k = 0;
        let mut err = None;
        while k < want && self.decoded + k < 2 {
            if let Err(what) = self.dec.decode_head(data, self.decoded + k) {
                err = Some(ChunkError::Malformed {
                    sample: self.decoded + k,
                    what,
                });
                break;
            }
            if self.dec.consumed_bits() > end_bits {
                err = Some(ChunkError::Truncated {
                    sample: self.decoded + k,
                });
                break;
            }
            self.out[k] = (self.dec.t, f64::from_bits(self.dec.v));
            k += 1;
        }
        if err.is_none() && k < want {
            // The hot loop does not check for running past the end of the
            // data: past `end_bits` it decodes padding, harmlessly and for at
            // most a batch. Only if the batch ended out of bounds (corrupt or
            // truncated data) is it decoded again, checking every sample.
            let start = (self.dec, k);
            let mut d = self.dec;
            let mut bad = None;
            let out = &mut self.out[k..want];
            for (j, slot) in out.iter_mut().enumerate() {
                if let Err(what) = d.decode_sample(data) {
                    bad = Some((j, what));
                    break;
                }
                *slot = (d.t, f64::from_bits(d.v));
            }
            if d.consumed_bits() > end_bits {
                (d, k, err) = self.fill_checked(start.0, start.1, want);
            } else if let Some((j, what)) = bad {
                k += j;
                err = Some(ChunkError::Malformed {
                    sample: self.decoded + k,
                    what,
                });
            } else {
                k = want;
            }
            self.dec = d;
        }
        self.decoded += k;
        if k > 0 {
            self.out_len = k;
            self.out_pos = 0;
        }
        if let Some(e) = err {
            self.err = Some(e);
            self.n = self.decoded;
        }
    }
}

impl ChunkIter<'_> {
    /// [`fill`](Self::fill)'s slow path for data that ends early: decodes
    /// `out[k..want]` from `d` again, stopping at the first sample that
    /// extends past the end.
    #[cold]
    #[inline(never)]
    fn fill_checked(
        &mut self,
        mut d: Decoder,
        mut k: usize,
        want: usize,
    ) -> (Decoder, usize, Option<ChunkError>) {
        while k < want {
            let sample = self.decoded + k;
            if let Err(what) = d.decode_sample(self.data) {
                return (d, k, Some(ChunkError::Malformed { sample, what }));
            }
            if d.consumed_bits() > self.end_bits {
                return (d, k, Some(ChunkError::Truncated { sample }));
            }
            self.out[k] = (d.t, f64::from_bits(d.v));
            k += 1;
        }
        (d, k, None)
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.out_pos >= self.out_len {
            if self.decoded >= self.n {
                return None;
            }
            self.fill();
            if self.out_pos >= self.out_len {
                return None;
            }
        }
        let s = self.out.get(self.out_pos).copied();
        self.out_pos += 1;
        s
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.n - self.decoded + (self.out_len - self.out_pos);
        (0, Some(left))
    }
}

impl std::iter::FusedIterator for ChunkIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips() {
        for x in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(x)), x);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn dod_buckets_round_trip_at_their_edges() {
        const D: i64 = 1 << 21;
        for (n, size) in [(14, 16), (17, 20), (20, 24)] {
            let half = 1i64 << (n - 1);
            for dod in [-(half - 1), half] {
                assert!(bit_range(dod, n));
                let mut c = XorChunk::new();
                for t in [0, D, 2 * D + dod] {
                    c.append(t, 0.0).unwrap();
                }
                let before = c.nbits;
                c.append(3 * D + 2 * dod, 0.0).unwrap(); // dod 0 again
                assert_eq!(c.nbits - before, 2);
                let ts: Vec<i64> = c.iter().map(|s| s.0).collect();
                assert_eq!(ts, [0, D, 2 * D + dod, 3 * D + 2 * dod], "n={n} dod={dod}");
                // 1 value bit after the dod: header 2, varint 1, value 8,
                // uvarint(2^21) 4 bytes, 1 value bit.
                assert_eq!(before, (2 + 1 + 8 + 4) * 8 + 1 + size + 1);
            }
            assert!(!bit_range(-half, n));
            assert!(!bit_range(half + 1, n));
        }
    }

    #[test]
    fn layout_matches_prometheus() {
        // Hand-derived: header, zigzag varint(1000) = e8 0f... see below.
        let mut c = XorChunk::new();
        assert_eq!(c.bytes(), [0, 0]);
        c.append(1000, 1.0).unwrap();
        // varint(zigzag(1000) = 2000) = d0 0f; 1.0 = 3ff0000000000000.
        assert_eq!(c.bytes(), [0, 1, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        c.append(2000, 1.0).unwrap();
        // uvarint(1000) = e8 07, then a single '0' bit for the equal value.
        assert_eq!(c.bytes()[12..], [0xe8, 0x07, 0x00]);
        assert_eq!(c.bytes()[..2], [0, 2]);
        c.append(3000, 1.0).unwrap();
        // dod 0 -> '0', value equal -> '0': still within the last byte.
        assert_eq!(c.bytes().len(), 15);
        assert_eq!(c.bytes()[..2], [0, 3]);
    }
}
