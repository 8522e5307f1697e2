//! Parsing a `.test` script into commands, line by line as Prometheus'
//! `promql/promqltest/test.go` does (same header patterns, same body rules),
//! so a script means here what it means upstream.

use std::sync::LazyLock;

use regex::Regex;
use wasmetheus_model::Label;

use super::series::{
    SequenceValue, parse_duration, parse_labels, parse_number, parse_quoted, parse_series,
    parse_st_sequence,
};
use wasmetheus_promql::value::SampleValue;

/// A script that could not be parsed: the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

/// A parsed script: its commands in order.
#[derive(Debug, Clone)]
pub struct Script {
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// `clear` at this line.
    Clear {
        line: usize,
    },
    Load(Load),
    Eval(Box<Eval>),
}

/// `load <step>` / `load_with_nhcb <step>` and its series.
#[derive(Debug, Clone)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    pub with_nhcb: bool,
    pub series: Vec<LoadSeries>,
}

/// One series line of a `load`.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    pub line: usize,
    pub labels: Vec<Label>,
    pub values: Vec<SequenceValue>,
    /// Per position, the offset of the sample's start time from its
    /// timestamp (ms): from the preceding `metric@st …` line, else from
    /// the last standalone `@st …` line above it (repeated cyclically).
    pub st: Option<Vec<Option<i64>>>,
}

/// One sample a `load` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSample {
    pub labels: Vec<Label>,
    pub t: i64,
    pub value: SampleValue,
    /// Start timestamp (ms), if the script gave one.
    pub st: Option<i64>,
}

impl Load {
    /// The samples to append, series by series, oldest first. A series
    /// listed twice in one block keeps only its last line, as upstream
    /// (which keys the block's series by label hash).
    pub fn samples(&self) -> Vec<LoadSample> {
        let mut out = Vec::new();
        for (n, s) in self.series.iter().enumerate() {
            if self.series[n + 1..].iter().any(|o| o.labels == s.labels) {
                continue;
            }
            for (i, v) in s.values.iter().enumerate() {
                let Some(value) = v else { continue };
                let t = i as i64 * self.step_ms;
                let offset = s.st.as_ref().and_then(|st| st.get(i).copied().flatten());
                out.push(LoadSample {
                    labels: s.labels.clone(),
                    t,
                    value: value.clone(),
                    st: offset.map(|o| t + o),
                });
            }
        }
        out
    }
}

/// `eval instant at <t>` or `eval range from <a> to <b> step <s>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

/// How an `expect … msg:`/`regex:` line (or a deprecated
/// `expected_fail_*` line) matches a text.
#[derive(Debug, Clone)]
pub enum TextMatch {
    /// No `msg:`/`regex:`: anything.
    Any,
    /// `msg:` exact, after trimming.
    Exact(String),
    /// `regex:` unanchored search.
    Regex(Regex),
}

impl TextMatch {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(s) => s == text,
            TextMatch::Regex(r) => r.is_match(text),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextMatch::Any => f.write_str("anything"),
            TextMatch::Exact(s) => write!(f, "message {s:?}"),
            TextMatch::Regex(r) => write!(f, "pattern {:?}", r.as_str()),
        }
    }
}

/// What an eval expects of one kind of annotation.
#[derive(Debug, Clone, Default)]
pub struct AnnotationExpect {
    /// `eval_warn`/`eval_info`: at least one.
    pub at_least_one: bool,
    /// `expect warn|info` lines.
    pub lines: Vec<TextMatch>,
    /// `expect no_warn|no_info`.
    pub none: bool,
}

/// The expected result lines.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A bare number line.
    Scalar(f64),
    /// Series lines; none means an empty result.
    Series(Vec<ExpectedSeries>),
}

/// One expected series line.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    pub line: usize,
    /// 1-based rank among the result lines (for `expect ordered`).
    pub pos: usize,
    pub labels: Vec<Label>,
    pub values: Vec<SequenceValue>,
    pub hint_set: Vec<bool>,
}

