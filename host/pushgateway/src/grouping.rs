//! Grouping keys from request paths, as Pushgateway 1.5 reads them:
//! `job/<job>{/<name>/<value>}` or `job@base64/<job>…`; a label name
//! ending in `@base64` marks its value as base64 (the URL-safe alphabet,
//! `=` padding optional); a trailing `/` after a name is an empty value.

use std::collections::BTreeMap;

use base64::Engine as _;

/// A group's labels, `job` included, sorted by name.
pub type GroupingKey = BTreeMap<String, String>;

/// The suffix marking a base64-encoded value.
const BASE64_SUFFIX: &str = "@base64";

/// Why a path names no group; the texts are Pushgateway's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid base64 encoding in job name {job:?}: {reason}")]
    JobBase64 { job: String, reason: String },
    #[error("job name is required")]
    NoJob,
    #[error("odd number of components in label string {0:?}")]
    OddComponents(String),
    #[error("improper label name {0:?}")]
    LabelName(String),
    #[error("invalid base64 encoding for label {name}={value:?}: {reason}")]
    LabelBase64 {
        name: String,
        value: String,
        reason: String,
    },
    #[error("the grouping key has {0} labels, more than the limit of {MAX_LABELS}")]
    TooManyLabels(usize),
}

/// At most this many labels in a grouping key.
pub const MAX_LABELS: usize = 64;

/// The grouping key of `path`, the part after `/metrics/` (already
/// percent-decoded): `job/<job>…` or `job@base64/<job>…`. `None` when the
/// path is neither (no such route).
pub fn parse(path: &str) -> Option<Result<GroupingKey, KeyError>> {
    let (rest, job_base64) = if let Some(rest) = path.strip_prefix("job/") {
        (rest, false)
    } else if let Some(rest) = path.strip_prefix("job@base64/") {
        (rest, true)
    } else {
        return None;
    };
    let (job, labels) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    Some(key(job, job_base64, labels))
}

fn key(job: &str, job_base64: bool, labels: &str) -> Result<GroupingKey, KeyError> {
    let job = if job_base64 {
        // Pushgateway 1.5 names the job as decoded, that is empty.
        decode_base64(job).map_err(|reason| KeyError::JobBase64 {
            job: String::new(),
            reason,
        })?
    } else {
        job.to_owned()
    };
    let mut key = split_labels(labels)?;
    if job.is_empty() {
        return Err(KeyError::NoJob);
    }
    key.insert("job".to_owned(), job);
    Ok(key)
}

/// `/<name>/<value>…` into labels (Pushgateway's `splitLabels`).
fn split_labels(labels: &str) -> Result<GroupingKey, KeyError> {
    let mut out = GroupingKey::new();
    if labels.len() <= 1 {
        return Ok(out);
    }
    let components: Vec<&str> = labels[1..].split('/').collect();
    if !components.len().is_multiple_of(2) {
        return Err(KeyError::OddComponents(labels.to_owned()));
    }
    if components.len() / 2 > MAX_LABELS {
        return Err(KeyError::TooManyLabels(components.len() / 2));
    }
    for pair in components.chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        let trimmed = name.strip_suffix(BASE64_SUFFIX).unwrap_or(name);
        if !is_label_name(trimmed) || trimmed.starts_with("__") {
            return Err(KeyError::LabelName(trimmed.to_owned()));
        }
        let value = if trimmed.len() == name.len() {
            value.to_owned()
        } else {
            decode_base64(value).map_err(|reason| KeyError::LabelBase64 {
                name: trimmed.to_owned(),
                value: value.to_owned(),
                reason,
            })?
        };
        out.insert(trimmed.to_owned(), value);
    }
    Ok(out)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// URL-safe base64, trailing `=` ignored, as Go's `RawURLEncoding` after
/// `TrimRight(s, "=")` (which accepts non-zero trailing bits).
fn decode_base64(s: &str) -> Result<String, String> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let trimmed = s.trim_end_matches('=');
    let bytes = engine.decode(trimmed).map_err(|e| {
        // Go's `CorruptInputError` text, at the byte Go names.
        use base64::DecodeError as E;
        let at = match e {
            E::InvalidByte(at, _) | E::InvalidLastSymbol { offset: at, .. } => at,
            E::InvalidLength(len) => len.saturating_sub(1),
            E::InvalidPadding => trimmed.find('=').unwrap_or(0),
        };
        format!("illegal base64 data at input byte {at}")
    })?;
    // Label values are UTF-8 (the consistency check refuses others).
    String::from_utf8(bytes).map_err(|_| "the decoded value is not UTF-8".to_owned())
}

