//! The values of an evaluation in progress — samples, range series, the
//! intermediate [`Val`] — and the evaluation [`Error`], shared by the
//! engine and the functions (which never import the engine).

use std::sync::Arc;

use crate::labels::Labels;
use crate::parse_error::ParseError;
use crate::value::Histogram;

/// Why a query failed; the texts are Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// An evaluation error (`errorf` in Prometheus' engine).
    #[error("{0}")]
    Eval(String),
    /// A valid expression the kind of query cannot run (a range query over
    /// a range vector or a string): a bad parameter, not a failure.
    #[error("{0}")]
    Invalid(String),
    #[error("query timed out in query execution")]
    Timeout,
    #[error("query was canceled in query execution")]
    Canceled,
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    #[error("{0}")]
    Storage(String),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Eval(msg.into()))
}

/// The error of an operation that does not handle native histograms yet:
/// refused rather than computed from the floats alone.
pub(crate) fn unsupported<T>(op: &str) -> Result<T> {
    err(format!("native histograms are not supported by {op} yet"))
}

/// Whether any sample of `samples` is a native histogram.
pub(crate) fn any_histogram(samples: &[Sample]) -> bool {
    samples.iter().any(|s| s.h.is_some())
}

/// One element of an instant vector while evaluating: labels still carry
/// `__name__` until the end, `drop_name` says whether it is to go then.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub labels: Labels,
    /// The sample's own timestamp (what `timestamp()` reports for a
    /// selector); the evaluation time elsewhere.
    pub t: i64,
    /// The float value; meaningless (0) when `h` is set.
    pub v: f64,
    /// A native histogram instead of a float.
    pub h: Option<Arc<Histogram>>,
    pub drop_name: bool,
}

/// One series of a range vector while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    /// The points' start timestamps (`0` for none), straight from a range
    /// selector; `None` for series without any and for everything
    /// computed (subqueries), which Prometheus does not carry them
    /// through.
    pub start_timestamps: Option<Vec<i64>>,
    /// Native histogram points, oldest first (Prometheus keeps a series'
    /// floats and histograms apart too); empty for float series.
    pub histograms: Vec<(i64, Arc<Histogram>)>,
    pub drop_name: bool,
}

/// A selected series: labels and its samples in the window.
pub(crate) type Selected = (Labels, Vec<(i64, f64)>);

/// An intermediate value at one evaluation time.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Sample>),
    /// A range vector and the window `(start, end]` it covers (functions
    /// such as `rate` extrapolate to the window's bounds).
    Matrix(Vec<RangeSeries>, i64, i64),
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "vector",
            Val::Matrix(..) => "matrix",
        }
    }
}

/// Rejects a vector holding one label set twice.
pub(crate) fn check_unique(samples: &[Sample]) -> Result<()> {
    if samples.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(samples.len());
        for s in samples {
            if !seen.insert(&s.labels) {
                return err("vector cannot contain metrics with the same labelset");
            }
        }
    }
    Ok(())
}
