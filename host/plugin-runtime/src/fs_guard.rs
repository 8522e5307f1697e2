//! Keeps a plugin's filesystem grants from leading back to the server: the
//! `wasi:filesystem` calls that reach a path (`open-at`, `stat-at`,
//! `readlink-at`, `metadata-hash-at`, directory listings) are wrapped and
//! checked against where the path really resolved on the host.
//!
//! wasmtime-wasi already confines every path beneath a preopen (no `..` out
//! of it, no absolute or escaping symlinks, no `/proc` magic links such as
//! `/proc/<pid>/root` or `/proc/<pid>/fd/N`). What it cannot know is that a
//! `/proc` grant contains the server itself: `/proc/self`,
//! `/proc/thread-self`, `/proc/<server pid>`, its threads as
//! `/proc/<pid>/task/<tid>` and as `/proc/<tid>` (which resolves although it
//! is not listed), reached directly or through the symlinks `/proc/net` and
//! `/proc/mounts`, which point into `self`. So:
//!
//! - an opened descriptor on procfs is resolved through `/proc/self/fd/N`;
//!   inside the server's own process directory only `net/…` and `mounts`
//!   (what `/proc/net` and `/proc/mounts` show: the network namespace and
//!   the mount table, which every process of the host shares) are allowed;
//!   everything else is refused with `access`;
//! - in every other process' directory only the statistics listed in
//!   [`PUBLIC_PROCESS_ENTRIES`] (`stat`, `status`, `cmdline`, `mounts`,
//!   `net/…`, …, and the same under `task/<tid>`) are allowed; everything
//!   else (`environ`, `mem`, `fd`, `root`, `io`, `wchan`, and whatever a
//!   newer kernel adds) is refused, since a plugin runs as the server's user
//!   and could otherwise read its siblings' secrets;
//! - a procfs root without a `self` entry (a bind mount of one process'
//!   directory, say `/proc/<pid>`, inside a grant) cannot be told apart from
//!   a process directory, so nothing on it is allowed;
//! - `stat-at`, `metadata-hash-at` and `readlink-at` check their path the
//!   same way: the parent resolved through `openat2` (beneath the
//!   directory, no magic links, no slot of the instance's resource table),
//!   then the last component by name; a parent that does not exist or is
//!   not a directory is left to the call, which fails the same way, and any
//!   other failure to resolve it refuses the call;
//! - a listing of the procfs root omits the server's pid;
//! - each instance may hold at most [`MAX_OPEN_DESCRIPTORS`] descriptors
//!   opened through `open-at` (its preopens, one per grant, are not
//!   counted): one more traps the call with a message naming the limit, so
//!   a hoarder cannot exhaust the server's file descriptors.
//!
//! - the kernel's own interfaces are refused: `/proc/kmsg` (a read blocks
//!   and consumes the kernel log), `/proc/kcore`, `/proc/kallsyms`,
//!   `/proc/kpage*`, and anything on debugfs or tracefs (under
//!   `/sys/kernel`), where reads like `trace_pipe` block;
//! - a FIFO or socket is not opened (the open would block the executor
//!   thread the instance runs on, beyond the reach of its deadline);
//! - neither is a block device or a character device other than
//!   `/dev/null`, `/dev/zero`, `/dev/random` and `/dev/urandom` (told by
//!   their numbers, 1:3, 1:5, 1:8, 1:9, not by name): a grant of `/dev`, or
//!   a device node or bind mount inside a granted directory, would
//!   otherwise give `/dev/mem`, disks, terminals or `/dev/kmsg`, whose
//!   reads block the executor thread or expose the host. The type is
//!   checked before the open (through an `O_PATH` descriptor, which opens
//!   no device) and again on the opened descriptor, so a node swapped in
//!   between is not read either;
//! - a granted read path inside the server's process directory (say
//!   `/proc/self`, by its text or where it resolves) or one that goes
//!   through a magic link (`/proc/<pid>/cwd`, `/proc/<pid>/root`,
//!   `/proc/<pid>/fd/N`, which lead anywhere, the server's data directory
//!   among them) is not preopened at all (see [`FsGuard::open_grant`]); the
//!   directory that was checked is the one preopened, reopened through its
//!   descriptor (`/proc/self/fd/N`: wasmtime-wasi preopens only by path),
//!   so nothing swapped in by name in between is granted. Where procfs is
//!   not mounted at `/proc` the path is opened again by name, and a
//!   directory swapped in between the check and the preopen is granted.
//!
//! What remains, by design: `/sys` shows the host's devices and cgroups (a
//! cgroup's `cgroup.procs` lists pids, the server's among them; nothing of
//! its memory or environment); the server's pid can be told from the one
//! numbered directory that answers `access` instead of `no-entry`, though
//! nothing under it is reachable; other processes' `stat`, `status`,
//! `cmdline` and the rest of [`PUBLIC_PROCESS_ENTRIES`] stay readable, as
//! they are to every user of the host; and
//! `stat` through a symlink outside procfs reports metadata of its target.
//!
//! The wrappers replace wasmtime-wasi's definitions in a linker that
//! `wasmtime_wasi::p2::add_to_linker_async` filled ([`add_to_linker_async`])
//! and delegate to wasmtime-wasi for the work itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, DirectoryEntryStream,
    ErrorCode, HostDescriptor, HostDirectoryEntryStream, MetadataHashValue, OpenFlags, PathFlags,
};

