//! The guard's decisions, free of any state: which procfs paths, file
//! types and devices a plugin may reach ([`proc_verdict`],
//! [`file_verdict`]), and looking a path up beneath a directory without
//! opening it ([`beneath`], [`device_at`]).

use wasmtime_wasi::p2::bindings::filesystem::types::PathFlags;

/// Top-level procfs entries that are the kernel's, not a statistic: its
/// memory and symbol addresses, and its log, whose read blocks until a
/// message comes and takes it from every other reader.
const KERNEL_PROC_ENTRIES: &[&str] = &[
    "kmsg",
    "kcore",
    "kallsyms",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
    "sysrq-trigger",
];

/// The entries of another process' directory in procfs (and of its
/// threads' under `task/<tid>`) that a plugin may open, stat or read the
/// link of: what `ps`, `top` and node_exporter's process and filesystem
/// collectors read, and nothing of its memory, environment, descriptors,
/// I/O or kernel state. `net` covers everything below it.
pub const PUBLIC_PROCESS_ENTRIES: &[&str] = &[
    "stat",
    "statm",
    "status",
    "cmdline",
    "comm",
    "limits",
    "cgroup",
    "oom_score",
    "oom_score_adj",
    "schedstat",
    "mounts",
    "mountinfo",
    "mountstats",
    "net",
    "task",
];

/// Whether a procfs name is a process or thread id.
pub(super) fn is_number(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The server's own process directory (or `self`/`thread-self`).
    ServerProcess,
    /// An entry of another process not in [`PUBLIC_PROCESS_ENTRIES`].
    PrivateEntry,
    /// A granted path that goes through a magic link such as
    /// `/proc/<pid>/cwd` or `/proc/<pid>/fd/N`.
    MagicLink,
    /// On procfs, but where could not be told: refused to be safe.
    Unresolved,
    /// A FIFO (or socket): opening it blocks until a writer comes.
    Fifo,
    /// A block device, or a character device that is not harmless.
    Device,
    /// The kernel's memory, log or debugging interfaces.
    Kernel,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Denial::ServerProcess => "it is the server's own process",
            Denial::PrivateEntry => {
                "it is not among the statistics of another process a plugin may read (stat, \
                 status, cmdline, mounts, net/…); the others expose its memory, environment, \
                 descriptors or root"
            }
            Denial::MagicLink => {
                "it goes through a /proc magic link (such as /proc/<pid>/cwd, root or fd/N) that \
                 leads outside the path as written; grant the directory it points to instead"
            }
            Denial::Unresolved => "where it leads could not be resolved",
            Denial::Kernel => "it is the kernel's memory, log or debugging interface",
            Denial::Fifo => "it is a FIFO or socket, whose open would block the plugin executor",
            Denial::Device => {
                "it is a device (only /dev/null, /dev/zero, /dev/random and /dev/urandom may be \
                 opened): a device's read may block the plugin executor or expose the host's \
                 memory, disks or terminals"
            }
        })
    }
}

/// Character devices a plugin may open, as (major, minor): `/dev/null`,
/// `/dev/zero`, `/dev/random` and `/dev/urandom`. Their reads never block
/// (`random` has not blocked since Linux 5.6 once the pool is ready) and
/// tell nothing about the host.
const HARMLESS_DEVICES: &[(u32, u32)] = &[(1, 3), (1, 5), (1, 8), (1, 9)];

/// Decides a file by its type and device number (`st_mode`, `st_rdev`):
/// FIFOs, sockets, block devices and character devices other than
/// [`HARMLESS_DEVICES`] are not opened.
pub fn file_verdict(mode: rustix::fs::RawMode, rdev: rustix::fs::Dev) -> Result<(), Denial> {
    use rustix::fs::FileType;
    match FileType::from_raw_mode(mode) {
        FileType::Fifo | FileType::Socket => Err(Denial::Fifo),
        FileType::CharacterDevice
            if HARMLESS_DEVICES.contains(&(rustix::fs::major(rdev), rustix::fs::minor(rdev))) =>
        {
            Ok(())
        }
        FileType::CharacterDevice | FileType::BlockDevice => Err(Denial::Device),
        _ => Ok(()),
    }
}

