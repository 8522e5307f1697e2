//! The counter-reset hints a series' native histograms carry when read
//! back from Prometheus' TSDB head, which the scripted tests compare
//! (`counter_reset_hint:not_reset`): the head cuts a series into chunks
//! and its iterator derives each histogram's hint from its chunk's header
//! and position (`tsdb/chunkenc`'s `counterResetHint`):
//!
//! - a gauge chunk yields `gauge` throughout;
//! - the first histogram of a chunk yields `reset` when the chunk was cut
//!   for a counter reset (detected, or the histogram was appended with
//!   `reset`), else `unknown` (the previous chunk may be gone);
//! - every later histogram of a counter chunk yields `not_reset`.
//!
//! A chunk ends where the sample type changes (a float, such as a stale
//! marker, between histograms), at a counter reset, at a schema or zero
//! threshold change, between gauge and counter histograms, and at the end
//! of the head's chunk range (2h, aligned) the chunk started in. Not
//! modelled: the head's byte-size target (1 KiB per histogram chunk),
//! which cuts long runs of large histograms earlier; the new chunk then
//! starts with `unknown` where this says `not_reset`.

use wasmetheus_model::histogram::{CounterResetHint, FloatHistogram};
use wasmetheus_model::storage::is_stale_marker;

/// The head's chunk range in the scripted tests (Prometheus' default
/// block duration).
const CHUNK_RANGE: i64 = 2 * 60 * 60 * 1000;

/// A sample of a series in time order, as far as chunking cares.
pub(crate) enum Kind<'a> {
    Float,
    Histogram(&'a FloatHistogram),
}

/// The header of a histogram chunk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Header {
    Unknown,
    Reset,
    NotReset,
    Gauge,
}

struct Chunk<'a> {
    header: Header,
    /// Histograms read from it so far.
    samples: usize,
    last: &'a FloatHistogram,
    /// Where the head cuts the next chunk at the latest.
    next_at: i64,
}

/// The end of the chunk range holding `t` (Prometheus'
/// `rangeForTimestamp`).
fn range_end(t: i64) -> i64 {
    t.div_euclid(CHUNK_RANGE)
        .saturating_mul(CHUNK_RANGE)
        .saturating_add(CHUNK_RANGE)
}

/// The hint of every sample of a series given in time order (`None` for
/// floats).
pub(crate) fn hints<'a>(
    samples: impl IntoIterator<Item = (i64, Kind<'a>)>,
) -> Vec<Option<CounterResetHint>> {
    let mut chunk: Option<Chunk<'a>> = None;
    let mut out = Vec::new();
    for (t, kind) in samples {
        let h = match kind {
            Kind::Float => {
                chunk = None;
                out.push(None);
                continue;
            }
            Kind::Histogram(h) => h,
        };
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let new_chunk = |header| Chunk {
            header,
            samples: 0,
            last: h,
            next_at: range_end(t),
        };
        let next = match chunk.take() {
            None => new_chunk(first_header(h, None)),
            // The head cuts the chunk at its range end; the new chunk
            // continues the old appender, which decides its header.
            Some(c) if t >= c.next_at => new_chunk(first_header(h, Some(&c))),
            Some(c) if gauge => {
                if c.header != Header::Gauge
                    || c.last.schema != h.schema
                    || c.last.zero_threshold != h.zero_threshold
                {
                    new_chunk(Header::Gauge)
                } else {
                    c
                }
            }
            Some(c) => match appendable(&c, h) {
                Appendable::Yes => c,
                Appendable::Reset => new_chunk(Header::Reset),
                Appendable::No => new_chunk(Header::Unknown),
            },
        };
        let mut c = next;
        c.samples += 1;
        c.last = h;
        out.push(Some(match (c.header, c.samples) {
            (Header::Gauge, _) => CounterResetHint::Gauge,
            (_, n) if n > 1 => CounterResetHint::NotReset,
            (Header::Reset, _) => CounterResetHint::Reset,
            _ => CounterResetHint::Unknown,
        }));
        chunk = Some(c);
    }
    out
}

/// The header of a new chunk starting with `h`, cut from `prev` if the
/// head continued one (`AppendFloatHistogram` on an empty chunk).
fn first_header(h: &FloatHistogram, prev: Option<&Chunk<'_>>) -> Header {
    match h.counter_reset_hint {
        CounterResetHint::Gauge => Header::Gauge,
        CounterResetHint::Reset => Header::Reset,
        _ => match prev {
            Some(c) if appendable(c, h) == Appendable::Reset => Header::Reset,
            Some(_) => Header::NotReset,
            None => Header::Unknown,
        },
    }
}

#[derive(PartialEq, Eq)]
enum Appendable {
    Yes,
    /// A new chunk is needed, for a counter reset.
    Reset,
    /// A new chunk is needed, for a layout change.
    No,
}