/// An `eval` and everything its body expects.
#[derive(Debug, Clone)]
pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub kind: EvalKind,
    /// `eval_fail` or `expect fail`.
    pub fail: bool,
    /// Constraints on the error text (`expect fail msg:|regex:`,
    /// `expected_fail_message`, `expected_fail_regexp`); all must hold.
    pub fail_matches: Vec<TextMatch>,
    pub warn: AnnotationExpect,
    pub info: AnnotationExpect,
    /// `eval_ordered` or `expect ordered`.
    pub ordered: bool,
    /// `expect range vector from a to b step s`: the grid (ms) of the
    /// expected values; the query runs at `b`.
    pub range_vector: Option<(i64, i64, i64)>,
    /// `expect string "…"`.
    pub expected_string: Option<String>,
    pub expected: Expected,
}

impl Eval {
    pub fn is_instant(&self) -> bool {
        matches!(self.kind, EvalKind::Instant { .. })
    }

    /// The time an instant eval runs at (the end of an expected range
    /// vector, else its `at`).
    pub fn eval_time(&self) -> i64 {
        match (self.kind, self.range_vector) {
            (_, Some((_, end, _))) => end,
            (EvalKind::Instant { at }, None) => at,
            (EvalKind::Range { start, .. }, None) => start,
        }
    }

    /// The grid `(start, end, step)` expected values are placed on.
    pub fn grid(&self) -> (i64, i64, i64) {
        match (self.kind, self.range_vector) {
            (_, Some(g)) => g,
            (EvalKind::Range { start, end, step }, None) => (start, end, step),
            (EvalKind::Instant { at }, None) => (at, at, 0),
        }
    }

    /// Excluded from the range-consistency check (`expect range vector`,
    /// `expect string`).
    pub fn exclude_from_range_query(&self) -> bool {
        self.range_vector.is_some() || self.expected_string.is_some()
    }
}

// The same patterns as upstream's test.go, so headers split identically.
static LOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap());
static EVAL_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").unwrap()
});
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .unwrap()
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .unwrap()
});
static EXPECT_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").unwrap()
});

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Script, ScriptError> {
    // Trimmed, with comment lines blanked: a comment ends a block like an
    // empty line does.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let keyword = l
            .split([' ', '\t'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let cmd = if keyword == "clear" {
            Command::Clear { line: i + 1 }
        } else if keyword.starts_with("load") {
            let (end, load) = parse_load(&lines, i)?;
            i = end;
            Command::Load(load)
        } else if keyword.starts_with("eval") {
            let (end, eval) = parse_eval(&lines, i)?;
            i = end;
            Command::Eval(Box::new(eval))
        } else {
            return Err(err(i, format!("invalid command {l:?}")));
        };
        commands.push(cmd);
        i += 1;
    }
    Ok(Script { commands })
}

fn err(i: usize, message: impl Into<String>) -> ScriptError {
    ScriptError {
        line: i + 1,
        message: message.into(),
    }
}

/// Whether a load body line is a `metric{…}@st <offsets>` line.
fn is_st_line(line: &str) -> bool {
    line.find([' ', '\t'])
        .is_some_and(|space| line[..space].ends_with("@st"))
}

/// Parses a load block starting at line index `i`; returns the index of
/// its last line.
fn parse_load(lines: &[&str], mut i: usize) -> Result<(usize, Load), ScriptError> {
    let caps = LOAD.captures(lines[i]).ok_or_else(|| {
        err(
            i,
            "invalid load command. (load[_with_nhcb] <step:duration>)",
        )
    })?;
    let step = &caps[2];
    let step_ms = parse_duration(step)
        .map_err(|e| err(i, format!("invalid step definition {step:?}: {e}")))?;
    let mut load = Load {
        line: i + 1,
        step_ms,
        with_nhcb: caps.get(1).is_some(),
        series: Vec::new(),
    };
    // A standalone `@st` line: the default for the series after it.
    let mut default_st: Option<Vec<Option<i64>>> = None;
    // A `metric@st` line waiting for its sample line: (index, labels, offsets).
    let mut pending: Option<(usize, Vec<Label>, Vec<Option<i64>>)> = None;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let line = lines[i];
        if is_st_line(line) {
            if let Some((at, ..)) = pending {
                return Err(err(at, "@st line has no following sample line"));
            }
            let space = line.find([' ', '\t']).unwrap_or(line.len());
            let metric = line[..space].trim_end_matches("@st");
            let offsets = parse_st_sequence(&line[space..])
                .map_err(|e| err(i, format!("invalid @st sequence: {e}")))?;
            if metric.is_empty() {
                default_st = Some(offsets).filter(|o| !o.is_empty());
                continue;
            }
            let (labels, rest) = parse_labels(metric)
                .map_err(|e| err(i, format!("invalid @st line metric {metric:?}: {e}")))?;
            if !rest.is_empty() {
                return Err(err(i, format!("invalid @st line metric {metric:?}")));
            }
            pending = Some((i, labels, offsets));
            continue;
        }
        let desc = parse_series(line).map_err(|e| err(i, e))?;
        let st = match pending.take() {
            Some((at, labels, offsets)) => {
                if labels != desc.labels {
                    return Err(err(
                        at,
                        "@st metric does not match the following sample line metric",
                    ));
                }
                if offsets.len() != desc.values.len() {
                    return Err(err(
                        at,
                        format!(
                            "@st line has {} values but sample line has {}",
                            offsets.len(),
                            desc.values.len()
                        ),
                    ));
                }
                Some(offsets)
            }
            None => default_st
                .as_ref()
                .map(|d| (0..desc.values.len()).map(|i| d[i % d.len()]).collect()),
        };
        load.series.push(LoadSeries {
            line: i + 1,
            labels: desc.labels,
            values: desc.values,
            st,
        });
    }
    if let Some((at, ..)) = pending {
        return Err(err(at, "@st line has no following sample line"));
    }
    Ok((i, load))
}

