//! The postings index: interned label strings, series by label set, and
//! for every label pair the sorted list of series carrying it.
//! Refs only grow; a removed series leaves an empty slot, so a ref is never
//! reused while the head lives. (A replay packs the log's refs into dense
//! head refs; a ref the log once used may then name another series, which
//! its series record, logged first, rebinds.)

use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher};

/// A series' number in the head.
pub type SeriesRef = u32;

/// Label strings are stored once however many series use them, and
/// series refer to them by a 4-byte id rather than a pointer: a series'
/// labels are most of what the head spends on it besides its samples.
#[derive(Default)]
struct Symbols {
    ids: FxHashMap<Arc<str>, u32>,
    /// By id; empty once released (its id is then in `free`).
    strings: Vec<Arc<str>>,
    /// Series labels using each id.
    uses: Vec<u32>,
    free: Vec<u32>,
}

impl Symbols {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.uses[id as usize] += 1;
            return id;
        }
        let new: Arc<str> = s.into();
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = Arc::clone(&new);
                self.uses[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(Arc::clone(&new));
                self.uses.push(1);
                (self.strings.len() - 1) as u32
            }
        };
        self.ids.insert(new, id);
        id
    }

    fn get(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }

    /// One use fewer; the string goes with its last use.
    fn release(&mut self, id: u32) {
        let uses = &mut self.uses[id as usize];
        *uses -= 1;
        if *uses == 0 {
            let string = std::mem::replace(&mut self.strings[id as usize], Arc::from(""));
            self.ids.remove(&string);
            self.free.push(id);
        }
    }
}

/// A series' labels as symbol ids of (name, value) pairs, sorted by name.
type InternedLabels = Box<[(u32, u32)]>;

pub struct Index {
    /// The label-set hash: [`hash_labels`], or a colliding one in tests.
    hash: fn(&[Label]) -> u32,
    symbols: Symbols,
    /// Labels of each series, by ref; `None` once removed.
    labels: Vec<Option<InternedLabels>>,
    live: usize,
    /// Label-set hash to the first live series with that hash: inline, so
    /// a lookup by labels touches one table slot, not a list elsewhere.
    /// (A series' hash is not kept: removal, which is rare, hashes its
    /// labels again, which saves 8 bytes per series.)
    /// A 32-bit hash: 8-byte entries, not 16 (~10 bytes a series less);
    /// the collisions it adds (about one per 2^32 / series lookups of a
    /// new label set) cost a label comparison, never a wrong series.
    by_hash: FxHashMap<u32, SeriesRef>,
    /// Further series with a hash already in `by_hash` (a rare collision).
    colliding: FxHashMap<u32, Vec<SeriesRef>>,
    /// name -> value -> refs, each list sorted (refs only ever grow).
    postings: FxHashMap<Arc<str>, FxHashMap<Arc<str>, Vec<SeriesRef>>>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            hash: hash_labels,
            symbols: Symbols::default(),
            labels: Vec::new(),
            live: 0,
            by_hash: FxHashMap::default(),
            colliding: FxHashMap::default(),
            postings: FxHashMap::default(),
        }
    }
}

fn hash_labels(labels: &[Label]) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    for l in labels {
        l.name.hash(&mut h);
        l.value.hash(&mut h);
    }
    let h = h.finish();
    // Both halves: FxHash's high bits are its best mixed.
    (h >> 32) as u32 ^ h as u32
}

fn same(symbols: &Symbols, stored: &[(u32, u32)], labels: &[Label]) -> bool {
    stored.len() == labels.len()
        && stored
            .iter()
            .zip(labels)
            .all(|(&(n, v), l)| **symbols.get(n) == *l.name && **symbols.get(v) == *l.value)
}

/// Sorted-list intersection.
fn intersect(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted-list difference `a - b`.
fn subtract(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|x| {
            while j < b.len() && b[j] < *x {
                j += 1;
            }
            !(j < b.len() && b[j] == *x)
        })
        .collect()
}

