//! The `@` variant of an expression that the scripted tests evaluate to
//! check step invariance (upstream's `atModifierTestCases`).

use crate::ast::{AtModifier, Expr};
use crate::parser::{self, ParseError};

/// `expr` with `@ <t>` on every selector and subquery lacking a fixed
/// timestamp, leaving subquery bodies alone (upstream sets the subquery's
/// timestamp first and then skips everything below a subquery that has
/// one); `None` when a call outside subqueries depends on the evaluation
/// time (its function is `at_modifier_unsafe`). Like upstream, `@ start()`/`@ end()` count as lacking one, since
/// Go's printer lets a timestamp win over them.
pub fn at_modifier_variant(expr: &str, t: i64) -> Result<Option<String>, ParseError> {
    let mut e = parser::parse(expr)?;
    let mut unsafe_call = false;
    walk(&mut e, t, &mut unsafe_call);
    Ok((!unsafe_call).then(|| e.to_string()))
}

fn fix(at: &mut Option<AtModifier>, t: i64) {
    if !matches!(at, Some(AtModifier::Timestamp(_))) {
        *at = Some(AtModifier::Timestamp(t));
    }
}

fn walk(e: &mut Expr, t: i64, unsafe_call: &mut bool) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::VectorSelector(vs) => fix(&mut vs.at, t),
        Expr::MatrixSelector(ms) => fix(&mut ms.selector.at, t),
        Expr::Subquery(sq) => fix(&mut sq.at, t),
        Expr::Paren(p) => walk(&mut p.expr, t, unsafe_call),
        Expr::Unary(u) => walk(&mut u.expr, t, unsafe_call),
        Expr::Binary(b) => {
            walk(&mut b.lhs, t, unsafe_call);
            walk(&mut b.rhs, t, unsafe_call);
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                walk(p, t, unsafe_call);
            }
            walk(&mut a.expr, t, unsafe_call);
        }
        Expr::Call(c) => {
            *unsafe_call |= c.func.at_modifier_unsafe;
            for arg in &mut c.args {
                walk(arg, t, unsafe_call);
            }
        }
    }
}
