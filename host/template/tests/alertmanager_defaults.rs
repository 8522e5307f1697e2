//! The default templates built into the crate ([`Templates::with_defaults`]) against Alertmanager
//! 0.34's files in the conformance data: every `define` of the embedded set renders (as text and as
//! HTML) exactly as the same `define` parsed from the conformance files, for firing, resolved and
//! mixed notifications; and user template files override defaults as `template.FromGlobs` does.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use wasmetheus_template::alertmanager::{DEFAULT_TEMPLATES, Templates};

#[path = "support/alertmanager.rs"]
#[allow(dead_code)]
mod common;
use common::{conformance, data_dir, data_from_json};

/// The conformance copy of Alertmanager's default templates, parsed as Alertmanager does.
fn conformance_templates() -> (Templates, String) {
    let dir = conformance().join("alertmanager/template");
    let mut t = Templates::new();
    let mut all = String::new();
    for f in ["default.tmpl", "email.tmpl"] {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the Alertmanager conformance data; set WASMETHEUS_CONFORMANCE)",
                path.display()
            )
        });
        t.parse("", &text).expect("conformance templates parse");
        all.push_str(&text);
    }
    (t, all)
}

/// The names of every `{{ define "…" }}` in template text.
fn defines(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r#"\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}"#).expect("regex");
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

fn data_sets() -> Vec<(String, wasmetheus_template::Value)> {
    ["firing", "resolved", "mixed"]
        .iter()
        .map(|name| {
            let path = data_dir().join(format!("{name}.json"));
            let j: Json = serde_json::from_str(&std::fs::read_to_string(&path).expect("read data"))
                .expect("json");
            (name.to_string(), data_from_json(&j).to_value())
        })
        .collect()
}

#[test]
fn embedded_defaults_render_as_the_conformance_files() {
    let (reference, reference_text) = conformance_templates();
    let embedded = Templates::with_defaults();
    let embedded_text: String = DEFAULT_TEMPLATES.iter().map(|(_, t)| *t).collect();
    let names = defines(&embedded_text);
    assert_eq!(
        names,
        defines(&reference_text),
        "the embedded set defines other templates than Alertmanager 0.34's files"
    );
    assert!(names.len() > 60, "defines found: {names:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut rendered = 0;
    for (set, data) in data_sets() {
        for name in &names {
            // The alert-list helpers take a list of alerts, the others the notification.
            let arg = if name.starts_with("__text_alert_list") {
                ".Alerts"
            } else {
                "."
            };
            let call = format!("{{{{ template \"{name}\" {arg} }}}}");
            let text = (
                embedded.execute_text(&call, &data),
                reference.execute_text(&call, &data),
            );
            let html = (
                embedded.execute_html(&call, &data),
                reference.execute_html(&call, &data),
            );
            for (kind, (ours, theirs)) in [("text", text), ("html", html)] {
                // Some defaults fail upstream too (`pagerduty.default.instances` ranges over
                // the notification): the same error is expected then.
                let theirs = theirs.map_err(|e| e.0);
                let ours = ours.map_err(|e| e.0);
                checked += 1;
                if theirs.is_ok() {
                    rendered += 1;
                }
                if ours != theirs {
                    failures.push(format!("{set} {name} ({kind}): {ours:?} != {theirs:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked > 360 && rendered > 340,
        "checked {checked}, rendered {rendered}"
    );
}

#[test]
fn user_files_override_defaults_and_use_them() {
    let user = r#"{{ define "slack.default.title" }}custom {{ template "__subject" . }}{{ end }}
{{ define "my.text" }}{{ range .Alerts }}{{ .Labels.alertname }} {{ end }}{{ end }}"#;
    let t = Templates::with_defaults_and(&[("/etc/alertmanager/templates/my.tmpl", user)])
        .expect("user file parses");
    let (reference, _) = conformance_templates();
    for (set, data) in data_sets() {
        let subject = reference
            .execute_text(r#"{{ template "__subject" . }}"#, &data)
            .expect("reference subject");
        assert!(!subject.is_empty());
        assert_eq!(
            t.execute_text(r#"{{ template "slack.default.title" . }}"#, &data)
                .expect("title"),
            format!("custom {subject}"),
            "{set}"
        );
        // Defaults the user file does not touch stay Alertmanager's.
        let fallback = r#"{{ template "slack.default.fallback" . }}"#;
        assert_eq!(
            t.execute_text(fallback, &data).expect("fallback"),
            format!(
                "custom {subject} | {}",
                reference
                    .execute_text(r#"{{ template "slack.default.titlelink" . }}"#, &data)
                    .expect("link")
            ),
            "{set}"
        );
    }
    // A later file replaces an earlier one's define.
    let t = Templates::with_defaults_and(&[
        ("a.tmpl", r#"{{ define "x" }}a{{ end }}"#),
        ("b.tmpl", r#"{{ define "x" }}b{{ end }}"#),
    ])
    .expect("parse");
    let (_, data) = data_sets().remove(0);
    assert_eq!(
        t.execute_text(r#"{{ template "x" . }}"#, &data).expect("x"),
        "b"
    );
}

#[test]
fn embedded_files_are_upstreams_after_their_attribution() {
    let dir = conformance().join("alertmanager/template");
    for (file, embedded) in DEFAULT_TEMPLATES {
        let path = dir.join(file);
        let upstream = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the Alertmanager conformance data; set WASMETHEUS_CONFORMANCE)",
                path.display()
            )
        });
        let (header, body) = embedded
            .split_once("*/}}")
            .unwrap_or_else(|| panic!("{file}: no attribution comment"));
        assert!(header.starts_with("{{/*"), "{file}");
        assert!(header.contains("Apache License, Version 2.0"), "{file}");
        assert!(
            !header.contains('\n'),
            "{file}: the header keeps line numbers"
        );
        assert!(body == upstream, "{file} differs from Alertmanager 0.34's");
    }
}
