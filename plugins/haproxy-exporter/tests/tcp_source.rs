//! A `tcp://` scrape_uri against fake stats sockets (a `TcpListener` in a
//! thread): a good answer, garbage, a server that closes early or never
//! answers, an answer over the size limit, and nothing listening. Each
//! collect succeeds; `haproxy_up` and the logged error say what happened.

use haproxy_exporter::HaproxyExporter;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmetheus_sdk::{Exporter, Registry};

const STAT: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,\n\
web,FRONTEND,,,3,5,100,42,1000,2000,0,0,1,,,,,OPEN,,,,,,,,,1,2,0,,,,0,1,0,4,\n\
app,s1,0,0,1,2,,40,900,1900,,0,,0,0,0,0,UP,1,1,0,0,0,10,0,,1,3,1,,40,,2,1,,3,\n\
app,BACKEND,0,0,1,2,10,40,900,1900,0,0,,0,0,0,0,UP,1,1,0,,0,10,0,,1,3,0,,40,,1,1,,3,\n\n";

/// How the fake socket answers each connection.
#[derive(Clone, Copy)]
enum Answer {
    /// `show info` then `show stat` as HAProxy answers them.
    Good,
    /// Bytes that are not HAProxy's answer at all.
    Garbage,
    /// The statistics up to the middle of the server row, then the
    /// connection closes.
    ClosesEarly,
    /// Reads the command and never answers.
    Silent,
    /// An endless stream of rows.
    Endless,
}

fn serve(answer: Answer, connections: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut command = String::new();
            let _ = BufReader::new(&stream).read_line(&mut command);
            let _ = match (answer, command.as_str()) {
                (Answer::Good, "show info\n") => stream
                    .write_all(b"Name: HAProxy\nVersion: 2.6.12\nRelease_date: 2023/03/20\n\n"),
                (Answer::Good, "show stat\n") => stream.write_all(STAT.as_bytes()),
                (Answer::Good, other) => panic!("unexpected command {other:?}"),
                (Answer::Garbage, _) => stream.write_all(b"\x00\xff\"garbage\x01\n,,,\n\xfe"),
                (Answer::ClosesEarly, "show info\n") => stream.write_all(b"Version: 2.6.12\n"),
                (Answer::ClosesEarly, _) => {
                    let cut = STAT.find("app,s1").unwrap() + 20;
                    stream.write_all(&STAT.as_bytes()[..cut])
                }
                (Answer::Silent, _) => {
                    std::thread::sleep(Duration::from_secs(2));
                    Ok(())
                }
                (Answer::Endless, "show info\n") => stream.write_all(b"Version: 2.6.12\n"),
                (Answer::Endless, _) => loop {
                    if stream.write_all(&[b'x'; 65536]).is_err() {
                        break Ok(());
                    }
                },
            };
        }
    });
    (address, handle)
}

fn collect(config: &str) -> (HaproxyExporter, Registry) {
    let mut exporter = HaproxyExporter::open(config).unwrap();
    let mut out = Registry::new();
    exporter.collect(&mut out).unwrap();
    (exporter, out)
}

fn value(out: &Registry, name: &str) -> Option<f64> {
    out.get(name).map(|f| f.metrics[0].number().unwrap())
}

