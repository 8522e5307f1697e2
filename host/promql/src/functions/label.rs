//! Functions of labels: `label_replace`, `label_join`, `sort_by_label`,
//! `sort_by_label_desc`, `absent`, `absent_over_time` (whose result
//! carries the selector's equality matchers) and `info` (which adds an
//! info series' data labels).

use std::cmp::Ordering;
use std::sync::Arc;

use regex::Regex;
use wasmetheus_model::Label;
use wasmetheus_model::storage::{MatchType, Matcher};

use super::Context;
use super::instant::warn_sort_in_range_query;
use crate::ast::{Call, Expr, VectorSelector};
use crate::eval_types::{Error, Result, Sample, Val, check_unique, err};
use crate::labels::{get_label, set_label};

fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Label names must be valid UTF-8; a Go string literal may not be.
fn utf8_literal(e: &Expr) -> bool {
    match e {
        Expr::String(s) => s.is_utf8(),
        Expr::Paren(p) => utf8_literal(&p.expr),
        _ => true,
    }
}

/// Go's `Regexp.Expand` template to the `regex` crate's: both take `$1`,
/// `${1}`, `$name` and `$$`, and both take the longest name after `$`, so
/// the template carries over unchanged.
fn go_template(repl: &str) -> String {
    repl.to_owned()
}

