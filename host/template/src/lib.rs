//! Go's text/template with Prometheus' template data and functions (alert labels and annotations; the
//! Alertmanager's notifications).
//!
//! The engine is written here rather than taken from crates.io: `gotmpl` 0.6 and `gtmpl` 0.7 parse
//! and run Go's template language, but neither reports execution errors as Go does
//! (`template: NAME:LINE:COL: executing "NAME" at <NODE>: error calling F: …`, which alerts show in
//! `<error expanding template: …>` and Prometheus' own tests pin), nor checks function arguments
//! against Go's parameter types (`wrong type for value; expected string; got float64`), nor has
//! `time.Time`/`time.Duration` values with methods (`(… | toTime).Format "2006"`). Modules:
//! `lex` and `parse` (Go's `text/template/parse`), `exec` (Go's `exec.go`), `builtins` (Go's
//! `funcs.go`), `gofmt` (Go's `fmt` verbs and `strconv` quoting), `gotime` (Go's time formatting),
//! `goregex` (Go's `regexp` syntax and errors over the `regex` crate), `value` (the value model:
//! Go kinds, named types with methods, typed function parameters), `prom` (Prometheus'
//! `template/template.go` and the alert-rule prelude).
//!
//! Execution is bounded by [`Limits`]: the output's size; evaluation steps (nodes, commands and
//! `range` iterations, which bounds `range` over huge data); nesting depth (control structures and
//! `{{template}}` calls together, 100 by default where Go allows 100,000 template calls); and every
//! value a function call returns (builtins, Prometheus' functions, registered functions and methods
//! alike): a string longer than the output limit, a list, map or struct whose strings (map keys
//! included) total more, or one nested more than 1,000 levels deep is an execution error (`error
//! calling F: value exceeds the limit of N bytes`). The functions that build text from their
//! arguments (`print`, `printf` with its widths and precisions, `println`, `html`, `js`, `urlquery`,
//! `reReplaceAll`, `graphLink`, `tableLink`) compute or check the size before building, and refuse
//! rather than build past the limit; the others return at most a small multiple of their arguments'
//! size and are checked after the call. Registered functions can check first with [`value_budget`].
//! Data passed to an execution is taken as it is. Parsing limits nesting to 100 levels (Go: 10,000
//! parenthesized pipelines).
//!
//! `alertmanager` holds Alertmanager's notification templates (data, functions, the template set),
//! `html` Go's `html/template` contextual escaping, which their HTML fields are rendered with.
//!
//! Where this differs from Go: pointers nested in printed values print as `&{…}` (Go prints their
//! addresses); `html/template` escaping covers HTML text, RCDATA, attribute and URL contexts (see
//! `html`) and tracks contexts as the template runs; functions
//! cannot panic, so Go's recovered-panic texts appear only where reproduced (`regexp: Compile(…)`,
//! nil samples). `tests/data/` holds expansions and parse errors recorded from Prometheus' promtool,
//! which the tests compare digit for digit.
//! Prometheus 3 semantics are followed where it differs from 2.x: `missingkey=zero` by default,
//! `title` is `cases.Title` (`don't` → `Don't`), `.Value` is `interface {}`, Go 1.22+ template
//! syntax (`range` over an integer, `else with`).

pub mod alertmanager;
mod budget;
mod builtins;
mod exec;
mod gofmt;
mod gojson;
mod goregex;
mod gotime;
mod html;
mod html_escapers;
mod html_js;
mod lex;
mod parse;
mod prom;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

pub use alertmanager::{Data as AlertmanagerData, Templates as AlertmanagerTemplates};
pub use budget::{value_budget, value_too_big};
pub use builtins::{html_escape, js_escape, query_escape};
pub use gofmt::{format_float, quote, sprint, sprintf};
pub use goregex::compile as compile_go_regexp;
pub use gotime::{duration_string, time_string};
pub use prom::{
    AlertData, AlertTemplate, Expander, QueryBackend, QuerySample, alert_data_value,
    alert_data_with_value, check_alert_template, expand_alert, expand_alert_with_value, go_case,
    humanize, humanize_duration, humanize1024, prometheus_funcs, query_result_value, title,
};
pub use value::{FuncImpl, Function, List, Map, Methods, Param, Struct, Value, Zone};

