//! Properties of the sealed chunk codec: bit-exact round trips of any
//! timestamps and values, header agreement, robustness against corrupt
//! bytes, and the sizes reached on typical series.

use proptest::prelude::*;
use wasmetheus_tsdb::sealed::{
    SealedError, SealedHeader, decode, decode_with, encode, encode_timestamps, encode_with, header,
};

/// Prometheus' stale marker.
const STALE: u64 = 0x7ff0_0000_0000_0002;

/// Encodes, decodes and compares bit for bit (NaNs by payload); checks
/// `header` against the samples. Returns the encoding.
fn check(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut bytes = vec![0xAA]; // encode appends
    encode(samples, &mut bytes);
    let bytes = bytes.split_off(1);

    let mut out = vec![(7, 7.0)]; // decode appends
    decode(&bytes, &mut out).unwrap();
    assert_eq!(out.remove(0).0, 7);
    let bits = |s: &[(i64, f64)]| s.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&out), bits(samples));

    let h = header(&bytes).unwrap();
    let expect = SealedHeader {
        count: samples.len(),
        min_time: samples.first().map_or(i64::MAX, |s| s.0),
        max_time: samples.last().map_or(i64::MIN, |s| s.0),
    };
    assert_eq!(h, expect);
    bytes
}

fn from_bits(samples: &[(i64, u64)]) -> Vec<(i64, f64)> {
    samples
        .iter()
        .map(|&(t, v)| (t, f64::from_bits(v)))
        .collect()
}

/// Regular 15 s scrapes from a realistic start.
fn regular(values: impl IntoIterator<Item = f64>) -> Vec<(i64, f64)> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (1_700_000_000_000 + i as i64 * 15_000, v))
        .collect()
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn bytes_per_sample(samples: &[(i64, f64)]) -> f64 {
    check(samples).len() as f64 / samples.len() as f64
}

// ---------------------------------------------------------------------------
// Targeted cases

#[test]
fn empty() {
    let b = check(&[]);
    assert_eq!(b.len(), 2);
}

#[test]
fn single_samples() {
    for v in [
        0.0,
        -0.0,
        1.0,
        0.1,
        f64::NAN,
        f64::from_bits(STALE),
        f64::MAX,
        5e-324,
    ] {
        for t in [i64::MIN, -1, 0, 1_700_000_000_000, i64::MAX] {
            check(&[(t, v)]);
        }
    }
}

#[test]
fn special_values_round_trip() {
    let specials = [
        STALE,
        f64::NAN.to_bits(),
        0x7ff8_dead_beef_0001,
        0xfff0_0000_0000_0001,
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        (-0.0f64).to_bits(),
        0,
        1,
        0x000f_ffff_ffff_ffff,
        f64::MAX.to_bits(),
        f64::MIN.to_bits(),
        f64::MIN_POSITIVE.to_bits(),
        f64::EPSILON.to_bits(),
    ];
    let s: Vec<(i64, u64)> = specials
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64, v))
        .collect();
    check(&from_bits(&s));
    // Each special alone in an otherwise decimal series, and repeated.
    for &sp in &specials {
        for pos in [0, 1, 59, 119] {
            let mut s: Vec<(i64, f64)> = regular((0..120).map(|i| f64::from(i) * 0.25));
            s[pos].1 = f64::from_bits(sp);
            check(&s);
        }
        check(&regular((0..120).map(|_| f64::from_bits(sp))));
    }
}

#[test]
fn stale_marker_at_end_is_cheap() {
    let mut counter: Vec<(i64, f64)> = regular((0..480).map(|i| f64::from(i * 7)));
    let plain = check(&counter).len();
    counter.last_mut().unwrap().1 = f64::from_bits(STALE);
    let stale = check(&counter).len();
    // The marker costs its raw bits plus a little, not a switch to XOR.
    assert!(stale <= plain + 12, "{plain} -> {stale} bytes");

    let mut constant = regular((0..480).map(|_| 1.0));
    constant.last_mut().unwrap().1 = f64::from_bits(STALE);
    assert!(check(&constant).len() < 30);
}