/// The most descriptors (files and directories) one instance may hold open
/// at once through `open-at`; its preopens (one per granted path) come on
/// top.
pub const MAX_OPEN_DESCRIPTORS: usize = 128;

/// The linker instance wasmtime-wasi 48 defines `wasi:filesystem/types` as.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

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

/// Kernel debugging file systems (`debugfs`, `tracefs`, under /sys/kernel):
/// kernel internals, and reads such as `trace_pipe` that block.
const KERNEL_DEBUG_MAGICS: &[rustix::fs::FsWord] = &[0x6462_6720, 0x7472_6163];

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
fn is_number(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// What a store's data gives the wrappers: wasmtime-wasi's filesystem view
/// and the guard's own state.
pub trait FsGuardView: Send + 'static {
    fn guarded_fs(&mut self) -> GuardedFs<'_>;
}

/// wasmtime-wasi's filesystem view with the guard beside it.
pub struct GuardedFs<'a> {
    pub fs: WasiFilesystemCtxView<'a>,
    pub guard: &'a mut FsGuard,
}

/// The per-instance state of the guard.
pub struct FsGuard {
    plugin: Arc<str>,
    instance: Arc<str>,
    /// Every descriptor opened through `open-at` (dead once the guest and
    /// its streams have let go of it).
    open: Vec<Weak<std::fs::File>>,
    max_open: usize,
    /// Mount points of procfs met so far, with the server's pid in each
    /// (`None` where its pid namespace does not show the server).
    proc_roots: Vec<(PathBuf, Option<u32>)>,
    /// Directory streams listing a procfs root, by resource rep.
    proc_listings: HashMap<u32, usize>,
    warned: bool,
}

/// Why a granted read path is not preopened.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Refused by the guard.
    #[error("refused: {0}")]
    Denied(Denial),
    /// Could not be opened as a directory.
    #[error("{0}")]
    Open(std::io::Error),
}

