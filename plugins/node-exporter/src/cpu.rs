//! cpu collector: seconds per CPU and mode from /proc/stat, thermal
//! throttling counts and isolated CPUs from /sys/devices/system/cpu.

use crate::config::Config;
use crate::files;
use std::collections::BTreeMap;
use wasmetheus_sdk::{Error, Registry};

/// Ticks per second of /proc/stat. USER_HZ is 100 on every architecture
/// Linux exposes to user space, and node_exporter assumes the same.
const USER_HZ: f64 = 100.0;

/// How far (seconds) idle time may go backwards before we take it for a CPU
/// hotplug and start that CPU afresh, like node_exporter's `jumpBackSeconds`.
const JUMP_BACK_SECONDS: f64 = 3.0;

/// The columns of a `cpuN` line in /proc/stat, in order. The first eight
/// are the `mode` label of `node_cpu_seconds_total`.
const COLUMNS: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];
const IDLE: usize = 3;
const GUEST: usize = 8;
const GUEST_NICE: usize = 9;

/// Seconds one CPU spent in each of [`COLUMNS`].
pub type CpuTimes = [f64; COLUMNS.len()];

/// The per-CPU lines of /proc/stat, by CPU number. Columns an older kernel
/// does not print count as zero.
pub fn parse_stat(text: &str) -> Result<BTreeMap<u32, CpuTimes>, Error> {
    let mut cpus = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(id) = fields.next().and_then(|name| name.strip_prefix("cpu")) else {
            continue;
        };
        // The bare "cpu" line is the sum over all CPUs.
        if id.is_empty() {
            continue;
        }
        let id = files::number(id, "CPU number in /proc/stat")?;
        let mut times = [0.0; COLUMNS.len()];
        for (time, field) in times.iter_mut().zip(fields) {
            *time = files::number::<u64>(field, "CPU time in /proc/stat")? as f64 / USER_HZ;
        }
        cpus.insert(id, times);
    }
    Ok(cpus)
}

/// What the cpu collector remembers between scrapes.
#[derive(Debug, Default)]
pub struct CpuState {
    last: BTreeMap<u32, CpuTimes>,
}

impl CpuState {
    /// Merges fresh readings and returns what to expose. The kernel's
    /// counters occasionally step back a little (e.g. iowait, or idle on
    /// some hypervisors); a counter going down would look like a reset to
    /// Prometheus, so like node_exporter we keep the previous value then,
    /// unless idle fell so far that the CPU was evidently replugged.
    pub fn update(&mut self, fresh: &BTreeMap<u32, CpuTimes>) -> &BTreeMap<u32, CpuTimes> {
        // node_exporter keeps exposing the frozen values of CPUs that went
        // offline; we drop them, since a series that stops is more honest.
        self.last.retain(|id, _| fresh.contains_key(id));
        for (&id, new) in fresh {
            let kept = self.last.entry(id).or_insert([0.0; COLUMNS.len()]);
            if kept[IDLE] - new[IDLE] >= JUMP_BACK_SECONDS {
                *kept = [0.0; COLUMNS.len()];
            }
            for (kept, &new) in kept.iter_mut().zip(new) {
                if new >= *kept {
                    *kept = new;
                }
            }
        }
        &self.last
    }
}

/// Parses a CPU list such as `0-3,8,10-11` (sysfs' `isolated`).
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, Error> {
    let mut cpus = Vec::new();
    for item in text.trim_end_matches('\n').split(',') {
        if item.is_empty() {
            continue;
        }
        match item.split_once('-') {
            None => cpus.push(files::number(item, "CPU in list")?),
            Some((first, last)) => {
                let first: u32 = files::number(first, "CPU in list")?;
                let last: u32 = files::number(last, "CPU in list")?;
                cpus.extend(first..=last);
            }
        }
    }
    Ok(cpus)
}

/// Thermal throttle counts: per package, and per (package, core).
#[derive(Debug, Default, PartialEq)]
pub struct Throttles {
    pub packages: BTreeMap<u64, u64>,
    pub cores: BTreeMap<(u64, u64), u64>,
}

