//! The PromQL syntax tree, shaped like Prometheus' `promql/parser/ast.go`,
//! and the value types used to check it. A call refers to its entry in the
//! function table ([`FUNCTIONS`](crate::functions::FUNCTIONS), kept in
//! `functions/`) by a [`FunctionRef`], so the tree names nothing of the
//! table and the table's implementations can take the tree's nodes.

use wasmetheus_model::storage::Matcher;

/// Byte offsets `start..end` of a node in the query text.
///
/// Spans never take part in equality: two trees that differ only in where
/// their nodes were written compare equal, which is what the printer's
/// round trip needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

/// The type of value an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    None,
    Vector,
    Scalar,
    Matrix,
    String,
}

impl ValueType {
    /// The name Prometheus uses in type errors (`DocumentedType`).
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Vector => "instant vector",
            ValueType::Scalar => "scalar",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The internal name (`ValueType.String()`), which a few messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Vector => "vector",
            ValueType::Scalar => "scalar",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(NumberLiteral),
    String(StringLiteral),
    VectorSelector(VectorSelector),
    MatrixSelector(MatrixSelector),
    Subquery(SubqueryExpr),
    Paren(ParenExpr),
    Unary(UnaryExpr),
    Binary(BinaryExpr),
    Aggregate(AggregateExpr),
    Call(Call),
}

impl Expr {
    /// Levels from this node down to its deepest leaf (1 for a leaf). The
    /// parser bounds it by [`crate::parser::MAX_DEPTH`].
    pub fn depth(&self) -> usize {
        let below = match self {
            Expr::Number(_)
            | Expr::String(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_) => 0,
            Expr::Paren(e) => e.expr.depth(),
            Expr::Unary(e) => e.expr.depth(),
            Expr::Subquery(e) => e.expr.depth(),
            Expr::Binary(e) => e.lhs.depth().max(e.rhs.depth()),
            Expr::Aggregate(e) => e
                .expr
                .depth()
                .max(e.param.as_ref().map_or(0, |p| p.depth())),
            Expr::Call(e) => e.args.iter().map(Expr::depth).max().unwrap_or(0),
        };
        below + 1
    }

    pub fn span(&self) -> Span {
        match self {
            Expr::Number(e) => e.span,
            Expr::String(e) => e.span,
            Expr::VectorSelector(e) => e.span,
            Expr::MatrixSelector(e) => e.span,
            Expr::Subquery(e) => e.span,
            Expr::Paren(e) => e.span,
            Expr::Unary(e) => e.span,
            Expr::Binary(e) => e.span,
            Expr::Aggregate(e) => e.span,
            Expr::Call(e) => e.span,
        }
    }

    pub(crate) fn span_mut(&mut self) -> &mut Span {
        match self {
            Expr::Number(e) => &mut e.span,
            Expr::String(e) => &mut e.span,
            Expr::VectorSelector(e) => &mut e.span,
            Expr::MatrixSelector(e) => &mut e.span,
            Expr::Subquery(e) => &mut e.span,
            Expr::Paren(e) => &mut e.span,
            Expr::Unary(e) => &mut e.span,
            Expr::Binary(e) => &mut e.span,
            Expr::Aggregate(e) => &mut e.span,
            Expr::Call(e) => &mut e.span,
        }
    }

    /// The type the expression evaluates to (Prometheus' `Expr.Type()`).
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(e) => e.expr.value_type(),
            Expr::Unary(e) => e.expr.value_type(),
            Expr::Binary(e) => {
                if e.scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.return_type,
        }
    }
}

/// A number; `duration` records that it was written as a duration (`5m`),
/// in which case `val` is in seconds and it prints back as a duration.
#[derive(Debug, Clone)]
pub struct NumberLiteral {
    pub val: f64,
    pub duration: bool,
    pub span: Span,
}

impl PartialEq for NumberLiteral {
    fn eq(&self, other: &Self) -> bool {
        // NaN literals must equal themselves for the round trip.
        same_float(self.val, other.val) && self.duration == other.duration
    }
}

pub(crate) fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// A string literal. Go strings may hold arbitrary bytes (`"\xff"`), so the
/// exact bytes are kept next to the (lossily decoded) text.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    pub val: String,
    pub bytes: Vec<u8>,
    pub span: Span,
}

impl StringLiteral {
    /// Whether the literal is valid UTF-8 (label names and values must be).
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.bytes).is_ok()
    }
}

/// `@ <timestamp>`, `@ start()` or `@ end()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtModifier {
    /// Milliseconds since the epoch.
    Timestamp(i64),
    Start,
    End,
}

/// A range, step or offset: a fixed number of milliseconds, or a duration
/// expression (`5m+1m`, `step()`, `min_of(range(), 1h)`) the engine
/// evaluates per query.
#[derive(Debug, Clone, PartialEq)]
pub enum Duration {
    Millis(i64),
    Expr(DurationExpr),
}

impl Duration {
    /// The fixed length, if it does not depend on the query.
    pub fn fixed_millis(&self) -> Option<i64> {
        match self {
            Duration::Millis(ms) => Some(*ms),
            Duration::Expr(_) => None,
        }
    }
}

/// The arithmetic operators of duration expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl DurationOp {
    pub fn as_str(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
        }
    }
}

