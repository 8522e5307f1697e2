//! Silences (`silence/silence.go`): validation with upstream's texts,
//! states pending/active/expired, `Set` (updated in place when history is
//! not rewritten, otherwise the old one expired and a new one created),
//! `Expire`, queries, `Mutes`, and collection `retention` after the end.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use wasmetheus_alertmanager_config::{MatchType, Matcher, Matchers};

use crate::alert::{Labels, is_valid_label_name};
use crate::persist::{self, Clock, Db, OpenError, WriteError};

/// A silence matcher as given (a regular expression not yet compiled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    pub name: String,
    pub op: MatchTypeRecord,
    pub pattern: String,
}

/// [`MatchType`] as written to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchTypeRecord {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl From<MatchType> for MatchTypeRecord {
    fn from(t: MatchType) -> Self {
        match t {
            MatchType::Equal => MatchTypeRecord::Equal,
            MatchType::NotEqual => MatchTypeRecord::NotEqual,
            MatchType::Regexp => MatchTypeRecord::Regexp,
            MatchType::NotRegexp => MatchTypeRecord::NotRegexp,
        }
    }
}

impl From<MatchTypeRecord> for MatchType {
    fn from(t: MatchTypeRecord) -> Self {
        match t {
            MatchTypeRecord::Equal => MatchType::Equal,
            MatchTypeRecord::NotEqual => MatchType::NotEqual,
            MatchTypeRecord::Regexp => MatchType::Regexp,
            MatchTypeRecord::NotRegexp => MatchType::NotRegexp,
        }
    }
}

impl SilenceMatcher {
    pub fn new(op: MatchType, name: impl Into<String>, pattern: impl Into<String>) -> Self {
        SilenceMatcher {
            name: name.into(),
            op: op.into(),
            pattern: pattern.into(),
        }
    }
}

impl From<&Matcher> for SilenceMatcher {
    fn from(m: &Matcher) -> Self {
        SilenceMatcher::new(m.op, m.name.clone(), m.value.clone())
    }
}

/// A silence's state at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SilenceState {
    Expired,
    Active,
    Pending,
}

impl SilenceState {
    /// `expired`, `active` or `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Expired => "expired",
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
        }
    }
}

/// One silence. `None` times are Go's zero time (only before `set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Empty for a new silence.
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    #[serde(with = "opt_ts")]
    pub starts_at: Option<Timestamp>,
    #[serde(with = "opt_ts")]
    pub ends_at: Option<Timestamp>,
    #[serde(with = "opt_ts")]
    pub updated_at: Option<Timestamp>,
    pub created_by: String,
    pub comment: String,
    /// Free-form key/value pairs (API v2 of 0.34; changing them alone
    /// updates the silence in place, as they are not part of its
    /// history).
    #[serde(default)]
    pub annotations: Labels,
}

mod opt_ts {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        crate::persist::nanos(*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let n = Option::<i128>::deserialize(d)?;
        crate::persist::from_nanos(n).map_err(serde::de::Error::custom)
    }
}

impl Silence {
    /// The state at `now`: pending before the start, expired after the
    /// end, active otherwise.
    pub fn state_at(&self, now: Timestamp) -> SilenceState {
        if self.starts_at.is_some_and(|s| now < s) {
            return SilenceState::Pending;
        }
        if self.ends_at.is_none_or(|e| now > e) {
            return SilenceState::Expired;
        }
        SilenceState::Active
    }

    /// The compiled matchers (valid once stored).
    pub fn compiled(&self) -> Matchers {
        Matchers(
            self.matchers
                .iter()
                .filter_map(|m| Matcher::new(m.op.into(), m.name.clone(), m.pattern.clone()).ok())
                .collect(),
        )
    }
}

/// Why a silence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("invalid silence: {0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("exceeded maximum number of silences: {held} (limit: {limit})")]
    TooMany { held: usize, limit: usize },
    #[error("silence exceeded maximum size: {size} bytes (limit: {limit} bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// `validateMatcher`.
fn validate_matcher(m: &SilenceMatcher) -> Result<Matcher, String> {
    if !is_valid_label_name(&m.name) {
        return Err(format!("invalid label name {}", go_quote(&m.name)));
    }
    Matcher::new(m.op.into(), m.name.clone(), m.pattern.clone())
        .map_err(|err| format!("invalid regular expression {}: {err}", go_quote(&m.pattern)))
}

