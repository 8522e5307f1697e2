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
                    (Err(e), Json::Object(o)) => o["error"]
                        .as_str()
                        .is_some_and(|w| w.strip_prefix("amtool: error: ") == Some(&e.0)),
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
