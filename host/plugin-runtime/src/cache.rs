//! On-disk cache of compiled components, keyed by the component's bytes and
//! the engine's compatibility hash, so a restart does not recompile.
//!
//! A cached entry is native code the host will run, so it is only used when
//! it is certainly ours and certainly what we compiled from these bytes:
//!
//! - the cache directory is created owner-only (0700) and is not used at all
//!   when it is group- or world-writable or owned by another user;
//! - entries are written owner-only (0600), atomically (a temporary file
//!   renamed into place); an entry that is a symlink, not a regular file,
//!   group- or world-writable or owned by another user is ignored;
//! - an entry starts with our header: a magic string, a hash of the engine's
//!   compatibility key, the SHA-256 of the `.wasm` it was compiled from and
//!   the SHA-256 of the serialized artifact that follows. All four are
//!   checked before `Component::deserialize` sees a byte, so a stale,
//!   truncated, tampered or foreign file (another component's entry copied
//!   over, a raw `.cwasm` dropped in) is recompiled and replaced, with a
//!   warning naming the reason.
//!
//! With a [`CompilerCommand`], a miss is compiled in a child process
//! (`compiler.rs`) killed at the compile timeout; its artifact is stored and
//! deserialised as the in-process compiler's would be.
//!
//! The hashes protect integrity, not against the server's own user: anyone
//! who can write as that user can run code as it anyway. The directory's
//! parents are not checked: a cache under a directory others may rename
//! entries of (one without the sticky bit, writable by others) is only as
//! safe as that directory.

use crate::compiler::CompilerCommand;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every entry this cache writes.
const MAGIC: &[u8; 16] = b"wasmetheus-cwasm";
/// Magic, engine hash, source hash, artifact hash.
const HEADER_LEN: usize = 16 + 32 * 3;

/// Where compiled components are kept; `None` disables caching.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
    /// Compiles out of process when set; `None` compiles on the caller's
    /// thread.
    compiler: Option<Arc<OutOfProcess>>,
}

