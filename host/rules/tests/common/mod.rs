//! A test store for the rule tests: an in-memory [`MemStore`] whose
//! selects go through a hook (slow reads, counted reads, series made up
//! when read); every other read and every write reach the store as they
//! are.

use wasmetheus_model::storage::{
    Appender, Matcher, Queryable, SelectHints, Series, Storage, StorageError,
};
use wasmetheus_promqltest::MemStore;

/// What a [`HookedStore`] does on a select, given the store under it.
pub trait SelectHook: Send + Sync {
    fn select(
        &self,
        inner: &MemStore,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError>;
}

impl<F> SelectHook for F
where
    F: Fn(&MemStore, &[Matcher], &SelectHints) -> Result<Vec<Series>, StorageError> + Send + Sync,
{
    fn select(
        &self,
        inner: &MemStore,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        self(inner, matchers, hints)
    }
}

/// A [`MemStore`] whose selects go through `hook`.
pub struct HookedStore<H> {
    pub inner: MemStore,
    pub hook: H,
}

impl<H: SelectHook> HookedStore<H> {
    /// An empty store with `hook` on its selects.
    pub fn new(hook: H) -> Self {
        HookedStore {
            inner: MemStore::new(),
            hook,
        }
    }
}

impl<H: SelectHook> Queryable for HookedStore<H> {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        self.hook.select(&self.inner, matchers, hints)
    }
    fn label_names(&self, m: &[Matcher], a: i64, b: i64) -> Result<Vec<String>, StorageError> {
        self.inner.label_names(m, a, b)
    }
    fn label_values(
        &self,
        n: &str,
        m: &[Matcher],
        a: i64,
        b: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_values(n, m, a, b)
    }
}

impl<H: SelectHook> Storage for HookedStore<H> {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        self.inner.appender()
    }
}
