//! The value budget of the execution running on a thread: the most bytes a value built by a
//! template function may hold. The engine (`exec.rs`) sets it for an execution and checks every
//! returned value against it; functions (`builtins.rs`, `prom.rs`, registered ones) check it before
//! building text.

use std::cell::Cell;

thread_local! {
    /// The running execution's value budget (its output limit); unbounded outside executions.
    pub(crate) static VALUE_BUDGET: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The most bytes a value built by a template function may hold in the execution running on this
/// thread: its [`crate::Limits::max_output_bytes`] (no bound outside an execution). Functions that build text
/// from their arguments check the size first and refuse with [`value_too_big`]'s text rather than
/// building more; the engine checks every value a function returns against it as well.
pub fn value_budget() -> usize {
    VALUE_BUDGET.with(Cell::get)
}

/// The error text of a value beyond the budget `max` (worded as the output limit's).
pub fn value_too_big(max: usize) -> String {
    format!("value exceeds the limit of {max} bytes")
}

/// Restores the previous value budget when an execution ends (executions may nest).
pub(crate) struct BudgetGuard(pub(crate) usize);

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        VALUE_BUDGET.with(|b| b.set(self.0));
    }
}