/// Reads the throttle counters of /sys/devices/system/cpu/cpu*. Hyperthread
/// siblings share their core's counter and all CPUs of a package share its
/// counter, so each is read once, from the first CPU that has it.
fn read_throttles(config: &Config) -> Result<Throttles, Error> {
    let dir = config.sys_path("devices/system/cpu");
    let mut throttles = Throttles::default();
    let Some(names) = files::list_dir_optional(&dir)? else {
        return Ok(throttles);
    };
    // node_exporter globs `cpu[0-9]*`.
    let cpus = names.iter().filter(|name| {
        name.strip_prefix("cpu")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    for cpu in cpus {
        let cpu = dir.join(cpu);
        // CPUs without topology (e.g. offline ones) are skipped, as node_exporter does.
        let Ok(package) = files::read_u64(&cpu.join("topology/physical_package_id")) else {
            continue;
        };
        let Ok(core) = files::read_u64(&cpu.join("topology/core_id")) else {
            continue;
        };
        if !throttles.cores.contains_key(&(package, core))
            && let Ok(count) = files::read_u64(&cpu.join("thermal_throttle/core_throttle_count"))
        {
            throttles.cores.insert((package, core), count);
        }
        if !throttles.packages.contains_key(&package)
            && let Ok(count) = files::read_u64(&cpu.join("thermal_throttle/package_throttle_count"))
        {
            throttles.packages.insert(package, count);
        }
    }
    Ok(throttles)
}

pub fn collect(config: &Config, state: &mut CpuState, out: &mut Registry) -> Result<(), Error> {
    let stat = parse_stat(&files::read(&config.proc_path("stat"))?)?;
    // node_exporter tolerates a missing `isolated` (old kernels), not a broken one.
    let isolated = match files::read_optional(&config.sys_path("devices/system/cpu/isolated"))? {
        Some(text) => parse_cpu_list(&text)?,
        None => Vec::new(),
    };
    let throttles = read_throttles(config)?;
    emit(state.update(&stat), &isolated, &throttles, out);
    Ok(())
}

fn emit(
    cpus: &BTreeMap<u32, CpuTimes>,
    isolated: &[u32],
    throttles: &Throttles,
    out: &mut Registry,
) {
    for (id, times) in cpus {
        let cpu = id.to_string();
        let mut seconds = out.counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        for (mode, &time) in COLUMNS.iter().zip(times).take(8) {
            seconds.with(&[("cpu", &cpu), ("mode", mode)], time);
        }
        // Guest time is also counted in user and nice; node_exporter
        // exposes it separately rather than subtracting it.
        out.counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        )
        .with(&[("cpu", &cpu), ("mode", "user")], times[GUEST])
        .with(&[("cpu", &cpu), ("mode", "nice")], times[GUEST_NICE]);
    }
    for cpu in isolated {
        out.gauge(
            "node_cpu_isolated",
            "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
        )
        .with(&[("cpu", &cpu.to_string())], 1.0);
    }
    for (package, count) in &throttles.packages {
        out.counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
        )
        .with(&[("package", &package.to_string())], *count as f64);
    }
    for ((package, core), count) in &throttles.cores {
        out.counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
        )
        .with(
            &[
                ("core", &core.to_string()),
                ("package", &package.to_string()),
            ],
            *count as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};
    use std::fs;

    fn check(stat: &str, isolated: &str, expect: Expect) {
        let mut out = Registry::new();
        let mut state = CpuState::default();
        let cpus = parse_stat(stat).unwrap();
        let isolated = parse_cpu_list(isolated).unwrap();
        emit(
            state.update(&cpus),
            &isolated,
            &Throttles::default(),
            &mut out,
        );
        expect.assert_eq(&render(&out));
    }

    #[test]
    fn stat_lines_become_seconds_per_mode() {
        check(
            "cpu  35853 0 6620 1439855 916 0 49 70 0 0\n\
             cpu0 17365 1 2727 721314 72 0 10 29 5 2\n\
             intr 378727 0 0\n\
             ctxt 523167\n",
            "",
            expect![[r#"
                # Counter node_cpu_seconds_total Seconds the CPUs spent in each mode.
                node_cpu_seconds_total{cpu="0",mode="user"} 173.65
                node_cpu_seconds_total{cpu="0",mode="nice"} 0.01
                node_cpu_seconds_total{cpu="0",mode="system"} 27.27
                node_cpu_seconds_total{cpu="0",mode="idle"} 7213.14
                node_cpu_seconds_total{cpu="0",mode="iowait"} 0.72
                node_cpu_seconds_total{cpu="0",mode="irq"} 0
                node_cpu_seconds_total{cpu="0",mode="softirq"} 0.1
                node_cpu_seconds_total{cpu="0",mode="steal"} 0.29
                # Counter node_cpu_guest_seconds_total Seconds the CPUs spent in guests (VMs) for each mode.
                node_cpu_guest_seconds_total{cpu="0",mode="user"} 0.05
                node_cpu_guest_seconds_total{cpu="0",mode="nice"} 0.02
            "#]],
        );
    }

    #[test]
    fn old_kernels_without_steal_and_guest_and_isolated_cpus() {
        check(
            "cpu0 1 2 3 4 5 6 7\ncpu12 100 0 0 0 0 0 0\n",
            "1,3-4\n",
            expect![[r#"
                # Counter node_cpu_seconds_total Seconds the CPUs spent in each mode.
                node_cpu_seconds_total{cpu="0",mode="user"} 0.01
                node_cpu_seconds_total{cpu="0",mode="nice"} 0.02
                node_cpu_seconds_total{cpu="0",mode="system"} 0.03
                node_cpu_seconds_total{cpu="0",mode="idle"} 0.04
                node_cpu_seconds_total{cpu="0",mode="iowait"} 0.05
                node_cpu_seconds_total{cpu="0",mode="irq"} 0.06
                node_cpu_seconds_total{cpu="0",mode="softirq"} 0.07
                node_cpu_seconds_total{cpu="0",mode="steal"} 0
                node_cpu_seconds_total{cpu="12",mode="user"} 1
                node_cpu_seconds_total{cpu="12",mode="nice"} 0
                node_cpu_seconds_total{cpu="12",mode="system"} 0
                node_cpu_seconds_total{cpu="12",mode="idle"} 0
                node_cpu_seconds_total{cpu="12",mode="iowait"} 0
                node_cpu_seconds_total{cpu="12",mode="irq"} 0
                node_cpu_seconds_total{cpu="12",mode="softirq"} 0
                node_cpu_seconds_total{cpu="12",mode="steal"} 0
                # Counter node_cpu_guest_seconds_total Seconds the CPUs spent in guests (VMs) for each mode.
                node_cpu_guest_seconds_total{cpu="0",mode="user"} 0
                node_cpu_guest_seconds_total{cpu="0",mode="nice"} 0
                node_cpu_guest_seconds_total{cpu="12",mode="user"} 0
                node_cpu_guest_seconds_total{cpu="12",mode="nice"} 0
                # Gauge node_cpu_isolated Whether each core is isolated, information from /sys/devices/system/cpu/isolated.
                node_cpu_isolated{cpu="1"} 1
                node_cpu_isolated{cpu="3"} 1
                node_cpu_isolated{cpu="4"} 1
            "#]],
        );
    }

    #[test]
    fn broken_stat_lines_are_errors() {
        let err = parse_stat("cpu0 1 x 3\n").unwrap_err();
        assert_eq!(err.to_string(), r#"invalid CPU time in /proc/stat: "x""#);
        let err = parse_cpu_list("1-a").unwrap_err();
        assert_eq!(err.to_string(), r#"invalid CPU in list: "a""#);
    }

    #[test]
    fn counters_never_go_backwards_unless_the_cpu_was_replugged() {
        let mut state = CpuState::default();
        let reading = |user: f64, idle: f64| {
            let mut times = [0.0; COLUMNS.len()];
            times[0] = user;
            times[IDLE] = idle;
            BTreeMap::from([(0, times)])
        };
        let user_idle = |state: &mut CpuState, user, idle| {
            let times = state.update(&reading(user, idle))[&0];
            (times[0], times[IDLE])
        };
        assert_eq!(user_idle(&mut state, 10.0, 100.0), (10.0, 100.0));
        // A small step back keeps the old values.
        assert_eq!(user_idle(&mut state, 9.0, 98.0), (10.0, 100.0));
        assert_eq!(user_idle(&mut state, 11.0, 101.0), (11.0, 101.0));
        // Idle falling by 3 s or more starts afresh.
        assert_eq!(user_idle(&mut state, 1.0, 2.0), (1.0, 2.0));
        // CPUs that disappear are forgotten.
        assert!(state.update(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn throttles_are_read_once_per_core_and_package() {
        let sys = tempfile::tempdir().unwrap();
        let cpu_dir = sys.path().join("devices/system/cpu");
        // cpu0 and cpu2 are hyperthreads of one core; cpu1 is another core;
        // cpu3 has no topology; "cpufreq" and "isolated" are not CPUs.
        for (cpu, package, core, core_count, package_count) in [
            ("cpu0", "0", "0", "5", "7"),
            ("cpu1", "0", "1", "6", "999"),
            ("cpu2", "0", "0", "999", "999"),
            ("cpu10", "1", "0", "1", "2"),
        ] {
            let dir = cpu_dir.join(cpu);
            fs::create_dir_all(dir.join("topology")).unwrap();
            fs::create_dir_all(dir.join("thermal_throttle")).unwrap();
            fs::write(dir.join("topology/physical_package_id"), package).unwrap();
            fs::write(dir.join("topology/core_id"), core).unwrap();
            fs::write(dir.join("thermal_throttle/core_throttle_count"), core_count).unwrap();
            fs::write(
                dir.join("thermal_throttle/package_throttle_count"),
                package_count,
            )
            .unwrap();
        }
        fs::create_dir_all(cpu_dir.join("cpu3")).unwrap();
        fs::create_dir_all(cpu_dir.join("cpufreq")).unwrap();
        fs::write(cpu_dir.join("isolated"), "\n").unwrap();
        let config = Config {
            sysfs: sys.path().display().to_string(),
            ..Config::default()
        };
        let throttles = read_throttles(&config).unwrap();
        let mut out = Registry::new();
        emit(&BTreeMap::new(), &[], &throttles, &mut out);
        expect![[r#"
            # Counter node_cpu_package_throttles_total Number of times this CPU package has been throttled.
            node_cpu_package_throttles_total{package="0"} 7
            node_cpu_package_throttles_total{package="1"} 2
            # Counter node_cpu_core_throttles_total Number of times this CPU core has been throttled.
            node_cpu_core_throttles_total{core="0",package="0"} 5
            node_cpu_core_throttles_total{core="1",package="0"} 6
            node_cpu_core_throttles_total{core="0",package="1"} 1
        "#]]
        .assert_eq(&render(&out));
    }
}
