//! The instance configuration: where /proc, /sys and / are, which collectors
//! run, and the exclusions node_exporter offers as command-line flags.

use serde::Deserialize;
use std::path::PathBuf;
use wasmetheus_sdk::Error;

/// One collector, named as node_exporter names it (`--collector.<name>`),
/// which is also the `collector` label of `node_scrape_collector_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorName {
    Cpu,
    Diskstats,
    Filesystem,
    Loadavg,
    Meminfo,
    Netdev,
    Netstat,
    Stat,
    Time,
    Uname,
    Vmstat,
}

impl CollectorName {
    /// Every collector, alphabetically: the order node_exporter reports them in.
    pub const ALL: [CollectorName; 11] = [
        CollectorName::Cpu,
        CollectorName::Diskstats,
        CollectorName::Filesystem,
        CollectorName::Loadavg,
        CollectorName::Meminfo,
        CollectorName::Netdev,
        CollectorName::Netstat,
        CollectorName::Stat,
        CollectorName::Time,
        CollectorName::Uname,
        CollectorName::Vmstat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CollectorName::Cpu => "cpu",
            CollectorName::Diskstats => "diskstats",
            CollectorName::Filesystem => "filesystem",
            CollectorName::Loadavg => "loadavg",
            CollectorName::Meminfo => "meminfo",
            CollectorName::Netdev => "netdev",
            CollectorName::Netstat => "netstat",
            CollectorName::Stat => "stat",
            CollectorName::Time => "time",
            CollectorName::Uname => "uname",
            CollectorName::Vmstat => "vmstat",
        }
    }
}

/// The configuration `open` accepts; every field is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where procfs is mounted (node_exporter's `--path.procfs`).
    pub procfs: String,
    /// Where sysfs is mounted (`--path.sysfs`).
    pub sysfs: String,
    /// Where the monitored root file system is visible (`--path.rootfs`).
    pub rootfs: String,
    /// udev's database of device properties (`--path.udev.data`).
    pub udev_data: String,
    /// The collectors to run.
    pub collectors: Vec<CollectorName>,
    /// Mount points the filesystem collector skips (see `filesystem::mount_point_excluded`).
    pub filesystem_mount_points_exclude: Vec<String>,
    /// File system types the filesystem collector skips, matched exactly.
    pub filesystem_fs_types_exclude: Vec<String>,
    /// Network devices the netdev collector skips, matched exactly.
    pub netdev_device_exclude: Vec<String>,
    /// The `machine` label of `node_uname_info` when `<procfs>/sys/kernel/arch`
    /// is missing: WASI has no uname call to ask.
    pub machine: Option<String>,
    /// The `time_zone` label of `node_time_zone_offset_seconds`: WASI tells a
    /// plugin nothing about the host's time zone.
    pub time_zone: String,
    /// The value of `node_time_zone_offset_seconds`, east of UTC.
    pub time_zone_offset_seconds: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
            collectors: CollectorName::ALL.to_vec(),
            // node_exporter 1.5's `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`.
            filesystem_mount_points_exclude: [
                "/dev",
                "/proc",
                "/run/credentials/*",
                "/sys",
                "/var/lib/docker/*",
                "/var/lib/containers/storage/*",
            ]
            .map(String::from)
            .to_vec(),
            // node_exporter 1.5's `--collector.filesystem.fs-types-exclude`,
            // with `cgroup2?` spelled out.
            filesystem_fs_types_exclude: [
                "autofs",
                "binfmt_misc",
                "bpf",
                "cgroup",
                "cgroup2",
                "configfs",
                "debugfs",
                "devpts",
                "devtmpfs",
                "fusectl",
                "hugetlbfs",
                "iso9660",
                "mqueue",
                "nsfs",
                "overlay",
                "proc",
                "procfs",
                "pstore",
                "rpc_pipefs",
                "securityfs",
                "selinuxfs",
                "squashfs",
                "sysfs",
                "tracefs",
            ]
            .map(String::from)
            .to_vec(),
            // Debian's node_exporter 1.5 defaults to `--collector.netdev.device-exclude=^lo$`.
            netdev_device_exclude: vec!["lo".into()],
            machine: None,
            time_zone: "UTC".into(),
            time_zone_offset_seconds: 0,
        }
    }
}

impl Config {
    /// Parses and checks the JSON given to `open`.
    pub fn parse(json: &str) -> Result<Config, Error> {
        let mut config: Config = wasmetheus_sdk::config::parse(json)?;
        config.validate()?;
        // Duplicates would emit the same series twice; sorting gives
        // node_exporter's order.
        config.collectors.sort();
        config.collectors.dedup();
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        for (field, path) in [
            ("procfs", &self.procfs),
            ("sysfs", &self.sysfs),
            ("rootfs", &self.rootfs),
            ("udev_data", &self.udev_data),
        ] {
            if !path.starts_with('/') {
                return Err(Error::InvalidConfig(format!(
                    "{field}: {path:?} is not an absolute path"
                )));
            }
        }
        for pattern in &self.filesystem_mount_points_exclude {
            if !pattern.starts_with('/') {
                return Err(Error::InvalidConfig(format!(
                    "filesystem_mount_points_exclude: {pattern:?} does not start with /"
                )));
            }
        }
        Ok(())
    }

