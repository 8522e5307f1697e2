//! The `global` section and `runtime`, as Prometheus' `GlobalConfig` and
//! `RuntimeConfig` read them: defaults, the limits every scrape config
//! inherits, metric name validation and escaping schemes, scrape
//! protocols, and `$VAR` expansion in external label values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_relabel::NameValidationScheme;

use crate::go_yaml::null_as_default;
use crate::{Base2Bytes, PromDuration};

/// A metric and label name validation scheme (`metric_name_validation_scheme`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ValidationScheme {
    /// Not written: inherit (scrape configs) or UTF-8 (global).
    #[default]
    Unset,
    Utf8,
    Legacy,
}

impl ValidationScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationScheme::Unset => "",
            ValidationScheme::Utf8 => "utf8",
            ValidationScheme::Legacy => "legacy",
        }
    }

    /// The scheme relabeling checks names with (unset counts as UTF-8).
    pub fn relabel_scheme(self) -> NameValidationScheme {
        match self {
            ValidationScheme::Legacy => NameValidationScheme::Legacy,
            _ => NameValidationScheme::Utf8,
        }
    }

    pub fn is_unset(&self) -> bool {
        *self == ValidationScheme::Unset
    }
}

impl Serialize for ValidationScheme {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ValidationScheme {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        match text.as_str() {
            "" => Ok(ValidationScheme::Unset),
            "utf8" => Ok(ValidationScheme::Utf8),
            "legacy" => Ok(ValidationScheme::Legacy),
            // common/model's `ValidationScheme.UnmarshalYAML`.
            other => Err(serde::de::Error::custom(format!(
                "unrecognized ValidationScheme: {}",
                crate::go_yaml::go_quote(other)
            ))),
        }
    }
}

/// The escaping schemes a scrape may request (`metric_name_escaping_scheme`).
pub const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

/// The scrape protocols Prometheus can negotiate, sorted as Go prints them.
pub const SCRAPE_PROTOCOLS: [&str; 5] = [
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

/// Prometheus' `DefaultScrapeProtocols`.
pub const DEFAULT_SCRAPE_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// Prometheus' `DefaultProtoFirstScrapeProtocols` (native histograms on).
pub const PROTO_FIRST_SCRAPE_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// `ScrapeProtocol.Validate`.
pub(crate) fn validate_scrape_protocol(protocol: &str) -> Result<(), String> {
    if SCRAPE_PROTOCOLS.contains(&protocol) {
        Ok(())
    } else {
        Err(format!(
            "unknown scrape protocol {protocol}, supported: [{}]",
            SCRAPE_PROTOCOLS.join(" ")
        ))
    }
}

/// `validateAcceptScrapeProtocols`.
pub(crate) fn validate_scrape_protocols(protocols: &[String]) -> Result<(), String> {
    if protocols.is_empty() {
        return Err("scrape_protocols cannot be empty".into());
    }
    let mut seen = std::collections::HashSet::new();
    for protocol in protocols {
        if !seen.insert(protocol.to_lowercase()) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                protocols.join(" ")
            ));
        }
        validate_scrape_protocol(protocol).map_err(|e| format!("scrape_protocols: {e}"))?;
    }
    Ok(())
}

/// The `global` section, defaults filled in.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawGlobal")]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    /// Unset: each scrape config picks its default (protobuf first when it
    /// scrapes native histograms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<String>>,
    pub evaluation_interval: PromDuration,
    #[serde(skip_serializing_if = "PromDuration::is_zero")]
    pub rule_query_offset: PromDuration,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// Values with `$VAR`/`${VAR}` expanded from the environment.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Base2Bytes::is_zero")]
    pub body_size_limit: Base2Bytes,
    #[serde(skip_serializing_if = "is_zero")]
    pub sample_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub target_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_name_length_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub label_value_length_limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub keep_dropped_targets: u64,
    /// `utf8` unless `legacy` was asked for.
    pub metric_name_validation_scheme: ValidationScheme,
    /// Empty: derived per scrape config from the validation scheme.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub metric_name_escaping_scheme: String,
    pub scrape_native_histograms: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub convert_classic_histograms_to_nhcb: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub always_scrape_classic_histograms: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    /// Prometheus' `DefaultGlobalConfig`.
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration(Duration::from_secs(60)),
            scrape_timeout: PromDuration(Duration::from_secs(10)),
            scrape_protocols: None,
            evaluation_interval: PromDuration(Duration::from_secs(60)),
            rule_query_offset: PromDuration(Duration::ZERO),
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: BTreeMap::new(),
            body_size_limit: Base2Bytes(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: ValidationScheme::Utf8,
            metric_name_escaping_scheme: String::new(),
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
}

