//! diskstats collector: I/O counters per block device from /proc/diskstats,
//! labelled with what udev knows about the device.

use crate::config::Config;
use crate::files;
use std::collections::BTreeMap;
use wasmetheus_sdk::{Error, Kind, Registry};

/// Seconds per millisecond tick of /proc/diskstats.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;

/// Read and written sectors are "standard UNIX 512-byte sectors", whatever
/// the device's own sector size (Documentation/block/stat.rst).
const SECTOR_SIZE: f64 = 512.0;

/// The statistics columns of /proc/diskstats in order (after major, minor
/// and name): metric name, help, kind, and the factor to node_exporter's
/// unit. Kernels before 4.18 print the first 11, before 5.5 the first 15.
const COLUMNS: [(&str, &str, Kind, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        Kind::Counter,
        SECTOR_SIZE,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        Kind::Counter,
        SECTOR_SIZE,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        Kind::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        Kind::Counter,
        1.0,
    ),
    (
        // Sectors, not bytes: node_exporter 1.5 does not convert these.
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
    (
        // node_exporter's help really lacks the final period.
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        Kind::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Kind::Counter,
        SECONDS_PER_TICK,
    ),
];

/// One line of /proc/diskstats.
#[derive(Debug, PartialEq)]
pub struct Disk {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    /// The statistics columns present, in [`COLUMNS`] order.
    pub stats: Vec<u64>,
}

pub fn parse(text: &str) -> Result<Vec<Disk>, Error> {
    let mut disks = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [major, minor, name, stats @ ..] = &fields[..] else {
            return Err(Error::Other(format!(
                "invalid line in /proc/diskstats: {line:?}"
            )));
        };
        disks.push(Disk {
            major: files::number(major, "major number in /proc/diskstats")?,
            minor: files::number(minor, "minor number in /proc/diskstats")?,
            name: name.to_string(),
            stats: stats
                .iter()
                .map(|field| files::number(field, "counter in /proc/diskstats"))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(disks)
}

/// node_exporter 1.5's default `--collector.diskstats.device-exclude`,
/// `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`: partitions and
/// pseudo devices, whose I/O is already counted on the whole disk. Written
/// out by hand to keep a regex engine out of the plugin. None of the stems
/// ends in a digit, so the trailing digits split off unambiguously.
pub fn device_excluded(name: &str) -> bool {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() == name.len() {
        return false;
    }
    if matches!(stem, "ram" | "loop" | "fd") {
        return true;
    }
    let letter_drive = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|rest| rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
    };
    if ["hd", "sd", "vd", "xvd"].into_iter().any(letter_drive) {
        return true;
    }
    // nvme<digits>n<digits>p
    let digits =
        |s: &str| -> usize { s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len() };
    stem.strip_prefix("nvme")
        .and_then(|rest| {
            let n = digits(rest);
            (n > 0).then(|| &rest[n..])
        })
        .and_then(|rest| rest.strip_prefix('n'))
        .is_some_and(|rest| {
            let n = digits(rest);
            n > 0 && &rest[n..] == "p"
        })
}

/// The `E:KEY=VALUE` properties of a udev database entry (udevadm(8)).
pub fn parse_udev(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("E:")?.split_once('='))
        .collect()
}

pub fn collect(config: &Config, out: &mut Registry) -> Result<(), Error> {
    let mut disks = parse(&files::read(&config.proc_path("diskstats"))?)?;
    disks.retain(|disk| !device_excluded(&disk.name));
    // udev's database is optional, as in node_exporter: without it (or the
    // grant to read it) the labels it would fill stay empty.
    let udev: Vec<String> = disks
        .iter()
        .map(|disk| {
            let path = format!("{}/b{}:{}", config.udev_data, disk.major, disk.minor);
            std::fs::read_to_string(path).unwrap_or_default()
        })
        .collect();
    for (disk, udev) in disks.iter().zip(&udev) {
        emit(disk, &parse_udev(udev), out);
    }
    Ok(())
}

fn emit(disk: &Disk, udev: &BTreeMap<&str, &str>, out: &mut Registry) {
    let property = |key: &str| udev.get(key).copied().unwrap_or_default();
    let device = disk.name.as_str();
    out.gauge("node_disk_info", "Info of /sys/block/<block_device>.")
        .with(
            &[
                ("device", device),
                ("major", &disk.major.to_string()),
                ("minor", &disk.minor.to_string()),
                ("model", property("ID_MODEL")),
                ("path", property("ID_PATH")),
                ("revision", property("ID_REVISION")),
                ("serial", property("ID_SERIAL_SHORT")),
                ("wwn", property("ID_WWN")),
            ],
            1.0,
        );
    for ((name, help, kind, factor), value) in COLUMNS.iter().zip(&disk.stats) {
        out.family(name, *kind, help)
            .with(&[("device", device)], *value as f64 * factor);
    }
    if !property("ID_FS_TYPE").is_empty() {
        out.gauge("node_disk_filesystem_info", "Info about disk filesystem.")
            .with(
                &[
                    ("device", device),
                    ("type", property("ID_FS_TYPE")),
                    ("usage", property("ID_FS_USAGE")),
                    ("uuid", property("ID_FS_UUID")),
                    ("version", property("ID_FS_VERSION")),
                ],
                1.0,
            );
    }
    if !property("DM_NAME").is_empty() {
        out.gauge(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
        )
        .with(
            &[
                ("device", device),
                ("lv_layer", property("DM_LV_LAYER")),
                ("lv_name", property("DM_LV_NAME")),
                ("name", property("DM_NAME")),
                ("uuid", property("DM_UUID")),
                ("vg_name", property("DM_VG_NAME")),
            ],
            1.0,
        );
    }
    if !property("ID_ATA").is_empty() {
        for (key, name, help) in [
            (
                "ID_ATA_ROTATION_RATE_RPM",
                "node_disk_ata_rotation_rate_rpm",
                "ATA disk rotation rate in RPMs (0 for SSDs).",
            ),
            (
                "ID_ATA_WRITE_CACHE",
                "node_disk_ata_write_cache",
                "ATA disk has a write cache.",
            ),
            (
                "ID_ATA_WRITE_CACHE_ENABLED",
                "node_disk_ata_write_cache_enabled",
                "ATA disk has its write cache enabled.",
            ),
        ] {
            if let Ok(value) = property(key).parse::<f64>() {
                out.gauge(name, help).with(&[("device", device)], value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;
    use expect_test::{Expect, expect};

    fn check(diskstats: &str, udev: &str, expect: Expect) {
        match parse(diskstats) {
            Ok(disks) => {
                let mut out = Registry::new();
                for disk in disks.iter().filter(|disk| !device_excluded(&disk.name)) {
                    emit(disk, &parse_udev(udev), &mut out);
                }
                expect.assert_eq(&render(&out));
            }
            Err(err) => expect.assert_eq(&err.to_string()),
        }
    }

    #[test]
    fn a_modern_kernel_with_udev_properties() {
        check(
            " 254       0 vda 34178 7270 3231058 24681 6270 25473 2873296 6780 0 10308 31882 4255 23 223600 390 663 30\n\
             \x20254       1 vda1 3 0 24 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            "S:disk/by-id/ata-Samsung_SSD\n\
             E:ID_ATA=1\n\
             E:ID_ATA_ROTATION_RATE_RPM=0\n\
             E:ID_ATA_WRITE_CACHE=1\n\
             E:ID_FS_TYPE=ext4\n\
             E:ID_FS_USAGE=filesystem\n\
             E:ID_FS_UUID=1234-abcd\n\
             E:ID_MODEL=Samsung_SSD_860\n\
             E:ID_PATH=pci-0000:00:1f.2-ata-1\n\
             E:ID_REVISION=RVT04B6Q\n\
             E:ID_SERIAL_SHORT=S3Z9NB0K\n\
             E:ID_WWN=0x5002538e40a0eb0f\n\
             E:DM_NAME=vg-root\n\
             E:DM_VG_NAME=vg\n",
            expect![[r#"
                # Gauge node_disk_info Info of /sys/block/<block_device>.
                node_disk_info{device="vda",major="254",minor="0",model="Samsung_SSD_860",path="pci-0000:00:1f.2-ata-1",revision="RVT04B6Q",serial="S3Z9NB0K",wwn="0x5002538e40a0eb0f"} 1
                # Counter node_disk_reads_completed_total The total number of reads completed successfully.
                node_disk_reads_completed_total{device="vda"} 34178
                # Counter node_disk_reads_merged_total The total number of reads merged.
                node_disk_reads_merged_total{device="vda"} 7270
                # Counter node_disk_read_bytes_total The total number of bytes read successfully.
                node_disk_read_bytes_total{device="vda"} 1654301696
                # Counter node_disk_read_time_seconds_total The total number of seconds spent by all reads.
                node_disk_read_time_seconds_total{device="vda"} 24.681
                # Counter node_disk_writes_completed_total The total number of writes completed successfully.
                node_disk_writes_completed_total{device="vda"} 6270
                # Counter node_disk_writes_merged_total The number of writes merged.
                node_disk_writes_merged_total{device="vda"} 25473
                # Counter node_disk_written_bytes_total The total number of bytes written successfully.
                node_disk_written_bytes_total{device="vda"} 1471127552
                # Counter node_disk_write_time_seconds_total This is the total number of seconds spent by all writes.
                node_disk_write_time_seconds_total{device="vda"} 6.78
                # Gauge node_disk_io_now The number of I/Os currently in progress.
                node_disk_io_now{device="vda"} 0
                # Counter node_disk_io_time_seconds_total Total seconds spent doing I/Os.
                node_disk_io_time_seconds_total{device="vda"} 10.308
                # Counter node_disk_io_time_weighted_seconds_total The weighted # of seconds spent doing I/Os.
                node_disk_io_time_weighted_seconds_total{device="vda"} 31.882
                # Counter node_disk_discards_completed_total The total number of discards completed successfully.
                node_disk_discards_completed_total{device="vda"} 4255
                # Counter node_disk_discards_merged_total The total number of discards merged.
                node_disk_discards_merged_total{device="vda"} 23
                # Counter node_disk_discarded_sectors_total The total number of sectors discarded successfully.
                node_disk_discarded_sectors_total{device="vda"} 223600
                # Counter node_disk_discard_time_seconds_total This is the total number of seconds spent by all discards.
                node_disk_discard_time_seconds_total{device="vda"} 0.39
                # Counter node_disk_flush_requests_total The total number of flush requests completed successfully
                node_disk_flush_requests_total{device="vda"} 663
                # Counter node_disk_flush_requests_time_seconds_total This is the total number of seconds spent by all flush requests.
                node_disk_flush_requests_time_seconds_total{device="vda"} 0.03
                # Gauge node_disk_filesystem_info Info about disk filesystem.
                node_disk_filesystem_info{device="vda",type="ext4",usage="filesystem",uuid="1234-abcd",version=""} 1
                # Gauge node_disk_device_mapper_info Info about disk device mapper.
                node_disk_device_mapper_info{device="vda",lv_layer="",lv_name="",name="vg-root",uuid="",vg_name="vg"} 1
                # Gauge node_disk_ata_rotation_rate_rpm ATA disk rotation rate in RPMs (0 for SSDs).
                node_disk_ata_rotation_rate_rpm{device="vda"} 0
                # Gauge node_disk_ata_write_cache ATA disk has a write cache.
                node_disk_ata_write_cache{device="vda"} 1
            "#]],
        );
    }

    #[test]
    fn an_old_kernel_prints_fewer_columns() {
        check(
            "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n",
            "",
            expect![[r#"
                # Gauge node_disk_info Info of /sys/block/<block_device>.
                node_disk_info{device="sda",major="8",minor="0",model="",path="",revision="",serial="",wwn=""} 1
                # Counter node_disk_reads_completed_total The total number of reads completed successfully.
                node_disk_reads_completed_total{device="sda"} 1
                # Counter node_disk_reads_merged_total The total number of reads merged.
                node_disk_reads_merged_total{device="sda"} 2
                # Counter node_disk_read_bytes_total The total number of bytes read successfully.
                node_disk_read_bytes_total{device="sda"} 1536
                # Counter node_disk_read_time_seconds_total The total number of seconds spent by all reads.
                node_disk_read_time_seconds_total{device="sda"} 0.004
                # Counter node_disk_writes_completed_total The total number of writes completed successfully.
                node_disk_writes_completed_total{device="sda"} 5
                # Counter node_disk_writes_merged_total The number of writes merged.
                node_disk_writes_merged_total{device="sda"} 6
                # Counter node_disk_written_bytes_total The total number of bytes written successfully.
                node_disk_written_bytes_total{device="sda"} 3584
                # Counter node_disk_write_time_seconds_total This is the total number of seconds spent by all writes.
                node_disk_write_time_seconds_total{device="sda"} 0.008
                # Gauge node_disk_io_now The number of I/Os currently in progress.
                node_disk_io_now{device="sda"} 9
                # Counter node_disk_io_time_seconds_total Total seconds spent doing I/Os.
                node_disk_io_time_seconds_total{device="sda"} 0.01
                # Counter node_disk_io_time_weighted_seconds_total The weighted # of seconds spent doing I/Os.
                node_disk_io_time_weighted_seconds_total{device="sda"} 0.011
            "#]],
        );
        check(
            "   8       0\n",
            "",
            expect![[r#"invalid line in /proc/diskstats: "   8       0""#]],
        );
        check(
            "   8       0 sda 1 x\n",
            "",
            expect![[r#"invalid counter in /proc/diskstats: "x""#]],
        );
    }

    #[test]
    fn device_filter_matches_the_regex() {
        let names = [
            "ram0",
            "ram",
            "loop12",
            "fd0",
            "sda",
            "sda1",
            "sdaa1",
            "hdb2",
            "vda10",
            "xvdf1",
            "xvd1",
            "nvme0n1",
            "nvme0n1p1",
            "nvme10n2p33",
            "nvmen1p1",
            "nvme0np1",
            "zram0",
            "dm-0",
            "md0",
            "mmcblk0p1",
        ];
        let excluded: Vec<&str> = names.into_iter().filter(|n| device_excluded(n)).collect();
        assert_eq!(
            excluded,
            [
                "ram0",
                "loop12",
                "fd0",
                "sda1",
                "hdb2",
                "vda10",
                "xvdf1",
                "nvme0n1p1",
                "nvme10n2p33"
            ]
        );
    }
}
