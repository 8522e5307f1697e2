//! The metrics of haproxy_exporter 0.14: its frontend, backend and server
//! tables (CSV column → name, help, type), the status column's values,
//! the server field selection and excluded states, and `show info`.
//!
//! [`export`] turns one `show stat` CSV body into families of a
//! [`Registry`] exactly as the exporter's `parseRow`/`exportCsvFields` do:
//! rows with fewer than 33 fields are parse failures, an empty value is
//! skipped, a value that does not parse is a parse failure and only its
//! own series is left out; listeners and unknown row types are ignored.

use crate::csv::{self, Item};
use std::collections::{BTreeSet, HashSet};
use wasmetheus_sdk::{Kind, Registry};

/// Rows shorter than this are parse failures (`minimumCsvFieldCount`).
pub const MIN_FIELDS: usize = 33;
const PXNAME: usize = 0;
const SVNAME: usize = 1;
const STATUS: usize = 17;
const TYPE: usize = 32;
/// Columns in milliseconds, exported in seconds.
const MILLISECOND_FIELDS: [usize; 5] = [38, 58, 59, 60, 61];

/// The longest label value the host accepts, in bytes.
pub const MAX_LABEL_VALUE_BYTES: usize = 4096;

/// One metric: a CSV column of one kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub field: usize,
    /// The name after `haproxy_<frontend|backend|server>_`.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// The constant `code` label of `http_responses_total`.
    pub code: Option<&'static str>,
}

const fn m(field: usize, name: &'static str, help: &'static str, kind: Kind) -> MetricDef {
    MetricDef {
        field,
        name,
        help,
        kind,
        code: None,
    }
}

const fn http(field: usize, code: &'static str) -> MetricDef {
    MetricDef {
        field,
        name: "http_responses_total",
        help: "Total of HTTP responses.",
        kind: Kind::Counter,
        code: Some(code),
    }
}

const C: Kind = Kind::Counter;
const G: Kind = Kind::Gauge;

const CURRENT_SESSIONS: &str = "Current number of active sessions.";
const MAX_SESSIONS: &str = "Maximum observed number of active sessions.";
const LIMIT_SESSIONS: &str = "Configured session limit.";
const SESSIONS_TOTAL: &str = "Total number of sessions.";
const BYTES_IN: &str = "Current total of incoming bytes.";
const BYTES_OUT: &str = "Current total of outgoing bytes.";
const SESSION_RATE: &str = "Current number of sessions per second over last elapsed second.";
const SELECTED: &str =
    "Total number of times a server was selected, either for new sessions, or when re-dispatching.";
const CLIENT_ABORTS: &str = "Total number of data transfers aborted by the client.";
const SERVER_ABORTS: &str = "Total number of data transfers aborted by the server.";
const COMP_IN: &str = "Number of HTTP response bytes fed to the compressor";
const COMP_OUT: &str = "Number of HTTP response bytes emitted by the compressor";
const COMP_BYP: &str = "Number of bytes that bypassed the HTTP compressor";
const COMP_RSP: &str = "Number of HTTP responses that were compressed";
const QTIME: &str = "Avg. HTTP queue time for last 1024 successful connections.";
const CTIME: &str = "Avg. HTTP connect time for last 1024 successful connections.";
const RTIME: &str = "Avg. HTTP response time for last 1024 successful connections.";
const TTIME: &str = "Avg. HTTP total time for last 1024 successful connections.";

/// `frontendMetrics`, by column.
pub const FRONTEND: &[MetricDef] = &[
    m(4, "current_sessions", CURRENT_SESSIONS, G),
    m(5, "max_sessions", MAX_SESSIONS, G),
    m(6, "limit_sessions", LIMIT_SESSIONS, G),
    m(7, "sessions_total", SESSIONS_TOTAL, C),
    m(8, "bytes_in_total", BYTES_IN, C),
    m(9, "bytes_out_total", BYTES_OUT, C),
    m(
        10,
        "requests_denied_total",
        "Total of requests denied for security.",
        C,
    ),
    m(12, "request_errors_total", "Total of request errors.", C),
    m(33, "current_session_rate", SESSION_RATE, G),
    m(
        34,
        "limit_session_rate",
        "Configured limit on new sessions per second.",
        G,
    ),
    m(
        35,
        "max_session_rate",
        "Maximum observed number of sessions per second.",
        G,
    ),
    http(39, "1xx"),
    http(40, "2xx"),
    http(41, "3xx"),
    http(42, "4xx"),
    http(43, "5xx"),
    http(44, "other"),
    m(48, "http_requests_total", "Total HTTP requests.", C),
    m(51, "compressor_bytes_in_total", COMP_IN, C),
    m(52, "compressor_bytes_out_total", COMP_OUT, C),
    m(53, "compressor_bytes_bypassed_total", COMP_BYP, C),
    m(54, "http_responses_compressed_total", COMP_RSP, C),
    m(79, "connections_total", "Total number of connections", C),
];

