//! An alert as Alertmanager keeps it (`types/types.go`): labels,
//! annotations, start and end, when it was last updated and whether its
//! end is only the resolve timeout; `Merge`, `Resolved` and the API's
//! defaulting of missing times.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::fingerprint::{Fingerprint, fingerprint};

/// A label set (names sorted, as Go sorts them for hashing and printing).
pub type Labels = BTreeMap<String, String>;

/// One alert. `None` times are Go's zero `time.Time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub generator_url: String,
    pub updated_at: Option<Timestamp>,
    /// The end time is `now + resolve_timeout`, set because the sender
    /// gave none.
    pub timeout: bool,
}

/// Why an alert is refused (texts as `Alert.Validate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("start time missing")]
    StartMissing,
    #[error("start time must be before end time")]
    EndBeforeStart,
    #[error("invalid label set: {0}")]
    Labels(String),
    #[error("at least one label pair required")]
    NoLabels,
    #[error("invalid annotations: {0}")]
    Annotations(String),
}

/// Whether `name` is a label name Alertmanager 0.34 accepts in its
/// default (fallback) mode, which validates names as UTF-8
/// (`compat.isValidUTF8LabelName`): any non-empty text. Alertmanager 0.25
/// and 0.34's `classic-mode` require [`is_valid_classic_label_name`].
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, the classic label name.
pub fn is_valid_classic_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `validateLs`: names valid in the default mode, in upstream's words.
fn validate_set(set: &Labels) -> Result<(), String> {
    for name in set.keys() {
        if !is_valid_label_name(name) {
            return Err(format!("invalid name \"{name}\""));
        }
    }
    // Values are Rust strings, so always valid UTF-8.
    Ok(())
}

impl Alert {
    /// A firing alert with the given labels and nothing else set.
    pub fn new(labels: Labels) -> Alert {
        Alert {
            labels,
            annotations: Labels::new(),
            starts_at: None,
            ends_at: None,
            generator_url: String::new(),
            updated_at: None,
            timeout: false,
        }
    }

    /// The fingerprint of the alert's labels.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.labels)
    }

    /// The alert's name (`alertname` label, empty when missing).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Whether the alert has ended at `ts`: it has an end and the end is
    /// not after `ts`.
    pub fn resolved_at(&self, ts: Timestamp) -> bool {
        match self.ends_at {
            None => false,
            Some(end) => end <= ts,
        }
    }

    /// `"resolved"` or `"firing"` at `ts`.
    pub fn status_at(&self, ts: Timestamp) -> &'static str {
        if self.resolved_at(ts) {
            "resolved"
        } else {
            "firing"
        }
    }

    /// `Alert.Validate`.
    pub fn validate(&self) -> Result<(), AlertError> {
        let Some(start) = self.starts_at else {
            return Err(AlertError::StartMissing);
        };
        if let Some(end) = self.ends_at
            && end < start
        {
            return Err(AlertError::EndBeforeStart);
        }
        validate_set(&self.labels).map_err(AlertError::Labels)?;
        if self.labels.is_empty() {
            return Err(AlertError::NoLabels);
        }
        validate_set(&self.annotations).map_err(AlertError::Annotations)?;
        Ok(())
    }

    /// What the API does to a received alert before storing it: updated
    /// now; a missing start is the end (or now); a missing end is
    /// `now + resolve_timeout` with the timeout flag set.
    pub fn prepare(&mut self, now: Timestamp, resolve_timeout: SignedDuration) {
        self.updated_at = Some(now);
        if self.starts_at.is_none() {
            self.starts_at = Some(self.ends_at.unwrap_or(now));
        }
        if self.ends_at.is_none() {
            self.timeout = true;
            self.ends_at = Some(now.saturating_add(resolve_timeout).unwrap_or(now));
        }
    }

    /// `Alert.Merge`: `self` is the alert held, `other` the one received;
    /// the younger (by `updated_at`) wins, with the earliest start, and
    /// its end replaced by the older alert's later end when that end is
    /// an explicit one (a later explicit resolve, or a later non-timeout
    /// end of a firing alert).
    pub fn merge(&self, other: &Alert) -> Alert {
        self.merge_at(other, Timestamp::now())
    }

    /// [`Alert::merge`] with resolution judged at `now` (upstream's
    /// `Resolved()` reads the clock).
    pub fn merge_at(&self, other: &Alert, now: Timestamp) -> Alert {
        if before(other.updated_at, self.updated_at) {
            return other.merge_at(self, now);
        }
        let (a, o) = (self, other);
        let mut res = o.clone();
        if before(a.starts_at, o.starts_at) {
            res.starts_at = a.starts_at;
        }
        if o.resolved_at(now) {
            if a.resolved_at(now) && after(a.ends_at, o.ends_at) {
                res.ends_at = a.ends_at;
            }
        } else if after(a.ends_at, o.ends_at) && !a.timeout {
            res.ends_at = a.ends_at;
        }
        res
    }
}

/// Go's `t.Before(u)` with zero times as the earliest instant.
pub(crate) fn before(t: Option<Timestamp>, u: Option<Timestamp>) -> bool {
    match (t, u) {
        (None, Some(_)) => true,
        (Some(t), Some(u)) => t < u,
        (_, None) => false,
    }
}

/// Go's `t.After(u)` with zero times as the earliest instant.
pub(crate) fn after(t: Option<Timestamp>, u: Option<Timestamp>) -> bool {
    before(u, t)
}

/// prometheus/common's `LabelSet.Before`: smaller sets first, then by the
/// values of the sorted union of names (a set missing a name is first).
pub fn label_set_before(a: &Labels, b: &Labels) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for name in names {
        let Some(av) = a.get(name) else {
            return true;
        };
        let Some(bv) = b.get(name) else {
            return false;
        };
        if av != bv {
            return av < bv;
        }
    }
    false
}

/// `AlertSlice`'s order (stable): by `job`, then `instance` (an alert
/// without the label after one with it), then [`label_set_before`].
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|x, y| {
        use std::cmp::Ordering;
        let less = |x: &Alert, y: &Alert| {
            for key in ["job", "instance"] {
                match (x.labels.get(key), y.labels.get(key)) {
                    (None, None) => continue,
                    (None, Some(_)) => return false,
                    (Some(_), None) => return true,
                    (Some(a), Some(b)) if a != b => return a < b,
                    _ => {}
                }
            }
            label_set_before(&x.labels, &y.labels)
        };
        if less(x, y) {
            Ordering::Less
        } else if less(y, x) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}
