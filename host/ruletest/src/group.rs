//! One test group run as promtool runs it (`testGroup.test`): the input
//! series loaded lazily (samples up to each evaluation time only), the rule
//! groups evaluated every `evaluation_interval` from the start to the
//! largest `eval_time`, alerts compared at the evaluation that covers each
//! alert test's `eval_time`, then every `promql_expr_test` queried.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use wasmetheus_model::Label;
use wasmetheus_model::storage::Storage;
use wasmetheus_promql::engine::{Engine, Options};
use wasmetheus_promql::value::{SampleValue, Value};
use wasmetheus_promqltest::series::{
    over_budget_error, parse_labels, parse_series, parse_series_within, value_cells,
};
use wasmetheus_promqltest::{Load, LoadSample, LoadSeries, MemStore};

use crate::compare::{
    LabelsAndAnnotations, ParsedSample, alerts_diff, alerts_string, samples_equal, samples_string,
    sort_alerts, sort_samples,
};
use crate::file::{AlertTestCase, TestGroup};
use crate::gofmt::{
    go_duration, go_duration_ns, indent_lines, labels_string, model_duration, quote,
};
use crate::histogram::test_expression;
use crate::rules_glue::{self, LoadRequest};

/// The most input samples one test group may load (a week of 1-minute
/// samples for ~2,000 series, about 320 MiB in the test store); a longer
/// series notation is refused rather than filling memory. A native
/// histogram counts one sample per bucket (and custom bound) besides its
/// own, since that is what it costs. promtool has no such bound.
pub const MAX_SAMPLES: usize = 20_000_000;

/// The most evaluation steps one test group may take (1,000,000 is a
/// week at a 1s interval, two years at 1m).
pub const MAX_STEPS: i64 = 1_000_000;

/// What the whole file sets for each group.
pub struct FileSettings<'a> {
    pub rule_files: &'a [PathBuf],
    pub eval_interval: i64,
    pub group_order: &'a HashMap<String, usize>,
    pub diff: bool,
    pub fuzzy: bool,
    pub ignore_unknown_fields: bool,
    /// `--debug`: timings and a dump of all data to the error output.
    pub debug: bool,
}

/// Runs one group named `name`; the errors are promtool's texts (empty:
/// passed). With `--debug`, what promtool adds goes to `debug_out`.
pub fn run(tg: &TestGroup, name: &str, s: &FileSettings, debug_out: &mut dyn Write) -> Vec<String> {
    if !s.debug {
        return test(tg, s, None);
    }
    let started = std::time::Instant::now();
    let _ = writeln!(debug_out, "DEBUG: Starting test {name}");
    let errs = test(tg, s, Some(&mut *debug_out));
    let took = go_duration_ns(i128::try_from(started.elapsed().as_nanos()).unwrap_or(i128::MAX));
    let _ = writeln!(debug_out, "DEBUG: Test {name} finished, took {took}");
    errs
}

