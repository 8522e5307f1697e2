//! The head's appender: samples checked and queued per batch (series held
//! against garbage collection, samples against compaction), then logged
//! and applied at commit.

use super::Head;
use super::series::{Admission, MemSeries};
use crate::index::SeriesRef;
use crate::wal::Record;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmetheus_model::Label;
use wasmetheus_model::storage::{AppendError, Appender, Storage, StorageError};

impl Head {
    /// An appender whose samples become visible at `commit`.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender {
            head: self,
            held: Vec::new(),
            held_by_ref: FxHashMap::default(),
            id: NEXT_APPENDER_ID.fetch_add(1, Ordering::Relaxed),
            pending: Vec::new(),
            pending_held: Vec::new(),
            oldest: None,
        }
    }
}

/// Queues samples for the head; see [`Appender`].
pub struct HeadAppender<'a> {
    head: &'a Head,
    /// The series this appender touched, each counted once in its
    /// `pending` so it is not garbage-collected under the appender.
    held: Vec<Held>,
    /// Index in `held` by ref, of the series marked by another appender
    /// when this one took them (see [`MemSeries::marked_by`]); usually
    /// empty.
    held_by_ref: FxHashMap<SeriesRef, u32>,
    /// Unique among the appenders of the process, never 0.
    id: u64,
    /// Queued samples in append order, as they are logged.
    pending: Vec<(SeriesRef, i64, f64)>,
    /// For each queued sample, its series' index in `held`, so commit
    /// does not look series up again.
    pending_held: Vec<u32>,
    /// Oldest queued sample, as registered in the head's `in_flight`.
    oldest: Option<i64>,
}

/// A series held by an appender.
struct Held {
    series: Arc<Mutex<MemSeries>>,
    /// Last queued sample (else the series' last sample when first
    /// touched), so a batch is checked in order.
    last: Option<(i64, f64)>,
    /// Index in `pending` of the series' last queued sample: commit
    /// releases the series when applying it, under the lock it takes
    /// anyway.
    last_pending: Option<usize>,
    /// Whether the series' `pending` still counts this appender.
    counted: bool,
}

/// Source of [`HeadAppender::id`]s.
static NEXT_APPENDER_ID: AtomicU64 = AtomicU64::new(1);

impl MemSeries {
    /// Lets go of a series held by appender `id` (under its lock).
    fn unhold(&mut self, id: u64) {
        self.pending = self.pending.saturating_sub(1);
        if self.marked_by == id {
            self.marked_by = 0;
        }
    }
}

impl HeadAppender<'_> {
    /// Registers a sample at `t` about to be queued, so compaction waits
    /// for this appender before copying a range holding it; fails if that
    /// range is already sealed.
    /// (A function of the fields it uses, so a caller may hold a series
    /// lock borrowed from `held`.)
    fn hold(head: &Head, oldest: &mut Option<i64>, t: i64) -> Result<(), AppendError> {
        // An older sample is held already: compaction waits for it anyway.
        if oldest.is_some_and(|o| o <= t) {
            return Ok(());
        }
        let mut in_flight = head.in_flight.lock();
        if t < in_flight.sealed_before {
            head.stats.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds {
                min: in_flight.sealed_before,
                t,
            });
        }
        if let Some(o) = oldest.replace(t) {
            in_flight.remove(o);
        }
        *in_flight.oldest.entry(t).or_default() += 1;
        Ok(())
    }

    /// Releases the series this appender kept from garbage collection and
    /// the samples it held against compaction.
    fn release(&mut self) {
        if let Some(o) = self.oldest.take() {
            self.head.in_flight.lock().remove(o);
        }
        for held in self.held.drain(..) {
            if held.counted {
                held.series.lock().unhold(self.id);
            }
        }
        self.held_by_ref.clear();
    }

    /// Queues a sample of series `r`, which is held (and counted in its
    /// `pending`) from now on; `None` if the series is gone.
    fn queue(&mut self, r: SeriesRef, t: i64, v: f64) -> Option<Result<(), AppendError>> {
        let head = self.head;
        let slots = head.series.read();
        let arc = slots.get(r as usize)?.as_ref()?;
        // One lock for finding the series among the held ones and checking
        // the sample; the lock keeps a concurrent commit from changing what
        // the sample is checked against.
        let mut series = arc.lock();
        let i = if series.marked_by == self.id {
            series.marked_slot as usize
        } else if let Some(&i) = self.held_by_ref.get(&r) {
            i as usize
        } else {
            let i = self.held.len();
            series.pending += 1;
            if series.marked_by == 0 {
                series.marked_by = self.id;
                series.marked_slot = i as u32;
            } else {
                self.held_by_ref.insert(r, i as u32);
            }
            self.held.push(Held {
                series: Arc::clone(arc),
                last: series.last(),
                last_pending: None,
                counted: true,
            });
            i
        };
        let min_valid = head.min_valid_time();
        let ooo_min = head.ooo_min(head.max_time()).max(min_valid);
        let held = &mut self.held[i];
        let admission = match series.admit(held.last, t, v, ooo_min, &head.chunks) {
            Ok(Admission::Duplicate) => return Some(Ok(())),
            Ok(a) => a,
            Err(e) => {
                let counter = match e {
                    AppendError::OutOfOrder { .. } => &head.stats.out_of_order,
                    _ => &head.stats.duplicates,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return Some(Err(e));
            }
        };
        if let Err(e) = Self::hold(head, &mut self.oldest, t) {
            return Some(Err(e));
        }
        drop(series);
        drop(slots);
        if admission == Admission::InOrder {
            held.last = Some((t, v));
        }
        held.last_pending = Some(self.pending.len());
        self.pending.push((r, t, v));
        self.pending_held.push(i as u32);
        Some(Ok(()))
    }

    /// Checks a sample's labels and time and finds (or creates) its series.
    fn resolve(&mut self, labels: &[Label], t: i64) -> Result<SeriesRef, AppendError> {
        if labels.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(AppendError::InvalidSeries(
                "labels must be sorted by name and unique".into(),
            ));
        }
        self.check_bounds(t)?;
        self.head.get_or_create(labels)
    }

    /// Looks the series up (creating it) and queues the sample. A series
    /// collected between the lookup and the queueing is gone from the
    /// index too, so looking up again creates it anew: retried a few times
    /// rather than failing the append.
    fn resolve_and_queue(
        &mut self,
        labels: &[Label],
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        for _ in 0..3 {
            let r = self.resolve(labels, t)?;
            if let Some(queued) = self.queue(r, t, v) {
                return queued.map(|()| r);
            }
        }
        removed().map(|()| 0)
    }

    fn check_bounds(&self, t: i64) -> Result<(), AppendError> {
        let min_valid = self.head.min_valid_time();
        if t < min_valid {
            self.head
                .stats
                .out_of_bounds
                .fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds { min: min_valid, t });
        }
        Ok(())
    }
}

