//! Size, decode and encode cost of the sealed chunk codec against the XOR head chunk on a realistic mix of series.
//!
//! 480 samples per chunk (2 h at a 15 s interval), half of the series with
//! ±3 ms of scrape jitter. The realistic mix: integer counters, 0.01
//! resolution counters (like `*_seconds_total`), random-walk gauges printed
//! with 2 decimals, constants and histograms (cumulative integer buckets, a
//! `_sum` with 3 decimals, a `_count`). Full-precision random walks are
//! reported separately: they are the worst case, not typical.
//! `mix_shared` is the mix laid out as in a part file, where series of one
//! target (here: of one seed) share a timestamp column.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmetheus_tsdb::chunk::XorChunk;
use wasmetheus_tsdb::sealed;

const SAMPLES: usize = 480;
const SERIES_PER_KIND: usize = 64;
/// Bucket bounds in ms; `u64::MAX` is `+Inf`.
const BUCKETS_MS: [u64; 12] = [
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    u64::MAX,
];

type Series = Vec<(i64, f64)>;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn timestamps(seed: u64, rng: &mut u64) -> Vec<i64> {
    let jitter = if seed.is_multiple_of(2) { 0 } else { 3 };
    (0..SAMPLES)
        .map(|i| {
            let j = if jitter > 0 {
                (xorshift(rng) % (2 * jitter + 1)) as i64 - jitter as i64
            } else {
                0
            };
            1_700_000_000_000 + i as i64 * 15_000 + j
        })
        .collect()
}

fn rng(seed: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// The generators of benches/chunk.rs plus 2-decimal gauges and constants
/// that are not all `1`.
fn simple(kind: &str, seed: u64) -> Series {
    let mut rng = rng(seed);
    let ts = timestamps(seed, &mut rng);
    let mut acc: u64 = xorshift(&mut rng) % 1_000_000;
    let mut cents: i64 = (xorshift(&mut rng) % 100_000) as i64;
    let mut x = (xorshift(&mut rng) % 1000) as f64;
    let constant = [1.0, 0.0, 8.0, 16_777_216_000.0, 0.25, 3.0][seed as usize % 6];
    ts.into_iter()
        .map(|t| {
            let v = match kind {
                "int_counter" => {
                    acc += xorshift(&mut rng) % 50;
                    acc as f64
                }
                "cent_counter" => {
                    acc += xorshift(&mut rng) % 1500;
                    acc as f64 / 100.0
                }
                "gauge_2dec" => {
                    cents += (xorshift(&mut rng) % 101) as i64 - 50;
                    cents as f64 / 100.0
                }
                "gauge_full" => {
                    x += (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    x
                }
                "constant" => constant,
                _ => unreachable!("{kind}"),
            };
            (t, v)
        })
        .collect()
}

/// One histogram: 12 cumulative buckets, `_sum` (seconds, 3 decimals) and
/// `_count`; 0..20 observations per scrape of a skewed latency in ms.
fn histogram(seed: u64) -> Vec<Series> {
    let mut rng = rng(seed);
    let ts = timestamps(seed, &mut rng);
    let mut buckets = [0u64; BUCKETS_MS.len()];
    let mut sum_ms = 0u64;
    let mut out = vec![Vec::with_capacity(SAMPLES); BUCKETS_MS.len() + 2];
    for t in ts {
        for _ in 0..xorshift(&mut rng) % 20 {
            // Product of two uniforms: mostly fast, a long tail.
            let ms = 1 + (xorshift(&mut rng) % 100) * (xorshift(&mut rng) % 100);
            sum_ms += ms;
            for (b, &le) in buckets.iter_mut().zip(&BUCKETS_MS) {
                *b += u64::from(ms <= le);
            }
        }
        for (s, &b) in out.iter_mut().zip(&buckets) {
            s.push((t, b as f64));
        }
        out[BUCKETS_MS.len()].push((t, sum_ms as f64 / 1000.0));
        out[BUCKETS_MS.len() + 1].push((t, buckets[BUCKETS_MS.len() - 1] as f64));
    }
    out
}

fn kind(name: &str) -> Vec<Series> {
    if name == "histogram" {
        // About as many series as the other kinds.
        (0..SERIES_PER_KIND.div_ceil(14) as u64)
            .flat_map(histogram)
            .collect()
    } else {
        (0..SERIES_PER_KIND as u64)
            .map(|i| simple(name, i))
            .collect()
    }
}

fn xor(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v).unwrap();
    }
    c
}

fn encode_all(series: &[Series]) -> Vec<Vec<u8>> {
    series
        .iter()
        .map(|s| {
            let mut b = Vec::new();
            sealed::encode(s, &mut b);
            b
        })
        .collect()
}

