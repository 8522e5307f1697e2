//! filesystem collector: size, free space and inodes of each mounted file
//! system, from the mount table in /proc and `statvfs` done by the host.

use crate::config::Config;
use crate::files;
use std::collections::BTreeSet;
use std::io::ErrorKind;
use wasmetheus_sdk::fs::{FilesystemUsage, filesystem_usage, io_error};
use wasmetheus_sdk::{Error, Registry};

/// One line of a mount table, as node_exporter labels it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mount {
    pub device: String,
    /// Relative to the configured rootfs.
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
}

impl Mount {
    fn read_only(&self) -> bool {
        self.options.split(',').any(|option| option == "ro")
    }
}

/// Parses /proc/N/mounts. Like node_exporter, only the blank and tab
/// escapes of fstab(5) are undone, in the mount point only, and the rootfs
/// prefix is stripped from it so labels name paths as the host sees them.
pub fn parse_mounts(text: &str, rootfs: &str) -> Result<Vec<Mount>, Error> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [device, mount_point, fs_type, options, ..] = fields[..] else {
            return Err(Error::Other(format!(
                "malformed mount point information: {line:?}"
            )));
        };
        let mount_point = mount_point.replace("\\040", " ").replace("\\011", "\t");
        mounts.push(Mount {
            device: device.to_string(),
            mount_point: strip_rootfs(&mount_point, rootfs),
            fs_type: fs_type.to_string(),
            options: options.to_string(),
        });
    }
    Ok(mounts)
}

/// node_exporter's `rootfsStripPrefix`.
fn strip_rootfs(mount_point: &str, rootfs: &str) -> String {
    if rootfs == "/" {
        return mount_point.to_string();
    }
    match mount_point.strip_prefix(rootfs) {
        Some("") => "/".to_string(),
        Some(stripped) => stripped.to_string(),
        None => mount_point.to_string(),
    }
}

/// Where the host finds a mount point: below rootfs, like node_exporter's
/// `rootfsFilePath`.
fn host_path(mount_point: &str, rootfs: &str) -> String {
    match rootfs.trim_end_matches('/') {
        "" => mount_point.to_string(),
        root => format!("{root}{mount_point}"),
    }
}

/// Whether the filesystem collector skips `mount_point`. A pattern excludes
/// the mount point it names and everything below it; a pattern ending in
/// `/*` excludes only what lies below. That covers what node_exporter's
/// default regex expresses, without a regex engine in the plugin.
pub fn mount_point_excluded(mount_point: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|pattern| {
        if let Some(parent) = pattern.strip_suffix("/*") {
            return mount_point
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|below| !below.is_empty());
        }
        let pattern = match pattern.trim_end_matches('/') {
            "" => return true, // "/" covers every mount point
            trimmed => trimmed,
        };
        mount_point
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The mounts to report: not excluded, and each label set once even when
/// something is mounted twice at the same place (node_exporter would also
/// tell them apart by options, producing clashing series).
pub fn select(mounts: Vec<Mount>, config: &Config) -> Vec<Mount> {
    let mut seen = BTreeSet::new();
    mounts
        .into_iter()
        .filter(|m| !mount_point_excluded(&m.mount_point, &config.filesystem_mount_points_exclude))
        .filter(|m| !config.filesystem_fs_types_exclude.contains(&m.fs_type))
        .filter(|m| seen.insert((m.device.clone(), m.mount_point.clone(), m.fs_type.clone())))
        .collect()
}

/// Reads PID 1's mount table, which shows the host's mounts even when we run
/// in another mount namespace; falls back to our own when /proc hides other
/// processes (`hidepid`).
fn read_mount_table(config: &Config) -> Result<String, Error> {
    let path = config.proc_path("1/mounts");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == ErrorKind::NotFound => files::read(&config.proc_path("mounts")),
        Err(err) => Err(io_error(&path, &err)),
    }
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let mounts = select(
        parse_mounts(&read_mount_table(config)?, &config.rootfs)?,
        config,
    );
    let usages: Vec<Option<FilesystemUsage>> = mounts
        .iter()
        .map(|mount| {
            let path = host_path(&mount.mount_point, &config.rootfs);
            // Like node_exporter, a file system we cannot stat is reported
            // through node_filesystem_device_error, not as a failed collector.
            filesystem_usage(&path)
                .inspect_err(|err| {
                    wasmetheus_sdk::log::debug(&format!("usage of {path}: {err}"));
                })
                .ok()
        })
        .collect();
    for (mount, usage) in mounts.iter().zip(usages) {
        emit(mount, usage, out);
    }
    Ok(())
}

