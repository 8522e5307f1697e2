//! Prints a syntax tree back as canonical PromQL, the way Prometheus'
//! `Expr.String()` does (what `format_query` returns and what annotation
//! positions of rewritten queries refer to): spaces around binary
//! operators, `sum by (job) (x)`, sorted matchers, durations like `1h30m`,
//! `@ 100.000`, strings double-quoted with Go escapes.

use std::fmt::{self, Write};

use wasmetheus_model::storage::Matcher;

use crate::ast::*;
use crate::lexer::go_quote;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self))
    }
}

/// The canonical text of an expression.
pub fn format(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e);
    out
}

/// A duration in milliseconds as Prometheus prints it (`model.Duration`):
/// `1h30m`, `90d`, `1y`, `500ms`, `0s`. Years and weeks only when exact.
/// The one in `wasmetheus_model::go`.
pub use wasmetheus_model::go::format_model_duration as format_duration;

/// A float as Go's `%v` prints it: shortest round-trip digits, exponent
/// form below 1e-4 and from 1e21, `+Inf`, `-Inf`, `NaN`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent");
    if v != 0.0 && !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

fn is_legacy_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn label_name(name: &str) -> String {
    if is_legacy_label_name(name) {
        name.to_owned()
    } else {
        go_quote(name.as_bytes())
    }
}

fn matcher(m: &Matcher) -> String {
    format!(
        "{}{}{}",
        label_name(&m.name),
        m.kind.as_str(),
        go_quote(m.value.as_bytes())
    )
}

fn join_labels(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| label_name(l))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_duration(out: &mut String, d: &Duration) {
    match d {
        Duration::Millis(ms) => out.push_str(&format_duration(*ms)),
        Duration::Expr(e) => write_duration_expr(out, e),
    }
}

fn write_duration_expr(out: &mut String, e: &DurationExpr) {
    match e {
        DurationExpr::Number { secs, duration } => {
            if *duration {
                out.push_str(&format_duration((secs * 1000.0).round() as i64));
            } else {
                out.push_str(&format_float(*secs));
            }
        }
        DurationExpr::Step => out.push_str("step()"),
        DurationExpr::Range => out.push_str("range()"),
        DurationExpr::MinOf(a, b) | DurationExpr::MaxOf(a, b) => {
            out.push_str(if matches!(e, DurationExpr::MinOf(..)) {
                "min_of("
            } else {
                "max_of("
            });
            write_duration_expr(out, a);
            out.push_str(", ");
            write_duration_expr(out, b);
            out.push(')');
        }
        DurationExpr::Neg(e) => {
            out.push('-');
            write_duration_expr(out, e);
        }
        DurationExpr::Binary { op, lhs, rhs } => {
            write_duration_expr(out, lhs);
            let _ = write!(out, " {} ", op.as_str());
            write_duration_expr(out, rhs);
        }
        DurationExpr::Paren(e) => {
            out.push('(');
            write_duration_expr(out, e);
            out.push(')');
        }
    }
}

/// ` @ …` then ` offset …`, in Prometheus' order.
fn write_at_offset(out: &mut String, at: Option<AtModifier>, offset: Option<&Duration>) {
    match at {
        Some(AtModifier::Timestamp(ms)) => {
            let _ = write!(out, " @ {:.3}", ms as f64 / 1000.0);
        }
        Some(AtModifier::Start) => out.push_str(" @ start()"),
        Some(AtModifier::End) => out.push_str(" @ end()"),
        None => {}
    }
    match offset {
        Some(Duration::Millis(ms)) if *ms > 0 => {
            let _ = write!(out, " offset {}", format_duration(*ms));
        }
        Some(Duration::Millis(ms)) if *ms < 0 => {
            let _ = write!(out, " offset -{}", format_duration(-ms));
        }
        Some(Duration::Millis(_)) | None => {}
        Some(d @ Duration::Expr(_)) => {
            out.push_str(" offset ");
            write_duration(out, d);
        }
    }
}

