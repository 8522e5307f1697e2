//! The sled database the state is written through to: one tree each for
//! alerts, silences and notification log entries, records as JSON. A
//! record that cannot be read back is skipped with a warning.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The clock the state reads (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// The database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the Alertmanager state at {}: {reason}", path.display())]
pub struct OpenError {
    pub path: PathBuf,
    pub reason: String,
}

/// Runs `f`, turning a panic inside sled (a damaged file it does not
/// expect) into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, sled::Error>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(panic) => Err(format!(
            "the database is damaged: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unreadable")
        )),
    }
}

/// A change could not be written to disk (the change was not made).
#[derive(Debug, thiserror::Error)]
#[error("writing the Alertmanager state: {0}")]
pub struct WriteError(#[from] pub sled::Error);

pub(crate) const ALERTS: &str = "alerts";
pub(crate) const SILENCES: &str = "silences";
pub(crate) const NFLOG: &str = "nflog";

/// The open database.
#[derive(Clone)]
pub struct Db {
    db: sled::Db,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Opens (or creates) the database directory at `path`.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        let error = |reason| OpenError {
            path: path.to_owned(),
            reason,
        };
        let db = guarded(|| open_waiting(path)).map_err(error)?;
        // Open every tree now so a broken database fails here, by path.
        for name in [ALERTS, SILENCES, NFLOG] {
            guarded(|| db.open_tree(name)).map_err(error)?;
        }
        Ok(Db {
            db,
            path: path.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn tree(&self, name: &str) -> Result<sled::Tree, OpenError> {
        guarded(|| self.db.open_tree(name)).map_err(|reason| OpenError {
            path: self.path.clone(),
            reason,
        })
    }

    /// Waits until every change so far is on disk.
    pub fn flush(&self) -> Result<(), WriteError> {
        self.db.flush()?;
        Ok(())
    }
}

/// How long an open waits for the lock of a database that is being
/// closed in this process (sled's flusher thread lets go of it shortly
/// after the last handle is dropped).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn open_waiting(path: &Path) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Every readable record of a tree; unreadable ones are logged and
/// skipped (and left in place, so a newer version can still read them).
pub(crate) fn load<T: DeserializeOwned>(tree: &sled::Tree, what: &str) -> Vec<T> {
    let mut out = Vec::new();
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        load_into(tree, what, &mut out)
    }));
    if read.is_err() {
        tracing::warn!(
            kind = what,
            "stopping at a damaged part of the Alertmanager state"
        );
    }
    out
}

fn load_into<T: DeserializeOwned>(tree: &sled::Tree, what: &str, out: &mut Vec<T>) {
    for item in tree.iter() {
        match item {
            Ok((key, value)) => match serde_json::from_slice::<T>(&value) {
                Ok(record) => out.push(record),
                Err(err) => tracing::warn!(
                    kind = what,
                    key = %String::from_utf8_lossy(&key),
                    %err,
                    "skipping an unreadable record of the Alertmanager state"
                ),
            },
            Err(err) => {
                tracing::warn!(kind = what, %err, "stopping at an unreadable part of the Alertmanager state");
                break;
            }
        }
    }
}

/// Writes one record.
pub(crate) fn put<T: Serialize>(
    tree: &sled::Tree,
    key: &[u8],
    record: &T,
) -> Result<(), WriteError> {
    // Records are plain data; serializing them cannot fail.
    let value = serde_json::to_vec(record).unwrap_or_default();
    tree.insert(key, value)?;
    Ok(())
}

/// Waits until the tree's changes are on disk.
pub(crate) fn sync(tree: &sled::Tree) -> Result<(), WriteError> {
    tree.flush()?;
    Ok(())
}

/// Removes one record.
pub(crate) fn remove(tree: &sled::Tree, key: &[u8]) -> Result<(), WriteError> {
    tree.remove(key)?;
    Ok(())
}

/// A time as nanoseconds since the epoch, for records.
pub(crate) fn nanos(ts: Option<Timestamp>) -> Option<i128> {
    ts.map(Timestamp::as_nanosecond)
}

/// A record's time back; out-of-range values are an error (the record is
/// skipped).
pub(crate) fn from_nanos(n: Option<i128>) -> Result<Option<Timestamp>, String> {
    n.map(|n| Timestamp::from_nanosecond(n).map_err(|e| e.to_string()))
        .transpose()
}
