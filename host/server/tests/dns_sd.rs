//! DNS service discovery against a DNS server of the test's own on
//! 127.0.0.1 (UDP and TCP on one port): SRV, A, AAAA, MX and NS answers
//! become targets with Prometheus' meta labels, a truncated UDP answer is
//! asked again over TCP, forged answers (wrong id or question) are
//! ignored, a server that stops answering keeps the last good targets,
//! and hostile answers (huge, compression loops) fail cleanly.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, NS, SRV};
use hickory_proto::rr::{Name, RData, Record};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use wasmetheus::discovery::{DnsResolver, DnsSd};
use wasmetheus::scrape_targets::TargetGroup;
use wasmetheus_config::{DnsSdConfig, PromDuration};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    Udp,
    Tcp,
}

/// What the server sends for one query: each element is one raw message
/// (several for UDP: forged ones first), none to stay silent.
type Handler = dyn Fn(&Message, &[u8], Via) -> Vec<Vec<u8>> + Send + Sync;

struct DnsServer {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    answering: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl DnsServer {
    /// A server on 127.0.0.1 answering UDP and TCP on the same port.
    async fn start(handler: Arc<Handler>) -> DnsServer {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let answering = Arc::new(AtomicBool::new(true));
        let udp_task = {
            let (handler, count, answering) = (
                Arc::clone(&handler),
                Arc::clone(&udp_queries),
                Arc::clone(&answering),
            );
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    if !answering.load(Ordering::SeqCst) {
                        continue;
                    }
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    for reply in handler(&query, &buf[..n], Via::Udp) {
                        let _ = udp.send_to(&reply, from).await;
                    }
                }
            })
        };
        let tcp_task = {
            let (handler, count, answering) = (
                Arc::clone(&handler),
                Arc::clone(&tcp_queries),
                Arc::clone(&answering),
            );
            tokio::spawn(async move {
                loop {
                    let Ok((mut stream, _)) = tcp.accept().await else {
                        return;
                    };
                    let (handler, count, answering) = (
                        Arc::clone(&handler),
                        Arc::clone(&count),
                        Arc::clone(&answering),
                    );
                    tokio::spawn(async move {
                        loop {
                            let mut len = [0u8; 2];
                            if stream.read_exact(&mut len).await.is_err() {
                                return;
                            }
                            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                            if stream.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            count.fetch_add(1, Ordering::SeqCst);
                            if !answering.load(Ordering::SeqCst) {
                                continue;
                            }
                            let Ok(query) = Message::from_vec(&buf) else {
                                return;
                            };
                            for reply in handler(&query, &buf, Via::Tcp) {
                                let len = u16::try_from(reply.len()).unwrap().to_be_bytes();
                                if stream.write_all(&len).await.is_err()
                                    || stream.write_all(&reply).await.is_err()
                                {
                                    return;
                                }
                            }
                        }
                    });
                }
            })
        };
        DnsServer {
            addr,
            udp_queries,
            tcp_queries,
            answering,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// A resolver of this server alone, waiting up to 10 s for an answer:
    /// far more than a loopback answer takes on a loaded machine.
    fn resolver(&self) -> DnsResolver {
        DnsResolver::with_nameservers(&[self.addr], Duration::from_secs(10))
    }

    /// A resolver of this server waiting 2 s for an answer, for a server
    /// that falls silent (its lookups end at that timeout).
    fn impatient_resolver(&self) -> DnsResolver {
        DnsResolver::with_nameservers(&[self.addr], Duration::from_secs(2))
    }
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// The answer to `query` with these records.
fn answer(query: &Message, records: Vec<RData>) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = ResponseCode::NoError;
    let owner = query.queries[0].name().clone();
    for query in &query.queries {
        reply.add_query(query.clone());
    }
    for rdata in records {
        reply.add_answer(Record::from_rdata(owner.clone(), 60, rdata));
    }
    reply
}

fn config(names: &[&str], kind: &str, port: Option<u16>) -> DnsSdConfig {
    DnsSdConfig {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        kind: kind.into(),
        port,
        refresh_interval: PromDuration(Duration::from_secs(30)),
    }
}

fn srv_records() -> Vec<RData> {
    vec![
        RData::SRV(SRV::new(0, 5, 9100, name("node1.example.org."))),
        RData::SRV(SRV::new(0, 5, 9200, name("node2.example.org."))),
    ]
}

/// A group's targets and labels, for comparing.
type Found = (Vec<String>, Vec<(String, String)>);