/// The chunks as one part file would hold them: each chunk refers to the
/// timestamps of the first one with the same, as the store's writer does
/// (series of the same seed share timestamps, like one target's series).
/// Returns the bytes and each chunk's range.
fn encode_part(series: &[Series]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut part = Vec::new();
    let mut first: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut ranges = Vec::new();
    for s in series {
        let mut key = Vec::new();
        sealed::encode_timestamps(s, &mut key);
        let shared = first.get(&key).copied();
        let at = part.len();
        sealed::encode_with(s, shared, &mut part);
        if shared.is_none() {
            first.insert(key, at as u64);
        }
        ranges.push((at, part.len()));
    }
    (part, ranges)
}

fn decode_part(part: &[u8], ranges: &[(usize, usize)], out: &mut Vec<(i64, f64)>) -> u64 {
    let mut acc = 0u64;
    for &(at, end) in ranges {
        out.clear();
        let resolve = |r: u64| part.get(usize::try_from(r).ok()?..at);
        sealed::decode_with(&part[at..end], resolve, out).unwrap();
        acc = acc.wrapping_add(out.iter().fold(0, |a, &(t, v)| a ^ t as u64 ^ v.to_bits()));
    }
    acc
}

fn decode_all(chunks: &[Vec<u8>], out: &mut Vec<(i64, f64)>) -> u64 {
    let mut acc = 0u64;
    for c in chunks {
        out.clear();
        sealed::decode(c, out).unwrap();
        acc = acc.wrapping_add(out.iter().fold(0, |a, &(t, v)| a ^ t as u64 ^ v.to_bits()));
    }
    acc
}

fn bench(c: &mut Criterion) {
    const REALISTIC: [&str; 5] = [
        "int_counter",
        "cent_counter",
        "gauge_2dec",
        "constant",
        "histogram",
    ];
    let mut sets: Vec<(String, Vec<Series>)> = REALISTIC
        .iter()
        .chain(&["gauge_full"])
        .map(|&n| (n.to_string(), kind(n)))
        .collect();
    let mix: Vec<Series> = sets[..REALISTIC.len()]
        .iter()
        .flat_map(|(_, s)| s.clone())
        .collect();
    sets.push(("mix".to_string(), mix));
    let samples_in = |s: &[Series]| s.iter().map(Vec::len).sum::<usize>() as u64;

    eprintln!(
        "{:<13} {:>7} {:>7} {:>7}",
        "bytes/sample", "sealed", "xor", "ratio"
    );
    for (name, s) in &sets {
        let n = samples_in(s) as f64;
        let sealed: usize = encode_all(s).iter().map(Vec::len).sum();
        let xor: usize = s.iter().map(|s| xor(s).bytes().len()).sum();
        eprintln!(
            "{name:<13} {:>7.3} {:>7.3} {:>6.1}x",
            sealed as f64 / n,
            xor as f64 / n,
            xor as f64 / sealed as f64
        );
    }

    let (_, mix) = sets.last().unwrap();
    let (part, ranges) = encode_part(mix);
    eprintln!(
        "{:<13} {:>7.3}",
        "mix_shared",
        part.len() as f64 / samples_in(mix) as f64
    );

    let mut g = c.benchmark_group("sealed_decode");
    let mut out = Vec::with_capacity(SAMPLES);
    for (name, s) in &sets {
        let chunks = encode_all(s);
        g.throughput(Throughput::Elements(samples_in(s)));
        g.bench_function(name.as_str(), |b| {
            b.iter(|| decode_all(black_box(&chunks), &mut out))
        });
    }
    g.throughput(Throughput::Elements(samples_in(mix)));
    g.bench_function("mix_shared", |b| {
        b.iter(|| decode_part(black_box(&part), &ranges, &mut out))
    });
    g.finish();

    let mut g = c.benchmark_group("sealed_encode");
    for (name, s) in &sets {
        g.throughput(Throughput::Elements(samples_in(s)));
        g.bench_function(name.as_str(), |b| b.iter(|| encode_all(black_box(s))));
    }
    g.finish();

    // The XOR head chunk's decode on the same mix, for reference.
    let (_, mix) = sets.last().unwrap();
    let chunks: Vec<XorChunk> = mix.iter().map(|s| xor(s)).collect();
    let mut g = c.benchmark_group("xor_decode");
    g.throughput(Throughput::Elements(samples_in(mix)));
    g.bench_function("mix", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for c in black_box(&chunks) {
                for (t, v) in c.iter() {
                    acc = acc.wrapping_add(t as u64 ^ v.to_bits());
                }
            }
            acc
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
