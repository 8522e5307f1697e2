//! Alertmanager's notification template data (`template.Data` of Alertmanager's `template/template.go`)
//! as values of the engine: `.Receiver`, `.Status`, `.Alerts` (with `.Firing` and `.Resolved`),
//! `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations` (`template.KV`: `.SortedPairs`, `.Names`,
//! `.Values`, `.Remove`, printed as `a=b, c=d`), `.ExternalURL`; each alert's `.StartsAt`/`.EndsAt`
//! are Go `time.Time` values (UTC).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use crate::value::{Function, List, Map, Methods, Param, Struct, Value};

/// Go's zero `time.Time` (`0001-01-01 00:00:00 +0000 UTC`) in nanoseconds since the Unix epoch: the
/// `EndsAt` of an alert whose end is unknown.
pub const ZERO_TIME_NS: i128 = -62_135_596_800 * 1_000_000_000;

/// An alert's status as templates see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert of a notification (Go's `template.Alert`).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Nanoseconds since the Unix epoch.
    pub starts_at: i128,
    /// Nanoseconds since the Unix epoch; [`ZERO_TIME_NS`] when unknown.
    pub ends_at: i128,
    pub generator_url: String,
    pub fingerprint: String,
}

/// The data of one notification (Go's `template.Data`).
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub receiver: String,
    pub status: String,
    pub alerts: Vec<Alert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to the receiver's name.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Data {
    /// Alertmanager's `Template.Data(recv, groupLabels, alerts...)`: the receiver's name quoted as a
    /// regular expression (Go's `regexp.QuoteMeta`, as Alertmanager does), `firing` if any alert
    /// fires, and the labels and annotations every alert shares.
    pub fn new(
        receiver: &str,
        group_labels: BTreeMap<String, String>,
        alerts: Vec<Alert>,
        external_url: &str,
    ) -> Data {
        let status = if alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        let (mut common_labels, mut common_annotations) = match alerts.first() {
            Some(a) => (a.labels.clone(), a.annotations.clone()),
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        for a in alerts.iter().skip(1) {
            if common_labels.is_empty() && common_annotations.is_empty() {
                break;
            }
            common_labels.retain(|k, v| a.labels.get(k) == Some(v));
            common_annotations.retain(|k, v| a.annotations.get(k) == Some(v));
        }
        Data {
            receiver: quote_meta(receiver),
            status: status.as_str().to_string(),
            alerts,
            group_labels,
            common_labels,
            common_annotations,
            external_url: external_url.to_string(),
        }
    }

    /// The value templates see as `.` (a `template.Data`).
    pub fn to_value(&self) -> Value {
        Value::Struct(Arc::new(Struct {
            type_name: "template.Data".into(),
            fields: vec![
                ("Receiver".into(), Value::string(self.receiver.as_str())),
                ("Status".into(), Value::string(self.status.as_str())),
                ("Alerts".into(), alerts_value(&self.alerts)),
                ("GroupLabels".into(), kv_value(&self.group_labels)),
                ("CommonLabels".into(), kv_value(&self.common_labels)),
                (
                    "CommonAnnotations".into(),
                    kv_value(&self.common_annotations),
                ),
                (
                    "ExternalURL".into(),
                    Value::string(self.external_url.as_str()),
                ),
            ],
            methods: None,
        }))
    }
}

/// A `template.Alert`.
pub fn alert_value(a: &Alert) -> Value {
    Value::structure(
        "template.Alert",
        vec![
            ("Status".into(), Value::string(a.status.as_str())),
            ("Labels".into(), kv_value(&a.labels)),
            ("Annotations".into(), kv_value(&a.annotations)),
            ("StartsAt".into(), Value::Time(a.starts_at)),
            ("EndsAt".into(), Value::Time(a.ends_at)),
            (
                "GeneratorURL".into(),
                Value::string(a.generator_url.as_str()),
            ),
            ("Fingerprint".into(), Value::string(a.fingerprint.as_str())),
        ],
    )
}

/// A `template.Alerts` (with `Firing` and `Resolved`).
pub fn alerts_value(alerts: &[Alert]) -> Value {
    Value::List(Arc::new(List {
        type_name: "template.Alerts".into(),
        items: alerts.iter().map(alert_value).collect(),
        methods: Some(ALERTS_METHODS.clone()),
    }))
}

/// A `template.KV` (a `map[string]string` with `SortedPairs`, `Names`, `Values`, `Remove`, `String`).
pub fn kv_value(kv: &BTreeMap<String, String>) -> Value {
    kv_from_entries(
        kv.iter()
            .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
            .collect(),
    )
}

fn kv_from_entries(entries: BTreeMap<String, Value>) -> Value {
    Value::Map(Arc::new(Map {
        type_name: "template.KV".into(),
        entries,
        zero: Value::string(""),
        methods: Some(KV_METHODS.clone()),
    }))
}

fn string_list(items: Vec<Value>) -> Value {
    Value::list("[]string", items)
}

/// Go's `KV.SortedPairs`: `alertname` first, the other names in byte order.
fn sorted_pairs(m: &Map) -> Vec<(&str, &Value)> {
    let mut pairs: Vec<(&str, &Value)> = Vec::with_capacity(m.entries.len());
    if let Some(v) = m.entries.get("alertname") {
        pairs.push(("alertname", v));
    }
    pairs.extend(
        m.entries
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| (k.as_str(), v)),
    );
    pairs
}

