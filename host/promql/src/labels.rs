//! Label sets while evaluating: the shared [`Labels`] type and the
//! helpers that read and change them (the metric name and the labels that
//! go with it), and the caches' view of shared label sets (their stable
//! address, interning). Shared by the engine and the functions.

use std::collections::HashMap;
use std::sync::Arc;

use wasmetheus_model::Label;

/// A label set shared by every step and sample that carries it: cloning
/// is a reference count, so a series selected once costs no copies per
/// step. Changing one goes through [`Arc::make_mut`].
pub(crate) type Labels = Arc<Vec<Label>>;

/// The value of a label, empty when the set has none.
pub(crate) fn get_label<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// Drops the metric name and, with it, the type and unit labels that
/// describe it (Prometheus' `DropMetricName` with type-and-unit labels).
/// A shared label set without them stays shared.
pub(crate) fn drop_name(labels: &mut Labels) {
    if labels.iter().any(|l| is_name_label(&l.name)) {
        Arc::make_mut(labels).retain(|l| !is_name_label(&l.name));
    }
}

/// Whether a label goes with the metric name when that is dropped.
pub(crate) fn is_name_label(name: &str) -> bool {
    matches!(name, "__name__" | "__type__" | "__unit__")
}

/// Sets (or, for an empty value, deletes) a label, keeping the order.
pub(crate) fn set_label(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].value = value.to_owned(),
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, Label::new(name, value)),
    }
}

/// The address of a label set that outlives this step, to look it up by
/// address next step; `None` for one only this sample holds (it is new
/// every step, so caching it would only fill the map). A cache keyed by it
/// keeps a clone, so the address stays that label set's.
pub(crate) fn stable_address(labels: &Labels) -> Option<usize> {
    (Arc::strong_count(labels) > 1).then_some(Arc::as_ptr(labels) as usize)
}

/// Equal label sets made one shared set, so that they compare by address.
#[derive(Default)]
pub(crate) struct Interner(HashMap<Vec<Label>, Labels>);

impl Interner {
    pub(crate) fn intern(&mut self, labels: Vec<Label>) -> Labels {
        if let Some(l) = self.0.get(&labels) {
            return Arc::clone(l);
        }
        let l = Arc::new(labels.clone());
        self.0.insert(labels, Arc::clone(&l));
        l
    }
}