    /// `rel` below procfs.
    pub fn proc_path(&self, rel: &str) -> PathBuf {
        PathBuf::from(&self.procfs).join(rel)
    }

    /// `rel` below sysfs.
    pub fn sys_path(&self, rel: &str) -> PathBuf {
        PathBuf::from(&self.sysfs).join(rel)
    }
}

/// JSON Schema of [`Config`], published in the plugin's metadata.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "node-exporter",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "procfs": {
      "description": "Where procfs is mounted (node_exporter's --path.procfs).",
      "type": "string", "pattern": "^/", "default": "/proc"
    },
    "sysfs": {
      "description": "Where sysfs is mounted (--path.sysfs).",
      "type": "string", "pattern": "^/", "default": "/sys"
    },
    "rootfs": {
      "description": "Where the monitored root file system is visible (--path.rootfs): stripped from mount points in labels, prepended when asking for their usage.",
      "type": "string", "pattern": "^/", "default": "/"
    },
    "udev_data": {
      "description": "udev's device database (--path.udev.data), for the labels of node_disk_info and friends; left empty when it cannot be read.",
      "type": "string", "pattern": "^/", "default": "/run/udev/data"
    },
    "collectors": {
      "description": "The collectors to run.",
      "type": "array", "uniqueItems": true,
      "items": {"enum": ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "netstat", "stat", "time", "uname", "vmstat"]},
      "default": ["cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "netstat", "stat", "time", "uname", "vmstat"]
    },
    "filesystem_mount_points_exclude": {
      "description": "Mount points the filesystem collector skips: each entry excludes itself and everything below it; an entry ending in /* excludes only what lies below it.",
      "type": "array",
      "items": {"type": "string", "pattern": "^/"},
      "default": ["/dev", "/proc", "/run/credentials/*", "/sys", "/var/lib/docker/*", "/var/lib/containers/storage/*"]
    },
    "filesystem_fs_types_exclude": {
      "description": "File system types the filesystem collector skips, matched exactly.",
      "type": "array",
      "items": {"type": "string"},
      "default": ["autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tracefs"]
    },
    "netdev_device_exclude": {
      "description": "Network devices the netdev collector skips, matched exactly.",
      "type": "array",
      "items": {"type": "string"},
      "default": ["lo"]
    },
    "machine": {
      "description": "The machine label of node_uname_info (e.g. x86_64) when <procfs>/sys/kernel/arch does not exist.",
      "type": "string"
    },
    "time_zone": {
      "description": "The time_zone label of node_time_zone_offset_seconds; the plugin cannot see the host's time zone.",
      "type": "string", "default": "UTC"
    },
    "time_zone_offset_seconds": {
      "description": "The value of node_time_zone_offset_seconds: seconds east of UTC.",
      "type": "integer", "default": 0
    }
  }
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn schema() -> serde_json::Value {
        serde_json::from_str(SCHEMA).expect("SCHEMA is valid JSON")
    }

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        assert_eq!(Config::parse("{}").unwrap(), Config::default());
    }

    #[test]
    fn schema_defaults_are_the_config_defaults() {
        let schema = schema();
        let defaults: serde_json::Map<String, serde_json::Value> = schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, property)| Some((name.clone(), property.get("default")?.clone())))
            .collect();
        let from_schema = Config::parse(&serde_json::Value::Object(defaults).to_string()).unwrap();
        assert_eq!(from_schema, Config::default());
    }

    #[test]
    fn schema_names_exactly_the_accepted_fields() {
        // serde lists the accepted fields when it meets an unknown one.
        let err = Config::parse(r#"{"no_such_field": 1}"#)
            .unwrap_err()
            .to_string();
        let mut accepted: Vec<&str> = err.split('`').skip(3).step_by(2).collect();
        let schema = schema();
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        accepted.sort();
        documented.sort();
        assert_eq!(accepted, documented, "{err}");
    }

    fn check_error(json: &str, expect: Expect) {
        expect.assert_eq(&Config::parse(json).unwrap_err().to_string());
    }

    #[test]
    fn invalid_configs_say_what_is_wrong() {
        check_error(
            r#"{"procfs": "proc"}"#,
            expect![[r#"invalid config: procfs: "proc" is not an absolute path"#]],
        );
        check_error(
            r#"{"collectors": ["cpu", "textfile"]}"#,
            expect![[
                r#"invalid config: unknown variant `textfile`, expected one of `cpu`, `diskstats`, `filesystem`, `loadavg`, `meminfo`, `netdev`, `netstat`, `stat`, `time`, `uname`, `vmstat` at line 1 column 33"#
            ]],
        );
        check_error(
            r#"{"filesystem_mount_points_exclude": ["dev"]}"#,
            expect![[
                r#"invalid config: filesystem_mount_points_exclude: "dev" does not start with /"#
            ]],
        );
    }

    #[test]
    fn collectors_are_sorted_and_deduplicated() {
        let config = Config::parse(r#"{"collectors": ["vmstat", "cpu", "vmstat"]}"#).unwrap();
        assert_eq!(
            config.collectors,
            [CollectorName::Cpu, CollectorName::Vmstat]
        );
    }
}