pub(super) fn label_replace(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let dst = ctx.eval_string(&c.args[1], t)?;
    let repl = ctx.eval_string(&c.args[2], t)?;
    let src = ctx.eval_string(&c.args[3], t)?;
    let re_text = ctx.eval_string(&c.args[4], t)?;
    // Prometheus' text names the expression only, not the parser's error.
    let re = Regex::new(&format!("^(?s:{re_text})$")).map_err(|_| {
        Error::Eval(format!(
            "invalid regular expression in label_replace(): {re_text}"
        ))
    })?;
    if !valid_label_name(&dst) || !utf8_literal(&c.args[1]) {
        return err(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let value = get_label(&s.labels, &src).to_owned();
        if let Some(caps) = re.captures(&value) {
            let mut res = String::new();
            caps.expand(&go_template(&repl), &mut res);
            set_label(Arc::make_mut(&mut s.labels), &dst, &res);
            if dst == "__name__" {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    check_unique(&out)?;
    Ok(Val::Vector(out))
}

pub(super) fn label_join(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    let dst = ctx.eval_string(&c.args[1], t)?;
    let sep = ctx.eval_string(&c.args[2], t)?;
    let mut srcs = Vec::new();
    for a in &c.args[3..] {
        srcs.push(ctx.eval_string(a, t)?);
    }
    if !valid_label_name(&dst) || !utf8_literal(&c.args[1]) {
        return err(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let joined = srcs
            .iter()
            .map(|n| get_label(&s.labels, n))
            .collect::<Vec<_>>()
            .join(&sep);
        set_label(Arc::make_mut(&mut s.labels), &dst, &joined);
        if dst == "__name__" {
            s.drop_name = false;
        }
        out.push(s);
    }
    check_unique(&out)?;
    Ok(Val::Vector(out))
}

fn sort_by_labels(ctx: &mut dyn Context, c: &Call, t: i64, desc: bool) -> Result<Val> {
    warn_sort_in_range_query(ctx, c);
    let mut v = ctx.eval_vector(&c.args[0], t)?;
    let mut names = Vec::new();
    for a in &c.args[1..] {
        names.push(ctx.eval_string(a, t)?);
    }
    v.sort_by(|a, b| {
        for n in &names {
            let (x, y) = (get_label(&a.labels, n), get_label(&b.labels, n));
            if x != y {
                let o = natural_cmp(x, y);
                return if desc { o.reverse() } else { o };
            }
        }
        let o = a.labels.cmp(&b.labels);
        if desc { o.reverse() } else { o }
    });
    Ok(Val::Vector(v))
}

pub(super) fn sort_by_label(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    sort_by_labels(ctx, c, t, false)
}

pub(super) fn sort_by_label_desc(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    sort_by_labels(ctx, c, t, true)
}

/// Natural order of strings (digit runs compare as numbers), as
/// `sort_by_label` uses.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let chunks = |s: &str| {
        let mut out: Vec<(bool, String)> = Vec::new();
        for ch in s.chars() {
            let d = ch.is_ascii_digit();
            match out.last_mut() {
                Some((ld, text)) if *ld == d => text.push(ch),
                _ => out.push((d, ch.to_string())),
            }
        }
        out
    };
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = if x.0 && y.0 {
            let (xt, yt) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt))
        } else {
            x.1.cmp(&y.1)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

/// The labels `absent` reports: the equality matchers of a selector
/// argument, except a label matched twice.
fn absent_labels(arg: &Expr) -> Vec<Label> {
    let matchers = match arg {
        Expr::VectorSelector(vs) => &vs.matchers,
        Expr::MatrixSelector(ms) => &ms.selector.matchers,
        _ => return Vec::new(),
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut has = std::collections::HashSet::new();
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.kind == MatchType::Equal && !has.contains(&m.name) {
            set_label(&mut labels, &m.name, &m.value);
            has.insert(m.name.clone());
        } else {
            labels.retain(|l| l.name != m.name);
        }
    }
    labels
}

/// The one sample `absent` and `absent_over_time` give for no input.
fn absent_sample(arg: &Expr, t: i64) -> Val {
    Val::Vector(vec![Sample {
        h: None,
        labels: Arc::new(absent_labels(arg)),
        t,
        v: 1.0,
        drop_name: false,
    }])
}

pub(super) fn absent(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let v = ctx.eval_vector(&c.args[0], t)?;
    if !v.is_empty() {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(absent_sample(&c.args[0], t))
}

pub(super) fn absent_over_time(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let (m, ..) = ctx.eval_matrix(&c.args[0], t)?;
    if !m.is_empty() {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(absent_sample(&c.args[0], t))
}

/// The labels that identify the target an info series describes.
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

/// `info(v, {selector})`: adds the data labels of the info series (by
/// default `target_info`) sharing `instance` and `job` with each series.
pub(super) fn info(ctx: &mut dyn Context, c: &Call, t: i64) -> Result<Val> {
    let base = ctx.eval_vector(&c.args[0], t)?;
    let mut selector = match c.args.get(1) {
        Some(Expr::VectorSelector(vs)) => vs.clone(),
        Some(_) => return err("info(): the second argument must be a vector selector"),
        None => VectorSelector {
            name: String::new(),
            matchers: Vec::new(),
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: true,
            span: c.span,
        },
    };
    let (name_matchers, data_matchers): (Vec<Matcher>, Vec<Matcher>) = selector
        .matchers
        .iter()
        .cloned()
        .partition(|m| m.name == "__name__");
    let name_matchers = if name_matchers.is_empty() {
        let m = Matcher::equal("__name__", "target_info");
        selector.matchers.push(m.clone());
        vec![m]
    } else {
        name_matchers
    };
    // A base series that is itself an info series (by the positive name
    // matchers) is left alone.
    let has_positive = name_matchers
        .iter()
        .any(|m| matches!(m.kind, MatchType::Equal | MatchType::Regex));
    if !has_positive {
        // Only series named like info metrics describe targets.
        selector.matchers.push(
            Matcher::new(MatchType::Regex, "__name__", ".+_info")
                .map_err(|e| Error::Eval(e.to_string()))?,
        );
    }
    // The info series are read as of the time the base samples come
    // from (their `@` and offsets), and per info metric and target only
    // the newest series counts, so a churned series stops enriching at
    // once instead of after the lookback.
    let ref_t = ctx.reference_time(&c.args[0], t);
    let mut infos = ctx.vector_selector(&selector, ref_t)?;
    infos.sort_by_key(|i| std::cmp::Reverse(i.t));
    let mut seen = std::collections::HashSet::new();
    infos.retain(|i| {
        let key: Vec<&str> = std::iter::once(get_label(&i.labels, "__name__"))
            .chain(IDENTIFYING_LABELS.iter().map(|l| get_label(&i.labels, l)))
            .collect();
        seen.insert(key.join("\u{ff}"))
    });
    let mut out = Vec::with_capacity(base.len());
    for mut s in base {
        let name = get_label(&s.labels, "__name__");
        if has_positive && name_matchers.iter().all(|m| m.matches(name)) {
            out.push(s);
            continue;
        }
        let matching: Vec<&Sample> = infos
            .iter()
            .filter(|i| {
                IDENTIFYING_LABELS
                    .iter()
                    .all(|l| get_label(&i.labels, l) == get_label(&s.labels, l))
            })
            .collect();
        if matching.is_empty() {
            if data_matchers.iter().all(|m| m.matches_empty()) {
                out.push(s);
            }
            continue;
        }
        let mut add: Vec<Label> = Vec::new();
        for i in matching {
            for l in i.labels.iter() {
                if l.name == "__name__"
                    || IDENTIFYING_LABELS.contains(&l.name.as_str())
                    || !get_label(&s.labels, &l.name).is_empty()
                    || (!data_matchers.is_empty()
                        && !data_matchers.iter().any(|m| m.name == l.name))
                {
                    continue;
                }
                add.push(l.clone());
            }
        }
        add.sort();
        for w in add.windows(2) {
            if w[0].name == w[1].name && w[0].value != w[1].value {
                return err(format!(
                    "conflicting label: {} has values {:?} and {:?} in different info metrics",
                    w[0].name, w[0].value, w[1].value
                ));
            }
        }
        for l in add {
            set_label(Arc::make_mut(&mut s.labels), &l.name, &l.value);
        }
        out.push(s);
    }
    Ok(Val::Vector(out))
}
