//! Loading plugin files: reading them under the size limit, compiling them
//! (or reading them from the compile cache) within the compile timeout,
//! reading their metadata, and swapping a new version in; and removing a
//! plugin whose file is gone.

use super::desired::desired_instances;
use super::slots::{COMPILING, GAVE_UP, WAITING};
use super::state::{LoadedPlugin, PluginRuntime, plugin_name_of};
use crate::bindings::ExporterPre;
use crate::cache::Origin;
use crate::error::LoadError;
use crate::instance::read_metadata;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};
use wasmtime::component::Component;

impl PluginRuntime {
    /// Loads every top-level `*.wasm` in the plugins directory, a few at a
    /// time, logging progress. Failures are logged and kept in the plugin's
    /// status. Each load is bounded by the compile timeout and its calls'
    /// deadlines, so a hostile file delays the others by no more than that.
    pub fn load_all(&self) -> usize {
        let dir = &self.inner.options.plugins_dir;
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && plugin_name_of(p).is_some())
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the plugins directory");
                return 0;
            }
        };
        files.sort();
        let started = Instant::now();
        let total = files.len();
        let (next, processed, loaded) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let loaders = total.clamp(1, 4);
        std::thread::scope(|scope| {
            for _ in 0..loaders {
                scope.spawn(|| {
                    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        match self.load_file(path) {
                            Ok(()) => _ = loaded.fetch_add(1, Ordering::Relaxed),
                            Err(e) => tracing::error!("{e}"),
                        }
                        let done = processed.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::info!(
                            "plugins: {done}/{total} processed, {} loaded, {:.1}/s",
                            loaded.load(Ordering::Relaxed),
                            done as f64 / started.elapsed().as_secs_f64().max(1e-9)
                        );
                    }
                });
            }
        });
        loaded.into_inner()
    }

    /// Reads `path`, refusing files over the size limit before reading them.
    pub(crate) fn read_plugin(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let limit = self.inner.options.max_plugin_size;
        let read_error = |e: std::io::Error| LoadError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let too_large = |size| LoadError::TooLarge {
            path: path.to_owned(),
            size,
            limit,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        if size > limit {
            return Err(too_large(size));
        }
        // The file may grow while being read: read one byte past the limit.
        let mut bytes = Vec::with_capacity(size as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        Ok(bytes)
    }

    /// Compiles `bytes` (or reads them from the cache) on a thread of its
    /// own, waiting at most until the compile timeout after `requested`:
    /// for a compile slot (see [`CompileSlots`]), then for the compilation.
    /// Compilation cannot be cancelled: a late one finishes unobserved, and
    /// the plugin cannot start another until it has.
    pub(crate) fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: Vec<u8>,
        requested: Instant,
    ) -> Result<(Component, Origin), LoadError> {
        let compile_error = |message: String| LoadError::Compile {
            path: path.to_owned(),
            message,
        };
        let timeout = self.inner.options.compile_timeout;
        let slots = Arc::clone(&self.inner.compile_slots);
        let busy = || LoadError::Busy {
            path: path.to_owned(),
            message: format!(
                "no compile slot came free within the compile timeout of {timeout:?} (all {} \
                 are taken by other plugins' compilations); it is retried on the next change \
                 of the file, or raise the compile timeout",
                slots.limit
            ),
        };
        if !self.inner.compiling.lock().insert(name.to_owned()) {
            return Err(compile_error(
                "an earlier version of this plugin is still compiling (it was abandoned after the \
                 compile timeout); it is retried on the next change of the file"
                    .into(),
            ));
        }
        let deadline = requested + timeout;
        let phase = Arc::new(AtomicU8::new(WAITING));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (engine, cache) = (self.inner.engine.clone(), self.inner.cache.clone());
        let compiling = Arc::clone(&self.inner.compiling);
        let plugin = name.to_owned();
        let spawned = {
            let (slots, phase) = (Arc::clone(&slots), Arc::clone(&phase));
            std::thread::Builder::new()
                .name(format!("compile-{name}"))
                .spawn(move || {
                    let result = cache.load_or_compile(&engine, &bytes, deadline, || {
                        // Taken only if the load still waits for it.
                        let claim = || {
                            phase
                                .compare_exchange(
                                    WAITING,
                                    COMPILING,
                                    Ordering::AcqRel,
                                    Ordering::Acquire,
                                )
                                .is_ok()
                        };
                        slots
                            .acquire(deadline, claim)
                            .ok_or_else(|| wasmtime::format_err!("no compile slot"))
                    });
                    compiling.lock().remove(&plugin);
                    let _ = tx.send(result);
                })
        };
        if let Err(e) = spawned {
            self.inner.compiling.lock().remove(name);
            return Err(compile_error(format!(
                "cannot start a compiler thread: {e}"
            )));
        }
        let waited = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match waited {
            Ok(Ok(compiled)) => Ok(compiled),
            // No compilation started: the wait for a slot ran out.
            Ok(Err(_)) if phase.load(Ordering::Acquire) != COMPILING => Err(busy()),
            Ok(Err(e)) => Err(compile_error(error_chain(&e))),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let gave_up = phase
                    .compare_exchange(WAITING, GAVE_UP, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if gave_up {
                    return Err(busy());
                }
                Err(compile_error(format!(
                    "compilation did not finish within {timeout:?} and was abandoned; the component \
                     is too large or too complex (split it, or build it with optimisations)"
                )))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(compile_error("the compiler thread failed".into()))
            }
        }
    }

    /// Compiles (or reads from cache) and validates the plugin at `path`,
    /// then swaps it in: its instances are opened on the new version first,
    /// and only when all open does the new version replace the old. On any
    /// failure the old version keeps serving and the error is recorded.
    /// This blocks; call it off the async executor. The compile timeout
    /// counts from this call, the wait for a compile slot included.
    ///
    /// A file removed while it loaded is removed once the load ends (its
    /// instances stopped, its entry gone): the removal may have been seen,
    /// and acted on, before the load installed it. A load that fails leaves
    /// its error in the status only while its file is there.
    pub fn load_file(&self, path: &Path) -> Result<(), LoadError> {
        let Some(name) = plugin_name_of(path) else {
            return Ok(());
        };
        let had_version = self
            .inner
            .state
            .lock()
            .plugins
            .get(&name)
            .is_some_and(|s| s.loaded.is_some());
        let result = self.load_and_swap(&name, path);
        let mut state = self.inner.state.lock();
        let slot = state.plugins.entry(name.clone()).or_default();
        match &result {
            Ok(()) => slot.last_error = None,
            Err(e) => {
                slot.last_error = Some(e.to_string());
                slot.load_failures += 1;
                if had_version {
                    tracing::error!(plugin = %name, "new version rejected, the previous version keeps serving: {e}");
                } else {
                    tracing::error!(plugin = %name, "{e}");
                }
            }
        }
        // Checked after the install: a removal after this check reaches
        // the watcher after the install too, and it removes the plugin.
        let gone = !path.is_file();
        drop(state);
        if gone {
            self.remove_file(path);
        }
        result
    }

    fn load_and_swap(&self, name: &str, path: &Path) -> Result<(), LoadError> {
        let started = Instant::now();
        let bytes = self.read_plugin(path)?;
        let compile_error = |message: String| LoadError::Compile {
            path: path.to_owned(),
            message,
        };
        let (component, origin) = self.compile(name, path, bytes, started)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| compile_error(error_chain(&e)))?;
        let pre = ExporterPre::new(pre.clone()).map_err(|e| {
            // A receiver in the plugins directory: say what it is.
            if crate::bindings::receiver::ReceiverPre::new(pre).is_ok() {
                LoadError::Receiver {
                    path: path.to_owned(),
                }
            } else {
                compile_error(error_chain(&e))
            }
        })?;
        let timeout = self.inner.options.metadata_timeout;
        let metadata = {
            let pre = pre.clone();
            self.run(async move { read_metadata(&pre, timeout).await })
                .unwrap_or_else(|| Err("the plugin executor is shutting down".into()))
        }
        .map_err(|message| LoadError::Metadata {
            path: path.to_owned(),
            message,
        })?;
        let plugin = Arc::new(LoadedPlugin {
            path: path.to_owned(),
            pre,
            metadata,
            load_duration: started.elapsed(),
            origin,
            loaded_at: SystemTime::now(),
        });

        // Open the new version's instances before touching the old ones.
        let (config, replacing) = {
            let state = self.inner.state.lock();
            let replacing = state.plugins.get(name).is_some_and(|s| s.loaded.is_some());
            (state.config.clone(), replacing)
        };
        let metrics = self.plugin_metrics(name);
        let mut fresh = BTreeMap::new();
        let mut failed = BTreeMap::new();
        let prepared = desired_instances(name, &plugin.metadata, &config)
            .into_iter()
            .map(|(instance_config, target)| {
                self.prepare_instance(
                    &plugin,
                    name,
                    instance_config.as_ref(),
                    &config,
                    target,
                    &metrics,
                )
            })
            .collect();
        for started in self.start_all(prepared) {
            match started {
                Ok(running) => {
                    fresh.insert(running.target.instance.clone(), running);
                }
                // A replacement must open everything the old version ran.
                Err((instance, e)) if replacing => {
                    return Err(LoadError::Open {
                        path: path.to_owned(),
                        instance,
                        message: e.to_string(),
                    });
                }
                Err((instance, e)) => {
                    failed.insert(instance, (name.to_owned(), e.to_string()));
                }
            }
        }
        tracing::info!(
            plugin = %name,
            version = %plugin.metadata.version,
            from_cache = origin == Origin::Cached,
            instances = fresh.len(),
            "loaded plugin in {:.1} ms",
            plugin.load_duration.as_secs_f64() * 1e3
        );
        let first_failure = failed
            .iter()
            .next()
            .map(|(instance, (_, message))| LoadError::Open {
                path: path.to_owned(),
                instance: instance.clone(),
                message: message.clone(),
            });
        let mut state = self.inner.state.lock();
        let mut replaced = Vec::new();
        state.instances.retain(|_, i| {
            let keep = &*i.handle.plugin != name;
            if !keep {
                replaced.push(Arc::clone(&i.handle));
            }
            keep
        });
        state
            .failed_instances
            .retain(|_, (plugin, _)| plugin != name);
        state.instances.extend(fresh);
        state.failed_instances.extend(failed);
        state.plugins.entry(name.to_owned()).or_default().loaded = Some(plugin);
        drop(state);
        self.bump();
        self.stop_all(replaced);
        // Loaded, but an instance could not open: report it.
        match first_failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops a removed plugin's instances; their targets disappear, which
    /// makes their series stale.
    pub fn remove_file(&self, path: &Path) {
        let Some(name) = plugin_name_of(path) else {
            return;
        };
        let mut state = self.inner.state.lock();
        let Some(slot) = state.plugins.get_mut(&name) else {
            return;
        };
        // A different file may have been loaded under this name meanwhile.
        if slot.loaded.as_ref().is_some_and(|p| p.path != path) {
            return;
        }
        let metrics = Arc::clone(&slot.metrics);
        state.plugins.remove(&name);
        let removed: Vec<String> = state
            .instances
            .iter()
            .filter(|(_, i)| *i.handle.plugin == name)
            .map(|(n, _)| n.clone())
            .collect();
        for instance in &removed {
            if let Some(running) = state.instances.remove(instance) {
                // Not waited for: this may run on an async thread.
                running.handle.request_stop();
            }
            metrics.forget_instance(instance);
        }
        state
            .failed_instances
            .retain(|_, (plugin, _)| *plugin != name);
        drop(state);
        tracing::info!(plugin = %name, instances = removed.len(), "plugin removed; its instances stopped");
        self.bump();
    }
}

fn error_chain(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
