//! Which rules of a group read which others' output (Prometheus'
//! `dependencyMap` and `buildDependencyMap` in `rules/group.go`), and the
//! batches of rules that may be evaluated concurrently.
//!
//! A rule depends on another when one of its selectors' metric-name
//! matchers matches the other's name (`foo`, `{__name__=~"foo.*"}` and
//! `{__name__!="bar"}` alike). A selector on `ALERTS` or `ALERTS_FOR_STATE`
//! depends on the alerting rules its `alertname` matchers match. The
//! relations of a group cannot be known (it is "indeterminate", and every
//! rule runs in order) when a selector has no metric-name matcher
//! (`{job="x"}`) or reads `ALERTS`/`ALERTS_FOR_STATE` without an
//! `alertname` matcher; so a `!=`, `!~` or `=~".+"` name matcher without
//! one is indeterminate too, as it matches `ALERTS`. Queries in alert templates (`query "…"`) are not
//! looked at, as upstream does not.
//!
//! The analysis is bounded: past [`MAX_WORK`] rule names tried or
//! [`MAX_RELATIONS`] relations a group is treated as indeterminate.
//!
//! Batches differ from upstream's on purpose: Prometheus 3 runs all rules
//! without dependencies first, then those with both, then those without
//! dependents, which evaluates a rule before an earlier one it reads when
//! a group reads a rule defined after it. Here batches are runs of
//! consecutive rules with no relation among them (and no two writing the
//! same name), so every rule sees exactly what it sees when the group is
//! evaluated in order.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use wasmetheus_model::storage::{MatchType, Matcher};
use wasmetheus_promql::ast::{Expr, VectorSelector};

use crate::evaluate::Rule;

/// The most relations a group's map holds: a group whose rules read each
/// other more (name regexes matching most of thousands of rules) runs in
/// order, so the map's memory stays bounded.
pub const MAX_RELATIONS: usize = 1_000_000;

/// The most rule names a group's analysis tries against selectors (a
/// regex name matcher tries every rule): past it the group runs in order,
/// so the analysis' time stays bounded.
pub const MAX_WORK: usize = 10_000_000;

/// The relations between the rules of a group, by index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DependencyMap {
    /// Per rule: the rules that read its output, ascending.
    dependents: Vec<Vec<usize>>,
    /// Per rule: the rules whose output it reads, ascending.
    dependencies: Vec<Vec<usize>>,
    /// Per rule: its name (what it writes), for the batches.
    names: Vec<String>,
}

impl DependencyMap {
    /// The relations of `rules`, or `None` when they cannot be known.
    /// A group of one rule or none has no relations.
    pub fn build(rules: &[Rule]) -> Option<DependencyMap> {
        let names: Vec<String> = rules.iter().map(|r| r.name().to_owned()).collect();
        let alerting: Vec<bool> = rules
            .iter()
            .map(|r| matches!(r, Rule::Alerting(_)))
            .collect();
        let queries: Vec<&str> = rules.iter().map(Rule::query).collect();
        Self::from_parts(&names, &alerting, &queries)
    }

    /// [`build`](Self::build) from each rule's name, kind (`true`:
    /// alerting) and expression; `None` as well when the three lists
    /// differ in length.
    pub fn from_parts(names: &[String], alerting: &[bool], queries: &[&str]) -> Option<Self> {
        let n = names.len();
        if alerting.len() != n || queries.len() != n {
            return None;
        }
        let mut map = DependencyMap {
            dependents: vec![Vec::new(); n],
            dependencies: vec![Vec::new(); n],
            names: names.to_vec(),
        };
        if n <= 1 {
            return Some(map);
        }
        // Rules by name, for selectors with an equality name matcher (most
        // of them): no need to try every rule.
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (j, name) in names.iter().enumerate() {
            by_name.entry(name.as_str()).or_default().push(j);
        }
        let all: Vec<usize> = (0..n).collect();
        let candidates = |matchers: &[&Matcher]| -> &[usize] {
            match matchers.iter().find(|m| m.kind == MatchType::Equal) {
                Some(m) => by_name.get(m.value.as_str()).map_or(&[], Vec::as_slice),
                None => &all,
            }
        };
        let (mut edges, mut work) = (0usize, 0usize);
        for (i, query) in queries.iter().enumerate() {
            // An expression that does not parse cannot be looked into.
            let expr = wasmetheus_promql::parser::parse(query).ok()?;
            let mut selectors = Vec::new();
            collect_selectors(&expr, &mut selectors);
            for selector in selectors {
                let name_matchers = matchers_of(selector, "__name__");
                if name_matchers.is_empty() {
                    return None;
                }
                // Bounded time: every rule tried for a name costs.
                work += candidates(&name_matchers).len();
                if work > MAX_WORK {
                    return None;
                }
                let matches_name = |name: &str| name_matchers.iter().all(|m| m.matches(name));
                if matches_name("ALERTS") || matches_name("ALERTS_FOR_STATE") {
                    let alertname = matchers_of(selector, "alertname");
                    if alertname.is_empty() {
                        return None;
                    }
                    work += candidates(&alertname).len();
                    for &j in candidates(&alertname) {
                        let is_alerting = alerting.get(j) == Some(&true);
                        if j != i && is_alerting && alertname.iter().all(|m| m.matches(&names[j])) {
                            edges += usize::from(map.add(j, i));
                        }
                    }
                }
                for &j in candidates(&name_matchers) {
                    if j != i && matches_name(&names[j]) {
                        edges += usize::from(map.add(j, i));
                    }
                }
                if edges > MAX_RELATIONS {
                    return None;
                }
            }
        }
        Some(map)
    }