/// The path of a grouping key (what `parse` reads back), every value in
/// base64 so that any value round-trips.
pub fn path(key: &GroupingKey) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE;
    let job = key.get("job").map_or("", String::as_str);
    let mut out = format!("job@base64/{}", encoded_or_empty(&engine.encode(job)));
    for (name, value) in key.iter().filter(|(n, _)| *n != "job") {
        out.push_str(&format!(
            "/{name}@base64/{}",
            encoded_or_empty(&engine.encode(value))
        ));
    }
    out
}

/// An empty value is written `=` (an empty path segment would be lost).
fn encoded_or_empty(s: &str) -> &str {
    if s.is_empty() { "=" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(path: &str) -> Vec<(String, String)> {
        parse(path).unwrap().unwrap().into_iter().collect()
    }

    fn err(path: &str) -> String {
        parse(path).unwrap().unwrap_err().to_string()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn plain_keys() {
        assert_eq!(ok("job/j"), pairs(&[("job", "j")]));
        assert_eq!(
            ok("job/j/instance/i/a/b"),
            pairs(&[("a", "b"), ("instance", "i"), ("job", "j")])
        );
        // A `job` label in the path loses to the job segment.
        assert_eq!(ok("job/j/job/other"), pairs(&[("job", "j")]));
        // `/` alone after the job: no labels.
        assert_eq!(ok("job/j/"), pairs(&[("job", "j")]));
        assert_eq!(parse("other/j"), None);
        assert_eq!(parse("job"), None);
    }

    #[test]
    fn empty_values() {
        assert_eq!(ok("job/j/x/"), pairs(&[("job", "j"), ("x", "")]));
        assert_eq!(ok("job/j/x@base64/="), pairs(&[("job", "j"), ("x", "")]));
        assert_eq!(ok("job/j/x@base64/"), pairs(&[("job", "j"), ("x", "")]));
    }

    #[test]
    fn base64_values_and_jobs() {
        // "a/b" is YS9i; "j8" is ajg (padding optional, `=` trimmed).
        assert_eq!(
            ok("job@base64/ajg/x@base64/YS9i"),
            pairs(&[("job", "j8"), ("x", "a/b")])
        );
        assert_eq!(ok("job@base64/ajg="), pairs(&[("job", "j8")]));
        // URL-safe alphabet: "??>" is Pz8-.
        assert_eq!(
            ok("job/j/x@base64/Pz8-"),
            pairs(&[("job", "j"), ("x", "??>")])
        );
        // Debian's Pushgateway 1.5, word for word.
        for (path, text) in [
            (
                "job/j/x@base64/Pz8+",
                "invalid base64 encoding for label x=\"Pz8+\": illegal base64 data at input byte 3",
            ),
            (
                "job@base64/!!",
                "invalid base64 encoding in job name \"\": illegal base64 data at input byte 0",
            ),
            (
                "job/j/x@base64/Y",
                "invalid base64 encoding for label x=\"Y\": illegal base64 data at input byte 0",
            ),
            (
                "job/j/x@base64/YQ=a",
                "invalid base64 encoding for label x=\"YQ=a\": illegal base64 data at input byte 2",
            ),
            (
                "job/j/x@base64/Y===",
                "invalid base64 encoding for label x=\"Y===\": illegal base64 data at input byte 0",
            ),
        ] {
            assert_eq!(err(path), text);
        }
        // Trailing bits Go accepts: "YR" is "a".
        assert_eq!(ok("job/j/x@base64/YR"), pairs(&[("job", "j"), ("x", "a")]));
        assert_eq!(err("job@base64/="), "job name is required");
    }

    #[test]
    fn invalid_keys() {
        assert_eq!(err("job/"), "job name is required");
        assert_eq!(
            err("job/j/x"),
            "odd number of components in label string \"/x\""
        );
        assert_eq!(err("job/j/__x/y"), "improper label name \"__x\"");
        assert_eq!(err("job/j/1x/y"), "improper label name \"1x\"");
        assert_eq!(err("job/j/a-b/y"), "improper label name \"a-b\"");
        assert_eq!(err("job/j//y"), "improper label name \"\"");
        let many = "/a/b".repeat(MAX_LABELS + 1);
        assert!(err(&format!("job/j{many}")).contains("more than the limit"));
    }

    #[test]
    fn paths_round_trip() {
        for key in [
            ok("job/j"),
            ok("job/j/x/"),
            ok("job@base64/YS9i/instance@base64/Pz8-/e/"),
        ] {
            let key: GroupingKey = key.into_iter().collect();
            assert_eq!(parse(&path(&key)).unwrap().unwrap(), key);
        }
    }
}
