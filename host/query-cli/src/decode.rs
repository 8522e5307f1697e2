//! Answers decoded into `prometheus/common/model` values, as
//! client_golang's `api/v1` does: query results (scalar, vector, matrix),
//! series label sets and label values, with jsoniter's error texts where
//! promtool's decoder fails and our own wording for shapes it would not
//! meet.

use crate::Error;
use crate::client::Answer;
use crate::gotime::{go_quote, parse_go_float};
use crate::json;
use crate::json::{empty_skip_error, empty_slice_error, jsoniter_error, not_a_slice_error};
use std::collections::BTreeMap;

/// A label set; `None` is Go's nil map (JSON null or absent).
pub(crate) type Labels = Option<BTreeMap<String, String>>;

pub(crate) struct Sample {
    pub(crate) metric: Labels,
    pub(crate) timestamp: i64,
    pub(crate) value: f64,
}

pub(crate) struct Stream {
    pub(crate) metric: Labels,
    pub(crate) values: Option<Vec<(i64, f64)>>,
}

pub(crate) enum Value {
    Scalar(i64, f64),
    Vector(Vec<Sample>),
    Matrix(Vec<Stream>),
}

/// The decoding error for a malformed part of an answer, where we do not
/// reproduce jsoniter's wording.
fn malformed(what: &str) -> Error {
    Error::Query(format!("malformed answer: {what}"))
}

/// Native histogram samples are refused rather than printed wrongly.
fn no_histograms() -> Error {
    Error::Query("native histogram samples are not supported".to_owned())
}