/// The verdict on an open file, from `fstat` of its descriptor.
pub(super) fn descriptor_verdict(file: impl std::os::fd::AsFd) -> Result<(), Denial> {
    match rustix::fs::fstat(file) {
        Ok(stat) => file_verdict(stat.st_mode, stat.st_rdev),
        Err(_) => Err(Denial::Device),
    }
}

/// Decides a path inside procfs, given as its components below the mount
/// point. `is_server` tells whether a numeric name is the server's pid or
/// one of its thread ids.
pub fn proc_verdict(rel: &[&str], is_server: &dyn Fn(&str) -> bool) -> Result<(), Denial> {
    // Resolved paths have no `..`; a textual one with it is not judged.
    if rel.contains(&"..") {
        return Err(Denial::Unresolved);
    }
    let Some((first, rest)) = rel.split_first() else {
        return Ok(());
    };
    if *first == "self" || *first == "thread-self" {
        return Err(Denial::ServerProcess);
    }
    if KERNEL_PROC_ENTRIES.contains(first) {
        return Err(Denial::Kernel);
    }
    if !is_number(first) {
        return Ok(());
    }
    if is_server(first) {
        // What the top-level symlinks /proc/net and /proc/mounts show.
        return match rest {
            ["net", ..] | ["mounts"] => Ok(()),
            _ => Err(Denial::ServerProcess),
        };
    }
    let public = |entry: &str| PUBLIC_PROCESS_ENTRIES.contains(&entry);
    match rest {
        [] | ["task"] => Ok(()),
        ["task", tid, rest @ ..] if is_number(tid) => match rest {
            [] => Ok(()),
            ["task", ..] => Err(Denial::PrivateEntry),
            [entry, ..] if public(entry) => Ok(()),
            _ => Err(Denial::PrivateEntry),
        },
        ["task", ..] => Err(Denial::PrivateEntry),
        [entry, ..] if public(entry) => Ok(()),
        _ => Err(Denial::PrivateEntry),
    }
}

/// The verdict on the device at `path` under directory `dir`, looked up
/// without opening it: an `O_PATH` descriptor resolved beneath `dir` (as
/// wasmtime-wasi resolves it: no `..` out, no absolute or magic links).
/// Refused when it cannot be looked up that way.
pub(super) fn device_at(
    dir: &std::fs::File,
    path: &str,
    path_flags: PathFlags,
) -> Result<(), Denial> {
    let mut oflags = rustix::fs::OFlags::empty();
    if !path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
        oflags |= rustix::fs::OFlags::NOFOLLOW;
    }
    match beneath(dir, path, oflags) {
        Ok(fd) => descriptor_verdict(fd),
        Err(_) => Err(Denial::Device),
    }
}