fn emit(mount: &Mount, usage: Option<FilesystemUsage>, out: &mut Registry) {
    let labels = [
        ("device", mount.device.as_str()),
        ("fstype", mount.fs_type.as_str()),
        ("mountpoint", mount.mount_point.as_str()),
    ];
    out.gauge(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
    )
    .with(&labels, if usage.is_some() { 0.0 } else { 1.0 });
    let Some(usage) = usage else {
        return;
    };
    for (name, help, value) in [
        (
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            usage.size_bytes,
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            usage.free_bytes,
        ),
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            usage.available_bytes,
        ),
        (
            "node_filesystem_files",
            "Filesystem total file nodes.",
            usage.files,
        ),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            usage.files_free,
        ),
    ] {
        out.gauge(name, help).with(&labels, value as f64);
    }
    // From the mount options, as node_exporter does, rather than statvfs'
    // flag: the two agree except for bind mounts remounted read-only.
    out.gauge("node_filesystem_readonly", "Filesystem read-only status.")
        .with(&labels, if mount.read_only() { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    const MOUNTS: &str = "\
proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
tmpfs /dev/shm tmpfs rw,relatime 0 0
/dev/vdb /srv/my\\040data xfs ro,noatime 0 0
/dev/vdb /srv/my\\040data xfs rw,noatime 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid 0 0
tmpfs /run/credentials/getty.service tmpfs ro 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
fuse /home/me/fuse fuse.sshfs rw 0 0
";

    fn check(mounts: &str, rootfs: &str, expect: Expect) {
        let config = Config {
            rootfs: rootfs.to_string(),
            ..Config::default()
        };
        let mounts = match parse_mounts(mounts, rootfs) {
            Ok(mounts) => select(mounts, &config),
            Err(err) => return expect.assert_eq(&err.to_string()),
        };
        let mut out = Registry::new();
        for (i, mount) in mounts.iter().enumerate() {
            // Every other file system cannot be stat'ed.
            let usage = (i % 2 == 0).then_some(FilesystemUsage {
                size_bytes: 1000,
                free_bytes: 600,
                available_bytes: 500,
                files: 100,
                files_free: 90,
                read_only: false,
            });
            emit(mount, usage, &mut out);
        }
        expect.assert_eq(&render(&out));
    }

    #[test]
    fn mounts_are_filtered_deduplicated_and_labelled() {
        check(
            MOUNTS,
            "/",
            expect![[r#"
                # Gauge node_filesystem_device_error Whether an error occurred while getting statistics for the given device.
                node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} 0
                node_filesystem_device_error{device="/dev/vdb",fstype="xfs",mountpoint="/srv/my data"} 1
                node_filesystem_device_error{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 0
                node_filesystem_device_error{device="fuse",fstype="fuse.sshfs",mountpoint="/home/me/fuse"} 1
                # Gauge node_filesystem_size_bytes Filesystem size in bytes.
                node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 1000
                node_filesystem_size_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 1000
                # Gauge node_filesystem_free_bytes Filesystem free space in bytes.
                node_filesystem_free_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 600
                node_filesystem_free_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 600
                # Gauge node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
                node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 500
                node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 500
                # Gauge node_filesystem_files Filesystem total file nodes.
                node_filesystem_files{device="/dev/vda",fstype="ext4",mountpoint="/"} 100
                node_filesystem_files{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 100
                # Gauge node_filesystem_files_free Filesystem total free file nodes.
                node_filesystem_files_free{device="/dev/vda",fstype="ext4",mountpoint="/"} 90
                node_filesystem_files_free{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 90
                # Gauge node_filesystem_readonly Filesystem read-only status.
                node_filesystem_readonly{device="/dev/vda",fstype="ext4",mountpoint="/"} 0
                node_filesystem_readonly{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 0
            "#]],
        );
    }

    #[test]
    fn rootfs_is_stripped_from_mount_points() {
        check(
            "/dev/vda /host ext4 ro 0 0\n/dev/vdb /host/srv xfs rw 0 0\n/dev/vdc /elsewhere xfs rw 0 0\n",
            "/host",
            expect![[r#"
                # Gauge node_filesystem_device_error Whether an error occurred while getting statistics for the given device.
                node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} 0
                node_filesystem_device_error{device="/dev/vdb",fstype="xfs",mountpoint="/srv"} 1
                node_filesystem_device_error{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 0
                # Gauge node_filesystem_size_bytes Filesystem size in bytes.
                node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 1000
                node_filesystem_size_bytes{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 1000
                # Gauge node_filesystem_free_bytes Filesystem free space in bytes.
                node_filesystem_free_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 600
                node_filesystem_free_bytes{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 600
                # Gauge node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
                node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 500
                node_filesystem_avail_bytes{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 500
                # Gauge node_filesystem_files Filesystem total file nodes.
                node_filesystem_files{device="/dev/vda",fstype="ext4",mountpoint="/"} 100
                node_filesystem_files{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 100
                # Gauge node_filesystem_files_free Filesystem total free file nodes.
                node_filesystem_files_free{device="/dev/vda",fstype="ext4",mountpoint="/"} 90
                node_filesystem_files_free{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 90
                # Gauge node_filesystem_readonly Filesystem read-only status.
                node_filesystem_readonly{device="/dev/vda",fstype="ext4",mountpoint="/"} 1
                node_filesystem_readonly{device="/dev/vdc",fstype="xfs",mountpoint="/elsewhere"} 0
            "#]],
        );
        assert_eq!(host_path("/srv", "/host"), "/host/srv");
        assert_eq!(host_path("/srv", "/host/"), "/host/srv");
        assert_eq!(host_path("/srv", "/"), "/srv");
    }

    #[test]
    fn malformed_mount_tables_are_errors() {
        check(
            "/dev/vda / ext4\n",
            "/",
            expect![[r#"malformed mount point information: "/dev/vda / ext4""#]],
        );
    }

    #[test]
    fn without_the_host_every_file_system_reports_a_device_error() {
        let proc = tempfile::tempdir().unwrap();
        // No 1/mounts: the fallback to our own table is used.
        std::fs::write(proc.path().join("mounts"), "/dev/vda / ext4 rw 0 0\n").unwrap();
        let config = Config {
            procfs: proc.path().display().to_string(),
            ..Config::default()
        };
        let mut out = Registry::new();
        collect(&config, &mut out).unwrap();
        expect![[r#"
            # Gauge node_filesystem_device_error Whether an error occurred while getting statistics for the given device.
            node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"} 1
        "#]]
        .assert_eq(&render(&out));
    }

    #[test]
    fn default_mount_point_exclusions_match_node_exporters_regex() {
        let patterns = Config::default().filesystem_mount_points_exclude;
        let excluded: Vec<&str> = [
            "/",
            "/dev",
            "/dev/shm",
            "/devices",
            "/proc",
            "/proc/sys/fs/binfmt_misc",
            "/run",
            "/run/credentials",
            "/run/credentials/",
            "/run/credentials/getty.service",
            "/sys/fs/cgroup",
            "/system",
            "/var/lib/docker",
            "/var/lib/docker/overlay2/abc/merged",
            "/var/lib/containers/storage/overlay",
            "/home",
        ]
        .into_iter()
        .filter(|mount_point| mount_point_excluded(mount_point, &patterns))
        .collect();
        assert_eq!(
            excluded,
            [
                "/dev",
                "/dev/shm",
                "/proc",
                "/proc/sys/fs/binfmt_misc",
                "/run/credentials/getty.service",
                "/sys/fs/cgroup",
                "/var/lib/docker/overlay2/abc/merged",
                "/var/lib/containers/storage/overlay",
            ]
        );
        assert!(mount_point_excluded("/anything", &["/".to_string()]));
        assert!(mount_point_excluded("/mnt/x", &["/mnt/".to_string()]));
    }
}
