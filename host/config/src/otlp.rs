//! The `otlp` section: how metrics pushed over OTLP become series
//! (translation strategy, promoted and ignored resource attributes,
//! label name sanitisation), as Prometheus 3.14's `OTLPConfig` reads it.

use serde::{Deserialize, Serialize};

use crate::global::ValidationScheme;
use crate::go_yaml::{go_quote, null_as_default};

/// The translation strategies Prometheus knows.
pub const TRANSLATION_STRATEGIES: [&str; 4] = [
    "UnderscoreEscapingWithSuffixes",
    "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes",
    "NoTranslation",
];

/// The `otlp` section, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawOtlp")]
pub struct OtlpConfig {
    #[serde(skip_serializing_if = "is_false")]
    pub promote_all_resource_attributes: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promote_resource_attributes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_resource_attributes: Vec<String>,
    pub translation_strategy: String,
    #[serde(skip_serializing_if = "is_false")]
    pub keep_identifying_resource_attributes: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub convert_histograms_to_nhcb: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub promote_scope_metadata: bool,
    pub label_name_underscore_sanitization: bool,
    pub label_name_preserve_multiple_underscores: bool,
}

impl Default for OtlpConfig {
    /// Prometheus' `DefaultOTLPConfig`.
    fn default() -> Self {
        OtlpConfig {
            promote_all_resource_attributes: false,
            promote_resource_attributes: Vec::new(),
            ignore_resource_attributes: Vec::new(),
            translation_strategy: TRANSLATION_STRATEGIES[0].to_owned(),
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOtlp {
    #[serde(deserialize_with = "null_as_default")]
    promote_all_resource_attributes: bool,
    #[serde(deserialize_with = "null_as_default")]
    promote_resource_attributes: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    ignore_resource_attributes: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    translation_strategy: String,
    #[serde(deserialize_with = "null_as_default")]
    keep_identifying_resource_attributes: bool,
    #[serde(deserialize_with = "null_as_default")]
    convert_histograms_to_nhcb: bool,
    #[serde(deserialize_with = "null_as_default")]
    promote_scope_metadata: bool,
    #[serde(deserialize_with = "null_as_default")]
    label_name_underscore_sanitization: bool,
    #[serde(deserialize_with = "null_as_default")]
    label_name_preserve_multiple_underscores: bool,
}

impl Default for RawOtlp {
    fn default() -> Self {
        let d = OtlpConfig::default();
        RawOtlp {
            promote_all_resource_attributes: d.promote_all_resource_attributes,
            promote_resource_attributes: d.promote_resource_attributes,
            ignore_resource_attributes: d.ignore_resource_attributes,
            translation_strategy: d.translation_strategy,
            keep_identifying_resource_attributes: d.keep_identifying_resource_attributes,
            convert_histograms_to_nhcb: d.convert_histograms_to_nhcb,
            promote_scope_metadata: d.promote_scope_metadata,
            label_name_underscore_sanitization: d.label_name_underscore_sanitization,
            label_name_preserve_multiple_underscores: d.label_name_preserve_multiple_underscores,
        }
    }
}

impl TryFrom<RawOtlp> for OtlpConfig {
    type Error = String;

    /// `OTLPConfig.UnmarshalYAML`.
    fn try_from(mut raw: RawOtlp) -> Result<Self, String> {
        if raw.promote_all_resource_attributes {
            if !raw.promote_resource_attributes.is_empty() {
                return Err(
                    "'promote_all_resource_attributes' and 'promote_resource_attributes' \
                            cannot be configured simultaneously"
                        .into(),
                );
            }
            sanitize_attributes(&mut raw.ignore_resource_attributes, "ignored")
                .map_err(|e| format!("invalid 'ignore_resource_attributes': {e}"))?;
        } else {
            if !raw.ignore_resource_attributes.is_empty() {
                return Err("'ignore_resource_attributes' cannot be configured unless \
                            'promote_all_resource_attributes' is true"
                    .into());
            }
            sanitize_attributes(&mut raw.promote_resource_attributes, "promoted")
                .map_err(|e| format!("invalid 'promote_resource_attributes': {e}"))?;
        }
        Ok(OtlpConfig {
            promote_all_resource_attributes: raw.promote_all_resource_attributes,
            promote_resource_attributes: raw.promote_resource_attributes,
            ignore_resource_attributes: raw.ignore_resource_attributes,
            translation_strategy: raw.translation_strategy,
            keep_identifying_resource_attributes: raw.keep_identifying_resource_attributes,
            convert_histograms_to_nhcb: raw.convert_histograms_to_nhcb,
            promote_scope_metadata: raw.promote_scope_metadata,
            label_name_underscore_sanitization: raw.label_name_underscore_sanitization,
            label_name_preserve_multiple_underscores: raw.label_name_preserve_multiple_underscores,
        })
    }
}

/// `sanitizeAttributes`: trims each attribute and reports every empty and
/// duplicated one (Go joins the errors with newlines).
fn sanitize_attributes(attributes: &mut [String], adjective: &str) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let mut errors = Vec::new();
    for attribute in attributes.iter_mut() {
        let trimmed = attribute.trim().to_owned();
        if trimmed.is_empty() {
            errors.push(format!("empty {adjective} OTel resource attribute"));
            continue;
        }
        if !seen.insert(trimmed.clone()) {
            errors.push(format!(
                "duplicated {adjective} OTel resource attribute {}",
                go_quote(&trimmed)
            ));
            continue;
        }
        *attribute = trimmed;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

impl OtlpConfig {
    /// The check `config.Load` makes once the whole file is read: the
    /// strategy must be known, and one that keeps UTF-8 names needs UTF-8
    /// validation.
    pub(crate) fn check_strategy(&self, global_scheme: ValidationScheme) -> Result<(), String> {
        let strategy = self.translation_strategy.as_str();
        match strategy {
            "" | "UnderscoreEscapingWithSuffixes" | "UnderscoreEscapingWithoutSuffixes" => Ok(()),
            "NoUTF8EscapingWithSuffixes" | "NoTranslation" => {
                if global_scheme == ValidationScheme::Legacy {
                    Err(format!(
                        "OTLP translation strategy {} is not allowed when UTF8 is disabled",
                        go_quote(strategy)
                    ))
                } else {
                    Ok(())
                }
            }
            other => Err(format!(
                "unsupported OTLP translation strategy {}",
                go_quote(other)
            )),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}
