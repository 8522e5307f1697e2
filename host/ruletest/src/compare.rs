//! Expected against got, as promtool compares and prints them: alerts as
//! label and annotation sets (`labelsAndAnnotations`), query results as
//! samples (`parsedSample`), both sorted with `labels.Compare`; the
//! `--diff` rendering is `nsf/jsondiff`'s console output of the alerts as
//! JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use wasmetheus_model::Label;

use crate::gofmt::{compare_labels, format_float_e, indent_lines, labels_string, quote};

/// One alert: labels and annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsAndAnnotations {
    pub labels: Vec<Label>,
    pub annotations: Vec<Label>,
}

/// Sorts alerts as promtool does (labels, then annotations).
pub fn sort_alerts(alerts: &mut [LabelsAndAnnotations]) {
    alerts.sort_by(|a, b| {
        compare_labels(&a.labels, &b.labels)
            .then_with(|| compare_labels(&a.annotations, &b.annotations))
    });
}

/// `labelsAndAnnotations.String()`.
pub fn alerts_string(alerts: &[LabelsAndAnnotations]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(&a.labels),
            labels_string(&a.annotations)
        );
        let _ = write!(s, "\n{i}:{}", indent_lines(&one, "  "));
    }
    s.push_str("\n]");
    s
}

/// A sample of a `promql_expr_test`: labels and a float, or a histogram in
/// its test notation (then the float is not compared).
#[derive(Debug, Clone)]
pub struct ParsedSample {
    pub labels: Vec<Label>,
    pub value: f64,
    pub histogram: String,
}

impl ParsedSample {
    fn string(&self) -> String {
        if self.histogram.is_empty() {
            format!(
                "{} {}",
                labels_string(&self.labels),
                format_float_e(self.value)
            )
        } else {
            format!("{} {}", labels_string(&self.labels), self.histogram)
        }
    }
}