#[test]
fn a_good_answer() {
    let (address, server) = serve(Answer::Good, 2);
    let (exporter, out) = collect(&format!(r#"{{"scrape_uri": "tcp://{address}"}}"#));
    server.join().unwrap();
    assert_eq!(exporter.last_error(), None);
    assert_eq!(value(&out, "haproxy_up"), Some(1.0));
    let info = &out.get("haproxy_version_info").unwrap().metrics[0];
    assert_eq!(info.label("version"), Some("2.6.12"));
    assert_eq!(info.label("release_date"), Some("2023/03/20"));
    assert_eq!(value(&out, "haproxy_frontend_bytes_in_total"), Some(1000.0));
    let up = &out.get("haproxy_server_up").unwrap().metrics[0];
    assert_eq!(up.label("backend"), Some("app"));
    assert_eq!(up.label("server"), Some("s1"));
    assert_eq!(up.number(), Some(1.0));
    assert_eq!(
        value(&out, "haproxy_backend_current_session_rate"),
        Some(1.0)
    );
    assert_eq!(
        value(&out, "haproxy_exporter_csv_parse_failures_total"),
        Some(0.0)
    );
}

#[test]
fn a_garbage_answer_is_counted_and_explained() {
    let (address, server) = serve(Answer::Garbage, 2);
    let (exporter, out) = collect(&format!(r#"{{"scrape_uri": "tcp://{address}"}}"#));
    server.join().unwrap();
    // Upstream's reading: the scrape worked, its rows did not parse.
    assert_eq!(value(&out, "haproxy_up"), Some(1.0));
    assert_eq!(
        value(&out, "haproxy_exporter_csv_parse_failures_total"),
        Some(3.0)
    );
    // No family but the exporter's own and the (empty) version.
    let names: Vec<&str> = out.families().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "haproxy_version_info",
            "haproxy_up",
            "haproxy_exporter_scrapes_total",
            "haproxy_exporter_csv_parse_failures_total"
        ]
    );
    let logged = exporter.last_error().unwrap();
    assert!(logged.contains("3 CSV parse failure(s)"), "{logged}");
    assert!(logged.contains("does scrape_uri end in ;csv?"), "{logged}");
}

#[test]
fn a_server_that_closes_early_leaves_a_partial_row() {
    let (address, server) = serve(Answer::ClosesEarly, 2);
    let (exporter, out) = collect(&format!(r#"{{"scrape_uri": "tcp://{address}"}}"#));
    server.join().unwrap();
    assert_eq!(value(&out, "haproxy_up"), Some(1.0));
    assert_eq!(value(&out, "haproxy_frontend_bytes_in_total"), Some(1000.0));
    assert!(out.get("haproxy_backend_up").is_none());
    // The cut-off server row has fewer fields than the first row.
    assert_eq!(
        value(&out, "haproxy_exporter_csv_parse_failures_total"),
        Some(1.0)
    );
    assert!(
        exporter
            .last_error()
            .unwrap()
            .contains("wrong number of fields")
    );
}

#[test]
fn a_silent_server_times_out() {
    let (address, _server) = serve(Answer::Silent, 1);
    let started = Instant::now();
    let (exporter, out) = collect(&format!(
        r#"{{"scrape_uri": "tcp://{address}", "timeout": "300ms"}}"#
    ));
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(value(&out, "haproxy_up"), Some(0.0));
    let logged = exporter.last_error().unwrap();
    assert!(
        logged.contains("(show info)") && logged.contains("timeout of 300ms"),
        "{logged}"
    );
}

#[test]
fn an_endless_answer_stops_at_max_body_bytes() {
    let (address, _server) = serve(Answer::Endless, 2);
    let (exporter, out) = collect(&format!(
        r#"{{"scrape_uri": "tcp://{address}", "max_body_bytes": 1000000}}"#
    ));
    assert_eq!(value(&out, "haproxy_up"), Some(0.0));
    let logged = exporter.last_error().unwrap();
    assert!(
        logged.contains("larger than max_body_bytes (1000000 bytes)"),
        "{logged}"
    );
}

#[test]
fn nothing_listening() {
    // A port that was just free.
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    assert!(TcpStream::connect(address).is_err());
    let (exporter, out) = collect(&format!(r#"{{"scrape_uri": "tcp://{address}"}}"#));
    assert_eq!(value(&out, "haproxy_up"), Some(0.0));
    assert_eq!(value(&out, "haproxy_exporter_scrapes_total"), Some(1.0));
    let logged = exporter.last_error().unwrap();
    assert!(
        logged.starts_with(&format!("can't scrape HAProxy at tcp://{address}")),
        "{logged}"
    );
}