/// The section as written; every field is Go's zero value when absent or
/// null.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawGlobal {
    #[serde(deserialize_with = "null_as_default")]
    scrape_interval: PromDuration,
    #[serde(deserialize_with = "null_as_default")]
    scrape_timeout: PromDuration,
    scrape_protocols: Option<Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    evaluation_interval: PromDuration,
    #[serde(deserialize_with = "null_as_default")]
    rule_query_offset: PromDuration,
    #[serde(deserialize_with = "null_as_default")]
    query_log_file: String,
    #[serde(deserialize_with = "null_as_default")]
    scrape_failure_log_file: String,
    #[serde(deserialize_with = "null_as_default")]
    external_labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    body_size_limit: Base2Bytes,
    #[serde(deserialize_with = "null_as_default")]
    sample_limit: u64,
    #[serde(deserialize_with = "null_as_default")]
    target_limit: u64,
    #[serde(deserialize_with = "null_as_default")]
    label_limit: u64,
    #[serde(deserialize_with = "null_as_default")]
    label_name_length_limit: u64,
    #[serde(deserialize_with = "null_as_default")]
    label_value_length_limit: u64,
    #[serde(deserialize_with = "null_as_default")]
    keep_dropped_targets: u64,
    #[serde(deserialize_with = "null_as_default")]
    metric_name_validation_scheme: ValidationScheme,
    #[serde(deserialize_with = "null_as_default")]
    metric_name_escaping_scheme: String,
    scrape_native_histograms: Option<bool>,
    #[serde(deserialize_with = "null_as_default")]
    convert_classic_histograms_to_nhcb: bool,
    #[serde(deserialize_with = "null_as_default")]
    always_scrape_classic_histograms: bool,
    #[serde(deserialize_with = "null_as_default")]
    extra_scrape_metrics: bool,
}

impl TryFrom<RawGlobal> for GlobalConfig {
    type Error = String;

    /// `GlobalConfig.UnmarshalYAML`, checks in its order.
    fn try_from(raw: RawGlobal) -> Result<Self, String> {
        let defaults = GlobalConfig::default();
        let scheme = match raw.metric_name_validation_scheme {
            ValidationScheme::Unset => ValidationScheme::Utf8,
            scheme => scheme,
        };
        for name in raw.external_labels.keys() {
            if !scheme.relabel_scheme().is_valid_label_name(name) {
                return Err(format!(
                    "{} is not a valid label name",
                    crate::go_yaml::go_quote(name)
                ));
            }
        }
        let scrape_interval = if raw.scrape_interval.is_zero() {
            defaults.scrape_interval
        } else {
            raw.scrape_interval
        };
        if raw.scrape_timeout > scrape_interval {
            return Err("global scrape timeout greater than scrape interval".into());
        }
        let scrape_timeout = if raw.scrape_timeout.is_zero() {
            defaults.scrape_timeout.min(scrape_interval)
        } else {
            raw.scrape_timeout
        };
        let evaluation_interval = if raw.evaluation_interval.is_zero() {
            defaults.evaluation_interval
        } else {
            raw.evaluation_interval
        };
        if let Some(protocols) = &raw.scrape_protocols {
            validate_scrape_protocols(protocols).map_err(|e| format!("{e} for global config"))?;
        }
        Ok(GlobalConfig {
            scrape_interval,
            scrape_timeout,
            scrape_protocols: raw.scrape_protocols,
            evaluation_interval,
            rule_query_offset: raw.rule_query_offset,
            query_log_file: raw.query_log_file,
            scrape_failure_log_file: raw.scrape_failure_log_file,
            external_labels: raw.external_labels,
            body_size_limit: raw.body_size_limit,
            sample_limit: raw.sample_limit,
            target_limit: raw.target_limit,
            label_limit: raw.label_limit,
            label_name_length_limit: raw.label_name_length_limit,
            label_value_length_limit: raw.label_value_length_limit,
            keep_dropped_targets: raw.keep_dropped_targets,
            metric_name_validation_scheme: scheme,
            metric_name_escaping_scheme: raw.metric_name_escaping_scheme,
            scrape_native_histograms: raw.scrape_native_histograms.unwrap_or(false),
            convert_classic_histograms_to_nhcb: raw.convert_classic_histograms_to_nhcb,
            always_scrape_classic_histograms: raw.always_scrape_classic_histograms,
            extra_scrape_metrics: raw.extra_scrape_metrics,
        })
    }
}

