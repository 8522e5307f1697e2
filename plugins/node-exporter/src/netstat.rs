//! netstat collector: the protocol counters of /proc/net/netstat, snmp and
//! snmp6 that node_exporter exposes by default.

use crate::config::Config;
use crate::files;
use std::collections::BTreeMap;
use wasmetheus_sdk::{Error, Registry};

/// Counters by protocol (`Tcp`, `TcpExt`, `Udp6`, …), then by name (`InSegs`).
pub type Stats = BTreeMap<String, BTreeMap<String, String>>;

/// node_exporter 1.5's default `--collector.netstat.fields`:
/// `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`,
/// applied to `<protocol>_<name>` and written out by hand to keep a regex
/// engine out of the plugin.
pub fn field_wanted(key: &str) -> bool {
    if key.ends_with("_InErrors") || key.ends_with("_InErrs") {
        return true;
    }
    if key.starts_with("TcpExt_Listen") || key.starts_with("TcpExt_Syncookies") {
        return true;
    }
    let Some((protocol, name)) = key.split_once('_') else {
        return false;
    };
    let names: &[&str] = match protocol {
        "Ip" => &["Forwarding"],
        "Ip6" | "IpExt" => &["InOctets", "OutOctets"],
        "Icmp" | "Icmp6" => &["InMsgs", "OutMsgs"],
        "TcpExt" => &["TCPSynRetrans", "TCPTimeouts"],
        "Tcp" => &[
            "ActiveOpens",
            "InSegs",
            "OutSegs",
            "OutRsts",
            "PassiveOpens",
            "RetransSegs",
            "CurrEstab",
        ],
        "Udp" | "Udp6" => &[
            "InDatagrams",
            "OutDatagrams",
            "NoPorts",
            "RcvbufErrors",
            "SndbufErrors",
        ],
        _ => return false,
    };
    names.contains(&name)
}

/// Parses /proc/net/netstat or /proc/net/snmp: pairs of lines, one naming
/// the counters of a protocol (`Tcp: ActiveOpens PassiveOpens …`), the next
/// giving their values (`Tcp: 12 3 …`).
pub fn parse_pairs(text: &str, stats: &mut Stats) -> Result<(), Error> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    while let Some(names) = lines.next() {
        let values = lines.next().unwrap_or_default();
        let mut names = names.split_whitespace();
        let mut values = values.split_whitespace();
        let protocol = names.next().unwrap_or_default();
        if values.next() != Some(protocol) {
            return Err(Error::Other(format!(
                "no values follow the names of {protocol:?}"
            )));
        }
        let (names, values): (Vec<&str>, Vec<&str>) = (names.collect(), values.collect());
        let protocol = protocol.trim_end_matches(':');
        if names.len() != values.len() {
            return Err(Error::Other(format!(
                "{} names but {} values for {protocol}",
                names.len(),
                values.len()
            )));
        }
        // A later file's protocol replaces an earlier one's, as in node_exporter.
        let protocol_stats = stats.entry(protocol.to_string()).or_default();
        protocol_stats.clear();
        for (name, value) in names.into_iter().zip(values) {
            protocol_stats.insert(name.to_string(), value.to_string());
        }
    }
    Ok(())
}

/// Parses /proc/net/snmp6, one `Ip6InReceives 123` per line. The protocol is
/// the name up to its first `6` (`Icmp6`, `UdpLite6`); lines without one are
/// skipped.
pub fn parse_snmp6(text: &str, stats: &mut Stats) {
    let mut parsed = Stats::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Some(six) = key.find('6') {
            let (protocol, name) = key.split_at(six + 1);
            parsed
                .entry(protocol.to_string())
                .or_default()
                .insert(name.to_string(), value.to_string());
        }
    }
    stats.extend(parsed);
}

/// The wanted counters as (protocol, name, value), sorted. Like node_exporter,
/// any value that is not a number fails the collection.
pub fn select(stats: &Stats) -> Result<Vec<(&str, &str, f64)>, Error> {
    let mut selected = Vec::new();
    for (protocol, counters) in stats {
        for (name, value) in counters {
            let value = files::number(value, &format!("value of {protocol}{name}"))?;
            if field_wanted(&format!("{protocol}_{name}")) {
                selected.push((protocol.as_str(), name.as_str(), value));
            }
        }
    }
    Ok(selected)
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let mut stats = Stats::new();
    parse_pairs(&files::read(&config.proc_path("net/netstat"))?, &mut stats)?;
    parse_pairs(&files::read(&config.proc_path("net/snmp"))?, &mut stats)?;
    // snmp6 is missing when IPv6 is disabled.
    if let Some(text) = files::read_optional(&config.proc_path("net/snmp6"))? {
        parse_snmp6(&text, &mut stats);
    }
    emit(&select(&stats)?, out);
    Ok(())
}