#[derive(Debug)]
struct OutOfProcess {
    command: CompilerCommand,
    timeout: Duration,
    /// Set when the runtime is dropped: compiler processes are killed.
    stop: AtomicBool,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

/// What looking a component up in the cache found.
enum Lookup {
    Hit(Component),
    Miss,
    /// An entry (or the directory) exists but must not be used.
    Refused(String),
}

/// Why a directory or file with this owner and mode may not be trusted.
fn ownership_problem(uid: u32, mode: u32, euid: u32) -> Option<&'static str> {
    if uid != euid {
        Some("it is owned by another user")
    } else if mode & 0o022 != 0 {
        Some("it is group or world writable")
    } else {
        None
    }
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

impl CompileCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        // The engine hash covers wasmtime's version and every setting that
        // affects compiled code; it is stable within one build of the host.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            compiler: None,
        }
    }

    /// Compiles misses with `command` in a child process killed after
    /// `timeout`; `None` keeps compiling in process.
    pub fn with_compiler(mut self, command: Option<CompilerCommand>, timeout: Duration) -> Self {
        self.compiler = command.map(|command| {
            Arc::new(OutOfProcess {
                command,
                timeout,
                stop: AtomicBool::new(false),
            })
        });
        self
    }

    /// Kills the compiler processes running now and refuses to start more.
    pub fn stop_compilers(&self) {
        if let Some(compiler) = &self.compiler {
            compiler.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Compiles `bytes`, in the compiler process when there is one (which
    /// also returns the serialized artifact, and is killed at `deadline`),
    /// else on this thread.
    fn compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        deadline: Instant,
    ) -> wasmtime::Result<(Component, Option<Vec<u8>>)> {
        let Some(compiler) = &self.compiler else {
            return Ok((Component::from_binary(engine, bytes)?, None));
        };
        if compiler.stop.load(Ordering::Relaxed) {
            return Err(crate::compiler::CompilerError::Stopped.into());
        }
        let artifact =
            compiler
                .command
                .compile(bytes, compiler.timeout, deadline, &compiler.stop)?;
        // SAFETY: the artifact is what `Engine::precompile_component` wrote
        // in our own compiler process, on an engine with this engine's
        // compiler settings (`engine::compiler_config`), from these bytes;
        // wasmtime checks its own header and the engine's compatibility and
        // refuses anything else. The code in it is what the in-process
        // compiler would have produced.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, Some(artifact)))
    }

    fn path_for(&self, dir: &Path, source_hash: &[u8; 32]) -> PathBuf {
        let hex: String = source_hash
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    fn engine_hash(&self) -> [u8; 32] {
        Sha256::digest(self.engine_key.as_bytes()).into()
    }

    /// The compiled form of `bytes`: from the cache when a trustworthy entry
    /// is there, otherwise compiled now and written back.
    ///
    /// `gate` is called only when the component must be compiled (not on a
    /// cache hit); what it returns is held until the compilation has ended,
    /// and its error is returned without compiling. A compiler process is
    /// killed at `deadline` (when the load stops waiting), or the compile
    /// timeout after it started if that is earlier.
    pub fn load_or_compile<G>(
        &self,
        engine: &Engine,
        bytes: &[u8],
        deadline: Instant,
        gate: impl FnOnce() -> wasmtime::Result<G>,
    ) -> wasmtime::Result<(Component, Origin)> {
        let compile = |gate: G| {
            let compiled = self.compile(engine, bytes, deadline);
            drop(gate);
            compiled
        };
        let Some(dir) = &self.dir else {
            return Ok((compile(gate()?)?.0, Origin::Compiled));
        };
        if let Err(problem) = prepare_dir(dir) {
            tracing::warn!(dir = %dir.display(), "not using the compiled-component cache: {problem}");
            return Ok((compile(gate()?)?.0, Origin::Compiled));
        }
        let source_hash: [u8; 32] = Sha256::digest(bytes).into();
        let path = self.path_for(dir, &source_hash);
        match self.lookup(engine, &path, &source_hash) {
            Lookup::Hit(component) => return Ok((component, Origin::Cached)),
            Lookup::Miss => {}
            Lookup::Refused(reason) => {
                tracing::warn!(path = %path.display(), "ignoring cached component and recompiling: {reason}");
            }
        }
        let (component, artifact) = compile(gate()?)?;
        let stored = match artifact {
            Some(artifact) => self.store(&path, &source_hash, &artifact),
            None => component
                .serialize()
                .map_err(anyhow::Error::from)
                .and_then(|artifact| self.store(&path, &source_hash, &artifact)),
        };
        if let Err(e) = stored {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the compiled-component cache");
        }
        Ok((component, Origin::Compiled))
    }

    fn lookup(&self, engine: &Engine, path: &Path, source_hash: &[u8; 32]) -> Lookup {
        // No symlinks: an entry is a file of ours, not a pointer elsewhere.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path);
        let mut file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Refused(format!("cannot open it: {e}")),
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => return Lookup::Refused(format!("cannot stat it: {e}")),
        };
        if !meta.is_file() {
            return Lookup::Refused("it is not a regular file".into());
        }
        if let Some(problem) = ownership_problem(meta.uid(), meta.mode(), euid()) {
            return Lookup::Refused(problem.into());
        }
        // Read into memory rather than mapping the file: a mapped cache
        // file truncated by someone else would crash the host (SIGBUS).
        let mut entry = Vec::new();
        if let Err(e) = file.read_to_end(&mut entry) {
            return Lookup::Refused(format!("cannot read it: {e}"));
        }
        let artifact = match self.verify(&entry, source_hash) {
            Ok(artifact) => artifact,
            Err(reason) => return Lookup::Refused(reason.into()),
        };
        // SAFETY: the artifact is byte for byte what `Component::serialize`
        // produced for these source bytes on an engine with this
        // compatibility key (checked above by hashes in a header only the
        // server's user can have written); wasmtime still checks its own
        // header and refuses a mismatched artifact.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Lookup::Hit(component),
            Err(e) => Lookup::Refused(format!("wasmtime cannot load it: {e}")),
        }
    }

    /// The artifact of an entry, if its header matches this engine, these
    /// source bytes and the artifact itself.
    fn verify<'a>(
        &self,
        entry: &'a [u8],
        source_hash: &[u8; 32],
    ) -> Result<&'a [u8], &'static str> {
        if entry.len() < HEADER_LEN || &entry[..16] != MAGIC {
            return Err("it was not written by this cache");
        }
        let (engine, rest) = entry[16..].split_at(32);
        let (source, rest) = rest.split_at(32);
        let (artifact_hash, artifact) = rest.split_at(32);
        if engine != self.engine_hash() {
            return Err("it was compiled by a different engine");
        }
        if source != source_hash {
            return Err("it was not compiled from this .wasm");
        }
        if artifact_hash != Sha256::digest(artifact).as_slice() {
            return Err("its contents do not match its checksum (truncated or modified)");
        }
        Ok(artifact)
    }

    fn store(&self, path: &Path, source_hash: &[u8; 32], artifact: &[u8]) -> anyhow::Result<()> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let written = (|| {
            file.write_all(MAGIC)?;
            file.write_all(&self.engine_hash())?;
            file.write_all(source_hash)?;
            file.write_all(&Sha256::digest(artifact))?;
            file.write_all(artifact)?;
            // Whatever the umask did, the entry is the owner's alone.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.sync_all()
        })();
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(())
    }
}