    /// `reader` reads `source`'s output; whether that is new.
    fn add(&mut self, source: usize, reader: usize) -> bool {
        let Err(at) = self.dependents[source].binary_search(&reader) else {
            return false;
        };
        self.dependents[source].insert(at, reader);
        if let Err(at) = self.dependencies[reader].binary_search(&source) {
            self.dependencies[reader].insert(at, source);
        }
        true
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The rules that read rule `i`'s output (upstream's `dependents`).
    pub fn dependents(&self, i: usize) -> &[usize] {
        self.dependents.get(i).map_or(&[], Vec::as_slice)
    }

    /// The rules whose output rule `i` reads (upstream's `dependencies`).
    pub fn dependencies(&self, i: usize) -> &[usize] {
        self.dependencies.get(i).map_or(&[], Vec::as_slice)
    }

    /// Neither reads nor is read by another rule (upstream's
    /// `isIndependent`).
    pub fn is_independent(&self, i: usize) -> bool {
        self.dependents(i).is_empty() && self.dependencies(i).is_empty()
    }

    /// The group's rules as runs of consecutive rules that may be
    /// evaluated at once: a rule starts a new run when it reads, is read
    /// by, or has the name of a rule already in the current one.
    pub fn batches(&self) -> Vec<Range<usize>> {
        let n = self.len();
        let mut out = Vec::new();
        let mut start = 0;
        let mut run_names: HashSet<&str> = HashSet::new();
        for i in 0..n {
            let in_run = |j: &usize| (start..i).contains(j);
            let conflicts = self.dependencies(i).iter().any(in_run)
                || self.dependents(i).iter().any(in_run)
                || run_names.contains(self.names[i].as_str());
            if conflicts {
                out.push(start..i);
                start = i;
                run_names.clear();
            }
            run_names.insert(self.names[i].as_str());
        }
        if n > 0 {
            out.push(start..n);
        }
        out
    }
}

/// The batches of `rules` (see [`DependencyMap::batches`]); one rule per
/// batch when the relations cannot be known.
pub fn batches(rules: &[Rule]) -> Vec<Range<usize>> {
    match DependencyMap::build(rules) {
        Some(map) => map.batches(),
        None => (0..rules.len()).map(|i| i..i + 1).collect(),
    }
}

/// The matchers of `selector` on label `name` (the metric name written
/// before the braces is one on `__name__`).
fn matchers_of<'a>(selector: &'a VectorSelector, name: &str) -> Vec<&'a Matcher> {
    selector
        .matchers
        .iter()
        .filter(|m| m.name == name)
        .collect()
}

/// Every vector selector of `expr`, in matrix selectors and subqueries
/// too (upstream's `parser.Inspect`).
fn collect_selectors<'a>(expr: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match expr {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::VectorSelector(s) => out.push(s),
        Expr::MatrixSelector(m) => out.push(&m.selector),
        Expr::Subquery(e) => collect_selectors(&e.expr, out),
        Expr::Paren(e) => collect_selectors(&e.expr, out),
        Expr::Unary(e) => collect_selectors(&e.expr, out),
        Expr::Binary(e) => {
            collect_selectors(&e.lhs, out);
            collect_selectors(&e.rhs, out);
        }
        Expr::Aggregate(e) => {
            if let Some(param) = &e.param {
                collect_selectors(param, out);
            }
            collect_selectors(&e.expr, out);
        }
        Expr::Call(e) => {
            for arg in &e.args {
                collect_selectors(arg, out);
            }
        }
    }
}
