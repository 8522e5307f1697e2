//! The external conformance corpus in `shared/conformance` (see
//! [`crate::support::conformance_dir`]): Prometheus' exposition fixtures and
//! the OpenMetrics parser test cases.

use std::fs;
use std::path::Path;

use wasmetheus_model::openmetrics::{self, Options};
use wasmetheus_model::{Exposition, MetricKind, ParseError, text};

use crate::support::conformance_dir;

const RELAXED: Options = Options {
    allow_negative_observations: true,
};

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn kind_counts(exposition: &Exposition) -> Vec<(MetricKind, usize)> {
    let mut counts: Vec<(MetricKind, usize)> = Vec::new();
    for meta in &exposition.metadata {
        match counts.iter_mut().find(|(kind, _)| *kind == meta.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((meta.kind, 1)),
        }
    }
    counts.sort_by_key(|&(kind, _)| kind.as_str(true));
    counts
}

#[test]
fn prometheus_237_families_in_both_variants() {
    let dir = conformance_dir().join("exposition");
    let with_meta = text::parse(&read(&dir.join("alltypes.237mfs.prom.txt"))).unwrap();
    let without_meta = text::parse(&read(&dir.join("alltypes.237mfs.nometa.prom.txt"))).unwrap();

    assert_eq!(with_meta.metadata.len(), 237);
    assert_eq!(
        kind_counts(&with_meta),
        [
            (MetricKind::Counter, 112),
            (MetricKind::Gauge, 97),
            (MetricKind::Histogram, 15),
            (MetricKind::Summary, 13),
        ]
    );
    assert!(with_meta.metadata.iter().all(|m| !m.help.is_empty()));
    assert!(without_meta.metadata.is_empty());
    assert_eq!(with_meta.samples.len(), 1857);
    assert_eq!(without_meta.samples.len(), 1857);

    let pairs = |e: &Exposition| -> Vec<_> {
        e.samples
            .iter()
            .map(|s| (s.name.clone(), s.labels.clone(), s.value.to_bits()))
            .collect()
    };
    assert!(
        pairs(&with_meta) == pairs(&without_meta),
        "the two variants differ"
    );
}

#[test]
fn prometheus_openmetrics_fixtures() {
    let dir = conformance_dir().join("exposition");

    // Prometheus' Go client exposes negative observations in ways
    // OpenMetrics 1.0 forbids; only the relaxed parser accepts them.
    let input = read(&dir.join("alltypes.5mfs.om.txt"));
    let strict = openmetrics::parse(&input).unwrap_err();
    assert_eq!(
        strict.to_string(),
        "33:1: _sum value -8.452185437166741e-05 must not be negative"
    );
    let alltypes = openmetrics::parse_with(&input, RELAXED).unwrap();
    assert_eq!(
        kind_counts(&alltypes),
        [
            (MetricKind::Counter, 2),
            (MetricKind::Gauge, 1),
            (MetricKind::Histogram, 1),
            (MetricKind::Summary, 1),
        ]
    );
    assert_eq!(alltypes.samples.len(), 53);
    assert_eq!(alltypes.exemplars.len(), 6);
    let first = &alltypes.exemplars[0];
    assert_eq!(first.timestamp_ms, Some(1_726_839_814_223));
    assert!(alltypes.samples[first.sample].name.ends_with("_bucket"));

    let input = read(&dir.join("1histogram.om.txt"));
    assert!(
        input.ends_with("# EOF"),
        "the fixture should lack a final newline"
    );
    let histogram = openmetrics::parse(&input).unwrap();
    assert_eq!(kind_counts(&histogram), [(MetricKind::Histogram, 1)]);
    assert_eq!(histogram.samples.len(), 42);
    assert_eq!(openmetrics::parse_with(&input, RELAXED).unwrap(), histogram);
}

/// Runs every case of the OpenMetrics parser corpus through `parse` and
/// returns the misclassified ones, by name, with the reason.
fn run_corpus(
    mode: &str,
    parse: impl Fn(&str) -> Result<Exposition, ParseError>,
) -> Vec<(String, String)> {
    let dir = conformance_dir().join("openmetrics/parsers");
    let mut cases: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("test.json").is_file())
        .collect();
    cases.sort();

    let (mut good, mut good_ok, mut bad, mut bad_ok) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let descriptor: serde_json::Value = serde_json::from_str(&read(&case.join("test.json")))
            .unwrap_or_else(|err| panic!("{name}/test.json: {err}"));
        assert_eq!(descriptor["type"], "text", "{name}: unsupported case type");
        let should_parse = descriptor["shouldParse"]
            .as_bool()
            .unwrap_or_else(|| panic!("{name}: shouldParse is not a boolean"));
        let file = descriptor["file"].as_str().unwrap_or("metrics");
        let bytes = fs::read(case.join(file)).unwrap_or_else(|err| panic!("{name}/{file}: {err}"));
        // Input that is not UTF-8 is not OpenMetrics text.
        let result = std::str::from_utf8(&bytes)
            .map_err(|err| err.to_string())
            .and_then(|input| parse(input).map_err(|err| err.to_string()));

        let comment = descriptor["comment"].as_str().unwrap_or("");
        let failure = match (should_parse, result) {
            (true, Ok(_)) => {
                good_ok += 1;
                None
            }
            (false, Err(_)) => {
                bad_ok += 1;
                None
            }
            (true, Err(err)) => Some(format!("rejected valid input: {err}")),
            (false, Ok(_)) => Some("accepted invalid input".to_owned()),
        };
        if let Some(why) = failure {
            failures.push((name, format!("{why} {comment}")));
        }
        if should_parse {
            good += 1;
        } else {
            bad += 1;
        }
    }
    println!(
        "OpenMetrics corpus, {mode}: {good_ok}/{good} valid cases accepted, \
         {bad_ok}/{bad} invalid cases rejected"
    );
    // The corpus README's counts; fewer cases mean a damaged checkout.
    assert_eq!(
        (good, bad),
        (44, 167),
        "unexpected number of cases in {}",
        dir.display()
    );
    failures
}

#[test]
fn openmetrics_parser_corpus() {
    let failures = run_corpus("strict", openmetrics::parse);
    let report: Vec<_> = failures
        .iter()
        .map(|(name, why)| format!("{name}: {why}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} cases misclassified:\n{}",
        failures.len(),
        report.join("\n")
    );
}

#[test]
fn openmetrics_parser_corpus_with_negative_observations() {
    let failures = run_corpus("negative observations allowed", |input| {
        openmetrics::parse_with(input, RELAXED)
    });
    let names: Vec<_> = failures.iter().map(|(name, _)| name.as_str()).collect();
    // Exactly the cases that test the relaxed rules.
    assert_eq!(
        names,
        [
            "bad_counter_values_17",
            "bad_counter_values_19",
            "bad_histograms_3"
        ],
        "{failures:#?}"
    );
}
