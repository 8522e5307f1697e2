//! Parsing PromQL: runs the lalrpop grammar over the lexer, builds the tree
//! (the `build` helpers the grammar's actions call) and type-checks it the
//! way Prometheus' `checkAST` does, with Prometheus' error wording.

use lalrpop_util::lalrpop_mod;

use wasmetheus_model::storage::Matcher;

use crate::ast::*;
use crate::lexer::{LexError, Lexer, Tok};

pub use crate::parse_error::ParseError;

lalrpop_mod!(
    #[allow(
        clippy::all,
        clippy::pedantic,
        unused,
        unused_qualifications,
        unreachable_pub
    )]
    grammar
);

/// The deepest expression tree the parser builds. Every pass over the tree
/// (type checks, printing, planning, evaluation, the syntax tree JSON,
/// dropping it) recurses once per level, so this bounds their stack use:
/// at this depth they all run in the 2 MiB stack of a spawned thread,
/// debug builds included. Prometheus has no such limit (Go's stacks
/// grow); real queries nest a few dozen levels.
pub const MAX_DEPTH: usize = 500;

/// Parses and type-checks a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    check_depth(input)?;
    let mut expr = grammar::ExprParser::new()
        .parse(input, Lexer::new(input))
        .map_err(|e| syntax_error(input, e))?;
    Checker { input }
        .check(&mut expr)
        .map_err(|e| ParseError::at(input, e.pos, e.message))?;
    Ok(expr)
}

/// Rejects input whose tree would be deeper than [`MAX_DEPTH`], from its
/// tokens alone, before the grammar builds anything; also rejects input
/// without tokens.
///
/// Each group (`(…)`, `[…]`, and the whole input) counts one level plus
/// one per operator token in it (binary or unary: a chain of `n`
/// operators nests up to `n` deep either way; a `[` wraps what precedes
/// it like an operator) plus its deepest inner group; commas start a
/// sibling argument, and matchers inside `{…}` are not operators. That
/// bounds the tree's depth from above. The running sum over the open
/// groups grows towards that bound token by token, so the error points at
/// the first token past the limit, and the scan is linear.
fn check_depth(input: &str) -> Result<(), ParseError> {
    /// An open group: operators in its current argument, the deepest
    /// closed group in that argument, the deepest finished argument.
    #[derive(Default)]
    struct Group {
        ops: usize,
        inner: usize,
        done: usize,
    }
    let mut groups = vec![Group::default()];
    // Σ (1 + ops) over the open groups.
    let mut path = 1;
    let mut in_braces = false;
    let mut any = false;
    for token in Lexer::new(input) {
        // A lexing error is reported by the parse itself, with the
        // grammar's context; what came before it was checked here.
        any = true;
        let Ok((start, tok, _)) = token else { break };
        match tok {
            Tok::LBrace => in_braces = true,
            Tok::RBrace => in_braces = false,
            _ if in_braces => {}
            Tok::LParen => {
                groups.push(Group::default());
                path += 1;
            }
            // A subquery or range wraps what precedes it, like an
            // operator, and its duration arithmetic is a group.
            Tok::LBracket => {
                groups.last_mut().expect("the outermost group").ops += 1;
                groups.push(Group::default());
                path += 2;
            }
            Tok::RParen | Tok::RBracket if groups.len() > 1 => {
                let g = groups.pop().expect("more than one group");
                path -= 1 + g.ops;
                let depth = 1 + g.done.max(g.ops + g.inner);
                let top = groups.last_mut().expect("the outermost group");
                top.inner = top.inner.max(depth);
            }
            Tok::Comma => {
                let top = groups.last_mut().expect("the outermost group");
                path -= top.ops;
                top.done = top.done.max(top.ops + top.inner);
                top.ops = 0;
                top.inner = 0;
            }
            Tok::Add
            | Tok::Sub
            | Tok::Mul
            | Tok::Div
            | Tok::Mod
            | Tok::Pow
            | Tok::EqlC
            | Tok::Neq
            | Tok::Lte
            | Tok::Lss
            | Tok::Gte
            | Tok::Gtr
            | Tok::TrimUpper
            | Tok::TrimLower
            | Tok::And
            | Tok::Or
            | Tok::Unless
            | Tok::Atan2 => {
                groups.last_mut().expect("the outermost group").ops += 1;
                path += 1;
            }
            _ => {}
        }
        let inner = groups.last().map_or(0, |g| g.inner);
        if path + inner > MAX_DEPTH {
            return Err(ParseError::at(
                input,
                start,
                format!(
                    "expression nesting exceeds the maximum depth of {MAX_DEPTH} \
                     (each parenthesis, call, aggregation, subquery and operator in a chain counts one level)"
                ),
            ));
        }
    }
    if !any {
        return Err(ParseError::at(
            input,
            0,
            "no expression found in input".into(),
        ));
    }
    Ok(())
}

