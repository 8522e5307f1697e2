//! netdev collector: per-interface traffic and error counters from
//! /proc/net/dev, plus `rx_nohandler` from /sys/class/net.

use crate::config::Config;
use crate::files;
use std::collections::BTreeMap;
use wasmetheus_sdk::{Error, Registry};

/// One interface's counters, keyed like node_exporter's metric names
/// (`receive_bytes`, `transmit_colls`, …).
pub type Counters = BTreeMap<String, u64>;

/// Parses /proc/net/dev. The counter names come from its two-line header
/// (`bytes packets errs drop …` per direction), prefixed with `receive_` or
/// `transmit_`; these are the "legacy" names node_exporter 1.5 exposes
/// unless `--collector.netdev.enable-detailed-metrics` is given.
pub fn parse(text: &str) -> Result<Vec<(String, Counters)>, Error> {
    let mut lines = text.lines();
    let header = lines.nth(1).unwrap_or_default();
    let columns: Vec<&str> = header.split('|').collect();
    let [_, receive, transmit] = columns[..] else {
        return Err(Error::Other(format!(
            "invalid header line in /proc/net/dev: {header:?}"
        )));
    };
    let names: Vec<String> = (receive.split_whitespace().map(|n| format!("receive_{n}")))
        .chain(transmit.split_whitespace().map(|n| format!("transmit_{n}")))
        .collect();
    let mut devices = Vec::new();
    for line in lines {
        // Large counters may touch the colon: "eth0:132841919 6914 …". The
        // kernel refuses ':' in interface names, so the first one ends it.
        let Some((device, values)) = line.split_once(':') else {
            continue;
        };
        let values: Vec<&str> = values.split_whitespace().collect();
        if values.len() != names.len() {
            return Err(Error::Other(format!(
                "invalid line in /proc/net/dev: {line:?}"
            )));
        }
        let mut counters = Counters::new();
        for (name, value) in names.iter().zip(values) {
            counters.insert(
                name.clone(),
                files::number(value, "counter in /proc/net/dev")?,
            );
        }
        devices.push((device.trim().to_string(), counters));
    }
    Ok(devices)
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let mut devices = parse(&files::read(&config.proc_path("net/dev"))?)?;
    devices.retain(|(device, _)| !config.netdev_device_exclude.contains(device));
    for (device, counters) in &mut devices {
        // node_exporter 1.5 reads the counters over netlink, which also has
        // packets dropped for want of a protocol handler; /proc/net/dev lacks
        // it, sysfs has it (since Linux 4.6).
        let path = config.sys_path(&format!("class/net/{device}/statistics/rx_nohandler"));
        if let Ok(value) = files::read_u64(&path) {
            counters.insert("receive_nohandler".into(), value);
        }
    }
    emit(&devices, out);
    Ok(())
}