/// Parses an eval block starting at line index `i`; returns the index of
/// its last line.
fn parse_eval(lines: &[&str], mut i: usize) -> Result<(usize, Eval), ScriptError> {
    let header = lines[i];
    let (modifier, expr, kind) = if let Some(c) = EVAL_INSTANT.captures(header) {
        let expr = c[3].to_owned();
        let at = c.get(2).map_or("", |m| m.as_str());
        let at = parse_duration(at).map_err(|e| {
            err(
                i,
                format!(
                    "error in eval {expr} (line {}): invalid timestamp definition {at:?}: {e}",
                    i + 1
                ),
            )
        })?;
        (c.get(1).map(|m| m.as_str()), expr, EvalKind::Instant { at })
    } else if let Some(c) = EVAL_RANGE.captures(header) {
        let expr = c[5].to_owned();
        let (start, end, step) = parse_range(&c[2], &c[3], &c[4])
            .map_err(|e| err(i, format!("error in eval {expr} (line {}): {e}", i + 1)))?;
        (
            c.get(1).map(|m| m.as_str()),
            expr,
            EvalKind::Range { start, end, step },
        )
    } else {
        return Err(err(
            i,
            "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
        ));
    };
    let mut eval = Eval {
        line: i + 1,
        expr,
        kind,
        fail: modifier == Some("fail"),
        fail_matches: Vec::new(),
        warn: AnnotationExpect {
            at_least_one: modifier == Some("warn"),
            ..AnnotationExpect::default()
        },
        info: AnnotationExpect {
            at_least_one: modifier == Some("info"),
            ..AnnotationExpect::default()
        },
        ordered: modifier == Some("ordered"),
        range_vector: None,
        expected_string: None,
        expected: Expected::Series(Vec::new()),
    };
    let deprecated_fail = eval.fail;
    let body_err = |i: usize, expr: &str, e: String| {
        err(i, format!("error in eval {expr} (line {}): {e}", i + 1))
    };
    let mut fail_lines = 0;
    let mut pos = 0;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let line = lines[i];
        // These end the body, as upstream.
        if deprecated_fail && let Some(m) = line.strip_prefix("expected_fail_message") {
            eval.fail_matches
                .push(TextMatch::Exact(m.trim().to_owned()));
            break;
        }
        if deprecated_fail && let Some(p) = line.strip_prefix("expected_fail_regexp") {
            let p = p.trim();
            let re = Regex::new(p).map_err(|e| {
                body_err(
                    i,
                    &eval.expr,
                    format!("invalid regexp '{p}' for expected_fail_regexp: {e}"),
                )
            })?;
            eval.fail_matches.push(TextMatch::Regex(re));
            break;
        }
        if line.starts_with("expect range vector") {
            let c = EXPECT_RANGE.captures(line).ok_or_else(|| {
                body_err(
                    i,
                    &eval.expr,
                    format!("invalid range vector definition {line:?}"),
                )
            })?;
            let range = parse_range(&c[1], &c[2], &c[3]).map_err(|e| body_err(i, &eval.expr, e))?;
            eval.range_vector = Some(range);
            continue;
        }
        if line.starts_with("expect string") {
            let s = line
                .strip_prefix("expect string ")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    body_err(
                        i,
                        &eval.expr,
                        "expected string literal not valid - a quoted string literal is required"
                            .into(),
                    )
                })?;
            let parsed = match s.as_bytes()[0] {
                b'"' | b'`' => parse_quoted(s).ok().filter(|(_, rest)| rest.is_empty()),
                _ => None,
            };
            let (s, _) = parsed.ok_or_else(|| {
                body_err(
                    i,
                    &eval.expr,
                    "expected string literal not valid - check that the string is correctly quoted"
                        .into(),
                )
            })?;
            eval.expected_string = Some(s);
            continue;
        }
        if line.split(' ').next() == Some("expect") {
            let c = EXPECT.captures(line).ok_or_else(|| {
                body_err(
                    i,
                    &eval.expr,
                    "invalid expect statement, must match `expect <type> <match_type>: <string>` format"
                        .into(),
                )
            })?;
            let matcher = match c.get(2).map(|m| m.as_str()) {
                Some("msg") => TextMatch::Exact(c[3].trim().to_owned()),
                Some(_) => {
                    let p = c[3].trim();
                    TextMatch::Regex(Regex::new(p).map_err(|_| {
                        body_err(i, &eval.expr, format!("invalid regex {p} for {}", &c[1]))
                    })?)
                }
                None => TextMatch::Any,
            };
            match &c[1] {
                "ordered" => eval.ordered = true,
                "fail" => {
                    eval.fail = true;
                    fail_lines += 1;
                    eval.fail_matches.push(matcher);
                }
                "warn" => eval.warn.lines.push(matcher),
                "no_warn" => eval.warn.none = true,
                "info" => eval.info.lines.push(matcher),
                _ => eval.info.none = true,
            }
            let invalid = if !eval.info.lines.is_empty() && eval.info.none {
                Some("invalid expect lines, info and no_info cannot be used together")
            } else if !eval.warn.lines.is_empty() && eval.warn.none {
                Some("invalid expect lines, warn and no_warn cannot be used together")
            } else if fail_lines > 1 {
                Some("invalid expect lines, multiple expect fail lines are not allowed")
            } else {
                None
            };
            if let Some(m) = invalid {
                return Err(body_err(i, &eval.expr, m.into()));
            }
            continue;
        }
        if let Some(v) = parse_number(line) {
            eval.expected = Expected::Scalar(v);
            break;
        }
        let desc = parse_series(line).map_err(|e| err(i, e))?;
        if desc.values.len() > 1 && eval.is_instant() && eval.range_vector.is_none() {
            return Err(body_err(
                i,
                &eval.expr,
                "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query".into(),
            ));
        }
        pos += 1;
        if let Expected::Series(series) = &mut eval.expected {
            // A label set listed twice: the last line wins, as upstream.
            series.retain(|s| s.labels != desc.labels);
            series.push(ExpectedSeries {
                line: i + 1,
                pos,
                labels: desc.labels,
                values: desc.values,
                hint_set: desc.hint_set,
            });
        }
    }
    Ok((i, eval))
}

/// `from`, `to`, `step` durations (ms); `to` must not precede `from`.
fn parse_range(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let start = parse_duration(from)
        .map_err(|e| format!("invalid start timestamp definition {from:?}: {e}"))?;
    let end =
        parse_duration(to).map_err(|e| format!("invalid end timestamp definition {to:?}: {e}"))?;
    if end < start {
        return Err(format!(
            "invalid test definition, end timestamp ({to}) is before start timestamp ({from})"
        ));
    }
    let step =
        parse_duration(step).map_err(|e| format!("invalid step definition {step:?}: {e}"))?;
    Ok((start, end, step))
}
