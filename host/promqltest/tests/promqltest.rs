//! Tests of the scripted-test runner: the script parser and series
//! notation (snapshots), the runner against a tiny test-only engine, and
//! the whole conformance corpus parsed and counted against FORMAT.md.

// The corpus locator shared with wasmetheus-promql's tests.
#[path = "../../promql/tests/support/corpus.rs"]
mod corpus;
use corpus::corpus_files;

use expect_test::{Expect, expect};
use wasmetheus_model::storage::{Matcher, Queryable, is_stale_marker};
use wasmetheus_promql::parser::parse_metric_selector;
use wasmetheus_promql::value::{
    Annotations, Point, Sample, SampleValue, Series, Value, format_float, format_labels,
};
use wasmetheus_promqltest::nh::{HistogramSeries, is_nh};
use wasmetheus_promqltest::{
    Command, Counts, Engine, EvalError, EvalKind, Expected, FileReport, Outcome, Script,
    parse_script, run_script,
};

#[test]
fn corpus_parses_with_the_documented_counts() {
    let files = corpus_files();
    let (mut evals, mut instant, mut range, mut loads, mut nhcb, mut clears, mut nh) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut per_file = String::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        let script = parse_script(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut hist = HistogramSeries::default();
        let (mut f_evals, mut f_nh) = (0, 0);
        for cmd in &script.commands {
            match cmd {
                Command::Clear { .. } => {
                    clears += 1;
                    hist.clear();
                }
                Command::Load(l) => {
                    loads += 1;
                    nhcb += usize::from(l.with_nhcb);
                    hist.record(l);
                }
                Command::Eval(e) => {
                    f_evals += 1;
                    match e.kind {
                        EvalKind::Instant { .. } => instant += 1,
                        EvalKind::Range { .. } => range += 1,
                    }
                    f_nh += usize::from(is_nh(e, &hist));
                }
            }
        }
        evals += f_evals;
        nh += f_nh;
        per_file += &format!("{name}: {f_evals} evals, {f_nh} NH\n");
    }
    // FORMAT.md: 21 files, 2214 evals (1885 instant, 329 range), 310 loads
    // (33 load_with_nhcb), 231 clears, 924 NH. We count 926 NH: the two
    // more are histograms.test:1081 and :1084, whose selector
    // `{__name__=~"request_duration_seconds\\d*"}` is, once the PromQL
    // string is unescaped, the regex `request_duration_seconds\d*`, which
    // matches the NHCB series `request_duration_seconds` and
    // `request_duration_seconds2` built by load_with_nhcb; a heuristic
    // that keeps the doubled backslash matches nothing there. Both cases
    // are about histograms (they expect a failure over them).
    per_file += &format!(
        "total: {} files, {evals} evals ({instant} instant, {range} range), {loads} loads ({nhcb} with nhcb), {clears} clears, {nh} NH\n",
        files.len()
    );
    expect![[r#"
        aggregators.test: 160 evals, 35 NH
        at_modifier.test: 78 evals, 0 NH
        collision.test: 2 evals, 0 NH
        duration_expression.test: 59 evals, 0 NH
        extended_vectors.test: 169 evals, 49 NH
        fill-modifier.test: 46 evals, 0 NH
        functions.test: 431 evals, 108 NH
        histograms.test: 185 evals, 92 NH
        info.test: 53 evals, 1 NH
        limit.test: 37 evals, 36 NH
        literals.test: 25 evals, 0 NH
        name_label_dropping.test: 30 evals, 0 NH
        native_histograms.test: 522 evals, 519 NH
        operators.test: 214 evals, 72 NH
        range_queries.test: 18 evals, 2 NH
        selectors.test: 31 evals, 0 NH
        staleness.test: 17 evals, 0 NH
        start_timestamps.test: 26 evals, 10 NH
        subquery.test: 34 evals, 2 NH
        trig_functions.test: 19 evals, 0 NH
        type_and_unit.test: 58 evals, 0 NH
        total: 21 files, 2214 evals (1885 instant, 329 range), 310 loads (33 with nhcb), 231 clears, 926 NH
    "#]].assert_eq(&per_file);
}

/// A compact, stable rendering of a parsed script for snapshots.
fn render(script: &Script) -> String {
    let values = |vals: &[Option<SampleValue>]| {
        vals.iter()
            .map(|v| v.as_ref().map_or("_".into(), ToString::to_string))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::new();
    for cmd in &script.commands {
        match cmd {
            Command::Clear { line } => out += &format!("{line}: clear\n"),
            Command::Load(l) => {
                let nhcb = if l.with_nhcb { " with_nhcb" } else { "" };
                out += &format!("{}: load{nhcb} step={}ms\n", l.line, l.step_ms);
                for s in &l.series {
                    out += &format!(
                        "  {}: {} {}\n",
                        s.line,
                        format_labels(&s.labels),
                        values(&s.values)
                    );
                }
                for s in l.samples().iter().filter(|s| s.st.is_some()) {
                    out += &format!(
                        "  st {} t={} st={:?}\n",
                        format_labels(&s.labels),
                        s.t,
                        s.st
                    );
                }
            }
            Command::Eval(e) => {
                let kind = match e.kind {
                    EvalKind::Instant { at } => format!("instant at={at}ms"),
                    EvalKind::Range { start, end, step } => {
                        format!("range {start}..{end} step {step}ms")
                    }
                };
                out += &format!("{}: eval {kind} `{}`\n", e.line, e.expr);
                if e.fail {
                    let m: Vec<String> = e.fail_matches.iter().map(ToString::to_string).collect();
                    out += &format!("  fail {m:?}\n");
                }
                for (kind, a) in [("warn", &e.warn), ("info", &e.info)] {
                    let m: Vec<String> = a.lines.iter().map(ToString::to_string).collect();
                    if a.at_least_one || a.none || !m.is_empty() {
                        out += &format!(
                            "  {kind}: at_least_one={} none={} lines={m:?}\n",
                            a.at_least_one, a.none
                        );
                    }
                }
                if e.ordered {
                    out += "  ordered\n";
                }
                if let Some(r) = e.range_vector {
                    out += &format!("  range vector {r:?}, eval at {}ms\n", e.eval_time());
                }
                if let Some(s) = &e.expected_string {
                    out += &format!("  string {s:?}\n");
                }
                match &e.expected {
                    Expected::Scalar(v) => out += &format!("  scalar {}\n", format_float(*v)),
                    Expected::Series(series) => {
                        for s in series {
                            let hints = if s.hint_set.contains(&true) {
                                " (hint set)"
                            } else {
                                ""
                            };
                            out += &format!(
                                "  #{} line {}: {} {}{hints}\n",
                                s.pos,
                                s.line,
                                format_labels(&s.labels),
                                values(&s.values)
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_parse(script: &str, expect: Expect) {
    let got = match parse_script(script) {
        Ok(s) => render(&s),
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&got);
}

#[test]
fn series_notation_expands() {
    check_parse(
        r#"
load 5m
  a{job="x", instance="1"} 1 2+3x4 _ stale -5-2x3 _x2 1e3 -Inf NaN +inf 0.5x2
  {"utf8.name", "odd label"='v\n'} 0-1.5x2 3x0
  b {{schema:1 sum:5 count:3 z_bucket:1 z_bucket_w:0.001 offset:-1 buckets:[1 2] n_offset:2 n_buckets:[1] counter_reset_hint:gauge}}
  c {{schema:-53 count:2 custom_values:[0.1 1] buckets:[1 0 1]}}x2 {{count:1 buckets:[1]}}+{{count:2 buckets:[1 1]}}x2 {{count:9}}-{{count:1}}x1
"#,
        expect![[r#"
            2: load step=300000ms
              3: a{instance="1", job="x"} 1 2 5 8 11 14 _ stale -5 -7 -9 -11 _ _ 1000 -Inf NaN +Inf 0.5 0.5 0.5
              4: utf8.name{odd label="v\n"} 0 -1.5 -3 3
              5: b {{schema:1 count:3 sum:5 z_bucket_w:0.001 z_bucket:1 offset:-1 buckets:[1 2] n_offset:2 n_buckets:[1] counter_reset_hint:gauge}}
              6: c {{schema:-53 count:2 custom_values:[0.1 1] buckets:[1 0 1]}} {{schema:-53 count:2 custom_values:[0.1 1] buckets:[1 0 1]}} {{schema:-53 count:2 custom_values:[0.1 1] buckets:[1 0 1]}} {{count:1 buckets:[1]}} {{count:3 buckets:[2 1]}} {{count:5 buckets:[3 2]}} {{count:9}} {{count:8}}
        "#]],
    );
}

#[test]
fn start_timestamp_lines_attach_to_the_next_series() {
    check_parse(
        r#"
load 1m
  cumulative{type="a"}@st _ _ -30s-1mx2 0
  cumulative{type="a"} 1 2 3 4 5 6
  before 1 2
  @st 1s _
  other 1 2 3
"#,
        expect![[r#"
            2: load step=60000ms
              4: cumulative{type="a"} 1 2 3 4 5 6
              5: before 1 2
              7: other 1 2 3
              st cumulative{type="a"} t=120000 st=Some(90000)
              st cumulative{type="a"} t=180000 st=Some(90000)
              st cumulative{type="a"} t=240000 st=Some(90000)
              st cumulative{type="a"} t=300000 st=Some(300000)
              st other t=0 st=Some(1000)
              st other t=120000 st=Some(121000)
        "#]],
    );
    check_parse(
        "load 1m\n  a@st 0 0\n  a 1 2 3\n",
        expect![[r#"
            error: line 2: @st line has 2 values but sample line has 3
        "#]],
    );
    check_parse(
        "load 1m\n  a@st 0\n  b 1\n",
        expect![[r#"
            error: line 2: @st metric does not match the following sample line metric
        "#]],
    );
}

#[test]
fn every_command_and_expect_form_parses() {
    check_parse(
        r#"
# A comment line is an empty line.
load 10s53ms
  up 1

load_with_nhcb 1m
  h_bucket{le="1"} 1

eval instant at 1m30s sum by (job) (up)
  expect no_warn
  expect info msg: PromQL info: hello (1:1)
  expect info regex: hel+o
  {job="a"} 3
  {} 2

eval range from 0 to 10m step 5m rate(up[5m])
  expect warn
  expect no_info
  up 1 _ 3

eval instant at 0 foo
  expect fail regex: unknown .* function

eval instant at 5m sort_desc(up)
  expect ordered
  up{a="1"} 2
  up{a="2"} 1

eval instant at 1m up[1m]
  expect range vector from 10s to 1m step 10s
  up 1 2 3 4 5 6

eval instant at 0 "a\tb"
  expect string "a\tb"

eval instant at 0 `raw`
  expect string `r\aw`

eval instant at 0 0x10
  16

clear
eval_fail instant at 0 up
  expected_fail_message some error

eval_fail range from 0 to 1m step 1m up
  expected_fail_regexp some.*

eval_warn instant at 0 up

eval_info range from 0 to 1m step 30s up

eval_ordered instant at 0 up

eval instant at 0 1
  expect fail msg:exact text
"#,
        expect![[r#"
            3: load step=10053ms
              4: up 1
            6: load with_nhcb step=60000ms
              7: h_bucket{le="1"} 1
            9: eval instant at=90000ms `sum by (job) (up)`
              warn: at_least_one=false none=true lines=[]
              info: at_least_one=false none=false lines=["message \"PromQL info: hello (1:1)\"", "pattern \"hel+o\""]
              #1 line 13: {job="a"} 3
              #2 line 14: {} 2
            16: eval range 0..600000 step 300000ms `rate(up[5m])`
              warn: at_least_one=false none=false lines=["anything"]
              info: at_least_one=false none=true lines=[]
              #1 line 19: up 1 _ 3
            21: eval instant at=0ms `foo`
              fail ["pattern \"unknown .* function\""]
            24: eval instant at=300000ms `sort_desc(up)`
              ordered
              #1 line 26: up{a="1"} 2
              #2 line 27: up{a="2"} 1
            29: eval instant at=60000ms `up[1m]`
              range vector (10000, 60000, 10000), eval at 60000ms
              #1 line 31: up 1 2 3 4 5 6
            33: eval instant at=0ms `"a\tb"`
              string "a\tb"
            36: eval instant at=0ms ``raw``
              string "r\\aw"
            39: eval instant at=0ms `0x10`
              scalar 16
            42: clear
            43: eval instant at=0ms `up`
              fail ["message \"some error\""]
            46: eval range 0..60000 step 60000ms `up`
              fail ["pattern \"some.*\""]
            49: eval instant at=0ms `up`
              warn: at_least_one=true none=false lines=[]
            51: eval range 0..60000 step 30000ms `up`
              info: at_least_one=true none=false lines=[]
            53: eval instant at=0ms `up`
              ordered
            55: eval instant at=0ms `1`
              fail ["message \"exact text\""]
        "#]],
    );
}

#[test]
fn script_errors_name_the_line() {
    check_parse(
        "load 5m\n  up 1\n\nfoo bar\n",
        expect![[r#"
        error: line 4: invalid command "foo bar"
    "#]],
    );
    check_parse(
        "load 5x\n",
        expect![[r#"
        error: line 1: invalid step definition "5x": unknown unit "x" in duration "5x"
    "#]],
    );
    check_parse(
        "eval instant at 0 up\n  up 1 2\n",
        expect![[r#"
        error: line 2: error in eval up (line 2): expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query
    "#]],
    );
    check_parse(
        "eval instant at 0 up\n  expect warn\n  expect no_warn\n",
        expect![[r#"
        error: line 3: error in eval up (line 3): invalid expect lines, warn and no_warn cannot be used together
    "#]],
    );
    check_parse(
        "eval range from 5m to 1m step 1m up\n",
        expect![[r#"
        error: line 1: error in eval up (line 1): invalid test definition, end timestamp (1m) is before start timestamp (5m)
    "#]],
    );
    check_parse(
        "load 1m\n  up 1+x\n",
        expect![[r#"
        error: line 2: invalid value "1+x": expected a number, found "x"
    "#]],
    );
    check_parse(
        "load 1m\n  up {{foo:1}}\n",
        expect![[r#"
        error: line 2: unknown histogram field "foo"
    "#]],
    );
}

/// A test-only engine: number and string literals, and plain vector
/// selectors (optionally `@ <seconds>`) read from storage with a 5m
/// lookback; a selector matching `warn="yes"` series warns. Anything else
/// is an error. `honour_at: false` ignores `@`, to prove the `@` variants
/// catch that.
struct TestEngine {
    honour_at: bool,
}

const LOOKBACK: i64 = 300_000;

impl TestEngine {
    fn eval_at(
        &self,
        q: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        let expr = expr.trim();
        let mut annotations = Annotations::default();
        if let Ok(v) = expr.parse::<f64>() {
            return Ok((Value::Scalar(t, v), annotations));
        }
        if let Some(s) = expr.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            return Ok((Value::String(t, s.into()), annotations));
        }
        let unsupported = || EvalError::new("unsupported expression");
        let (selector, at) = match expr.split_once(" @ ") {
            Some((s, at)) => (s, Some(at.parse::<f64>().map_err(|_| unsupported())?)),
            None => (expr, None),
        };
        let t = match at {
            Some(secs) if self.honour_at => (secs * 1000.0).round() as i64,
            _ => t,
        };
        let matchers = parse_metric_selector(selector)
            .ok()
            .filter(|m| !m.iter().all(Matcher::matches_empty))
            .ok_or_else(unsupported)?;
        let series = q
            .select(&matchers, t - LOOKBACK + 1, t)
            .map_err(|e| EvalError::new(e.to_string()))?;
        let mut vector = Vec::new();
        for s in series {
            let Some(&(_, v)) = s.samples.last() else {
                continue;
            };
            if is_stale_marker(v) {
                continue;
            }
            if s.labels
                .iter()
                .any(|l| l.name == "warn" && l.value == "yes")
            {
                annotations
                    .warnings
                    .push("PromQL warning: noisy series (1:1)".into());
            }
            vector.push(Sample {
                labels: s.labels,
                t,
                value: SampleValue::Float(v),
            });
        }
        Ok((Value::Vector(vector), annotations))
    }
}

impl Engine for TestEngine {
    fn instant(
        &self,
        q: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        self.eval_at(q, expr, t)
    }

    fn range(
        &self,
        q: &dyn Queryable,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        let mut series: Vec<Series> = Vec::new();
        let mut annotations = Annotations::default();
        let mut t = start;
        while t <= end {
            let (value, a) = self.eval_at(q, expr, t)?;
            annotations.warnings.extend(a.warnings);
            let samples = match value {
                Value::Scalar(_, v) => vec![(Vec::new(), v)],
                Value::Vector(v) => v
                    .into_iter()
                    .map(|s| match s.value {
                        SampleValue::Float(f) => (s.labels, f),
                        SampleValue::Histogram(_) => unreachable!(),
                    })
                    .collect(),
                _ => return Err(EvalError::new("invalid expression type for range query")),
            };
            for (labels, v) in samples {
                let point = Point {
                    t,
                    value: SampleValue::Float(v),
                };
                match series.iter_mut().find(|s| s.labels == labels) {
                    Some(s) => s.points.push(point),
                    None => series.push(Series {
                        labels,
                        points: vec![point],
                    }),
                }
            }
            t += step;
        }
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((Value::Matrix(series), annotations))
    }

    fn at_modifier_variant(&self, expr: &str, t: i64) -> Result<Option<String>, EvalError> {
        if expr.contains(" @ ") || expr.parse::<f64>().is_ok() || expr.starts_with('"') {
            return Ok(Some(expr.to_owned()));
        }
        Ok(Some(format!("{expr} @ {}.{:03}", t / 1000, t % 1000)))
    }
}

/// Runs a script and renders the counts and every non-passing case.
fn run(script: &str, engine: &TestEngine) -> (FileReport, String) {
    let report = run_script("t.test", script, engine);
    let mut out = format!("{}\n", report.counts());
    for e in &report.errors {
        out += &format!("error: {e}\n");
    }
    for c in &report.cases {
        match &c.outcome {
            Outcome::Passed => {}
            Outcome::Failed(m) => out += &format!("FAILED {m}\n"),
            Outcome::Skipped(why) => out += &format!("skipped line {}: {why}\n", c.line),
        }
    }
    (report, out)
}

const HONEST: TestEngine = TestEngine { honour_at: true };

#[test]
fn matching_results_pass() {
    let (report, out) = run(
        r#"
load 5m
  up{job="a"} 0+1x10
  up{job="b"} 5 stale
  noisy{warn="yes"} 7

eval instant at 3m up
  up{job="a"} 0
  up{job="b"} 5

eval instant at 10m up
  expect no_warn
  expect no_info
  up{job="a"} 2

eval range from 0 to 10m step 5m up
  up{job="a"} 0 1 2
  up{job="b"} 5

eval instant at 1m 42
  42.0000000001

eval instant at 1m "hi"
  expect string "hi"

eval instant at 0 nothing_here

eval instant at 0 noisy
  expect warn msg: PromQL warning: noisy series (1:1)
  noisy{warn="yes"} 7

eval instant at 0 noisy
  expect warn regex: noisy series \([0-9]+:[0-9]+\)
  noisy{warn="yes"} 7

eval_warn range from 0 to 1m step 1m noisy
  noisy{warn="yes"} 7 7

eval instant at 0 rate(up[5m])
  expect fail msg: unsupported expression

eval_fail instant at 0 rate(up[5m])
  expected_fail_regexp unsupported

eval range from 0 to 1m step 1m rate(up[5m])
  expect fail

eval instant at 20m up{job="a"}
  up{job="a"} 4.0000000001
"#,
        &HONEST,
    );
    expect![[r#"
        13 passed, 0 failed
    "#]]
    .assert_eq(&out);
    assert!(report.ok());
}

#[test]
fn mismatches_fail_with_the_place_and_a_diff() {
    let (report, out) = run(
        r#"
load 5m
  up{job="a"} 0+1x10
  up{job="b"} 1

eval instant at 10m up
  up{job="a"} 3

eval instant at 3m up
  up{job="a"} 0
  up{job="c"} 2

eval instant at 10m up

eval range from 0 to 10m step 5m up
  up{job="a"} 0 1
  up{job="b"} 1

eval instant at 10m up
  expect fail

eval instant at 10m up
  expect warn

eval instant at 10m up
  expect ordered
  up{job="b"} 1
  up{job="a"} 2

eval instant at 10m rate(up[5m])
  up{job="a"} 1

eval instant at 10m rate(up[5m])
  expect fail msg: something else

eval instant at 10m up{job="a"}
  5
"#,
        &HONEST,
    );
    expect![[r#"
        0 passed, 10 failed
        FAILED t.test:6: eval instant at 600s up: expected 3 for up{job="a"} but got 2
          expected:
            up{job="a"} 3
          got:
            up{job="a"} 2
        FAILED t.test:9: eval instant at 180s up: unexpected metric up{job="b"} in result, has value 1
          expected:
            up{job="a"} 0
            up{job="c"} 2
          got:
            up{job="a"} 0
            up{job="b"} 1
        FAILED t.test:13: eval instant at 600s up: unexpected metric up{job="a"} in result, has value 2
          expected:
            (empty)
          got:
            up{job="a"} 2
        FAILED t.test:15: eval range from 0s to 600s step 300s up: expected 2 float points and 0 histogram points for up{job="a"}, but got 3 and 0
          expected:
            up{job="a"} 0 1
            up{job="b"} 1
          got:
            up{job="a"} 0@0s 1@300s 2@600s
            up{job="b"} 1@0s
        FAILED t.test:19: eval instant at 600s up: expected an error evaluating the query but got none
        FAILED t.test:22: eval instant at 600s up: expected warn annotations but none were found
        FAILED t.test:25: eval instant at 600s up: expected metric up{job="a"} at position 2 but was at 1
          expected:
            up{job="b"} 1
            up{job="a"} 2
          got:
            up{job="a"} 2
        FAILED t.test:30: eval instant at 600s rate(up[5m]): error evaluating query: unsupported expression
        FAILED t.test:33: eval instant at 600s rate(up[5m]): expected an error matching message "something else", but got: unsupported expression
        FAILED t.test:36: eval instant at 600s up{job="a"}: expected scalar result, but got a vector
          expected:
            scalar 5
          got:
            up{job="a"} 2
    "#]]
    .assert_eq(&out);
    assert!(!report.ok());
    assert_eq!(report.failures().count(), 10);
}

#[test]
fn native_histogram_cases_are_skipped_never_passed() {
    let (_, out) = run(
        r#"
load 5m
  h {{schema:0 count:1 buckets:[1]}}x3
  f 1 2 3
  classic_bucket{le="1"} 1 2

load_with_nhcb 5m
  nh_bucket{le="1"} 1 1
  nh_bucket{le="+Inf"} 2 2

eval instant at 5m h

eval instant at 5m f
  f 2

eval instant at 5m {__name__=~"f|h"}
  f 2

eval instant at 5m f
  f {{count:1}}

eval instant at 5m nh

eval instant at 5m nh_bucket{le="1"}
  nh_bucket{le="1"} 1

clear

eval instant at 5m h
"#,
        &HONEST,
    );
    expect![[r#"
        3 passed, 0 failed, 4 skipped
        skipped line 11: involves native histograms: unexpected metric h in result, has value NaN
          expected:
            (empty)
          got:
            h NaN
        skipped line 16: involves native histograms: unexpected metric h in result, has value NaN
          expected:
            f 2
          got:
            f 2
            h NaN
        skipped line 19: involves native histograms: expected histogram {{count:1}} for f but got float value 2
          expected:
            f {{count:1}}
          got:
            f 2
        skipped line 22: involves native histograms: unexpected metric nh in result, has value NaN
          expected:
            (empty)
          got:
            nh NaN
    "#]]
    .assert_eq(&out);
}

#[test]
fn at_variants_and_range_check_catch_time_dependent_results() {
    let script = r#"
load 5m
  up 0+1x10

eval instant at 10m up
  up 2
"#;
    let (_, out) = run(script, &TestEngine { honour_at: false });
    expect![[r#"
        0 passed, 1 failed
        FAILED t.test:5: eval instant at 600s up: expected metric up with 2 not found [@ variant `up @ 600.000` at -6000s]
          expected:
            up 2
          got:
            (empty vector)
    "#]]
    .assert_eq(&out);
}

#[test]
fn unparsable_scripts_are_errors_and_counts_print_like_upstream() {
    let (report, out) = run("load 5m\n  up 1\n\nbogus\n", &HONEST);
    expect![[r#"
        0 passed, 0 failed
        error: t.test:4: invalid command "bogus"
    "#]]
    .assert_eq(&out);
    assert!(!report.ok());
    let mut total = Counts::default();
    total += Counts {
        passed: 3,
        failed: 1,
        skipped: 0,
    };
    assert_eq!(total.to_string(), "3 passed, 1 failed");
    total += Counts {
        passed: 0,
        failed: 0,
        skipped: 2,
    };
    assert_eq!(total.to_string(), "3 passed, 1 failed, 2 skipped");
}

/// Answers instant queries correctly but range queries with nothing.
struct EmptyRanges;

impl Engine for EmptyRanges {
    fn instant(
        &self,
        q: &dyn Queryable,
        expr: &str,
        t: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        HONEST.instant(q, expr, t)
    }

    fn range(
        &self,
        _: &dyn Queryable,
        _: &str,
        _: i64,
        _: i64,
        _: i64,
    ) -> Result<(Value, Annotations), EvalError> {
        Ok((Value::Matrix(Vec::new()), Annotations::default()))
    }

    fn at_modifier_variant(&self, _: &str, _: i64) -> Result<Option<String>, EvalError> {
        // No variants, as for an expression calling time().
        Ok(None)
    }
}

#[test]
fn instant_cases_are_rechecked_as_range_queries() {
    let script = r#"
load 5m
  up 0+1x10

eval instant at 10m up
  up 2

eval instant at 10m "x"
  expect string "x"

eval instant at 10m up
  expect ordered
  up 2
"#;
    let report = run_script("t.test", script, &EmptyRanges);
    let mut out = format!("{}\n", report.counts());
    for m in report.failures() {
        out += &format!("FAILED {m}\n");
    }
    // The string case is exempt from the check; the ordered one only needs
    // the range query to succeed. The first fails in range mode.
    expect![[r#"
        2 passed, 1 failed
        FAILED t.test:5: eval instant at 600s up: expected metric up with 2 not found [range mode from 540s to 660s step 1m]
          expected:
            up 2
          got:
            (empty vector)
    "#]].assert_eq(&out);
}