/// Every (targets, labels) of `groups`.
fn targets(groups: &[TargetGroup]) -> Vec<Found> {
    groups
        .iter()
        .map(|g| {
            (
                g.targets.clone(),
                g.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn srv_answers_become_targets_with_meta_labels() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        vec![answer(query, srv_records()).to_vec().unwrap()]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_node._tcp.example.org."], "SRV", None),
        server.resolver(),
    );
    let groups = sd.refresh().await;
    assert_eq!(
        targets(&groups),
        vec![
            (
                vec!["node1.example.org:9100".to_owned()],
                owned(&[
                    ("__meta_dns_name", "_node._tcp.example.org."),
                    ("__meta_dns_srv_record_port", "9100"),
                    ("__meta_dns_srv_record_target", "node1.example.org."),
                ])
            ),
            (
                vec!["node2.example.org:9200".to_owned()],
                owned(&[
                    ("__meta_dns_name", "_node._tcp.example.org."),
                    ("__meta_dns_srv_record_port", "9200"),
                    ("__meta_dns_srv_record_target", "node2.example.org."),
                ])
            ),
        ]
    );
    assert_eq!((sd.lookups(), sd.failures()), (1, 0));
    assert_eq!(server.tcp_queries.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_and_aaaa_answers_take_the_configured_port() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        let records = match query.queries[0].query_type() {
            hickory_proto::rr::RecordType::A => vec![
                RData::A(A(Ipv4Addr::new(192, 0, 2, 2))),
                RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
            ],
            _ => vec![RData::AAAA(AAAA(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 1,
            )))],
        };
        vec![answer(query, records).to_vec().unwrap()]
    }))
    .await;
    let mut a = DnsSd::new(
        config(&["hosts.example.org."], "A", Some(9100)),
        server.resolver(),
    );
    assert_eq!(
        targets(&a.refresh().await),
        vec![(
            vec!["192.0.2.1:9100".to_owned(), "192.0.2.2:9100".to_owned()],
            owned(&[("__meta_dns_name", "hosts.example.org.")])
        )]
    );
    let mut aaaa = DnsSd::new(
        config(&["hosts.example.org."], "aaaa", Some(9100)),
        server.resolver(),
    );
    assert_eq!(
        targets(&aaaa.refresh().await),
        vec![(
            vec!["[2001:db8::1]:9100".to_owned()],
            owned(&[("__meta_dns_name", "hosts.example.org.")])
        )]
    );
}

#[tokio::test]
async fn mx_and_ns_answers_name_their_hosts() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        let records = match query.queries[0].query_type() {
            hickory_proto::rr::RecordType::MX => {
                vec![RData::MX(MX::new(10, name("mail.example.org.")))]
            }
            _ => vec![RData::NS(NS(name("ns1.example.org.")))],
        };
        vec![answer(query, records).to_vec().unwrap()]
    }))
    .await;
    let mut mx = DnsSd::new(config(&["example.org."], "MX", Some(25)), server.resolver());
    assert_eq!(
        targets(&mx.refresh().await),
        vec![(
            vec!["mail.example.org:25".to_owned()],
            owned(&[
                ("__meta_dns_mx_record_target", "mail.example.org."),
                ("__meta_dns_name", "example.org."),
            ])
        )]
    );
    let mut ns = DnsSd::new(config(&["example.org."], "NS", Some(53)), server.resolver());
    assert_eq!(
        targets(&ns.refresh().await),
        vec![(
            vec!["ns1.example.org:53".to_owned()],
            owned(&[
                ("__meta_dns_name", "example.org."),
                ("__meta_dns_ns_record_target", "ns1.example.org."),
            ])
        )]
    );
}

#[tokio::test]
async fn a_truncated_udp_answer_is_asked_again_over_tcp() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], via| {
        let mut reply = answer(query, srv_records());
        if via == Via::Udp {
            reply.answers.clear();
            reply.metadata.truncation = true;
        }
        vec![reply.to_vec().unwrap()]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_node._tcp.example.org."], "SRV", None),
        server.resolver(),
    );
    let groups = sd.refresh().await;
    let found: Vec<&str> = groups.iter().map(|g| g.targets[0].as_str()).collect();
    assert_eq!(found, ["node1.example.org:9100", "node2.example.org:9200"]);
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 1);
    assert_eq!(server.tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn answers_with_another_id_or_question_are_ignored() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        // A spoofer's guesses first: a wrong id, then the right id with
        // another question; the genuine answer last.
        let mut wrong_id = answer(
            query,
            vec![RData::SRV(SRV::new(0, 0, 1, name("evil.example.net.")))],
        );
        wrong_id.metadata.id = query.metadata.id.wrapping_add(1);
        let mut wrong_question = answer(
            query,
            vec![RData::SRV(SRV::new(0, 0, 2, name("evil.example.net.")))],
        );
        let mut other = query.queries[0].clone();
        other.set_name(name("_other._tcp.example.org."));
        wrong_question.queries = vec![other];
        vec![
            wrong_id.to_vec().unwrap(),
            wrong_question.to_vec().unwrap(),
            answer(query, srv_records()).to_vec().unwrap(),
        ]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_node._tcp.example.org."], "SRV", None),
        server.resolver(),
    );
    let groups = sd.refresh().await;
    let found: Vec<&str> = groups.iter().map(|g| g.targets[0].as_str()).collect();
    assert_eq!(found, ["node1.example.org:9100", "node2.example.org:9200"]);
    assert_eq!(sd.failures(), 0);
}

