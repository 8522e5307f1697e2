//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! Prometheus' vector matching (`on`, `ignoring`, `group_left/right`),
//! set operators, comparison filtering and its error texts.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use wasmetheus_model::Label;

use super::Evaluator;
use crate::ast::{BinOp, BinaryExpr, Cardinality, VectorMatching};
use crate::eval_types::{Result, Sample, Val, any_histogram, err, unsupported};
use crate::labels::{Interner, Labels, get_label, set_label, stable_address};

/// The float result of `l op r` and whether a comparison keeps it.
fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
        // Histogram trimming and set operators never reach here on floats.
        _ => (l, true),
    }
}

/// Whether the operator drops the metric name (arithmetic does,
/// comparisons without `bool` do not).
fn drops_name(op: BinOp) -> bool {
    !op.is_comparison() && !op.is_set()
}

/// The matching key of a series: the `on` labels, or all but the
/// `ignoring` labels and `__name__`.
fn signature(labels: &[Label], m: &VectorMatching) -> Vec<Label> {
    if m.on {
        labels
            .iter()
            .filter(|l| m.labels.contains(&l.name))
            .cloned()
            .collect()
    } else {
        labels
            .iter()
            .filter(|l| l.name != "__name__" && !m.labels.contains(&l.name))
            .cloned()
            .collect()
    }
}

/// What one binary operator node computes again at every step, kept
/// across steps: each input label set's matching signature and each
/// matched pair's result labels, interned so that equal label sets are
/// one shared set (compared by address) and a series selected once is
/// matched without allocating.
#[derive(Default)]
pub(crate) struct BinaryCache {
    /// Input label set address → (the input, kept alive so the address
    /// stays its own, and its signature).
    signatures: FxHashMap<usize, (Labels, Labels)>,
    /// (many side, one side) addresses → (both inputs, the result).
    results: FxHashMap<(usize, usize), (Labels, Labels, Labels)>,
    interned: Interner,
}

impl BinaryCache {
    fn signature(&mut self, labels: &Labels, m: &VectorMatching) -> Labels {
        let address = stable_address(labels);
        if let Some(a) = address
            && let Some((_, sig)) = self.signatures.get(&a)
        {
            return Arc::clone(sig);
        }
        let sig = self.interned.intern(signature(labels, m));
        if let Some(a) = address {
            self.signatures
                .insert(a, (Arc::clone(labels), Arc::clone(&sig)));
        }
        sig
    }

    fn result(&mut self, lhs: &Labels, rhs: &Labels, m: &VectorMatching) -> Labels {
        let key = stable_address(lhs).zip(stable_address(rhs));
        if let Some(k) = key
            && let Some((.., result)) = self.results.get(&k)
        {
            return Arc::clone(result);
        }
        let result = self.interned.intern(result_labels(lhs, rhs, m));
        if let Some(k) = key {
            self.results
                .insert(k, (Arc::clone(lhs), Arc::clone(rhs), Arc::clone(&result)));
        }
        result
    }
}

impl Evaluator<'_> {
    pub(super) fn binary(&mut self, b: &BinaryExpr, t: i64) -> Result<Val> {
        let lhs = self.eval(&b.lhs, t)?;
        let rhs = self.eval(&b.rhs, t)?;
        let set_op = matches!(b.op, BinOp::And | BinOp::Or | BinOp::Unless);
        if !set_op
            && [&lhs, &rhs]
                .iter()
                .any(|v| matches!(v, Val::Vector(s) if any_histogram(s)))
        {
            return unsupported(&format!("the {} operator", b.op.as_str()));
        }
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let (v, keep) = elem(b.op, l, r);
                if b.op.is_comparison() {
                    Ok(Val::Scalar(if keep { 1.0 } else { 0.0 }))
                } else {
                    Ok(Val::Scalar(v))
                }
            }
            (Val::Vector(l), Val::Scalar(r)) => Ok(Val::Vector(vector_scalar(b, l, r, false))),
            (Val::Scalar(l), Val::Vector(r)) => Ok(Val::Vector(vector_scalar(b, r, l, true))),
            (Val::Vector(l), Val::Vector(r)) => {
                let cache = self
                    .binaries
                    .entry(b as *const BinaryExpr as usize)
                    .or_default();
                Ok(Val::Vector(vector_vector(b, l, r, cache)?))
            }
            (l, r) => err(format!(
                "binary operation between {} and {} is not supported",
                l.type_name(),
                r.type_name()
            )),
        }
    }
}