fn emit(selected: &[(&str, &str, f64)], out: &mut Registry) {
    for (protocol, name, value) in selected {
        out.untyped(
            &format!("node_netstat_{protocol}_{name}"),
            &format!("Statistic {protocol}{name}."),
        )
        .set(*value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(netstat: &str, snmp: &str, snmp6: &str, expect: Expect) {
        let mut stats = Stats::new();
        let result = parse_pairs(netstat, &mut stats)
            .and_then(|()| parse_pairs(snmp, &mut stats))
            .and_then(|()| {
                parse_snmp6(snmp6, &mut stats);
                select(&stats)
            });
        match result {
            Ok(selected) => {
                let mut out = Registry::new();
                emit(&selected, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans PruneCalled
TcpExt: 0 1 2 3 4 5 6
IpExt: InNoRoutes InOctets OutOctets InCsumErrors
IpExt: 0 132841919 402114 0
";

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 2 64 6963 0
Icmp: InMsgs InErrors InCsumErrors OutMsgs
Icmp: 1 0 0 1
Tcp: RtoAlgorithm ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts MaxConn
Tcp: 1 108 105 2 6000 4000 3 0 12 -1
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors
Udp: 10 1 0 10 0 0 0
UdpLite: InDatagrams InErrors
UdpLite: 0 0
";

    const SNMP6: &str = "\
Ip6InReceives                   \t1
Ip6InOctets                     \t100
Icmp6InErrors                   \t0
Icmp6OutMsgs                    \t7
Udp6InDatagrams                 \t5
UdpLite6InErrors                \t0
NoSixHere                       \t3
";

    #[test]
    fn default_fields_of_all_three_files() {
        check(
            NETSTAT,
            SNMP,
            SNMP6,
            expect![[r#"
                # Untyped node_netstat_Icmp_InErrors Statistic IcmpInErrors.
                node_netstat_Icmp_InErrors 0
                # Untyped node_netstat_Icmp_InMsgs Statistic IcmpInMsgs.
                node_netstat_Icmp_InMsgs 1
                # Untyped node_netstat_Icmp_OutMsgs Statistic IcmpOutMsgs.
                node_netstat_Icmp_OutMsgs 1
                # Untyped node_netstat_Icmp6_InErrors Statistic Icmp6InErrors.
                node_netstat_Icmp6_InErrors 0
                # Untyped node_netstat_Icmp6_OutMsgs Statistic Icmp6OutMsgs.
                node_netstat_Icmp6_OutMsgs 7
                # Untyped node_netstat_Ip_Forwarding Statistic IpForwarding.
                node_netstat_Ip_Forwarding 2
                # Untyped node_netstat_Ip6_InOctets Statistic Ip6InOctets.
                node_netstat_Ip6_InOctets 100
                # Untyped node_netstat_IpExt_InOctets Statistic IpExtInOctets.
                node_netstat_IpExt_InOctets 132841919
                # Untyped node_netstat_IpExt_OutOctets Statistic IpExtOutOctets.
                node_netstat_IpExt_OutOctets 402114
                # Untyped node_netstat_Tcp_ActiveOpens Statistic TcpActiveOpens.
                node_netstat_Tcp_ActiveOpens 108
                # Untyped node_netstat_Tcp_CurrEstab Statistic TcpCurrEstab.
                node_netstat_Tcp_CurrEstab 2
                # Untyped node_netstat_Tcp_InErrs Statistic TcpInErrs.
                node_netstat_Tcp_InErrs 0
                # Untyped node_netstat_Tcp_InSegs Statistic TcpInSegs.
                node_netstat_Tcp_InSegs 6000
                # Untyped node_netstat_Tcp_OutRsts Statistic TcpOutRsts.
                node_netstat_Tcp_OutRsts 12
                # Untyped node_netstat_Tcp_OutSegs Statistic TcpOutSegs.
                node_netstat_Tcp_OutSegs 4000
                # Untyped node_netstat_Tcp_PassiveOpens Statistic TcpPassiveOpens.
                node_netstat_Tcp_PassiveOpens 105
                # Untyped node_netstat_Tcp_RetransSegs Statistic TcpRetransSegs.
                node_netstat_Tcp_RetransSegs 3
                # Untyped node_netstat_TcpExt_ListenDrops Statistic TcpExtListenDrops.
                node_netstat_TcpExt_ListenDrops 3
                # Untyped node_netstat_TcpExt_ListenOverflows Statistic TcpExtListenOverflows.
                node_netstat_TcpExt_ListenOverflows 2
                # Untyped node_netstat_TcpExt_SyncookiesRecv Statistic TcpExtSyncookiesRecv.
                node_netstat_TcpExt_SyncookiesRecv 1
                # Untyped node_netstat_TcpExt_SyncookiesSent Statistic TcpExtSyncookiesSent.
                node_netstat_TcpExt_SyncookiesSent 0
                # Untyped node_netstat_TcpExt_TCPSynRetrans Statistic TcpExtTCPSynRetrans.
                node_netstat_TcpExt_TCPSynRetrans 5
                # Untyped node_netstat_TcpExt_TCPTimeouts Statistic TcpExtTCPTimeouts.
                node_netstat_TcpExt_TCPTimeouts 4
                # Untyped node_netstat_Udp_InDatagrams Statistic UdpInDatagrams.
                node_netstat_Udp_InDatagrams 10
                # Untyped node_netstat_Udp_InErrors Statistic UdpInErrors.
                node_netstat_Udp_InErrors 0
                # Untyped node_netstat_Udp_NoPorts Statistic UdpNoPorts.
                node_netstat_Udp_NoPorts 1
                # Untyped node_netstat_Udp_OutDatagrams Statistic UdpOutDatagrams.
                node_netstat_Udp_OutDatagrams 10
                # Untyped node_netstat_Udp_RcvbufErrors Statistic UdpRcvbufErrors.
                node_netstat_Udp_RcvbufErrors 0
                # Untyped node_netstat_Udp_SndbufErrors Statistic UdpSndbufErrors.
                node_netstat_Udp_SndbufErrors 0
                # Untyped node_netstat_Udp6_InDatagrams Statistic Udp6InDatagrams.
                node_netstat_Udp6_InDatagrams 5
                # Untyped node_netstat_UdpLite_InErrors Statistic UdpLiteInErrors.
                node_netstat_UdpLite_InErrors 0
                # Untyped node_netstat_UdpLite6_InErrors Statistic UdpLite6InErrors.
                node_netstat_UdpLite6_InErrors 0
            "#]],
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        check(
            "Tcp: A B\nTcp: 1\n",
            "",
            "",
            expect!["2 names but 1 values for Tcp"],
        );
        check(
            "Tcp: A B\n",
            "",
            "",
            expect![[r#"no values follow the names of "Tcp:""#]],
        );
        check(
            "Tcp: A\nTcp: x\n",
            "",
            "",
            expect![[r#"invalid value of TcpA: "x""#]],
        );
    }

    #[test]
    fn field_filter_matches_the_regex() {
        let keys = [
            "Ip_Forwarding",
            "Ip_DefaultTTL",
            "Ip6_InOctets",
            "IpExt_OutOctets",
            "Ip_InOctets",
            "Icmp_InMsgs",
            "Icmp6_OutMsgs",
            "IcmpMsg_InType3",
            "TcpExt_ListenDrops",
            "TcpExt_Listen",
            "TcpExt_SyncookiesFailed",
            "TcpExt_TCPTimeouts",
            "TcpExt_TCPTimeoutsX",
            "Tcp_CurrEstab",
            "Tcp_MaxConn",
            "Udp_NoPorts",
            "Udp6_SndbufErrors",
            "UdpLite_NoPorts",
            "MPTcpExt_InErrors",
            "_InErrs",
            "Tcp_InErrsX",
        ];
        let wanted: Vec<&str> = keys.into_iter().filter(|k| field_wanted(k)).collect();
        assert_eq!(
            wanted,
            [
                "Ip_Forwarding",
                "Ip6_InOctets",
                "IpExt_OutOctets",
                "Icmp_InMsgs",
                "Icmp6_OutMsgs",
                "TcpExt_ListenDrops",
                "TcpExt_Listen",
                "TcpExt_SyncookiesFailed",
                "TcpExt_TCPTimeouts",
                "Tcp_CurrEstab",
                "Udp_NoPorts",
                "Udp6_SndbufErrors",
                "MPTcpExt_InErrors",
                "_InErrs",
            ]
        );
    }
}