/// Parses a series selector, as the HTTP API takes one in `match[]` or
/// `match_target` (Prometheus' `ParseMetricSelector`): a vector selector
/// alone, without modifiers, into its matchers. Like Prometheus it skips
/// the type checks of a query, so `{job=~".*"}` parses; the endpoints that
/// need a non-empty matcher check that themselves.
pub fn parse_metric_selector(input: &str) -> Result<Vec<Matcher>, ParseError> {
    let expr = grammar::MetricSelectorParser::new()
        .parse(input, Lexer::new(input))
        .map_err(|e| syntax_error(input, e))?;
    match expr {
        Expr::VectorSelector(v) => Ok(v.matchers),
        other => Err(ParseError::at(
            input,
            other.span().start,
            "unexpected expression, expected a series selector".into(),
        )),
    }
}

fn syntax_error(input: &str, e: lalrpop_util::ParseError<usize, Tok, LexError>) -> ParseError {
    use lalrpop_util::ParseError as E;
    match e {
        E::User { error } => ParseError::at(input, error.pos, error.message),
        E::UnrecognizedEof { .. } => {
            ParseError::at(input, input.len(), "unexpected end of input".into())
        }
        E::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let mut message = format!("unexpected {}", tok.describe(&input[l..r]));
            if let Some(context) = error_context(&expected) {
                message.push_str(context);
            }
            ParseError::at(input, l, message)
        }
        E::ExtraToken { token: (l, tok, r) } => ParseError::at(
            input,
            l,
            format!("unexpected {}", tok.describe(&input[l..r])),
        ),
        E::InvalidToken { location } => {
            ParseError::at(input, location, "unexpected character".into())
        }
    }
}

/// The context Prometheus' error productions add for a few common places,
/// recognised by what the grammar expected there.
fn error_context(expected: &[String]) -> Option<&'static str> {
    let has = |t: &str| expected.iter().any(|e| e == t);
    if has("\"=~\"") && has("\"!~\"") && !has("\"==\"") {
        Some(" in label matching, expected label matching operator")
    } else if expected.len() == 1 && has("\"(\"") {
        Some(" in grouping opts, expected \"(\"")
    } else if expected.len() == 1 && has("\"string\"") {
        Some(" in label matching, expected string")
    } else if expected.len() == 2 && has("\",\"") && has("\")\"") {
        Some(" in grouping opts, expected \",\" or \")\"")
    } else {
        None
    }
}

/// The type checks of Prometheus' `checkAST`, in its order, stopping at
/// the first error (the one Prometheus reports).
struct Checker<'a> {
    input: &'a str,
}

fn fail<T>(pos: usize, message: impl Into<String>) -> Result<T, LexError> {
    Err(build::err(pos, message))
}

