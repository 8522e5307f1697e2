//! Rule-file template checks against what Prometheus' own Go code reports
//! (`tests/data/promtool_parse_errors.json`, recorded from `promtool check rules`): lexer and parser
//! errors with Go's texts and line numbers, and templates that parse.

use wasmetheus_template::check_alert_template;

#[test]
fn parse_errors_match_prometheus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/promtool_parse_errors.json"
    );
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() > 80);
    let mut failures = Vec::new();
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let want = c["want"].as_str();
        let got = check_alert_template("A", text).err().map(|e| e.0);
        if got.as_deref() != want {
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
