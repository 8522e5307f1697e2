//! The per-instance state of the guard ([`FsGuard`]): the procfs mounts
//! met and the server's pid in each, where a descriptor really lives, the
//! check of a granted read path before it is preopened
//! ([`FsGuard::open_grant`]), and the cap on open descriptors.

use super::verdict::{Denial, descriptor_verdict, is_number, proc_verdict};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;

/// The most descriptors (files and directories) one instance may hold open
/// at once through `open-at`; its preopens (one per granted path) come on
/// top.
pub const MAX_OPEN_DESCRIPTORS: usize = 128;

/// Kernel debugging file systems (`debugfs`, `tracefs`, under /sys/kernel):
/// kernel internals, and reads such as `trace_pipe` that block.
const KERNEL_DEBUG_MAGICS: &[rustix::fs::FsWord] = &[0x6462_6720, 0x7472_6163];

/// The per-instance state of the guard.
pub struct FsGuard {
    plugin: Arc<str>,
    instance: Arc<str>,
    /// Every descriptor opened through `open-at` (dead once the guest and
    /// its streams have let go of it).
    pub(super) open: Vec<Weak<std::fs::File>>,
    max_open: usize,
    /// Mount points of procfs met so far, with the server's pid in each
    /// (`None` where its pid namespace does not show the server).
    pub(super) proc_roots: Vec<(PathBuf, Option<u32>)>,
    /// Directory streams listing a procfs directory, by resource rep: the
    /// mount point's index and the directory's host path. Entries the
    /// guard refuses are left out of their listings.
    pub(super) proc_listings: HashMap<u32, (usize, PathBuf)>,
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

/// Where a descriptor lives, as far as the guard cares.
pub(super) enum Place {
    /// Not on procfs.
    Elsewhere,
    /// On a kernel debugging file system.
    KernelDebug,
    /// On procfs: the mount point's index and the host path.
    Proc(usize, PathBuf),
    /// On procfs, but its path could not be read.
    Unknown,
}

pub(super) fn os_file(descriptor: &Descriptor) -> &Arc<std::fs::File> {
    match descriptor {
        Descriptor::File(f) => &f.file,
        Descriptor::Dir(d) => &d.dir,
    }
}

pub(super) fn is_procfs(path: &Path) -> bool {
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

    pub(super) fn place(&mut self, file: impl std::os::fd::AsFd) -> Place {
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
    pub(super) fn is_server(&self, root: usize, name: &str) -> bool {
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
    pub(super) fn judge(&self, place: Place) -> Result<(), Denial> {
        match place {
            Place::Elsewhere => Ok(()),
            Place::KernelDebug => Err(Denial::Kernel),
            Place::Unknown => Err(Denial::Unresolved),
            Place::Proc(root, path) => self.verdict(root, &path),
        }
    }

    /// Checks what an opened descriptor is and where it really is.
    pub(super) fn check_descriptor(&mut self, descriptor: &Descriptor) -> Result<(), Denial> {
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

    pub(super) fn deny(&mut self, operation: &str, path: &str, why: Denial) -> ErrorCode {
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
    pub(super) fn reserve_descriptor(&mut self) -> FsResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
             fs_guard::guard::tests::a_bind_mounted_process_directory_is_refused",
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