fn write_selector_body(out: &mut String, v: &VectorSelector) {
    let mut labels: Vec<String> = v
        .matchers
        .iter()
        .filter(|m| {
            !(m.name == "__name__"
                && m.kind == wasmetheus_model::storage::MatchType::Equal
                && m.value == v.name
                && !m.value.is_empty())
        })
        .map(matcher)
        .collect();
    labels.sort();
    if v.name.is_empty() || is_legacy_metric_name(&v.name) {
        out.push_str(&v.name);
        if !labels.is_empty() || v.name.is_empty() {
            let _ = write!(out, "{{{}}}", labels.join(","));
        }
    } else {
        // A name that is not a legacy metric name goes inside the braces.
        out.push('{');
        out.push_str(&go_quote(v.name.as_bytes()));
        for l in &labels {
            out.push(',');
            out.push_str(l);
        }
        out.push('}');
    }
}

fn write_anchored(out: &mut String, v: &VectorSelector) {
    if v.anchored {
        out.push_str(" anchored");
    }
    if v.smoothed {
        out.push_str(" smoothed");
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Number(n) => {
            if n.duration {
                out.push_str(&format_duration((n.val * 1000.0).round() as i64));
            } else {
                out.push_str(&format_float(n.val));
            }
        }
        Expr::String(s) => out.push_str(&go_quote(&s.bytes)),
        Expr::VectorSelector(v) => {
            write_selector_body(out, v);
            write_at_offset(out, v.at, v.offset.as_ref());
            write_anchored(out, v);
        }
        Expr::MatrixSelector(m) => {
            write_selector_body(out, &m.selector);
            out.push('[');
            write_duration(out, &m.range);
            out.push(']');
            write_at_offset(out, m.selector.at, m.selector.offset.as_ref());
            write_anchored(out, &m.selector);
        }
        Expr::Subquery(s) => {
            write_expr(out, &s.expr);
            out.push('[');
            write_duration(out, &s.range);
            out.push(':');
            if let Some(step) = &s.step {
                write_duration(out, step);
            }
            out.push(']');
            write_at_offset(out, s.at, s.offset.as_ref());
        }
        Expr::Paren(p) => {
            out.push('(');
            write_expr(out, &p.expr);
            out.push(')');
        }
        Expr::Unary(u) => {
            out.push(if u.negate { '-' } else { '+' });
            write_expr(out, &u.expr);
        }
        Expr::Binary(b) => {
            // `^` binds tighter than a sign: a left operand printed with
            // one (`+Inf`, `-2`) would reparse as a sign on the whole power.
            let signed_lhs = b.op == BinOp::Pow
                && matches!(&*b.lhs, Expr::Number(n) if !n.duration && (n.val.is_sign_negative() || n.val == f64::INFINITY));
            if signed_lhs {
                out.push('(');
            }
            write_expr(out, &b.lhs);
            if signed_lhs {
                out.push(')');
            }
            let _ = write!(out, " {}", b.op.as_str());
            if b.return_bool {
                out.push_str(" bool");
            }
            let m = &b.matching;
            let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
            if m.on || !m.labels.is_empty() || grouped {
                let tag = if m.on { "on" } else { "ignoring" };
                let _ = write!(out, " {tag} ({})", join_labels(&m.labels));
                if grouped {
                    let side = if m.card == Cardinality::ManyToOne {
                        "left"
                    } else {
                        "right"
                    };
                    let _ = write!(out, " group_{side} ({})", join_labels(&m.include));
                }
            }
            match (m.fill.lhs, m.fill.rhs) {
                (Some(l), Some(r)) if same_float(l, r) => {
                    let _ = write!(out, " fill({})", format_float(l));
                }
                (l, r) => {
                    if let Some(l) = l {
                        let _ = write!(out, " fill_left({})", format_float(l));
                    }
                    if let Some(r) = r {
                        let _ = write!(out, " fill_right({})", format_float(r));
                    }
                }
            }
            out.push(' ');
            write_expr(out, &b.rhs);
        }
        Expr::Aggregate(a) => {
            out.push_str(a.op.as_str());
            if a.without {
                let _ = write!(out, " without ({}) ", join_labels(&a.grouping));
            } else if !a.grouping.is_empty() {
                let _ = write!(out, " by ({}) ", join_labels(&a.grouping));
            }
            out.push('(');
            if let Some(p) = &a.param {
                write_expr(out, p);
                out.push_str(", ");
            }
            write_expr(out, &a.expr);
            out.push(')');
        }
        Expr::Call(c) => {
            out.push_str(c.func.name);
            out.push('(');
            for (i, arg) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, arg);
            }
            out.push(')');
        }
    }
}
