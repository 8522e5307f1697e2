//! The unit-test file format (`promtool test rules`), read as promtool
//! reads it with Go's `yaml.UnmarshalStrict`: unknown fields refused, an
//! empty or `null` value is the zero value, any scalar is accepted where a
//! string is expected, durations in Prometheus' notation.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, de::DeserializeOwned};
use wasmetheus_config::PromDuration;
use wasmetheus_model::Label;

/// A whole test file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    #[serde(default, deserialize_with = "strings")]
    pub rule_files: Vec<String>,
    #[serde(default, deserialize_with = "duration")]
    pub evaluation_interval: Duration,
    #[serde(default, deserialize_with = "strings")]
    pub group_eval_order: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub tests: Vec<TestGroup>,
    #[serde(default, deserialize_with = "null_default")]
    pub fuzzy_compare: bool,
}

/// A duration in milliseconds (Prometheus' `model.Duration`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

/// One test group: input series and the tests run on them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    #[serde(default, deserialize_with = "duration")]
    pub interval: Duration,
    #[serde(default, deserialize_with = "list")]
    pub input_series: Vec<InputSeries>,
    #[serde(default, deserialize_with = "list")]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default, deserialize_with = "list")]
    pub promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default, deserialize_with = "string_map")]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "string")]
    pub external_url: String,
    #[serde(default, deserialize_with = "string")]
    pub name: String,
    /// The test's start, ms since the epoch (`start_timestamp`: RFC 3339 or
    /// Unix seconds); `None` is the epoch.
    #[serde(default, deserialize_with = "start_timestamp")]
    pub start_timestamp: Option<i64>,
}

impl TestGroup {
    /// The external labels as a sorted label set.
    pub fn external_labels(&self) -> Vec<Label> {
        self.external_labels
            .iter()
            .map(|(k, v)| Label::new(k, v))
            .collect()
    }

    /// The largest `eval_time` of the group's tests.
    pub fn max_eval_time(&self) -> i64 {
        let alerts = self.alert_rule_test.iter().map(|a| a.eval_time.0);
        let exprs = self.promql_expr_test.iter().map(|p| p.eval_time.0);
        alerts.chain(exprs).max().unwrap_or(0).max(0)
    }
}

/// `input_series` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    #[serde(default, deserialize_with = "string")]
    pub series: String,
    #[serde(default, deserialize_with = "string")]
    pub values: String,
}

/// `alert_rule_test` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    #[serde(default, deserialize_with = "string")]
    pub alertname: String,
    #[serde(default, deserialize_with = "list")]
    pub exp_alerts: Vec<ExpAlert>,
}

/// `exp_alerts` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    #[serde(default, deserialize_with = "string_map")]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "string_map")]
    pub exp_annotations: BTreeMap<String, String>,
}

/// `promql_expr_test` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    #[serde(default, deserialize_with = "string")]
    pub expr: String,
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    #[serde(default, deserialize_with = "list")]
    pub exp_samples: Vec<ExpSample>,
}

/// `exp_samples` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    #[serde(default, deserialize_with = "string")]
    pub labels: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: f64,
    /// A native histogram in the series notation; when set, `value` is
    /// ignored.
    #[serde(default, deserialize_with = "string")]
    pub histogram: String,
}

/// Reads a test file. The error is the text promtool prints.
pub fn parse(text: &str) -> Result<UnitTestFile, String> {
    // Go reads files of any size; the reader's default budget (250,000
    // nodes) would refuse a large but honest test file. Its size bounds
    // the nodes; alias replays keep their own limit.
    let options = serde_saphyr::options! {
        emit_comments: false,
        budget: serde_saphyr::budget! {
            max_events: 40_000_000,
            max_nodes: 20_000_000,
        },
    };
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| crate::yaml_errors::go_error(&e, text))
}

/// `null` or an empty value as the default, else `T`.
fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list whose `null` entries are zero values (Go decodes them so).
fn list<'de, D: Deserializer<'de>, T: Default + DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let items: Option<Vec<Option<T>>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// Any scalar as its text, as Go decodes a scalar into a string.
#[derive(Default)]
struct GoString(String);