fn pairs_value(pairs: &[(&str, &Value)]) -> Value {
    Value::List(Arc::new(List {
        type_name: "template.Pairs".into(),
        items: pairs
            .iter()
            .map(|(k, v)| {
                Value::structure(
                    "template.Pair",
                    vec![
                        ("Name".into(), Value::string(*k)),
                        ("Value".into(), (*v).clone()),
                    ],
                )
            })
            .collect(),
        methods: Some(PAIRS_METHODS.clone()),
    }))
}

/// Go's `Pairs.String`: `a=b, c=d`.
fn pairs_string<'v>(pairs: impl Iterator<Item = (&'v str, &'v str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn recv_map(a: &[Value]) -> Result<&Map, String> {
    match a.first() {
        Some(Value::Map(m)) => Ok(m),
        _ => Err("receiver is not a template.KV".into()),
    }
}

fn recv_list(a: &[Value]) -> Result<&List, String> {
    match a.first() {
        Some(Value::List(l)) => Ok(l),
        _ => Err("receiver is not a list".into()),
    }
}

fn pair_field<'v>(p: &'v Value, name: &str) -> &'v Value {
    match p {
        Value::Struct(s) => s
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or(&Value::Invalid),
        _ => &Value::Invalid,
    }
}

static KV_METHODS: LazyLock<Arc<Methods>> = LazyLock::new(|| {
    let mut m = Methods::new();
    m.insert(
        "SortedPairs".into(),
        Function::new(vec![], |a| Ok(pairs_value(&sorted_pairs(recv_map(a)?)))),
    );
    m.insert(
        "Names".into(),
        Function::new(vec![], |a| {
            Ok(string_list(
                sorted_pairs(recv_map(a)?)
                    .into_iter()
                    .map(|(k, _)| Value::string(k))
                    .collect(),
            ))
        }),
    );
    m.insert(
        "Values".into(),
        Function::new(vec![], |a| {
            Ok(string_list(
                sorted_pairs(recv_map(a)?)
                    .into_iter()
                    .map(|(_, v)| v.clone())
                    .collect(),
            ))
        }),
    );
    m.insert(
        "Remove".into(),
        Function::new(vec![Param::Named("[]string".into())], |a| {
            let m = recv_map(a)?;
            let drop: Vec<&str> = match a.get(1) {
                Some(Value::List(l)) => l.items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            Ok(kv_from_entries(
                m.entries
                    .iter()
                    .filter(|(k, _)| !drop.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))
        }),
    );
    m.insert(
        "String".into(),
        Function::new(vec![], |a| {
            Ok(Value::string(pairs_string(
                sorted_pairs(recv_map(a)?)
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or(""))),
            )))
        }),
    );
    Arc::new(m)
});

static PAIRS_METHODS: LazyLock<Arc<Methods>> = LazyLock::new(|| {
    let mut m = Methods::new();
    let field_list = |field: &'static str| {
        Function::new(vec![], move |a| {
            Ok(string_list(
                recv_list(a)?
                    .items
                    .iter()
                    .map(|p| pair_field(p, field).clone())
                    .collect(),
            ))
        })
    };
    m.insert("Names".into(), field_list("Name"));
    m.insert("Values".into(), field_list("Value"));
    m.insert(
        "String".into(),
        Function::new(vec![], |a| {
            Ok(Value::string(pairs_string(recv_list(a)?.items.iter().map(
                |p| {
                    (
                        pair_field(p, "Name").as_str().unwrap_or(""),
                        pair_field(p, "Value").as_str().unwrap_or(""),
                    )
                },
            ))))
        }),
    );
    Arc::new(m)
});

static ALERTS_METHODS: LazyLock<Arc<Methods>> = LazyLock::new(|| {
    let mut m = Methods::new();
    let subset = |status: &'static str| {
        Function::new(vec![], move |a| {
            Ok(Value::list(
                "[]template.Alert",
                recv_list(a)?
                    .items
                    .iter()
                    .filter(|al| pair_field(al, "Status").as_str() == Some(status))
                    .cloned()
                    .collect(),
            ))
        })
    };
    m.insert("Firing".into(), subset("firing"));
    m.insert("Resolved".into(), subset("resolved"));
    Arc::new(m)
});

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn alert(status: AlertStatus, labels: &[(&str, &str)]) -> Alert {
        Alert {
            status,
            labels: map(labels),
            annotations: map(&[("summary", "s")]),
            starts_at: 0,
            ends_at: ZERO_TIME_NS,
            generator_url: String::new(),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn data_has_common_labels_status_and_quoted_receiver() {
        let d = Data::new(
            "team.x (1)",
            map(&[("job", "a")]),
            vec![
                alert(AlertStatus::Resolved, &[("job", "a"), ("i", "1")]),
                alert(AlertStatus::Firing, &[("job", "a"), ("i", "2")]),
            ],
            "http://am",
        );
        assert_eq!(d.receiver, r"team\.x \(1\)");
        assert_eq!(d.status, "firing");
        assert_eq!(d.common_labels, map(&[("job", "a")]));
        assert_eq!(d.common_annotations, map(&[("summary", "s")]));
        let r = Data::new("r", BTreeMap::new(), vec![], "");
        assert_eq!(r.status, "resolved");
        assert!(r.common_labels.is_empty());
    }

    #[test]
    fn sorted_pairs_put_alertname_first() {
        let Value::Map(m) = kv_value(&map(&[("b", "2"), ("alertname", "X"), ("a", "1")])) else {
            panic!("not a map");
        };
        let names: Vec<&str> = sorted_pairs(&m).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["alertname", "a", "b"]);
    }
}
