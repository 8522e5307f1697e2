//! The series notation of the scripted tests (`metric{l="v"} 1 2+3x4 _
//! stale {{schema:0 count:3 buckets:[1 2]}}`), `@st` start-timestamp
//! sequences, and the durations and numbers the commands take.

use wasmetheus_model::Label;
use wasmetheus_model::storage::STALE_NAN_BITS;

use wasmetheus_promql::value::{CounterResetHint, Histogram, SampleValue};

/// One position of an expanded value sequence: `None` is a gap (`_`).
pub type SequenceValue = Option<SampleValue>;

/// A series line: its labels (sorted, `__name__` included when named) and
/// the expanded values.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    pub labels: Vec<Label>,
    pub values: Vec<SequenceValue>,
    /// Per position, whether a histogram spelled out `counter_reset_hint`
    /// (then the hint is compared; otherwise it is not).
    pub hint_set: Vec<bool>,
}

/// A problem in a series line; the caller adds the line number.
pub type NotationError = String;

/// The most a series line's values may expand to, counted in cells: one
/// per position, plus one per bucket (and custom bound) of a native
/// histogram, so a short line cannot ask for gigabytes (`{{buckets:[…]}}`
/// with thousands of buckets repeated a million times).
pub const MAX_SERIES_CELLS: u64 = 20_000_000;

/// Parses `<series> <values>`, at most [`MAX_SERIES_CELLS`] cells.
pub fn parse_series(line: &str) -> Result<SeriesDesc, NotationError> {
    parse_series_within(line, MAX_SERIES_CELLS)
}

/// Parses `<series> <values>` whose values expand to at most `budget`
/// cells (see [`value_cells`]); checked before each item is expanded.
pub fn parse_series_within(line: &str, budget: u64) -> Result<SeriesDesc, NotationError> {
    let (labels, rest) = parse_labels(line)?;
    let mut values = Vec::new();
    let mut hint_set = Vec::new();
    let mut budget = Budget {
        limit: budget,
        left: budget,
    };
    parse_values(rest, &mut values, &mut hint_set, &mut budget)?;
    Ok(SeriesDesc {
        labels,
        values,
        hint_set,
    })
}

/// The cells one expanded position costs: 1, plus a native histogram's
/// bucket count ([`Histogram::bucket_count`]).
pub fn value_cells(value: &SequenceValue) -> u64 {
    match value {
        Some(SampleValue::Histogram(h)) => histogram_cells(h),
        _ => 1,
    }
}

/// What is left of a line's cell budget.
struct Budget {
    limit: u64,
    left: u64,
}

impl Budget {
    /// Takes `positions` positions of `cells` each, or refuses.
    fn take(&mut self, positions: u64, cells: u64) -> Result<(), NotationError> {
        let want = positions.saturating_mul(cells);
        self.left = self
            .left
            .checked_sub(want)
            .ok_or_else(|| over_budget_error(self.limit))?;
        Ok(())
    }
}

/// The error [`parse_series_within`] gives when the values expand to more
/// than `budget` cells, for callers that word the limit their own way.
pub fn over_budget_error(budget: u64) -> NotationError {
    format!(
        "values expand to more than {budget} samples (a native histogram counts one per bucket)"
    )
}