/// An experimental duration expression, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A literal; `duration` if written as `5m` rather than `300`.
    Number {
        secs: f64,
        duration: bool,
    },
    /// `step()`: the step of the range query (0 for instant queries).
    Step,
    /// `range()`: the length of the range query (0 for instant queries).
    Range,
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    /// Unary minus (unary plus is dropped while parsing).
    Neg(Box<DurationExpr>),
    Binary {
        op: DurationOp,
        lhs: Box<DurationExpr>,
        rhs: Box<DurationExpr>,
    },
    /// Kept so the printer reproduces the grouping that was written.
    Paren(Box<DurationExpr>),
}

impl DurationExpr {
    /// Evaluates to seconds, given the query's step and range in seconds.
    pub fn eval(&self, step: f64, range: f64) -> f64 {
        match self {
            DurationExpr::Number { secs, .. } => *secs,
            DurationExpr::Step => step,
            DurationExpr::Range => range,
            DurationExpr::MinOf(a, b) => a.eval(step, range).min(b.eval(step, range)),
            DurationExpr::MaxOf(a, b) => a.eval(step, range).max(b.eval(step, range)),
            DurationExpr::Neg(e) => -e.eval(step, range),
            DurationExpr::Paren(e) => e.eval(step, range),
            DurationExpr::Binary { op, lhs, rhs } => {
                let (a, b) = (lhs.eval(step, range), rhs.eval(step, range));
                match op {
                    DurationOp::Add => a + b,
                    DurationOp::Sub => a - b,
                    DurationOp::Mul => a * b,
                    DurationOp::Div => a / b,
                    DurationOp::Mod => a % b,
                    DurationOp::Pow => a.powf(b),
                }
            }
        }
    }
}

/// An instant vector selector: `name{matchers} @ t offset d`. As in
/// Prometheus a name written outside the braces is also the last matcher.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The name written outside the braces, or empty.
    pub name: String,
    pub matchers: Vec<Matcher>,
    pub offset: Option<Duration>,
    pub at: Option<AtModifier>,
    pub anchored: bool,
    pub smoothed: bool,
    /// Set for the second argument of `info()`, which may match everything.
    pub bypass_empty_matcher_check: bool,
    pub span: Span,
}

/// `selector[range]`; offset, `@`, `anchored` and `smoothed` live in the
/// inner selector, as in Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    pub selector: VectorSelector,
    pub range: Duration,
    pub span: Span,
}

/// `expr[range:step]`; `step` is `None` for `[range:]` (the engine's default).
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    pub expr: Box<Expr>,
    pub range: Duration,
    pub step: Option<Duration>,
    pub offset: Option<Duration>,
    pub at: Option<AtModifier>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    pub expr: Box<Expr>,
    pub span: Span,
}

/// Unary `-` or `+` (on anything but a number literal, which is folded).
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    pub negate: bool,
    pub expr: Box<Expr>,
    pub span: Span,
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    /// `</`: trims a histogram's observations above a value.
    TrimUpper,
    /// `>/`: trims a histogram's observations below a value.
    TrimLower,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::TrimUpper => "</",
            BinOp::TrimLower => ">/",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Gtr => ">",
            BinOp::Lss => "<",
            BinOp::Gte => ">=",
            BinOp::Lte => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// How the series of the two sides of a vector operation pair up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)` and the
/// experimental `fill(...)` modifiers of a binary operation. Present on
/// every binary expression; only meaningful between two vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// `on` rather than `ignoring` (an absent clause is `ignoring()`).
    pub on: bool,
    pub labels: Vec<String>,
    /// The extra labels of `group_left`/`group_right`.
    pub include: Vec<String>,
    pub fill: FillValues,
}

impl Default for VectorMatching {
    fn default() -> Self {
        VectorMatching {
            card: Cardinality::OneToOne,
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
            fill: FillValues::default(),
        }
    }
}

/// Values for series missing on one side (`fill`, `fill_left`, `fill_right`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FillValues {
    pub lhs: Option<f64>,
    pub rhs: Option<f64>,
}

impl PartialEq for FillValues {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => same_float(a, b),
            (None, None) => true,
            _ => false,
        };
        same(self.lhs, other.lhs) && same(self.rhs, other.rhs)
    }
}

impl FillValues {
    pub fn is_empty(&self) -> bool {
        self.lhs.is_none() && self.rhs.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    pub op: BinOp,
    pub lhs: Box<Expr>,
    pub rhs: Box<Expr>,
    pub return_bool: bool,
    pub matching: VectorMatching,
    pub span: Span,
    /// Both sides are scalars (so is the result), decided once when the
    /// tree is built: asking the sides again would walk a whole operator
    /// chain at every node of it.
    pub(crate) scalar: bool,
}

/// The aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the expression.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }
}

/// `op by|without (labels) ([param,] expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    pub op: AggregateOp,
    pub expr: Box<Expr>,
    pub param: Option<Box<Expr>>,
    pub grouping: Vec<String>,
    pub without: bool,
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: FunctionRef,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// A call's function: its index in the function table
/// ([`FUNCTIONS`](crate::functions::FUNCTIONS)). It dereferences to the
/// table entry (`call.func.name`), debug-prints as the entry does, and two
/// are equal when they name the same function (entries are unique by
/// name). Get one with [`function`](crate::functions::function).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FunctionRef(pub(crate) u16);
