//! Helpers shared by the Alertmanager template tests: the conformance data, amtool's JSON data
//! files as `Data`, the default templates.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;
use wasmetheus_template::alertmanager::{Alert, AlertStatus, Data, Templates};

pub fn conformance() -> PathBuf {
    match std::env::var_os("WASMETHEUS_CONFORMANCE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    }
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/alertmanager")
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 UTC time (`2024-03-01T10:00:00.123Z`) in nanoseconds since the epoch.
pub fn rfc3339(s: &str) -> i128 {
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

pub fn kv(j: &Json) -> BTreeMap<String, String> {
    j.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON of a `template.Data` (what `amtool --template.data` reads), taken as it is.
pub fn data_from_json(j: &Json) -> Data {
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

pub fn default_templates() -> Templates {
    let dir = conformance().join("alertmanager/template");
    let mut t = Templates::new();
    for f in ["default.tmpl", "email.tmpl"] {
        t.parse_file(&dir.join(f)).expect("default templates parse");
    }
    t
}