impl Checker<'_> {
    fn expect_type(&self, e: &mut Expr, want: ValueType, context: &str) -> Result<(), LexError> {
        let got = self.check(e)?;
        if got != want {
            return fail(
                e.span().start,
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    got.documented()
                ),
            );
        }
        Ok(())
    }

    /// Where the operator of a binary expression starts.
    fn operator_pos(&self, b: &BinaryExpr) -> usize {
        let end = b.lhs.span().end;
        let rest = &self.input[end.min(self.input.len())..];
        end + (rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len())
    }

    fn check(&self, e: &mut Expr) -> Result<ValueType, LexError> {
        let typ = e.value_type();
        let span = e.span();
        match e {
            Expr::Number(_) | Expr::String(_) => {}
            Expr::Paren(p) => {
                self.check(&mut p.expr)?;
            }
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression")?;
                if let Some(param) = &mut a.param {
                    let want = if a.op == AggregateOp::CountValues {
                        ValueType::String
                    } else {
                        ValueType::Scalar
                    };
                    self.expect_type(param, want, "aggregation parameter")?;
                }
            }
            Expr::Binary(b) => {
                let lt = self.check(&mut b.lhs)?;
                let rt = self.check(&mut b.rhs)?;
                let op_pos = self.operator_pos(b);
                if b.return_bool && !b.op.is_comparison() {
                    return fail(
                        op_pos,
                        "bool modifier can only be used on comparison operators",
                    );
                }
                if b.op.is_comparison()
                    && !b.return_bool
                    && lt == ValueType::Scalar
                    && rt == ValueType::Scalar
                {
                    return fail(op_pos, "comparisons between scalars must use BOOL modifier");
                }
                let m = &b.matching;
                if m.on
                    && let Some(l) = m.labels.iter().find(|l| m.include.contains(l))
                {
                    return fail(
                        op_pos,
                        format!("label {l:?} must not occur in ON and GROUP clause at once"),
                    );
                }
                for (t, side) in [(lt, &b.lhs), (rt, &b.rhs)] {
                    if t != ValueType::Scalar && t != ValueType::Vector {
                        return fail(
                            side.span().start,
                            "binary expression must contain only scalar and instant vector types",
                        );
                    }
                }
                let op = b.op.as_str();
                if lt != ValueType::Vector || rt != ValueType::Vector {
                    if !m.labels.is_empty() {
                        return fail(
                            span.start,
                            "vector matching only allowed between instant vectors",
                        );
                    }
                    if !m.fill.is_empty() {
                        return fail(
                            span.start,
                            "filling in missing series only allowed between instant vectors",
                        );
                    }
                } else if b.op.is_set() {
                    if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                        return fail(
                            span.start,
                            format!("no grouping allowed for {op:?} operation"),
                        );
                    }
                    if m.card != Cardinality::ManyToMany {
                        return fail(span.start, "set operations must always be many-to-many");
                    }
                    if !m.fill.is_empty() {
                        return fail(
                            span.start,
                            "filling in missing series not allowed for set operators",
                        );
                    }
                }
                if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
                    return fail(
                        span.start,
                        format!("set operator {op:?} not allowed in binary scalar expression"),
                    );
                }
            }
            Expr::Call(c) => self.check_call(c)?,
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return fail(
                        span.start,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                            t.documented()
                        ),
                    );
                }
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr)?;
                if t != ValueType::Vector {
                    return fail(
                        span.start,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            t.as_str()
                        ),
                    );
                }
            }
            Expr::MatrixSelector(m) => check_selector(&m.selector)?,
            Expr::VectorSelector(v) => check_selector(v)?,
        }
        Ok(typ)
    }

    fn check_call(&self, c: &mut Call) -> Result<(), LexError> {
        let f = c.func;
        let (nargs, got) = (f.arg_types.len(), c.args.len());
        let pos = c.span.start;
        if f.variadic == 0 {
            if nargs != got {
                return fail(
                    pos,
                    format!(
                        "expected {nargs} argument(s) in call to {:?}, got {got}",
                        f.name
                    ),
                );
            }
        } else {
            let min = nargs - 1;
            if min > got {
                return fail(
                    pos,
                    format!(
                        "expected at least {min} argument(s) in call to {:?}, got {got}",
                        f.name
                    ),
                );
            }
            let max = min + f.variadic.max(0) as usize;
            if f.variadic > 0 && max < got {
                return fail(
                    pos,
                    format!(
                        "expected at most {max} argument(s) in call to {:?}, got {got}",
                        f.name
                    ),
                );
            }
        }
        if f.name == "info" && got > 1 {
            let arg = &mut c.args[1];
            if arg.value_type() != ValueType::Vector {
                return fail(
                    pos,
                    format!(
                        "expected type instant vector in call to function \"info\", got {}",
                        arg.value_type().documented()
                    ),
                );
            }
            match arg {
                Expr::VectorSelector(v) if !v.name.is_empty() => {
                    return fail(
                        v.span.start,
                        "expected label selectors only, got vector selector instead",
                    );
                }
                Expr::VectorSelector(v) => v.bypass_empty_matcher_check = true,
                other => return fail(other.span().start, "expected label selectors only"),
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let want = match f.arg_types.get(i) {
                Some(t) => *t,
                None if f.variadic == 0 => break,
                None => f.arg_types[nargs - 1],
            };
            let t = self.check(arg)?;
            if t != want {
                return fail(
                    arg.span().start,
                    format!(
                        "expected type {} in call to function {:?}, got {}",
                        want.documented(),
                        f.name,
                        t.documented()
                    ),
                );
            }
        }
        Ok(())
    }
}

