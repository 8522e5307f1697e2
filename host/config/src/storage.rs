//! The `storage` section: `tsdb` (out-of-order window, retention by time,
//! size and share of the disk, chunk encoding) and `exemplars`, with
//! Prometheus 3.14's defaults and validation texts.

use serde::{Deserialize, Serialize};

use crate::go_yaml::{go_quote, null_as_default};
use crate::{Base2Bytes, PromDuration};

/// The `storage` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    #[serde(deserialize_with = "null_as_default")]
    pub tsdb: TsdbConfig,
    /// Unset: Prometheus' default of 100000 exemplars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsdbConfig {
    /// How far behind the newest sample an out-of-order sample is still
    /// accepted; zero (the default) rejects them, as in Prometheus.
    #[serde(deserialize_with = "null_as_default")]
    pub out_of_order_time_window: PromDuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_encoding: Option<ChunkEncodingConfig>,
    /// Share of stale series in the head above which Prometheus compacts
    /// them early; 0: never.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero_f64"
    )]
    pub stale_series_compaction_threshold: f64,
}

/// `storage.tsdb.retention`: overrides the `--storage.tsdb.retention.*`
/// flags in Prometheus 3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRetention")]
pub struct RetentionConfig {
    #[serde(skip_serializing_if = "PromDuration::is_zero")]
    pub time: PromDuration,
    #[serde(skip_serializing_if = "Base2Bytes::is_zero")]
    pub size: Base2Bytes,
    /// Share of the disk the blocks may take, 0 to 100 (0: no limit).
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub percentage: f64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRetention {
    #[serde(deserialize_with = "null_as_default")]
    time: PromDuration,
    #[serde(deserialize_with = "null_as_default")]
    size: Base2Bytes,
    #[serde(deserialize_with = "null_as_default")]
    percentage: f64,
}

impl TryFrom<RawRetention> for RetentionConfig {
    type Error = String;

    fn try_from(raw: RawRetention) -> Result<Self, String> {
        if raw.size.0 < 0 {
            return Err("'storage.tsdb.retention.size' must be greater than or equal to 0".into());
        }
        if !(0.0..=100.0).contains(&raw.percentage) {
            return Err("'storage.tsdb.retention.percentage' must be in the range [0, 100]".into());
        }
        Ok(RetentionConfig {
            time: raw.time,
            size: raw.size,
            percentage: raw.percentage,
        })
    }
}

/// `storage.tsdb.chunk_encoding`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChunkEncodingConfig {
    /// `xor` or `xor2`; unset: Prometheus' default (`xor`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "float_encoding"
    )]
    pub floats: Option<String>,
}

fn float_encoding<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    match value.as_deref() {
        None | Some("xor" | "xor2") => Ok(value),
        Some(other) => Err(serde::de::Error::custom(format!(
            "'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be \
             omitted entirely, got {}",
            go_quote(other)
        ))),
    }
}

/// `storage.exemplars`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemplarsConfig {
    /// The size of the exemplar ring buffer; 0 or less disables exemplar
    /// storage.
    #[serde(deserialize_with = "null_as_default")]
    pub max_exemplars: i64,
}

impl Default for ExemplarsConfig {
    fn default() -> Self {
        ExemplarsConfig {
            max_exemplars: 100_000,
        }
    }
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}
