//! The fuzz targets of wasmetheus: each takes arbitrary bytes and feeds
//! them to one parser or on-disk reader, which must return (an error is
//! fine) without panicking, hanging or aborting. A few also check a
//! round trip that must hold for every accepted input.
//!
//! `cargo xtask fuzz` builds every target as a libFuzzer binary (stable
//! toolchain, sanitizer-coverage flags); a plain build makes each target a
//! replayer of the files named on its command line, to reproduce a saved
//! crash under a debugger. [`seeds`] makes the binary seeds (WAL segments,
//! part files, sealed chunks) that only the code can write.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, OnceLock};

use wasmetheus_model::Label;
use wasmetheus_model::storage::Matcher;
use wasmetheus_tsdb::store::Store;
use wasmetheus_tsdb::wal::{Record, Wal};

/// A fuzz target: takes any bytes.
pub type Target = fn(&[u8]);

/// Every target, by name (the binary of each has this name).
pub const TARGETS: &[(&str, Target)] = &[
    ("promql", promql),
    ("text", text),
    ("openmetrics", openmetrics),
    ("wal", wal),
    ("part", part),
    ("sealed", sealed),
    ("relabel", relabel),
];

/// The PromQL parser: any text parses or fails with an error; what parses
/// prints as PromQL that parses to the same printed form.
pub fn promql(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = wasmetheus_promql::parser::parse(input) else {
        return;
    };
    let printed = wasmetheus_promql::printer::format(&expr);
    match wasmetheus_promql::parser::parse(&printed) {
        Ok(again) => assert_eq!(
            wasmetheus_promql::printer::format(&again),
            printed,
            "printing is not stable for {input:?}"
        ),
        Err(e) => panic!("{input:?} printed as {printed:?}, which does not parse: {e}"),
    }
}

/// The text exposition format 0.0.4 parser. An exposition that parses
/// parses again to the same samples when the sink knows every series
/// text from the first parse (the scrape cache's second scrape of the
/// same body, where the parser skips the labels of known series).
pub fn text(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let _ = wasmetheus_model::text::parse(&input);
    let mut first = Recorder::default();
    let Ok(metadata) = wasmetheus_model::text::parse_into(&input, &mut first) else {
        return;
    };
    let mut second = Recorder {
        seen: first.seen.clone(),
        knowing: true,
        ..Recorder::default()
    };
    match wasmetheus_model::text::parse_into(&input, &mut second) {
        Ok(again) => assert_eq!(again, metadata, "metadata differs with known series"),
        Err(e) => panic!("parses, but not with its series known: {e}"),
    }
    assert_eq!(second.out, first.out, "samples differ with known series");
}

/// A sink that records what it is handed and, when `knowing`, knows every
/// series text in `seen`.
#[derive(Default)]
struct Recorder<'a> {
    seen: std::collections::HashSet<&'a str>,
    knowing: bool,
    last_known: Option<&'a str>,
    /// Series text, value bits, timestamp.
    out: Vec<(&'a str, u64, Option<i64>)>,
}

impl<'a> wasmetheus_model::text::SampleSink<'a> for Recorder<'a> {
    fn sample(&mut self, sample: wasmetheus_model::text::RawSample<'a, '_>) {
        self.seen.insert(sample.series);
        self.out
            .push((sample.series, sample.value.to_bits(), sample.timestamp_ms));
    }

    fn knows(&mut self, series: &'a str) -> bool {
        let known = self.knowing && self.seen.contains(series);
        if known {
            self.last_known = Some(series);
        }
        known
    }

    fn known_sample(&mut self, value: f64, timestamp_ms: Option<i64>) {
        let series = self.last_known.expect("known_sample follows knows");
        self.out.push((series, value.to_bits(), timestamp_ms));
    }
}

/// The OpenMetrics 1.0 parser, strict and with Prometheus' leniency for
/// negative observations.
pub fn openmetrics(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let _ = wasmetheus_model::openmetrics::parse(&input);
    let _ = wasmetheus_model::openmetrics::parse_with(
        &input,
        wasmetheus_model::openmetrics::Options {
            allow_negative_observations: true,
        },
    );
}