impl From<Denial> for GrantError {
    fn from(why: Denial) -> Self {
        GrantError::Denied(why)
    }
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
fn descriptor_verdict(file: impl std::os::fd::AsFd) -> Result<(), Denial> {
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

/// Where a descriptor lives, as far as the guard cares.
enum Place {
    /// Not on procfs.
    Elsewhere,
    /// On a kernel debugging file system.
    KernelDebug,
    /// On procfs: the mount point's index and the host path.
    Proc(usize, PathBuf),
    /// On procfs, but its path could not be read.
    Unknown,
}

fn os_file(descriptor: &Descriptor) -> &Arc<std::fs::File> {
    match descriptor {
        Descriptor::File(f) => &f.file,
        Descriptor::Dir(d) => &d.dir,
    }
}

fn is_procfs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

impl FsGuard {
    pub fn new(plugin: Arc<str>, instance: Arc<str>) -> Self {
        FsGuard {
            plugin,
            instance,
            open: Vec::new(),
            max_open: MAX_OPEN_DESCRIPTORS,
            proc_roots: Vec::new(),
            proc_listings: HashMap::new(),
            warned: false,
        }
    }

    /// The procfs mount point `path` lies under, found once and remembered.
    /// `None` when none is found, or when the topmost procfs directory above
    /// `path` has no `self` entry: a bind mount of one process' directory
    /// (or a part of it), where `environ` or `fd` would pass for top-level
    /// names.
    fn proc_root(&mut self, path: &Path) -> Option<usize> {
        if let Some(i) = self
            .proc_roots
            .iter()
            .position(|(root, _)| path.starts_with(root))
        {
            return Some(i);
        }
        let ancestors: Vec<&Path> = path.ancestors().collect();
        let root = ancestors.into_iter().rev().find(|a| is_procfs(a))?;
        let own = root.join("self");
        // A procfs root always has `self` (a dangling link in a pid
        // namespace that does not show the server).
        if own.symlink_metadata().is_err() {
            return None;
        }
        // The server's pid as this procfs (its pid namespace) numbers it.
        let pid = std::fs::read_link(own)
            .ok()
            .and_then(|target| target.to_str()?.parse::<u32>().ok());
        self.proc_roots.push((root.to_owned(), pid));
        Some(self.proc_roots.len() - 1)
    }

    fn place(&mut self, file: impl std::os::fd::AsFd) -> Place {
        use std::os::fd::AsRawFd;
        let file = file.as_fd();
        match rustix::fs::fstatfs(file) {
            Ok(s) if s.f_type == rustix::fs::PROC_SUPER_MAGIC => {}
            Ok(s) if KERNEL_DEBUG_MAGICS.contains(&s.f_type) => return Place::KernelDebug,
            Ok(_) => return Place::Elsewhere,
            Err(_) => return Place::Unknown,
        }
        let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) else {
            return Place::Unknown;
        };
        match self.proc_root(&path) {
            Some(root) => Place::Proc(root, path),
            None => Place::Unknown,
        }
    }

    /// Whether `name` is the server's pid or a thread id of it in the procfs
    /// mounted at root number `root`.
    fn is_server(&self, root: usize, name: &str) -> bool {
        let (root, Some(pid)) = &self.proc_roots[root] else {
            return false;
        };
        if !is_number(name) {
            return false;
        }
        name == pid.to_string()
            || root
                .join(pid.to_string())
                .join("task")
                .join(name)
                .symlink_metadata()
                .is_ok()
    }

    fn verdict(&self, root: usize, path: &Path) -> Result<(), Denial> {
        let Ok(rel) = path.strip_prefix(&self.proc_roots[root].0) else {
            return Err(Denial::Unresolved);
        };
        // procfs names are ASCII; anything else is not judged.
        let rel: Vec<&str> = rel
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()
            .ok_or(Denial::Unresolved)?;
        proc_verdict(&rel, &|name| self.is_server(root, name))
    }

    /// The verdict on a place.
    fn judge(&self, place: Place) -> Result<(), Denial> {
        match place {
            Place::Elsewhere => Ok(()),
            Place::KernelDebug => Err(Denial::Kernel),
            Place::Unknown => Err(Denial::Unresolved),
            Place::Proc(root, path) => self.verdict(root, &path),
        }
    }

    /// Checks what an opened descriptor is and where it really is.
    fn check_descriptor(&mut self, descriptor: &Descriptor) -> Result<(), Denial> {
        descriptor_verdict(os_file(descriptor).as_ref())?;
        let place = self.place(os_file(descriptor).as_ref());
        self.judge(place)
    }

    /// Opens a granted read path to be preopened, or refuses it: a path
    /// that lies inside the server's own process directory as written
    /// (`/proc/self/…`, `/proc/<server pid>/…`) or as resolved, one that
    /// goes through a magic link (`/proc/<pid>/cwd`, `root`, `fd/N`: they
    /// lead anywhere, the server's data directory among them), or one that
    /// leads to a refused place. The returned descriptor (`O_PATH`, a
    /// directory) is what was checked: preopen it, not the path again.
    pub fn open_grant(&mut self, path: &Path) -> Result<std::os::fd::OwnedFd, GrantError> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        // As written: a grant of /proc/self/… is refused even where it
        // would resolve to something harmless.
        // (A symlink's name says nothing: where it leads is judged below.)
        let written = path
            .ancestors()
            .filter(|a| a.symlink_metadata().is_ok_and(|m| m.is_dir()) && is_procfs(a))
            .last();
        if let Some(top) = written {
            match self.proc_root(top) {
                Some(root) => self.verdict(root, path)?,
                None => return Err(Denial::Unresolved.into()),
            }
        }
        // A directory only, and `O_PATH`: nothing is opened for reading,
        // so a FIFO or device granted by mistake cannot block here.
        let opened = rustix::fs::openat2(
            rustix::fs::CWD,
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::NO_MAGICLINKS,
        );
        let dir = match opened {
            Ok(dir) => dir,
            Err(rustix::io::Errno::LOOP) => return Err(Denial::MagicLink.into()),
            Err(e) => return Err(GrantError::Open(e.into())),
        };
        let place = self.place(&dir);
        self.judge(place)?;
        Ok(dir)
    }

