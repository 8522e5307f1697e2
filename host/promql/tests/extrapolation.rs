//! `rate`, `increase` and `delta` of a range query are computed for all
//! steps of a series in one batch (`engine/steps.rs`); each step must be
//! the value of an instant query there, which goes through the window
//! function, to the bit: counter resets, negative values, irregular and
//! duplicate-free jittered timestamps, windows of one sample, gaps and
//! series with stale markers or start timestamps (the per-window path).

use wasmetheus_model::Label;
use wasmetheus_model::storage::{STALE_NAN_BITS, Storage};
use wasmetheus_promql::engine::Engine;
use wasmetheus_promql::value::{SampleValue, Value};
use wasmetheus_promqltest::MemStore;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn store() -> MemStore {
    let store = MemStore::new();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut app = store.appender();
    let mut starts = Vec::new();
    for series in 0..6 {
        let mut labels = vec![
            Label::new("__name__", "m_total"),
            Label::new("s", series.to_string()),
        ];
        labels.sort();
        let mut t = 0;
        let mut v = if series == 3 { -50.0 } else { 0.0 };
        while t < 3_600_000 {
            // Jittered 10–20 s intervals, and a 4 min gap now and then.
            t += 10_000 + (xorshift(&mut rng) % 10_001) as i64;
            if xorshift(&mut rng).is_multiple_of(60) {
                t += 240_000;
            }
            v = match xorshift(&mut rng) % 40 {
                0 => (xorshift(&mut rng) % 5) as f64,
                _ => v + (xorshift(&mut rng) % 1_000) as f64 / 7.0,
            };
            let stale = series == 4 && xorshift(&mut rng).is_multiple_of(30);
            let value = if stale {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                v
            };
            app.append(&labels, t, value).unwrap();
            if series == 5 && xorshift(&mut rng).is_multiple_of(20) {
                starts.push((labels.clone(), t, t - 5_000));
            }
        }
    }
    app.commit().unwrap();
    drop(app);
    for (labels, t, st) in starts {
        store.set_start_time(&labels, t, st);
    }
    store
}

#[test]
fn every_step_of_a_batch_is_the_instant_value_to_the_bit() {
    let store = store();
    let engine = Engine::default();
    for f in ["rate", "increase", "delta"] {
        for range in ["15s", "1m", "5m"] {
            let query = format!("{f}(m_total[{range}])");
            let (start, end, step) = (0, 3_600_000, 7_000);
            let (v, _) = engine
                .query_range(&store, &query, start, end, step)
                .unwrap();
            let Value::Matrix(series) = v else {
                panic!("{query}: not a matrix")
            };
            let mut points = 0;
            let mut t = start;
            while t <= end {
                let (at, _) = engine.query_instant(&store, &query, t).unwrap();
                let Value::Vector(samples) = at else {
                    panic!("{query}: not a vector")
                };
                for s in &series {
                    let got = s.points.iter().find(|p| p.t == t).map(|p| match &p.value {
                        SampleValue::Float(v) => v.to_bits(),
                        SampleValue::Histogram(_) => panic!("a histogram"),
                    });
                    let want =
                        samples
                            .iter()
                            .find(|x| x.labels == s.labels)
                            .map(|x| match &x.value {
                                SampleValue::Float(v) => v.to_bits(),
                                SampleValue::Histogram(_) => panic!("a histogram"),
                            });
                    assert_eq!(got, want, "{query} at {t} for {:?}", s.labels);
                    points += usize::from(got.is_some());
                }
                t += step;
            }
            assert!(points > 100, "{query}: {points} values compared");
        }
    }
}
