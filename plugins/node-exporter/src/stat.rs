//! stat collector: boot time, context switches, forks, interrupts and process
//! counts from /proc/stat.

use crate::config::Config;
use crate::files;
use wasmetheus_sdk::{Error, Registry};

/// The system-wide lines of /proc/stat; absent lines count as zero, as in
/// node_exporter.
#[derive(Debug, Default, PartialEq)]
pub struct Stat {
    pub interrupts: u64,
    pub context_switches: u64,
    pub boot_time: u64,
    pub forks: u64,
    pub procs_running: u64,
    pub procs_blocked: u64,
}

pub fn parse(text: &str) -> Result<Stat, Error> {
    let mut stat = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let slot = match name {
            // The first number of "intr" is the total; per-IRQ counts follow.
            "intr" => &mut stat.interrupts,
            "ctxt" => &mut stat.context_switches,
            "btime" => &mut stat.boot_time,
            "processes" => &mut stat.forks,
            "procs_running" => &mut stat.procs_running,
            "procs_blocked" => &mut stat.procs_blocked,
            _ => continue,
        };
        *slot = files::number(value, &format!("{name} in /proc/stat"))?;
    }
    Ok(stat)
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let stat = parse(&files::read(&config.proc_path("stat"))?)?;
    emit(&stat, out);
    Ok(())
}

fn emit(stat: &Stat, out: &mut Registry) {
    out.counter("node_intr_total", "Total number of interrupts serviced.")
        .set(stat.interrupts as f64);
    out.counter(
        "node_context_switches_total",
        "Total number of context switches.",
    )
    .set(stat.context_switches as f64);
    out.counter("node_forks_total", "Total number of forks.")
        .set(stat.forks as f64);
    out.gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
        .set(stat.boot_time as f64);
    out.gauge(
        "node_procs_running",
        "Number of processes in runnable state.",
    )
    .set(stat.procs_running as f64);
    out.gauge(
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
    )
    .set(stat.procs_blocked as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(text: &str, expect: Expect) {
        let mut out = Registry::new();
        match parse(text) {
            Ok(stat) => {
                emit(&stat, &mut out);
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    #[test]
    fn system_wide_lines() {
        check(
            "cpu  35853 0 6620 1439855 916 0 49 70 0 0\n\
             cpu0 17365 0 2727 721314 72 0 10 29 0 0\n\
             intr 378727 0 0 0 14 0\n\
             ctxt 523167\n\
             btime 1795426960\n\
             processes 9855\n\
             procs_running 1\n\
             procs_blocked 2\n\
             softirq 1 2 3\n",
            expect![[r#"
                # Counter node_intr_total Total number of interrupts serviced.
                node_intr_total 378727
                # Counter node_context_switches_total Total number of context switches.
                node_context_switches_total 523167
                # Counter node_forks_total Total number of forks.
                node_forks_total 9855
                # Gauge node_boot_time_seconds Node boot time, in unixtime.
                node_boot_time_seconds 1795426960
                # Gauge node_procs_running Number of processes in runnable state.
                node_procs_running 1
                # Gauge node_procs_blocked Number of processes blocked waiting for I/O to complete.
                node_procs_blocked 2
            "#]],
        );
        check(
            "btime soon\n",
            expect![[r#"invalid btime in /proc/stat: "soon""#]],
        );
    }
}
