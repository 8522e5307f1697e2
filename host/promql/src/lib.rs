//! `wasmetheus-promql`: the PromQL language — lexer, lalrpop grammar, AST
//! and printer — and the runner of Prometheus' scripted test format. It
//! reads storage only through the traits of `wasmetheus-model`, never the
//! TSDB.

pub mod ast;
pub mod engine;
mod functions;
mod lexer;
pub mod parser;
pub mod printer;
pub mod promqltest;
pub mod value;
mod xxh64;
