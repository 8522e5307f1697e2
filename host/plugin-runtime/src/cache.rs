//! On-disk cache of compiled components, keyed by the component's bytes and
//! the engine's compatibility hash, so a restart does not recompile.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept; `None` disables caching.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
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
        }
    }

    fn path_for(&self, dir: &Path, bytes: &[u8]) -> PathBuf {
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// The compiled form of `bytes`: from the cache when present and
    /// loadable, otherwise compiled now and written back.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, Origin)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::from_binary(engine, bytes)?, Origin::Compiled));
        };
        let path = self.path_for(dir, bytes);
        // Read into memory rather than mapping the file: a mapped cache
        // file truncated by someone else would crash the host (SIGBUS).
        if let Ok(serialized) = std::fs::read(&path) {
            // SAFETY: the file was produced by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name) and
            // is written atomically, so it is never a partial file; wasmtime
            // still checks its header and refuses a mismatched artifact.
            match unsafe { Component::deserialize(engine, &serialized) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached component");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::from_binary(engine, bytes)?;
        if let Err(e) = self.store(dir, &path, &component) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the compiled-component cache");
        }
        Ok((component, Origin::Compiled))
    }

    fn store(&self, dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let serialized = component.serialize()?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serialized)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
