//! `wasmetheus query instant|range|series|labels`: promtool's `query`
//! subcommands (Prometheus 2.42) with the same flags and defaults, the
//! same requests, and byte for byte the same output and error texts, so a
//! script can use either.
//!
//! promtool is Go: its times, durations and floats are Go's, its client
//! (client_golang's `api/v1`) decodes answers with jsoniter, whose error
//! texts quote the bytes around the failure, and its output is
//! `prometheus/common/model`'s `String()`s and `encoding/json`. This file
//! reproduces those parts; everything Go-specific is named after what it
//! imitates.
//!
//! Where it differs: usage errors are clap's (exit status 2, promtool's
//! kingpin exits 1); only `http://` servers, without credentials in the
//! URL; a failed DNS lookup does not name the resolver; redirects are not
//! followed; answers that are not the API's JSON shapes (beyond the
//! mistakes promtool's decoder reports, which are reproduced) and native
//! histogram samples fail with our own wording.

use clap::{Args, Parser, Subcommand, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// `wasmetheus query`: run a query against a Prometheus-compatible server.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Output format of the query.
    // Global like promtool's flag on `query`: accepted before or after the
    // subcommand.
    #[arg(
        short = 'o',
        long = "format",
        value_enum,
        default_value = "promql",
        global = true
    )]
    pub format: Format,
    #[command(subcommand)]
    pub command: QueryCommand,
}

/// How answers are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Prometheus' text form of values, one sample or label set a line.
    Promql,
    /// The decoded answer as JSON.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// Run instant query.
    Instant {
        /// Prometheus server to query.
        server: String,
        /// PromQL query expression.
        expr: String,
        /// Query evaluation time (RFC3339 or Unix timestamp).
        #[arg(long)]
        time: Option<String>,
    },
    /// Run range query.
    Range {
        /// Prometheus server to query.
        server: String,
        /// PromQL query expression.
        expr: String,
        /// Extra headers to send to server.
        #[arg(long = "header", value_name = "HEADER", value_parser = parse_header)]
        headers: Vec<(String, String)>,
        /// Query range start time (RFC3339 or Unix timestamp).
        #[arg(long)]
        start: Option<String>,
        /// Query range end time (RFC3339 or Unix timestamp).
        #[arg(long)]
        end: Option<String>,
        /// Query step size (duration).
        #[arg(long, value_parser = parse_go_duration)]
        step: Option<GoDuration>,
    },
    /// Run series query.
    Series {
        /// Prometheus server to query.
        server: String,
        /// Series selector. Can be specified multiple times.
        #[arg(long = "match", value_name = "MATCH", required = true)]
        matchers: Vec<String>,
        /// Start time (RFC3339 or Unix timestamp).
        #[arg(long)]
        start: Option<String>,
        /// End time (RFC3339 or Unix timestamp).
        #[arg(long)]
        end: Option<String>,
    },
    /// Run labels query.
    Labels {
        /// Prometheus server to query.
        server: String,
        /// Label name to provide label values for.
        name: String,
        /// Start time (RFC3339 or Unix timestamp).
        #[arg(long)]
        start: Option<String>,
        /// End time (RFC3339 or Unix timestamp).
        #[arg(long)]
        end: Option<String>,
        /// Series selector. Can be specified multiple times.
        #[arg(long = "match", value_name = "MATCH")]
        matchers: Vec<String>,
    },
}

/// A Go `time.Duration`: nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration(pub i64);

