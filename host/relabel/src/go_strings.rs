//! Go's string functions whose results differ from Rust's own:
//! `strings.ToLower`/`ToUpper` (simple case mapping) and `%q` quoting, so
//! that relabeled values and error messages match Prometheus'. All three
//! live in `wasmetheus_model::go`; these are the names relabeling uses.

/// Go's `strings.ToLower` and `strings.ToUpper` (simple case mapping; the
/// ones in `wasmetheus_model::go`).
pub(crate) use wasmetheus_model::go::{to_lower as go_to_lower, to_upper as go_to_upper};

/// Go's `%q` of a string (`strconv.Quote`, the one copy in
/// `wasmetheus_model::go`), for error messages that quote names.
pub(crate) use wasmetheus_model::go::quote as go_quote;