/// Union of several sorted lists.
fn union(lists: Vec<&[SeriesRef]>) -> Vec<SeriesRef> {
    let mut out: Vec<SeriesRef> = lists.into_iter().flatten().copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Index {
    pub fn lookup(&self, labels: &[Label]) -> Option<SeriesRef> {
        self.lookup_hashed(labels, (self.hash)(labels))
    }

    fn lookup_hashed(&self, labels: &[Label], hash: u32) -> Option<SeriesRef> {
        let is = |r: SeriesRef| {
            self.labels[r as usize]
                .as_ref()
                .is_some_and(|stored| same(&self.symbols, stored, labels))
        };
        let first = *self.by_hash.get(&hash)?;
        if is(first) {
            return Some(first);
        }
        self.colliding.get(&hash)?.iter().copied().find(|r| is(*r))
    }

    /// Number of live series.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Refs of the live series, ascending.
    pub fn refs(&self) -> impl Iterator<Item = SeriesRef> + '_ {
        self.labels
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .map(|(r, _)| r as SeriesRef)
    }

    /// Removes the series `removed` from every structure; strings no
    /// series uses any more are released.
    pub fn remove(&mut self, removed: &std::collections::HashSet<SeriesRef>) {
        for &r in removed {
            let Some(labels) = self.labels(r) else {
                continue;
            };
            let hash = (self.hash)(&labels);
            let interned = self.labels[r as usize].take().unwrap_or_default();
            for &(name, value) in interned.iter() {
                self.symbols.release(name);
                self.symbols.release(value);
            }
            self.live -= 1;
            let others = self.colliding.get_mut(&hash);
            if self.by_hash.get(&hash) == Some(&r) {
                // A colliding series, if any, takes the slot.
                match others.and_then(Vec::pop) {
                    Some(next) => self.by_hash.insert(hash, next),
                    None => self.by_hash.remove(&hash),
                };
            } else if let Some(others) = others {
                others.retain(|x| *x != r);
            }
            if self.colliding.get(&hash).is_some_and(Vec::is_empty) {
                self.colliding.remove(&hash);
            }
        }
        self.postings.retain(|_, values| {
            values.retain(|_, refs| {
                refs.retain(|r| !removed.contains(r));
                !refs.is_empty()
            });
            !values.is_empty()
        });
    }

    /// Adds a new series as `r` (refs are handed out in increasing order).
    pub fn insert(&mut self, labels: &[Label], r: SeriesRef) -> SeriesRef {
        self.insert_hashed(labels, r, (self.hash)(labels))
    }

    fn insert_hashed(&mut self, labels: &[Label], r: SeriesRef, hash: u32) -> SeriesRef {
        let interned: InternedLabels = labels
            .iter()
            .map(|l| (self.symbols.intern(&l.name), self.symbols.intern(&l.value)))
            .collect();
        for &(name, value) in interned.iter() {
            let (name, value) = (self.symbols.get(name), self.symbols.get(value));
            let by_value = match self.postings.get_mut(&**name) {
                Some(by_value) => by_value,
                None => self.postings.entry(Arc::clone(name)).or_default(),
            };
            match by_value.get_mut(&**value) {
                Some(refs) => refs.push(r),
                None => {
                    by_value.insert(Arc::clone(value), vec![r]);
                }
            }
        }
        let slot = r as usize;
        if slot >= self.labels.len() {
            self.labels.resize_with(slot + 1, || None);
        }
        self.labels[slot] = Some(interned);
        self.live += 1;
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(r);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.colliding.entry(hash).or_default().push(r);
            }
        }
        r
    }

    pub fn labels(&self, r: SeriesRef) -> Option<Vec<Label>> {
        Some(
            self.labels
                .get(r as usize)?
                .as_ref()?
                .iter()
                .map(|&(n, v)| Label::new(&**self.symbols.get(n), &**self.symbols.get(v)))
                .collect(),
        )
    }

    /// Refs of series with label `name` whose value satisfies `keep`.
    fn values_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Vec<SeriesRef> {
        match self.postings.get(name) {
            Some(values) => union(
                values
                    .iter()
                    .filter(|(v, _)| keep(v))
                    .map(|(_, refs)| refs.as_slice())
                    .collect(),
            ),
            None => Vec::new(),
        }
    }

    /// The series with `name` set to any of `values`.
    fn any_of(&self, name: &str, values: &[&str]) -> Vec<SeriesRef> {
        let Some(by_value) = self.postings.get(name) else {
            return Vec::new();
        };
        union(
            values
                .iter()
                .filter_map(|v| by_value.get(*v).map(Vec::as_slice))
                .collect(),
        )
    }

    /// Refs of the series matching every matcher, sorted. A matcher that
    /// accepts the empty value also accepts series without the label, so it
    /// is applied by subtracting the series it rejects.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let mut positive: Option<Vec<SeriesRef>> = None;
        let mut negative: Vec<Vec<SeriesRef>> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                // e.g. a="", a!="x", a=~"x|", a!~"x": drop the series whose
                // value for `a` is set and rejected.
                negative.push(self.values_where(&m.name, |v| !m.matches(v)));
                continue;
            }
            let refs = match m.kind {
                MatchType::Equal => self.any_of(&m.name, &[m.value.as_str()]),
                MatchType::Regex => match m.literal_alternatives() {
                    Some(values) => self.any_of(&m.name, &values),
                    None => match m.literal_prefix() {
                        Some(prefix) => self.values_where(&m.name, |v| v.starts_with(prefix)),
                        None => self.values_where(&m.name, |v| m.matches(v)),
                    },
                },
                MatchType::NotEqual | MatchType::NotRegex => {
                    self.values_where(&m.name, |v| m.matches(v))
                }
            };
            positive = Some(match positive {
                None => refs,
                Some(p) => intersect(&p, &refs),
            });
            if positive.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let mut result = positive.unwrap_or_else(|| self.refs().collect());
        for n in &negative {
            result = subtract(&result, n);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn labels(v: &str) -> Vec<Label> {
        vec![Label::new("__name__", "m"), Label::new("a", v)]
    }

    #[test]
    fn colliding_hashes_keep_every_series_findable() {
        // Every label set on one hash.
        let mut index = Index {
            hash: |_| 7,
            ..Index::default()
        };
        for (r, v) in ["x", "y", "z"].iter().enumerate() {
            index.insert(&labels(v), r as SeriesRef);
        }
        let find = |index: &Index, v: &str| index.lookup(&labels(v));
        assert_eq!(find(&index, "x"), Some(0));
        assert_eq!(find(&index, "y"), Some(1));
        assert_eq!(find(&index, "z"), Some(2));
        assert_eq!(find(&index, "w"), None);
        // Removing the one in the table's slot promotes a colliding one.
        index.remove(&HashSet::from([0]));
        assert_eq!(find(&index, "x"), None);
        assert_eq!(find(&index, "y"), Some(1));
        assert_eq!(find(&index, "z"), Some(2));
        index.remove(&HashSet::from([2]));
        assert_eq!(find(&index, "y"), Some(1));
        assert_eq!(find(&index, "z"), None);
        index.remove(&HashSet::from([1]));
        assert!(index.by_hash.is_empty() && index.colliding.is_empty());
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn strings_go_with_their_last_series_and_their_ids_are_reused() {
        let mut index = Index::default();
        index.insert(&labels("x"), 0);
        index.insert(&labels("y"), 1);
        // "__name__", "m", "a", "x", "y".
        assert_eq!(index.symbols.ids.len(), 5);
        index.remove(&HashSet::from([0]));
        assert_eq!(index.symbols.ids.len(), 4);
        assert!(!index.symbols.ids.contains_key("x"));
        assert_eq!(index.labels(1), Some(labels("y")));
        index.insert(&labels("z"), 2);
        assert_eq!(index.symbols.strings.len(), 5, "the id of x is reused");
        assert_eq!(index.labels(2), Some(labels("z")));
        assert_eq!(index.lookup(&labels("z")), Some(2));
        index.remove(&HashSet::from([1, 2]));
        assert!(index.symbols.ids.is_empty());
        assert!(index.postings.is_empty());
    }
}
