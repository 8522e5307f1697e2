//! Properties of the XOR chunk codec: exact round trips, seek, rejection of
//! out-of-order samples, robustness against corrupt bytes, and the
//! compression achieved on typical series.

use proptest::prelude::*;
use wasmetheus_tsdb::chunk::{
    AppendError, ChunkError, ChunkIter, MAX_SAMPLES, TARGET_SAMPLES, XorChunk,
};

/// Prometheus' stale marker.
const STALE: u64 = 0x7ff0_0000_0000_0002;

fn build(samples: &[(i64, u64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, f64::from_bits(v)).unwrap();
    }
    c
}

/// Samples as `(t, bits)` so that NaNs compare by payload.
fn decode(it: ChunkIter<'_>) -> Vec<(i64, u64)> {
    it.map(|(t, v)| (t, v.to_bits())).collect()
}

/// Strictly increasing timestamps: regular (optionally jittered) scrapes,
/// or arbitrary gaps up to the whole i64 range.
fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    let regular = (
        any::<i64>(),
        1i64..100_000,
        0i64..50,
        0usize..300,
        any::<u64>(),
    )
        .prop_map(|(start, step, jitter_pct, n, seed)| {
            let jitter = step * jitter_pct / 100;
            let mut rng = seed | 1;
            let mut out: Vec<i64> = Vec::with_capacity(n);
            for i in 0..n as i64 {
                let j = if jitter > 0 {
                    (xorshift(&mut rng) % (2 * jitter as u64 + 1)) as i64 - jitter
                } else {
                    0
                };
                // Jitter below step/2 keeps the sequence increasing.
                let Some(t) = step
                    .checked_mul(i)
                    .and_then(|o| start.checked_add(o))
                    .and_then(|t| t.checked_add(j))
                else {
                    break;
                };
                if out.last().is_some_and(|&l| t <= l) {
                    break;
                }
                out.push(t);
            }
            out
        });
    let gap = prop_oneof![
        1u64..10,
        1u64..100_000,
        1u64..(1 << 21),
        any::<u64>(),
        (1u64..=64).prop_map(|s| if s == 64 { u64::MAX } else { 1 << s }),
    ];
    let arbitrary = (
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(-1i64), Just(0i64)],
        prop::collection::vec(gap, 0..200),
    )
        .prop_map(|(start, gaps)| {
            let mut out = vec![start];
            let mut t = start;
            for g in gaps {
                match t.checked_add_unsigned(g) {
                    Some(next) => t = next,
                    // Out of room: jump to the very end if there is any left.
                    None if t < i64::MAX => t = i64::MAX,
                    None => break,
                }
                out.push(t);
            }
            out
        });
    prop_oneof![regular, arbitrary]
}

/// Arbitrary f64 bit patterns, biased towards the interesting ones and towards
/// repeats (which exercise the '0' and window-reuse encodings).
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(STALE),
        Just(f64::NAN.to_bits()),
        (0u64..1 << 51).prop_map(|p| 0x7ff8_0000_0000_0000 | p), // quiet NaNs
        (1u64..1 << 51).prop_map(|p| 0xfff0_0000_0000_0000 | p), // signalling, negative
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just((-0.0f64).to_bits()),
        Just(0),
        Just(1),                     // smallest subnormal
        Just(0x000f_ffff_ffff_ffff), // largest subnormal
        Just(f64::MAX.to_bits()),
        (0u32..1000).prop_map(|i| f64::from(i).to_bits()),
        (0u32..4).prop_map(|i| f64::from(i).to_bits()),
    ]
}