/// client_golang's `queryResult.UnmarshalJSON`.
pub(crate) fn decode_query_result(answer: &Answer) -> Result<Value, Error> {
    let data = answer.data_bytes();
    if data.is_empty() {
        return Err(Error::Query(empty_skip_error()));
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Object(fields) = &node.kind else {
        return Err(malformed("data is not an object"));
    };
    let mut result_type = None;
    let mut result = None;
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("resultType") {
            result_type = Some(value);
        } else if key.eq_ignore_ascii_case("result") {
            result = Some(value);
        }
    }
    let result_type = match result_type.map(|n| &n.kind) {
        Some(json::Kind::Str(s)) => s.as_str(),
        None | Some(json::Kind::Null) => "<ValNone>",
        _ => return Err(malformed("resultType is not a string")),
    };
    // jsoniter reports errors in the result at the end of `data`.
    let outer = |message: String| {
        Error::Query(jsoniter_error(
            data,
            data.len(),
            "unmarshalerDecoder",
            &message,
        ))
    };
    let result = result.filter(|n| !matches!(n.kind, json::Kind::Null));
    match result_type {
        "scalar" => {
            let Some(result) = result else {
                return Err(outer(empty_skip_error()));
            };
            let (timestamp, value) = match &result.kind {
                json::Kind::Array(items) if items.len() == 2 => {
                    let json::Kind::Str(v) = &items[1].kind else {
                        return Err(malformed("scalar value is not a string"));
                    };
                    let v = parse_go_float(v)
                        .ok_or_else(|| malformed("scalar value is not a number"))?;
                    (go_time_from_json(&items[0])?, v)
                }
                _ => return Err(malformed("scalar is not a pair")),
            };
            Ok(Value::Scalar(timestamp, value))
        }
        "vector" => {
            let Some(result) = result else {
                return Err(outer(empty_slice_error("model.Vector")));
            };
            let json::Kind::Array(items) = &result.kind else {
                let bytes = &answer.body[result.span.clone()];
                return Err(outer(not_a_slice_error("model.Vector", bytes)));
            };
            let result_bytes = &answer.body[result.span.clone()];
            let mut samples = Vec::with_capacity(items.len());
            for item in items {
                let json::Kind::Object(fields) = &item.kind else {
                    return Err(malformed("sample is not an object"));
                };
                let mut sample = Sample {
                    metric: None,
                    timestamp: 0,
                    value: 0.0,
                };
                for (key, field) in fields {
                    if key.eq_ignore_ascii_case("metric") {
                        sample.metric = labels_from_json(field)?;
                    } else if key.eq_ignore_ascii_case("histogram") {
                        return Err(no_histograms());
                    } else if key.eq_ignore_ascii_case("value") {
                        let (t, v) = sample_pair(field).map_err(|e| match e {
                            PairError::Value(message) => {
                                let head = item.span.end - result.span.start;
                                outer(format!(
                                    "model.Vector: {}",
                                    jsoniter_error(
                                        result_bytes,
                                        head,
                                        "unmarshalerDecoder",
                                        &message
                                    )
                                ))
                            }
                            PairError::Other(e) => e,
                        })?;
                        sample.timestamp = t;
                        sample.value = v;
                    }
                }
                samples.push(sample);
            }
            Ok(Value::Vector(samples))
        }
        "matrix" => {
            let Some(result) = result else {
                return Err(outer(empty_slice_error("model.Matrix")));
            };
            let json::Kind::Array(items) = &result.kind else {
                let bytes = &answer.body[result.span.clone()];
                return Err(outer(not_a_slice_error("model.Matrix", bytes)));
            };
            let mut streams = Vec::with_capacity(items.len());
            for item in items {
                let json::Kind::Object(fields) = &item.kind else {
                    return Err(malformed("series is not an object"));
                };
                let mut stream = Stream {
                    metric: None,
                    values: None,
                };
                for (key, field) in fields {
                    if key.eq_ignore_ascii_case("metric") {
                        stream.metric = labels_from_json(field)?;
                    } else if key.eq_ignore_ascii_case("histograms") {
                        return Err(no_histograms());
                    } else if key.eq_ignore_ascii_case("values") {
                        stream.values = match &field.kind {
                            json::Kind::Null => None,
                            json::Kind::Array(pairs) => Some(
                                pairs
                                    .iter()
                                    .map(|p| {
                                        sample_pair(p).map_err(|e| match e {
                                            PairError::Value(m) => malformed(&m),
                                            PairError::Other(e) => e,
                                        })
                                    })
                                    .collect::<Result<_, Error>>()?,
                            ),
                            _ => return Err(malformed("values is not a list")),
                        };
                    }
                }
                streams.push(stream);
            }
            Ok(Value::Matrix(streams))
        }
        other => Err(outer(format!("unexpected value type {}", go_quote(other)))),
    }
}

enum PairError {
    /// `SampleValue.UnmarshalJSON`'s complaint.
    Value(String),
    Other(Error),
}

/// `model.SamplePair`: `[timestamp, "value"]`.
fn sample_pair(node: &json::Node) -> Result<(i64, f64), PairError> {
    let json::Kind::Array(items) = &node.kind else {
        return Err(PairError::Other(malformed("sample is not a pair")));
    };
    if items.len() != 2 {
        return Err(PairError::Other(malformed("sample is not a pair")));
    }
    let timestamp = go_time_from_json(&items[0]).map_err(PairError::Other)?;
    let json::Kind::Str(text) = &items[1].kind else {
        return Err(PairError::Value(
            "sample value must be a quoted string".to_owned(),
        ));
    };
    let value = parse_go_float(text).ok_or_else(|| {
        let reason = if text.parse::<f64>().is_ok_and(f64::is_infinite) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        PairError::Value(format!(
            "strconv.ParseFloat: parsing {}: {reason}",
            go_quote(text)
        ))
    })?;
    Ok((timestamp, value))
}

