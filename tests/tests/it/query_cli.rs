//! `wasmetheus query` against promtool's `query` (Debian `prometheus`): the
//! same arguments against the same server, on backfilled data with known
//! answers, must print the same bytes on stdout and stderr and agree on
//! success, for answers and for errors.

use std::path::{Path, PathBuf};
use wasmetheus_tests::{
    DATA_SPAN as SPAN, DATA_T0 as T0, PluginsDir, TestServer, sample_data, serve_backfilled,
};

/// Two counters (1/s and 0.1/s), a gauge, and a gauge whose labels need
/// Go's quoting (and sort `a1` before `a`), backfilled into a fresh data
/// directory, served with only the self-scrape running.
async fn served() -> (TestServer, PluginsDir) {
    let mut text = sample_data();
    text.push_str("# TYPE odd gauge\n");
    for t in (T0..=T0 + SPAN).step_by(15) {
        text.push_str(&format!(
            "odd{{a=\"1\",a1=\"q\\\"b\\\\n\\nl \u{e9}\u{a0}<&\"}} 0.0000001 {t}\n"
        ));
    }
    text.push_str("# EOF\n");
    serve_backfilled("global:\n  scrape_interval: 1s\n", &text, |_| {}).await
}

/// What a run printed, and whether it succeeded.
#[derive(Debug, PartialEq)]
struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `wasmetheus query ARGS`, in process: the binary prints the error's text
/// as its one stderr line.
async fn ours(args: &[String]) -> Outcome {
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let result = wasmetheus_query_cli::run_with_args(args, &mut out, &mut warnings).await;
    let mut stderr = String::from_utf8(warnings).unwrap();
    if let Err(e) = &result {
        stderr.push_str(&format!("{e:#}\n"));
    }
    Outcome {
        ok: result.is_ok(),
        stdout: String::from_utf8(out).unwrap(),
        stderr,
    }
}

