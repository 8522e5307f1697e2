//! Alertmanager 0.34's default notification templates (`default.tmpl`, `email.tmpl` from the
//! conformance data) rendered for the data sets in `tests/data/alertmanager/`, compared with what
//! Debian's `amtool template render` (Alertmanager 0.25, with the same data and the same template
//! files) printed: every `define` as text, the email ones as HTML as well. `record.py` there records
//! the expected outputs.

use std::path::PathBuf;

use serde_json::Value as Json;

#[path = "support/alertmanager.rs"]
mod common;
use common::{data_dir, data_from_json, default_templates};

/// Every KV (`map[string]string`) of a data set's JSON as Go prints it: (0.25's `map[a:b c:d]`,
/// 0.34's `KV.String()`, `alertname=x, a=b`).
fn kv_prints(j: &Json) -> Vec<(String, String)> {
    let mut maps = vec![
        &j["groupLabels"],
        &j["commonLabels"],
        &j["commonAnnotations"],
    ];
    for a in j["alerts"].as_array().into_iter().flatten() {
        maps.extend([&a["labels"], &a["annotations"]]);
    }
    let mut out: Vec<(String, String)> = maps
        .into_iter()
        .filter_map(Json::as_object)
        .map(|o| {
            let sorted: std::collections::BTreeMap<&str, &str> = o
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect();
            let go_map: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let mut pairs: Vec<String> = sorted
                .get("alertname")
                .map(|v| format!("alertname={v}"))
                .into_iter()
                .collect();
            pairs.extend(
                sorted
                    .iter()
                    .filter(|(k, _)| **k != "alertname")
                    .map(|(k, v)| format!("{k}={v}")),
            );
            (format!("map[{}]", go_map.join(" ")), pairs.join(", "))
        })
        .collect();
    // Longer first, so that no map is replaced inside a longer one.
    out.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    out
}

#[test]
fn default_templates_render_as_amtool_does() {
    let templates = default_templates();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut sets: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("data dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("custom_"))
        })
        .collect();
    sets.sort();
    assert!(sets.len() >= 3, "data sets: {sets:?}");
    for set in sets {
        let input: Json =
            serde_json::from_str(&std::fs::read_to_string(&set).expect("read")).expect("json");
        let expected_path = set.with_extension("expected.json");
        let expected: Json =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("read expected"))
                .expect("json");
        let data = data_from_json(&input).to_value();
        let kvs = kv_prints(&input);
        for mode in ["text", "html"] {
            let Some(cases) = expected[mode].as_object() else {
                panic!("{} has no {mode} cases", expected_path.display());
            };
            for (name, want) in cases {
                let text = format!("{{{{ template \"{name}\" . }}}}");
                let got = if mode == "html" {
                    templates.execute_html(&text, &data)
                } else {
                    templates.execute_text(&text, &data)
                };
                checked += 1;
                let ok = match (&got, want) {
                    (Ok(g), Json::String(w)) => g == w,
                    // amtool prefixes its errors with `amtool: error: `.
                    // Errors print the data; 0.34's KV has a String method that 0.25's lacks, so
                    // its maps print as `a=b, c=d` where amtool 0.25 printed `map[a:b c:d]`.
                    (Err(e), Json::Object(o)) => o["error"].as_str().is_some_and(|w| {
                        let w = kvs
                            .iter()
                            .fold(w.to_string(), |w, (go, kv)| w.replace(go.as_str(), kv));
                        w.strip_prefix("amtool: error: ") == Some(&e.0)
                    }),
                    _ => false,
                };
                if !ok {
                    failures.push(format!(
                        "{} {mode} {name}:\n  want {want}\n  got  {got:?}",
                        set.display()
                    ));
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