/// WAL replay of one segment. The first byte chooses the layout of the
/// rest: even, the segment's bytes as they are (framing, checksums,
/// truncation); odd, records as `length (2 LE) | payload` that are framed
/// with correct checksums, so mutations reach the record decoder.
pub fn wal(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let segment = if mode.is_multiple_of(2) {
        rest.to_vec()
    } else {
        frame_wal_records(rest)
    };
    let dir = scratch_dir();
    std::fs::write(dir.path().join("00000000"), &segment).expect("write the segment");
    let mut records = 0usize;
    let opened = Wal::open(dir.path(), false, |_| records += 1);
    if let Ok((log, _)) = opened {
        drop(log);
        // Replay truncates at the first bad record: what is left replays
        // whole, with the same records.
        let mut again = 0usize;
        let (_, stats) =
            Wal::open(dir.path(), false, |_| again += 1).expect("reopen a replayed log");
        assert_eq!(again, records, "a truncated log replays differently");
        assert_eq!(stats.truncated_bytes, 0, "replay truncated twice");
    }
}

/// `length (2 LE) | payload` records as WAL frames:
/// `size (4 LE) | crc32 (4 LE) | payload`.
fn frame_wal_records(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        let payload = &data[2..2 + len];
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(&crc32(payload).to_le_bytes());
        out.extend_from_slice(payload);
        data = &data[2 + len..];
    }
    out
}

/// The inverse of [`frame_wal_records`], for seeds.
fn unframe_wal_records(mut segment: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while segment.len() >= 8 {
        let size = u32::from_le_bytes(segment[..4].try_into().expect("4 bytes")) as usize;
        let Some(payload) = segment.get(8..8 + size) else {
            break;
        };
        let Ok(len) = u16::try_from(size) else {
            break;
        };
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(payload);
        segment = &segment[8 + size..];
    }
    out
}

/// The store's block width in the part target, two hours as Prometheus'.
const BLOCK_RANGE: i64 = 2 * 3600 * 1000;

/// The series the part target's store knows.
fn part_series() -> Vec<Vec<Label>> {
    (0..3)
        .map(|i| {
            vec![
                Label::new("__name__", "fuzz_metric"),
                Label::new("series", i.to_string()),
            ]
        })
        .collect()
}

/// A store with [`part_series`] in its index and its part files removed,
/// and the name of the part file those series were written to.
struct PartTemplate {
    /// Held while the store's directory is in use (tests run targets
    /// from several threads).
    lock: Mutex<()>,
    dir: PathBuf,
    part_name: String,
    part_bytes: Vec<u8>,
}

fn part_template() -> &'static PartTemplate {
    static TEMPLATE: OnceLock<PartTemplate> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        // The template lives as long as the process; nothing runs at a
        // libFuzzer exit to remove it, so each process removes those of
        // processes that are gone.
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("wasmetheus-fuzz-part-"));
            if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("wasmetheus-fuzz-part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir, BLOCK_RANGE).expect("open a new store");
            // One part with every series (sharing timestamps, as scraped
            // series do), and irregular values.
            let mut writer = store.block_writer(0).expect("a part writer");
            for (i, labels) in part_series().iter().enumerate() {
                let samples: Vec<(i64, f64)> = (0..120)
                    .map(|t| {
                        (
                            t * 15_000 + t % 3,
                            ((t * 7919) % 1000) as f64 / (i + 1) as f64,
                        )
                    })
                    .collect();
                writer.add(labels, &samples).expect("add a series");
            }
            writer.finish().expect("write the part");
            store.flush().expect("flush the store");
        }
        let chunks = dir.join("chunks");
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&chunks)
            .expect("the chunks directory")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        parts.sort();
        let first = parts.first().expect("the store wrote a part file").clone();
        let part_bytes = std::fs::read(&first).expect("read the part file");
        for part in &parts {
            std::fs::remove_file(part).expect("remove the template's part");
        }
        PartTemplate {
            lock: Mutex::new(()),
            dir,
            part_name: first
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 part name")
                .to_owned(),
            part_bytes,
        }
    })
}

