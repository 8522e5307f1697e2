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
//!   [`PUBLIC_PROCESS_ENTRIES`](verdict::PUBLIC_PROCESS_ENTRIES) (`stat`, `status`, `cmdline`, `mounts`,
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
//! - each instance may hold at most [`MAX_OPEN_DESCRIPTORS`](guard::MAX_OPEN_DESCRIPTORS) descriptors
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
//! `cmdline` and the rest of [`PUBLIC_PROCESS_ENTRIES`](verdict::PUBLIC_PROCESS_ENTRIES) stay readable, as
//! they are to every user of the host; and
//! `stat` through a symlink outside procfs reports metadata of its target.
//!
//! The module is split by job: `verdict` decides paths, file types and
//! devices (no state); `guard` is the per-instance state that finds where a
//! descriptor really lives and checks grants; `wasi` wraps the filesystem
//! calls with those checks (each uses only the ones after it).
//!
//! The wrappers replace wasmtime-wasi's definitions in a linker that
//! `wasmtime_wasi::p2::add_to_linker_async` filled ([`add_to_linker_async`])
//! and delegate to wasmtime-wasi for the work itself.

mod guard;
mod verdict;
mod wasi;

pub use guard::{FsGuard, GrantError};
pub use wasi::{FsGuardView, GuardedFs, add_to_linker_async};