fn check_selector(v: &VectorSelector) -> Result<(), LexError> {
    if !v.name.is_empty() {
        // The last matcher is the one for the name outside the braces.
        let inner = &v.matchers[..v.matchers.len().saturating_sub(1)];
        if let Some(m) = inner.iter().find(|m| m.name == "__name__") {
            return fail(
                v.span.start,
                format!(
                    "metric name must not be set twice: {:?} or {:?}",
                    v.name, m.value
                ),
            );
        }
        return Ok(());
    }
    if !v.bypass_empty_matcher_check && v.matchers.iter().all(|m| m.matches_empty()) {
        return fail(
            v.span.start,
            "vector selector must contain at least one non-empty matcher",
        );
    }
    Ok(())
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `100ms`, `1y`) into
/// milliseconds: `model.ParseDuration`, with Prometheus 3's error texts.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    wasmetheus_model::go::parse_model_duration(text).map_err(|e| e.to_string())
}

/// Parses a number literal like Prometheus: Go's `strconv.ParseInt(s, 0,
/// 64)` (so `0x1f` is hexadecimal and `0755` octal), else `ParseFloat`.
pub fn parse_number(text: &str) -> Result<f64, String> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (radix, digits) = if let Some(h) = clean.strip_prefix("0x").or(clean.strip_prefix("0X")) {
        (16, h)
    } else if clean.len() > 1 && clean.starts_with('0') {
        (8, &clean[1..])
    } else {
        (10, clean.as_str())
    };
    if !digits.is_empty()
        && digits.chars().all(|c| c.is_digit(radix))
        && let Ok(v) = i64::from_str_radix(digits, radix)
    {
        return Ok(v as f64);
    }
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            crate::lexer::go_quote(text.as_bytes())
        )
    };
    match clean.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        l if l.starts_with("0x") || l.contains("inf") || l.contains("nan") => {
            return Err(syntax());
        }
        _ => {}
    }
    let v: f64 = clean.parse().map_err(|_| syntax())?;
    if v.is_infinite() {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            crate::lexer::go_quote(text.as_bytes())
        ));
    }
    Ok(v)
}

/// The constructors the grammar's actions call; each semantic error
/// Prometheus raises while building the tree is raised here.
pub(crate) mod build {
    use lalrpop_util::ParseError;
    use wasmetheus_model::storage::{MatchType, Matcher};

    use crate::ast::*;
    use crate::functions::function;
    use crate::lexer::{LexError, StrLit, Tok, go_quote};

    pub fn user(error: LexError) -> ParseError<usize, Tok, LexError> {
        ParseError::User { error }
    }

    pub fn err(pos: usize, message: impl Into<String>) -> LexError {
        LexError {
            pos,
            message: message.into(),
        }
    }

    /// The modifiers between a binary operator and its right-hand side.
    pub struct BinMods {
        return_bool: bool,
        matching: Option<VectorMatching>,
        fill: Vec<(u8, f64)>,
    }

    impl BinMods {
        pub fn new(
            _l: usize,
            _r: usize,
            return_bool: bool,
            matching: Option<VectorMatching>,
            fill: Vec<(u8, f64)>,
        ) -> Self {
            BinMods {
                return_bool,
                matching,
                fill,
            }
        }
    }