fn series() -> impl Strategy<Value = Vec<(i64, u64)>> {
    timestamps().prop_flat_map(|ts| {
        let n = ts.len();
        prop::collection::vec(value(), n)
            .prop_map(move |vs| ts.iter().copied().zip(vs).collect::<Vec<_>>())
    })
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn append_then_iterate_round_trips(samples in series()) {
        let c = build(&samples);
        prop_assert_eq!(c.len(), samples.len());
        prop_assert_eq!(c.is_empty(), samples.is_empty());
        prop_assert_eq!(c.is_full(), samples.len() >= TARGET_SAMPLES);
        prop_assert_eq!(usize::from(u16::from_be_bytes([c.bytes()[0], c.bytes()[1]])), samples.len());
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            prop_assert_eq!(c.min_time(), first.0);
            prop_assert_eq!(c.max_time(), last.0);
            prop_assert_eq!(c.last().map(|(t, v)| (t, v.to_bits())), Some(*last));
        }
        let mut it = c.iter();
        prop_assert_eq!(decode(it.clone()), samples.clone());
        it.by_ref().for_each(drop);
        prop_assert_eq!(it.err(), None);
        prop_assert_eq!(it.next(), None);
    }

    #[test]
    fn bytes_reopen_round_trips(samples in series(), split in any::<prop::sample::Index>()) {
        let c = build(&samples);
        let r = XorChunk::from_bytes(c.bytes().to_vec(), samples.len()).unwrap();
        prop_assert_eq!(r.bytes(), c.bytes());
        prop_assert_eq!(r.len(), c.len());
        prop_assert_eq!((r.min_time(), r.max_time()), (c.min_time(), c.max_time()));
        prop_assert_eq!(decode(r.iter()), samples.clone());

        // The raw-slice iterator sees the same samples.
        let mut it = ChunkIter::new(c.bytes(), samples.len()).unwrap();
        prop_assert_eq!(decode(it.clone()), samples.clone());
        it.by_ref().for_each(drop);
        prop_assert_eq!(it.err(), None);

        // Reopening restores the appender state exactly: reopen half-way and
        // append the rest, and the bytes are those of the uninterrupted chunk.
        let k = if samples.is_empty() { 0 } else { split.index(samples.len() + 1) };
        let head = build(&samples[..k]);
        let mut reopened = XorChunk::from_bytes(head.bytes().to_vec(), k).unwrap();
        for &(t, v) in &samples[k..] {
            reopened.append(t, f64::from_bits(v)).unwrap();
        }
        prop_assert_eq!(reopened.bytes(), c.bytes());
    }

    #[test]
    fn seek_matches_linear_scan(samples in series(), targets in prop::collection::vec(any::<i64>(), 1..20)) {
        let c = build(&samples);
        // Targets near and at the sample timestamps are the interesting ones.
        let mut targets = targets;
        for (i, &(t, _)) in samples.iter().enumerate().step_by(7) {
            targets.push(t);
            targets.push(t.wrapping_add(i as i64 % 3 - 1));
        }
        let expect = |t: i64| samples.iter().copied().find(|s| s.0 >= t);
        for &target in &targets {
            let mut it = c.iter();
            let got = it.seek(target).map(|(t, v)| (t, v.to_bits()));
            prop_assert_eq!(got, expect(target));
            // `next` continues right after the sought sample.
            let pos = samples.iter().position(|s| s.0 >= target).unwrap_or(samples.len());
            let rest = decode(it);
            prop_assert_eq!(&rest[..], samples.get(pos + 1..).unwrap_or(&[]));
        }
        // Seeking repeatedly with ascending targets on one iterator.
        targets.sort_unstable();
        let mut it = c.iter();
        for &target in &targets {
            let got = it.seek(target).map(|(t, v)| (t, v.to_bits()));
            prop_assert_eq!(got, expect(target));
        }
        // Never backwards: an earlier target returns the current sample again.
        let mut it = c.iter();
        if let Some(first) = it.next() {
            prop_assert_eq!(it.seek(i64::MIN).map(|(t, _)| t), Some(first.0));
        }
    }

    #[test]
    fn old_and_duplicate_timestamps_are_rejected(samples in series(), back in any::<u64>(), v in value()) {
        prop_assume!(!samples.is_empty());
        let mut c = build(&samples);
        let before = c.bytes().to_vec();
        let last = samples.last().unwrap().0;
        prop_assert_eq!(c.append(last, f64::from_bits(v)), Err(AppendError::Duplicate { t: last }));
        let t = last.saturating_sub_unsigned(back.max(1));
        if t < last {
            prop_assert_eq!(c.append(t, f64::from_bits(v)), Err(AppendError::OutOfOrder { last, t }));
        }
        prop_assert_eq!(c.bytes(), &before[..]);
        prop_assert_eq!(c.len(), samples.len());
        prop_assert_eq!(decode(c.iter()), samples.clone());
        // ...and it still accepts a later sample afterwards.
        if last < i64::MAX {
            c.append(last + 1, 1.0).unwrap();
            prop_assert_eq!(c.len(), samples.len() + 1);
            prop_assert_eq!(c.max_time(), last + 1);
        }
    }

    /// Arbitrary bytes never panic or hang, and whatever `from_bytes` accepts
    /// iterates completely and can be appended to.
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..200), n in 0usize..300, fix_header in any::<bool>()) {
        if fix_header && bytes.len() >= 2 {
            bytes[..2].copy_from_slice(&(n as u16).to_be_bytes());
        }
        check_corrupt(&bytes, n)?;
    }

    /// Valid chunks with flipped bits, truncated or extended.
    #[test]
    fn corrupted_chunks_never_panic(
        samples in series(),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        cut in any::<prop::sample::Index>(),
        extra in prop::collection::vec(any::<u8>(), 0..3),
        mode in 0..3u8,
    ) {
        let c = build(&samples);
        let mut bytes = c.bytes().to_vec();
        match mode {
            0 => for f in &flips {
                let bit = f.index(bytes.len() * 8);
                bytes[bit / 8] ^= 0x80 >> (bit % 8);
            },
            1 => bytes.truncate(cut.index(bytes.len() + 1)),
            _ => bytes.extend_from_slice(&extra),
        }
        check_corrupt(&bytes, samples.len())?;
    }
}