/// promtool's `testGroup.test`.
fn test(tg: &TestGroup, s: &FileSettings, debug_out: Option<&mut dyn Write>) -> Vec<String> {
    let start = tg.start_timestamp.unwrap_or(0);
    let mut pending = match load_series(tg, start) {
        Ok(samples) => samples.into_iter().peekable(),
        Err(e) => return vec![e],
    };
    let store = MemStore::new();
    let engine = Engine::new(Options {
        lookback_delta: StdDuration::from_secs(300),
        max_samples: 10_000,
        timeout: StdDuration::from_secs(100),
        default_subquery_step: StdDuration::from_millis(s.eval_interval.unsigned_abs()),
    });

    let mut groups = match rules_glue::load(&LoadRequest {
        files: s.rule_files,
        interval: tg.interval.0,
        external_labels: tg.external_labels(),
        external_url: &tg.external_url,
        ignore_unknown_fields: s.ignore_unknown_fields,
        group_order: s.group_order,
    }) {
        Ok(g) => g,
        Err(errs) => return errs,
    };

    let mint = start;
    let Some(maxt) = mint.checked_add(tg.max_eval_time()) else {
        return vec![format!(
            "eval_time {} is out of range",
            model_duration(tg.max_eval_time())
        )];
    };
    let steps = (maxt - mint) / s.eval_interval + 1;
    if steps > MAX_STEPS {
        return vec![format!(
            "too many evaluations: eval_time {} at evaluation_interval {} is {steps} steps, \
             more than the limit of {MAX_STEPS}",
            model_duration(tg.max_eval_time()),
            model_duration(s.eval_interval)
        )];
    }

    let mut alert_times: BTreeMap<i64, (BTreeSet<&str>, Vec<&AlertTestCase>)> = BTreeMap::new();
    for alert in &tg.alert_rule_test {
        if alert.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                model_duration(alert.eval_time.0)
            )];
        }
        let entry = alert_times.entry(alert.eval_time.0).or_default();
        entry.0.insert(&alert.alertname);
        entry.1.push(alert);
    }
    let alert_times: Vec<_> = alert_times.into_iter().collect();
    let mut curr = 0;

    let mut errs = Vec::new();
    let mut ts = mint;
    while ts <= maxt {
        match append_till(&store, &mut pending, ts) {
            Err(e) => errs.push(e),
            Ok(()) => {
                let eval_errs: Vec<String> = groups
                    .eval(ts, &engine, &store)
                    .into_iter()
                    .map(|(rule, err)| {
                        format!("    rule: {rule}, time: {}, err: {err}", go_duration(ts))
                    })
                    .collect();
                if !eval_errs.is_empty() {
                    errs.extend(eval_errs);
                    return errs;
                }
            }
        }

        while let Some((t, (names, cases))) = alert_times.get(curr) {
            let (t, names) = (*t, names);
            if !(ts - mint <= t && t < ts.saturating_add(s.eval_interval) - mint) {
                break;
            }
            let got: HashMap<&str, Vec<LabelsAndAnnotations>> =
                names.iter().map(|n| (*n, groups.firing(n))).collect();
            for case in cases {
                check_alerts(
                    tg,
                    case,
                    got.get(case.alertname.as_str()),
                    s.diff,
                    &mut errs,
                );
            }
            curr += 1;
        }
        let Some(next) = ts.checked_add(s.eval_interval) else {
            break;
        };
        ts = next;
    }

    for case in &tg.promql_expr_test {
        let at = mint.saturating_add(case.eval_time.0);
        let time = model_duration(case.eval_time.0);
        let got = match query(&engine, &store, &case.expr, at) {
            Ok(got) => got,
            Err(e) => {
                errs.push(format!(
                    "    expr: {}, time: {time}, err: {e}",
                    quote(&case.expr)
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        let mut bad = None;
        for sample in &case.exp_samples {
            match expected_sample(&sample.labels, &sample.histogram) {
                Ok((labels, histogram)) => exp.push(ParsedSample {
                    labels,
                    value: sample.value,
                    histogram,
                }),
                Err(e) => {
                    bad = Some(format!("labels {}: {e}", quote(&sample.labels)));
                    break;
                }
            }
        }
        if let Some(e) = bad {
            errs.push(format!(
                "    expr: {}, time: {time}, err: {e}",
                quote(&case.expr)
            ));
            continue;
        }
        let mut got = got;
        sort_samples(&mut exp);
        sort_samples(&mut got);
        if !samples_equal(&exp, &got, s.fuzzy) {
            errs.push(format!(
                "    expr: {}, time: {time},\n        exp: {}\n        got: {}",
                quote(&case.expr),
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    if let Some(out) = debug_out {
        dump(out, &engine, &store, mint, tg.max_eval_time());
    }
    errs
}

/// `--debug`'s dump of every series (input and recorded) up to the last
/// evaluation, rounded up to the next whole second.
fn dump(out: &mut dyn Write, engine: &Engine, store: &MemStore, mint: i64, max_eval: i64) {
    let ts = (max_eval.saturating_add(1000) / 1000) * 1000;
    let range = go_duration(ts);
    let expr = format!("{{__name__=~\".+\"}}[{range}]");
    match engine.query_instant(store, &expr, mint.saturating_add(ts)) {
        Err(e) => {
            let _ = writeln!(
                out,
                "DEBUG: Failed query exec, expr: {}, err: {e}",
                quote(&expr)
            );
        }
        Ok((Value::Matrix(series), _)) => {
            let _ = writeln!(
                out,
                "DEBUG: Dump of all data (input_series and rules) at {range}:"
            );
            let text: Vec<String> = series
                .iter()
                .map(|s| {
                    let points: Vec<String> = s
                        .points
                        .iter()
                        .map(|p| match &p.value {
                            SampleValue::Float(v) => {
                                format!("{} @[{}]", wasmetheus_model::go::format_float_f(*v), p.t)
                            }
                            SampleValue::Histogram(h) => {
                                format!("{} @[{}]", test_expression(h), p.t)
                            }
                        })
                        .collect();
                    format!("{} =>\n{}", labels_string(&s.labels), points.join("\n"))
                })
                .collect();
            let _ = writeln!(out, "{}", text.join("\n"));
        }
        Ok((other, _)) => {
            let _ = writeln!(out, "DEBUG: Got unexpected type {}", other.type_name());
        }
    }
}

/// Compares the firing alerts of one alert test.
fn check_alerts(
    tg: &TestGroup,
    case: &AlertTestCase,
    got: Option<&Vec<LabelsAndAnnotations>>,
    diff: bool,
    errs: &mut Vec<String>,
) {
    let mut got = got.cloned().unwrap_or_default();
    let mut exp: Vec<LabelsAndAnnotations> = case
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels = a.exp_labels.clone();
            // The rule adds `alertname`; users give only their labels.
            labels.insert("alertname".into(), case.alertname.clone());
            let to_labels = |m: &BTreeMap<String, String>| -> Vec<Label> {
                m.iter().map(|(k, v)| Label::new(k, v)).collect()
            };
            LabelsAndAnnotations {
                labels: to_labels(&labels),
                annotations: to_labels(&a.exp_annotations),
            }
        })
        .collect();
    sort_alerts(&mut got);
    sort_alerts(&mut exp);
    if exp == got {
        return;
    }
    let name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let time = model_duration(case.eval_time.0);
    if diff {
        if let Some(d) = alerts_diff(&exp, &got) {
            errs.push(format!(
                "{name}    alertname: {}, time: {time}, \n        diff: {}",
                case.alertname,
                indent_lines(&d, "            ")
            ));
        }
    } else {
        errs.push(format!(
            "{name}    alertname: {}, time: {time}, \n        exp:{}, \n        got:{}",
            case.alertname,
            indent_lines(&alerts_string(&exp), "            "),
            indent_lines(&alerts_string(&got), "            ")
        ));
    }
}

/// The input series as samples in time order (series order within a
/// time), shifted to the group's start.
fn load_series(tg: &TestGroup, start: i64) -> Result<Vec<LoadSample>, String> {
    let mut load = Load {
        line: 1,
        step_ms: tg.interval.0,
        with_nhcb: false,
        series: Vec::new(),
    };
    let mut total = 0usize;
    for (i, s) in tg.input_series.iter().enumerate() {
        // promtool writes a `load` command with a line per series.
        let line = i + 2;
        // Checked before expanding: one short line can name billions.
        let estimate = estimate_samples(&s.values);
        if estimate.saturating_add(total as u64) > MAX_SAMPLES as u64 {
            return Err(format!(
                "{line}: input series hold more than {MAX_SAMPLES} samples, the most a test group may load"
            ));
        }
        // Histograms are counted by their buckets while being expanded.
        let remaining = (MAX_SAMPLES - total) as u64;
        let desc = parse_series_within(&format!("{} {}", s.series, s.values), remaining).map_err(
            |e| {
                if e == over_budget_error(remaining) {
                    format!(
                        "{line}: input series hold more than {MAX_SAMPLES} samples, the most a test group may load"
                    )
                } else {
                    format!("{line}: parse error: {e}")
                }
            },
        )?;
        // Within `remaining`, so `total` stays at most MAX_SAMPLES.
        total += desc.values.iter().map(value_cells).sum::<u64>() as usize;
        load.series.push(LoadSeries {
            line,
            labels: desc.labels,
            values: desc.values,
            st: None,
        });
    }
    let mut samples = load.samples();
    for s in &mut samples {
        s.t =
            s.t.checked_add(start)
                .ok_or_else(|| "input series reach past the largest time".to_owned())?;
    }
    samples.sort_by_key(|s| s.t);
    Ok(samples)
}

/// An upper bound of the samples a value list expands to: each item is
/// one, `…xN` is N+1.
fn estimate_samples(values: &str) -> u64 {
    values
        .split_whitespace()
        .map(|item| {
            let digits = item.len() - item.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let head = &item[..item.len() - digits];
            if digits > 0 && head.ends_with('x') {
                item[item.len() - digits..]
                    .parse::<u64>()
                    .map_or(u64::MAX, |n| n.saturating_add(1))
            } else {
                1
            }
        })
        .fold(0u64, u64::saturating_add)
}

/// Appends the pending samples at or before `ts`.
fn append_till(
    store: &MemStore,
    pending: &mut std::iter::Peekable<std::vec::IntoIter<LoadSample>>,
    ts: i64,
) -> Result<(), String> {
    let mut app = store.appender();
    let mut histograms = Vec::new();
    while let Some(s) = pending.next_if(|s| s.t <= ts) {
        match s.value {
            SampleValue::Float(v) => app.append(&s.labels, s.t, v).map_err(|e| e.to_string())?,
            SampleValue::Histogram(h) => histograms.push((s.labels, s.t, *h)),
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    drop(app);
    for (labels, t, h) in histograms {
        store.append_histogram(&labels, t, h);
    }
    Ok(())
}

/// An instant query as promtool's `query` runs it: a vector, or a scalar
/// as one sample without labels.
fn query(
    engine: &Engine,
    store: &MemStore,
    expr: &str,
    t: i64,
) -> Result<Vec<ParsedSample>, String> {
    let (value, _) = engine
        .query_instant(store, expr, t)
        .map_err(|e| e.to_string())?;
    match value {
        Value::Vector(samples) => Ok(samples
            .into_iter()
            .map(|s| match s.value {
                SampleValue::Float(v) => ParsedSample {
                    labels: s.labels,
                    value: v,
                    histogram: String::new(),
                },
                SampleValue::Histogram(h) => ParsedSample {
                    labels: s.labels,
                    value: 0.0,
                    histogram: test_expression(&h),
                },
            })
            .collect()),
        Value::Scalar(_, v) => Ok(vec![ParsedSample {
            labels: Vec::new(),
            value: v,
            histogram: String::new(),
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// An expected sample's labels (`parser.ParseMetric`) and histogram.
fn expected_sample(labels: &str, histogram: &str) -> Result<(Vec<Label>, String), String> {
    let labels = if labels.trim().is_empty() {
        Vec::new()
    } else {
        let (labels, rest) = parse_labels(labels.trim())?;
        if !rest.trim().is_empty() {
            return Err(format!("unexpected {:?} after the label set", rest.trim()));
        }
        labels
    };
    if histogram.is_empty() {
        return Ok((labels, String::new()));
    }
    let desc = parse_series(&format!("{{}} {histogram}"))?;
    match desc.values.as_slice() {
        [Some(SampleValue::Histogram(h))] => Ok((labels, test_expression(h))),
        [v] => Err(format!("expected histogram, got {v:?}")),
        v => Err(format!("expected 1 value, got {}", v.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_estimates_bound_the_expansion() {
        assert_eq!(estimate_samples("1 2 _ stale"), 4);
        assert_eq!(estimate_samples("0+1x10 5x2 _x3"), 11 + 3 + 4);
        assert_eq!(estimate_samples("{{count:1}}x9"), 10);
        assert_eq!(estimate_samples("1x99999999999999999999999"), u64::MAX);
        let many = "1x999999 ".repeat(100);
        let file = crate::file::parse(&format!(
            "tests:\n- input_series:\n  - series: a\n    values: {many}\n"
        ))
        .unwrap();
        let err = load_series(&file.tests[0], 0).unwrap_err();
        assert!(err.contains("more than 20000000 samples"), "{err}");
    }

    fn load_values(values: &[String]) -> Result<Vec<LoadSample>, String> {
        let series: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("  - series: a{i}\n    values: '{v}'\n"))
            .collect();
        let file = crate::file::parse(&format!("tests:\n- input_series:\n{series}"))
            .map_err(|e| e.to_string())?;
        load_series(&file.tests[0], 0)
    }

    #[test]
    fn histograms_count_by_their_buckets() {
        let buckets = vec!["1"; 10_000].join(" ");
        let limit = "more than 20000000 samples, the most a test group may load";
        // Counted as a million samples before, 10k buckets each: 80 GB.
        let err = load_values(&[format!("{{{{buckets:[{buckets}]}}}}x1000000")]).unwrap_err();
        assert_eq!(err, format!("2: input series hold {limit}"));
        let err = load_values(&[format!("{{{{buckets:[{buckets}]}}}}x1999")]).unwrap_err();
        assert_eq!(err, format!("2: input series hold {limit}"));
        // Across series: 1000 x 10001 cells twice is over, once is not.
        let thousand = format!("{{{{buckets:[{buckets}]}}}}x999");
        let err = load_values(&[thousand.clone(), "0".into(), thousand.clone()]).unwrap_err();
        assert_eq!(err, format!("4: input series hold {limit}"));
        let err = load_values(&[
            "{{schema:-53 custom_values:[1] buckets:[1 1]}}+{{buckets:[1]}}x1".into(),
        ])
        .unwrap_err();
        assert!(
            err.starts_with("2: parse error: cannot apply this operation"),
            "{err}"
        );
    }

    #[test]
    fn debug_reports_timing_and_dumps_all_data() {
        let file = crate::file::parse(
            "tests:\n- interval: 30s\n  input_series:\n  - series: 'a{x=\"1\"}'\n    values: 1 2 3 NaN\n  promql_expr_test:\n  - expr: a\n    eval_time: 1m\n",
        )
        .unwrap();
        let order = HashMap::new();
        let settings = FileSettings {
            rule_files: &[],
            eval_interval: 60_000,
            group_order: &order,
            diff: false,
            fuzzy: false,
            ignore_unknown_fields: false,
            debug: true,
        };
        let mut out = Vec::new();
        let errs = run(&file.tests[0], "unnamed#0", &settings, &mut out);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let out = String::from_utf8(out).unwrap();
        let took = regex::Regex::new(r"took \S+").unwrap();
        expect_test::expect![[r#"
            DEBUG: Starting test unnamed#0
            DEBUG: Dump of all data (input_series and rules) at 1m1s:
            {__name__="a", x="1"} =>
            2 @[30000]
            3 @[60000]
            DEBUG: Test unnamed#0 finished, took D
        "#]]
        .assert_eq(&took.replace(&out, "took D"));
    }
}
