//! `/api/v1/parse_query`: the PromQL syntax tree as JSON, in the shape of
//! Prometheus' `translateAST` (web/api/v1/translate_ast.go), which the
//! UI's tree view reads.
//!
//! Prometheus builds the tree from Go maps and encodes it with jsoniter's
//! standard-library mode, so object keys come out sorted and `<`, `>`, `&`,
//! U+2028 and U+2029 are escaped in strings. A small writer of its own
//! does the same here, so the bytes match rather than only the meaning.

use wasmetheus_model::go::{format_float_f, json_float};
use wasmetheus_promql::ast::{
    AggregateExpr, AtModifier, BinaryExpr, Call, Cardinality, Duration, DurationExpr, Expr,
    MatrixSelector, SubqueryExpr, VectorSelector,
};

/// A JSON value as `translateAST` produces it.
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Json>),
    /// Written with its keys sorted, as Go writes a map.
    Obj(Vec<(&'static str, Json)>),
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Json::Str(s.to_owned())
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

impl From<i64> for Json {
    fn from(n: i64) -> Self {
        Json::Int(n)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Self {
        v.map_or(Json::Null, Into::into)
    }
}

/// The JSON text of `expr`'s tree.
pub(crate) fn ast_json(expr: &Expr) -> String {
    let mut out = String::with_capacity(512);
    write(&mut out, &translate(expr));
    out
}

fn translate(expr: &Expr) -> Json {
    match expr {
        Expr::Aggregate(a) => aggregation(a),
        Expr::Binary(b) => binary(b),
        Expr::Call(c) => call(c),
        Expr::MatrixSelector(m) => matrix(m),
        Expr::Subquery(s) => subquery(s),
        // Outside durations Prometheus leaves out `duration`.
        Expr::Number(n) => Json::Obj(vec![
            ("type", "numberLiteral".into()),
            ("val", Json::Str(format_float_f(n.val))),
        ]),
        Expr::Paren(p) => Json::Obj(vec![
            ("type", "parenExpr".into()),
            ("expr", translate(&p.expr)),
        ]),
        Expr::String(s) => Json::Obj(vec![
            ("type", "stringLiteral".into()),
            ("val", s.val.as_str().into()),
        ]),
        Expr::Unary(u) => Json::Obj(vec![
            ("type", "unaryExpr".into()),
            ("op", if u.negate { "-" } else { "+" }.into()),
            ("expr", translate(&u.expr)),
        ]),
        Expr::VectorSelector(v) => {
            let mut fields = selector_fields(v);
            fields.push(("type", "vectorSelector".into()));
            Json::Obj(fields)
        }
    }
}

fn aggregation(a: &AggregateExpr) -> Json {
    Json::Obj(vec![
        ("type", "aggregation".into()),
        ("op", a.op.as_str().into()),
        ("expr", translate(&a.expr)),
        ("param", a.param.as_deref().map_or(Json::Null, translate)),
        ("grouping", strings(&a.grouping)),
        ("without", a.without.into()),
    ])
}

fn binary(b: &BinaryExpr) -> Json {
    // Prometheus drops the matching unless both sides are instant vectors.
    let vectors = b.lhs.value_type() == wasmetheus_promql::ast::ValueType::Vector
        && b.rhs.value_type() == wasmetheus_promql::ast::ValueType::Vector;
    let matching = if vectors {
        let m = &b.matching;
        let card = match m.card {
            Cardinality::OneToOne => "one-to-one",
            Cardinality::ManyToOne => "many-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::ManyToMany => "many-to-many",
        };
        let fill = |v: Option<f64>| v.map_or(Json::Null, Json::Float);
        Json::Obj(vec![
            ("card", card.into()),
            ("labels", strings(&m.labels)),
            ("on", m.on.into()),
            ("include", strings(&m.include)),
            (
                "fillValues",
                Json::Obj(vec![("lhs", fill(m.fill.lhs)), ("rhs", fill(m.fill.rhs))]),
            ),
        ])
    } else {
        Json::Null
    };
    Json::Obj(vec![
        ("type", "binaryExpr".into()),
        ("op", b.op.as_str().into()),
        ("lhs", translate(&b.lhs)),
        ("rhs", translate(&b.rhs)),
        ("matching", matching),
        ("bool", b.return_bool.into()),
    ])
}

fn call(c: &Call) -> Json {
    let func = c.func;
    Json::Obj(vec![
        ("type", "call".into()),
        (
            "func",
            Json::Obj(vec![
                ("name", func.name.into()),
                (
                    "argTypes",
                    Json::List(func.arg_types.iter().map(|t| t.as_str().into()).collect()),
                ),
                ("variadic", i64::from(func.variadic).into()),
                ("returnType", func.return_type.as_str().into()),
            ]),
        ),
        ("args", Json::List(c.args.iter().map(translate).collect())),
    ])
}

fn matrix(m: &MatrixSelector) -> Json {
    let (range, range_expr) = duration(&m.range);
    let mut fields = selector_fields(&m.selector);
    fields.push(("type", "matrixSelector".into()));
    fields.push(("range", range));
    fields.push(("rangeExpr", range_expr));
    Json::Obj(fields)
}

fn subquery(s: &SubqueryExpr) -> Json {
    let (range, range_expr) = duration(&s.range);
    let (offset, offset_expr) = s
        .offset
        .as_ref()
        .map_or((Json::Int(0), Json::Null), duration);
    let (step, step_expr) = s.step.as_ref().map_or((Json::Int(0), Json::Null), duration);
    let (timestamp, start_or_end) = at(s.at);
    Json::Obj(vec![
        ("type", "subquery".into()),
        ("expr", translate(&s.expr)),
        ("range", range),
        ("rangeExpr", range_expr),
        ("offset", offset),
        ("offsetExpr", offset_expr),
        ("step", step),
        ("stepExpr", step_expr),
        ("timestamp", timestamp),
        ("startOrEnd", start_or_end),
    ])
}

/// What a vector selector and the matrix selector around it share.
fn selector_fields(v: &VectorSelector) -> Vec<(&'static str, Json)> {
    let (offset, offset_expr) = v
        .offset
        .as_ref()
        .map_or((Json::Int(0), Json::Null), duration);
    let (timestamp, start_or_end) = at(v.at);
    let matchers = v
        .matchers
        .iter()
        .map(|m| {
            Json::Obj(vec![
                ("name", m.name.as_str().into()),
                ("value", m.value.as_str().into()),
                ("type", m.kind.as_str().into()),
            ])
        })
        .collect();
    vec![
        ("name", v.name.as_str().into()),
        ("offset", offset),
        ("offsetExpr", offset_expr),
        ("matchers", Json::List(matchers)),
        ("timestamp", timestamp),
        ("startOrEnd", start_or_end),
        ("anchored", v.anchored.into()),
        ("smoothed", v.smoothed.into()),
    ]
}

/// `timestamp` and `startOrEnd` of an `@` modifier.
fn at(at: Option<AtModifier>) -> (Json, Json) {
    match at {
        None => (Json::Null, Json::Null),
        Some(AtModifier::Timestamp(ms)) => (Json::Int(ms), Json::Null),
        Some(AtModifier::Start) => (Json::Null, "start".into()),
        Some(AtModifier::End) => (Json::Null, "end".into()),
    }
}

/// A range, step or offset as Prometheus keeps it after parsing: a fixed
/// length in milliseconds, or 0 and the expression still to evaluate.
fn duration(d: &Duration) -> (Json, Json) {
    match d {
        Duration::Millis(ms) => (Json::Int(*ms), Json::Null),
        Duration::Expr(e) => (Json::Int(0), duration_expr(e, false)),
    }
}

/// Prometheus' `DurationExpr` nodes: parentheses are not a node there but
/// the `wrapped` flag of what they enclose, and a unary minus has no `lhs`.
fn duration_expr(e: &DurationExpr, wrapped: bool) -> Json {
    let node = |op: &str, lhs: Json, rhs: Json| {
        Json::Obj(vec![
            ("type", "durationExpr".into()),
            ("op", op.into()),
            ("lhs", lhs),
            ("rhs", rhs),
            ("wrapped", wrapped.into()),
        ])
    };
    let sub = |e: &DurationExpr| duration_expr(e, false);
    match e {
        DurationExpr::Number { secs, duration } => Json::Obj(vec![
            ("type", "numberLiteral".into()),
            ("val", Json::Str(format_float_f(*secs))),
            ("duration", (*duration).into()),
        ]),
        DurationExpr::Paren(inner) => duration_expr(inner, true),
        DurationExpr::Step => node("step", Json::Null, Json::Null),
        DurationExpr::Range => node("range", Json::Null, Json::Null),
        DurationExpr::MinOf(a, b) => node("min_of", sub(a), sub(b)),
        DurationExpr::MaxOf(a, b) => node("max_of", sub(a), sub(b)),
        DurationExpr::Neg(inner) => node("-", Json::Null, sub(inner)),
        DurationExpr::Binary { op, lhs, rhs } => node(op.as_str(), sub(lhs), sub(rhs)),
    }
}

fn strings(list: &[String]) -> Json {
    Json::List(list.iter().map(|s| s.as_str().into()).collect())
}

fn write(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(n) => out.push_str(&n.to_string()),
        Json::Float(v) => out.push_str(&json_float(*v)),
        Json::Str(s) => write_string(out, s),
        Json::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Json::Obj(fields) => {
            let mut sorted: Vec<&(&str, Json)> = fields.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's encoders write it (one implementation, in the
/// model crate).
pub use wasmetheus_model::go::write_json_string as write_string;

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(query: &str) -> String {
        ast_json(&wasmetheus_promql::parser::parse(query).unwrap())
    }

    #[test]
    fn strings_are_escaped_like_jsoniter() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn duration_expressions_follow_prometheus_nodes() {
        // translate_ast_test.go: `foo[5m+1m] offset (10m/2)`.
        let t = tree("foo[5m+1m] offset (10m/2)");
        assert!(t.contains(
            r#""offset":0,"offsetExpr":{"lhs":{"duration":true,"type":"numberLiteral","val":"600"},"op":"/","rhs":{"duration":false,"type":"numberLiteral","val":"2"},"type":"durationExpr","wrapped":true}"#
        ), "{t}");
        assert!(t.contains(
            r#""range":0,"rangeExpr":{"lhs":{"duration":true,"type":"numberLiteral","val":"300"},"op":"+","rhs":{"duration":true,"type":"numberLiteral","val":"60"},"type":"durationExpr","wrapped":false}"#
        ), "{t}");
        // `foo offset -min_of(5s,step()+8s)`: a unary minus has no lhs.
        let t = tree("foo offset -min_of(5s,step()+8s)");
        assert!(t.contains(
            r#""offsetExpr":{"lhs":null,"op":"-","rhs":{"lhs":{"duration":true,"type":"numberLiteral","val":"5"},"op":"min_of","rhs":{"lhs":{"lhs":null,"op":"step","rhs":null,"type":"durationExpr","wrapped":false},"op":"+","rhs":{"duration":true,"type":"numberLiteral","val":"8"},"type":"durationExpr","wrapped":false},"type":"durationExpr","wrapped":false},"type":"durationExpr","wrapped":false}"#
        ), "{t}");
        // Plain durations stay plain.
        let t = tree("foo[5m:1m] offset 1m");
        assert!(t.contains(r#""offset":60000,"offsetExpr":null,"range":300000,"rangeExpr":null,"startOrEnd":null,"step":60000,"stepExpr":null"#), "{t}");
    }

    #[test]
    fn matching_is_null_unless_both_sides_are_vectors() {
        assert!(tree("foo + 1").contains(r#""matching":null"#));
        assert!(tree("foo and bar").contains(r#""card":"many-to-many""#));
        assert!(
            tree("1 < bool 2").contains(r#""op":"\u003c""#),
            "{}",
            tree("1 < bool 2")
        );
    }
}