async fn promtool(args: &[String]) -> Outcome {
    let promtool = which("promtool").expect(
        "promtool not found: install the Debian package `prometheus` (apt-get install prometheus)",
    );
    let out = tokio::process::Command::new(promtool)
        .arg("query")
        .args(args)
        .output()
        .await
        .unwrap();
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs both with `args` and asserts they printed the same; our outcome.
async fn same(args: &[&str]) -> Outcome {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let theirs = promtool(&args).await;
    let ours = ours(&args).await;
    assert_eq!(
        ours,
        theirs,
        "`query {}`: ours, then promtool's",
        args.join(" ")
    );
    ours
}

/// [`same`], expecting success with `stdout`.
async fn same_ok(args: &[&str], stdout: &str) {
    let outcome = same(args).await;
    assert!(outcome.ok, "{args:?}: {outcome:?}");
    assert_eq!(outcome.stdout, stdout, "{args:?}");
}

/// [`same`], expecting failure with one line on stderr containing `text`.
async fn same_error(args: &[&str], text: &str) {
    let outcome = same(args).await;
    assert!(!outcome.ok, "{args:?}: {outcome:?}");
    assert!(outcome.stdout.is_empty(), "{args:?}: {outcome:?}");
    assert!(
        outcome.stderr.contains(text) && outcome.stderr.lines().count() == 1,
        "{args:?}: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_print_like_promtool() {
    let (server, _plugins) = served().await;
    let url = format!("http://{}", server.address);
    let url = url.as_str();
    let at = (T0 + 300).to_string();
    let at = at.as_str();
    let (start, end) = (T0.to_string(), (T0 + SPAN).to_string());
    let (start, end) = (start.as_str(), end.as_str());

    // Instant vectors, with and without names; Go's float and label texts.
    let rate = "sum by (code) (rate(http_requests_total[1m]))";
    same_ok(
        &["instant", "--time", at, url, rate],
        &format!(
            "{{code=\"200\"}} => 0.9999999999999999 @[{at}]\n\
             {{code=\"500\"}} => 0.09999999999999999 @[{at}]\n"
        ),
    )
    .await;
    same_ok(
        &["instant", "--time", at, url, "odd"],
        &format!("odd{{a1=\"q\\\"b\\\\n\\nl \u{e9}\\u00a0<&\", a=\"1\"}} => 0.0000001 @[{at}]\n"),
    )
    .await;
    same_ok(
        &["-o", "json", "instant", "--time", at, url, "odd"],
        &format!(
            "[{{\"metric\":{{\"__name__\":\"odd\",\"a\":\"1\",\
             \"a1\":\"q\\\"b\\\\n\\nl \u{e9}\u{a0}\\u003c\\u0026\"}},\
             \"value\":[{at},\"0.0000001\"]}}]\n"
        ),
    )
    .await;
    // The format flag also after the subcommand; RFC 3339 and fractional
    // times; an empty vector; scalars.
    same(&[
        "instant",
        "-o",
        "json",
        "--time",
        at,
        url,
        "http_requests_total",
    ])
    .await;
    same(&[
        "instant",
        "--time",
        "2023-11-14T22:18:20.5+01:00",
        url,
        "temperature",
    ])
    .await;
    same(&["instant", "--time", "1700000300.25", url, "temperature"]).await;
    same_ok(&["instant", "--time", at, url, "nothing_here"], "\n").await;
    same_ok(
        &["instant", "--time", at, url, "1+1"],
        &format!("scalar: 2 @[{at}]\n"),
    )
    .await;
    same_ok(
        &["-o", "json", "instant", "--time", at, url, "--", "-Inf"],
        &format!("[{at},\"-Inf\"]\n"),
    )
    .await;

    // Range queries: series sorted as promtool sorts them, the default
    // step (a 250th of the range), JSON.
    let end_range = (T0 + 360).to_string();
    same_ok(
        &[
            "range",
            "--start",
            at,
            "--end",
            &end_range,
            "--step",
            "30s",
            url,
            "temperature",
        ],
        &format!(
            "temperature{{room=\"a\"}} =>\n21.5 @[{at}]\n21.5 @[{}]\n21.5 @[{}]\n",
            T0 + 330,
            T0 + 360
        ),
    )
    .await;
    same(&[
        "range",
        "--start",
        at,
        "--end",
        &end_range,
        "--step",
        "1m",
        url,
        "rate(http_requests_total[1m]) or odd",
    ])
    .await;
    let outcome = same(&["range", "--start", start, "--end", end, url, "temperature"]).await;
    assert_eq!(outcome.stdout.lines().count(), 1 + SPAN as usize / 2 + 1);
    same(&[
        "-o",
        "json",
        "range",
        "--start",
        at,
        "--end",
        &end_range,
        "--step",
        "45s",
        url,
        "http_requests_total",
    ])
    .await;

    // Series and label values, with repeated matchers, JSON, and the
    // default window (±9999 h around now, which the data is older than).
    same_ok(
        &[
            "series",
            "--match",
            "http_requests_total",
            "--match",
            "odd",
            "--start",
            start,
            "--end",
            end,
            url,
        ],
        "{__name__=\"http_requests_total\", code=\"200\", job=\"api\"}\n\
         {__name__=\"http_requests_total\", code=\"500\", job=\"api\"}\n\
         {__name__=\"odd\", a1=\"q\\\"b\\\\n\\nl \u{e9}\\u00a0<&\", a=\"1\"}\n",
    )
    .await;
    same(&[
        "series", "-o", "json", "--match", "odd", "--start", start, "--end", end, url,
    ])
    .await;
    same(&["series", "--match", "temperature", url]).await;
    same_ok(
        &["labels", "--start", start, "--end", end, url, "code"],
        "200\n500\n",
    )
    .await;
    same_ok(
        &[
            "labels", "--start", start, "--end", end, "--match", "odd", url, "a1",
        ],
        "q\"b\\n\nl \u{e9}\u{a0}<&\n",
    )
    .await;
    same(&[
        "-o", "json", "labels", "--start", start, "--end", end, url, "a1",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_print_like_promtool() {
    let (server, _plugins) = served().await;
    let url = format!("http://{}", server.address);
    let url = url.as_str();
    let at = (T0 + 300).to_string();
    let at = at.as_str();

    // The server's errors, as `query error: TYPE: TEXT`.
    same_error(
        &["instant", "--time", at, url, "sum("],
        "query error: bad_data: invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis",
    )
    .await;
    same_error(
        &[
            "range",
            "--start",
            at,
            "--end",
            "1700000400",
            url,
            "rate(temperature)",
        ],
        "query error: bad_data: ",
    )
    .await;
    same_error(
        &[
            "range", "--start", "1", "--end", "100000", "--step", "1s", url, "up",
        ],
        "exceeded maximum resolution of 11,000 points",
    )
    .await;
    same_error(&["series", "--match", "{", url], "query error: bad_data: ").await;
    same_error(
        &["labels", "--match", "{", url, "code"],
        "query error: bad_data: ",
    )
    .await;
    // A string result, which promtool's client cannot decode: jsoniter's
    // message quoting the answer.
    same_error(
        &["instant", "--time", at, url, "\"hi\""],
        "query error: unmarshalerDecoder: unexpected value type \"string\"",
    )
    .await;
    // Bad times and ranges, found before asking.
    same_error(
        &["instant", "--time", "yesterday", url, "up"],
        "error parsing evaluation time: cannot parse \"yesterday\" to a valid timestamp",
    )
    .await;
    same_error(
        &["range", "--start", at, "--end", at, url, "up"],
        "start time is not before end time",
    )
    .await;
    same_error(
        &[
            "series",
            "--match",
            "up",
            "--end",
            "2023-13-01T00:00:00Z",
            url,
        ],
        "error parsing end time: cannot parse",
    )
    .await;
    // Nobody listening: Go's words for a refused connection.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    same_error(
        &["instant", "--time", at, &closed_url, "up"],
        "connect: connection refused",
    )
    .await;
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| Path::new(p).is_file())
    })
}