/// The cells of one histogram position.
fn histogram_cells(h: &Histogram) -> u64 {
    1 + h.bucket_count() as u64
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Parses a label set `name{a="b", "c.d"="e"}`, `name`, `{…}`, returning
/// the sorted labels and the rest of the text.
pub fn parse_labels(text: &str) -> Result<(Vec<Label>, &str), NotationError> {
    let mut labels = Vec::new();
    let name_len = text
        .char_indices()
        .find(|&(i, c)| {
            !(if i == 0 {
                is_name_start(c)
            } else {
                is_name_char(c)
            })
        })
        .map_or(text.len(), |(i, _)| i);
    if name_len > 0 {
        labels.push(Label::new("__name__", &text[..name_len]));
    }
    let mut rest = &text[name_len..];
    let braces = rest.starts_with('{');
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (name, quoted, after) = if rest.starts_with(['"', '\'', '`']) {
                let (s, after) = parse_quoted(rest)?;
                (s, true, after)
            } else {
                let len = rest
                    .char_indices()
                    .find(|&(i, c)| {
                        !(if i == 0 {
                            c.is_ascii_alphabetic() || c == '_'
                        } else {
                            c.is_ascii_alphanumeric() || c == '_'
                        })
                    })
                    .map_or(rest.len(), |(i, _)| i);
                if len == 0 {
                    return Err(format!("unexpected {:?} in label set", first_char(rest)));
                }
                (rest[..len].to_owned(), false, &rest[len..])
            };
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix('=') {
                let (value, after) = parse_quoted(after.trim_start())?;
                labels.push(Label::new(name, value));
                rest = after.trim_start();
            } else if quoted {
                // `{"my.metric"}`: a quoted name alone names the metric.
                labels.push(Label::new("__name__", name));
            } else {
                return Err(format!("expected \"=\" after label name {name:?}"));
            }
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!(
                    "unexpected {:?} in label set, expected \",\" or \"}}\"",
                    first_char(rest)
                ));
            }
        }
    }
    if name_len == 0 && !braces {
        return Err(format!("expected a series, found {:?}", first_char(text)));
    }
    labels.sort();
    if labels.windows(2).any(|w| w[0].name == w[1].name) {
        return Err("duplicate label name in series".into());
    }
    Ok((labels, rest))
}

fn first_char(s: &str) -> String {
    s.chars().next().map_or("end of line".into(), String::from)
}

/// A Go-style quoted string at the start of `text`; returns it and the rest.
pub fn parse_quoted(text: &str) -> Result<(String, &str), NotationError> {
    wasmetheus_promql::unquote(text)
}

/// Expands a value list into `out`.
fn parse_values(
    mut text: &str,
    out: &mut Vec<SequenceValue>,
    hint_set: &mut Vec<bool>,
    budget: &mut Budget,
) -> Result<(), NotationError> {
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return Ok(());
        }
        if text.starts_with("{{") {
            let (h, set, rest) = parse_histogram(text)?;
            text = rest;
            if let Some(r) = text.strip_prefix('x') {
                let (n, rest) = parse_count(r)?;
                text = rest;
                budget.take(n + 1, histogram_cells(&h))?;
                for _ in 0..=n {
                    out.push(Some(SampleValue::Histogram(Box::new(h.clone()))));
                    hint_set.push(set);
                }
            } else if let Some((negate, r)) = text
                .strip_prefix('+')
                .map(|r| (false, r))
                .or_else(|| text.strip_prefix('-').map(|r| (true, r)))
            {
                let (delta, _, rest) = parse_histogram(r)?;
                let r = rest
                    .strip_prefix('x')
                    .ok_or("expected \"x<count>\" after a histogram increment")?;
                let (n, rest) = parse_count(r)?;
                text = rest;
                let mut cur = h;
                for i in 0..=n {
                    if i > 0 {
                        // Prometheus' `histogramsSeries`: the increment may
                        // not be coarser than the running histogram.
                        if cur.schema > delta.schema {
                            return Err(format!(
                                "error combining histograms: cannot merge from schema {} to {}",
                                delta.schema, cur.schema
                            ));
                        }
                        cur = cur.add(&delta, negate).map_err(|e| e.to_string())?;
                    }
                    budget.take(1, histogram_cells(&cur))?;
                    out.push(Some(SampleValue::Histogram(Box::new(cur.clone()))));
                    hint_set.push(set);
                }
            } else {
                budget.take(1, histogram_cells(&h))?;
                out.push(Some(SampleValue::Histogram(Box::new(h))));
                hint_set.push(set);
            }
            if !(text.is_empty() || text.starts_with(char::is_whitespace)) {
                return Err(format!(
                    "unexpected {:?} after a histogram",
                    first_char(text)
                ));
            }
            continue;
        }
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        let (word, rest) = text.split_at(end);
        text = rest;
        let before = out.len();
        parse_float_item(word, out, budget).map_err(|e| format!("invalid value {word:?}: {e}"))?;
        hint_set.resize(hint_set.len() + out.len() - before, false);
    }
}