/// `vector op scalar` (or `scalar op vector` when `swap`).
fn vector_scalar(b: &BinaryExpr, vec: Vec<Sample>, s: f64, swap: bool) -> Vec<Sample> {
    let drop = scalar_op_drops_name(b);
    vec.into_iter()
        .filter_map(|mut sample| {
            sample.v = scalar_op(b, sample.v, s, swap)?;
            sample.drop_name |= drop;
            Some(sample)
        })
        .collect()
}

/// One element of `vector op scalar` (or `scalar op vector` when `swap`):
/// the result, or `None` where a comparison filters the element out.
pub(crate) fn scalar_op(b: &BinaryExpr, value: f64, s: f64, swap: bool) -> Option<f64> {
    let (l, r) = if swap { (s, value) } else { (value, s) };
    let (mut v, mut keep) = elem(b.op, l, r);
    // A comparison keeps the vector's value even with the scalar on the
    // left.
    if b.op.is_comparison() && swap {
        v = value;
    }
    if b.return_bool {
        v = if keep { 1.0 } else { 0.0 };
        keep = true;
    }
    keep.then_some(v)
}

/// Whether `vector op scalar` drops the metric name.
pub(crate) fn scalar_op_drops_name(b: &BinaryExpr) -> bool {
    drops_name(b.op) || b.return_bool
}

