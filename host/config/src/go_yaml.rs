//! How Go's YAML library (which Prometheus uses) reads what serde would
//! refuse: a key with an empty value or `null` is the field's zero value.
//!
//! Use on every field Prometheus declares as a slice, map, string, number
//! or bool: `#[serde(default, deserialize_with = "crate::go_yaml::null_as_default")]`.
//! (Fields that Prometheus declares as pointers, where nil means "not set",
//! stay `Option<T>`.)

use serde::{Deserialize, Deserializer};

/// `null` or an empty value as `T::default()`, anything else as `T`.
#[allow(dead_code)] // used by the sections as they adopt it
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
