//! Concurrent rule evaluation (Prometheus 3's `concurrent-rule-eval`
//! feature, `concurrentRuleEvalController` in `rules/manager.go`): the
//! slots of `--rules.max-concurrent-evals`, shared by every group, and
//! the evaluation of one batch of independent rules.
//!
//! As upstream, a rule of a batch of more than one takes a free slot and
//! runs on a thread of its own; when no slot is free it runs at once on
//! the group's own thread, before the next rules of the batch start. So a
//! group may run one rule more than its slots (its own thread), and with
//! no slot at all the group runs in order. The group waits for the whole
//! batch before the next one.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmetheus_model::Label;

use crate::evaluate::{Rule, RuleEnv, RuleOutcome, eval_rule};

/// The slots for rules evaluated off their group's thread, shared by all
/// groups of a manager (upstream's semaphore of
/// `--rules.max-concurrent-evals`).
#[derive(Debug)]
pub struct ConcurrencyLimit {
    slots: usize,
    in_use: AtomicUsize,
}

impl ConcurrencyLimit {
    /// `slots` rules at once off their groups' threads.
    pub fn new(slots: usize) -> Arc<ConcurrencyLimit> {
        Arc::new(ConcurrencyLimit {
            slots,
            in_use: AtomicUsize::new(0),
        })
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::SeqCst)
    }

    /// A slot if one is free (upstream's `TryAcquire(1)`); it is given
    /// back when the permit drops.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.in_use
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < self.slots).then_some(used + 1)
            })
            .ok()
            .map(|_| Permit { limit: self })
    }
}

/// One taken slot.
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a ConcurrencyLimit,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limit.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Evaluates the rules of one batch (rules with no relation among them),
/// each with the series it wrote last time: those that get a slot on
/// threads of their own, the others at once on this thread. Returns each
/// rule's outcome, in the batch's order, once all are done.
pub(crate) fn eval_batch(
    rules: &mut [Rule],
    previous: &mut [HashSet<Vec<Label>>],
    env: &RuleEnv<'_>,
    limit: &ConcurrencyLimit,
) -> Vec<RuleOutcome> {
    let n = rules.len();
    let mut outcomes: Vec<Option<RuleOutcome>> = (0..n).map(|_| None).collect();
    if n == 1 {
        if let (Some(rule), Some(prev)) = (rules.first_mut(), previous.first_mut()) {
            outcomes[0] = Some(eval_rule(rule, prev, env));
        }
        return outcomes.into_iter().flatten().collect();
    }
    std::thread::scope(|scope| {
        let mut running = Vec::new();
        for (k, (rule, prev)) in rules.iter_mut().zip(previous.iter_mut()).enumerate() {
            match limit.try_acquire() {
                Some(permit) => {
                    let spawned = std::thread::Builder::new()
                        .name("rule-eval".to_owned())
                        .spawn_scoped(scope, move || {
                            let _permit = permit;
                            eval_rule(rule, prev, env)
                        });
                    match spawned {
                        Ok(handle) => running.push((k, handle)),
                        // No thread: the rule runs after the others (they
                        // are independent of it).
                        Err(e) => {
                            tracing::warn!(err = %e, "starting a rule evaluation thread failed")
                        }
                    }
                }
                None => outcomes[k] = Some(eval_rule(rule, prev, env)),
            }
        }
        for (k, handle) in running {
            match handle.join() {
                Ok(outcome) => outcomes[k] = Some(outcome),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    for (k, outcome) in outcomes.iter_mut().enumerate() {
        if outcome.is_none()
            && let (Some(rule), Some(prev)) = (rules.get_mut(k), previous.get_mut(k))
        {
            *outcome = Some(eval_rule(rule, prev, env));
        }
    }
    outcomes.into_iter().flatten().collect()
}
