//! time collector: the system clock, the time zone offset and the kernel's
//! clock sources from /sys/devices/system/clocksource.

use crate::config::Config;
use crate::files;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmetheus_sdk::{Error, Registry};

/// One `clocksourceN` directory: the available clock sources and the one in use.
#[derive(Debug, PartialEq)]
pub struct ClockSource {
    pub available: Vec<String>,
    pub current: String,
}

pub fn parse_clock_source(available: &str, current: &str) -> ClockSource {
    ClockSource {
        available: available.split_whitespace().map(String::from).collect(),
        current: current.trim().to_string(),
    }
}

fn read_clock_sources(config: &Config) -> Result<Vec<ClockSource>, Error> {
    let dir = config.sys_path("devices/system/clocksource");
    let names = files::list_dir_optional(&dir)?.unwrap_or_default();
    // node_exporter globs `clocksource[0-9]*`.
    let names = names.iter().filter(|name| {
        name.strip_prefix("clocksource")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    names
        .map(|name| {
            let available = files::read(&dir.join(name).join("available_clocksource"))?;
            let current = files::read(&dir.join(name).join("current_clocksource"))?;
            Ok(parse_clock_source(&available, &current))
        })
        .collect()
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::Other("system clock before 1970".into()))?;
    let clock_sources = read_clock_sources(config)?;
    emit(now.as_secs_f64(), config, &clock_sources, out);
    Ok(())
}

fn emit(now: f64, config: &Config, clock_sources: &[ClockSource], out: &mut Registry) {
    out.gauge(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
    )
    .set(now);
    out.gauge(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
    )
    .with(
        &[("time_zone", &config.time_zone)],
        config.time_zone_offset_seconds as f64,
    );
    // The device label is the position among the clocksource directories,
    // as node_exporter numbers them.
    for (index, source) in clock_sources.iter().enumerate() {
        let device = index.to_string();
        for available in &source.available {
            out.gauge(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
            )
            .with(&[("clocksource", available), ("device", &device)], 1.0);
        }
        out.gauge(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
        )
        .with(
            &[("clocksource", &source.current), ("device", &device)],
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::expect;

    #[test]
    fn clock_sources_time_and_zone() {
        let sys = tempfile::tempdir().unwrap();
        let dir = sys.path().join("devices/system/clocksource");
        for (name, available, current) in [
            ("clocksource0", "tsc kvm-clock \n", "tsc\n"),
            ("clocksource1", "hpet\n", "hpet\n"),
        ] {
            std::fs::create_dir_all(dir.join(name)).unwrap();
            std::fs::write(dir.join(name).join("available_clocksource"), available).unwrap();
            std::fs::write(dir.join(name).join("current_clocksource"), current).unwrap();
        }
        std::fs::create_dir_all(dir.join("power")).unwrap();
        let config = Config {
            sysfs: sys.path().display().to_string(),
            time_zone: "CET".into(),
            time_zone_offset_seconds: 3600,
            ..Config::default()
        };
        let mut out = Registry::new();
        emit(
            1.5e9,
            &config,
            &read_clock_sources(&config).unwrap(),
            &mut out,
        );
        expect![[r#"
            # Gauge node_time_seconds System time in seconds since epoch (1970).
            node_time_seconds 1500000000
            # Gauge node_time_zone_offset_seconds System time zone offset in seconds.
            node_time_zone_offset_seconds{time_zone="CET"} 3600
            # Gauge node_time_clocksource_available_info Available clocksources read from '/sys/devices/system/clocksource'.
            node_time_clocksource_available_info{clocksource="tsc",device="0"} 1
            node_time_clocksource_available_info{clocksource="kvm-clock",device="0"} 1
            node_time_clocksource_available_info{clocksource="hpet",device="1"} 1
            # Gauge node_time_clocksource_current_info Current clocksource read from '/sys/devices/system/clocksource'.
            node_time_clocksource_current_info{clocksource="tsc",device="0"} 1
            node_time_clocksource_current_info{clocksource="hpet",device="1"} 1
        "#]]
        .assert_eq(&render(&out));
    }

    #[test]
    fn the_clock_is_read() {
        let sys = tempfile::tempdir().unwrap();
        let config = Config {
            sysfs: sys.path().display().to_string(),
            ..Config::default()
        };
        let mut out = Registry::new();
        collect(&config, &mut out).unwrap();
        let now = out.get("node_time_seconds").unwrap().metrics[0]
            .number()
            .unwrap();
        assert!(now > 1.7e9, "{now}");
        assert!(out.get("node_time_clocksource_current_info").is_none());
    }
}
