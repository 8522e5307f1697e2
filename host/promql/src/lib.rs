//! `wasmetheus-promql`: the PromQL language — lexer, lalrpop grammar, AST
//! and printer — and the engine that evaluates it. It reads storage only
//! through the traits of `wasmetheus-model`, never the TSDB. The runner of
//! Prometheus' scripted test format is the `wasmetheus-promqltest` crate.

pub mod ast;
pub mod engine;
mod eval_types;
mod float;
pub mod functions;
mod labels;
mod lexer;
mod parse_error;
pub mod parser;
pub mod printer;
pub mod value;
mod xxh64;

/// Go's quoted-string decoding as PromQL's lexer does it, for the series
/// notation of the scripted tests.
pub use lexer::unquote;
