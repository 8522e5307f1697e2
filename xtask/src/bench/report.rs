//! Machine-readable bench reports: `target/bench-<name>/report.json`
//! beside `report.txt`, one layout for every bench (bench, date, git
//! revision, machine, parameters, and per server its measures with units
//! and the ratios of wasmetheus' figures to its), through a small JSON
//! value written and read by hand (xtask keeps to std and jiff).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::Result;

/// A JSON value, written (and read back, for criterion's estimates) by
/// hand: xtask keeps to std and jiff so it builds in seconds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// Not finite numbers are written as `null`.
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    /// Members in the order given.
    Obj(Vec<(String, Json)>),
}

impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Num(v)
    }
}

impl From<u64> for Json {
    fn from(v: u64) -> Json {
        Json::Num(v as f64)
    }
}

impl From<usize> for Json {
    fn from(v: usize) -> Json {
        Json::Num(v as f64)
    }
}

impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Num(v as f64)
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}

impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_owned())
    }
}

impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Arr(v.into_iter().map(Into::into).collect())
    }
}

impl Json {
    /// An object from `(name, value)` pairs.
    pub(crate) fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(v) => Some(*v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Indented by two spaces a level; an array or object of scalars
    /// only stays on one line.
    pub(crate) fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Json::Arr(_) | Json::Obj(_))
    }

    fn write(&self, out: &mut String, level: usize) {
        let flat = match self {
            Json::Arr(items) => items.iter().all(Json::is_scalar),
            Json::Obj(members) => members.iter().all(|(_, v)| v.is_scalar()),
            _ => true,
        };
        let (open, sep, close) = if flat {
            (String::new(), ", ".to_owned(), String::new())
        } else {
            let inner = "  ".repeat(level + 1);
            (
                format!("\n{inner}"),
                format!(",\n{inner}"),
                format!("\n{}", "  ".repeat(level)),
            )
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Rust's f64 Display never uses an exponent: always valid JSON.
            Json::Num(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => json_quote(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push('[');
                out.push_str(&open);
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    item.write(out, level + 1);
                }
                out.push_str(&close);
                out.push(']');
            }
            Json::Obj(members) if members.is_empty() => out.push_str("{}"),
            Json::Obj(members) => {
                out.push('{');
                out.push_str(&open);
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    json_quote(out, k);
                    out.push_str(": ");
                    v.write(out, level + 1);
                }
                out.push_str(&close);
                out.push('}');
            }
        }
    }

    /// Parses a whole JSON text (criterion's files); None if malformed.
    pub(crate) fn parse(text: &str) -> Option<Json> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }
}

fn json_quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&b);
        self.i += usize::from(hit);
        hit
    }

    fn value(&mut self) -> Option<Json> {
        self.ws();
        // Deep nesting would overflow the stack; no report nests this far.
        if self.depth > 64 {
            return None;
        }
        let rest = &self.s[self.i..];
        for (word, v) in [
            (&b"null"[..], Json::Null),
            (b"true", Json::Bool(true)),
            (b"false", Json::Bool(false)),
        ] {
            if rest.starts_with(word) {
                self.i += word.len();
                return Some(v);
            }
        }
        match *rest.first()? {
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.i += 1;
                self.depth += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                Some(Json::Arr(items))
            }
            b'{' => {
                self.i += 1;
                self.depth += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        members.push((k, self.value()?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                Some(Json::Obj(members))
            }
            _ => {
                let len = rest
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                    .count();
                let v = std::str::from_utf8(&rest[..len]).ok()?.parse().ok()?;
                self.i += len;
                Some(Json::Num(v))
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4)?;
                            self.i += 4;
                            let n = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            char::from_u32(n).unwrap_or('\u{fffd}')
                        }
                        other => other as char,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b => out.push(b),
            }
        }
    }
}