/// `backendMetrics`, by column.
pub const BACKEND: &[MetricDef] = &[
    m(
        2,
        "current_queue",
        "Current number of queued requests not assigned to any server.",
        G,
    ),
    m(
        3,
        "max_queue",
        "Maximum observed number of queued requests not assigned to any server.",
        G,
    ),
    m(4, "current_sessions", CURRENT_SESSIONS, G),
    m(5, "max_sessions", MAX_SESSIONS, G),
    m(6, "limit_sessions", LIMIT_SESSIONS, G),
    m(7, "sessions_total", SESSIONS_TOTAL, C),
    m(8, "bytes_in_total", BYTES_IN, C),
    m(9, "bytes_out_total", BYTES_OUT, C),
    m(
        13,
        "connection_errors_total",
        "Total of connection errors.",
        C,
    ),
    m(14, "response_errors_total", "Total of response errors.", C),
    m(15, "retry_warnings_total", "Total of retry warnings.", C),
    m(
        16,
        "redispatch_warnings_total",
        "Total of redispatch warnings.",
        C,
    ),
    m(
        17,
        "up",
        "Current health status of the backend (1 = UP, 0 = DOWN).",
        G,
    ),
    m(
        18,
        "weight",
        "Total weight of the servers in the backend.",
        G,
    ),
    m(19, "current_server", "Current number of active servers", G),
    m(30, "server_selected_total", SELECTED, C),
    m(33, "current_session_rate", SESSION_RATE, G),
    m(
        35,
        "max_session_rate",
        "Maximum number of sessions per second.",
        G,
    ),
    http(39, "1xx"),
    http(40, "2xx"),
    http(41, "3xx"),
    http(42, "4xx"),
    http(43, "5xx"),
    http(44, "other"),
    m(49, "client_aborts_total", CLIENT_ABORTS, C),
    m(50, "server_aborts_total", SERVER_ABORTS, C),
    m(51, "compressor_bytes_in_total", COMP_IN, C),
    m(52, "compressor_bytes_out_total", COMP_OUT, C),
    m(53, "compressor_bytes_bypassed_total", COMP_BYP, C),
    m(54, "http_responses_compressed_total", COMP_RSP, C),
    m(58, "http_queue_time_average_seconds", QTIME, G),
    m(59, "http_connect_time_average_seconds", CTIME, G),
    m(60, "http_response_time_average_seconds", RTIME, G),
    m(61, "http_total_time_average_seconds", TTIME, G),
];

