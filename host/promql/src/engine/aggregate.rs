//! Aggregation operators with `by`/`without`, computed as Prometheus'
//! `aggregation()` does (Kahan sums, the overflow-safe mean, Welford's
//! variance), plus the k-element ones that keep their input series.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use wasmetheus_model::Label;

use super::Evaluator;
use crate::ast::{AggregateExpr, AggregateOp};
use crate::eval_types::{Result, Sample, Val, any_histogram, err, unsupported};
use crate::float::{go_float, kahan_sum_inc, quantile};
use crate::labels::{Interner, Labels, set_label, stable_address};

/// The labels an aggregation groups by.
fn group_labels(labels: &[Label], grouping: &[String], without: bool) -> Vec<Label> {
    labels
        .iter()
        .filter(|l| {
            if without {
                l.name != "__name__" && !grouping.contains(&l.name)
            } else {
                grouping.contains(&l.name)
            }
        })
        .cloned()
        .collect()
}

/// The group label sets of one aggregation node, interned so that equal
/// groups share one label set across steps, and remembered per input
/// label set so a series selected once is grouped once.
#[derive(Default)]
pub(crate) struct GroupCache {
    /// Input label set address → (the input, kept alive so the address
    /// stays its own, and its group).
    by_address: FxHashMap<usize, (Labels, Labels)>,
    interned: Interner,
}

impl GroupCache {
    pub(crate) fn intern(&mut self, key: Vec<Label>) -> Labels {
        self.interned.intern(key)
    }

    pub(crate) fn group(&mut self, labels: &Labels, grouping: &[String], without: bool) -> Labels {
        let address = stable_address(labels);
        if let Some(a) = address
            && let Some((_, g)) = self.by_address.get(&a)
        {
            return Arc::clone(g);
        }
        let g = self.intern(group_labels(labels, grouping, without));
        if let Some(a) = address {
            self.by_address
                .insert(a, (Arc::clone(labels), Arc::clone(&g)));
        }
        g
    }
}

/// The running state of one group of a value aggregation (`sum`, `avg`,
/// `count`, `group`, `min`, `max`, `stddev`, `stdvar`), computed as
/// Prometheus does: Kahan sums, a mean that switches to incremental form
/// when the sum overflows, Welford's variance.
#[derive(Default, Clone, Copy)]
pub(crate) struct Accumulator {
    count: f64,
    value: f64,
    kahan: f64,
    mean: f64,
    incremental: bool,
}

impl Accumulator {
    /// Adds one member's value.
    pub(crate) fn add(&mut self, op: AggregateOp, f: f64) {
        let g = self;
        match op {
            AggregateOp::Sum => {
                (g.value, g.kahan) = kahan_sum_inc(f, g.value, g.kahan);
            }
            AggregateOp::Avg => {
                g.count += 1.0;
                if !g.incremental {
                    let (nv, nc) = kahan_sum_inc(f, g.value, g.kahan);
                    if g.count == 1.0 || !nv.is_infinite() {
                        (g.value, g.kahan) = (nv, nc);
                        return;
                    }
                    g.incremental = true;
                    g.mean = g.value / (g.count - 1.0);
                    g.kahan /= g.count - 1.0;
                }
                let q = (g.count - 1.0) / g.count;
                (g.mean, g.kahan) = kahan_sum_inc(f / g.count, q * g.mean, q * g.kahan);
            }
            AggregateOp::Count | AggregateOp::CountValues => g.count += 1.0,
            AggregateOp::Group => g.value = 1.0,
            AggregateOp::Min => {
                if g.count == 0.0 || g.value > f || g.value.is_nan() {
                    g.value = f;
                }
                g.count += 1.0;
            }
            AggregateOp::Max => {
                if g.count == 0.0 || g.value < f || g.value.is_nan() {
                    g.value = f;
                }
                g.count += 1.0;
            }
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                g.count += 1.0;
                let delta = f - g.mean;
                g.mean += delta / g.count;
                g.value += delta * (f - g.mean);
            }
            AggregateOp::Quantile
            | AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => {}
        }
    }

    /// The group's value once every member is added (value aggregations
    /// only).
    pub(crate) fn result(&self, op: AggregateOp) -> f64 {
        let g = self;
        match op {
            AggregateOp::Sum => {
                if g.kahan.is_finite() {
                    g.value + g.kahan
                } else {
                    g.value
                }
            }
            AggregateOp::Avg => {
                if g.incremental {
                    g.mean + g.kahan
                } else {
                    (g.value + g.kahan) / g.count
                }
            }
            AggregateOp::Count | AggregateOp::CountValues => g.count,
            AggregateOp::Stdvar => g.value / g.count,
            AggregateOp::Stddev => (g.value / g.count).sqrt(),
            _ => g.value,
        }
    }
}