/// Whether counter histogram `h` continues chunk `c`
/// (`FloatHistogramAppender.appendable`).
fn appendable(c: &Chunk<'_>, h: &FloatHistogram) -> Appendable {
    let a = c.last;
    if c.header == Header::Gauge {
        return Appendable::No;
    }
    if h.counter_reset_hint == CounterResetHint::Reset {
        return Appendable::Reset;
    }
    if is_stale_marker(h.sum) {
        return Appendable::Yes;
    }
    if is_stale_marker(a.sum) {
        return Appendable::No;
    }
    if h.count < a.count {
        return Appendable::Reset;
    }
    if h.schema != a.schema || h.zero_threshold != a.zero_threshold {
        return Appendable::No;
    }
    if h.uses_custom_buckets() && h.custom_values != a.custom_values {
        return Appendable::Reset;
    }
    if h.zero_count < a.zero_count {
        return Appendable::Reset;
    }
    // Both lists are sorted by index: one merged walk, linear in the
    // bucket count (a nested search is quadratic, 2^32 steps at 2^16
    // buckets).
    let decreased = |before: Vec<(i32, f64)>, after: Vec<(i32, f64)>| {
        let mut after = after.into_iter().peekable();
        before.into_iter().any(|(i, count)| {
            while after.next_if(|b| b.0 < i).is_some() {}
            let now = after.next_if(|b| b.0 == i).map_or(0.0, |b| b.1);
            now < count
        })
    };
    if decreased(a.positive_buckets(), h.positive_buckets())
        || decreased(a.negative_buckets(), h.negative_buckets())
    {
        return Appendable::Reset;
    }
    Appendable::Yes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(count: f64, hint: CounterResetHint) -> FloatHistogram {
        FloatHistogram {
            count,
            sum: count,
            positive: vec![count],
            counter_reset_hint: hint,
            ..FloatHistogram::default()
        }
    }

    fn names(hints: &[Option<CounterResetHint>]) -> Vec<&'static str> {
        hints
            .iter()
            .map(|h| h.map_or("float", CounterResetHint::as_str))
            .collect()
    }

    #[test]
    fn hints_follow_the_heads_chunks() {
        use CounterResetHint::{Gauge, Reset, Unknown};
        let series = [
            h(1.0, Unknown),
            h(2.0, Unknown),
            h(1.0, Unknown), // a detected reset
            h(3.0, Unknown),
            h(4.0, Reset), // an explicit one
            h(5.0, Unknown),
        ];
        let got = hints(
            series
                .iter()
                .enumerate()
                .map(|(i, h)| (i as i64 * 60_000, Kind::Histogram(h))),
        );
        assert_eq!(
            names(&got),
            [
                "unknown",
                "not_reset",
                "reset",
                "not_reset",
                "reset",
                "not_reset"
            ]
        );
        // A float (a stale marker) ends the chunk: unknown after it.
        let (a, b) = (h(1.0, Unknown), h(2.0, Unknown));
        let got = hints([
            (0, Kind::Histogram(&a)),
            (1, Kind::Float),
            (2, Kind::Histogram(&b)),
            (3, Kind::Histogram(&b)),
        ]);
        assert_eq!(names(&got), ["unknown", "float", "unknown", "not_reset"]);
        // Gauges stay gauges, even decreasing.
        let (g1, g0) = (h(2.0, Gauge), h(1.0, Gauge));
        let got = hints([(0, Kind::Histogram(&g1)), (1, Kind::Histogram(&g0))]);
        assert_eq!(names(&got), ["gauge", "gauge"]);
        // A schema change cuts a chunk without a reset.
        let fine = FloatHistogram {
            schema: 1,
            ..h(3.0, Unknown)
        };
        let got = hints([(0, Kind::Histogram(&a)), (1, Kind::Histogram(&fine))]);
        assert_eq!(names(&got), ["unknown", "unknown"]);
        // At the chunk range's end the head continues the old chunk:
        // not_reset is known then, but the iterator still says unknown.
        let got = hints([
            (CHUNK_RANGE - 1, Kind::Histogram(&a)),
            (CHUNK_RANGE, Kind::Histogram(&b)),
            (CHUNK_RANGE + 1, Kind::Histogram(&a)),
        ]);
        assert_eq!(names(&got), ["unknown", "unknown", "reset"]);
    }

    #[test]
    fn bucket_decreases_are_found_in_one_walk() {
        let layout = |offset: i32, positive: Vec<f64>| FloatHistogram {
            count: 10.0,
            offset,
            positive,
            ..FloatHistogram::default()
        };
        let base = layout(0, vec![1.0, 0.0, 2.0]);
        let cases = [
            // Buckets 0 and 2 kept or grown, a new one between: no reset.
            (layout(0, vec![1.0, 3.0, 2.0]), "not_reset"),
            (layout(-2, vec![4.0, 0.0, 1.0, 0.0, 5.0]), "not_reset"),
            // Bucket 2 shrank, or bucket 0 is gone: a reset.
            (layout(0, vec![1.0, 0.0, 1.5]), "reset"),
            (layout(1, vec![9.0, 9.0]), "reset"),
        ];
        for (next, want) in cases {
            let got = hints([(0, Kind::Histogram(&base)), (1, Kind::Histogram(&next))]);
            assert_eq!(names(&got), ["unknown", want], "{next}");
        }
        // The widest layout the notation allows stays linear (a nested
        // search took 2^32 steps per pair here).
        let wide = layout(0, vec![1.0; wasmetheus_model::histogram::MAX_BUCKET_SPAN]);
        let got = hints((0..4).map(|t| (t, Kind::Histogram(&wide))));
        assert_eq!(
            names(&got),
            ["unknown", "not_reset", "not_reset", "not_reset"]
        );
    }
}