/// The part-file reader: the input becomes the one part file of a store
/// whose index knows three series, which is opened and read. The first
/// byte chooses the layout of the rest: even, the file as it is; odd, the
/// file with its index checksum recomputed, so mutations of the index
/// and chunks get past the checksum.
pub fn part(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut file = rest.to_vec();
    if mode % 2 == 1 {
        fix_part_checksum(&mut file);
    }
    let template = part_template();
    let _one_at_a_time = template.lock.lock().unwrap_or_else(|e| e.into_inner());
    let chunks = template.dir.join("chunks");
    let path = chunks.join(&template.part_name);
    std::fs::write(&path, &file).expect("write the part file");
    if let Ok(store) = Store::open(&template.dir, BLOCK_RANGE) {
        let _ = store.time_range();
        let _ = store.block_starts();
        for labels in part_series() {
            if let Ok(sid) = store.sid(&labels) {
                let _ = store.samples(sid, i64::MIN, i64::MAX);
                let _ = store.samples(sid, 0, 30_000);
            }
        }
        let _ = store.select(&[Matcher::equal("__name__", "fuzz_metric")]);
    }
    // The next input starts from an empty chunks directory again (a part
    // the store found corrupt was renamed to *.corrupt).
    for entry in std::fs::read_dir(&chunks).expect("the chunks directory") {
        let _ = std::fs::remove_file(entry.expect("a directory entry").path());
    }
}

