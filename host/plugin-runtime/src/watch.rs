//! Hot reload: watches the plugins directory and loads, replaces or removes
//! plugins as their files change.
//!
//! A file is loaded only once its writer is done: on Linux the watcher sees
//! the writer close the file; a file that was renamed into place is ready at
//! once; a file still being written (events keep coming) is left alone until
//! it has been quiet for [`QUIET_PERIOD`].
//!
//! Loads run concurrently, one at a time per file: a file whose compilation
//! takes long delays no other file, and a change to a file being loaded is
//! loaded once that load ends. Compilations among them are capped
//! runtime-wide (`RuntimeOptions::max_concurrent_compiles`; a load from the
//! compile cache needs no slot): a flood of new files queues, each load on
//! a blocking thread (never an async executor thread) for at most the
//! compile timeout.

use crate::runtime::{PluginRuntime, plugin_name_of};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a file must see no write before it is loaded when no
/// close-after-write event tells us the writer finished.
pub const QUIET_PERIOD: Duration = Duration::from_millis(1500);

/// Pause after a definitive "ready" event, so a burst of events for one
/// write (create, modify, close) leads to one load.
const SETTLE: Duration = Duration::from_millis(10);

/// How often a change waiting for its file's load in progress is retried.
const BUSY_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug)]
enum Change {
    /// The file is complete (closed after writing, or renamed into place).
    Ready(PathBuf),
    /// The file is being written.
    Writing(PathBuf),
    Removed(PathBuf),
}

/// Watches the runtime's plugins directory until the returned watcher is
/// dropped. Loading happens on blocking threads, off the async executor.
/// Keeps the watch going while alive.
pub type PluginsWatcher = notify::RecommendedWatcher;

pub fn watch_plugins_dir(runtime: PluginRuntime) -> notify::Result<PluginsWatcher> {
    let dir = runtime.plugins_dir().to_owned();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        for path in event.paths {
            if plugin_name_of(&path).is_none() {
                continue;
            }
            let change = match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => Change::Ready(path),
                EventKind::Modify(ModifyKind::Name(RenameMode::From)) => Change::Removed(path),
                EventKind::Modify(ModifyKind::Name(_)) => Change::Ready(path),
                EventKind::Create(CreateKind::File | CreateKind::Any) => Change::Writing(path),
                EventKind::Modify(_) => Change::Writing(path),
                EventKind::Remove(_) => Change::Removed(path),
                _ => continue,
            };
            let _ = tx.send(change);
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(debounce(runtime, rx));
    Ok(watcher)
}

async fn debounce(runtime: PluginRuntime, mut changes: mpsc::UnboundedReceiver<Change>) {
    // Files waiting to be loaded, with the time they become due.
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    // Files being loaded; each load reports its end on `loaded`.
    let mut loading: HashSet<PathBuf> = HashSet::new();
    let (loaded_tx, mut loaded) = mpsc::unbounded_channel::<PathBuf>();
    loop {
        let next_due = pending.values().min().copied();
        let change = match next_due {
            Some(due) => tokio::select! {
                change = changes.recv() => change,
                Some(path) = loaded.recv() => {
                    loaded_back(&runtime, &mut loading, path);
                    continue;
                }
                () = tokio::time::sleep_until(due) => {
                    let now = Instant::now();
                    let due: Vec<PathBuf> = pending
                        .iter()
                        .filter(|(_, at)| **at <= now)
                        .map(|(p, _)| p.clone())
                        .collect();
                    for path in due {
                        if loading.contains(&path) {
                            pending.insert(path, now + BUSY_RETRY);
                            continue;
                        }
                        pending.remove(&path);
                        loading.insert(path.clone());
                        let (runtime, done) = (runtime.clone(), loaded_tx.clone());
                        tokio::spawn(async move {
                            load(&runtime, path.clone()).await;
                            let _ = done.send(path);
                        });
                    }
                    continue;
                }
            },
            None => tokio::select! {
                change = changes.recv() => change,
                Some(path) = loaded.recv() => {
                    loaded_back(&runtime, &mut loading, path);
                    continue;
                }
            },
        };
        let Some(change) = change else { return };
        match change {
            Change::Ready(path) => {
                pending.insert(path, Instant::now() + SETTLE);
            }
            Change::Writing(path) => {
                pending.insert(path, Instant::now() + QUIET_PERIOD);
            }
            Change::Removed(path) => {
                pending.remove(&path);
                if !path.exists() {
                    runtime.remove_file(&path);
                }
            }
        }
    }
}

/// A load ended: a file removed meanwhile (its removal handled while the
/// load could still install it) is removed now.
fn loaded_back(runtime: &PluginRuntime, loading: &mut HashSet<PathBuf>, path: PathBuf) {
    loading.remove(&path);
    if !path.is_file() {
        runtime.remove_file(&path);
    }
}

async fn load(runtime: &PluginRuntime, path: PathBuf) {
    if !path.is_file() {
        runtime.remove_file(&path);
        return;
    }
    let runtime = runtime.clone();
    // Compilation takes a while and blocks; keep it off the executor.
    let _ = tokio::task::spawn_blocking(move || runtime.load_file(&path)).await;
}