    fn deny(&mut self, operation: &str, path: &str, why: Denial) -> ErrorCode {
        let (plugin, instance) = (&*self.plugin, &*self.instance);
        // A hostile plugin can ask in a loop: one warning per instance.
        if self.warned {
            tracing::debug!(
                plugin,
                instance,
                operation,
                path,
                "plugin filesystem access denied: {why}"
            );
        } else {
            self.warned = true;
            tracing::warn!(
                plugin,
                instance,
                operation,
                path,
                "plugin filesystem access denied: {why}"
            );
        }
        ErrorCode::Access
    }

    /// Fails (with a trap) when the instance holds its limit of descriptors.
    fn reserve_descriptor(&mut self) -> FsResult<()> {
        if self.open.len() >= self.max_open {
            self.open.retain(|w| w.strong_count() > 0);
        }
        if self.open.len() >= self.max_open {
            return Err(wasmtime_wasi::p2::FsError::trap(wasmtime::format_err!(
                "plugin exceeded its limit of {} open file descriptors (it must close files it has read)",
                self.max_open
            )));
        }
        Ok(())
    }
}

/// The verdict on the device at `path` under directory `dir`, looked up
/// without opening it: an `O_PATH` descriptor resolved beneath `dir` (as
/// wasmtime-wasi resolves it: no `..` out, no absolute or magic links).
/// Refused when it cannot be looked up that way.
fn device_at(dir: &std::fs::File, path: &str, path_flags: PathFlags) -> Result<(), Denial> {
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
fn beneath(
    dir: &std::fs::File,
    path: &str,
    oflags: rustix::fs::OFlags,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let oflags = oflags | OFlags::PATH | OFlags::CLOEXEC;
    rustix::fs::openat2(dir, path, oflags, Mode::empty(), resolve)
}

fn borrow<T: 'static>(resource: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(resource.rep())
}