/// `serverMetrics`, by column: the ones `server_metric_fields` selects from.
pub const SERVER: &[MetricDef] = &[
    m(
        2,
        "current_queue",
        "Current number of queued requests assigned to this server.",
        G,
    ),
    m(
        3,
        "max_queue",
        "Maximum observed number of queued requests assigned to this server.",
        G,
    ),
    m(4, "current_sessions", CURRENT_SESSIONS, G),
    m(5, "max_sessions", MAX_SESSIONS, G),
    m(6, "limit_sessions", LIMIT_SESSIONS, G),
    m(7, "sessions_total", SESSIONS_TOTAL, C),
    m(8, "bytes_in_total", BYTES_IN, C),
    m(9, "bytes_out_total", BYTES_OUT, C),
    m(
        13,
        "connection_errors_total",
        "Total of connection errors.",
        C,
    ),
    m(14, "response_errors_total", "Total of response errors.", C),
    m(15, "retry_warnings_total", "Total of retry warnings.", C),
    m(
        16,
        "redispatch_warnings_total",
        "Total of redispatch warnings.",
        C,
    ),
    m(
        17,
        "up",
        "Current health status of the server (1 = UP, 0 = DOWN).",
        G,
    ),
    m(18, "weight", "Current weight of the server.", G),
    m(
        21,
        "check_failures_total",
        "Total number of failed health checks.",
        C,
    ),
    m(
        24,
        "downtime_seconds_total",
        "Total downtime in seconds.",
        C,
    ),
    m(30, "server_selected_total", SELECTED, C),
    m(33, "current_session_rate", SESSION_RATE, G),
    m(
        35,
        "max_session_rate",
        "Maximum observed number of sessions per second.",
        G,
    ),
    m(
        38,
        "check_duration_seconds",
        "Previously run health check duration, in seconds",
        G,
    ),
    http(39, "1xx"),
    http(40, "2xx"),
    http(41, "3xx"),
    http(42, "4xx"),
    http(43, "5xx"),
    http(44, "other"),
    m(49, "client_aborts_total", CLIENT_ABORTS, C),
    m(50, "server_aborts_total", SERVER_ABORTS, C),
    m(58, "http_queue_time_average_seconds", QTIME, G),
    m(59, "http_connect_time_average_seconds", CTIME, G),
    m(60, "http_response_time_average_seconds", RTIME, G),
    m(61, "http_total_time_average_seconds", TTIME, G),
];

/// `--haproxy.server-metric-fields`' default: every server column.
pub const DEFAULT_SERVER_FIELDS: &str =
    "2,3,4,5,6,7,8,9,13,14,15,16,17,18,21,24,30,33,35,38,39,40,41,42,43,44,49,50,58,59,60,61";

/// Which server metrics are exported and which servers are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The selected server metrics, in column order.
    pub server: Vec<MetricDef>,
    /// Server rows whose status is one of these are skipped. Like the
    /// exporter's, the default (an empty list) holds the empty status.
    pub excluded_states: HashSet<String>,
}

impl Selection {
    /// Parses `server_metric_fields` (numbers separated by commas; unknown
    /// columns are ignored, an empty list selects none) and
    /// `server_exclude_states` (states separated by commas).
    pub fn parse(fields: &str, excluded_states: &str) -> Result<Selection, String> {
        let mut selected = BTreeSet::new();
        if !fields.is_empty() {
            for part in fields.split(',') {
                let field: i64 = part.trim().parse().map_err(|_| {
                    format!(
                        "server_metric_fields: invalid server metric field number: {part:?}; \
                         give CSV column numbers separated by commas, such as {DEFAULT_SERVER_FIELDS:?}"
                    )
                })?;
                selected.insert(field);
            }
        }
        let server = SERVER
            .iter()
            .filter(|d| selected.contains(&(d.field as i64)))
            .copied()
            .collect();
        Ok(Selection {
            server,
            excluded_states: excluded_states.split(',').map(str::to_owned).collect(),
        })
    }
}

impl Default for Selection {
    fn default() -> Self {
        Selection::parse(DEFAULT_SERVER_FIELDS, "").expect("the default selection parses")
    }
}

/// The value of the status column (`parseStatusField`): 1 for up, open,
/// draining or not checked; 0 for anything else.
pub fn parse_status(value: &str) -> f64 {
    match value {
        "UP" | "UP 1/3" | "UP 2/3" | "OPEN" | "no check" | "DRAIN" => 1.0,
        _ => 0.0,
    }
}

/// Bounds on one body's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub csv: csv::Limits,
    /// Series exported from the rows at most; the host rejects an output
    /// with more than it accepts.
    pub max_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            csv: csv::Limits::default(),
            max_series: 99_000,
        }
    }
}

/// What reading one body came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rows that produced series.
    pub rows: usize,
    pub series: usize,
    /// Parse failures: malformed records, short rows, bad values, and rows
    /// this plugin cannot export (names that are not UTF-8 or too long,
    /// a repeated proxy or server).
    pub failures: u64,
    /// The first few parse failures, for the log.
    pub first_failures: Vec<String>,
    /// Why the rest of the body was not read, if it was not.
    pub fatal: Option<String>,
}

const FAILURES_SHOWN: usize = 3;

impl Outcome {
    fn fail(&mut self, why: String) {
        self.failures += 1;
        if self.first_failures.len() < FAILURES_SHOWN {
            self.first_failures.push(why);
        }
    }
}