/// An `O_PATH` descriptor of `path` resolved beneath `dir` as wasmtime-wasi
/// resolves it (no `..` out, no absolute or magic links), with `oflags`
/// added: it opens nothing for reading and takes no slot of any table.
pub(super) fn beneath(
    dir: &std::fs::File,
    path: &str,
    oflags: rustix::fs::OFlags,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let oflags = oflags | OFlags::PATH | OFlags::CLOEXEC;
    rustix::fs::openat2(dir, path, oflags, Mode::empty(), resolve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn verdict(path: &str) -> Result<(), Denial> {
        let rel: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        proc_verdict(&rel, &|name| name == "100" || name == "101")
    }

    #[test]
    fn the_server_process_is_closed_but_its_network_and_mounts_are_not() {
        for denied in [
            "self",
            "self/environ",
            "thread-self/maps",
            "100",
            "100/environ",
            "100/maps",
            "100/task/101/environ",
            "101/environ",
            "101",
            "100/mountinfo",
            "100/root",
        ] {
            assert_eq!(verdict(denied), Err(Denial::ServerProcess), "{denied}");
        }
        for allowed in [
            "",
            "net",
            "mounts",
            "100/net",
            "100/net/dev",
            "100/mounts",
            "loadavg",
        ] {
            assert_eq!(verdict(allowed), Ok(()), "{allowed}");
        }
        assert_eq!(verdict("100/net/../environ"), Err(Denial::Unresolved));
        for kernel in ["kmsg", "kcore", "kallsyms", "kpageflags"] {
            assert_eq!(verdict(kernel), Err(Denial::Kernel), "{kernel}");
        }
    }

    #[test]
    fn other_processes_keep_their_private_entries() {
        for denied in [
            "1/environ",
            "1/mem",
            "1/root",
            "1/cwd",
            "1/fd",
            "1/fd/0",
            "1/task/1/environ",
            "7/map_files/x",
            // Not named by the old deny-list: the allow-list refuses them.
            "1/io",
            "1/personality",
            "1/wchan",
            "1/timers",
            "1/timerslack_ns",
            "1/attr/current",
            "1/task/1/io",
            "1/task/1/wchan",
            "1/task/x/stat",
            "1/task/1/task/1/stat",
            "1/a-name-a-newer-kernel-adds",
        ] {
            assert_eq!(verdict(denied), Err(Denial::PrivateEntry), "{denied}");
        }
        for allowed in [
            "1",
            "1/mounts",
            "1/mountinfo",
            "1/stat",
            "1/statm",
            "1/status",
            "1/cmdline",
            "1/comm",
            "1/net",
            "1/net/dev",
            "1/task",
            "1/task/1",
            "1/task/1/stat",
            "1/task/1/net/dev",
            "sys/kernel/arch",
        ] {
            assert_eq!(verdict(allowed), Ok(()), "{allowed}");
        }
    }

    #[test]
    fn devices_other_than_the_harmless_ones_are_refused() {
        use rustix::fs::{FileType, makedev};
        let chr = FileType::CharacterDevice.as_raw_mode() | 0o666;
        let blk = FileType::BlockDevice.as_raw_mode() | 0o660;
        // null, zero, random, urandom
        for (major, minor) in [(1, 3), (1, 5), (1, 8), (1, 9)] {
            assert_eq!(file_verdict(chr, makedev(major, minor)), Ok(()));
            assert_eq!(
                file_verdict(blk, makedev(major, minor)),
                Err(Denial::Device)
            );
        }
        // mem, kmem, port, full, kmsg, tty, tty1, ptmx, a watchdog, an input device
        for (major, minor) in [
            (1, 1),
            (1, 2),
            (1, 4),
            (1, 7),
            (1, 11),
            (5, 0),
            (4, 1),
            (5, 2),
            (10, 130),
            (13, 64),
        ] {
            assert_eq!(
                file_verdict(chr, makedev(major, minor)),
                Err(Denial::Device),
                "{major}:{minor}"
            );
        }
        // loop0, sda
        for (major, minor) in [(7, 0), (8, 0)] {
            assert_eq!(
                file_verdict(blk, makedev(major, minor)),
                Err(Denial::Device)
            );
        }
        for kind in [FileType::Fifo, FileType::Socket] {
            assert_eq!(file_verdict(kind.as_raw_mode(), 0), Err(Denial::Fifo));
        }
        for kind in [
            FileType::RegularFile,
            FileType::Directory,
            FileType::Symlink,
        ] {
            assert_eq!(file_verdict(kind.as_raw_mode() | 0o644, 0), Ok(()));
        }
    }

    #[test]
    fn real_device_nodes_are_told_apart_without_opening_them() {
        let dev = std::fs::File::open("/dev").unwrap();
        let follow = PathFlags::SYMLINK_FOLLOW;
        for harmless in ["null", "zero", "urandom"] {
            assert_eq!(device_at(&dev, harmless, follow), Ok(()), "{harmless}");
        }
        assert_eq!(
            descriptor_verdict(std::fs::File::open("/dev/null").unwrap()),
            Ok(())
        );
        let mut refused = 0;
        for dangerous in ["mem", "kmem", "port", "kmsg", "tty", "full", "loop0", "sda"] {
            if Path::new("/dev").join(dangerous).exists() {
                assert_eq!(
                    device_at(&dev, dangerous, follow),
                    Err(Denial::Device),
                    "{dangerous}"
                );
                refused += 1;
            }
        }
        assert!(refused > 0, "no dangerous device to check in /dev");
        // The lookup stays beneath the directory, as wasmtime-wasi's does.
        assert_eq!(device_at(&dev, "../dev/null", follow), Err(Denial::Device));
        assert_eq!(device_at(&dev, "/dev/null", follow), Err(Denial::Device));
    }
}