fn go_quote(s: &str) -> String {
    wasmetheus_model::go::quote(s)
}

/// `validateSilence`; the compiled matchers.
pub fn validate_silence(s: &Silence) -> Result<Matchers, String> {
    if s.matchers.is_empty() {
        return Err("at least one matcher required".into());
    }
    let mut all_match_empty = true;
    let mut compiled = Vec::with_capacity(s.matchers.len());
    for (i, m) in s.matchers.iter().enumerate() {
        let c = validate_matcher(m).map_err(|e| format!("invalid label matcher {i}: {e}"))?;
        let matches_empty = match c.op {
            MatchType::Equal => c.value.is_empty(),
            MatchType::Regexp => c.matches(""),
            MatchType::NotEqual | MatchType::NotRegexp => false,
        };
        all_match_empty = all_match_empty && matches_empty;
        compiled.push(c);
    }
    if all_match_empty {
        return Err("at least one matcher must not match the empty string".into());
    }
    let Some(start) = s.starts_at else {
        return Err("invalid zero start timestamp".into());
    };
    let Some(end) = s.ends_at else {
        return Err("invalid zero end timestamp".into());
    };
    if end < start {
        return Err("end time must not be before start time".into());
    }
    Ok(Matchers(compiled))
}

/// Bounds on silences.
#[derive(Debug, Clone)]
pub struct SilenceLimits {
    /// The most silences held, expired ones included (0: no limit, as
    /// upstream's `--silences.max-silences` default; ours is bounded).
    pub max_silences: usize,
    /// The largest silence as stored, in bytes (0: no limit).
    pub max_silence_bytes: usize,
}

impl Default for SilenceLimits {
    fn default() -> Self {
        SilenceLimits {
            max_silences: 1_000_000,
            max_silence_bytes: 1 << 20,
        }
    }
}

/// What to select in [`Silences::query`]; every given condition must hold.
#[derive(Debug, Clone, Default)]
pub struct SilenceQuery {
    /// Only these ids (`QIDs`).
    pub ids: Option<Vec<String>>,
    /// Only silences whose matchers match this label set (`QMatches`).
    pub matches: Option<Labels>,
    /// Only silences in one of these states (`QState`).
    pub states: Option<Vec<SilenceState>>,
}

struct Entry {
    silence: Silence,
    matchers: Matchers,
    expires_at: Timestamp,
}

/// All silences.
pub struct Silences {
    st: RwLock<HashMap<String, Entry>>,
    /// Bumped whenever a silence with a new id is stored (`Version`).
    version: std::sync::atomic::AtomicU64,
    retention: SignedDuration,
    limits: SilenceLimits,
    tree: Option<sled::Tree>,
    /// Whether each change is on disk before the call returns.
    pub(crate) sync: bool,
    clock: Clock,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences")
            .field("len", &self.st.read().len())
            .field("retention", &self.retention)
            .finish()
    }
}

/// The default `--data.retention`.
pub const DEFAULT_RETENTION: SignedDuration = SignedDuration::from_hours(120);

#[derive(Serialize, Deserialize)]
struct Record {
    silence: Silence,
    expires_at: i128,
}

impl Silences {
    /// No silences, in memory only; collected `retention` after they end.
    pub fn new(retention: SignedDuration, limits: SilenceLimits, clock: Clock) -> Silences {
        Silences {
            st: RwLock::new(HashMap::new()),
            version: Default::default(),
            retention,
            limits,
            tree: None,
            sync: false,
            clock,
        }
    }

