//! Alertmanager 0.34's default notification templates (`default.tmpl`, `email.tmpl` from the
//! conformance data) rendered for the data sets in `tests/data/alertmanager/`, compared with what
//! Debian's `amtool template render` (Alertmanager 0.25, with the same data and the same template
//! files) printed: every `define` as text, the email ones as HTML as well. `record.py` there records
//! the expected outputs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;
use wasmetheus_template::alertmanager::{Alert, AlertStatus, Data, Templates};

fn conformance() -> PathBuf {
    match std::env::var_os("WASMETHEUS_CONFORMANCE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    }
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/alertmanager")
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 UTC time (`2024-03-01T10:00:00.123Z`) in nanoseconds since the epoch.
fn rfc3339(s: &str) -> i128 {
    let num = |r: std::ops::Range<usize>| -> i64 { s[r].parse().expect("digits") };
    let days = days_from_civil(num(0..4), num(5..7), num(8..10));
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let frac = s[19..].trim_end_matches('Z').trim_start_matches('.');
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().expect("fraction")
    };
    i128::from(secs) * 1_000_000_000 + i128::from(nanos)
}

fn kv(j: &Json) -> BTreeMap<String, String> {
    j.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON of a `template.Data` (what `amtool --template.data` reads), taken as it is.
fn data_from_json(j: &Json) -> Data {
    let s = |v: &Json, k: &str| v[k].as_str().unwrap_or("").to_string();
    Data {
        receiver: s(j, "receiver"),
        status: s(j, "status"),
        alerts: j["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| Alert {
                        status: if s(a, "status") == "firing" {
                            AlertStatus::Firing
                        } else {
                            AlertStatus::Resolved
                        },
                        labels: kv(&a["labels"]),
                        annotations: kv(&a["annotations"]),
                        starts_at: rfc3339(&s(a, "startsAt")),
                        ends_at: rfc3339(&s(a, "endsAt")),
                        generator_url: s(a, "generatorURL"),
                        fingerprint: s(a, "fingerprint"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        group_labels: kv(&j["groupLabels"]),
        common_labels: kv(&j["commonLabels"]),
        common_annotations: kv(&j["commonAnnotations"]),
        external_url: s(j, "externalURL"),
    }
}

fn default_templates() -> Templates {
    let dir = conformance().join("alertmanager/template");
    let mut t = Templates::new();
    for f in ["default.tmpl", "email.tmpl"] {
        t.parse_file(&dir.join(f)).expect("default templates parse");
    }
    t
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