impl GuardedFs<'_> {
    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        self.guard.reserve_descriptor()?;
        // File operations run inline on the executor thread, where a
        // blocking open could not be interrupted by the call's deadline.
        let stat =
            HostDescriptor::stat_at(&mut self.fs, borrow(&fd), path_flags, path.clone()).await;
        // wasmtime-wasi reports FIFOs and sockets as `unknown` (`fifo` is
        // never used on Unix); a socket cannot be opened anyway.
        let refused = match stat.map(|stat| stat.type_) {
            Ok(DescriptorType::Fifo | DescriptorType::Unknown) => Err(Denial::Fifo),
            // Which device it is decides; opening it to ask could block,
            // or act (a watchdog arms on open): look through `O_PATH`.
            Ok(DescriptorType::CharacterDevice | DescriptorType::BlockDevice) => {
                let dir = os_file(self.fs.table.get(&fd)?);
                device_at(dir, &path, path_flags)
            }
            _ => Ok(()),
        };
        if let Err(why) = refused {
            return Err(self.guard.deny("open-at", &path, why).into());
        }
        let opened =
            HostDescriptor::open_at(&mut self.fs, fd, path_flags, path.clone(), oflags, flags)
                .await?;
        let descriptor = self.fs.table.get(&opened)?;
        match self.guard.check_descriptor(descriptor) {
            Ok(()) => {
                let file = Arc::downgrade(os_file(descriptor));
                self.guard.open.push(file);
                Ok(opened)
            }
            Err(why) => {
                self.fs.table.delete(opened)?;
                Err(self.guard.deny("open-at", &path, why).into())
            }
        }
    }

    /// Checks a path that an `…-at` call reaches without opening it: the
    /// parent as it resolves, then the last component by name.
    async fn check_at(
        &mut self,
        operation: &str,
        fd: &Resource<Descriptor>,
        path: &str,
    ) -> FsResult<()> {
        let trimmed = path.trim_end_matches('/');
        let (parent, last) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let dir = os_file(self.fs.table.get(fd)?);
        let place = if parent.is_empty() {
            if path.starts_with('/') {
                // Absolute: wasmtime-wasi refuses it anyway.
                return Ok(());
            }
            self.guard.place(dir.as_ref())
        } else {
            // Resolved as wasmtime-wasi resolves it (beneath the directory,
            // no magic links), through an `O_PATH` descriptor of the
            // guard's own: no slot of the instance's resource table, which
            // a guest could have filled to make this fail.
            match beneath(dir, parent, rustix::fs::OFlags::DIRECTORY) {
                Ok(parent) => self.guard.place(&parent),
                // The call itself fails the same way.
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(()),
                // Not resolved, not judged: refused.
                Err(_) => Place::Unknown,
            }
        };
        let place = match place {
            Place::Proc(root, parent) => Place::Proc(
                root,
                match last {
                    "" | "." => parent,
                    ".." => parent.parent().map_or(parent.clone(), Path::to_owned),
                    name => parent.join(name),
                },
            ),
            other => other,
        };
        self.guard
            .judge(place)
            .map_err(|why| self.guard.deny(operation, path, why).into())
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        self.check_at("stat-at", &fd, &path).await?;
        HostDescriptor::stat_at(&mut self.fs, fd, path_flags, path).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        self.check_at("metadata-hash-at", &fd, &path).await?;
        HostDescriptor::metadata_hash_at(&mut self.fs, fd, path_flags, path).await
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        self.check_at("readlink-at", &fd, &path).await?;
        HostDescriptor::readlink_at(&mut self.fs, fd, path).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        let place = self.guard.place(os_file(self.fs.table.get(&fd)?).as_ref());
        let stream = HostDescriptor::read_directory(&mut self.fs, fd).await?;
        match place {
            Place::Proc(root, path) if path == self.guard.proc_roots[root].0 => {
                self.guard.proc_listings.insert(stream.rep(), root);
            }
            _ => {
                self.guard.proc_listings.remove(&stream.rep());
            }
        }
        Ok(stream)
    }

    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        loop {
            let entry =
                HostDirectoryEntryStream::read_directory_entry(&mut self.fs, borrow(&stream))
                    .await?;
            match (&entry, self.guard.proc_listings.get(&stream.rep())) {
                (Some(e), Some(&root)) if self.guard.is_server(root, &e.name) => continue,
                _ => return Ok(entry),
            }
        }
    }
}

/// Turns the wrappers' result into what the component model lowers: an
/// error code for the guest, or a trap.
fn lower<T>(result: FsResult<T>) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    match result {
        Ok(value) => Ok((Ok(value),)),
        Err(e) => Ok((Err(e.downcast()?),)),
    }
}

/// Defines each wrapper in `$instance` as an async host function.
macro_rules! define {
    ($instance:ident, $mode:ident, $( $name:literal => $method:ident ( $($arg:ident : $ty:ty),* ); )*) => {
        $( define!(@one $instance, $mode, $name, $method, $($arg: $ty),*); )*
    };
    (@one $instance:ident, async, $name:literal, $method:ident, $($arg:ident : $ty:ty),*) => {
        $instance.func_wrap_async(
            $name,
            |mut caller: StoreContextMut<'_, T>, ($($arg,)*): ($($ty,)*)| {
                Box::new(async move {
                    let mut view = caller.data_mut().guarded_fs();
                    lower(view.$method($($arg),*).await)
                })
            },
        )?;
    };
}

macro_rules! define_all {
    ($instance:ident, $mode:ident) => {
        define!($instance, $mode,
            "[method]descriptor.open-at" => open_at(
                fd: Resource<Descriptor>, path_flags: PathFlags, path: String,
                oflags: OpenFlags, flags: DescriptorFlags);
            "[method]descriptor.stat-at" => stat_at(
                fd: Resource<Descriptor>, path_flags: PathFlags, path: String);
            "[method]descriptor.metadata-hash-at" => metadata_hash_at(
                fd: Resource<Descriptor>, path_flags: PathFlags, path: String);
            "[method]descriptor.readlink-at" => readlink_at(fd: Resource<Descriptor>, path: String);
            "[method]descriptor.read-directory" => read_directory(fd: Resource<Descriptor>);
            "[method]directory-entry-stream.read-directory-entry" => read_directory_entry(
                stream: Resource<DirectoryEntryStream>);
        );
    };
}

