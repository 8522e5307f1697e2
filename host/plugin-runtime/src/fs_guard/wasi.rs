//! The `wasi:filesystem` calls that reach a path, wrapped: each checks
//! with the guard where the path really leads, then hands the work to
//! wasmtime-wasi ([`GuardedFs`]); [`add_to_linker_async`] puts the wrappers
//! in place of wasmtime-wasi's definitions.

use super::guard::{FsGuard, Place, os_file};
use super::verdict::{Denial, beneath, device_at};
use std::path::Path;
use std::sync::Arc;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, DirectoryEntryStream,
    ErrorCode, HostDescriptor, HostDirectoryEntryStream, MetadataHashValue, OpenFlags, PathFlags,
};

/// The linker instance wasmtime-wasi 48 defines `wasi:filesystem/types` as.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

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
            Place::Proc(root, path) => {
                self.guard.proc_listings.insert(stream.rep(), (root, path));
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
            // What the guard refuses is not listed: the server's own
            // process, `self`, the kernel's files, another process'
            // private entries. A listing is then usable as it is (wasi-libc
            // and the preview1 adapter ask each entry's metadata hash, and
            // one refusal would fail the whole listing).
            match (&entry, self.guard.proc_listings.get(&stream.rep())) {
                (Some(e), Some((root, dir)))
                    if self
                        .guard
                        .judge(Place::Proc(*root, dir.join(&e.name)))
                        .is_err() =>
                {
                    continue;
                }
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
            "wasmtime-wasi does not define {FILESYSTEM_TYPES}: update FILESYSTEM_TYPES in fs_guard/wasi.rs"
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

    /// The names a procfs directory's listing gives a guest.
    fn listing(view: &mut GuardedFs<'_>, dir: &Resource<Descriptor>) -> Vec<String> {
        let stream = block_on(view.read_directory(borrow(dir))).unwrap();
        let mut names = Vec::new();
        while let Some(entry) = block_on(view.read_directory_entry(borrow(&stream))).unwrap() {
            names.push(entry.name);
        }
        names
    }

    #[test]
    fn procfs_listings_leave_out_what_is_refused() {
        let mut state = state("/proc");
        let proc = preopen(&mut state);
        let mut view = state.guarded_fs();
        let names = listing(&mut view, &proc);
        assert!(names.iter().any(|n| n == "net"), "{names:?}");
        for refused in ["self", "thread-self", "kcore", "kmsg"] {
            assert!(!names.iter().any(|n| n == refused), "{refused} listed");
        }
        assert!(!names.contains(&std::process::id().to_string()));
        // Every listed entry answers the metadata hash wasi-libc and the
        // preview1 adapter ask for each entry (a process may have ended).
        let no_follow = PathFlags::empty();
        for name in &names {
            let hash = block_on(view.metadata_hash_at(borrow(&proc), no_follow, name.clone()));
            assert!(
                matches!(code(hash), None | Some(ErrorCode::NoEntry)),
                "{name} is listed but refused"
            );
        }
        // Another process' directory lists its public entries only.
        let other = names
            .iter()
            .find(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .expect("some other process");
        let dir = block_on(view.open_at(
            borrow(&proc),
            no_follow,
            other.clone(),
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ,
        ))
        .unwrap();
        let entries = listing(&mut view, &dir);
        assert!(entries.iter().any(|n| n == "stat"), "{entries:?}");
        for private in ["environ", "mem", "fd", "cwd", "root"] {
            assert!(!entries.iter().any(|n| n == private), "{private} listed");
        }
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
}