/// The server every ratio is taken of: wasmetheus' figure ÷ the peer's.
pub(crate) const OURS: &str = "wasmetheus";

/// Version of the `report.json` layout; raised when a field changes
/// meaning or goes away (adding one does not).
pub(crate) const REPORT_SCHEMA: u32 = 1;

/// One figure with its unit (`s`, `ms`, `bytes`, `bytes/series`, …).
#[derive(Clone, Debug)]
pub(crate) struct Measure {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) value: Option<f64>,
}

/// One server's (or store's) column of a bench.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerReport {
    pub(crate) name: String,
    pub(crate) version: String,
    /// Which run of a bench with several (`churn 10 %/min`); ratios are
    /// only taken between entries of the same variant.
    pub(crate) variant: Option<String>,
    pub(crate) measures: Vec<Measure>,
    /// Ratios the bench computes itself (e.g. over the queries both
    /// servers answered), in place of the plain quotient of the measure.
    pub(crate) ratios: Vec<(String, Option<f64>)>,
    /// Figures that are not compared (per-query details, parts on disk).
    pub(crate) details: Vec<(String, Json)>,
    pub(crate) notes: Vec<String>,
    /// Why the server has no figures.
    pub(crate) error: Option<String>,
}

impl ServerReport {
    pub(crate) fn new(name: &str, version: &str) -> ServerReport {
        ServerReport {
            name: name.into(),
            version: version.into(),
            ..ServerReport::default()
        }
    }

    /// Adds a measure (`None`: not available in this run).
    pub(crate) fn measure(
        &mut self,
        name: &str,
        unit: &'static str,
        value: impl Into<Option<f64>>,
    ) {
        self.measures.push(Measure {
            name: name.into(),
            unit,
            value: value.into(),
        });
    }

    pub(crate) fn detail(&mut self, name: &str, value: impl Into<Json>) {
        self.details.push((name.into(), value.into()));
    }

    /// The measure called `name`, if the server reports it.
    pub(crate) fn find(&self, name: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.name == name)
    }
}

