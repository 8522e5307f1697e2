//! The `process_*` families of client_golang's process collector (which
//! Alertmanager's `/metrics` has), read from `/proc/self`: CPU time, open
//! and maximum file descriptors, virtual and resident memory, start time.
//! A file that cannot be read or parsed leaves its families out.

use wasmetheus_model::{MetricFamily, MetricKind};

/// Linux reports process times in USER_HZ ticks, 100 a second on every
/// architecture (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SECOND: f64 = 100.0;

/// The families this process' `/proc` entries give.
pub(super) fn families() -> Vec<MetricFamily> {
    let mut out = Vec::new();
    let gauge = |name: &str, help: &str, value: f64| {
        MetricFamily::single(name, MetricKind::Gauge, help, value)
    };
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let boot = std::fs::read_to_string("/proc/stat").ok();
    if let Some(stat) = stat.as_deref().and_then(parse_stat) {
        out.push(MetricFamily::single(
            "process_cpu_seconds_total",
            MetricKind::Counter,
            "Total user and system CPU time spent in seconds.",
            stat.cpu_ticks as f64 / TICKS_PER_SECOND,
        ));
        out.push(gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stat.virtual_bytes as f64,
        ));
        if let Some(boot) = boot.as_deref().and_then(boot_time) {
            out.push(gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot as f64 + stat.start_ticks as f64 / TICKS_PER_SECOND,
            ));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        out.push(gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            entries.count() as f64,
        ));
    }
    let limits = std::fs::read_to_string("/proc/self/limits").ok();
    if let Some(max) = limits.as_deref().and_then(max_open_files) {
        out.push(gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            max,
        ));
    }
    let status = std::fs::read_to_string("/proc/self/status").ok();
    if let Some(rss) = status.as_deref().and_then(resident_bytes) {
        out.push(gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            rss as f64,
        ));
    }
    out
}

/// What `/proc/self/stat` tells.
#[derive(Debug, PartialEq)]
struct Stat {
    cpu_ticks: u64,
    start_ticks: u64,
    virtual_bytes: u64,
}

/// `/proc/<pid>/stat`: the fields after the command's closing parenthesis
/// (the command may hold spaces and parentheses), from `state` (field 3).
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { fields.get(n.checked_sub(3)?)?.parse().ok() };
    Some(Stat {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
    })
}

/// `btime` of `/proc/stat`: when the system booted (seconds since the
/// epoch).
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of `Max open files` (`unlimited`: the largest `uint64`,
/// as procfs reads it for client_golang).
fn max_open_files(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .strip_prefix("Max open files")?
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse().ok()
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 123456 987654321 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                cpu_ticks: 300,
                start_ticks: 123_456,
                virtual_bytes: 987_654_321
            })
        );
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        assert_eq!(
            max_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            Some(18_446_744_073_709_551_615_u64 as f64)
        );
        assert_eq!(
            resident_bytes("Name:\tx\nVmRSS:\t   2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(resident_bytes("Name:\tx\n"), None);
    }

    /// This process: every family there, with values that make sense.
    #[test]
    fn this_process_has_every_family() {
        let families = families();
        let value = |name: &str| -> f64 {
            let family = families
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            match family.metrics[0].value {
                wasmetheus_model::MetricValue::Number(v) => v,
                _ => panic!("{name} is not a number"),
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started}"
        );
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
    }
}
