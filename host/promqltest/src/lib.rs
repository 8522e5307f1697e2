//! `wasmetheus-promqltest`: the runner of Prometheus' scripted PromQL tests
//! (`*.test` files, see `../shared/conformance/promql/FORMAT.md`): the
//! script parser with its series notation, an in-memory store behind the
//! storage traits, the [`Engine`] abstraction (implemented here for the
//! workspace's [`wasmetheus_promql::engine::Engine`]), and a runner that
//! executes every eval (plus the extra evaluations upstream performs) and
//! compares results as upstream does. Evals involving native histograms
//! (`nh.rs`) count as passed when they pass and are reported as skipped
//! otherwise, while the engine supports histograms only in part.

mod head_hints;
pub mod memstore;
pub mod nh;
mod runner;
mod script;
pub mod series;

pub use memstore::{MemStore, SeriesData};
pub use runner::{
    CaseReport, Counts, Engine, EvalError, FileReport, Outcome, apply_load, run_eval, run_parsed,
    run_script,
};
pub use script::{
    AnnotationExpect, Command, Eval, EvalKind, Expected, ExpectedSeries, Load, LoadSample,
    LoadSeries, Script, ScriptError, TextMatch, parse_script,
};
