//! The compile cache, seen through `loaded_from_cache`: a miss compiles and
//! writes an entry, a hit loads it, and an entry that is damaged, of
//! another engine, of other source bytes or not safely ours is recompiled
//! and replaced.

use crate::component::Exporter;
use crate::{collect, collects, runtime_over};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A plugins directory with one exporter and a cache directory.
struct Dirs {
    plugins: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        let dirs = Dirs {
            plugins: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
        };
        Exporter::new("counter").install(dirs.plugins.path(), "counter");
        dirs
    }

    /// Starts a runtime over the directories (a restart of the server),
    /// loads everything and tells whether the plugin came from the cache.
    fn start(&self) -> bool {
        let runtime = runtime_over(self.plugins.path(), Some(self.cache.path()));
        assert_eq!(runtime.load_all(), 1);
        assert_eq!(collects(&collect(&runtime, "counter").unwrap()), 1.0);
        runtime.status()[0].loaded_from_cache
    }

    /// The cache's entries.
    fn entries(&self) -> Vec<PathBuf> {
        entries(self.cache.path())
    }

    /// The one entry, after changing it with `damage`.
    fn damage(&self, damage: impl FnOnce(&mut Vec<u8>)) {
        let [entry] = self.entries().try_into().unwrap();
        let mut bytes = std::fs::read(&entry).unwrap();
        damage(&mut bytes);
        std::fs::write(&entry, bytes).unwrap();
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn a_miss_compiles_and_writes_an_owner_only_entry_that_the_next_start_loads() {
    let dirs = Dirs::new();
    assert!(!dirs.start(), "nothing cached yet");
    let entries = dirs.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].extension().unwrap(), "cwasm");
    let mode = std::fs::metadata(&entries[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(dirs.start(), "a restart loads the cached entry");
    assert!(dirs.start());
    assert_eq!(dirs.entries(), entries, "nothing more written");
}

#[test]
fn a_truncated_or_garbled_entry_is_recompiled_and_replaced() {
    let dirs = Dirs::new();
    assert!(!dirs.start());
    dirs.damage(|bytes| bytes.truncate(bytes.len() - 100));
    assert!(!dirs.start(), "a truncated entry is not loaded");
    assert!(dirs.start(), "it was replaced");

    dirs.damage(|bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
    });
    assert!(
        !dirs.start(),
        "an entry that fails its checksum is not loaded"
    );
    assert!(dirs.start());

    dirs.damage(|bytes| *bytes = b"garbage".to_vec());
    assert!(
        !dirs.start(),
        "a file the cache did not write is not loaded"
    );
    assert!(dirs.start());
}

#[test]
fn an_entry_of_another_engine_or_other_source_bytes_is_recompiled() {
    let dirs = Dirs::new();
    assert!(!dirs.start());
    // The header: magic (16 bytes), then the hashes of the engine, the
    // source and the artifact (32 bytes each).
    dirs.damage(|bytes| bytes[16] ^= 1);
    assert!(
        !dirs.start(),
        "an entry of another engine version is not loaded"
    );
    assert!(dirs.start());
    dirs.damage(|bytes| bytes[48] ^= 1);
    assert!(
        !dirs.start(),
        "an entry of other source bytes is not loaded"
    );
    assert!(dirs.start());
}

#[test]
fn an_entry_others_may_write_is_not_trusted() {
    let dirs = Dirs::new();
    assert!(!dirs.start());
    let [entry] = dirs.entries().try_into().unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(!dirs.start(), "a world-writable entry is not loaded");
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "it was replaced by an owner-only one");
    assert!(dirs.start());
}

#[test]
fn a_cache_directory_others_may_write_is_not_used() {
    let dirs = Dirs::new();
    std::fs::set_permissions(dirs.cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(!dirs.start());
    assert!(dirs.entries().is_empty(), "nothing written there");
    assert!(!dirs.start());
}

#[test]
fn a_missing_cache_directory_is_created_owner_only() {
    let dirs = Dirs::new();
    let nested = dirs.cache.path().join("a/b");
    let runtime = runtime_over(dirs.plugins.path(), Some(&nested));
    assert_eq!(runtime.load_all(), 1);
    let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(entries(&nested).len(), 1);
}

#[test]
fn without_a_cache_directory_every_start_compiles() {
    let dirs = Dirs::new();
    for _ in 0..2 {
        let runtime = runtime_over(dirs.plugins.path(), None);
        assert_eq!(runtime.load_all(), 1);
        assert!(!runtime.status()[0].loaded_from_cache);
    }
    assert!(dirs.entries().is_empty());
}