/// A label value from a CSV field, if the host can take it.
fn label(field: &[u8], what: &str) -> Result<String, String> {
    let text =
        std::str::from_utf8(field).map_err(|_| format!("the {what} name is not valid UTF-8"))?;
    if text.len() > MAX_LABEL_VALUE_BYTES {
        return Err(format!(
            "the {what} name is {} bytes long, more than {MAX_LABEL_VALUE_BYTES}",
            text.len()
        ));
    }
    Ok(text.to_owned())
}

/// Parses `body` (the answer to `show stat` or the `;csv` page) into `out`.
pub fn export(body: &[u8], selection: &Selection, limits: &Limits, out: &mut Registry) -> Outcome {
    let mut outcome = Outcome::default();
    let mut seen: HashSet<(u8, String, String)> = HashSet::new();
    let mut reader = csv::Reader::new(body, limits.csv);
    while let Some(item) = reader.next_item() {
        let row = match item {
            Item::Record(row) => row,
            Item::Bad(why) => {
                outcome.fail(why);
                continue;
            }
            Item::TooManyRecords(n) => {
                outcome.fatal = Some(format!("more than {n} CSV records; the rest was not read"));
                break;
            }
        };
        if row.len() < MIN_FIELDS {
            outcome.fail(format!(
                "a row has {} fields, fewer than the {MIN_FIELDS} expected",
                row.len()
            ));
            continue;
        }
        let (kind, defs): (u8, &[MetricDef]) = match &*row[TYPE] {
            b"0" => (0, FRONTEND),
            b"1" => (1, BACKEND),
            b"2" => (2, &selection.server),
            _ => continue,
        };
        // No column selected (server_metric_fields ""): nothing to export,
        // and nothing to remember per row.
        if defs.is_empty() {
            continue;
        }
        if kind == 2 {
            let status = String::from_utf8_lossy(&row[STATUS]);
            if selection.excluded_states.contains(status.as_ref()) {
                continue;
            }
        }
        let proxy = match label(&row[PXNAME], if kind == 0 { "frontend" } else { "backend" }) {
            Ok(name) => name,
            Err(why) => {
                outcome.fail(why);
                continue;
            }
        };
        let server = if kind == 2 {
            match label(&row[SVNAME], "server") {
                Ok(name) => name,
                Err(why) => {
                    outcome.fail(format!("backend {proxy:?}: {why}"));
                    continue;
                }
            }
        } else {
            String::new()
        };
        if outcome.series + defs.len() > limits.max_series {
            outcome.fatal = Some(format!(
                "more than {} series; select fewer server metrics with server_metric_fields \
                 or leave servers out with server_exclude_states",
                limits.max_series
            ));
            break;
        }
        if !seen.insert((kind, proxy.clone(), server.clone())) {
            let what = match kind {
                0 => format!("frontend {proxy:?}"),
                1 => format!("backend {proxy:?}"),
                _ => format!("server {server:?} of backend {proxy:?}"),
            };
            outcome.fail(format!(
                "{what} appears twice; the repeated row was left out"
            ));
            continue;
        }
        outcome.rows += 1;
        for def in defs {
            let Some(raw) = row.get(def.field) else {
                continue;
            };
            if raw.is_empty() {
                continue;
            }
            let value = match parse_value(def.field, raw) {
                Ok(value) => value,
                Err(why) => {
                    outcome.fail(why);
                    continue;
                }
            };
            let prefix = match kind {
                0 => "haproxy_frontend_",
                1 => "haproxy_backend_",
                _ => "haproxy_server_",
            };
            // Labels by name, as Prometheus' client orders them.
            let mut labels = Vec::with_capacity(3);
            let owner = if kind == 0 { "frontend" } else { "backend" };
            labels.push((owner.to_owned(), proxy.clone()));
            if let Some(code) = def.code {
                labels.push(("code".to_owned(), code.to_owned()));
            }
            if kind == 2 {
                labels.push(("server".to_owned(), server.clone()));
            }
            labels.sort();
            out.family(&format!("{prefix}{}", def.name), def.kind, def.help)
                .with_labels(labels, value);
            outcome.series += 1;
        }
    }
    outcome
}