    pub fn matching(
        on: bool,
        labels: Vec<String>,
        group: Option<(Cardinality, Vec<String>)>,
    ) -> VectorMatching {
        let (card, include) = group.unwrap_or((Cardinality::OneToOne, Vec::new()));
        VectorMatching {
            card,
            on,
            labels,
            include,
            fill: FillValues::default(),
        }
    }

    pub fn binary(lhs: Expr, op: BinOp, mods: BinMods, rhs: Expr) -> Result<Expr, LexError> {
        let mut matching = mods.matching.unwrap_or_default();
        for (kind, v) in mods.fill {
            match kind {
                0 => {
                    matching.fill = FillValues {
                        lhs: Some(v),
                        rhs: Some(v),
                    }
                }
                1 => matching.fill.lhs = Some(v),
                _ => matching.fill.rhs = Some(v),
            }
        }
        if op.is_set() && matching.card == Cardinality::OneToOne {
            matching.card = Cardinality::ManyToMany;
        }
        let span = lhs.span().to(rhs.span());
        let scalar = lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar;
        Ok(Expr::Binary(BinaryExpr {
            scalar,
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool: mods.return_bool,
            matching,
            span,
        }))
    }

    /// Unary minus or plus; on a number literal it is folded into the
    /// number, as Prometheus does.
    pub fn unary(start: usize, negate: bool, e: Expr) -> Expr {
        match e {
            Expr::Number(mut n) => {
                if negate {
                    n.val = -n.val;
                }
                n.span.start = start;
                Expr::Number(n)
            }
            e => {
                let span = Span::new(start, e.span().end);
                Expr::Unary(UnaryExpr {
                    negate,
                    expr: Box::new(e),
                    span,
                })
            }
        }
    }

    pub fn number(pos: usize, text: &str) -> Result<f64, LexError> {
        super::parse_number(text).map_err(|e| err(pos, format!("error parsing number: {e}")))
    }

    /// A number or duration token, in seconds.
    fn seconds(pos: usize, (text, duration): &(String, bool)) -> Result<f64, LexError> {
        if *duration {
            let ms = super::parse_duration(text).map_err(|e| err(pos, e))?;
            Ok(ms as f64 / 1000.0)
        } else {
            number(pos, text)
        }
    }

    pub fn number_literal(l: usize, r: usize, tok: (String, bool)) -> Result<Expr, LexError> {
        Ok(Expr::Number(NumberLiteral {
            val: seconds(l, &tok)?,
            duration: tok.1,
            span: Span::new(l, r),
        }))
    }

    pub fn string(l: usize, r: usize, s: StrLit) -> Expr {
        Expr::String(StringLiteral {
            val: String::from_utf8_lossy(&s.bytes).into_owned(),
            bytes: s.bytes,
            span: Span::new(l, r),
        })
    }

    pub fn paren(l: usize, r: usize, e: Expr) -> Expr {
        Expr::Paren(ParenExpr {
            expr: Box::new(e),
            span: Span::new(l, r),
        })
    }

    /// A label matcher as written, before its regex is compiled.
    pub struct RawMatcher {
        start: usize,
        name: Vec<u8>,
        op: Option<(MatchType, StrLit)>,
    }

    impl RawMatcher {
        pub fn new(l: usize, _r: usize, name: Vec<u8>, op: Option<(MatchType, StrLit)>) -> Self {
            RawMatcher { start: l, name, op }
        }
    }