/// `model.Time.UnmarshalJSON`, from the number's text, including its
/// mishandling of negative times with a fraction below -1.
fn go_time_from_json(node: &json::Node) -> Result<i64, Error> {
    let json::Kind::Number(text) = &node.kind else {
        return Err(malformed("timestamp is not a number"));
    };
    let bad = || malformed(&format!("invalid timestamp {text}"));
    let parts: Vec<&str> = text.split('.').collect();
    match parts[..] {
        [whole] => Ok(whole.parse::<i64>().map_err(|_| bad())?.wrapping_mul(1000)),
        [whole, frac] => {
            let v = whole.parse::<i64>().map_err(|_| bad())?.wrapping_mul(1000);
            let mut frac = frac.to_owned();
            frac.truncate(3);
            while frac.len() < 3 {
                frac.push('0');
            }
            let va: i64 = frac.parse::<i32>().map_err(|_| bad())? as i64;
            if whole.starts_with('-') && v + va > 0 {
                Ok(-(v + va))
            } else {
                Ok(v + va)
            }
        }
        _ => Err(bad()),
    }
}

fn labels_from_json(node: &json::Node) -> Result<Labels, Error> {
    match &node.kind {
        json::Kind::Null => Ok(None),
        json::Kind::Object(fields) => {
            let mut labels = BTreeMap::new();
            for (name, value) in fields {
                let value = match &value.kind {
                    json::Kind::Str(s) => s.clone(),
                    json::Kind::Null => String::new(),
                    _ => return Err(malformed("label value is not a string")),
                };
                labels.insert(name.clone(), value);
            }
            Ok(Some(labels))
        }
        _ => Err(malformed("labels are not an object")),
    }
}

/// `api.Series`' `[]model.LabelSet`, whose names must be valid.
pub(crate) fn decode_series(answer: &Answer) -> Result<Vec<Labels>, Error> {
    let data = answer.data_bytes();
    if data.is_empty() {
        return Err(Error::Query(empty_slice_error("[]model.LabelSet")));
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Array(items) = &node.kind else {
        return Err(Error::Query(not_a_slice_error("[]model.LabelSet", data)));
    };
    let mut sets = Vec::with_capacity(items.len());
    for item in items {
        let fail = |message: String| {
            Error::Query(format!(
                "[]model.LabelSet: {}",
                jsoniter_error(
                    data,
                    item.span.end - node.span.start,
                    "unmarshalerDecoder",
                    &message
                )
            ))
        };
        let kind = match &item.kind {
            json::Kind::Null | json::Kind::Object(_) => None,
            json::Kind::Str(_) => Some("string"),
            json::Kind::Number(_) => Some("number"),
            json::Kind::Bool => Some("bool"),
            json::Kind::Array(_) => Some("array"),
        };
        if let Some(kind) = kind {
            return Err(fail(format!(
                "json: cannot unmarshal {kind} into Go value of type map[model.LabelName]model.LabelValue"
            )));
        }
        let labels = labels_from_json(item)?;
        if let Some(bad) = labels
            .iter()
            .flat_map(|l| l.keys())
            .find(|name| !valid_label_name(name))
        {
            return Err(fail(format!("{} is not a valid label name", go_quote(bad))));
        }
        sets.push(labels);
    }
    Ok(sets)
}

/// `model.LabelName.IsValid` (Prometheus 2.42: no UTF-8 names).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// `api.LabelValues`' `model.LabelValues`.
pub(crate) fn decode_label_values(answer: &Answer) -> Result<Vec<String>, Error> {
    let data = answer.data_bytes();
    if data.is_empty() {
        return Err(Error::Query(empty_slice_error("model.LabelValues")));
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Array(items) = &node.kind else {
        return Err(Error::Query(not_a_slice_error("model.LabelValues", data)));
    };
    items
        .iter()
        .map(|item| match &item.kind {
            json::Kind::Str(s) => Ok(s.clone()),
            json::Kind::Null => Ok(String::new()),
            _ => Err(malformed("label value is not a string")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_time_keeps_go_quirks() {
        let t = |s: &str| go_time_from_json(&json::parse(s.as_bytes()).unwrap()).unwrap();
        assert_eq!(t("1700000300.1239"), 1_700_000_300_123);
        assert_eq!(t("-0.5"), -500);
        // Go's bug: -1.5 reads as -0.5.
        assert_eq!(t("-1.5"), -500);
    }
}
