//! Bounded decoding and the framings around the messages:
//!
//! - snappy *block* format (what remote write and sampled remote read
//!   bodies use), refusing a body whose declared length is over a limit
//!   before allocating it;
//! - the frames of a streamed remote read answer: `uvarint(len) |
//!   crc32c(frame) as u32 big-endian | frame`;
//! - the delimited protobuf exposition format: `uvarint(len) | message`,
//!   repeated.

use prost::Message;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("snappy: {0}")]
    Snappy(String),
    #[error("decoded size {size} exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("protobuf: {0}")]
    Protobuf(String),
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge { size: u64, limit: usize },
    #[error("frame checksum mismatch: expected {expected:#010x}, got {got:#010x}")]
    Checksum { expected: u32, got: u32 },
    #[error("truncated frame")]
    Truncated,
}

/// Snappy block compression.
pub fn snappy_compress(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy compression of an in-memory buffer cannot fail")
}

/// Snappy block decompression of at most `limit` bytes of output.
pub fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let size = snap::raw::decompress_len(data).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if size > limit {
        return Err(DecodeError::TooLarge { size, limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// Decodes a protobuf message.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, DecodeError> {
    M::decode(bytes).map_err(|e| DecodeError::Protobuf(e.to_string()))
}

/// Appends a streamed read frame holding `message` to `out`.
pub fn put_chunked_frame<M: Message>(message: &M, out: &mut Vec<u8>) {
    let body = message.encode_to_vec();
    prost::encoding::encode_varint(body.len() as u64, out);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
}

/// Reads one streamed read frame from the front of `buf`: `Ok(None)` when
/// `buf` does not hold a whole frame yet, else the frame and the bytes it
/// took.
pub fn take_chunked_frame(buf: &[u8], limit: usize) -> Result<Option<(&[u8], usize)>, DecodeError> {
    let Some((len, n)) = uvarint(buf) else {
        return Ok(None);
    };
    if len > limit as u64 {
        return Err(DecodeError::FrameTooLarge { size: len, limit });
    }
    let len = len as usize;
    if buf.len() < n + 4 + len {
        return Ok(None);
    }
    let expected = u32::from_be_bytes(buf[n..n + 4].try_into().expect("4 bytes"));
    let frame = &buf[n + 4..n + 4 + len];
    let got = crc32c::crc32c(frame);
    if got != expected {
        return Err(DecodeError::Checksum { expected, got });
    }
    Ok(Some((frame, n + 4 + len)))
}

/// Appends `message` length-delimited (the delimited exposition format).
pub fn put_delimited<M: Message>(message: &M, out: &mut Vec<u8>) {
    message
        .encode_length_delimited(out)
        .expect("a Vec grows as needed");
}

/// Splits a delimited stream into its messages, each at most `limit`
/// bytes.
pub fn split_delimited(mut buf: &[u8], limit: usize) -> Result<Vec<&[u8]>, DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (len, n) = uvarint(buf).ok_or(DecodeError::Truncated)?;
        if len > limit as u64 {
            return Err(DecodeError::FrameTooLarge { size: len, limit });
        }
        let len = len as usize;
        if buf.len() - n < len {
            return Err(DecodeError::Truncated);
        }
        out.push(&buf[n..n + len]);
        buf = &buf[n + len..];
    }
    Ok(out)
}

/// A protobuf base-128 varint at the front of `buf` and its length;
/// `None` if incomplete (or longer than 10 bytes, which no varint is).
pub fn uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{ChunkedReadResponse, WriteRequest};
    use crate::types::{Label, Sample, TimeSeries};

    #[test]
    fn write_request_wire_bytes() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let bytes = request.encode_to_vec();
        // timeseries(1) { labels(1) { name(1) "a" value(2) "b" } samples(2) { value(1) 1.0 timestamp(2) 2 } }
        let expected: Vec<u8> = [
            &[
                0x0a, 0x15, 0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', 0x12, 0x0b, 0x09,
            ][..],
            &1.0f64.to_le_bytes(),
            &[0x10, 0x02],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn snappy_round_trip_and_limit() {
        let data = vec![7u8; 10_000];
        let packed = snappy_compress(&data);
        assert_eq!(snappy_decompress(&packed, 10_000).unwrap(), data);
        assert_eq!(
            snappy_decompress(&packed, 9_999),
            Err(DecodeError::TooLarge {
                size: 10_000,
                limit: 9_999
            })
        );
        assert!(matches!(
            snappy_decompress(b"\xff\xff\xff\xff\xff\xff", 1 << 20),
            Err(DecodeError::Snappy(_))
        ));
        assert!(matches!(
            snappy_decompress(b"", 1 << 20),
            Err(DecodeError::Snappy(_))
        ));
    }

    #[test]
    fn chunked_frames_round_trip_and_checksums() {
        let frame = ChunkedReadResponse {
            chunked_series: vec![],
            query_index: 3,
        };
        let mut buf = Vec::new();
        put_chunked_frame(&frame, &mut buf);
        put_chunked_frame(&frame, &mut buf);
        let (first, used) = take_chunked_frame(&buf, 1 << 20).unwrap().unwrap();
        assert_eq!(decode::<ChunkedReadResponse>(first).unwrap(), frame);
        assert!(
            take_chunked_frame(&buf[..used - 1], 1 << 20)
                .unwrap()
                .is_none()
        );
        let mut corrupt = buf.clone();
        *corrupt.last_mut().unwrap() ^= 1;
        assert!(matches!(
            take_chunked_frame(&corrupt[used..], 1 << 20),
            Err(DecodeError::Checksum { .. })
        ));
        assert!(matches!(
            take_chunked_frame(&buf, 1),
            Err(DecodeError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn delimited_split() {
        let mut buf = Vec::new();
        put_delimited(
            &Label {
                name: "x".into(),
                value: "y".into(),
            },
            &mut buf,
        );
        put_delimited(
            &Label {
                name: "z".into(),
                value: String::new(),
            },
            &mut buf,
        );
        let parts = split_delimited(&buf, 100).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(decode::<Label>(parts[1]).unwrap().name, "z");
        assert_eq!(
            split_delimited(&buf[..buf.len() - 1], 100),
            Err(DecodeError::Truncated)
        );
        assert_eq!(split_delimited(&[0x80], 100), Err(DecodeError::Truncated));
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        assert!(decode::<WriteRequest>(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(decode::<WriteRequest>(&[0x0a, 0x05, 0x0a]).is_err());
    }
}
