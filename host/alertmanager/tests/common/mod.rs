//! Shared test helpers: a clock the test moves, label sets and matchers.

#![allow(dead_code)]

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;
use wasmetheus_alertmanager::{Clock, Labels, SilenceMatcher};
use wasmetheus_alertmanager_config::MatchType;

/// A clock that stands still until moved.
#[derive(Clone)]
pub struct MockClock(Arc<Mutex<Timestamp>>);

impl MockClock {
    pub fn at(t: Timestamp) -> MockClock {
        MockClock(Arc::new(Mutex::new(t)))
    }

    pub fn start() -> MockClock {
        MockClock::at("2026-07-28T12:00:00Z".parse().unwrap())
    }

    pub fn now(&self) -> Timestamp {
        *self.0.lock()
    }

    pub fn advance(&self, d: SignedDuration) {
        let mut t = self.0.lock();
        *t = t.checked_add(d).unwrap();
    }

    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock())
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn min(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// `name op pattern` with op one of `=`, `!=`, `=~`, `!~`.
pub fn m(name: &str, op: &str, pattern: &str) -> SilenceMatcher {
    let op = match op {
        "=" => MatchType::Equal,
        "!=" => MatchType::NotEqual,
        "=~" => MatchType::Regexp,
        "!~" => MatchType::NotRegexp,
        other => panic!("unknown operator {other}"),
    };
    SilenceMatcher::new(op, name, pattern)
}