/// One column's value: the status as 1 or 0, milliseconds as seconds,
/// anything else as an integer (Go's `strconv.ParseInt`).
fn parse_value(field: usize, raw: &[u8]) -> Result<f64, String> {
    let text = std::str::from_utf8(raw);
    if field == STATUS {
        return Ok(parse_status(text.unwrap_or_default()));
    }
    let shown = || String::from_utf8_lossy(&raw[..raw.len().min(64)]).into_owned();
    let text = text.map_err(|_| format!("can't parse CSV field value {:?}: not UTF-8", shown()))?;
    if MILLISECOND_FIELDS.contains(&field) {
        let ms = text
            .parse::<f64>()
            .map_err(|_| format!("can't parse CSV field value {:?}: not a number", shown()))?;
        // Go's ParseFloat fails on a finite number too large for a float
        // (1e400) where Rust's gives infinity; only inf/infinity may be.
        let literal = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if ms.is_infinite() && literal != "inf" && literal != "infinity" {
            return Err(format!(
                "can't parse CSV field value {:?}: value out of range",
                shown()
            ));
        }
        return Ok(ms / 1000.0);
    }
    text.parse::<i64>()
        .map(|v| v as f64)
        .map_err(|e| format!("can't parse CSV field value {:?}: {e}", shown()))
}

