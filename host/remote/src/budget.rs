//! A cheap walk over protobuf wire bytes that bounds how much memory
//! decoding them would take.
//!
//! A protobuf message can be far smaller on the wire than decoded: an
//! empty `Label` is 2 bytes on the wire and some 50 in memory. Before a
//! request is decoded, its fields are counted, descending into every
//! length-delimited field that parses as a message (labels in series in
//! requests, labels of exemplars, …), and a request with more than the
//! budget is refused. Strings that happen to parse as messages are counted
//! too, which only makes the count larger.

use wasmetheus_prompb::codec::uvarint;

/// The deepest nesting looked into (remote write's is 4: request, series,
/// exemplar, label).
const MAX_DEPTH: usize = 5;

/// Counts the fields of `buf` read as a message, nested messages included;
/// `None` when the count exceeds `budget` (or `buf` is not a message).
pub fn count_fields(buf: &[u8], budget: usize) -> Option<usize> {
    let mut count = 0usize;
    walk(buf, 0, &mut count, budget).then_some(count)
}

/// Whether `buf` is a well-formed message; adds its fields to `count`,
/// stopping (false) once `count` exceeds `budget`.
fn walk(mut buf: &[u8], depth: usize, count: &mut usize, budget: usize) -> bool {
    while !buf.is_empty() {
        let Some((key, n)) = uvarint(buf) else {
            return false;
        };
        buf = &buf[n..];
        if key >> 3 == 0 {
            return false;
        }
        *count += 1;
        if *count > budget {
            return false;
        }
        match key & 7 {
            0 => match uvarint(buf) {
                Some((_, n)) => buf = &buf[n..],
                None => return false,
            },
            1 if buf.len() >= 8 => buf = &buf[8..],
            5 if buf.len() >= 4 => buf = &buf[4..],
            2 => {
                let Some((len, n)) = uvarint(buf) else {
                    return false;
                };
                let Some(field) = usize::try_from(len)
                    .ok()
                    .and_then(|len| buf.get(n..n.checked_add(len)?))
                else {
                    return false;
                };
                if depth + 1 < MAX_DEPTH && !field.is_empty() {
                    // Counted into a scratch total first: a string that is
                    // not a message must not leave half a count behind.
                    let mut nested = *count;
                    if walk(field, depth + 1, &mut nested, budget) {
                        *count = nested;
                    } else if nested > budget {
                        *count = nested;
                        return false;
                    }
                }
                buf = &buf[n + field.len()..];
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_prompb::Message;
    use wasmetheus_prompb::remote::WriteRequest;
    use wasmetheus_prompb::types::{Label, Sample, TimeSeries};

    #[test]
    fn counts_nested_messages() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::default(); 3],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
                ..TimeSeries::default()
            }],
            metadata: Vec::new(),
        };
        let bytes = req.encode_to_vec();
        // 1 series + 3 labels + 1 sample + its 2 fields.
        assert_eq!(count_fields(&bytes, 100), Some(7));
        assert_eq!(count_fields(&bytes, 6), None);
    }

    #[test]
    fn empty_labels_cannot_amplify_past_the_budget() {
        // A series of a million empty labels: 2 MB on the wire, some 50 MB
        // decoded.
        let mut series = Vec::new();
        for _ in 0..1_000_000 {
            series.extend_from_slice(&[0x0a, 0x00]);
        }
        let mut req = vec![0x0a];
        prost::encoding::encode_varint(series.len() as u64, &mut req);
        req.extend_from_slice(&series);
        assert_eq!(count_fields(&req, 10_000), None);
        assert_eq!(count_fields(&req, 2_000_000), Some(1_000_001));
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert_eq!(count_fields(&[0xff; 20], 100), None);
        assert_eq!(count_fields(&[0x0a, 0x05, 0x00], 100), None);
        assert_eq!(count_fields(&[], 100), Some(0));
    }
}