fn check_corrupt(bytes: &[u8], n: usize) -> Result<(), TestCaseError> {
    if let Ok(mut it) = ChunkIter::new(bytes, n) {
        let count = it.by_ref().count();
        prop_assert!(count <= n);
        prop_assert_eq!(count == n, it.err().is_none());
    }
    if let Ok(mut c) = XorChunk::from_bytes(bytes.to_vec(), n) {
        let mut decoded = decode(c.iter());
        prop_assert_eq!(decoded.len(), n);
        let mut it = c.iter();
        it.by_ref().for_each(drop);
        prop_assert_eq!(it.err(), None);
        if n < MAX_SAMPLES && c.max_time() < i64::MAX - 10 {
            let t = if n == 0 { 0 } else { c.max_time() + 7 };
            c.append(t, 0.5).unwrap();
            decoded.push((t, 0.5f64.to_bits()));
            prop_assert_eq!(decode(c.iter()), decoded);
        }
    }
    Ok(())
}

#[test]
fn extreme_timestamps() {
    let samples = [
        (i64::MIN, STALE),
        (i64::MIN + 1, 0),
        (i64::MAX - 1, 1),
        (i64::MAX, f64::NAN.to_bits()),
    ];
    let c = build(&samples);
    assert_eq!(decode(c.iter()), samples);
    let r = XorChunk::from_bytes(c.bytes().to_vec(), samples.len()).unwrap();
    assert_eq!(decode(r.iter()), samples);
}

#[test]
fn stale_marker_keeps_its_bits() {
    let mut c = XorChunk::new();
    c.append(0, 1.0).unwrap();
    c.append(15_000, f64::from_bits(STALE)).unwrap();
    c.append(30_000, 2.0).unwrap();
    let v: Vec<u64> = c.iter().map(|(_, v)| v.to_bits()).collect();
    assert_eq!(v, [1.0f64.to_bits(), STALE, 2.0f64.to_bits()]);
}