impl<'de> Deserialize<'de> for GoString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoString, E> {
                Ok(GoString(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoString, E> {
                Ok(GoString(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<GoString>::deserialize(d)?
        .map(|s| s.0)
        .unwrap_or_default())
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items: Vec<GoString> = list(d)?;
    Ok(items.into_iter().map(|s| s.0).collect())
}

fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map: Option<BTreeMap<String, Option<GoString>>> = Option::deserialize(d)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.map(|s| s.0).unwrap_or_default()))
        .collect())
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = string(d)?;
    if text.is_empty() {
        return Ok(Duration(0));
    }
    let parsed = PromDuration::parse(&text).map_err(de::Error::custom)?;
    let ms = i64::try_from(parsed.0.as_millis()).map_err(de::Error::custom)?;
    Ok(Duration(ms))
}

fn start_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = string(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    parse_time(&text).map(Some).map_err(de::Error::custom)
}

/// promtool's `parseTime`: Unix seconds (with up to millisecond
/// fractions) or an RFC 3339 time; ms since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let invalid = || {
        format!(
            "cannot parse {} to a valid timestamp",
            crate::gofmt::quote(text)
        )
    };
    if let Some(v) = go_parse_float(text) {
        let secs = v.trunc();
        let frac = ((v - secs) * 1000.0).round() / 1000.0;
        if !secs.is_finite() || secs.abs() > 9.2e15 {
            return Err(invalid());
        }
        return Ok(secs as i64 * 1000 + (frac * 1000.0) as i64);
    }
    let ts: jiff::Timestamp = text.parse().map_err(|_| invalid())?;
    Ok(ts.as_millisecond())
}

/// Go's `strconv.ParseFloat` for the texts a timestamp can be: decimal
/// numbers, `inf`, `nan` (which are refused later as not finite).
fn go_parse_float(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let plain = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || b".eE+-_".contains(&b));
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|w| body.eq_ignore_ascii_case(w));
    if !(plain || special) {
        return None;
    }
    text.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_as_go_reads_them() {
        let f = parse(
            "tests:\n- interval: 1m\n  input_series:\n  - series: up\n    values: 1\n  - series: x\n    values: 0 1 _\n  promql_expr_test:\n  - expr: up\n    eval_time: 0\n    exp_samples:\n    - value: 1\n      labels:\n  -\n- {}\n",
        )
        .unwrap();
        assert_eq!(f.tests.len(), 2);
        let t = &f.tests[0];
        assert_eq!(t.interval, Duration(60_000));
        assert_eq!(t.input_series[0].values, "1");
        assert_eq!(t.input_series[1].values, "0 1 _");
        assert_eq!(t.promql_expr_test.len(), 2);
        assert_eq!(t.promql_expr_test[0].exp_samples[0].value, 1.0);
        assert_eq!(t.promql_expr_test[0].exp_samples[0].labels, "");
        assert_eq!(f.evaluation_interval, Duration(0));
    }

    #[test]
    fn large_honest_files_are_read() {
        // 300,000 nodes, more than the YAML reader's default budget.
        let text = format!("tests:\n{}", "- {name: t, interval: 1m}\n".repeat(60_000));
        let f = parse(&text).unwrap();
        assert_eq!(f.tests.len(), 60_000);
        assert_eq!(f.tests[59_999].interval, Duration(60_000));
    }

    #[test]
    fn unknown_fields_are_refused_in_go_words() {
        let e = parse("tests:\n- interval: 1m\n  foo: 1\n").unwrap_err();
        assert_eq!(
            e,
            "yaml: unmarshal errors:\n  line 3: field foo not found in type main.testGroup"
        );
        let e = parse("rule_files: []\nbar: 1\n").unwrap_err();
        assert!(
            e.ends_with("field bar not found in type main.unitTestFile"),
            "{e}"
        );
    }

    #[test]
    fn bad_durations_are_refused() {
        // Prometheus 3's model.ParseDuration names the unit (2.42: `not a
        // valid duration string: "1x"`).
        let e = parse("evaluation_interval: 1x\n").unwrap_err();
        assert!(e.contains(r#"unknown unit "x" in duration "1x""#), "{e}");
    }

    #[test]
    fn start_timestamps() {
        assert_eq!(parse_time("1609459200"), Ok(1_609_459_200_000));
        assert_eq!(parse_time("1.5"), Ok(1500));
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Ok(1_704_067_200_000));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("1e300").is_err());
    }
}
