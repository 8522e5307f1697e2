//! Alert annotation templates with the expansions Prometheus' own Go code produced for them
//! (`tests/data/promtool_expansions.json`, recorded from `promtool test rules`): printf verbs,
//! float printing, humanize functions, regex functions, builtins, and the exact error texts.

use wasmetheus_template::{AlertData, AlertTemplate, QueryBackend, QuerySample, expand_alert};

struct Up;

impl QueryBackend for Up {
    fn query(&self, expr: &str, _: i64) -> Result<Vec<QuerySample>, String> {
        let s = |job: &str, v| QuerySample {
            labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
            value: v,
        };
        Ok(if expr == "up" {
            vec![s("a", 1.0), s("b", 0.0)]
        } else {
            Vec::new()
        })
    }
}

#[test]
fn expansions_match_prometheus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/promtool_expansions.json"
    );
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let labels: Vec<(String, String)> = [
        ("__name__", "metric"),
        ("instance", "a:9090"),
        ("job", "api"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let alert = AlertData {
        labels: &labels,
        external_labels: &[],
        external_url: "",
        value: 1234567.5,
    };
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() > 150);
    let mut failures = Vec::new();
    for c in cases {
        let text = c["text"].as_str().unwrap();
        // Recorded from promtool 2.42; Prometheus 3's model.ParseDuration
        // names an unknown unit (2.42: `not a valid duration string`).
        let want = c["want"].as_str().unwrap().replace(
            r#"not a valid duration string: "1.5h""#,
            r#"unknown unit "." in duration "1.5h""#,
        );
        let got = match expand_alert("A", text, &alert, 0, &Up, "") {
            Ok(s) => s,
            Err(e) => format!("<error expanding template: {}>", e.0),
        };
        let parsed_once = match AlertTemplate::new("A", text).expand(&alert, 0, &Up, "") {
            Ok(s) => s,
            Err(e) => format!("<error expanding template: {}>", e.0),
        };
        assert_eq!(parsed_once, got, "{text:?}: parsed once vs. expand_alert");
        if got != want {
            failures.push(format!("{text:?}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