/// Recomputes the CRC32 of a part file's index (footer: `index offset(8)
/// | count(8) | min(8) | max(8) | crc32(4) | end magic(8)`), where the
/// offsets make sense.
fn fix_part_checksum(file: &mut [u8]) {
    const FOOTER: usize = 44;
    let len = file.len();
    if len < FOOTER {
        return;
    }
    let footer = len - FOOTER;
    let index_at = u64::from_le_bytes(file[footer..footer + 8].try_into().expect("8 bytes"));
    let Ok(index_at) = usize::try_from(index_at) else {
        return;
    };
    if index_at <= footer {
        let crc = crc32(&file[index_at..footer]);
        file[footer + 32..footer + 36].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The sealed chunk codec of persisted samples: any bytes decode or fail;
/// samples that encode decode to themselves.
pub fn sealed(data: &[u8]) {
    let mut out = Vec::new();
    let _ = wasmetheus_tsdb::sealed::header(data);
    if wasmetheus_tsdb::sealed::decode(data, &mut out).is_ok() {
        // Strictly increasing timestamps are what the store writes.
        out.dedup_by_key(|s| s.0);
        if out.windows(2).all(|w| w[0].0 < w[1].0) && !out.is_empty() {
            let mut encoded = Vec::new();
            wasmetheus_tsdb::sealed::encode(&out, &mut encoded);
            let mut decoded = Vec::new();
            wasmetheus_tsdb::sealed::decode(&encoded, &mut decoded)
                .expect("a chunk the codec encoded decodes");
            let bits = |s: &[(i64, f64)]| -> Vec<(i64, u64)> {
                s.iter().map(|(t, v)| (*t, v.to_bits())).collect()
            };
            assert_eq!(bits(&decoded), bits(&out), "sealed round trip");
        }
    }
}

/// A whole `prometheus.yml` through the configuration parser; the target
/// and metric relabeling of every scrape config it accepts are applied to
/// a fixed label set.
pub fn relabel(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = wasmetheus_config::Config::parse(input, Path::new("fuzz.yml")) else {
        return;
    };
    let labels = vec![
        Label::new("__address__", "host.example:9100"),
        Label::new("__meta_kubernetes_pod_name", "pod-1"),
        Label::new("__metrics_path__", "/metrics"),
        Label::new("__name__", "node_cpu_seconds_total"),
        Label::new("__scheme__", "http"),
        Label::new("instance", "host.example:9100"),
        Label::new("job", "node"),
        Label::new("mode", "idle"),
    ];
    for scrape in &config.scrape_configs {
        let _ = wasmetheus_relabel::relabel(&labels, &scrape.relabel_configs);
        let _ = wasmetheus_relabel::relabel(&labels, &scrape.metric_relabel_configs);
    }
}

/// Seeds no text file can give, by target: WAL segments (raw and as
/// framed records), a part file (raw and checksum-fixing), sealed chunks.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "wal" => {
            let dir = scratch_dir();
            {
                let (mut log, _) = Wal::open(dir.path(), false, |_| {}).expect("open a new log");
                let labels = part_series();
                log.log(&[
                    Record::Series {
                        r: 1,
                        labels: labels[0].clone(),
                    },
                    Record::Series {
                        r: 2,
                        labels: labels[1].clone(),
                    },
                ])
                .expect("log series");
                log.log(&[Record::Samples(vec![
                    (1, 1000, 1.5),
                    (2, 1000, f64::NAN),
                    (1, 16_000, -2.0),
                ])])
                .expect("log samples");
                log.log(&[Record::Tombstone {
                    r: 2,
                    mint: 0,
                    maxt: 5000,
                }])
                .expect("log a tombstone");
            }
            let segment = std::fs::read(dir.path().join("00000000")).expect("read the segment");
            let mut raw = vec![0u8];
            raw.extend_from_slice(&segment);
            let mut framed = vec![1u8];
            framed.extend_from_slice(&unframe_wal_records(&segment));
            vec![raw, framed]
        }
        "part" => {
            let bytes = &part_template().part_bytes;
            [0u8, 1u8]
                .iter()
                .map(|mode| {
                    let mut seed = vec![*mode];
                    seed.extend_from_slice(bytes);
                    seed
                })
                .collect()
        }
        "sealed" => {
            let series: [Vec<(i64, f64)>; 3] = [
                (0..120).map(|t| (t * 15_000, t as f64)).collect(),
                vec![
                    (0, 0.0),
                    (1, f64::NAN),
                    (7, f64::INFINITY),
                    (1 << 40, -1e300),
                ],
                (0..50)
                    .map(|t| (t * 1000 + t % 7, (t as f64).sin()))
                    .collect(),
            ];
            series
                .iter()
                .map(|samples| {
                    let mut out = Vec::new();
                    wasmetheus_tsdb::sealed::encode(samples, &mut out);
                    out
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Runs `target` on every file named on the command line (or every file
/// in a named directory); a panic fails with the file's name.
pub fn replay(target: fn(&[u8])) -> ExitCode {
    let mut files = Vec::new();
    for arg in std::env::args_os().skip(1) {
        let path = PathBuf::from(arg);
        match std::fs::read_dir(&path) {
            Ok(entries) => files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path())),
            Err(_) => files.push(path),
        }
    }
    if files.is_empty() {
        eprintln!("usage: TARGET FILE|DIR...  (runs the fuzz target on each input)");
        return ExitCode::from(2);
    }
    for file in files {
        let data = match std::fs::read(&file) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        eprint!("{} ... ", file.display());
        let _ = std::io::stderr().flush();
        target(&data);
        eprintln!("ok");
    }
    ExitCode::SUCCESS
}

fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wasmetheus-fuzz-")
        .tempdir()
        .expect("a temporary directory")
}

/// CRC-32 (IEEE), as the WAL and part files use.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// How many records a `wal` input replays, and the bytes truncated.
    fn wal_replay(seed: &[u8]) -> (usize, u64) {
        let segment = if seed[0].is_multiple_of(2) {
            seed[1..].to_vec()
        } else {
            frame_wal_records(&seed[1..])
        };
        let dir = scratch_dir();
        std::fs::write(dir.path().join("00000000"), segment).unwrap();
        let mut records = 0;
        let (_, stats) = Wal::open(dir.path(), false, |_| records += 1).unwrap();
        (records, stats.truncated_bytes)
    }

    /// How many samples of the second series a `part` input holds.
    fn part_samples(seed: &[u8]) -> usize {
        let mut file = seed[1..].to_vec();
        if seed[0] % 2 == 1 {
            fix_part_checksum(&mut file);
        }
        let template = part_template();
        let _one_at_a_time = template.lock.lock().unwrap_or_else(|e| e.into_inner());
        let path = template.dir.join("chunks").join(&template.part_name);
        std::fs::write(&path, &file).unwrap();
        let samples = {
            let store = Store::open(&template.dir, BLOCK_RANGE).unwrap();
            let sid = store.sid(&part_series()[1]).unwrap();
            store.samples(sid, i64::MIN, i64::MAX).unwrap().len()
        };
        for entry in std::fs::read_dir(template.dir.join("chunks")).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        samples
    }

    #[test]
    fn built_in_seeds_are_read_whole() {
        for seed in seeds("wal") {
            assert_eq!(wal_replay(&seed), (4, 0));
        }
        for seed in seeds("part") {
            if seed[0] == 1 {
                // Recomputing a correct checksum changes nothing.
                let mut file = seed[1..].to_vec();
                fix_part_checksum(&mut file);
                assert_eq!(file, seed[1..]);
            }
            assert_eq!(part_samples(&seed), 120);
        }
        for seed in seeds("sealed") {
            let mut out = Vec::new();
            wasmetheus_tsdb::sealed::decode(&seed, &mut out).unwrap();
            assert!(!out.is_empty());
        }
    }

    /// The committed binary seeds under `seeds/` still read whole, so the
    /// fuzzer starts from valid files; `WASMETHEUS_FUZZ_BLESS=1` rewrites
    /// them after a format change.
    #[test]
    fn committed_binary_seeds_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let hint = "regenerate with WASMETHEUS_FUZZ_BLESS=1 cargo test -p wasmetheus-fuzz";
        for target in ["wal", "part", "sealed"] {
            let dir = root.join(target);
            if std::env::var_os("WASMETHEUS_FUZZ_BLESS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                for (i, seed) in seeds(target).iter().enumerate() {
                    std::fs::write(dir.join(format!("built-in-{i}")), seed).unwrap();
                }
            }
            let mut found = 0;
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}; {hint}"))
            {
                let path = entry.unwrap().path();
                let seed = std::fs::read(&path).unwrap();
                found += 1;
                match target {
                    "wal" => assert_eq!(wal_replay(&seed), (4, 0), "{path:?}; {hint}"),
                    "part" => assert_eq!(part_samples(&seed), 120, "{path:?}; {hint}"),
                    _ => {
                        let mut out = Vec::new();
                        assert!(
                            wasmetheus_tsdb::sealed::decode(&seed, &mut out).is_ok(),
                            "{path:?}; {hint}"
                        );
                    }
                }
            }
            assert!(found > 0, "no seeds in {dir:?}; {hint}");
        }
    }

    #[test]
    fn known_series_take_the_parser_s_short_path() {
        let input = include_str!("../seeds/text/basic.prom");
        let mut first = Recorder::default();
        wasmetheus_model::text::parse_into(input, &mut first).unwrap();
        let mut second = Recorder {
            seen: first.seen.clone(),
            knowing: true,
            ..Recorder::default()
        };
        wasmetheus_model::text::parse_into(input, &mut second).unwrap();
        assert!(second.last_known.is_some());
        assert_eq!(second.out, first.out);
        text(input.as_bytes());
    }

    #[test]
    fn every_target_accepts_its_built_in_seeds_and_hostile_bytes() {
        let hostile: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![0xFF; 4096],
            "(".repeat(5000).into_bytes(),
            b"a{".repeat(3000),
            b"\x01\x00\x00\x00\x00".to_vec(),
        ];
        for (name, target) in TARGETS {
            for input in seeds(name).iter().chain(&hostile) {
                target(input);
            }
        }
    }
}