/// promtool's client gives up after two minutes.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The binary's entry: runs `args` on a fresh runtime, prints the answer to
/// stdout and any error as promtool does (one line on stderr, exit 1).
pub fn run_command(args: QueryArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| {
            runtime.block_on(run(args, &mut std::io::stdout(), &mut std::io::stderr()))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// [`run`] with the arguments as on the command line after `query`, e.g.
/// `["instant", "--time", "1700000000", "http://localhost:9090", "up"]`;
/// clap's message on bad arguments.
pub async fn run_with_args<I, T>(
    argv: I,
    out: &mut (dyn Write + Send),
    warnings: &mut (dyn Write + Send),
) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    #[derive(Parser)]
    #[command(name = "wasmetheus query")]
    struct Standalone {
        #[command(flatten)]
        args: QueryArgs,
    }
    let argv =
        std::iter::once(OsString::from("wasmetheus query")).chain(argv.into_iter().map(Into::into));
    let parsed = Standalone::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    run(parsed.args, out, warnings).await
}

/// Runs one query command: the answer goes to `out`, the server's warnings
/// (printed by promtool's `labels` only) to `warnings`. The error's text is
/// exactly the line promtool prints on stderr.
pub async fn run(
    args: QueryArgs,
    out: &mut (dyn Write + Send),
    warnings: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let format = args.format;
    let text = match args.command {
        QueryCommand::Instant { server, expr, time } => {
            let client = Client::new(&server, Vec::new())?;
            let at = match time.as_deref() {
                None | Some("") => GoTime::now(),
                Some(s) => parse_time(s)
                    .map_err(|e| anyhow::anyhow!("error parsing evaluation time: {e}"))?,
            };
            let form = vec![("query", expr), ("time", at.format())];
            let answer = client.post_with_fallback("/api/v1/query", form).await?;
            print_value(&decode_query_result(&answer)?, format)
        }
        QueryCommand::Range {
            server,
            expr,
            headers,
            start,
            end,
            step,
        } => {
            let client = Client::new(&server, headers)?;
            let end = match end.as_deref() {
                None | Some("") => GoTime::now(),
                Some(s) => {
                    parse_time(s).map_err(|e| anyhow::anyhow!("error parsing end time: {e}"))?
                }
            };
            let start = match start.as_deref() {
                None | Some("") => end.add(-5 * 60 * NANOS_PER_SECOND),
                Some(s) => {
                    parse_time(s).map_err(|e| anyhow::anyhow!("error parsing start time: {e}"))?
                }
            };
            if start >= end {
                anyhow::bail!("start time is not before end time");
            }
            let step = match step {
                Some(GoDuration(step)) if step != 0 => step,
                // promtool's default: about 250 steps, at least a second.
                _ => {
                    let resolution = (duration_seconds(end.sub(start)) / 250.0).floor().max(1.0);
                    (resolution as i64).wrapping_mul(NANOS_PER_SECOND)
                }
            };
            let form = vec![
                ("query", expr),
                ("start", start.format()),
                ("end", end.format()),
                ("step", go_float(duration_seconds(step))),
            ];
            let answer = client
                .post_with_fallback("/api/v1/query_range", form)
                .await?;
            print_value(&decode_query_result(&answer)?, format)
        }
        QueryCommand::Series {
            server,
            matchers,
            start,
            end,
        } => {
            let client = Client::new(&server, Vec::new())?;
            let (start, end) = start_and_end(start.as_deref(), end.as_deref())?;
            let mut params: Vec<(&str, String)> =
                matchers.into_iter().map(|m| ("match[]", m)).collect();
            params.push(("start", start.format()));
            params.push(("end", end.format()));
            let answer = client.get("/api/v1/series", params).await?;
            print_series(&decode_series(&answer)?, format)
        }
        QueryCommand::Labels {
            server,
            name,
            start,
            end,
            matchers,
        } => {
            let client = Client::new(&server, Vec::new())?;
            let (start, end) = start_and_end(start.as_deref(), end.as_deref())?;
            let mut params: Vec<(&str, String)> =
                matchers.into_iter().map(|m| ("match[]", m)).collect();
            params.push(("start", start.format()));
            params.push(("end", end.format()));
            // client_golang puts the name into the path unescaped; the
            // path is escaped as a whole when the URL is written.
            let path = format!("/api/v1/label/{name}/values");
            let answer = client.get_raw(&path, params).await?;
            for warning in &answer.warnings {
                writeln!(warnings, "query warning: {warning}")?;
            }
            let answer = answer.into_result()?;
            print_label_values(&decode_label_values(&answer)?, format)
        }
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// promtool's `parseStartTimeAndEndTime`: ±9999 h around now by default.
fn start_and_end(start: Option<&str>, end: Option<&str>) -> anyhow::Result<(GoTime, GoTime)> {
    let now = GoTime::now();
    let span = 9999 * 3600 * NANOS_PER_SECOND;
    let start = match start {
        None | Some("") => now.add(-span),
        Some(s) => parse_time(s).map_err(|e| anyhow::anyhow!("error parsing start time: {e}"))?,
    };
    let end = match end {
        None | Some("") => GoTime::now().add(span),
        Some(s) => parse_time(s).map_err(|e| anyhow::anyhow!("error parsing end time: {e}"))?,
    };
    Ok((start, end))
}

/// kingpin's `StringMap` item: `KEY=VALUE`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE got '{text}'"))
}

// ---------------------------------------------------------------------------
// Go's time: instants, durations, and the parsers promtool uses.

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A Go `time.Time` reduced to what promtool uses: seconds and nanoseconds
/// (0..1e9) since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct GoTime {
    sec: i64,
    nsec: i64,
}

impl GoTime {
    /// Go's `time.Unix`, which normalises `nsec` into 0..1e9.
    fn unix(sec: i64, nsec: i64) -> Self {
        let total = sec as i128 * NANOS_PER_SECOND as i128 + nsec as i128;
        GoTime {
            sec: total.div_euclid(NANOS_PER_SECOND as i128) as i64,
            nsec: total.rem_euclid(NANOS_PER_SECOND as i128) as i64,
        }
    }

    fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime::unix(since.as_secs() as i64, since.subsec_nanos() as i64)
    }

    fn add(self, nanos: i64) -> Self {
        GoTime::unix(self.sec, self.nsec.saturating_add(nanos))
    }

    /// Go's `Time.Sub`: saturates at the Duration range.
    fn sub(self, other: GoTime) -> i64 {
        let d = (self.sec as i128 - other.sec as i128) * NANOS_PER_SECOND as i128
            + (self.nsec - other.nsec) as i128;
        d.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// client_golang's `formatTime`: seconds as the shortest float.
    fn format(self) -> String {
        go_float(self.sec as f64 + self.nsec as f64 / 1e9)
    }
}

/// Go's `Duration.Seconds`.
fn duration_seconds(nanos: i64) -> f64 {
    (nanos / NANOS_PER_SECOND) as f64 + (nanos % NANOS_PER_SECOND) as f64 / 1e9
}

/// promtool's `parseTime`: a float of Unix seconds, else RFC 3339.
fn parse_time(s: &str) -> Result<GoTime, String> {
    if let Some(t) = parse_go_float(s).filter(|t| t.is_finite()) {
        let (whole, frac) = (t.trunc(), t.fract());
        return Ok(GoTime::unix(whole as i64, (frac * 1e9) as i64));
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {} to a valid timestamp", go_quote(s)))
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms it shares with Rust;
/// `None` where Go fails (out of range included).
fn parse_go_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = unsigned.to_ascii_lowercase();
    if lower == "nan" {
        // Go takes no sign on NaN.
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Rust also reads "infinity"-like words and NaN; those are handled
    // above, so anything else must be digits.
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // Go reports overflow to infinity as an error.
    v.is_finite().then_some(v)
}

/// Go's `time.Parse(time.RFC3339Nano, s)` (Go 1.19): one- or two-digit
/// hours, any number of fraction digits after `.` or `,`, `Z` or `±hh:mm`.
fn parse_rfc3339(s: &str) -> Option<GoTime> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let lit = |i: &mut usize, c: u8| -> Option<()> { (b.get(*i) == Some(&c)).then(|| *i += 1) };
    let year = num(&mut i, 4, 4)?;
    lit(&mut i, b'-')?;
    let month = num(&mut i, 2, 2)?;
    lit(&mut i, b'-')?;
    let day = num(&mut i, 2, 2)?;
    lit(&mut i, b'T')?;
    let hour = num(&mut i, 1, 2)?;
    lit(&mut i, b':')?;
    let minute = num(&mut i, 2, 2)?;
    lit(&mut i, b':')?;
    let second = num(&mut i, 2, 2)?;
    let mut nanos = 0;
    if b.len() > i + 1 && matches!(b[i], b'.' | b',') && b[i + 1].is_ascii_digit() {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // Digits past the ninth are dropped.
        let digits = &s[start..i.min(start + 9)];
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            if b.len() < i + 6 || b[i + 3] != b':' {
                return None;
            }
            let two = |at: usize| -> Option<i64> {
                let d = &b[at..at + 2];
                d.iter()
                    .all(u8::is_ascii_digit)
                    .then(|| ((d[0] - b'0') * 10 + (d[1] - b'0')) as i64)
            };
            let (h, m) = (two(i + 1)?, two(i + 4)?);
            i += 6;
            let offset = (h * 60 + m) * 60;
            if sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    if i != b.len()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let sec = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    Some(GoTime::unix(sec, nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Go's `time.ParseDuration`, with its error texts (kingpin's `Duration`
/// flags use it).
fn parse_go_duration(orig: &str) -> Result<GoDuration, String> {
    let invalid = || format!("time: invalid duration {}", go_time_quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(GoDuration(0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Whole part; overflow is an error.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + (s[i] - b'0') as u64;
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction; digits past what fits are ignored.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + (s[i] - b'0') as u64;
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                go_time_quote(orig)
            ));
        }
        let unit_text = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match std::str::from_utf8(unit_text).unwrap_or("") {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_time_quote(&String::from_utf8_lossy(unit_text)),
                    go_time_quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(GoDuration((d as i64).wrapping_neg()));
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(GoDuration(d as i64))
}

/// The `time` package's own quoting in its errors: non-ASCII and control
/// bytes as `\xNN`.
fn go_time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for &b in s.as_bytes() {
        if !(0x20..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(b as char);
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Go's text forms.

/// `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read
/// back, never an exponent. Rust's `Display` is the same algorithm.
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// `model.Time.String()`: milliseconds as seconds.
fn go_timestamp(ms: i64) -> String {
    go_float(ms as f64 / 1000.0)
}

/// Go's `strconv.Quote` (`%q`): escapes what `unicode.IsPrint` rejects.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() || is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint` for non-ASCII: letters, marks, numbers,
/// punctuation and symbols. Rust's `escape_debug` escapes exactly the
/// others (control, format, private use, unassigned, separators), plus
/// combining marks at the start of a string only, hence the leading `a`.
fn is_printable(c: char) -> bool {
    let mut buf = [0u8; 8];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    let text = std::str::from_utf8(&buf[..len]).unwrap_or("");
    text.escape_debug().eq(text.chars())
}

/// Go's `encoding/json` string (Go 1.19, HTML escaping on, as
/// `json.NewEncoder` has it).
fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    wasmetheus_model::go::write_json_string(&mut out, s);
    out
}

// ---------------------------------------------------------------------------
// HTTP: client_golang's requests and its reading of answers.

struct Client {
    /// `host[:port]` as written, for the Host header and messages.
    authority: String,
    /// Where to connect: the authority with the default port.
    connect_to: String,
    /// The URL's path, decoded, without trailing slashes.
    base_path: String,
    /// The URL's own query parameters, sent along with every request.
    base_query: Vec<(String, String)>,
    base_raw_query: Option<String>,
    headers: Vec<(String, String)>,
}

/// An answer with a 2xx, 400 or 422 status and a JSON body, as
/// client_golang's `apiClientImpl.Do` splits it.
struct Answer {
    /// The whole body: error contexts quote from it.
    body: Vec<u8>,
    /// Where `data` is in `body`, if present and not null.
    data: Option<json::Node>,
    warnings: Vec<String>,
    error: Option<String>,
}

impl Answer {
    fn into_result(self) -> anyhow::Result<Answer> {
        match &self.error {
            Some(e) => Err(anyhow::anyhow!("{e}")),
            None => Ok(self),
        }
    }

    /// The bytes of `data` (empty when absent or null, as jsoniter's
    /// `json.RawMessage` has them).
    fn data_bytes(&self) -> &[u8] {
        match &self.data {
            Some(node) if !matches!(node.kind, json::Kind::Null) => &self.body[node.span.clone()],
            _ => b"",
        }
    }
}

impl Client {
    fn new(server: &str, headers: Vec<(String, String)>) -> anyhow::Result<Client> {
        let rest = if server.len() >= 7 && server[..7].eq_ignore_ascii_case("http://") {
            &server[7..]
        } else if let Some(rest) = server.strip_prefix("//") {
            rest
        } else {
            anyhow::bail!("unsupported server URL {server:?}: only http:// URLs are supported");
        };
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, raw_query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            anyhow::bail!("invalid server URL {server:?}: no host");
        }
        if authority.contains('@') {
            anyhow::bail!("invalid server URL {server:?}: credentials are not supported");
        }
        let has_port = match authority.rfind(']') {
            Some(bracket) => authority[bracket..].contains(':'),
            None => authority.contains(':'),
        };
        let connect_to = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let base_path = percent_decode(path, false).trim_end_matches('/').to_owned();
        let base_query = raw_query.as_deref().map(parse_query).unwrap_or_default();
        // kingpin's map: the last value of a key wins.
        let mut unique: Vec<(String, String)> = Vec::new();
        for (k, v) in headers {
            unique.retain(|(old, _)| *old != k);
            unique.push((k, v));
        }
        Ok(Client {
            authority: authority.to_owned(),
            connect_to,
            base_path,
            base_query,
            base_raw_query: raw_query,
            headers: unique,
        })
    }

    /// The escaped path of endpoint `ep` under the server's path
    /// (`path.Join`, then `URL.EscapedPath`).
    fn path(&self, ep: &str) -> String {
        escape_path(&clean_path(&format!("{}/{}", self.base_path, ep)))
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.authority, path_and_query)
    }

    /// The URL's own parameters plus `params` (which replace same-named
    /// ones, as `url.Values.Set`; `match[]` is added), encoded.
    fn encode(&self, params: Vec<(&str, String)>) -> String {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.base_query {
            values.entry(k.clone()).or_default().push(v.clone());
        }
        for (k, v) in params {
            if k == "match[]" {
                values.entry(k.to_owned()).or_default().push(v);
            } else {
                values.insert(k.to_owned(), vec![v]);
            }
        }
        let mut out = String::new();
        for (k, vs) in &values {
            for v in vs {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(&query_escape(k));
                out.push('=');
                out.push_str(&query_escape(v));
            }
        }
        out
    }

    /// client_golang's `DoGetFallback`: a POSTed form, again as a GET if
    /// the server answers 405 or 501.
    async fn post_with_fallback(
        &self,
        ep: &str,
        params: Vec<(&str, String)>,
    ) -> anyhow::Result<Answer> {
        let path = self.path(ep);
        let form = self.encode(params);
        let target = match &self.base_raw_query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let (status, body) = self.exchange("POST", &target, Some(form.clone())).await?;
        let (status, body) = if status == 405 || status == 501 {
            self.exchange("GET", &format!("{path}?{form}"), None)
                .await?
        } else {
            (status, body)
        };
        read_answer(status, body)?.into_result()
    }

    async fn get(&self, ep: &str, params: Vec<(&str, String)>) -> anyhow::Result<Answer> {
        self.get_raw(ep, params).await?.into_result()
    }

    /// A GET whose API error is left in the answer (labels prints the
    /// warnings first).
    async fn get_raw(&self, ep: &str, params: Vec<(&str, String)>) -> anyhow::Result<Answer> {
        let target = format!("{}?{}", self.path(ep), self.encode(params));
        let (status, body) = self.exchange("GET", &target, None).await?;
        read_answer(status, body)
    }

    /// One request on a fresh connection; transport errors worded as Go's
    /// `url.Error` (`Post "URL": dial tcp …`).
    async fn exchange(
        &self,
        method: &str,
        target: &str,
        form: Option<String>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let go_method = if method == "POST" { "Post" } else { "Get" };
        let url = self.url(target);
        match tokio::time::timeout(TIMEOUT, self.exchange_inner(method, target, form)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => anyhow::bail!("query error: {go_method} {}: {e}", go_quote(&url)),
            Err(_) => anyhow::bail!(
                "query error: {go_method} {}: context deadline exceeded",
                go_quote(&url)
            ),
        }
    }

    async fn exchange_inner(
        &self,
        method: &str,
        target: &str,
        form: Option<String>,
    ) -> Result<(u16, Vec<u8>), String> {
        let host = self
            .connect_to
            .rsplit_once(':')
            .map_or(self.connect_to.as_str(), |(h, _)| h);
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&self.connect_to)
            .await
            .map_err(|_| {
                format!(
                    "dial tcp: lookup {}: no such host",
                    host.trim_start_matches('[').trim_end_matches(']')
                )
            })?
            .collect();
        // Go tries each address in turn and reports the first failure.
        let mut first_error = None;
        let mut stream = None;
        for address in &addresses {
            match tokio::net::TcpStream::connect(address).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        format!("dial tcp {address}: connect: {}", go_errno_text(&e))
                    });
                }
            }
        }
        let Some(stream) = stream else {
            return Err(
                first_error.unwrap_or_else(|| format!("dial tcp: lookup {host}: no such host"))
            );
        };
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| hyper_error_text(&e))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, &self.authority);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if form.is_some() {
            request = request.header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .map_err(|e| format!("net/http: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| hyper_error_text(&e))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| hyper_error_text(&e))?
            .to_bytes()
            .to_vec();
        driver.abort();
        Ok((status, body))
    }
}

/// The errno text as Go prints it: the C library's words in lower case.
fn go_errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn hyper_error_text(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        // What Go's transport says when the server hangs up early.
        "EOF".to_owned()
    } else {
        e.to_string()
    }
}

/// client_golang's `apiClientImpl.Do`: statuses other than 2xx, 400 and
/// 422 are errors quoting the body; others must be the API's JSON.
fn read_answer(status: u16, body: Vec<u8>) -> anyhow::Result<Answer> {
    if status / 100 != 2 && status != 400 && status != 422 {
        let (kind, message) = match status / 100 {
            4 => ("client_error", format!("client error: {status}")),
            5 => ("server_error", format!("server error: {status}")),
            _ => ("bad_response", format!("bad response code {status}")),
        };
        if body.is_empty() {
            anyhow::bail!("query error: {kind}: {message}");
        }
        let detail = String::from_utf8_lossy(&body);
        anyhow::bail!("query error: {kind}: {message} (detail: {})", detail.trim());
    }
    let mut answer = Answer {
        body,
        data: None,
        warnings: Vec::new(),
        error: None,
    };
    if status == 204 {
        return Ok(answer);
    }
    let root = match json::parse(&answer.body) {
        Ok(root) => root,
        Err(e) => {
            // jsoniter's first complaint when the body is not an object.
            let b = &answer.body;
            let first = b
                .iter()
                .position(|c| !matches!(c, b' ' | b'\n' | b'\t' | b'\r'));
            let message = match first {
                Some(at) if b[at] != b'{' && b[at] != b'n' => jsoniter_error(
                    b,
                    at + 1,
                    "readObjectStart",
                    &format!(
                        "expect {{ or n, but found {}",
                        String::from_utf8_lossy(&b[at..at + 1])
                    ),
                ),
                None => jsoniter_error(b, 0, "readObjectStart", "expect { or n, but found \0"),
                Some(_) => e,
            };
            anyhow::bail!("query error: bad_response: {message}");
        }
    };
    let json::Kind::Object(fields) = root.kind else {
        anyhow::bail!("query error: bad_response: the answer is not a JSON object");
    };
    let (mut api_status, mut error_type, mut error) = (String::new(), String::new(), String::new());
    // encoding/json matches field names case-insensitively; the last wins.
    for (key, node) in fields {
        let text = |node: &json::Node| -> anyhow::Result<String> {
            match &node.kind {
                json::Kind::Str(s) => Ok(s.clone()),
                json::Kind::Null => Ok(String::new()),
                _ => anyhow::bail!("query error: bad_response: {key:?} is not a string"),
            }
        };
        if key.eq_ignore_ascii_case("status") {
            api_status = text(&node)?;
        } else if key.eq_ignore_ascii_case("errorType") {
            error_type = text(&node)?;
        } else if key.eq_ignore_ascii_case("error") {
            error = text(&node)?;
        } else if key.eq_ignore_ascii_case("data") {
            answer.data = Some(node);
        } else if key.eq_ignore_ascii_case("warnings") {
            answer.warnings = match &node.kind {
                json::Kind::Null => Vec::new(),
                json::Kind::Array(items) => items
                    .iter()
                    .map(&text)
                    .collect::<anyhow::Result<Vec<_>>>()?,
                _ => anyhow::bail!("query error: bad_response: \"warnings\" is not a list"),
            };
        }
    }
    if (status == 400 || status == 422) && api_status == "success" {
        answer.error =
            Some("query error: bad_response: inconsistent body for response code".to_owned());
    }
    if api_status == "error" {
        answer.error = Some(format!("query error: {error_type}: {error}"));
    }
    Ok(answer)
}

/// jsoniter's `Iterator.ReportError`: the message, then the ten and fifty
/// bytes either side of where decoding stopped.
fn jsoniter_error(buf: &[u8], head: usize, operation: &str, message: &str) -> String {
    let head = head.min(buf.len());
    let peek_start = head.saturating_sub(10);
    let peek = &buf[peek_start..(head + 10).min(buf.len())];
    let context = &buf[head.saturating_sub(50)..(head + 50).min(buf.len())];
    format!(
        "{operation}: {message}, error found in #{} byte of ...|{}|..., bigger context ...|{}|...",
        head - peek_start,
        String::from_utf8_lossy(peek),
        String::from_utf8_lossy(context)
    )
}

/// jsoniter's complaint when a slice is decoded from nothing (a null or
/// missing `json.RawMessage`).
fn empty_slice_error(type_name: &str) -> String {
    format!(
        "{type_name}: {}",
        jsoniter_error(b"", 0, "decode slice", "expect [ or n, but found \0")
    )
}

/// jsoniter's complaint when a slice is decoded from something else:
/// `data` is the raw value, its first byte the culprit.
fn not_a_slice_error(type_name: &str, data: &[u8]) -> String {
    let found = String::from_utf8_lossy(&data[..data.len().min(1)]).into_owned();
    format!(
        "{type_name}: {}",
        jsoniter_error(
            data,
            1,
            "decode slice",
            &format!("expect [ or n, but found {found}")
        )
    )
}

fn empty_skip_error() -> String {
    jsoniter_error(b"", 0, "Skip", "do not know how to skip: 0")
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url.ParseQuery`, keeping what parses.
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `URL.EscapedPath` of a decoded path.
fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b'&'
            | b'+'
            | b','
            | b'/'
            | b':'
            | b';'
            | b'='
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `path.Clean` of an absolute path.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

// ---------------------------------------------------------------------------
// Decoding answers into `prometheus/common/model` values.

/// A label set; `None` is Go's nil map (JSON null or absent).
type Labels = Option<BTreeMap<String, String>>;

struct Sample {
    metric: Labels,
    timestamp: i64,
    value: f64,
}

struct Stream {
    metric: Labels,
    values: Option<Vec<(i64, f64)>>,
}

enum Value {
    Scalar(i64, f64),
    Vector(Vec<Sample>),
    Matrix(Vec<Stream>),
}

/// The decoding error for a malformed part of an answer, where we do not
/// reproduce jsoniter's wording.
fn malformed(what: &str) -> anyhow::Error {
    anyhow::anyhow!("query error: malformed answer: {what}")
}

/// Native histogram samples are refused rather than printed wrongly.
fn no_histograms() -> anyhow::Error {
    anyhow::anyhow!("query error: native histogram samples are not supported")
}

/// client_golang's `queryResult.UnmarshalJSON`.
fn decode_query_result(answer: &Answer) -> anyhow::Result<Value> {
    let data = answer.data_bytes();
    if data.is_empty() {
        anyhow::bail!("query error: {}", empty_skip_error());
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Object(fields) = &node.kind else {
        return Err(malformed("data is not an object"));
    };
    let mut result_type = None;
    let mut result = None;
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("resultType") {
            result_type = Some(value);
        } else if key.eq_ignore_ascii_case("result") {
            result = Some(value);
        }
    }
    let result_type = match result_type.map(|n| &n.kind) {
        Some(json::Kind::Str(s)) => s.as_str(),
        None | Some(json::Kind::Null) => "<ValNone>",
        _ => return Err(malformed("resultType is not a string")),
    };
    // jsoniter reports errors in the result at the end of `data`.
    let outer = |message: String| {
        anyhow::anyhow!(
            "query error: {}",
            jsoniter_error(data, data.len(), "unmarshalerDecoder", &message)
        )
    };
    let result = result.filter(|n| !matches!(n.kind, json::Kind::Null));
    match result_type {
        "scalar" => {
            let Some(result) = result else {
                return Err(outer(empty_skip_error()));
            };
            let (timestamp, value) = match &result.kind {
                json::Kind::Array(items) if items.len() == 2 => {
                    let json::Kind::Str(v) = &items[1].kind else {
                        return Err(malformed("scalar value is not a string"));
                    };
                    let v = parse_go_float(v)
                        .ok_or_else(|| malformed("scalar value is not a number"))?;
                    (go_time_from_json(&items[0])?, v)
                }
                _ => return Err(malformed("scalar is not a pair")),
            };
            Ok(Value::Scalar(timestamp, value))
        }
        "vector" => {
            let Some(result) = result else {
                return Err(outer(empty_slice_error("model.Vector")));
            };
            let json::Kind::Array(items) = &result.kind else {
                let bytes = &answer.body[result.span.clone()];
                return Err(outer(not_a_slice_error("model.Vector", bytes)));
            };
            let result_bytes = &answer.body[result.span.clone()];
            let mut samples = Vec::with_capacity(items.len());
            for item in items {
                let json::Kind::Object(fields) = &item.kind else {
                    return Err(malformed("sample is not an object"));
                };
                let mut sample = Sample {
                    metric: None,
                    timestamp: 0,
                    value: 0.0,
                };
                for (key, field) in fields {
                    if key.eq_ignore_ascii_case("metric") {
                        sample.metric = labels_from_json(field)?;
                    } else if key.eq_ignore_ascii_case("histogram") {
                        return Err(no_histograms());
                    } else if key.eq_ignore_ascii_case("value") {
                        let (t, v) = sample_pair(field).map_err(|e| match e {
                            PairError::Value(message) => {
                                let head = item.span.end - result.span.start;
                                outer(format!(
                                    "model.Vector: {}",
                                    jsoniter_error(
                                        result_bytes,
                                        head,
                                        "unmarshalerDecoder",
                                        &message
                                    )
                                ))
                            }
                            PairError::Other(e) => e,
                        })?;
                        sample.timestamp = t;
                        sample.value = v;
                    }
                }
                samples.push(sample);
            }
            Ok(Value::Vector(samples))
        }
        "matrix" => {
            let Some(result) = result else {
                return Err(outer(empty_slice_error("model.Matrix")));
            };
            let json::Kind::Array(items) = &result.kind else {
                let bytes = &answer.body[result.span.clone()];
                return Err(outer(not_a_slice_error("model.Matrix", bytes)));
            };
            let mut streams = Vec::with_capacity(items.len());
            for item in items {
                let json::Kind::Object(fields) = &item.kind else {
                    return Err(malformed("series is not an object"));
                };
                let mut stream = Stream {
                    metric: None,
                    values: None,
                };
                for (key, field) in fields {
                    if key.eq_ignore_ascii_case("metric") {
                        stream.metric = labels_from_json(field)?;
                    } else if key.eq_ignore_ascii_case("histograms") {
                        return Err(no_histograms());
                    } else if key.eq_ignore_ascii_case("values") {
                        stream.values = match &field.kind {
                            json::Kind::Null => None,
                            json::Kind::Array(pairs) => Some(
                                pairs
                                    .iter()
                                    .map(|p| {
                                        sample_pair(p).map_err(|e| match e {
                                            PairError::Value(m) => malformed(&m),
                                            PairError::Other(e) => e,
                                        })
                                    })
                                    .collect::<anyhow::Result<_>>()?,
                            ),
                            _ => return Err(malformed("values is not a list")),
                        };
                    }
                }
                streams.push(stream);
            }
            Ok(Value::Matrix(streams))
        }
        other => Err(outer(format!("unexpected value type {}", go_quote(other)))),
    }
}

enum PairError {
    /// `SampleValue.UnmarshalJSON`'s complaint.
    Value(String),
    Other(anyhow::Error),
}

/// `model.SamplePair`: `[timestamp, "value"]`.
fn sample_pair(node: &json::Node) -> Result<(i64, f64), PairError> {
    let json::Kind::Array(items) = &node.kind else {
        return Err(PairError::Other(malformed("sample is not a pair")));
    };
    if items.len() != 2 {
        return Err(PairError::Other(malformed("sample is not a pair")));
    }
    let timestamp = go_time_from_json(&items[0]).map_err(PairError::Other)?;
    let json::Kind::Str(text) = &items[1].kind else {
        return Err(PairError::Value(
            "sample value must be a quoted string".to_owned(),
        ));
    };
    let value = parse_go_float(text).ok_or_else(|| {
        let reason = if text.parse::<f64>().is_ok_and(f64::is_infinite) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        PairError::Value(format!(
            "strconv.ParseFloat: parsing {}: {reason}",
            go_quote(text)
        ))
    })?;
    Ok((timestamp, value))
}

/// `model.Time.UnmarshalJSON`, from the number's text, including its
/// mishandling of negative times with a fraction below -1.
fn go_time_from_json(node: &json::Node) -> anyhow::Result<i64> {
    let json::Kind::Number(text) = &node.kind else {
        return Err(malformed("timestamp is not a number"));
    };
    let bad = || malformed(&format!("invalid timestamp {text}"));
    let parts: Vec<&str> = text.split('.').collect();
    match parts[..] {
        [whole] => Ok(whole.parse::<i64>().map_err(|_| bad())?.wrapping_mul(1000)),
        [whole, frac] => {
            let v = whole.parse::<i64>().map_err(|_| bad())?.wrapping_mul(1000);
            let mut frac = frac.to_owned();
            frac.truncate(3);
            while frac.len() < 3 {
                frac.push('0');
            }
            let va: i64 = frac.parse::<i32>().map_err(|_| bad())? as i64;
            if whole.starts_with('-') && v + va > 0 {
                Ok(-(v + va))
            } else {
                Ok(v + va)
            }
        }
        _ => Err(bad()),
    }
}

fn labels_from_json(node: &json::Node) -> anyhow::Result<Labels> {
    match &node.kind {
        json::Kind::Null => Ok(None),
        json::Kind::Object(fields) => {
            let mut labels = BTreeMap::new();
            for (name, value) in fields {
                let value = match &value.kind {
                    json::Kind::Str(s) => s.clone(),
                    json::Kind::Null => String::new(),
                    _ => return Err(malformed("label value is not a string")),
                };
                labels.insert(name.clone(), value);
            }
            Ok(Some(labels))
        }
        _ => Err(malformed("labels are not an object")),
    }
}

/// `api.Series`' `[]model.LabelSet`, whose names must be valid.
fn decode_series(answer: &Answer) -> anyhow::Result<Vec<Labels>> {
    let data = answer.data_bytes();
    if data.is_empty() {
        anyhow::bail!("query error: {}", empty_slice_error("[]model.LabelSet"));
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Array(items) = &node.kind else {
        anyhow::bail!(
            "query error: {}",
            not_a_slice_error("[]model.LabelSet", data)
        );
    };
    let mut sets = Vec::with_capacity(items.len());
    for item in items {
        let fail = |message: String| {
            anyhow::anyhow!(
                "query error: []model.LabelSet: {}",
                jsoniter_error(
                    data,
                    item.span.end - node.span.start,
                    "unmarshalerDecoder",
                    &message
                )
            )
        };
        let kind = match &item.kind {
            json::Kind::Null | json::Kind::Object(_) => None,
            json::Kind::Str(_) => Some("string"),
            json::Kind::Number(_) => Some("number"),
            json::Kind::Bool => Some("bool"),
            json::Kind::Array(_) => Some("array"),
        };
        if let Some(kind) = kind {
            return Err(fail(format!(
                "json: cannot unmarshal {kind} into Go value of type map[model.LabelName]model.LabelValue"
            )));
        }
        let labels = labels_from_json(item)?;
        if let Some(bad) = labels
            .iter()
            .flat_map(|l| l.keys())
            .find(|name| !valid_label_name(name))
        {
            return Err(fail(format!("{} is not a valid label name", go_quote(bad))));
        }
        sets.push(labels);
    }
    Ok(sets)
}

/// `model.LabelName.IsValid` (Prometheus 2.42: no UTF-8 names).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()))
}

/// `api.LabelValues`' `model.LabelValues`.
fn decode_label_values(answer: &Answer) -> anyhow::Result<Vec<String>> {
    let data = answer.data_bytes();
    if data.is_empty() {
        anyhow::bail!("query error: {}", empty_slice_error("model.LabelValues"));
    }
    let node = answer.data.as_ref().ok_or_else(|| malformed("no data"))?;
    let json::Kind::Array(items) = &node.kind else {
        anyhow::bail!(
            "query error: {}",
            not_a_slice_error("model.LabelValues", data)
        );
    };
    items
        .iter()
        .map(|item| match &item.kind {
            json::Kind::Str(s) => Ok(s.clone()),
            json::Kind::Null => Ok(String::new()),
            _ => Err(malformed("label value is not a string")),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Printing, as promtool's `promqlPrinter` and `jsonPrinter`.

/// `model.Metric.String()`: the name, then `name="value"` pairs sorted as
/// whole strings (so `a1="…"` comes before `a="…"`).
fn metric_text(labels: &Labels) -> String {
    let empty = BTreeMap::new();
    let labels = labels.as_ref().unwrap_or(&empty);
    let name = labels.get("__name__");
    let mut pairs: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    if pairs.is_empty() {
        return match name {
            Some(name) => name.clone(),
            None => "{}".to_owned(),
        };
    }
    pairs.sort();
    format!(
        "{}{{{}}}",
        name.map_or("", String::as_str),
        pairs.join(", ")
    )
}

/// `model.LabelSet.String()`: every pair, sorted as whole strings.
fn label_set_text(labels: &Labels) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}

/// `model.LabelSet.Before`, which orders `model.Matrix` for printing: fewer
/// labels first, then at the first differing name (in the merged, sorted
/// names of both) the set lacking it, or the smaller value.
fn label_set_before(a: &Labels, b: &Labels) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let empty = BTreeMap::new();
    let (a, b) = (a.as_ref().unwrap_or(&empty), b.as_ref().unwrap_or(&empty));
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

fn json_labels(labels: &Labels) -> String {
    match labels {
        None => "null".to_owned(),
        Some(labels) => {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        }
    }
}

fn json_pair(timestamp: i64, value: f64) -> String {
    format!(
        "[{},{}]",
        go_timestamp(timestamp),
        go_json_string(&go_float(value))
    )
}

fn print_value(value: &Value, format: Format) -> String {
    match (value, format) {
        (Value::Scalar(t, v), Format::Promql) => {
            format!("scalar: {} @[{}]\n", go_float(*v), go_timestamp(*t))
        }
        (Value::Scalar(t, v), Format::Json) => format!("{}\n", json_pair(*t, *v)),
        (Value::Vector(samples), Format::Promql) => {
            let lines: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{} => {} @[{}]",
                        metric_text(&s.metric),
                        go_float(s.value),
                        go_timestamp(s.timestamp)
                    )
                })
                .collect();
            format!("{}\n", lines.join("\n"))
        }
        (Value::Vector(samples), Format::Json) => {
            let items: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{{\"metric\":{},\"value\":{}}}",
                        json_labels(&s.metric),
                        json_pair(s.timestamp, s.value)
                    )
                })
                .collect();
            format!("[{}]\n", items.join(","))
        }
        (Value::Matrix(streams), Format::Promql) => {
            let mut sorted: Vec<&Stream> = streams.iter().collect();
            sorted.sort_by(|a, b| label_set_before(&a.metric, &b.metric));
            let blocks: Vec<String> = sorted
                .iter()
                .map(|s| {
                    let values: Vec<String> = s
                        .values
                        .iter()
                        .flatten()
                        .map(|(t, v)| format!("{} @[{}]", go_float(*v), go_timestamp(*t)))
                        .collect();
                    format!("{} =>\n{}", metric_text(&s.metric), values.join("\n"))
                })
                .collect();
            format!("{}\n", blocks.join("\n"))
        }
        (Value::Matrix(streams), Format::Json) => {
            let items: Vec<String> = streams
                .iter()
                .map(|s| {
                    let values = match &s.values {
                        None => "null".to_owned(),
                        Some(values) => {
                            let pairs: Vec<String> =
                                values.iter().map(|(t, v)| json_pair(*t, *v)).collect();
                            format!("[{}]", pairs.join(","))
                        }
                    };
                    format!(
                        "{{\"metric\":{},\"values\":{values}}}",
                        json_labels(&s.metric)
                    )
                })
                .collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

fn print_series(sets: &[Labels], format: Format) -> String {
    match format {
        Format::Promql => sets
            .iter()
            .map(|s| format!("{}\n", label_set_text(s)))
            .collect(),
        Format::Json => {
            let items: Vec<String> = sets.iter().map(json_labels).collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

fn print_label_values(values: &[String], format: Format) -> String {
    match format {
        Format::Promql => values.iter().map(|v| format!("{v}\n")).collect(),
        Format::Json => {
            let items: Vec<String> = values.iter().map(|v| go_json_string(v)).collect();
            format!("[{}]\n", items.join(","))
        }
    }
}

// ---------------------------------------------------------------------------

/// A JSON reader that keeps what promtool's decoding depends on and
/// serde_json's `Value` loses: where each value is in the body (jsoniter's
/// errors quote the bytes around it) and the text of numbers (`model.Time`
/// parses it as text).
mod json {
    use std::ops::Range;

    pub struct Node {
        pub span: Range<usize>,
        pub kind: Kind,
    }

    pub enum Kind {
        Null,
        Bool,
        Number(String),
        Str(String),
        Array(Vec<Node>),
        /// In document order, duplicates kept (the last one wins, as in Go).
        Object(Vec<(String, Node)>),
    }

    /// Deeper nesting than any API answer has is refused, not recursed into.
    const MAX_DEPTH: usize = 256;

    pub fn parse(b: &[u8]) -> Result<Node, String> {
        let mut p = Parser { b, i: 0 };
        p.ws();
        let node = p.value(0)?;
        p.ws();
        if p.i != b.len() {
            return Err(p.error("trailing data after the answer"));
        }
        Ok(node)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn error(&self, what: &str) -> String {
            format!("invalid JSON at byte {}: {what}", self.i)
        }

        fn ws(&mut self) {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\t' | b'\r') {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.b.get(self.i) == Some(&c) {
                self.i += 1;
                true
            } else {
                false
            }
        }

        fn value(&mut self, depth: usize) -> Result<Node, String> {
            if depth > MAX_DEPTH {
                return Err(self.error("nested too deeply"));
            }
            self.ws();
            let start = self.i;
            let kind = match self.b.get(self.i) {
                None => return Err(self.error("unexpected end")),
                Some(b'{') => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    if !self.eat(b'}') {
                        loop {
                            self.ws();
                            if self.b.get(self.i) != Some(&b'"') {
                                return Err(self.error("expected a string key"));
                            }
                            let key = self.string()?;
                            if !self.eat(b':') {
                                return Err(self.error("expected ':'"));
                            }
                            let value = self.value(depth + 1)?;
                            fields.push((key, value));
                            if self.eat(b',') {
                                continue;
                            }
                            if self.eat(b'}') {
                                break;
                            }
                            return Err(self.error("expected ',' or '}'"));
                        }
                    }
                    Kind::Object(fields)
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    if !self.eat(b']') {
                        loop {
                            items.push(self.value(depth + 1)?);
                            if self.eat(b',') {
                                continue;
                            }
                            if self.eat(b']') {
                                break;
                            }
                            return Err(self.error("expected ',' or ']'"));
                        }
                    }
                    Kind::Array(items)
                }
                Some(b'"') => Kind::Str(self.string()?),
                Some(b't') => self.word("true", Kind::Bool)?,
                Some(b'f') => self.word("false", Kind::Bool)?,
                Some(b'n') => self.word("null", Kind::Null)?,
                Some(b'-' | b'0'..=b'9') => {
                    while self.i < self.b.len()
                        && matches!(
                            self.b[self.i],
                            b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                        )
                    {
                        self.i += 1;
                    }
                    let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
                    if text.parse::<f64>().is_err() {
                        return Err(self.error("invalid number"));
                    }
                    Kind::Number(text.to_owned())
                }
                Some(_) => return Err(self.error("unexpected character")),
            };
            Ok(Node {
                span: start..self.i,
                kind,
            })
        }

        fn word(&mut self, word: &str, kind: Kind) -> Result<Kind, String> {
            if self.b[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(kind)
            } else {
                Err(self.error("unexpected word"))
            }
        }

        /// A string at `self.i` (its opening quote); invalid UTF-8 and lone
        /// surrogates become U+FFFD, as Go decodes them.
        fn string(&mut self) -> Result<String, String> {
            self.i += 1;
            let mut out: Vec<u8> = Vec::new();
            loop {
                let Some(&c) = self.b.get(self.i) else {
                    return Err(self.error("unterminated string"));
                };
                self.i += 1;
                match c {
                    b'"' => break,
                    b'\\' => {
                        let Some(&e) = self.b.get(self.i) else {
                            return Err(self.error("unterminated string"));
                        };
                        self.i += 1;
                        let simple = match e {
                            b'"' => Some(b'"'),
                            b'\\' => Some(b'\\'),
                            b'/' => Some(b'/'),
                            b'b' => Some(8),
                            b'f' => Some(12),
                            b'n' => Some(b'\n'),
                            b'r' => Some(b'\r'),
                            b't' => Some(b'\t'),
                            b'u' => None,
                            _ => return Err(self.error("invalid escape")),
                        };
                        if let Some(byte) = simple {
                            out.push(byte);
                            continue;
                        }
                        let first = self.hex4()?;
                        let c = if (0xD800..0xDC00).contains(&first)
                            && self.b[self.i..].starts_with(b"\\u")
                        {
                            let save = self.i;
                            self.i += 2;
                            let second = self.hex4()?;
                            if (0xDC00..0xE000).contains(&second) {
                                char::from_u32(
                                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00),
                                )
                            } else {
                                self.i = save;
                                None
                            }
                        } else {
                            char::from_u32(first)
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(
                            c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes(),
                        );
                    }
                    c if c < 0x20 => return Err(self.error("control character in string")),
                    c => out.push(c),
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .b
                .get(self.i..self.i + 4)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            self.i += 4;
            Ok(digits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ns = |s: &str| parse_go_duration(s).map(|d| d.0);
        assert_eq!(ns("30s"), Ok(30 * NANOS_PER_SECOND));
        assert_eq!(ns("1.5h30m"), Ok(7200 * NANOS_PER_SECOND));
        assert_eq!(ns("-1m"), Ok(-60 * NANOS_PER_SECOND));
        assert_eq!(ns("0"), Ok(0));
        assert_eq!(ns("1µs"), Ok(1000));
        assert_eq!(
            ns("30"),
            Err("time: missing unit in duration \"30\"".to_owned())
        );
        assert_eq!(
            ns("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_owned())
        );
        assert_eq!(ns(""), Err("time: invalid duration \"\"".to_owned()));
        assert_eq!(ns(".s"), Err("time: invalid duration \".s\"".to_owned()));
    }

    #[test]
    fn go_times() {
        let t = |s: &str| parse_time(s).map(GoTime::format);
        assert_eq!(t("1.1"), Ok("1.1".to_owned()));
        assert_eq!(t("-1.5"), Ok("-1.5".to_owned()));
        assert_eq!(t("1e3"), Ok("1000".to_owned()));
        // Values promtool sends for these (checked against promtool 2.42).
        assert_eq!(
            t("2023-11-14T22:18:20.123456789+01:00"),
            Ok("1699996700.1234567".to_owned())
        );
        assert_eq!(t("2023-11-14T2:18:20Z"), Ok("1699928300".to_owned()));
        assert_eq!(t("2024-02-29T00:00:00Z"), Ok("1709164800".to_owned()));
        assert!(t("2023-02-29T00:00:00Z").is_err());
        assert_eq!(
            t("bad"),
            Err("cannot parse \"bad\" to a valid timestamp".to_owned())
        );
    }

    #[test]
    fn go_text_forms() {
        assert_eq!(
            go_quote("x\n\u{1}\u{a0}\u{200b}\u{301}é\"\\<&\u{8}\u{c}\u{7f}\u{2028}"),
            "\"x\\n\\x01\\u00a0\\u200b\u{301}é\\\"\\\\<&\\b\\f\\x7f\\u2028\""
        );
        assert_eq!(
            go_json_string("x\n\u{1}\u{a0}<&\u{8}\u{c}\u{7f}\u{2028}"),
            "\"x\\n\\u0001\u{a0}\\u003c\\u0026\\u0008\\u000c\u{7f}\\u2028\""
        );
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
        assert_eq!(go_timestamp(1_700_000_300_123), "1700000300.123");
    }

    #[test]
    fn model_time_keeps_go_quirks() {
        let t = |s: &str| go_time_from_json(&json::parse(s.as_bytes()).unwrap()).unwrap();
        assert_eq!(t("1700000300.1239"), 1_700_000_300_123);
        assert_eq!(t("-0.5"), -500);
        // Go's bug: -1.5 reads as -0.5.
        assert_eq!(t("-1.5"), -500);
    }

    #[test]
    fn matrix_order_is_label_set_before() {
        let set = |pairs: &[(&str, &str)]| -> Labels {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let mut sets = [
            set(&[("__name__", "x"), ("b", "2")]),
            set(&[("__name__", "x"), ("a", "1")]),
            set(&[("b", "1"), ("c", "1")]),
            set(&[("z", "1")]),
        ];
        sets.sort_by(label_set_before);
        let texts: Vec<String> = sets.iter().map(metric_text).collect();
        assert_eq!(
            texts,
            [
                "{z=\"1\"}",
                "{b=\"1\", c=\"1\"}",
                "x{b=\"2\"}",
                "x{a=\"1\"}"
            ]
        );
        assert_eq!(
            label_set_text(&set(&[("a", "1"), ("a1", "2"), ("_", "3"), ("A", "4")])),
            "{A=\"4\", _=\"3\", a1=\"2\", a=\"1\"}"
        );
    }
}