/// The `Version` and `Release_date` lines of `show info`
/// (`haproxy_version_info`'s labels); missing ones are empty, as upstream.
pub fn parse_info(body: &[u8]) -> Result<(String, String), String> {
    // Go's bufio.Scanner gives up on lines over 64 KiB.
    const MAX_LINE: usize = 64 * 1024;
    let (mut release_date, mut version) = (String::new(), String::new());
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE {
            return Err(format!(
                "a line of the answer is longer than {MAX_LINE} bytes"
            ));
        }
        let Some(at) = line.windows(2).position(|w| w == b": ") else {
            continue;
        };
        let (key, value) = (&line[..at], &line[at + 2..]);
        let slot = match key {
            b"Release_date" => &mut release_date,
            b"Version" => &mut version,
            _ => continue,
        };
        *slot = label(value, "version")
            .map_err(|why| format!("{}: {why}", String::from_utf8_lossy(key)))?;
    }
    Ok((release_date, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values() {
        for (status, up) in [
            ("UP", 1.0),
            ("UP 1/3", 1.0),
            ("UP 2/3", 1.0),
            ("OPEN", 1.0),
            ("no check", 1.0),
            ("DRAIN", 1.0),
            ("DOWN", 0.0),
            ("DOWN 1/2", 0.0),
            ("NOLB", 0.0),
            ("MAINT", 0.0),
            ("MAINT(via)", 0.0),
            ("MAINT(resolution)", 0.0),
            // Upstream lists only these transitions; others count as down.
            ("UP 3/5", 0.0),
            ("DOWN 2/3", 0.0),
            ("up", 0.0),
            ("", 0.0),
        ] {
            assert_eq!(parse_status(status), up, "{status:?}");
        }
    }

    #[test]
    fn server_field_selection() {
        let fields = |s: &Selection| s.server.iter().map(|d| d.field).collect::<Vec<_>>();
        let all = Selection::default();
        assert_eq!(all.server.len(), SERVER.len());
        assert!(all.excluded_states.contains(""));
        let some = Selection::parse("38, 17,2,99,-1,17", "MAINT,DOWN").unwrap();
        assert_eq!(fields(&some), [2, 17, 38]);
        assert!(some.excluded_states.contains("MAINT") && !some.excluded_states.contains(""));
        assert!(Selection::parse("", "").unwrap().server.is_empty());
        let err = Selection::parse("2,x", "").unwrap_err();
        assert!(
            err.contains("invalid server metric field number: \"x\""),
            "{err}"
        );
        // The default is exactly the server table.
        let default: Vec<usize> = DEFAULT_SERVER_FIELDS
            .split(',')
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(default, SERVER.iter().map(|d| d.field).collect::<Vec<_>>());
    }

    #[test]
    fn values_by_column() {
        assert_eq!(parse_value(8, b"-7"), Ok(-7.0));
        assert_eq!(parse_value(8, b"+7"), Ok(7.0));
        assert_eq!(parse_value(38, b"15"), Ok(0.015));
        assert_eq!(parse_value(58, b"1.5"), Ok(0.0015));
        assert!(parse_value(38, b"NaN").unwrap().is_nan());
        assert_eq!(parse_value(59, b"-Inf"), Ok(f64::NEG_INFINITY));
        assert!(
            parse_value(60, b"1e400")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(parse_value(17, b"\xff"), Ok(0.0));
        for bad in [
            &b"1.5"[..],
            b"12abc",
            b" 1",
            b"99999999999999999999",
            b"\xff",
        ] {
            let err = parse_value(8, bad).unwrap_err();
            assert!(err.starts_with("can't parse CSV field value"), "{err}");
        }
    }

    #[test]
    fn info_lines() {
        let info =
            b"Name: HAProxy\r\nVersion: 2.6.12\nRelease_date: 2023/03/20\nVersion:x\nnothing\n";
        assert_eq!(
            parse_info(info),
            Ok(("2023/03/20".to_owned(), "2.6.12".to_owned()))
        );
        assert_eq!(
            parse_info(b"Unknown command\n"),
            Ok((String::new(), String::new()))
        );
        assert!(
            parse_info(b"Version: \xff\n")
                .unwrap_err()
                .contains("UTF-8")
        );
        let long = [b"Version: ".as_slice(), &vec![b'a'; 70_000]].concat();
        assert!(parse_info(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn rows_that_cannot_be_exported_are_failures() {
        let row = |px: &[u8], sv: &[u8], typ: &[u8]| {
            let mut fields: Vec<&[u8]> = vec![b"1"; 40];
            fields[PXNAME] = px;
            fields[SVNAME] = sv;
            fields[STATUS] = b"UP";
            fields[TYPE] = typ;
            fields.join(&b","[..])
        };
        let long = vec![b'n'; MAX_LABEL_VALUE_BYTES + 1];
        let body = [
            row(b"a", b"s1", b"2"),
            row(b"a", b"s1", b"2"),
            row(b"\xffbad", b"FRONTEND", b"0"),
            row(b"b", &long, b"2"),
            row(b"c", b"s1", b"2"),
        ]
        .join(&b"\n"[..]);
        let mut out = Registry::new();
        let outcome = export(&body, &Selection::default(), &Limits::default(), &mut out);
        assert_eq!(outcome.rows, 2);
        assert_eq!(outcome.failures, 3);
        assert!(
            outcome.first_failures[0].contains("appears twice"),
            "{outcome:?}"
        );
        assert!(outcome.first_failures[1].contains("not valid UTF-8"));
        assert!(outcome.first_failures[2].contains("bytes long"));
        let up = out.get("haproxy_server_up").unwrap();
        assert_eq!(up.metrics.len(), 2);
    }

    #[test]
    fn servers_without_selected_columns_are_not_remembered() {
        let mut body = Vec::new();
        for i in 0..50_000 {
            let mut fields: Vec<String> = vec!["1".into(); 40];
            fields[PXNAME] = "b".into();
            fields[SVNAME] = format!("s{}", i % 3);
            fields[STATUS] = "UP".into();
            fields[TYPE] = "2".into();
            body.extend_from_slice(fields.join(",").as_bytes());
            body.push(b'\n');
        }
        let none = Selection::parse("", "").unwrap();
        let mut out = Registry::new();
        let outcome = export(&body, &none, &Limits::default(), &mut out);
        // Upstream exports nothing for them and counts no failure.
        assert_eq!((outcome.rows, outcome.series, outcome.failures), (0, 0, 0));
        assert!(out.families().is_empty());
    }

    #[test]
    fn the_series_limit_ends_the_reading() {
        let mut body = Vec::new();
        for i in 0..100 {
            let mut fields: Vec<String> = vec!["1".into(); 62];
            fields[PXNAME] = format!("b{i}");
            fields[SVNAME] = "BACKEND".into();
            fields[TYPE] = "1".into();
            body.extend_from_slice(fields.join(",").as_bytes());
            body.push(b'\n');
        }
        let limits = Limits {
            max_series: 10 * BACKEND.len(),
            ..Limits::default()
        };
        let mut out = Registry::new();
        let outcome = export(&body, &Selection::default(), &limits, &mut out);
        assert_eq!(outcome.rows, 10);
        assert_eq!(outcome.series, 10 * BACKEND.len());
        assert!(outcome.fatal.unwrap().contains("server_metric_fields"));
    }
}