/// One whitespace-free float item: `_`, `_xN`, `stale`, `v`, `vxN`,
/// `a+bxN`, `a-bxN`.
fn parse_float_item(
    word: &str,
    out: &mut Vec<SequenceValue>,
    budget: &mut Budget,
) -> Result<(), NotationError> {
    if word == "_" {
        budget.take(1, 1)?;
        out.push(None);
        return Ok(());
    }
    if let Some(n) = word.strip_prefix("_x") {
        let (n, rest) = parse_count(n)?;
        if !rest.is_empty() {
            return Err("trailing characters".into());
        }
        budget.take(n, 1)?;
        out.extend((0..n).map(|_| None));
        return Ok(());
    }
    if word == "stale" {
        budget.take(1, 1)?;
        out.push(Some(SampleValue::Float(f64::from_bits(STALE_NAN_BITS))));
        return Ok(());
    }
    let (a, rest) = scan_number(word, true)?;
    if rest.is_empty() {
        budget.take(1, 1)?;
        out.push(Some(SampleValue::Float(a)));
        return Ok(());
    }
    if let Some(r) = rest.strip_prefix('x') {
        let (n, r) = parse_count(r)?;
        if !r.is_empty() {
            return Err("trailing characters".into());
        }
        budget.take(n + 1, 1)?;
        out.extend((0..=n).map(|_| Some(SampleValue::Float(a))));
        return Ok(());
    }
    if rest.starts_with(['+', '-']) {
        let (b, r) = scan_number(rest, true)?;
        let r = r.strip_prefix('x').ok_or("expected \"x<count>\"")?;
        let (n, r) = parse_count(r)?;
        if !r.is_empty() {
            return Err("trailing characters".into());
        }
        budget.take(n + 1, 1)?;
        // Accumulated like Prometheus (repeated addition, not a + i·b), so
        // rounding matches theirs.
        let mut cur = a;
        for i in 0..=n {
            if i > 0 {
                cur += b;
            }
            out.push(Some(SampleValue::Float(cur)));
        }
        return Ok(());
    }
    Err(format!("unexpected {:?}", first_char(rest)))
}

/// A repetition count (decimal digits) at the start of `text`.
fn parse_count(text: &str) -> Result<(u64, &str), NotationError> {
    let len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n = text[..len]
        .parse()
        .map_err(|_| format!("expected a repetition count, found {:?}", first_char(text)))?;
    // Guards against a typo expanding into billions of positions.
    if n > 1_000_000 {
        return Err(format!("repetition count {n} is too large"));
    }
    Ok((n, &text[len..]))
}

