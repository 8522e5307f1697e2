//! Label name validation schemes: UTF-8 (Prometheus 3's default) or the
//! legacy `[a-zA-Z_][a-zA-Z0-9_]*`, for names and for name templates that
//! hold `$1`/`${name}` references.

use std::sync::LazyLock;

use regex::Regex;

/// Which label names are acceptable. Prometheus 3 defaults to UTF-8 (any
/// non-empty name); a scrape config can ask for the legacy
/// `[a-zA-Z_][a-zA-Z0-9_]*`, which makes validation and `replace` stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameValidationScheme {
    #[default]
    Utf8,
    Legacy,
}

impl NameValidationScheme {
    /// Whether `name` is a label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            // Rust strings are always valid UTF-8, so only emptiness is left.
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_label_name(name),
        }
    }

    /// Whether `template` (a name that may hold `$1`/`${name}` references)
    /// is acceptable as a `replace` target or a `labelmap` replacement.
    pub(crate) fn is_valid_name_template(self, template: &str) -> bool {
        match self {
            // Under UTF-8 `$`, `{` and `}` are ordinary name characters.
            NameValidationScheme::Utf8 => !template.is_empty(),
            NameValidationScheme::Legacy => LEGACY_NAME_TEMPLATE.is_match(template),
        }
    }
}

fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Upstream's `relabelTargetLegacy`: legacy name characters plus `$1`,
/// `$name` and `${name}` references (Go's `\w` is ASCII).
static LEGACY_NAME_TEMPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("static regex")
});
