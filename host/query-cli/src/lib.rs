//! `wasmetheus-query-cli`: the promtool-compatible client,
//! `wasmetheus query instant|range|series|labels`: promtool's `query`
//! subcommands (Prometheus 2.42) with the same flags and defaults, the
//! same requests, and byte for byte the same output and error texts, so a
//! script can use either.
//!
//! promtool is Go: its times, durations and floats are Go's, its client
//! (client_golang's `api/v1`) decodes answers with jsoniter, whose error
//! texts quote the bytes around the failure, and its output is
//! `prometheus/common/model`'s `String()`s and `encoding/json`. This crate
//! reproduces those parts; everything Go-specific is named after what it
//! imitates.
//!
//! This file holds the arguments and the flow of each command;
//! `client` the requests and the answers' envelope, `decode` and `json`
//! the decoding of answers (with jsoniter's error texts), `print` the
//! output formats and `gotime` Go's times, floats and quoting.
//!
//! Where it differs: usage errors are clap's (exit status 2, promtool's
//! kingpin exits 1); only `http://` servers, without credentials in the
//! URL, read by the `url` crate (a host or port it refuses fails before
//! connecting, in its words; the URL's own query is sent re-escaped; a
//! fragment is not echoed in messages); a failed DNS lookup does not name
//! the resolver; redirects are not
//! followed; answers that are not the API's JSON shapes (beyond the
//! mistakes promtool's decoder reports, which are reproduced) and native
//! histogram samples fail with our own wording.

mod client;
mod decode;
mod gotime;
mod json;
mod print;

use clap::{Args, Parser, Subcommand, ValueEnum};
use client::Client;
use decode::{decode_label_values, decode_query_result, decode_series};
use gotime::{GoTime, NANOS_PER_SECOND, duration_seconds, go_float, parse_time};
use print::{print_label_values, print_series, print_value};
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use wasmetheus_model::go::DurationError;

/// Why a command failed. The text is exactly the line promtool prints on
/// stderr (the usage message excepted).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong: clap's message, with the usage.
    #[error("{0}")]
    Usage(String),
    /// A time, range or server URL that cannot be used, found before
    /// asking.
    #[error("{0}")]
    Argument(String),
    /// The request failed, the server answered with an error, or the
    /// answer cannot be decoded.
    #[error("query error: {0}")]
    Query(String),
    /// The answer could not be written, or the runtime not started.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

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
        #[arg(long, value_parser = parse_step)]
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

/// `--step`: Go's `time.ParseDuration`, with its error texts (kingpin's
/// `Duration` flags use it).
fn parse_step(text: &str) -> Result<GoDuration, DurationError> {
    wasmetheus_model::go::parse_duration(text).map(GoDuration)
}

/// The binary's entry: runs `args` on a fresh runtime, prints the answer to
/// stdout and any error as promtool does (one line on stderr, exit 1).
pub fn run_command(args: QueryArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::from)
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
) -> Result<(), Error>
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
    let parsed = Standalone::try_parse_from(argv).map_err(|e| Error::Usage(e.to_string()))?;
    run(parsed.args, out, warnings).await
}

/// Runs one query command: the answer goes to `out`, the server's warnings
/// (printed by promtool's `labels` only) to `warnings`. The error's text is
/// exactly the line promtool prints on stderr.
pub async fn run(
    args: QueryArgs,
    out: &mut (dyn Write + Send),
    warnings: &mut (dyn Write + Send),
) -> Result<(), Error> {
    let format = args.format;
    let text = match args.command {
        QueryCommand::Instant { server, expr, time } => {
            let client = Client::new(&server, Vec::new())?;
            let at = match time.as_deref() {
                None | Some("") => GoTime::now(),
                Some(s) => parse_time(s)
                    .map_err(|e| Error::Argument(format!("error parsing evaluation time: {e}")))?,
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
                Some(s) => parse_time(s)
                    .map_err(|e| Error::Argument(format!("error parsing end time: {e}")))?,
            };
            let start = match start.as_deref() {
                None | Some("") => end.add(-5 * 60 * NANOS_PER_SECOND),
                Some(s) => parse_time(s)
                    .map_err(|e| Error::Argument(format!("error parsing start time: {e}")))?,
            };
            if start >= end {
                return Err(Error::Argument(
                    "start time is not before end time".to_owned(),
                ));
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
fn start_and_end(start: Option<&str>, end: Option<&str>) -> Result<(GoTime, GoTime), Error> {
    let now = GoTime::now();
    let span = 9999 * 3600 * NANOS_PER_SECOND;
    let start = match start {
        None | Some("") => now.add(-span),
        Some(s) => {
            parse_time(s).map_err(|e| Error::Argument(format!("error parsing start time: {e}")))?
        }
    };
    let end = match end {
        None | Some("") => GoTime::now().add(span),
        Some(s) => {
            parse_time(s).map_err(|e| Error::Argument(format!("error parsing end time: {e}")))?
        }
    };
    Ok((start, end))
}

/// kingpin's `StringMap` item: `KEY=VALUE`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE got '{text}'"))
}
