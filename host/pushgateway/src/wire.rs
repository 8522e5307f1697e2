//! What a delimited protobuf `MetricFamily` would take in memory once
//! decoded, read from its wire format without decoding it: an empty
//! `Metric` is 2 bytes on the wire but hundreds in memory, so a push is
//! weighed before prost allocates anything.

use std::mem::size_of;

use wasmetheus_prompb::client::{Bucket, BucketSpan, Exemplar, LabelPair, Metric, Quantile};

/// The messages whose repeated fields allocate.
#[derive(Clone, Copy)]
enum Kind {
    Family,
    Metric,
    Counter,
    Summary,
    Histogram,
    Bucket,
    Exemplar,
}

/// The decoded size of one `MetricFamily` message (its own struct left
/// out), or why its wire format is malformed.
pub fn decoded_size(message: &[u8]) -> Result<usize, String> {
    scan(message, Kind::Family, 0)
}

fn scan(mut buf: &[u8], kind: Kind, depth: usize) -> Result<usize, String> {
    if depth > 8 {
        return Err("messages nested too deeply".into());
    }
    let mut cost = 0usize;
    while !buf.is_empty() {
        let (key, n) = varint(buf)?;
        buf = &buf[n..];
        let (tag, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let (_, n) = varint(buf)?;
                buf = &buf[n..];
                cost += repeated_scalar(kind, tag);
            }
            1 | 5 => {
                let width = if wire == 1 { 8 } else { 4 };
                buf = buf.get(width..).ok_or("truncated field")?;
                cost += repeated_scalar(kind, tag);
            }
            2 => {
                let (len, n) = varint(buf)?;
                let len = usize::try_from(len).map_err(|_| "length too large")?;
                let end = n.checked_add(len).ok_or("length too large")?;
                let payload = buf.get(n..end).ok_or("truncated field")?;
                buf = &buf[end..];
                cost += nested(kind, tag, payload, depth)?;
            }
            _ => return Err(format!("unsupported wire type {wire}")),
        }
    }
    Ok(cost)
}

/// The cost of a length-delimited field `tag` of a `kind` message.
fn nested(kind: Kind, tag: u64, payload: &[u8], depth: usize) -> Result<usize, String> {
    let into = |size: usize, child: Kind| -> Result<usize, String> {
        Ok(size + scan(payload, child, depth + 1)?)
    };
    match (kind, tag) {
        (Kind::Family, 4) => into(size_of::<Metric>(), Kind::Metric),
        (Kind::Metric, 1) | (Kind::Exemplar, 1) => Ok(size_of::<LabelPair>()),
        (Kind::Metric, 3) => into(0, Kind::Counter),
        (Kind::Metric, 4) => into(0, Kind::Summary),
        (Kind::Metric, 7) => into(0, Kind::Histogram),
        (Kind::Counter, 2) | (Kind::Bucket, 3) => into(size_of::<Exemplar>(), Kind::Exemplar),
        (Kind::Histogram, 16) => into(size_of::<Exemplar>(), Kind::Exemplar),
        (Kind::Summary, 3) => Ok(size_of::<Quantile>()),
        (Kind::Histogram, 3) => into(size_of::<Bucket>(), Kind::Bucket),
        (Kind::Histogram, 9 | 12) => Ok(size_of::<BucketSpan>()),
        // Packed repeated numbers: at least one byte each.
        (Kind::Histogram, 10 | 11 | 13 | 14) => Ok(payload.len() * 8),
        // Strings and inline messages: nothing beyond their bytes.
        _ => Ok(0),
    }
}

/// The cost of one element of a repeated number written unpacked.
fn repeated_scalar(kind: Kind, tag: u64) -> usize {
    match (kind, tag) {
        (Kind::Histogram, 10 | 11 | 13 | 14) => 8,
        _ => 0,
    }
}

fn varint(buf: &[u8]) -> Result<(u64, usize), String> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err("invalid varint".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmetheus_prompb::Message as _;
    use wasmetheus_prompb::client::{Gauge, Histogram, MetricFamily};

    #[test]
    fn empty_metrics_weigh_their_decoded_size() {
        let family = MetricFamily {
            name: Some("x".into()),
            metric: vec![Metric::default(); 1000],
            ..MetricFamily::default()
        };
        let bytes = family.encode_to_vec();
        assert!(bytes.len() < 3000);
        assert_eq!(decoded_size(&bytes).unwrap(), 1000 * size_of::<Metric>());
    }

    #[test]
    fn labels_buckets_and_spans_count() {
        let family = MetricFamily {
            metric: vec![Metric {
                label: vec![LabelPair::default(); 3],
                gauge: Some(Gauge { value: Some(1.0) }),
                histogram: Some(Histogram {
                    bucket: vec![Bucket::default(); 2],
                    positive_delta: vec![1, 2, 3],
                    ..Histogram::default()
                }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        };
        let size = decoded_size(&family.encode_to_vec()).unwrap();
        let least = size_of::<Metric>() + 3 * size_of::<LabelPair>() + 2 * size_of::<Bucket>() + 24;
        assert!(size >= least, "{size} < {least}");
    }

    #[test]
    fn malformed_wire_is_an_error() {
        assert!(decoded_size(&[0x22, 0x05, 0x00]).is_err());
        assert!(decoded_size(&[0xff; 11]).is_err());
        assert!(decoded_size(&[0x23]).is_err());
    }

    #[test]
    fn a_length_near_u64_max_is_an_error_not_an_overflow() {
        // Field 4 (a metric), length u64::MAX - 1.
        let mut bytes = vec![0x22];
        prost::encoding::encode_varint(u64::MAX - 1, &mut bytes);
        bytes.push(0);
        assert_eq!(decoded_size(&bytes), Err("length too large".to_string()));
    }
}