/// Whether `op` reduces a group to one value computed by [`Accumulator`].
pub(crate) fn is_value_aggregation(op: AggregateOp) -> bool {
    matches!(
        op,
        AggregateOp::Sum
            | AggregateOp::Avg
            | AggregateOp::Count
            | AggregateOp::Group
            | AggregateOp::Min
            | AggregateOp::Max
            | AggregateOp::Stddev
            | AggregateOp::Stdvar
    )
}

/// Running state of one group.
#[derive(Default)]
struct Group {
    labels: Labels,
    drop_name: bool,
    acc: Accumulator,
    values: Vec<f64>,
    members: Vec<Sample>,
}

impl Evaluator<'_> {
    pub(super) fn aggregate(&mut self, a: &AggregateExpr, t: i64) -> Result<Val> {
        let param = match &a.param {
            None => None,
            Some(p) => Some(self.eval(p, t)?),
        };
        let mut input = self.eval_vector(&a.expr, t)?;
        if any_histogram(&input) {
            match a.op {
                // Presence is all they read.
                AggregateOp::Count | AggregateOp::Group => {
                    for s in &mut input {
                        s.h = None;
                    }
                }
                // They pick members, whatever their values.
                AggregateOp::Limitk | AggregateOp::LimitRatio => {}
                // Prometheus leaves histograms out of these, with an info.
                AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::Min
                | AggregateOp::Max
                | AggregateOp::Stddev
                | AggregateOp::Stdvar
                | AggregateOp::Quantile => {
                    input.retain(|s| s.h.is_none());
                    self.info(
                        format!("ignored histogram in {} aggregation", a.op.as_str()),
                        a.span,
                    );
                }
                op => return unsupported(&format!("the {} aggregation", op.as_str())),
            }
        }
        let mut grouping = a.grouping.clone();
        grouping.sort();
        let mut groups: Vec<Group> = Vec::new();
        // Interned group label set address → index in `groups`.
        let mut index: FxHashMap<usize, usize> = FxHashMap::default();

        let mut k = 0i64;
        let mut ratio = 0.0;
        match a.op {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
                let Some(Val::Scalar(p)) = param else {
                    return err("expected a scalar parameter");
                };
                if p.is_nan() {
                    return err("Parameter value is NaN");
                }
                k = if p >= i64::MAX as f64 {
                    i64::MAX
                } else if p <= i64::MIN as f64 {
                    i64::MIN
                } else {
                    p as i64
                };
                if k < 1 {
                    return Ok(Val::Vector(Vec::new()));
                }
            }
            AggregateOp::LimitRatio => {
                let Some(Val::Scalar(p)) = param else {
                    return err("expected a scalar parameter");
                };
                if p.is_nan() {
                    return err("Ratio value is NaN");
                }
                ratio = p;
                if !(-1.0..=1.0).contains(&p) {
                    ratio = p.clamp(-1.0, 1.0);
                    let pos = a.param.as_ref().map(|p| p.span()).unwrap_or(a.span);
                    self.warn(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to {}",
                            go_float(p),
                            go_float(ratio)
                        ),
                        pos,
                    );
                }
                if ratio == 0.0 {
                    return Ok(Val::Vector(Vec::new()));
                }
            }
            AggregateOp::Quantile => {
                let Some(Val::Scalar(q)) = param else {
                    return err("expected a scalar parameter");
                };
                if !(0.0..=1.0).contains(&q) {
                    let pos = a.param.as_ref().map(|p| p.span()).unwrap_or(a.span);
                    self.warn(
                        format!(
                            "quantile value should be between 0 and 1, got {}",
                            go_float(q)
                        ),
                        pos,
                    );
                }
            }
            _ => {}
        }

        let count_values_label = match (&a.op, &param) {
            (AggregateOp::CountValues, Some(Val::Str(s))) => Some(s.clone()),
            (AggregateOp::CountValues, _) => return err("expected a string parameter"),
            _ => None,
        };
        if let Some(l) = &count_values_label
            && !valid_label_name(l)
        {
            return err(format!("invalid label name {l:?}"));
        }

        let cache = self
            .groupings
            .entry(a as *const AggregateExpr as usize)
            .or_default();
        for s in input {
            let key = match &count_values_label {
                Some(l) => {
                    let mut key = group_labels(&s.labels, &grouping, a.without);
                    set_label(&mut key, l, &go_format_value(s.v));
                    cache.intern(key)
                }
                None => cache.group(&s.labels, &grouping, a.without),
            };
            let gi = *index.entry(Arc::as_ptr(&key) as usize).or_insert_with(|| {
                groups.push(Group {
                    labels: key,
                    ..Group::default()
                });
                groups.len() - 1
            });
            let g = &mut groups[gi];
            g.drop_name |= s.drop_name;
            let f = s.v;
            match a.op {
                AggregateOp::Quantile => g.values.push(f),
                AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio => g.members.push(s),
                op => g.acc.add(op, f),
            }
        }

        let mut out = Vec::new();
        for g in groups {
            let v = match a.op {
                AggregateOp::Quantile => {
                    let Some(Val::Scalar(q)) = param else {
                        unreachable!("checked above")
                    };
                    let mut values = g.values;
                    quantile(q, &mut values)
                }
                AggregateOp::Topk | AggregateOp::Bottomk => {
                    let mut members = g.members;
                    let top = a.op == AggregateOp::Topk;
                    members.sort_by(|x, y| {
                        // NaN always sorts last: it is neither top nor bottom.
                        match (x.v.is_nan(), y.v.is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ if top => y.v.partial_cmp(&x.v).unwrap(),
                            _ => x.v.partial_cmp(&y.v).unwrap(),
                        }
                    });
                    members.truncate(usize::try_from(k).unwrap_or(usize::MAX));
                    out.extend(members);
                    continue;
                }
                AggregateOp::Limitk => {
                    let mut members = g.members;
                    members.truncate(usize::try_from(k).unwrap_or(usize::MAX));
                    out.extend(members);
                    continue;
                }
                AggregateOp::LimitRatio => {
                    out.extend(
                        g.members
                            .into_iter()
                            .filter(|s| ratio_sampled(ratio, &s.labels)),
                    );
                    continue;
                }
                op => g.acc.result(op),
            };
            out.push(Sample {
                h: None,
                labels: g.labels,
                t,
                v,
                drop_name: g.drop_name,
            });
        }
        Ok(Val::Vector(out))
    }
}

/// Whether `limit_ratio` keeps a series (Prometheus' `AddRatioSample`):
/// its label hash, scaled to `[0, 1]`, falls below the ratio (or, for a
/// negative ratio, at or above `1 + ratio`), so `r` and `-(1 - r)` split
/// the series between them.
fn ratio_sampled(ratio: f64, labels: &[Label]) -> bool {
    let offset = crate::xxh64::labels_hash(labels) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: no exponent.
pub(crate) fn go_format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && std::str::from_utf8(name.as_bytes()).is_ok()
}