/// Creates the cache directory owner-only if it is missing; refuses one
/// that others could write to.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot stat it: {e}"))?;
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    match ownership_problem(meta.uid(), meta.mode(), euid()) {
        Some(problem) => Err(format!(
            "{problem} (make it the server user's own, e.g. chmod 700)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: preamble and version, no sections.
    const EMPTY: &[u8] = b"\0asm\x0d\x00\x01\x00";

    /// Another valid component: the empty one with a custom section.
    fn other_component() -> Vec<u8> {
        let mut bytes = EMPTY.to_vec();
        bytes.extend_from_slice(&[0, 5, 4, b'n', b'o', b't', b'e']);
        bytes
    }

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap()
    }

    struct Fixture {
        _tmp: tempfile::TempDir,
        dir: PathBuf,
        engine: Engine,
        cache: CompileCache,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache/nested");
        let engine = engine();
        let cache = CompileCache::new(&engine, Some(dir.clone()));
        Fixture {
            _tmp: tmp,
            dir,
            engine,
            cache,
        }
    }

    impl Fixture {
        fn load(&self, bytes: &[u8]) -> Origin {
            self.cache
                .load_or_compile(
                    &self.engine,
                    bytes,
                    Instant::now() + Duration::from_secs(60),
                    || Ok(()),
                )
                .unwrap()
                .1
        }

        fn entry(&self, bytes: &[u8]) -> PathBuf {
            self.cache
                .path_for(&self.dir, &Sha256::digest(bytes).into())
        }

        fn refusal(&self, bytes: &[u8]) -> String {
            let source = Sha256::digest(bytes).into();
            match self.cache.lookup(&self.engine, &self.entry(bytes), &source) {
                Lookup::Refused(reason) => reason,
                Lookup::Hit(_) => panic!("the entry was used"),
                Lookup::Miss => panic!("no entry"),
            }
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn entries_are_owner_only_and_reused() {
        let f = fixture();
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        assert_eq!(mode(&f.dir), 0o700);
        assert_eq!(mode(&f.entry(EMPTY)), 0o600);
        assert_eq!(f.load(EMPTY), Origin::Cached);
    }

    #[test]
    fn a_tampered_entry_is_recompiled_and_replaced() {
        let f = fixture();
        f.load(EMPTY);
        let path = f.entry(EMPTY);
        let mut entry = std::fs::read(&path).unwrap();
        let last = entry.len() - 1;
        entry[last] ^= 1;
        std::fs::write(&path, &entry).unwrap();
        assert!(f.refusal(EMPTY).contains("do not match its checksum"));
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        assert_eq!(f.load(EMPTY), Origin::Cached);
        // Truncated too.
        let entry = std::fs::read(&path).unwrap();
        std::fs::write(&path, &entry[..entry.len() / 2]).unwrap();
        assert_eq!(f.load(EMPTY), Origin::Compiled);
    }

    #[test]
    fn a_foreign_entry_is_never_deserialized() {
        let f = fixture();
        let other = other_component();
        f.load(&other);
        // Another component's (valid) entry put in this one's place.
        std::fs::copy(f.entry(&other), f.entry(EMPTY)).unwrap();
        assert!(f.refusal(EMPTY).contains("not compiled from this .wasm"));
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        // A raw serialized component, as wasmtime writes it, without our
        // header: wasmtime would load it, the cache does not.
        let raw = Component::from_binary(&f.engine, EMPTY)
            .unwrap()
            .serialize()
            .unwrap();
        std::fs::write(f.entry(EMPTY), raw).unwrap();
        assert!(f.refusal(EMPTY).contains("not written by this cache"));
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        assert_eq!(f.load(EMPTY), Origin::Cached);
    }

    #[test]
    fn a_writable_or_linked_entry_is_ignored() {
        let f = fixture();
        f.load(EMPTY);
        let path = f.entry(EMPTY);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(f.refusal(EMPTY).contains("group or world writable"));
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        assert_eq!(mode(&path), 0o600);
        // Another user's entry (only root can make one to test with).
        if euid() == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert!(f.refusal(EMPTY).contains("owned by another user"));
            assert_eq!(f.load(EMPTY), Origin::Compiled);
        }
        // A symlink to a good entry is not followed.
        let real = f.dir.join("real.cwasm");
        std::fs::rename(&path, &real).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert!(f.refusal(EMPTY).contains("cannot open it"));
        assert_eq!(f.load(EMPTY), Origin::Compiled);
    }

    #[test]
    fn a_writable_cache_directory_is_not_used() {
        let f = fixture();
        f.load(EMPTY);
        std::fs::set_permissions(&f.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            prepare_dir(&f.dir)
                .unwrap_err()
                .contains("group or world writable")
        );
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        assert_eq!(f.load(EMPTY), Origin::Compiled);
        std::fs::set_permissions(&f.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(f.load(EMPTY), Origin::Cached);
    }

    #[test]
    fn ownership_rules() {
        assert_eq!(ownership_problem(1000, 0o100600, 1000), None);
        assert_eq!(ownership_problem(1000, 0o40755, 1000), None);
        assert_eq!(
            ownership_problem(0, 0o100600, 1000),
            Some("it is owned by another user")
        );
        assert_eq!(
            ownership_problem(1000, 0o100620, 1000),
            Some("it is group or world writable")
        );
        assert_eq!(
            ownership_problem(1000, 0o40777, 1000),
            Some("it is group or world writable")
        );
    }
}