/// Replaces the path-reaching filesystem calls of a linker that
/// `wasmtime_wasi::p2::add_to_linker_async` filled.
pub fn add_to_linker_async<T: FsGuardView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    // Shadowing a name that is not there would leave wasmtime-wasi's own
    // definition (under another version) in force: refuse to link instead.
    linker.allow_shadowing(false);
    let probe = linker.instance(FILESYSTEM_TYPES)?.func_wrap(
        "[method]descriptor.open-at",
        |_: StoreContextMut<'_, T>, (): ()| Ok(()),
    );
    if probe.is_ok() {
        wasmtime::bail!(
            "wasmtime-wasi does not define {FILESYSTEM_TYPES}: update FILESYSTEM_TYPES in fs_guard.rs"
        );
    }
    linker.allow_shadowing(true);
    {
        let mut instance = linker.instance(FILESYSTEM_TYPES)?;
        define_all!(instance, async);
    }
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    struct State {
        wasi: wasmtime_wasi::WasiCtx,
        table: wasmtime::component::ResourceTable,
        guard: FsGuard,
    }

    impl wasmtime_wasi::WasiView for State {
        fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
            wasmtime_wasi::WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl FsGuardView for State {
        fn guarded_fs(&mut self) -> GuardedFs<'_> {
            GuardedFs {
                fs: WasiFilesystemCtxView {
                    ctx: self.wasi.filesystem(),
                    table: &mut self.table,
                },
                guard: &mut self.guard,
            }
        }
    }

    fn state(grant: &str) -> State {
        let mut wasi = wasmtime_wasi::WasiCtxBuilder::new();
        wasi.preopened_dir(grant, grant, wasmtime_wasi::FsPerms::ReadOnly)
            .unwrap();
        State {
            wasi: wasi.build(),
            table: wasmtime::component::ResourceTable::new(),
            guard: FsGuard::new("p".into(), "i".into()),
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// The preopen of `state` as the guest sees it.
    fn preopen(state: &mut State) -> Resource<Descriptor> {
        use wasmtime_wasi::p2::bindings::filesystem::preopens::Host;
        let mut view = state.guarded_fs();
        let mut dirs = Host::get_directories(&mut view.fs).unwrap();
        dirs.remove(0).0
    }

    fn code<T>(result: FsResult<T>) -> Option<ErrorCode> {
        result.err().map(|e| e.downcast().unwrap())
    }

    #[test]
    fn a_full_resource_table_does_not_skip_the_check_of_a_parent() {
        let mut state = state("/proc");
        let proc = preopen(&mut state);
        // The guest holds as many resources as it may: the parent of the
        // path can no longer be opened as a resource.
        // (The preopen is its only one.)
        state.table.set_max_capacity(1);
        let mut view = state.guarded_fs();
        let follow = PathFlags::SYMLINK_FOLLOW;
        let statted = block_on(view.stat_at(borrow(&proc), follow, "self/environ".into()));
        assert_eq!(code(statted), Some(ErrorCode::Access));
        let link = block_on(view.readlink_at(borrow(&proc), "self/fd/0".into()));
        assert_eq!(code(link), Some(ErrorCode::Access));
        let hash = block_on(view.metadata_hash_at(borrow(&proc), follow, "self/environ".into()));
        assert_eq!(code(hash), Some(ErrorCode::Access));
        // A parent that does not exist is the call's own error.
        let missing = block_on(view.stat_at(borrow(&proc), follow, "no/such".into()));
        assert_eq!(code(missing), Some(ErrorCode::NoEntry));
        // Allowed places still answer.
        assert!(block_on(view.stat_at(borrow(&proc), follow, "net/dev".into())).is_ok());
        assert!(block_on(view.stat_at(borrow(&proc), follow, "sys/kernel".into())).is_ok());
    }

    #[test]
    fn grants_through_the_server_process_or_a_magic_link_are_refused() {
        let mut guard = FsGuard::new("p".into(), "i".into());
        let pid = std::process::id();
        for path in [
            "/proc/self".to_owned(),
            "/proc/self/cwd".to_owned(),
            "/proc/self/root".to_owned(),
            "/proc/thread-self/root".to_owned(),
            format!("/proc/{pid}/cwd"),
        ] {
            assert!(
                matches!(
                    guard.open_grant(Path::new(&path)),
                    Err(GrantError::Denied(Denial::ServerProcess))
                ),
                "{path}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        for (name, target) in [
            ("cwd", "/proc/self/cwd".to_owned()),
            ("root", format!("/proc/{pid}/root")),
            ("fd", "/proc/thread-self/fd/0".to_owned()),
        ] {
            let link = dir.path().join(name);
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(
                matches!(
                    guard.open_grant(&link),
                    Err(GrantError::Denied(Denial::MagicLink))
                ),
                "{target}"
            );
        }
        // Reached through a plain symlink, the server's directory is
        // judged where it resolves.
        let link = dir.path().join("me");
        std::os::unix::fs::symlink(format!("/proc/{pid}"), &link).unwrap();
        assert!(matches!(
            guard.open_grant(&link),
            Err(GrantError::Denied(Denial::ServerProcess))
        ));
        for fine in ["/proc", "/proc/net", "/proc/sys", "/tmp"] {
            assert!(guard.open_grant(Path::new(fine)).is_ok(), "{fine}");
        }
        assert!(matches!(
            guard.open_grant(&dir.path().join("missing")),
            Err(GrantError::Open(_))
        ));
    }

    /// Run by `a_bind_mounted_process_directory_is_refused` in a mount
    /// namespace of its own, with a process directory bind-mounted at the
    /// path in this variable.
    const BIND_MOUNT_VAR: &str = "WASMETHEUS_FS_GUARD_BIND_MOUNT";

    #[test]
    fn a_bind_mounted_process_directory_is_refused() {
        if let Some(mount) = std::env::var_os(BIND_MOUNT_VAR) {
            let mount = Path::new(&mount);
            let mut guard = FsGuard::new("p".into(), "i".into());
            for entry in ["environ", "status", "cmdline"] {
                let file = std::fs::File::open(mount.join(entry)).unwrap();
                assert!(matches!(guard.place(&file), Place::Unknown), "{entry}");
            }
            assert!(matches!(
                guard.open_grant(mount),
                Err(GrantError::Denied(Denial::Unresolved))
            ));
            return;
        }
        // A user and mount namespace of its own: the bind mount is seen by
        // no other process and needs no privilege.
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "mount --bind /proc/$$ '{mount}' && exec \"$0\" --exact \
             fs_guard::tests::a_bind_mounted_process_directory_is_refused",
            mount = dir.path().display()
        );
        let status = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
            .arg(std::env::current_exe().unwrap())
            .env(BIND_MOUNT_VAR, dir.path())
            .status()
            .expect("unshare (util-linux) runs");
        assert!(status.success(), "the bind-mounted check failed: {status}");
    }

    #[test]
    fn the_guard_replaces_wasi_definitions_and_nothing_else() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<State>::new(&engine);
        // Without wasmtime-wasi's definitions there is nothing to replace.
        assert!(add_to_linker_async(&mut linker).is_err());
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        add_to_linker_async(&mut linker).unwrap();
    }

    #[test]
    fn the_real_proc_resolves_to_the_server() {
        let mut guard = FsGuard::new("p".into(), "i".into());
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let Place::Proc(root, path) = guard.place(&file) else {
            panic!("/proc/self/status is not seen on procfs");
        };
        assert_eq!(guard.proc_roots[root].0, Path::new("/proc"));
        assert_eq!(guard.verdict(root, &path), Err(Denial::ServerProcess));
        let net = std::fs::File::open("/proc/net/dev").unwrap();
        let Place::Proc(root, path) = guard.place(&net) else {
            panic!("/proc/net/dev is not seen on procfs");
        };
        assert_eq!(guard.verdict(root, &path), Ok(()));
        let pid = std::process::id().to_string();
        assert!(guard.is_server(root, &pid));
        assert!(!guard.is_server(root, "1") || pid == "1");
        let elsewhere = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert!(matches!(guard.place(&elsewhere), Place::Elsewhere));
    }
}