/// The error of an append whose series was collected right after it was
/// looked up.
fn removed() -> Result<(), AppendError> {
    Err(AppendError::InvalidSeries(
        "series was removed while appending; retry".into(),
    ))
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl Appender for HeadAppender<'_> {
    fn append(&mut self, labels: &[Label], t: i64, v: f64) -> Result<(), AppendError> {
        self.resolve_and_queue(labels, t, v).map(drop)
    }

    /// A live ref skips checking, hashing and comparing the labels: the
    /// head never reuses a ref, so while it is live it names the same
    /// labels as when it was handed out.
    fn append_ref(
        &mut self,
        cached: u64,
        labels: &[Label],
        t: i64,
        v: f64,
    ) -> Result<u64, AppendError> {
        if let Some(r) = self.head.internal_ref(cached) {
            self.check_bounds(t)?;
            if let Some(queued) = self.queue(r, t, v) {
                return queued.map(|()| cached);
            }
            // Collected since: the labels' series is a new one.
        }
        let r = self.resolve_and_queue(labels, t, v)?;
        Ok(self.head.external_ref(r))
    }

    fn append_known(&mut self, cached: u64, t: i64, v: f64) -> Option<Result<(), AppendError>> {
        let r = self.head.internal_ref(cached)?;
        if let Err(e) = self.check_bounds(t) {
            return Some(Err(e));
        }
        self.queue(r, t, v)
    }

    fn commit(&mut self) -> Result<(), StorageError> {
        let mut wal = self.head.wal.lock();
        if self.head.durable {
            let Some(wal) = wal.as_mut() else {
                self.rollback();
                return Err(StorageError("the TSDB is closed".into()));
            };
            let mut records = std::mem::take(&mut *self.head.unlogged_series.lock());
            let with_samples = !self.pending.is_empty();
            if with_samples {
                // Lent to the record rather than copied, and taken back.
                records.push(Record::Samples(std::mem::take(&mut self.pending)));
            }
            let logged = if records.is_empty() {
                Ok(())
            } else {
                wal.log(&records)
            };
            if with_samples && let Some(Record::Samples(samples)) = records.pop() {
                self.pending = samples;
            }
            if let Err(e) = logged {
                // Nothing of this batch is applied; the series records go
                // back so a later commit logs them.
                let mut unlogged = self.head.unlogged_series.lock();
                unlogged.splice(0..0, records);
                drop(unlogged);
                self.rollback();
                return Err(StorageError(e.to_string()));
            }
        }
        let (mut appended, mut out_of_order) = (0, 0);
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        // Samples older than the window were rejected at `append`; at
        // commit a sample is only checked against what landed meanwhile.
        let ooo_min = if self.head.limits.out_of_order_window_ms > 0 {
            i64::MIN
        } else {
            i64::MAX
        };
        for (n, (&(_, t, v), &i)) in self.pending.iter().zip(&self.pending_held).enumerate() {
            let held = &mut self.held[i as usize];
            let mut series = held.series.lock();
            let admission = series.add(t, v, ooo_min, &self.head.chunks);
            if held.last_pending == Some(n) {
                // Its last sample is in: the series may be collected once
                // the log lock is released (truncation takes it too).
                series.unhold(self.id);
                held.counted = false;
            }
            drop(series);
            match admission {
                Admission::InOrder => appended += 1,
                Admission::OutOfOrder => out_of_order += 1,
                Admission::Duplicate => continue,
            }
            mint = mint.min(t);
            maxt = maxt.max(t);
        }
        self.pending.clear();
        self.pending_held.clear();
        drop(wal);
        if appended + out_of_order > 0 {
            self.head.min_time.fetch_min(mint, Ordering::Relaxed);
            self.head.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
        self.release();
        let stats = &self.head.stats;
        stats
            .samples_appended
            .fetch_add(appended + out_of_order, Ordering::Relaxed);
        stats
            .out_of_order_appended
            .fetch_add(out_of_order, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending.clear();
        self.pending_held.clear();
        self.release();
    }
}

impl Storage for Head {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Box::new(Head::appender(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &str) -> Vec<Label> {
        vec![Label::new("__name__", "m"), Label::new("a", v)]
    }

    fn samples(head: &Head, v: &str) -> Vec<(i64, f64)> {
        let r = head.index.read().lookup(&labels(v)).unwrap();
        head.samples(r, i64::MIN, i64::MAX)
    }

    fn pending(head: &Head, v: &str) -> u32 {
        let r = head.index.read().lookup(&labels(v)).unwrap();
        head.series(r).unwrap().lock().pending
    }

    #[test]
    fn append_ref_skips_the_lookup_and_survives_stale_refs() {
        let head = Head::default();
        let mut app = head.appender();
        let a = app.append_ref(0, &labels("a"), 1, 1.0).unwrap();
        let b = app.append_ref(0, &labels("b"), 1, 2.0).unwrap();
        assert!(a != 0 && b != 0 && a != b);
        // A ref of the batch itself, checked against the queued sample.
        assert_eq!(app.append_ref(a, &labels("a"), 2, 3.0), Ok(a));
        assert!(matches!(
            app.append_ref(a, &labels("a"), 1, 9.0),
            Err(AppendError::OutOfOrder { .. })
        ));
        app.commit().unwrap();
        drop(app);
        let mut app = head.appender();
        // The ref is all that is used: the labels are not even looked at.
        assert_eq!(app.append_ref(a, &[], 3, 4.0), Ok(a));
        // A ref of another head (same numbering) is not taken for this
        // head's: the labels decide.
        let other = Head::default();
        let foreign = other
            .appender()
            .append_ref(0, &labels("x"), 1, 0.0)
            .unwrap();
        assert_eq!(app.append_ref(foreign, &labels("b"), 3, 5.0), Ok(b));
        assert_eq!(app.append_ref(12345, &labels("b"), 4, 6.0), Ok(b));
        app.commit().unwrap();
        drop(app);
        assert_eq!(samples(&head, "a"), [(1, 1.0), (2, 3.0), (3, 4.0)]);
        assert_eq!(samples(&head, "b"), [(1, 2.0), (3, 5.0), (4, 6.0)]);
        // Collected: the old ref is dead, the labels make a new series.
        head.truncate(10).unwrap();
        assert_eq!(head.num_series(), 0);
        let mut app = head.appender();
        let a2 = app.append_ref(a, &labels("a"), 20, 7.0).unwrap();
        assert!(a2 != a && a2 != 0);
        app.commit().unwrap();
        drop(app);
        assert_eq!(samples(&head, "a"), [(20, 7.0)]);
    }

    #[test]
    fn held_series_are_released_by_commit_rollback_and_drop() {
        let head = Head::default();
        let mut first = head.appender();
        let mut second = head.appender();
        first.append(&labels("a"), 1, 1.0).unwrap();
        // Marked by `first`, so `second` keeps it in its map.
        second.append(&labels("a"), 2, 2.0).unwrap();
        second.append(&labels("a"), 3, 3.0).unwrap();
        first.append(&labels("a"), 4, 4.0).unwrap();
        assert_eq!(pending(&head, "a"), 2);
        assert_eq!(second.held.len(), 1);
        assert_eq!(second.held_by_ref.len(), 1);
        first.commit().unwrap();
        assert_eq!(pending(&head, "a"), 1);
        // `second` checked its samples against its own queue; at commit,
        // they are older than what `first` landed and out of order.
        second.commit().unwrap();
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(samples(&head, "a"), [(1, 1.0), (4, 4.0)]);
        assert_eq!(head.stats.samples_appended.load(Ordering::Relaxed), 2);

        // A series whose only sample was a duplicate, or rejected, is
        // still released.
        let mut app = head.appender();
        app.append(&labels("a"), 4, 4.0).unwrap();
        app.append(&labels("b"), 1, 1.0).unwrap();
        app.rollback();
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(pending(&head, "b"), 0);
        let mut app = head.appender();
        assert!(app.append(&labels("a"), 0, 0.0).is_err());
        app.append(&labels("b"), 2, 2.0).unwrap();
        assert_eq!(pending(&head, "a"), 1);
        drop(app);
        assert_eq!(pending(&head, "a"), 0);
        assert_eq!(pending(&head, "b"), 0);
        let r = head.index.read().lookup(&labels("a")).unwrap();
        assert_eq!(head.series(r).unwrap().lock().marked_by, 0);
    }
}