#[tokio::test]
async fn query_ids_are_not_predictable() {
    let ids = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = Arc::clone(&ids);
    let server = DnsServer::start(Arc::new(move |query: &Message, _: &[u8], _| {
        seen.lock().push(query.metadata.id);
        vec![answer(query, srv_records()).to_vec().unwrap()]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_node._tcp.example.org."], "SRV", None),
        server.resolver(),
    );
    for _ in 0..8 {
        sd.refresh().await;
    }
    let mut ids = ids.lock().clone();
    // At least one query per refresh; a lookup may be retried.
    assert!(ids.len() >= 8, "query ids {ids:?}");
    // A retry repeating its query's id is one id.
    ids.dedup();
    // Sequential or constant ids would make forging answers easy.
    let sequential = ids.windows(2).all(|w| w[1] == w[0].wrapping_add(1));
    assert!(!sequential, "query ids {ids:?}");
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // Eight random 16-bit ids seldom repeat one (p < 0.1%), three
    // practically never.
    assert!(distinct.len() >= 6, "query ids {ids:?}");
}

#[tokio::test]
async fn a_server_that_stops_answering_keeps_the_last_good_targets() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        vec![answer(query, srv_records()).to_vec().unwrap()]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_node._tcp.example.org."], "SRV", None),
        server.impatient_resolver(),
    );
    let good = sd.refresh().await;
    assert_eq!(good.len(), 2);
    server.answering.store(false, Ordering::SeqCst);
    let later = tokio::time::timeout(Duration::from_secs(20), sd.refresh())
        .await
        .expect("a silent server makes the lookup time out, not hang");
    assert_eq!(later, good);
    assert_eq!((sd.lookups(), sd.failures()), (2, 1));
    let (lookups, failures) = wasmetheus::discovery::dns_sd_lookup_counts();
    assert!(lookups >= 2 && failures >= 1);
}

#[tokio::test]
async fn a_name_that_does_not_exist_has_no_targets() {
    let server = DnsServer::start(Arc::new(|query: &Message, _: &[u8], _| {
        let mut reply = answer(query, Vec::new());
        reply.metadata.response_code = ResponseCode::NXDomain;
        vec![reply.to_vec().unwrap()]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["_gone._tcp.example.org."], "SRV", None),
        server.resolver(),
    );
    assert!(sd.refresh().await.is_empty());
    assert_eq!(sd.failures(), 0);
}

/// The header and question of a response to `raw` (a query), with
/// `answers` answer records to follow.
fn raw_response_head(raw: &[u8], answers: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&raw[..2]);
    out.extend_from_slice(&[0x81, 0x80, 0, 1]);
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    // The question, as asked: the name's labels, then type and class.
    let mut at = 12;
    while raw[at] != 0 {
        at += 1 + usize::from(raw[at]);
    }
    out.extend_from_slice(&raw[12..at + 5]);
    out
}

#[tokio::test]
async fn a_compression_loop_fails_the_lookup_without_hanging() {
    let server = DnsServer::start(Arc::new(|_: &Message, raw: &[u8], _| {
        let mut reply = raw_response_head(raw, 1);
        // An answer whose owner name points at itself.
        let here = u16::try_from(reply.len()).unwrap() | 0xC000;
        reply.extend_from_slice(&here.to_be_bytes());
        reply.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        vec![reply]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["loop.example.org."], "A", Some(80)),
        server.resolver(),
    );
    let groups = tokio::time::timeout(Duration::from_secs(20), sd.refresh())
        .await
        .expect("a compression loop does not hang the lookup");
    assert!(groups.is_empty());
    assert_eq!(sd.failures(), 1);
}

#[tokio::test]
async fn a_huge_answer_over_tcp_is_read_whole() {
    // 4000 A records (64 000 bytes with compression): truncated over UDP,
    // whole over TCP, just under the 64 KiB a TCP message may have.
    let server = DnsServer::start(Arc::new(|query: &Message, raw: &[u8], via| {
        if via == Via::Udp {
            let mut reply = answer(query, Vec::new());
            reply.metadata.truncation = true;
            return vec![reply.to_vec().unwrap()];
        }
        let mut reply = raw_response_head(raw, 4000);
        for i in 0..4000u32 {
            reply.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            reply.extend_from_slice(&(0x0A00_0000 + i).to_be_bytes());
        }
        vec![reply]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["many.example.org."], "A", Some(80)),
        server.resolver(),
    );
    let groups = tokio::time::timeout(Duration::from_secs(20), sd.refresh())
        .await
        .expect("a huge answer does not hang the lookup");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].targets.len(), 4000);
    assert_eq!(sd.failures(), 0);
}

#[tokio::test]
async fn garbage_answers_fail_the_lookup_and_keep_nothing_new() {
    let server = DnsServer::start(Arc::new(|_: &Message, raw: &[u8], _| {
        // The right id, then 500 bytes of noise.
        let mut reply = raw[..2].to_vec();
        reply.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        vec![reply]
    }))
    .await;
    let mut sd = DnsSd::new(
        config(&["noise.example.org."], "A", Some(80)),
        server.resolver(),
    );
    let groups = tokio::time::timeout(Duration::from_secs(20), sd.refresh())
        .await
        .expect("garbage does not hang the lookup");
    assert!(groups.is_empty());
    assert_eq!(sd.failures(), 1);
}