/// A float at the start of `text`, as the PromQL lexer reads numbers in
/// series descriptions: optional sign, decimal with optional fraction and
/// exponent, or `Inf`/`NaN` in any case. No hex there: `0x3` would be
/// ambiguous with repetition, so Prometheus' lexer refuses it too.
fn scan_number(text: &str, signed: bool) -> Result<(f64, &str), NotationError> {
    let b = text.as_bytes();
    let mut i = 0;
    if signed && matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let body = &text[i..];
    for word in ["inf", "nan"] {
        if body.len() >= 3 && body[..3].eq_ignore_ascii_case(word) {
            let end = i + 3;
            if !body[3..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                let v = if word == "inf" {
                    f64::INFINITY
                } else {
                    f64::NAN
                };
                let v = if b[0] == b'-' { -v } else { v };
                return Ok((v, &text[end..]));
            }
        }
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == digits_start || &text[digits_start..i] == "." {
        return Err(format!(
            "expected a number, found {:?}",
            first_char(&text[digits_start..])
        ));
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    let v: f64 = text[..i]
        .parse()
        .map_err(|e| format!("invalid number {:?}: {e}", &text[..i]))?;
    Ok((v, &text[i..]))
}

/// Parses `{{key:value …}}` at the start of `text`; returns the histogram,
/// whether it set `counter_reset_hint`, and the rest.
fn parse_histogram(text: &str) -> Result<(Histogram, bool, &str), NotationError> {
    let mut rest = text
        .strip_prefix("{{")
        .ok_or_else(|| format!("expected \"{{{{\", found {:?}", first_char(text)))?;
    let mut h = Histogram::default();
    let mut hint_set = false;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("}}") {
            h.validate().map_err(|e| e.to_string())?;
            return Ok((h, hint_set, after));
        }
        let colon = rest
            .find(':')
            .ok_or("expected \"key:value\" in histogram")?;
        let key = &rest[..colon];
        rest = rest[colon + 1..].trim_start();
        let number = |rest: &mut &str| -> Result<f64, NotationError> {
            let (v, after) = scan_number(rest, true)?;
            *rest = after;
            Ok(v)
        };
        let int = |rest: &mut &str| -> Result<i32, NotationError> {
            let v = number(rest)?;
            if v.fract() != 0.0 || !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v) {
                return Err(format!("histogram field {key} needs an integer, got {v}"));
            }
            Ok(v as i32)
        };
        let list = |rest: &mut &str| -> Result<Vec<f64>, NotationError> {
            *rest = rest
                .strip_prefix('[')
                .ok_or_else(|| format!("histogram field {key} needs a [list]"))?;
            let mut v = Vec::new();
            loop {
                *rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix(']') {
                    *rest = after;
                    return Ok(v);
                }
                v.push(number(rest)?);
            }
        };
        match key {
            "schema" => h.schema = int(&mut rest)?,
            "sum" => h.sum = number(&mut rest)?,
            "count" => h.count = number(&mut rest)?,
            "z_bucket" => h.zero_count = number(&mut rest)?,
            "z_bucket_w" => h.zero_threshold = number(&mut rest)?,
            "offset" => h.offset = int(&mut rest)?,
            "n_offset" => h.n_offset = int(&mut rest)?,
            "buckets" => h.positive = list(&mut rest)?,
            "n_buckets" => h.negative = list(&mut rest)?,
            "custom_values" => h.custom_values = list(&mut rest)?,
            "counter_reset_hint" => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                h.counter_reset_hint = match &rest[..len] {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::Reset,
                    "not_reset" => CounterResetHint::NotReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => return Err(format!("invalid counter_reset_hint {other:?}")),
                };
                hint_set = true;
                rest = &rest[len..];
            }
            other => return Err(format!("unknown histogram field {other:?}")),
        }
    }
}

/// A Prometheus duration (`1h30m`, `10s53ms`, `0`; units y w d h m s ms in
/// that order) in milliseconds: `model.ParseDuration`.
pub fn parse_duration(text: &str) -> Result<i64, NotationError> {
    wasmetheus_model::go::parse_model_duration(text).map_err(|e| e.to_string())
}