#[test]
fn empty_chunk() {
    let c = XorChunk::new();
    assert_eq!(c.bytes(), [0, 0]);
    assert_eq!(c.iter().next(), None);
    assert_eq!(c.iter().seek(i64::MIN), None);
    assert!(c.min_time() > c.max_time());
    let r = XorChunk::from_bytes(vec![0, 0], 0).unwrap();
    assert!(r.is_empty());
    assert_eq!(
        XorChunk::from_bytes(vec![0, 0, 0], 0).unwrap_err(),
        ChunkError::TrailingData { bits: 8 }
    );
    assert_eq!(
        XorChunk::from_bytes(vec![0], 0).unwrap_err(),
        ChunkError::TooShort { len: 1 }
    );
    assert_eq!(
        XorChunk::from_bytes(vec![0, 1], 0).unwrap_err(),
        ChunkError::CountMismatch {
            header: 1,
            expected: 0
        }
    );
}

#[test]
fn full_chunk_rejects_appends() {
    let mut c = XorChunk::new();
    for i in 0..MAX_SAMPLES as i64 {
        c.append(i, 0.0).unwrap();
    }
    assert_eq!(c.append(MAX_SAMPLES as i64, 0.0), Err(AppendError::Full));
    assert_eq!(c.len(), MAX_SAMPLES);
    assert_eq!(c.iter().count(), MAX_SAMPLES);
}

/// 120 samples 15 s apart, like one Prometheus head chunk of a 15 s scrape.
fn scrape_chunk(mut value: impl FnMut(usize) -> f64, jitter_ms: i64) -> XorChunk {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut c = XorChunk::new();
    for i in 0..TARGET_SAMPLES {
        let j = if jitter_ms > 0 {
            (xorshift(&mut rng) % (2 * jitter_ms as u64 + 1)) as i64 - jitter_ms
        } else {
            0
        };
        c.append(1_700_000_000_000 + i as i64 * 15_000 + j, value(i))
            .unwrap();
    }
    c
}

fn report(name: &str, c: &XorChunk) -> f64 {
    let per_sample = c.bytes().len() as f64 / c.len() as f64;
    println!(
        "{name:<32} {:>5} bytes for {} samples = {per_sample:.3} bytes/sample",
        c.bytes().len(),
        c.len()
    );
    per_sample
}

#[test]
fn compression_of_typical_series() {
    // Constant: 18 bytes of header, t0, v0 and first delta, then 2 bits per
    // sample (dod '0', xor '0') for 119 samples => 2 + 6 + 8 + 2 + ceil(1 + 236 bits / 8).
    let constant = scrape_chunk(|_| 42.0, 0);
    assert_eq!(constant.bytes().len(), 48);
    assert!(report("constant", &constant) < 0.41);

    // Counter growing by small integers: a few significant mantissa bits.
    let mut rng = 1u64;
    let mut total = 1000.0;
    let counter = scrape_chunk(
        |_| {
            total += (xorshift(&mut rng) % 10) as f64;
            total
        },
        0,
    );
    assert_eq!(counter.bytes().len(), 189);
    assert!(report("integer counter", &counter) < 1.6);

    // Random walk at full f64 precision: the mantissa is noise.
    let mut rng = 2u64;
    let mut x = 100.0;
    let walk = scrape_chunk(
        |_| {
            x += (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            x
        },
        0,
    );
    assert_eq!(walk.bytes().len(), 791);
    assert!(report("random walk", &walk) < 6.7);

    // Real scrapes jitter by a few ms; each non-zero dod costs 16 bits.
    let jittered = scrape_chunk(|_| 42.0, 3);
    assert_eq!(jittered.bytes().len(), 252);
    report("constant, ±3 ms jitter", &jittered);

    for c in [&constant, &counter, &walk, &jittered] {
        let r = XorChunk::from_bytes(c.bytes().to_vec(), c.len()).unwrap();
        assert_eq!(decode(r.iter()), decode(c.iter()));
    }
}