fn vector_vector(
    b: &BinaryExpr,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    cache: &mut BinaryCache,
) -> Result<Vec<Sample>> {
    let m = &b.matching;
    // Signatures are interned: one address per distinct signature.
    let mut sig = |s: &Sample| Arc::as_ptr(&cache.signature(&s.labels, m)) as usize;
    match b.op {
        BinOp::And => {
            let sigs: FxHashSet<usize> = rhs.iter().map(&mut sig).collect();
            return Ok(lhs.into_iter().filter(|s| sigs.contains(&sig(s))).collect());
        }
        BinOp::Unless => {
            let sigs: FxHashSet<usize> = rhs.iter().map(&mut sig).collect();
            return Ok(lhs
                .into_iter()
                .filter(|s| !sigs.contains(&sig(s)))
                .collect());
        }
        BinOp::Or => {
            let sigs: FxHashSet<usize> = lhs.iter().map(&mut sig).collect();
            let mut out = lhs;
            out.extend(rhs.into_iter().filter(|s| !sigs.contains(&sig(s))));
            return Ok(out);
        }
        _ => {}
    }
    let fill = m.fill;
    if (lhs.is_empty() && fill.lhs.is_none()) || (rhs.is_empty() && fill.rhs.is_none()) {
        return Ok(Vec::new());
    }
    // One-to-many is many-to-one with the sides swapped.
    let swapped = m.card == Cardinality::OneToMany;
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: FxHashMap<usize, (Labels, &Sample)> =
        FxHashMap::with_capacity_and_hasher(rhs.len(), Default::default());
    for rs in &rhs {
        let sig = cache.signature(&rs.labels, m);
        let key = Arc::as_ptr(&sig) as usize;
        if let Some((_, dup)) = right.get(&key) {
            let side = if swapped { "left" } else { "right" };
            let group = if m.on {
                sig.as_ref().clone()
            } else {
                // Prometheus prints the matched labels: for `ignoring`
                // those are the ignored ones present on the series.
                rs.labels
                    .iter()
                    .filter(|l| m.labels.contains(&l.name))
                    .cloned()
                    .collect()
            };
            // Sorted, so the message is stable.
            let (a, b) = if rs.labels < dup.labels {
                (&rs.labels, &dup.labels)
            } else {
                (&dup.labels, &rs.labels)
            };
            return err(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                go_labels(&group),
                go_labels(a),
                go_labels(b)
            ));
        }
        right.insert(key, (sig, rs));
    }
    // Signatures matched so far, and (signature, result labels) pairs
    // produced: all interned, so compared by address.
    let mut matched: FxHashSet<usize> = FxHashSet::default();
    let mut produced: FxHashSet<(usize, usize)> = FxHashSet::default();
    let mut out = Vec::new();
    let no_labels = Labels::default();
    for ls in &lhs {
        let sig = cache.signature(&ls.labels, m);
        let key = Arc::as_ptr(&sig) as usize;
        let Some((_, rs)) = right.get(&key) else {
            // `fill_right` (in the swapped frame of `group_right` too)
            // stands in for the missing "one" side; the labels that
            // `group_x` would copy from it cannot be filled.
            if let Some(fv) = fill.rhs {
                let (fl, fr) = if swapped { (fv, ls.v) } else { (ls.v, fv) };
                let labels = cache.result(&ls.labels, &no_labels, m);
                push(&mut out, b, fl, fr, labels, ls.drop_name, ls.t);
            }
            continue;
        };
        let (fl, fr) = if swapped { (rs.v, ls.v) } else { (ls.v, rs.v) };
        let (mut v, keep) = elem(b.op, fl, fr);
        let labels = cache.result(&ls.labels, &rs.labels, m);
        let result_key = Arc::as_ptr(&labels) as usize;
        let first = matched.insert(key);
        if m.card == Cardinality::OneToOne {
            if !first {
                return err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
        } else if !produced.insert((key, result_key)) {
            return err("multiple matches for labels: grouping labels must ensure unique matches");
        }
        // Matching errors count even for elements a comparison filters
        // away, as in Prometheus.
        if b.return_bool {
            v = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        out.push(Sample {
            h: None,
            labels,
            t: ls.t,
            v,
            drop_name: b.return_bool || drops_name(b.op) || ls.drop_name,
        });
    }
    // `fill_left` stands in for a missing "many" side: one result per
    // unmatched match group, labelled with the group's labels.
    if let Some(fv) = fill.lhs {
        for rs in &rhs {
            let sig = cache.signature(&rs.labels, m);
            let key = Arc::as_ptr(&sig) as usize;
            if !matched.insert(key) {
                continue;
            }
            let (fl, fr) = if swapped { (rs.v, fv) } else { (fv, rs.v) };
            push(&mut out, b, fl, fr, sig, true, rs.t);
        }
    }
    Ok(out)
}

/// The labels of a result element (Prometheus' `resultMetric`); the name
/// stays until the end of the evaluation, the caller flags it.
fn result_labels(lhs: &[Label], rhs: &[Label], m: &VectorMatching) -> Vec<Label> {
    let mut labels = lhs.to_vec();
    if m.card == Cardinality::OneToOne {
        if m.on {
            labels.retain(|l| m.labels.contains(&l.name));
        } else {
            labels.retain(|l| !m.labels.contains(&l.name));
        }
    }
    for name in &m.include {
        let v = get_label(rhs, name).to_owned();
        set_label(&mut labels, name, &v);
    }
    labels
}

/// Labels as Go's `labels.Labels.String()` prints them: all in braces,
/// `__name__` included.
pub(crate) fn go_labels(labels: &[Label]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// Appends `fl op fr` for a pair with one side filled in (a comparison
/// keeps `fl`, the left-hand value, as always).
fn push(
    out: &mut Vec<Sample>,
    b: &BinaryExpr,
    fl: f64,
    fr: f64,
    labels: Labels,
    drop_name: bool,
    t: i64,
) {
    let (mut v, keep) = elem(b.op, fl, fr);
    if b.return_bool {
        v = if keep { 1.0 } else { 0.0 };
    } else if !keep {
        return;
    }
    out.push(Sample {
        h: None,
        labels,
        t,
        v,
        drop_name: b.return_bool || drops_name(b.op) || drop_name,
    });
}