#[test]
fn timestamp_extremes() {
    check(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
    check(&[(i64::MIN, 1.0), (i64::MIN + 1, 2.0), (i64::MAX, 3.0)]);
    check(&[
        (i64::MIN, 1.0),
        (0, 2.0),
        (i64::MAX - 1, 3.0),
        (i64::MAX, 4.0),
    ]);
    check(&[(-5, 1.0), (-4, 1.0), (-3, 1.0)]);
    // A grid whose step does not fit an i64.
    check(&[(i64::MIN, 1.0), (i64::MIN + i64::MAX, 1.0)]);
    let huge: Vec<(i64, f64)> = (0..100)
        .map(|i| (i64::MIN + i * (i64::MAX / 100), f64::from(i as i32)))
        .collect();
    check(&huge);
    // Negative timestamps on a jittered grid.
    let mut rng = 7u64;
    let jittered: Vec<(i64, f64)> = (0..500)
        .map(|i| {
            (
                -10_000_000 + i * 1000 + (xorshift(&mut rng) % 7) as i64,
                0.5,
            )
        })
        .collect();
    check(&jittered);
}

#[test]
fn missed_scrapes_and_irregular_timestamps() {
    let mut s = regular((0..480).map(f64::from));
    s.remove(100);
    s.remove(300);
    let b = check(&s);
    assert!(b.len() < 64, "{} bytes", b.len());
    let mut rng = 1u64;
    let mut t = 0i64;
    let irregular: Vec<(i64, f64)> = (0..1000)
        .map(|_| {
            t += 1 + (xorshift(&mut rng) % 100_000) as i64;
            (t, 1.0)
        })
        .collect();
    check(&irregular);
}

#[test]
fn decimal_series_every_exponent() {
    for e in 0..=15 {
        let p = 10f64.powi(e);
        let mut rng = e as u64 + 1;
        let mut m: i64 = 12345;
        let s = regular((0..300).map(|_| {
            m += (xorshift(&mut rng) % 1000) as i64 - 500;
            m as f64 / p
        }));
        let b = check(&s);
        // Random ±500 steps are ~10 bits, well below XOR's cost.
        assert!(b.len() < 300 * 2, "e={e}: {} bytes", b.len());
        // Largest mantissas a decimal can carry.
        let big = regular((0..50).map(|i| ((1i64 << 53) - 1 - i) as f64 / p));
        check(&big);
        let neg = regular((0..50).map(|i| -(((1i64 << 52) + i * 977) as f64) / p));
        check(&neg);
    }
}

#[test]
fn integer_counters_compress() {
    // Constant rate: delta-of-delta is all zeros.
    let s = regular((0..480).map(|i| f64::from(1000 + i * 15)));
    assert!(bytes_per_sample(&s) < 0.06, "{}", bytes_per_sample(&s));
    // Random small increments: about their entropy.
    let mut rng = 3u64;
    let mut acc = 0u64;
    let s = regular((0..480).map(|_| {
        acc += xorshift(&mut rng) % 16;
        acc as f64
    }));
    assert!(bytes_per_sample(&s) < 0.6, "{}", bytes_per_sample(&s));
    // Integers beyond 2^53 are not decimals: still exact.
    check(&regular((0..100).map(|i| 1e20 + f64::from(i) * 65536.0)));
}

#[test]
fn cent_counters_compress() {
    let mut rng = 5u64;
    let mut acc = 0u64;
    let s = regular((0..480).map(|_| {
        acc += 1400 + xorshift(&mut rng) % 200;
        acc as f64 / 100.0
    }));
    // A 200-wide increment range is 8 bits after the block minimum.
    assert!(bytes_per_sample(&s) < 1.1, "{}", bytes_per_sample(&s));
}

#[test]
fn constants_compress() {
    for v in [0.0, 1.0, 42.0, -3.0, 0.1, 1e300, f64::NAN, -0.0] {
        let s = regular((0..480).map(|_| v));
        let b = check(&s);
        assert!(b.len() <= 24, "{v}: {} bytes", b.len());
    }
}

#[test]
fn full_precision_values_use_xor() {
    let mut rng = 9u64;
    let mut x = 100.0;
    let s = regular((0..480).map(|_| {
        x += (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        x
    }));
    assert!(bytes_per_sample(&s) < 7.5, "{}", bytes_per_sample(&s));
}

#[test]
fn large_chunks() {
    // Beyond the grid limit timestamps pay per block; still round-trips.
    let s: Vec<(i64, f64)> = (0..70_000).map(|i| (i * 1000, (i % 10) as f64)).collect();
    let b = check(&s);
    assert!(b.len() < 70_000, "{} bytes", b.len());
}

// ---------------------------------------------------------------------------
// Corrupt input

fn samples_for_corruption() -> Vec<Vec<(i64, f64)>> {
    let mut rng = 11u64;
    let mut jittered = regular((0..300).map(|i| f64::from(i) * 0.01));
    for s in &mut jittered {
        s.0 += (xorshift(&mut rng) % 7) as i64;
    }
    jittered[299].1 = f64::from_bits(STALE);
    let mut x = 0.0;
    let xor = regular((0..200).map(|_| {
        x += (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        x
    }));
    vec![
        regular((0..200).map(|_| 1.0)),
        regular((0..200).map(|i| f64::from(i * i))),
        jittered,
        xor,
        vec![(i64::MIN, 1.0), (i64::MAX, f64::NAN)],
    ]
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    for s in samples_for_corruption() {
        let mut bytes = Vec::new();
        encode(&s, &mut bytes);
        for len in 0..bytes.len() {
            let mut out = vec![(1, 1.0)];
            let r = decode(&bytes[..len], &mut out);
            assert!(r.is_err(), "prefix of {len}/{} bytes decoded", bytes.len());
            assert_eq!(out.len(), 1, "output not restored on error");
        }
        // Trailing garbage is rejected too.
        bytes.push(0);
        assert!(matches!(
            decode(&bytes, &mut Vec::new()),
            Err(SealedError::TrailingData(_) | SealedError::Malformed(_))
        ));
    }
}

#[test]
fn wrong_format_and_huge_counts() {
    assert_eq!(header(&[]), Err(SealedError::Truncated));
    assert_eq!(header(&[9, 0]), Err(SealedError::UnknownFormat(9)));
    // A count of 2^40 with grid timestamps: rejected before allocating.
    let huge = [1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0, 1, 0, 0];
    assert!(decode(&huge, &mut Vec::new()).is_err());
    // A count of 2^31 with residual timestamps and 3 bytes of data.
    let huge = [1, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 1, 1, 0, 0, 0, 0];
    assert!(decode(&huge, &mut Vec::new()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random bytes after a valid format byte: an error or some samples,
    /// never a panic; the output never exceeds what the input justifies.
    #[test]
    fn random_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![1];
        bytes.extend_from_slice(&tail);
        let mut out = Vec::new();
        let r = decode(&bytes, &mut out);
        let h = header(&bytes);
        if r.is_ok() {
            prop_assert_eq!(h.unwrap().count, out.len());
        } else {
            prop_assert!(out.is_empty());
        }
        prop_assert!(out.len() <= (1 << 16).max(64 * bytes.len()));
    }

    /// Single flipped bits and bytes in valid encodings.
    #[test]
    fn corrupted_bytes_never_panic(which in 0usize..5, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let s = &samples_for_corruption()[which];
        let mut bytes = Vec::new();
        encode(s, &mut bytes);
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let mut out = Vec::new();
        if decode(&bytes, &mut out).is_ok() {
            prop_assert_eq!(header(&bytes).unwrap().count, out.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Round trips of arbitrary input

/// Strictly increasing timestamps: regular (optionally jittered) scrapes,
/// or arbitrary gaps up to the whole i64 range.
fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    let regular = (
        any::<i64>(),
        1i64..100_000,
        0i64..50,
        0usize..600,
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
        prop::collection::vec(gap, 0..300),
    )
        .prop_map(|(start, gaps)| {
            let mut out = vec![start];
            let mut t = start;
            for g in gaps {
                match t.checked_add_unsigned(g) {
                    Some(next) => t = next,
                    None if t < i64::MAX => t = i64::MAX,
                    None => break,
                }
                out.push(t);
            }
            out
        });
    prop_oneof![regular, arbitrary]
}

/// Arbitrary f64 bit patterns, biased towards the interesting ones.
fn special() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(STALE),
        Just(f64::NAN.to_bits()),
        (0u64..1 << 51).prop_map(|p| 0x7ff8_0000_0000_0000 | p),
        (1u64..1 << 51).prop_map(|p| 0xfff0_0000_0000_0000 | p),
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just((-0.0f64).to_bits()),
        Just(0),
        Just(1),
        Just(0x000f_ffff_ffff_ffff),
        Just(f64::MAX.to_bits()),
    ]
}

/// `n` values: arbitrary bits, decimals of a random exponent (walks,
/// counters or bounded noise) with occasional specials mixed in, or
/// constants.
fn values(n: usize) -> impl Strategy<Value = Vec<u64>> {
    let arbitrary = prop::collection::vec(special(), n);
    let decimal = (
        0i32..=15,
        any::<i64>(),
        0u32..=60,
        0u8..3,
        any::<u64>(),
        prop::collection::vec((any::<prop::sample::Index>(), special()), 0..4),
    )
        .prop_map(move |(e, start, bits, shape, seed, specials)| {
            let p = 10f64.powi(e);
            let bound = 1i64 << 53;
            let mut rng = seed | 1;
            let mut m = start % bound;
            let mut vs: Vec<u64> = (0..n)
                .map(|_| {
                    let r = if bits == 0 {
                        0
                    } else {
                        xorshift(&mut rng) >> (64 - bits)
                    } as i64;
                    m = match shape {
                        0 => m.wrapping_add(r - (1 << bits >> 1)),
                        1 => m.wrapping_add(r),
                        _ => r,
                    } % bound;
                    (m as f64 / p).to_bits()
                })
                .collect();
            for (i, v) in specials {
                if n > 0 {
                    vs[i.index(n)] = v;
                }
            }
            vs
        });
    let constant = (
        special(),
        prop::collection::vec((any::<prop::sample::Index>(), special()), 0..3),
    )
        .prop_map(move |(c, specials)| {
            let mut vs = vec![c; n];
            for (i, v) in specials {
                if n > 0 {
                    vs[i.index(n)] = v;
                }
            }
            vs
        });
    prop_oneof![arbitrary, decimal, constant]
}

fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
    timestamps().prop_flat_map(|ts| {
        values(ts.len()).prop_map(move |vs| {
            ts.iter()
                .zip(vs)
                .map(|(&t, v)| (t, f64::from_bits(v)))
                .collect::<Vec<_>>()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn round_trips(samples in series()) {
        check(&samples);
    }

    /// Any prefix of a valid encoding's samples is itself encodable, and a
    /// truncated encoding is never accepted.
    #[test]
    fn truncated_encoding_is_rejected(samples in series(), cut in any::<prop::sample::Index>()) {
        let mut bytes = Vec::new();
        encode(&samples, &mut bytes);
        let len = cut.index(bytes.len());
        prop_assert!(decode(&bytes[..len], &mut Vec::new()).is_err());
    }
}

// ---------------------------------------------------------------------------
// Shared timestamps

/// A stand-in for a part file: `HEAD` bytes of header, then chunks, each
/// referring to earlier ones by offset.
const HEAD: usize = 32;

/// Jittered scrape times, the case sharing is for.
fn jittered_times(n: usize, seed: u64) -> Vec<i64> {
    let mut rng = seed | 1;
    (0..n)
        .map(|i| 1_700_000_000_000 + i as i64 * 15_000 + (xorshift(&mut rng) % 7) as i64 - 3)
        .collect()
}

fn with_values(times: &[i64], v: impl Fn(usize) -> f64) -> Vec<(i64, f64)> {
    times.iter().enumerate().map(|(i, &t)| (t, v(i))).collect()
}

/// Appends a chunk to `part`, sharing the timestamps at `shared` if given;
/// returns its offset and whether it shares.
fn append(part: &mut Vec<u8>, samples: &[(i64, f64)], shared: Option<usize>) -> (usize, bool) {
    let at = part.len();
    let did = encode_with(samples, shared.map(|s| s as u64), part);
    (at, did)
}

/// Decodes the chunk at `at..end` of `part`, resolving references as a
/// part does: to the bytes from the offset up to the chunk itself.
fn decode_in(part: &[u8], at: usize, end: usize) -> Result<Vec<(i64, f64)>, SealedError> {
    let mut out = vec![(7, 7.0)];
    let r = decode_with(
        &part[at..end],
        |r| part.get(usize::try_from(r).ok()?..at),
        &mut out,
    );
    match r {
        Ok(()) => {
            assert_eq!(out.remove(0).0, 7);
            Ok(out)
        }
        Err(e) => {
            assert_eq!(out, vec![(7, 7.0)], "output not restored on error");
            Err(e)
        }
    }
}

fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
    s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

#[test]
fn shared_timestamps_round_trip() {
    let times = jittered_times(480, 5);
    let counter = with_values(&times, |i| (i * 3) as f64);
    let mut stale = with_values(&times, |i| i as f64 * 0.25);
    stale[479].1 = f64::from_bits(STALE);
    let nan_gauge = with_values(&times, |i| if i % 7 == 0 { f64::NAN } else { 0.5 });
    let mut key = Vec::new();
    encode_timestamps(&counter, &mut key);
    for s in [&stale, &nan_gauge] {
        let mut other = Vec::new();
        encode_timestamps(s, &mut other);
        assert_eq!(key, other, "same timestamps, same key");
    }

    let mut part = vec![0xEE; HEAD];
    let (a, shared) = append(&mut part, &counter, None);
    assert!(!shared);
    let mut ends = vec![];
    let mut starts = vec![];
    for s in [&stale, &nan_gauge] {
        let (at, shared) = append(&mut part, s, Some(a));
        assert!(shared, "jittered timestamps are worth sharing");
        starts.push(at);
        ends.push(part.len());
    }
    let a_end = starts[0];
    assert_eq!(bits(&decode_in(&part, a, a_end).unwrap()), bits(&counter));
    for (i, s) in [&stale, &nan_gauge].into_iter().enumerate() {
        let (at, end) = (starts[i], ends[i]);
        assert_eq!(bits(&decode_in(&part, at, end).unwrap()), bits(s));
        // The header needs no lookup.
        assert_eq!(
            header(&part[at..end]).unwrap(),
            SealedHeader {
                count: 480,
                min_time: times[0],
                max_time: times[479],
            }
        );
        // Without a resolver, an error rather than wrong timestamps.
        assert!(matches!(
            decode(&part[at..end], &mut Vec::new()),
            Err(SealedError::Malformed(_))
        ));
        // Nearly all of the timestamp bytes are saved.
        let mut alone = Vec::new();
        encode(s, &mut alone);
        let saved = alone.len() - (end - at);
        // Not saved: count, first timestamp, mode, span and reference.
        assert!(saved + 16 >= key.len(), "saved {saved} of {}", key.len());
    }
}

#[test]
fn regular_timestamps_are_not_shared() {
    // Grid timestamps take fewer bytes than a reference.
    let a = regular((0..480).map(f64::from));
    let b = regular((0..480).map(|i| f64::from(i) * 2.0));
    let mut part = vec![0xEE; HEAD];
    append(&mut part, &a, None);
    let at = part.len();
    assert!(!encode_with(&b, Some(HEAD as u64), &mut part));
    let mut alone = Vec::new();
    encode(&b, &mut alone);
    assert_eq!(&part[at..], &alone[..]);
    // Fewer than 2 samples: nothing to share.
    for s in [&[][..], &[(5, 1.0)][..]] {
        let mut key = Vec::new();
        encode_timestamps(s, &mut key);
        assert!(key.is_empty());
        assert!(!encode_with(s, Some(HEAD as u64), &mut Vec::new()));
    }
}

#[test]
fn bad_references_are_errors() {
    let times = jittered_times(300, 9);
    let a = with_values(&times, |i| i as f64);
    let b = with_values(&times, |i| (i % 5) as f64);
    let mut part = vec![0xEE; HEAD];
    let (a_at, _) = append(&mut part, &a, None);

    // References to anywhere but the start of `a`, or beyond the chunk.
    for r in (0..part.len() + 2).filter(|&r| r != a_at) {
        let mut p = part.clone();
        let (at, shared) = append(&mut p, &b, Some(r));
        assert!(shared);
        assert!(decode_in(&p, at, p.len()).is_err(), "reference to {r}");
    }
    let mut p = part.clone();
    let (at, _) = append(&mut p, &b, Some(u64::MAX as usize));
    assert!(decode_in(&p, at, p.len()).is_err());

    // A chunk with other timestamps: fewer samples, a later start, or the
    // same count and start but another end.
    let shorter = with_values(&times[..200], |i| i as f64);
    let mut later = a.clone();
    later[0].0 += 1;
    let mut longer = a.clone();
    longer[299].0 += 1;
    for other in [&shorter, &later, &longer] {
        let mut p = vec![0xEE; HEAD];
        let (o, _) = append(&mut p, other, None);
        let (at, _) = append(&mut p, &b, Some(o));
        assert_eq!(
            decode_in(&p, at, p.len()),
            Err(SealedError::Malformed(
                "shared timestamps belong to a different time range"
            ))
        );
    }

    // Chains: a reference to a chunk that itself shares.
    let mut p = part.clone();
    let (b_at, _) = append(&mut p, &b, Some(a_at));
    let (c_at, shared) = append(&mut p, &a, Some(b_at));
    assert!(shared);
    assert_eq!(
        decode_in(&p, c_at, p.len()),
        Err(SealedError::Malformed(
            "shared timestamps refer to shared timestamps"
        ))
    );
    // And a chunk referring to itself cannot be resolved by a part.
    let end = p.len();
    let (self_at, _) = append(&mut p, &a, Some(end));
    assert!(decode_in(&p, self_at, p.len()).is_err());
}

#[test]
fn format_2_is_only_shared_timestamps() {
    assert!(matches!(header(&[2, 0]), Err(SealedError::Malformed(_))));
    assert!(matches!(header(&[2, 1, 0]), Err(SealedError::Malformed(_))));
    // Two samples with grid timestamps, under format 2.
    let mut bytes = Vec::new();
    encode(&[(0, 1.0), (10, 1.0)], &mut bytes);
    assert_eq!(bytes[0], 1);
    bytes[0] = 2;
    assert!(matches!(header(&bytes), Err(SealedError::Malformed(_))));
    // Shared timestamps under format 1.
    let times = jittered_times(100, 3);
    let a = with_values(&times, |i| i as f64);
    let mut bytes = Vec::new();
    assert!(encode_with(&a, Some(HEAD as u64), &mut bytes));
    bytes[0] = 1;
    assert!(matches!(header(&bytes), Err(SealedError::Malformed(_))));
}

#[test]
fn truncated_shared_chunks_are_errors() {
    for (n, seed) in [(2, 1), (300, 2), (480, 3)] {
        let times = jittered_times(n, seed);
        let a = with_values(&times, |i| i as f64 * 0.1);
        let mut b = with_values(&times, |_| 1.0);
        b[n - 1].1 = f64::from_bits(STALE);
        let mut part = vec![0xEE; HEAD];
        let (a_at, _) = append(&mut part, &a, None);
        let (b_at, shared) = append(&mut part, &b, Some(a_at));
        if !shared {
            // Two samples: inline is smaller.
            assert_eq!(n, 2);
            continue;
        }
        for len in b_at..part.len() {
            assert!(
                decode_in(&part, b_at, len).is_err(),
                "shared chunk cut at {len}"
            );
        }
        // The referenced chunk cut short within its timestamps (format
        // byte and the key's bytes; its values are not read).
        let mut key = Vec::new();
        encode_timestamps(&a, &mut key);
        for len in a_at..a_at + 1 + key.len() {
            let mut out = Vec::new();
            let r = decode_with(&part[b_at..], |_| part.get(a_at..len), &mut out);
            assert!(r.is_err(), "referenced chunk cut at {len}");
            assert!(out.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Any series shares with another of the same timestamps and round-trips.
    #[test]
    fn shared_round_trips(samples in series(), rot in any::<prop::sample::Index>()) {
        let mut part = vec![0xEE; HEAD];
        let (a_at, _) = append(&mut part, &samples, None);
        // The same timestamps with the values rotated.
        let mut other = samples.clone();
        if !other.is_empty() {
            let k = rot.index(other.len());
            let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
            for (i, s) in other.iter_mut().enumerate() {
                s.1 = values[(i + k) % values.len()];
            }
        }
        let (b_at, _) = append(&mut part, &other, Some(a_at));
        prop_assert_eq!(bits(&decode_in(&part, a_at, b_at).unwrap()), bits(&samples));
        prop_assert_eq!(bits(&decode_in(&part, b_at, part.len()).unwrap()), bits(&other));
        let h = header(&part[b_at..]).unwrap();
        prop_assert_eq!(h.count, other.len());
        prop_assert_eq!(h.min_time, other.first().map_or(i64::MAX, |s| s.0));
        prop_assert_eq!(h.max_time, other.last().map_or(i64::MIN, |s| s.0));
    }

    /// Corrupt bytes in either the shared chunk or the one it refers to.
    #[test]
    fn corrupted_shared_chunks_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let times = jittered_times(300, 17);
        let a = with_values(&times, |i| i as f64 * 0.01);
        let mut b = with_values(&times, |i| (i / 10) as f64);
        b[299].1 = f64::from_bits(STALE);
        let mut part = vec![0xEE; HEAD];
        let (a_at, _) = append(&mut part, &a, None);
        let (b_at, _) = append(&mut part, &b, Some(a_at));
        let i = HEAD + pos.index(part.len() - HEAD);
        part[i] = byte;
        if let Ok(out) = decode_in(&part, b_at, part.len()) {
            prop_assert_eq!(header(&part[b_at..]).unwrap().count, out.len());
        }
    }
}