    pub fn selector(
        l: usize,
        r: usize,
        name: Option<String>,
        raw: Vec<RawMatcher>,
    ) -> Result<Expr, LexError> {
        let mut matchers = Vec::with_capacity(raw.len() + 1);
        for m in raw {
            let label = String::from_utf8_lossy(&m.name).into_owned();
            let matcher = match m.op {
                None => Matcher::equal("__name__", label),
                Some((kind, value)) => {
                    let value = String::from_utf8_lossy(&value.bytes).into_owned();
                    Matcher::new(kind, label, value).map_err(|e| err(m.start, e.to_string()))?
                }
            };
            matchers.push(matcher);
        }
        let name = name.unwrap_or_default();
        if !name.is_empty() {
            matchers.push(Matcher::equal("__name__", name.clone()));
        }
        Ok(Expr::VectorSelector(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            span: Span::new(l, r),
        }))
    }

    pub fn call(
        l: usize,
        name_end: usize,
        r: usize,
        name: String,
        args: Vec<Expr>,
    ) -> Result<Expr, LexError> {
        let _ = name_end;
        let Some(func) = function(&name) else {
            return Err(err(
                l,
                format!("unknown function with name {}", go_quote(name.as_bytes())),
            ));
        };
        Ok(Expr::Call(Call {
            func,
            args,
            span: Span::new(l, r),
        }))
    }

    pub fn aggregate(
        l: usize,
        r: usize,
        op: AggregateOp,
        modifier: Option<(bool, Vec<String>)>,
        mut args: Vec<Expr>,
    ) -> Result<Expr, LexError> {
        if args.is_empty() {
            return Err(err(l, "no arguments for aggregate expression provided"));
        }
        let want = if op.has_param() { 2 } else { 1 };
        if args.len() != want {
            return Err(err(
                l,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = args.pop().expect("one argument");
        let param = args.pop().map(Box::new);
        let (without, grouping) = modifier.unwrap_or_default();
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
            span: Span::new(l, r),
        }))
    }

    pub fn grouping_string(pos: usize, s: StrLit) -> Result<String, LexError> {
        match String::from_utf8(s.bytes) {
            Ok(name) if !name.is_empty() => Ok(name),
            Ok(name) => Err(err(
                pos,
                format!(
                    "invalid label name for grouping: {}",
                    go_quote(name.as_bytes())
                ),
            )),
            Err(e) => Err(err(
                pos,
                format!(
                    "invalid label name for grouping: {}",
                    go_quote(e.as_bytes())
                ),
            )),
        }
    }

    fn to_duration(d: DurationExpr) -> Duration {
        match d {
            DurationExpr::Number { secs, .. } => Duration::Millis((secs * 1000.0).round() as i64),
            d => Duration::Expr(d),
        }
    }

    fn positive(pos: usize, d: DurationExpr) -> Result<Duration, LexError> {
        if let DurationExpr::Number { secs, .. } = d
            && secs <= 0.0
        {
            return Err(err(pos, "duration must be greater than 0"));
        }
        Ok(to_duration(d))
    }

    pub fn matrix(e: Expr, lb: usize, d: DurationExpr, r: usize) -> Result<Expr, LexError> {
        let range = positive(lb + 1, d)?;
        let Expr::VectorSelector(selector) = e else {
            return Err(err(lb, "ranges only allowed for vector selectors"));
        };
        if selector.offset.is_some() {
            return Err(err(lb, "no offset modifiers allowed before range"));
        }
        if selector.at.is_some() {
            return Err(err(lb, "no @ modifiers allowed before range"));
        }
        let span = Span::new(selector.span.start, r);
        Ok(Expr::MatrixSelector(MatrixSelector {
            selector,
            range,
            span,
        }))
    }

    pub fn subquery(
        e: Expr,
        lb: usize,
        range: DurationExpr,
        step: Option<DurationExpr>,
        r: usize,
    ) -> Result<Expr, LexError> {
        let range = positive(lb + 1, range)?;
        let step = step.map(|s| positive(lb + 1, s)).transpose()?;
        let span = Span::new(e.span().start, r);
        Ok(Expr::Subquery(SubqueryExpr {
            expr: Box::new(e),
            range,
            step,
            offset: None,
            at: None,
            span,
        }))
    }

    pub fn offset(mut e: Expr, d: DurationExpr, r: usize) -> Result<Expr, LexError> {
        let start = e.span().start;
        let slot = match &mut e {
            Expr::VectorSelector(v) => &mut v.offset,
            Expr::MatrixSelector(m) => &mut m.selector.offset,
            Expr::Subquery(s) => &mut s.offset,
            _ => {
                return Err(err(
                    start,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() {
            return Err(err(start, "offset may not be set multiple times"));
        }
        // A zero offset is no offset, as in Prometheus.
        let d = to_duration(d);
        if d != Duration::Millis(0) {
            *slot = Some(d);
        }
        e.span_mut().end = r;
        Ok(e)
    }

    pub fn at_timestamp(
        pos: usize,
        tok: (String, bool),
        negate: bool,
    ) -> Result<AtModifier, LexError> {
        let mut ts = seconds(pos, &tok)?;
        if negate {
            ts = -ts;
        }
        if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
            // Go's `%f` prints `+Inf`, `-Inf` and `NaN` for the non-finite.
            let shown = if ts.is_finite() {
                format!("{ts:.6}")
            } else {
                crate::printer::format_float(ts)
            };
            return Err(err(
                pos,
                format!("timestamp out of bounds for @ modifier: {shown}"),
            ));
        }
        Ok(AtModifier::Timestamp((ts * 1000.0).round() as i64))
    }

    pub fn at(mut e: Expr, a: AtModifier, r: usize) -> Result<Expr, LexError> {
        let start = e.span().start;
        let slot = match &mut e {
            Expr::VectorSelector(v) => &mut v.at,
            Expr::MatrixSelector(m) => &mut m.selector.at,
            Expr::Subquery(s) => &mut s.at,
            _ => {
                return Err(err(
                    start,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() {
            return Err(err(start, "@ <timestamp> may not be set multiple times"));
        }
        *slot = Some(a);
        e.span_mut().end = r;
        Ok(e)
    }

    /// `anchored` (`is_anchored`) or `smoothed` after a selector.
    pub fn anchored(mut e: Expr, is_anchored: bool, r: usize) -> Result<Expr, LexError> {
        let start = e.span().start;
        let what = if is_anchored { "anchored" } else { "smoothed" };
        let selector = match &mut e {
            Expr::VectorSelector(v) => v,
            Expr::MatrixSelector(m) => &mut m.selector,
            Expr::Subquery(_) => {
                return Err(err(
                    start,
                    format!("{what} modifier is not supported for subqueries"),
                ));
            }
            _ => return Err(err(start, format!("{what} modifier not implemented"))),
        };
        if is_anchored {
            selector.anchored = true;
        } else {
            selector.smoothed = true;
        }
        if selector.anchored && selector.smoothed {
            return Err(err(
                start,
                "anchored and smoothed modifiers cannot be used together",
            ));
        }
        e.span_mut().end = r;
        Ok(e)
    }

    /// `2^63` nanoseconds, the range of Go's `time.Duration`, in seconds.
    const MAX_DURATION_SECS: f64 = 9_223_372_036.854_776;

    pub fn duration_literal(pos: usize, tok: (String, bool)) -> Result<DurationExpr, LexError> {
        let secs = seconds(pos, &tok)?;
        if secs.abs() > MAX_DURATION_SECS || secs.is_nan() {
            return Err(err(pos, "duration out of range"));
        }
        Ok(DurationExpr::Number {
            secs,
            duration: tok.1,
        })
    }

    pub fn duration_unary(negate: bool, d: DurationExpr) -> Result<DurationExpr, LexError> {
        Ok(match (negate, d) {
            (false, d) => d,
            (true, DurationExpr::Number { secs, duration }) => DurationExpr::Number {
                secs: -secs,
                duration,
            },
            (true, d) => DurationExpr::Neg(Box::new(d)),
        })
    }

    pub fn duration_binary(op: DurationOp, lhs: DurationExpr, rhs: DurationExpr) -> DurationExpr {
        DurationExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    pub fn duration_division(
        op: DurationOp,
        lhs: DurationExpr,
        pos: usize,
        rhs: DurationExpr,
    ) -> Result<DurationExpr, LexError> {
        if let DurationExpr::Number { secs, .. } = rhs
            && secs == 0.0
        {
            let what = if op == DurationOp::Div {
                "division by zero"
            } else {
                "modulo by zero"
            };
            return Err(err(pos, what));
        }
        Ok(duration_binary(op, lhs, rhs))
    }

    /// Parentheses around a plain literal vanish (as in Prometheus, where
    /// they only mark a `DurationExpr` as wrapped).
    pub fn duration_paren(d: DurationExpr) -> DurationExpr {
        match d {
            d @ DurationExpr::Number { .. } => d,
            d => DurationExpr::Paren(Box::new(d)),
        }
    }
}
