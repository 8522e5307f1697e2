//! Scrape timestamp alignment, as Prometheus does it (`AlignScrapeTimestamps`
//! with `ScrapeTimestampTolerance`, on by default since 2.32 and in 3.x):
//! a scrape that starts within a small tolerance of its schedule is stamped
//! with the scheduled time, not the time the timer fired. Timer jitter of a
//! millisecond or two otherwise makes every sample's timestamp irregular,
//! which costs about two bytes a sample in the head's XOR chunks and a
//! byte in stored chunks, where a regular timestamp costs a bit.

use std::time::Duration;

/// Prometheus' `ScrapeTimestampTolerance`.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_millis(2);

/// One scrape loop's schedule: the scheduled time of its last tick.
#[derive(Debug, Clone)]
pub(crate) struct Alignment {
    /// The scheduled time of the current tick (ms).
    aligned: i64,
    interval: i64,
    /// At most 1 % of the interval, as Prometheus clamps it; 0: off.
    tolerance: i64,
}

impl Alignment {
    /// A schedule whose first tick is `start` (ms), every `interval`;
    /// `tolerance` `None` turns alignment off.
    pub(crate) fn new(start: i64, interval: Duration, tolerance: Option<Duration>) -> Alignment {
        let interval = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let tolerance = tolerance.map_or(0, |t| {
            i64::try_from(t.as_millis())
                .unwrap_or(i64::MAX)
                .min(interval / 100)
        });
        Alignment {
            aligned: start,
            interval,
            tolerance,
        }
    }

    /// The timestamp for a scrape that starts at `now` (ms): the scheduled
    /// time when `now` is at most the tolerance past it, else `now`. A
    /// clock set back starts the schedule again at `now` (Prometheus would
    /// stamp every scrape with the same scheduled time until the clock
    /// caught up again).
    pub(crate) fn timestamp(&mut self, now: i64) -> i64 {
        if self.tolerance <= 0 || self.interval <= 0 {
            return now;
        }
        let interval = i128::from(self.interval);
        let mut late = i128::from(now) - i128::from(self.aligned);
        if late < 0 {
            self.aligned = now;
            return now;
        }
        // Ticks skipped (a slow scrape, a paused process) move the
        // schedule on by whole intervals.
        if late >= interval {
            let moved = i128::from(self.aligned) + late / interval * interval;
            self.aligned = i64::try_from(moved).unwrap_or(now);
            late = i128::from(now) - i128::from(self.aligned);
        }
        if late <= i128::from(self.tolerance) {
            self.aligned
        } else {
            now
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_within_the_tolerance_get_the_scheduled_time() {
        let mut a = Alignment::new(10_000, Duration::from_secs(1), Some(DEFAULT_TOLERANCE));
        // The first tick, exactly on time.
        assert_eq!(a.timestamp(10_000), 10_000);
        // Late by 1 and 2 ms: aligned; by 3 ms: the real time.
        assert_eq!(a.timestamp(11_001), 11_000);
        assert_eq!(a.timestamp(12_002), 12_000);
        assert_eq!(a.timestamp(13_003), 13_003);
        // The schedule stays on its own grid after an unaligned scrape.
        assert_eq!(a.timestamp(14_000), 14_000);
        // Two ticks skipped: the schedule moves on by whole intervals.
        assert_eq!(a.timestamp(17_001), 17_000);
        assert_eq!(a.timestamp(18_500), 18_500);
        assert_eq!(a.timestamp(19_002), 19_000);
    }

    #[test]
    fn the_tolerance_is_at_most_a_hundredth_of_the_interval() {
        // 100 ms: 1 ms of tolerance, not 2.
        let mut a = Alignment::new(0, Duration::from_millis(100), Some(DEFAULT_TOLERANCE));
        assert_eq!(a.timestamp(101), 100);
        assert_eq!(a.timestamp(202), 202);
        // Below 100 ms, nothing is aligned.
        let mut a = Alignment::new(0, Duration::from_millis(50), Some(DEFAULT_TOLERANCE));
        assert_eq!(a.timestamp(50), 50);
        assert_eq!(a.timestamp(101), 101);
        // Off.
        let mut a = Alignment::new(0, Duration::from_secs(1), None);
        assert_eq!(a.timestamp(1_001), 1_001);
    }

    #[test]
    fn a_clock_set_back_restarts_the_schedule() {
        let mut a = Alignment::new(10_000, Duration::from_secs(1), Some(DEFAULT_TOLERANCE));
        assert_eq!(a.timestamp(11_001), 11_000);
        assert_eq!(a.timestamp(5_000), 5_000);
        assert_eq!(a.timestamp(6_001), 6_000);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut a = Alignment::new(i64::MIN, Duration::from_secs(1), Some(DEFAULT_TOLERANCE));
        assert_eq!(a.timestamp(i64::MAX), i64::MAX);
        let mut a = Alignment::new(0, Duration::MAX, Some(Duration::MAX));
        assert_eq!(a.timestamp(5), 0);
    }
}