/// A template that failed to parse or to execute: the text Go's `text/template` (or Prometheus'
/// template layer) reports, e.g. `template: __alert_X:1: function "x" not defined`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// Functions a template may call, by name (Go's `template.FuncMap`); Go's builtins need not be listed.
pub type FuncMap<'f> = HashMap<String, Function<'f>>;

/// Go's `missingkey` option: what a missing map key gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// `missingkey=default`/`invalid`: no value (prints `<no value>`).
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type.
    Zero,
    /// `missingkey=error`: execution stops with an error.
    Error,
}

/// Bounds of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest output, in bytes.
    pub max_output_bytes: usize,
    /// Most evaluation steps (nodes, commands and `range` iterations).
    pub max_steps: u64,
    /// Deepest nesting of `if`/`with`/`range` bodies and `{{template}}` calls.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 1 << 20,
            max_steps: 1_000_000,
            max_depth: 100,
        }
    }
}

/// A parsed set of templates: the named top-level one and every `{{define}}`d or `{{block}}`ed one,
/// with the functions they may call (Go's `*template.Template`).
#[derive(Debug, Clone)]
pub struct Template<'f> {
    name: String,
    pub(crate) trees: HashMap<String, Arc<parse::Tree>>,
    pub(crate) funcs: FuncMap<'f>,
    pub(crate) missing_key: MissingKey,
}

fn is_empty_tree(nodes: &[parse::Node]) -> bool {
    nodes
        .iter()
        .all(|n| matches!(n, parse::Node::Text(_, t) if t.trim().is_empty()))
}

impl<'f> Template<'f> {
    /// Go's `template.New(name).Funcs(funcs).Option("missingkey=…").Parse(text)`.
    pub fn parse(
        name: &str,
        text: &str,
        funcs: FuncMap<'f>,
        missing_key: MissingKey,
    ) -> Result<Self, TemplateError> {
        let mut t = Template {
            name: name.to_string(),
            trees: HashMap::new(),
            funcs,
            missing_key,
        };
        t.add(name, text)?;
        Ok(t)
    }

    /// Parses more text into the set under `name` (Go's `t.New(name).Parse(text)`, as `ParseFiles` does
    /// for each file): its `{{define}}`s join the set and replace earlier ones of the same name.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let funcs = &self.funcs;
        let has_func = |f: &str| funcs.contains_key(f) || builtins::lookup(f).is_some();
        let trees = parse::parse(name, text, &has_func)
            .map_err(|e| TemplateError(format!("template: {name}:{}: {}", e.line, e.msg)))?;
        for tree in trees {
            if let Some(old) = self.trees.get(&tree.name)
                && is_empty_tree(&tree.root)
                && !is_empty_tree(&old.root)
            {
                continue;
            }
            self.trees.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(())
    }

    /// The set's top-level template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the set has a template of this name.
    pub fn lookup(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Runs the top-level template on `data` (Go's `Execute`).
    pub fn execute(&self, data: &Value, limits: Limits) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(&self.name) else {
            return Err(TemplateError(format!(
                "template: {}: {} is an incomplete or empty template",
                self.name,
                quote(&self.name)
            )));
        };
        self.run(tree, data, limits)
    }

    /// Runs the named template of the set on `data` (Go's `ExecuteTemplate`).
    pub fn execute_template(
        &self,
        name: &str,
        data: &Value,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError(format!(
                "template: no template {} associated with template {}",
                quote(name),
                quote(&self.name)
            )));
        };
        self.run(tree, data, limits)
    }

    /// Runs the top-level template with another function set than the one it was parsed with: the
    /// same names (parsing checked them), other bodies — say, bound to this evaluation's timestamp.
    /// A function the set lacks fails as Go's undefined function does at execution.
    pub fn execute_with_funcs(
        &self,
        funcs: &FuncMap<'_>,
        data: &Value,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(&self.name) else {
            return Err(TemplateError(format!(
                "template: {}: {} is an incomplete or empty template",
                self.name,
                quote(&self.name)
            )));
        };
        let mut state = exec::State::new(self, funcs, tree, data.clone(), limits);
        state.run(data).map_err(TemplateError)?;
        Ok(std::mem::take(&mut state.out))
    }

    fn run(
        &self,
        tree: &parse::Tree,
        data: &Value,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let mut state = exec::State::new(self, &self.funcs, tree, data.clone(), limits);
        state.run(data).map_err(TemplateError)?;
        Ok(std::mem::take(&mut state.out))
    }
}
