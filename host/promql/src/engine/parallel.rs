//! Series-parallel work: a query's per-series work (decoding a selector's
//! samples, a range function's windows) split over the machine's cores
//! with scoped threads when there is enough of it to pay for the threads.
//! Each thread takes a contiguous run of the input and results come back
//! in input order, so the output is the same as a sequential pass.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// Below this much work (points to decode or windows to compute) the
/// threads cost more than they save.
pub(super) const MIN_WORK: usize = 64 * 1024;

/// How many threads per-series work may use: the available cores, at
/// most 8.
pub(super) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(8)
    })
}

/// `f` applied to every item, in order: on the calling thread when `work`
/// (the caller's estimate of the total cost) is below [`MIN_WORK`], else
/// over up to [`threads`] threads, each with a contiguous run of items.
pub(super) fn map_in_order<T, R, F>(items: Vec<T>, work: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = threads().min(items.len());
    if threads < 2 || work < MIN_WORK {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let run: Vec<T> = items.by_ref().take(per_thread).collect();
        if run.is_empty() {
            break;
        }
        runs.push(run);
    }
    let f = &f;
    std::thread::scope(|scope| {
        // The first run stays on this thread.
        let mut runs = runs.into_iter();
        let first = runs.next().unwrap_or_default();
        let handles: Vec<_> = runs
            .map(|run| scope.spawn(move || run.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.into_iter().map(f).collect();
        for h in handles {
            match h.join() {
                Ok(results) => out.extend(results),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order_above_and_below_the_threshold() {
        let items: Vec<usize> = (0..1_000).collect();
        let expected: Vec<usize> = items.iter().map(|i| i * 3).collect();
        assert_eq!(map_in_order(items.clone(), 0, |i| i * 3), expected);
        assert_eq!(map_in_order(items, MIN_WORK, |i| i * 3), expected);
        assert_eq!(map_in_order(Vec::<usize>::new(), MIN_WORK, |i| i), []);
        assert_eq!(map_in_order(vec![7], MIN_WORK, |i| i + 1), [8]);
    }
}
