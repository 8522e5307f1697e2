//! A minimal DNS client for `dns_sd_configs` SRV records: one question over
//! UDP to the first `nameserver` of `/etc/resolv.conf`, answers parsed
//! with name compression. The standard library resolves A/AAAA but not SRV.

use std::net::SocketAddr;
use std::time::Duration;

/// One SRV answer: where the service is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Without the trailing dot.
    pub target: String,
    pub port: u16,
}

/// The first `nameserver` of `/etc/resolv.conf` (port 53).
pub fn system_nameserver() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("reading /etc/resolv.conf: {e}"))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| "no nameserver in /etc/resolv.conf".to_owned())
}

/// The SRV records of `name`, asked of `server`.
pub async fn lookup_srv(server: SocketAddr, name: &str) -> Result<Vec<SrvRecord>, String> {
    let id = (std::process::id() as u16) ^ (name.len() as u16).rotate_left(7);
    let query = encode_query(id, name, 33)?;
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("DNS: {e}"))?;
    socket
        .send_to(&query, server)
        .await
        .map_err(|e| format!("DNS query to {server}: {e}"))?;
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buffer))
        .await
        .map_err(|_| format!("DNS query to {server} timed out"))?
        .map_err(|e| format!("DNS answer from {server}: {e}"))?;
    decode_srv_answer(&buffer[..n], id)
}

fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(32 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    // Standard query, recursion desired; one question.
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("invalid DNS name {name:?}"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    Ok(out)
}

fn u16_at(packet: &[u8], at: usize) -> Result<u16, String> {
    packet
        .get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "truncated DNS answer".to_owned())
}

/// Reads a (possibly compressed) name at `at`; returns it and the offset
/// just past it in the record.
fn read_name(packet: &[u8], mut at: usize) -> Result<(String, usize), String> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *packet.get(at).ok_or("truncated DNS name")? as usize;
        match len {
            0 => {
                return Ok((labels.join("."), end.unwrap_or(at + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let pointer = (u16_at(packet, at)? & 0x3FFF) as usize;
                end.get_or_insert(at + 2);
                at = pointer;
            }
            l => {
                let label = packet
                    .get(at + 1..at + 1 + l)
                    .ok_or("truncated DNS label")?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                at += 1 + l;
            }
        }
    }
    Err("DNS name compression loop".into())
}

fn decode_srv_answer(packet: &[u8], id: u16) -> Result<Vec<SrvRecord>, String> {
    if u16_at(packet, 0)? != id {
        return Err("DNS answer to another query".into());
    }
    let flags = u16_at(packet, 2)?;
    match flags & 0x000F {
        0 => {}
        3 => return Ok(Vec::new()),
        code => return Err(format!("DNS server answered with error code {code}")),
    }
    if flags & 0x0200 != 0 {
        return Err("DNS answer truncated (too many records for UDP)".into());
    }
    let (questions, answers) = (u16_at(packet, 4)?, u16_at(packet, 6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = read_name(packet, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..answers {
        let (_, after) = read_name(packet, at)?;
        let (kind, length) = (u16_at(packet, after)?, u16_at(packet, after + 8)? as usize);
        let data = after + 10;
        if kind == 33 {
            let port = u16_at(packet, data + 4)?;
            let (target, _) = read_name(packet, data + 6)?;
            out.push(SrvRecord { target, port });
        }
        at = data + length;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a DNS server writes it, with the target names
    /// compressed against the question.
    fn answer(id: u16, name: &str, records: &[(&str, u16)]) -> Vec<u8> {
        let mut out = encode_query(id, name, 33).unwrap();
        out[2] = 0x81;
        out[3] = 0x80;
        out[7] = records.len() as u8;
        for (target, port) in records {
            out.extend_from_slice(&[0xC0, 12]); // the question's name
            out.extend_from_slice(&33u16.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&60u32.to_be_bytes());
            let mut rdata = vec![0, 10, 0, 5];
            rdata.extend_from_slice(&port.to_be_bytes());
            let (host, _) = target.split_once('.').unwrap();
            rdata.push(host.len() as u8);
            rdata.extend_from_slice(host.as_bytes());
            // The rest of the target is the question's name minus its
            // first label: a pointer into the question.
            let first = name.split('.').next().unwrap().len();
            rdata.extend_from_slice(&[0xC0, (12 + 1 + first) as u8]);
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rdata);
        }
        out
    }

    #[tokio::test]
    async fn srv_records_come_back_from_a_server() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            let (_, from) = server.recv_from(&mut buffer).await.unwrap();
            let id = u16::from_be_bytes([buffer[0], buffer[1]]);
            let reply = answer(
                id,
                "_metrics._tcp.example.test",
                &[
                    ("node1._tcp.example.test", 9100),
                    ("node2._tcp.example.test", 9101),
                ],
            );
            server.send_to(&reply, from).await.unwrap();
        });
        let records = lookup_srv(address, "_metrics._tcp.example.test")
            .await
            .unwrap();
        assert_eq!(
            records,
            vec![
                SrvRecord {
                    target: "node1._tcp.example.test".into(),
                    port: 9100
                },
                SrvRecord {
                    target: "node2._tcp.example.test".into(),
                    port: 9101
                },
            ]
        );
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(decode_srv_answer(&[0, 1], 1).is_err());
        let mut reply = answer(7, "a.test", &[("x.test", 1)]);
        reply.truncate(reply.len() - 3);
        assert!(decode_srv_answer(&reply, 7).is_err());
        // A name pointing at itself.
        let mut looped = encode_query(9, "a.test", 33).unwrap();
        looped[2] = 0x81;
        looped[7] = 1;
        let at = looped.len();
        looped.extend_from_slice(&[0xC0, at as u8]);
        assert!(decode_srv_answer(&looped, 9).is_err());
    }
}