/// A bench's machine-readable report, `target/bench-<name>/report.json`:
/// `schema`, `bench`, `date`, `revision` (git), `machine` (cores, memory,
/// CPU, kernel), `parameters`, and per server `name`, `version`,
/// `variant`, `measures` (`{"value", "unit"}` each), `ratios` (wasmetheus'
/// value ÷ this server's, per measure both have), `details`, `notes`,
/// `error`; then the bench's `notes`.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    pub(crate) bench: String,
    pub(crate) parameters: Vec<(String, Json)>,
    pub(crate) servers: Vec<ServerReport>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(bench: &str) -> Report {
        Report {
            bench: bench.into(),
            parameters: Vec::new(),
            servers: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn parameter(&mut self, name: &str, value: impl Into<Json>) {
        self.parameters.push((name.into(), value.into()));
    }

    /// wasmetheus' value of each measure ÷ `server`'s, for every measure
    /// both report (the bench's own ratios first).
    pub(crate) fn ratios(&self, server: &ServerReport) -> Vec<(String, Option<f64>)> {
        let Some(ours) = self
            .servers
            .iter()
            .find(|s| s.name == OURS && s.variant == server.variant && s.error.is_none())
        else {
            return Vec::new();
        };
        if server.name == OURS || server.error.is_some() {
            return Vec::new();
        }
        let mut ratios = server.ratios.clone();
        for m in &server.measures {
            if ratios.iter().any(|(n, _)| *n == m.name) {
                continue;
            }
            // Null when either figure is missing.
            if let Some(a) = ours.find(&m.name) {
                let r = a.value.zip(m.value.filter(|&b| b != 0.0));
                ratios.push((m.name.clone(), r.map(|(a, b)| a / b)));
            }
        }
        ratios
    }

    /// The report as JSON, with `date`, `revision` and `machine` as given.
    pub(crate) fn to_json(&self, date: &str, revision: Json, machine: Json) -> Json {
        let servers = self
            .servers
            .iter()
            .map(|s| {
                let measures = s
                    .measures
                    .iter()
                    .map(|m| {
                        let v = Json::obj([("value", m.value.into()), ("unit", m.unit.into())]);
                        (m.name.clone(), v)
                    })
                    .collect();
                let ratios = self
                    .ratios(s)
                    .into_iter()
                    .map(|(n, r)| (n, r.into()))
                    .collect();
                Json::obj([
                    ("name", s.name.as_str().into()),
                    ("version", s.version.as_str().into()),
                    ("variant", s.variant.clone().into()),
                    ("measures", Json::Obj(measures)),
                    ("ratios", Json::Obj(ratios)),
                    ("details", Json::Obj(s.details.clone())),
                    ("notes", s.notes.clone().into()),
                    ("error", s.error.clone().into()),
                ])
            })
            .collect();
        Json::obj([
            ("schema", Json::from(REPORT_SCHEMA as u64)),
            ("bench", self.bench.as_str().into()),
            ("date", date.into()),
            ("revision", revision),
            ("machine", machine),
            ("parameters", Json::Obj(self.parameters.clone())),
            ("servers", Json::Arr(servers)),
            (
                "ratios_are",
                format!("{OURS}' value divided by the server's, measure by measure").into(),
            ),
            ("notes", self.notes.clone().into()),
        ])
    }

    /// Writes `report.txt` (`text`, as printed) and `report.json` into
    /// `dir`.
    pub(crate) fn write(&self, dir: &Path, text: &str) -> Result {
        let date = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let json = self.to_json(&date, git_revision(), machine());
        for (name, body) in [
            ("report.txt", text.to_owned()),
            ("report.json", json.pretty()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// The checked-out commit, `-dirty` when the tree has changes; null
/// outside a git checkout.
fn git_revision() -> Json {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(crate::root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            Json::Str(if dirty { format!("{rev}-dirty") } else { rev })
        }
        None => Json::Null,
    }
}

/// What the figures depend on: cores this process may use, memory, CPU
/// model and kernel, from /proc.
pub(crate) fn machine() -> Json {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    let field = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let memory = field(&meminfo, "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024);
    Json::obj([
        (
            "cores",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .ok()
                .into(),
        ),
        ("memory_bytes", memory.into()),
        ("cpu", field(&cpuinfo, "model name").into()),
        (
            "kernel",
            Some(read("/proc/sys/kernel/osrelease").trim().to_owned())
                .filter(|k| !k.is_empty())
                .into(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, variant: Option<&str>, cpu: Option<f64>, rss: f64) -> ServerReport {
        let mut s = ServerReport::new(name, "v1");
        s.variant = variant.map(Into::into);
        s.measure("cpu", "s", cpu);
        s.measure("rss", "bytes", rss);
        s
    }

    /// Ratios are wasmetheus' figure over each peer's, per measure both
    /// have, within one variant; a bench's own ratio replaces the
    /// quotient; missing figures and zero divisors give null.
    #[test]
    fn ratios_against_each_peer() {
        let mut r = Report::new("ingest");
        r.parameter("targets", 20usize);
        r.servers
            .push(server(OURS, Some("churn 0"), Some(1.0), 2000.0));
        r.servers
            .push(server("prometheus", Some("churn 0"), Some(4.0), 0.0));
        let mut vm = server("victoria-metrics", Some("churn 0"), None, 1000.0);
        vm.ratios.push(("cpu".into(), Some(0.125)));
        r.servers.push(vm);
        r.servers
            .push(server(OURS, Some("churn 10"), Some(3.0), 500.0));
        r.servers
            .push(server("prometheus", Some("churn 10"), Some(6.0), 1000.0));
        let ratios = |i: usize| r.ratios(&r.servers[i]);
        assert!(ratios(0).is_empty());
        assert_eq!(
            ratios(1),
            [("cpu".into(), Some(0.25)), ("rss".into(), None)]
        );
        assert_eq!(
            ratios(2),
            [("cpu".into(), Some(0.125)), ("rss".into(), Some(2.0))]
        );
        assert_eq!(
            ratios(4),
            [("cpu".into(), Some(0.5)), ("rss".into(), Some(0.5))]
        );
        // A failed wasmetheus run leaves the peers without ratios.
        r.servers[0].error = Some("exited".into());
        assert!(r.ratios(&r.servers[1]).is_empty());
    }

    /// The written report reads back with the layout the schema names.
    #[test]
    fn report_json_round_trips() {
        let mut r = Report::new("query");
        r.parameter("queries", vec!["up", "sum(rate(x[5m]))"]);
        r.parameter("note", "tab\there \"quoted\" \\ é");
        r.servers.push(server(OURS, None, Some(1.5), 2048.0));
        let mut p = server("prometheus", None, Some(3.0), f64::NAN);
        p.detail("blocks", 2u64);
        p.notes.push("line\nbreak".into());
        r.servers.push(p);
        let mut failed = ServerReport::new("victoria-metrics", "1.79");
        failed.error = Some("not ready".into());
        r.servers.push(failed);
        let text = r
            .to_json("2026-01-01T00:00:00Z", "abc".into(), machine())
            .pretty();
        let json = Json::parse(&text).expect(&text);
        assert_eq!(json.get("schema"), Some(&Json::Num(1.0)));
        assert_eq!(json.get("bench").and_then(Json::as_str), Some("query"));
        let machine = json.get("machine").unwrap();
        assert!(machine.get("cores").and_then(Json::as_f64).unwrap() >= 1.0);
        assert!(machine.get("memory_bytes").is_some());
        let params = json.get("parameters").unwrap();
        assert_eq!(
            params.get("note").and_then(Json::as_str),
            Some("tab\there \"quoted\" \\ é")
        );
        assert_eq!(
            params.get("queries"),
            Some(&Json::Arr(vec!["up".into(), "sum(rate(x[5m]))".into()]))
        );
        let Some(Json::Arr(servers)) = json.get("servers") else {
            panic!("{text}")
        };
        let cpu = servers[0]
            .get("measures")
            .and_then(|m| m.get("cpu"))
            .unwrap();
        assert_eq!(
            cpu,
            &Json::obj([("value", 1.5.into()), ("unit", "s".into())])
        );
        let prom = &servers[1];
        // NaN is written as null.
        assert_eq!(
            prom.get("measures").and_then(|m| m.get("rss")),
            Some(&Json::obj([
                ("value", Json::Null),
                ("unit", "bytes".into())
            ]))
        );
        assert_eq!(
            prom.get("ratios"),
            Some(&Json::obj([("cpu", 0.5.into()), ("rss", Json::Null)]))
        );
        assert_eq!(
            prom.get("notes"),
            Some(&Json::Arr(vec!["line\nbreak".into()]))
        );
        assert_eq!(
            servers[2].get("error").and_then(Json::as_str),
            Some("not ready")
        );
        // Scalars-only objects stay on one line.
        assert!(
            text.contains("\"cpu\": {\"value\": 1.5, \"unit\": \"s\"}"),
            "{text}"
        );
    }

    #[test]
    fn parser_refuses_malformed_text() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "\"open",
            "1 2",
            "tru",
            "{\"a\":}",
        ] {
            assert_eq!(Json::parse(bad), None, "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(Json::parse(&deep), None);
        assert_eq!(
            Json::parse(" {\"a\": [1, -2.5e3, true, null, \"\\u00e9\"]} "),
            Some(Json::obj([(
                "a",
                Json::Arr(vec![
                    1.0.into(),
                    (-2500.0).into(),
                    true.into(),
                    Json::Null,
                    "é".into()
                ])
            )]))
        );
    }
}