    /// The silences of `db`, written through to it.
    pub fn open(
        db: &Db,
        retention: SignedDuration,
        limits: SilenceLimits,
        clock: Clock,
    ) -> Result<Silences, OpenError> {
        let tree = db.tree(persist::SILENCES)?;
        let mut st = HashMap::new();
        for r in persist::load::<Record>(&tree, "silence") {
            let Ok(expires_at) = Timestamp::from_nanosecond(r.expires_at) else {
                tracing::warn!(id = %r.silence.id, "skipping a silence with an unreadable expiry");
                continue;
            };
            match validate_silence(&r.silence) {
                Ok(matchers) => {
                    st.insert(
                        r.silence.id.clone(),
                        Entry {
                            silence: r.silence,
                            matchers,
                            expires_at,
                        },
                    );
                }
                Err(err) => tracing::warn!(id = %r.silence.id, %err, "skipping an invalid silence"),
            }
        }
        Ok(Silences {
            st: RwLock::new(st),
            version: std::sync::atomic::AtomicU64::new(1),
            retention,
            limits,
            tree: Some(tree),
            sync: false,
            clock,
        })
    }

    /// The time on the silences' clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// How many silences are held (expired ones until collected).
    pub fn len(&self) -> usize {
        self.st.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn store(
        &self,
        st: &mut HashMap<String, Entry>,
        silence: Silence,
        matchers: Matchers,
    ) -> Result<(), SilenceError> {
        let end = silence.ends_at.unwrap_or_else(|| self.now());
        let expires_at = end.saturating_add(self.retention).unwrap_or(end);
        let record = Record {
            silence,
            expires_at: expires_at.as_nanosecond(),
        };
        if let Some(tree) = &self.tree {
            persist::put(tree, record.silence.id.as_bytes(), &record)?;
            if self.sync {
                persist::sync(tree)?;
            }
        }
        let added = st
            .insert(
                record.silence.id.clone(),
                Entry {
                    silence: record.silence,
                    matchers,
                    expires_at,
                },
            )
            .is_none();
        if added {
            self.version
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// The state's version: it changes whenever a new silence is stored,
    /// so a cache of which silences mute an alert can tell when it must
    /// look again (changed silences are then found by `updated_at`).
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn check_raw_size(&self, s: &Silence) -> Result<(), SilenceError> {
        let limit = self.limits.max_silence_bytes;
        let text = |m: &Labels| m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let size = s
            .matchers
            .iter()
            .map(|m| m.name.len() + m.pattern.len())
            .sum::<usize>()
            + s.id.len()
            + s.created_by.len()
            + s.comment.len()
            + text(&s.annotations);
        if limit > 0 && size > limit {
            return Err(SilenceError::TooLarge { size, limit });
        }
        Ok(())
    }

    fn check_size(&self, s: &Silence) -> Result<(), SilenceError> {
        let limit = self.limits.max_silence_bytes;
        if limit == 0 {
            return Ok(());
        }
        let size = serde_json::to_vec(s).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > limit {
            return Err(SilenceError::TooLarge { size, limit });
        }
        Ok(())
    }

    /// `Set`: creates a silence (empty id) or changes one; returns its id
    /// (a new one when the change would rewrite history, the old silence
    /// then expired).
    pub fn set(&self, mut sil: Silence) -> Result<String, SilenceError> {
        let mut st = self.st.write();
        let now = self.now();
        if sil.starts_at.is_none() {
            sil.starts_at = Some(now);
        }
        // A silence far beyond the size limit is refused before its
        // expressions are compiled.
        self.check_raw_size(&sil)?;
        let matchers = validate_silence(&sil).map_err(SilenceError::Invalid)?;
        let prev = match st.get(&sil.id) {
            Some(e) => Some(e.silence.clone()),
            None if !sil.id.is_empty() => return Err(SilenceError::NotFound),
            None => None,
        };
        if let Some(prev) = &prev
            && can_update(prev, &sil, now)
        {
            sil.updated_at = Some(now);
            self.check_size(&sil)?;
            let id = sil.id.clone();
            self.store(&mut st, sil, matchers)?;
            return Ok(id);
        }
        let limit = self.limits.max_silences;
        if limit > 0 && st.len() + 1 > limit {
            return Err(SilenceError::TooMany {
                held: st.len(),
                limit,
            });
        }
        sil.id = uuid::Uuid::new_v4().to_string();
        if sil.starts_at.is_some_and(|s| s < now) {
            sil.starts_at = Some(now);
        }
        sil.updated_at = Some(now);
        self.check_size(&sil)?;
        if let Some(prev) = prev
            && prev.state_at(now) != SilenceState::Expired
        {
            self.expire_locked(&mut st, &prev.id, now)?;
        }
        let id = sil.id.clone();
        self.store(&mut st, sil, matchers)?;
        Ok(id)
    }

    /// `Expire`: ends the silence now (a pending one starts and ends now);
    /// an expired one is left as it is.
    pub fn expire(&self, id: &str) -> Result<(), SilenceError> {
        let mut st = self.st.write();
        let now = self.now();
        self.expire_locked(&mut st, id, now)
    }

    fn expire_locked(
        &self,
        st: &mut HashMap<String, Entry>,
        id: &str,
        now: Timestamp,
    ) -> Result<(), SilenceError> {
        let Some(entry) = st.get(id) else {
            return Err(SilenceError::NotFound);
        };
        let mut sil = entry.silence.clone();
        let matchers = entry.matchers.clone();
        match sil.state_at(now) {
            SilenceState::Expired => return Ok(()),
            SilenceState::Active => sil.ends_at = Some(now),
            SilenceState::Pending => {
                sil.starts_at = Some(now);
                sil.ends_at = Some(now);
            }
        }
        sil.updated_at = Some(now);
        self.store(st, sil, matchers)
    }

    /// The silences selected by `q`, by id.
    pub fn query(&self, q: &SilenceQuery) -> Vec<Silence> {
        let st = self.st.read();
        let now = self.now();
        let keep = |e: &Entry| {
            q.matches.as_ref().is_none_or(|l| e.matchers.matches(l))
                && q.states
                    .as_ref()
                    .is_none_or(|s| s.contains(&e.silence.state_at(now)))
        };
        let mut out: Vec<Silence> = match &q.ids {
            Some(ids) => ids
                .iter()
                .filter_map(|id| st.get(id))
                .filter(|e| keep(e))
                .map(|e| e.silence.clone())
                .collect(),
            None => st
                .values()
                .filter(|e| keep(e))
                .map(|e| e.silence.clone())
                .collect(),
        };
        if q.ids.is_none() {
            out.sort_by(|a, b| a.id.cmp(&b.id));
        }
        out
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<Silence> {
        self.st.read().get(id).map(|e| e.silence.clone())
    }

    /// The ids of the active silences muting `labels`, sorted (empty:
    /// not silenced).
    pub fn mutes(&self, labels: &Labels) -> Vec<String> {
        let st = self.st.read();
        let now = self.now();
        let mut ids: Vec<String> = st
            .values()
            .filter(|e| {
                e.silence.state_at(now) == SilenceState::Active && e.matchers.matches(labels)
            })
            .map(|e| e.silence.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Removes the silences whose retention has passed, from memory and
    /// disk; how many.
    pub fn gc(&self) -> Result<usize, WriteError> {
        let mut st = self.st.write();
        let now = self.now();
        let old: Vec<String> = st
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &old {
            if let Some(tree) = &self.tree {
                persist::remove(tree, id.as_bytes())?;
            }
            st.remove(id);
        }
        Ok(old.len())
    }
}

/// `canUpdate`: whether `b` may replace `a` without changing what `a`
/// silenced so far.
pub fn can_update(a: &Silence, b: &Silence, now: Timestamp) -> bool {
    if a.matchers != b.matchers {
        return false;
    }
    match a.state_at(now) {
        SilenceState::Active => {
            let secs = |t: Option<Timestamp>| t.map(|t| t.as_second());
            if secs(a.starts_at) != secs(b.starts_at) {
                return false;
            }
            b.ends_at.is_none_or(|e| e >= now)
        }
        SilenceState::Pending => b.starts_at.is_none_or(|s| s >= now),
        SilenceState::Expired => false,
    }
}

/// API v2's order of silences (`SortSilences`): active ones first, the
/// next to end first; then pending ones, the next to start first; then
/// expired ones, the most recently ended first.
pub fn sort_for_api(silences: &mut [Silence], now: Timestamp) {
    let rank = |s: &Silence| match s.state_at(now) {
        SilenceState::Active => 0,
        SilenceState::Pending => 1,
        SilenceState::Expired => 2,
    };
    silences.sort_by(|a, b| {
        rank(a).cmp(&rank(b)).then_with(|| match a.state_at(now) {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        })
    });
}