impl GlobalConfig {
    /// Expands `$VAR` and `${VAR}` in external label values from `env`, as
    /// Prometheus' `Load` does with Go's `os.Expand`: `$$` is a `$`, an
    /// unset or empty variable is empty. Returns the variables that were
    /// empty, for a warning.
    pub fn expand_external_labels(&mut self, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
        let mut empty = Vec::new();
        for value in self.external_labels.values_mut() {
            *value = os_expand(value, |name| {
                if name == "$" {
                    return "$".to_owned();
                }
                match env(name).filter(|v| !v.is_empty()) {
                    Some(v) => v,
                    None => {
                        empty.push(name.to_owned());
                        String::new()
                    }
                }
            });
        }
        empty
    }
}

/// Go's `os.Expand`.
pub(crate) fn os_expand(s: &str, mut mapping: impl FnMut(&str) -> String) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&s[i..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                // Invalid syntax (`${`, `${}`): the characters are eaten.
                None if width > 0 => {}
                // `$` not followed by a name stays.
                None => out.push('$'),
                Some(name) => out.push_str(&mapping(name)),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

/// Go's `getShellName`: the name after a `$` and how many bytes it spans.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    let special =
        |c: u8| matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit();
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if special(b[0]) {
        return (Some(&s[0..1]), 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

/// The `runtime` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Go's garbage collection target; kept for compatibility (Rust has no
    /// garbage collector), 0 meaning Prometheus' default of 75.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gogc: i64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { gogc: 75 }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_os_expand() {
        let env = |name: &str| (name == "TEST").then(|| "TestValue".to_owned());
        let expand = |s: &str| {
            os_expand(s, |n| {
                if n == "$" {
                    "$".into()
                } else {
                    env(n).unwrap_or_default()
                }
            })
        };
        assert_eq!(expand("${TEST}"), "TestValue");
        assert_eq!(expand("foo${TEST}bar"), "fooTestValuebar");
        assert_eq!(expand("foo$${TEST}"), "foo${TEST}");
        assert_eq!(expand("foo$$bar"), "foo$bar");
        assert_eq!(expand("$TEST-x"), "TestValue-x");
        assert_eq!(expand("a$"), "a$");
        assert_eq!(expand("a${"), "a");
        assert_eq!(expand("a${}b"), "ab");
        assert_eq!(expand("a$ b"), "a$ b");
        assert_eq!(expand("plain"), "plain");
    }

    #[test]
    fn protocols_are_checked_like_prometheus() {
        let v = |p: &[&str]| {
            validate_scrape_protocols(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(v(&[]).unwrap_err(), "scrape_protocols cannot be empty");
        assert_eq!(
            v(&[
                "OpenMetricsText1.0.0",
                "PrometheusProto",
                "OpenMetricsText1.0.0"
            ])
            .unwrap_err(),
            "duplicated protocol in scrape_protocols, got [OpenMetricsText1.0.0 PrometheusProto OpenMetricsText1.0.0]"
        );
        assert_eq!(
            v(&["prometheusproto"]).unwrap_err(),
            "scrape_protocols: unknown scrape protocol prometheusproto, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        );
        assert!(v(&["PrometheusText0.0.4"]).is_ok());
    }
}