fn emit(devices: &[(String, Counters)], out: &mut Registry) {
    // Family by family, so each family's series stay together.
    let mut by_name: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for (device, counters) in devices {
        for (name, value) in counters {
            by_name.entry(name).or_default().push((device, *value));
        }
    }
    for (name, series) in by_name {
        let mut family = out.counter(
            &format!("node_network_{name}_total"),
            &format!("Network device statistic {name}."),
        );
        for (device, value) in series {
            family.with(&[("device", device)], value as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(net_dev: &str, expect: Expect) {
        match parse(net_dev) {
            Ok(devices) => {
                let mut out = Registry::new();
                emit(&devices, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   42024      56    0    0    0     0          0         0    42024      56    0    0    0     0       0          0
  eth0:132841919    6914    1    2    3     4          5         6   402114    3998    7    8    9    10      11         12
";

    #[test]
    fn counters_per_device() {
        check(
            NET_DEV,
            expect![[r#"
                # Counter node_network_receive_bytes_total Network device statistic receive_bytes.
                node_network_receive_bytes_total{device="lo"} 42024
                node_network_receive_bytes_total{device="eth0"} 132841919
                # Counter node_network_receive_compressed_total Network device statistic receive_compressed.
                node_network_receive_compressed_total{device="lo"} 0
                node_network_receive_compressed_total{device="eth0"} 5
                # Counter node_network_receive_drop_total Network device statistic receive_drop.
                node_network_receive_drop_total{device="lo"} 0
                node_network_receive_drop_total{device="eth0"} 2
                # Counter node_network_receive_errs_total Network device statistic receive_errs.
                node_network_receive_errs_total{device="lo"} 0
                node_network_receive_errs_total{device="eth0"} 1
                # Counter node_network_receive_fifo_total Network device statistic receive_fifo.
                node_network_receive_fifo_total{device="lo"} 0
                node_network_receive_fifo_total{device="eth0"} 3
                # Counter node_network_receive_frame_total Network device statistic receive_frame.
                node_network_receive_frame_total{device="lo"} 0
                node_network_receive_frame_total{device="eth0"} 4
                # Counter node_network_receive_multicast_total Network device statistic receive_multicast.
                node_network_receive_multicast_total{device="lo"} 0
                node_network_receive_multicast_total{device="eth0"} 6
                # Counter node_network_receive_packets_total Network device statistic receive_packets.
                node_network_receive_packets_total{device="lo"} 56
                node_network_receive_packets_total{device="eth0"} 6914
                # Counter node_network_transmit_bytes_total Network device statistic transmit_bytes.
                node_network_transmit_bytes_total{device="lo"} 42024
                node_network_transmit_bytes_total{device="eth0"} 402114
                # Counter node_network_transmit_carrier_total Network device statistic transmit_carrier.
                node_network_transmit_carrier_total{device="lo"} 0
                node_network_transmit_carrier_total{device="eth0"} 11
                # Counter node_network_transmit_colls_total Network device statistic transmit_colls.
                node_network_transmit_colls_total{device="lo"} 0
                node_network_transmit_colls_total{device="eth0"} 10
                # Counter node_network_transmit_compressed_total Network device statistic transmit_compressed.
                node_network_transmit_compressed_total{device="lo"} 0
                node_network_transmit_compressed_total{device="eth0"} 12
                # Counter node_network_transmit_drop_total Network device statistic transmit_drop.
                node_network_transmit_drop_total{device="lo"} 0
                node_network_transmit_drop_total{device="eth0"} 8
                # Counter node_network_transmit_errs_total Network device statistic transmit_errs.
                node_network_transmit_errs_total{device="lo"} 0
                node_network_transmit_errs_total{device="eth0"} 7
                # Counter node_network_transmit_fifo_total Network device statistic transmit_fifo.
                node_network_transmit_fifo_total{device="lo"} 0
                node_network_transmit_fifo_total{device="eth0"} 9
                # Counter node_network_transmit_packets_total Network device statistic transmit_packets.
                node_network_transmit_packets_total{device="lo"} 56
                node_network_transmit_packets_total{device="eth0"} 3998
            "#]],
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        check(
            "Inter-|   Receive\n face |bytes\n",
            expect![[r#"invalid header line in /proc/net/dev: " face |bytes""#]],
        );
        let header: String = NET_DEV.lines().take(2).map(|l| format!("{l}\n")).collect();
        check(
            &format!("{header}  eth0: 1 2 3\n"),
            expect![[r#"invalid line in /proc/net/dev: "  eth0: 1 2 3""#]],
        );
    }

    #[test]
    fn excluded_devices_and_rx_nohandler_from_sysfs() {
        let root = tempfile::tempdir().unwrap();
        let proc = root.path().join("proc");
        let sys = root.path().join("sys");
        std::fs::create_dir_all(proc.join("net")).unwrap();
        std::fs::write(proc.join("net/dev"), NET_DEV).unwrap();
        for (device, nohandler) in [("lo", "1"), ("eth0", "17\n")] {
            let dir = sys.join(format!("class/net/{device}/statistics"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("rx_nohandler"), nohandler).unwrap();
        }
        let config = Config {
            procfs: proc.display().to_string(),
            sysfs: sys.display().to_string(),
            ..Config::default()
        };
        let mut out = Registry::new();
        collect(&config, &mut out).unwrap();
        let family = out.get("node_network_receive_nohandler_total").unwrap();
        assert_eq!(family.help, "Network device statistic receive_nohandler.");
        let series: Vec<_> = family
            .metrics
            .iter()
            .map(|m| (m.label("device").unwrap(), m.number().unwrap()))
            .collect();
        assert_eq!(series, [("eth0", 17.0)]);
        assert_eq!(
            out.get("node_network_receive_bytes_total")
                .unwrap()
                .metrics
                .len(),
            1
        );
    }
}