/// `parsedSamplesString`.
pub fn samples_string(samples: &[ParsedSample]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(ParsedSample::string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorts samples by labels.
pub fn sort_samples(samples: &mut [ParsedSample]) {
    samples.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
}

/// Floats as go-cmp compares them: `==` (so NaN never equals NaN), or with
/// `fuzzy_compare` also the neighbouring floats either side.
pub fn floats_equal(x: f64, y: f64, fuzzy: bool) -> bool {
    x == y
        || (fuzzy && (next_after(x, f64::NEG_INFINITY) == y || next_after(x, f64::INFINITY) == y))
}

/// Go's `math.Nextafter`.
fn next_after(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == y {
        return x;
    }
    if x == 0.0 {
        let tiny = f64::from_bits(1);
        return if y > 0.0 { tiny } else { -tiny };
    }
    let bits = x.to_bits();
    if (y > x) == (x > 0.0) {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

/// Whether two sorted sample lists are equal as promtool compares them.
pub fn samples_equal(exp: &[ParsedSample], got: &[ParsedSample], fuzzy: bool) -> bool {
    exp.len() == got.len()
        && exp.iter().zip(got).all(|(e, g)| {
            e.labels == g.labels
                && e.histogram == g.histogram
                && floats_equal(e.value, g.value, fuzzy)
        })
}

/// A JSON value as `encoding/json` decodes into `interface{}`, the
/// subset alerts produce.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Str(String),
    Obj(BTreeMap<String, Json>),
    Arr(Vec<Json>),
}

fn alerts_json(alerts: &[LabelsAndAnnotations]) -> Json {
    let labels = |ls: &[Label]| {
        Json::Obj(
            ls.iter()
                .map(|l| (l.name.clone(), Json::Str(l.value.clone())))
                .collect(),
        )
    };
    Json::Arr(
        alerts
            .iter()
            .map(|a| {
                Json::Obj(BTreeMap::from([
                    ("Annotations".to_owned(), labels(&a.annotations)),
                    ("Labels".to_owned(), labels(&a.labels)),
                ]))
            })
            .collect(),
    )
}

const ADDED: &str = "\x1b[0;32m";
const REMOVED: &str = "\x1b[0;31m";
const CHANGED: &str = "\x1b[0;33m";
const END: &str = "\x1b[0m";
const INDENT: &str = "    ";

/// `jsondiff.Compare` with `DefaultConsoleOptions` (colours, four-space
/// indent) of expected against got alerts; `None` when they fully match.
/// Either side empty is compared as one empty alert, as promtool does.
pub fn alerts_diff(exp: &[LabelsAndAnnotations], got: &[LabelsAndAnnotations]) -> Option<String> {
    let empty = [LabelsAndAnnotations {
        labels: Vec::new(),
        annotations: Vec::new(),
    }];
    let exp = if exp.is_empty() { &empty[..] } else { exp };
    let got = if got.is_empty() { &empty[..] } else { got };
    let mut ctx = DiffCtx::default();
    ctx.diff(&alerts_json(exp), &alerts_json(got));
    if let Some(tag) = ctx.last_tag {
        ctx.buf.push_str(tag_end(tag));
    }
    ctx.mismatch.then_some(ctx.buf)
}

/// The tags: `None` is "normal" (no colour).
type Tag = Option<&'static str>;

fn tag_end(tag: Tag) -> &'static str {
    if tag.is_some() { END } else { "" }
}

#[derive(Default)]
struct DiffCtx {
    buf: String,
    level: usize,
    last_tag: Option<Tag>,
    mismatch: bool,
}

impl DiffCtx {
    fn newline(&mut self, s: &str) {
        self.buf.push_str(s);
        if let Some(tag) = self.last_tag {
            self.buf.push_str(tag_end(tag));
        }
        self.buf.push('\n');
        for _ in 0..self.level {
            self.buf.push_str(INDENT);
        }
        if let Some(tag) = self.last_tag {
            self.buf.push_str(tag.unwrap_or(""));
        }
    }

    fn tag(&mut self, tag: Tag) {
        if self.last_tag == Some(tag) {
            return;
        }
        if let Some(last) = self.last_tag {
            self.buf.push_str(tag_end(last));
        }
        self.buf.push_str(tag.unwrap_or(""));
        self.last_tag = Some(tag);
    }

    fn key(&mut self, k: &str) {
        self.buf.push_str(&quote(k));
        self.buf.push_str(": ");
    }

    fn write_value(&mut self, v: &Json, full: bool) {
        match v {
            Json::Str(s) => self.buf.push_str(&quote(s)),
            Json::Arr(items) if full => {
                if items.is_empty() {
                    self.buf.push('[');
                } else {
                    self.level += 1;
                    self.newline("[");
                }
                for (i, item) in items.iter().enumerate() {
                    self.write_value(item, true);
                    if i + 1 != items.len() {
                        self.newline(",");
                    } else {
                        self.level -= 1;
                        self.newline("");
                    }
                }
                self.buf.push(']');
            }
            Json::Arr(_) => self.buf.push_str("[]"),
            Json::Obj(map) if full => {
                if map.is_empty() {
                    self.buf.push('{');
                } else {
                    self.level += 1;
                    self.newline("{");
                }
                for (i, (k, v)) in map.iter().enumerate() {
                    self.key(k);
                    self.write_value(v, true);
                    if i + 1 != map.len() {
                        self.newline(",");
                    } else {
                        self.level -= 1;
                        self.newline("");
                    }
                }
                self.buf.push('}');
            }
            Json::Obj(_) => self.buf.push_str("{}"),
        }
    }

    fn mismatch(&mut self, a: &Json, b: &Json) {
        self.tag(Some(CHANGED));
        self.write_value(a, false);
        self.buf.push_str(" => ");
        self.write_value(b, false);
        self.mismatch = true;
    }

    fn diff(&mut self, a: &Json, b: &Json) {
        match (a, b) {
            (Json::Str(x), Json::Str(y)) if x != y => self.mismatch(a, b),
            (Json::Arr(sa), Json::Arr(sb)) => {
                let max = sa.len().max(sb.len());
                self.tag(None);
                if max == 0 {
                    self.buf.push('[');
                } else {
                    self.level += 1;
                    self.newline("[");
                }
                for i in 0..max {
                    match (sa.get(i), sb.get(i)) {
                        (Some(x), Some(y)) => self.diff(x, y),
                        (Some(x), None) => {
                            self.tag(Some(REMOVED));
                            self.write_value(x, true);
                            self.mismatch = true;
                        }
                        (None, Some(y)) => {
                            self.tag(Some(ADDED));
                            self.write_value(y, true);
                            self.mismatch = true;
                        }
                        (None, None) => {}
                    }
                    self.tag(None);
                    if i + 1 != max {
                        self.newline(",");
                    } else {
                        self.level -= 1;
                        self.newline("");
                    }
                }
                self.buf.push(']');
            }
            (Json::Obj(ma), Json::Obj(mb)) => {
                let mut keys: Vec<&String> = ma.keys().chain(mb.keys()).collect();
                keys.sort();
                keys.dedup();
                self.tag(None);
                if keys.is_empty() {
                    self.buf.push('{');
                } else {
                    self.level += 1;
                    self.newline("{");
                }
                for (i, k) in keys.iter().enumerate() {
                    match (ma.get(*k), mb.get(*k)) {
                        (Some(x), Some(y)) => {
                            self.key(k);
                            self.diff(x, y);
                        }
                        (Some(x), None) => {
                            self.tag(Some(REMOVED));
                            self.key(k);
                            self.write_value(x, true);
                            self.mismatch = true;
                        }
                        (None, Some(y)) => {
                            self.tag(Some(ADDED));
                            self.key(k);
                            self.write_value(y, true);
                            self.mismatch = true;
                        }
                        (None, None) => {}
                    }
                    self.tag(None);
                    if i + 1 != keys.len() {
                        self.newline(",");
                    } else {
                        self.level -= 1;
                        self.newline("");
                    }
                }
                self.buf.push('}');
            }
            (Json::Str(_), Json::Str(_)) => {
                self.tag(None);
                self.write_value(a, true);
            }
            _ => self.mismatch(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> LabelsAndAnnotations {
        let ls = |v: &[(&str, &str)]| v.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        LabelsAndAnnotations {
            labels: ls(labels),
            annotations: ls(annotations),
        }
    }

    #[test]
    fn alerts_print_as_promtool_prints_them() {
        let a = [
            alert(&[("alertname", "A")], &[]),
            alert(&[("alertname", "A"), ("job", "x")], &[("summary", "s")]),
        ];
        expect_test::expect![[r#"
            [
            0:
              Labels:{alertname="A"}
              Annotations:{},
            1:
              Labels:{alertname="A", job="x"}
              Annotations:{summary="s"}
            ]"#]]
        .assert_eq(&alerts_string(&a));
        assert_eq!(alerts_string(&[]), "[]");
    }

    #[test]
    fn fuzzy_compare_accepts_neighbouring_floats_only() {
        assert!(floats_equal(3.0, 3.0, false));
        assert!(!floats_equal(3.0, 3.0000000000000004, false));
        assert!(floats_equal(3.0, 3.0000000000000004, true));
        assert!(floats_equal(3.0, 2.9999999999999996, true));
        assert!(!floats_equal(3.0, 3.0000000000000013, true));
        assert!(!floats_equal(f64::NAN, f64::NAN, true));
        assert!(floats_equal(0.0, f64::from_bits(1), true));
    }

    #[test]
    fn diff_marks_changes_additions_and_removals() {
        let exp = [alert(&[("alertname", "A"), ("sev", "page")], &[])];
        let got = [alert(&[("alertname", "A"), ("sev", "info")], &[("s", "x")])];
        let diff = alerts_diff(&exp, &got).unwrap().replace('\x1b', "^");
        expect_test::expect![[r#"
            [
                {
                    "Annotations": {
                        ^[0;32m"s": "x"^[0m
                    },
                    "Labels": {
                        "alertname": "A",
                        "sev": ^[0;33m"page" => "info"^[0m
                    }
                }
            ]"#]]
        .assert_eq(&diff);
        assert_eq!(alerts_diff(&exp, &exp), None);
    }

    #[test]
    fn diff_shows_an_extra_alert_as_added() {
        let exp = [alert(&[("alertname", "A")], &[])];
        let got = [
            alert(&[("alertname", "A")], &[]),
            alert(&[("alertname", "A"), ("x", "1")], &[]),
        ];
        let diff = alerts_diff(&exp, &got).unwrap().replace('\x1b', "^");
        expect_test::expect![[r#"
            [
                {
                    "Annotations": {},
                    "Labels": {
                        "alertname": "A"
                    }
                },
                ^[0;32m{^[0m
                    ^[0;32m"Annotations": {},^[0m
                    ^[0;32m"Labels": {^[0m
                        ^[0;32m"alertname": "A",^[0m
                        ^[0;32m"x": "1"^[0m
                    ^[0;32m}^[0m
                ^[0;32m}^[0m
            ]"#]]
        .assert_eq(&diff);
        // Nothing expected and nothing got compare as equal empty alerts.
        assert_eq!(alerts_diff(&[], &[]), None);
    }
}
