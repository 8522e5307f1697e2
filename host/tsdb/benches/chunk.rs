//! Append throughput and decode cost of the XOR chunk codec on a realistic
//! mix of series: integer counters, 0.01-resolution counters (like
//! `*_seconds_total`), random-walk gauges and constants, 120 samples per
//! chunk at a 15 s interval, half of the series with a few ms of jitter.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wasmetheus_tsdb::chunk::{TARGET_SAMPLES, XorChunk};

const SERIES_PER_KIND: usize = 64;

#[derive(Clone, Copy)]
enum Kind {
    IntCounter,
    CentCounter,
    Gauge,
    Constant,
}

const KINDS: [(Kind, &str); 4] = [
    (Kind::IntCounter, "int_counter"),
    (Kind::CentCounter, "cent_counter"),
    (Kind::Gauge, "random_walk"),
    (Kind::Constant, "constant"),
];

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

type Series = Vec<(i64, f64)>;

fn series(kind: Kind, seed: u64) -> Series {
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let jitter = if seed.is_multiple_of(2) { 0 } else { 3 };
    let mut acc: u64 = xorshift(&mut rng) % 1_000_000;
    let mut x = (xorshift(&mut rng) % 1000) as f64;
    (0..TARGET_SAMPLES)
        .map(|i| {
            let j = if jitter > 0 {
                (xorshift(&mut rng) % (2 * jitter + 1)) as i64 - jitter as i64
            } else {
                0
            };
            let t = 1_700_000_000_000 + i as i64 * 15_000 + j;
            let v = match kind {
                Kind::IntCounter => {
                    acc += xorshift(&mut rng) % 50;
                    acc as f64
                }
                Kind::CentCounter => {
                    acc += xorshift(&mut rng) % 1500;
                    acc as f64 / 100.0
                }
                Kind::Gauge => {
                    x += (xorshift(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    x
                }
                Kind::Constant => 1.0,
            };
            (t, v)
        })
        .collect()
}

fn build(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v).unwrap();
    }
    c
}

fn decode_all(chunks: &[XorChunk]) -> u64 {
    let mut acc = 0u64;
    for c in chunks {
        for (t, v) in c.iter() {
            acc = acc.wrapping_add(t as u64 ^ v.to_bits());
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let per_kind: Vec<(&str, Vec<Series>)> = KINDS
        .iter()
        .map(|&(kind, name)| {
            let s = (0..SERIES_PER_KIND as u64)
                .map(|i| series(kind, i))
                .collect();
            (name, s)
        })
        .collect();
    let mix: Vec<Series> = per_kind.iter().flat_map(|(_, s)| s.clone()).collect();
    let samples_in = |s: &[Series]| s.iter().map(Vec::len).sum::<usize>() as u64;

    for (name, s) in per_kind.iter().map(|(n, s)| (*n, s)).chain([("mix", &mix)]) {
        let chunks: Vec<XorChunk> = s.iter().map(|s| build(s)).collect();
        let bytes: usize = chunks.iter().map(|c| c.bytes().len()).sum();
        eprintln!(
            "{name:<13} {:.3} bytes/sample",
            bytes as f64 / samples_in(s) as f64
        );
    }

    let mut g = c.benchmark_group("append");
    for (name, s) in per_kind.iter().map(|(n, s)| (*n, s)).chain([("mix", &mix)]) {
        g.throughput(Throughput::Elements(samples_in(s)));
        g.bench_function(name, |b| {
            b.iter(|| {
                for s in s {
                    black_box(build(black_box(s)));
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decode");
    for (name, s) in per_kind.iter().map(|(n, s)| (*n, s)).chain([("mix", &mix)]) {
        let chunks: Vec<XorChunk> = s.iter().map(|s| build(s)).collect();
        g.throughput(Throughput::Elements(samples_in(s)));
        g.bench_function(name, |b| b.iter(|| decode_all(black_box(&chunks))));
    }
    g.finish();

    // Seek to the middle of every chunk of the mix (half the samples decoded).
    let chunks: Vec<XorChunk> = mix.iter().map(|s| build(s)).collect();
    let mut g = c.benchmark_group("seek");
    g.throughput(Throughput::Elements(chunks.len() as u64));
    g.bench_function("mid_chunk", |b| {
        b.iter(|| {
            chunks
                .iter()
                .filter_map(|c| c.iter().seek(black_box(c.min_time() + 60 * 15_000)))
                .count()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