/// A number as Go's `ParseInt(s, 0, 64)` then `ParseFloat` read it: the
/// bare-number (scalar) result line of an `eval`.
pub fn parse_number(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let body_ns = body.replace('_', "");
    let radix = |prefix: &[&str], radix: u32| {
        prefix
            .iter()
            .find_map(|p| body_ns.strip_prefix(p))
            .and_then(|d| u64::from_str_radix(d, radix).ok())
    };
    if let Some(v) = radix(&["0x", "0X"], 16)
        .or_else(|| radix(&["0o", "0O"], 8))
        .or_else(|| radix(&["0b", "0B"], 2))
    {
        return Some(sign * v as f64);
    }
    if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        return u64::from_str_radix(body, 8).ok().map(|v| sign * v as f64);
    }
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
    {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// A `@st` offset sequence: `_`, `_xN`, `*`, `*xN`, `d`, `dxN`, `d+DxN`,
/// `d-DxN` with signed durations; offsets in ms, `None` for no start time.
pub fn parse_st_sequence(text: &str) -> Result<Vec<Option<i64>>, NotationError> {
    let mut out: Vec<Option<i64>> = Vec::new();
    for item in text.split_whitespace() {
        let err = |e: String| format!("invalid ST item {item:?}: {e}");
        let prev = out.iter().rev().find_map(|v| *v).unwrap_or(0);
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n = st_count(n)
                .filter(|&n| n > 0)
                .ok_or_else(|| err("invalid repeat count".into()))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if item == "*" {
            out.push(Some(prev));
            continue;
        }
        if let Some(n) = item.strip_prefix("*x") {
            let n = st_count(n).ok_or_else(|| err("invalid repeat count".into()))?;
            out.extend(std::iter::repeat_n(Some(prev), n + 1));
            continue;
        }
        let (base, rest) = duration_prefix(item).map_err(err)?;
        if rest.is_empty() {
            out.push(Some(base));
            continue;
        }
        if let Some(n) = rest.strip_prefix('x') {
            let n = st_count(n).ok_or_else(|| err("invalid repeat count".into()))?;
            out.extend(std::iter::repeat_n(Some(base), n + 1));
            continue;
        }
        let negative = match rest.as_bytes()[0] {
            b'+' => false,
            b'-' => true,
            c => return Err(err(format!("unexpected {:?} after duration", c as char))),
        };
        let (delta, rest) = duration_prefix(&rest[1..]).map_err(err)?;
        let delta = if negative { -delta } else { delta };
        let n = rest
            .strip_prefix('x')
            .and_then(st_count)
            .ok_or_else(|| err("expected 'x<count>' after step duration".into()))?;
        for i in 0..=n as i64 {
            let st = i
                .checked_mul(delta)
                .and_then(|d| d.checked_add(base))
                .ok_or_else(|| err("start time out of range".into()))?;
            out.push(Some(st));
        }
    }
    Ok(out)
}

/// A `@st` repetition count, at most the values' limit of a million.
fn st_count(text: &str) -> Option<usize> {
    match parse_count(text) {
        Ok((n, "")) => usize::try_from(n).ok(),
        _ => None,
    }
}

/// A signed duration at the start of `s`; the unit stops before `x` (the
/// repetition) and before a sign (a step).
fn duration_prefix(s: &str) -> Result<(i64, &str), NotationError> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
        None => return Err("empty duration".into()),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric()) || c == 'x')
        .unwrap_or(body.len());
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("expected digits in duration {s:?}"));
    }
    let ms = parse_duration(&body[..end])?;
    Ok((if negative { -ms } else { ms }, &body[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400_000));
        assert!(parse_duration("30s1m").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1m").is_err());
    }

    #[test]
    fn scalar_lines_read_like_go() {
        assert_eq!(parse_number("3"), Some(3.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_number("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("foo"), None);
        assert_eq!(parse_number("up{}"), None);
        assert_eq!(parse_number(""), None);
    }

    fn refused(line: &str) -> String {
        match parse_series(line) {
            Ok(d) => panic!("{line:?} parsed into {} values", d.values.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn hostile_histograms_are_refused() {
        let cases = [
            // 4e9 indexes between the buckets: 32 GB as a dense run.
            (
                "m {{offset:-2000000000 buckets:[1]}}+{{offset:2000000000 buckets:[1]}}x1",
                "histogram buckets span 4000000001 bucket indexes, more than the limit of 65536",
            ),
            (
                "m {{schema:9 buckets:[1]}}",
                "histogram has an invalid schema, which must be between -4 and 8 for exponential \
                 buckets, or -53 for custom buckets, got schema 9",
            ),
            (
                "m {{buckets:[1]}}+{{schema:-60 buckets:[1]}}x1",
                "histogram has an invalid schema, which must be between -4 and 8 for exponential \
                 buckets, or -53 for custom buckets, got schema -60",
            ),
            (
                "m {{schema:-53 custom_values:[1] buckets:[1 1]}}+{{buckets:[1]}}x1",
                "cannot apply this operation on histograms with a mix of exponential and custom \
                 bucket schemas",
            ),
            (
                "m {{buckets:[1]}}+{{schema:-53 custom_values:[1] buckets:[1]}}x1",
                "error combining histograms: cannot merge from schema -53 to 0",
            ),
            // `index - 1` at i32::MIN; the reduced run then spans 2^30.
            (
                "m {{buckets:[1]}}+{{schema:1 offset:-2147483648 buckets:[1]}}x1",
                "histogram buckets span 1073741825 bucket indexes, more than the limit of 65536",
            ),
            (
                "m {{offset:2147483647 buckets:[1 1]}}",
                "histogram bucket index 2147483648 is out of the 32-bit range",
            ),
            (
                "m {{offset:2147483648 buckets:[1]}}",
                "histogram field offset needs an integer, got 2147483648",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(refused(line), want, "{line}");
        }
        // The largest bucket index still works, alone and summed.
        let d =
            parse_series("m {{offset:2147483647 buckets:[1]}}+{{offset:2147483647 buckets:[2]}}x1")
                .expect("edge offsets");
        assert!(matches!(&d.values[1], Some(SampleValue::Histogram(h))
            if h.positive_buckets() == vec![(i32::MAX, 3.0)]));
    }

    #[test]
    fn histograms_count_their_buckets_against_the_limit() {
        let buckets = vec!["1"; 10_000].join(" ");
        // 10k buckets a million times would be 80 GB of counts.
        let big = format!("m {{{{buckets:[{buckets}]}}}}x1000000");
        let want = "values expand to more than 20000000 samples (a native histogram counts one per bucket)";
        assert_eq!(refused(&big), want);
        // Each step of an increment counts as it is produced.
        let hundred = vec!["1"; 100].join(" ");
        let inc = format!("m {{{{buckets:[{hundred}]}}}}+{{{{buckets:[1]}}}}x1000000");
        let err = parse_series_within(&inc, 100_000).expect_err("over budget");
        assert!(
            err.starts_with("values expand to more than 100000 samples"),
            "{err}"
        );
        // 99 positions of 101 cells fit in 9999, 100 do not.
        let fit = format!("m {{{{buckets:[{hundred}]}}}}x98");
        assert_eq!(
            parse_series_within(&fit, 9999).map(|d| d.values.len()),
            Ok(99)
        );
        let over = format!("m {{{{buckets:[{hundred}]}}}}x99");
        assert!(parse_series_within(&over, 9999).is_err());
        let small = parse_series_within("m 1x8 _", 10).expect("within");
        assert_eq!(small.values.len(), 10);
        assert_eq!(small.values.iter().map(value_cells).sum::<u64>(), 10);
        assert!(parse_series_within("m 1x8 _ _", 10).is_err());
        assert!(parse_series_within("m {{buckets:[1 2]}} 1", 4).is_ok());
        assert!(parse_series_within("m {{buckets:[1 2]}} 1 1", 4).is_err());
    }

    #[test]
    fn start_time_sequences_are_bounded() {
        assert_eq!(
            parse_st_sequence("_x2 1s+1sx2 *x1"),
            Ok(vec![
                None,
                None,
                Some(1000),
                Some(2000),
                Some(3000),
                Some(3000),
                Some(3000)
            ])
        );
        for hostile in ["_x99999999999", "*x2000000", "1sx2000000", "1s+1sx2000000"] {
            let err = parse_st_sequence(hostile).expect_err(hostile);
            assert!(
                err.contains("repeat count") || err.contains("x<count>"),
                "{err}"
            );
        }
    }
}
