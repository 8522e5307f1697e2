//! Where the PromQL conformance corpus is, shared by the test files that
//! read it (here and in wasmetheus-promqltest's tests, which include this
//! file): `$WASMETHEUS_CONFORMANCE/promql`, by default the `shared`
//! checkout beside the workspace. A missing corpus fails loudly.

use std::path::PathBuf;

/// The `*.test` files of the corpus, sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let root = std::env::var_os("WASMETHEUS_CONFORMANCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        PathBuf::from,
    );
    let dir = root.join("promql");
    assert!(
        dir.join("FORMAT.md").is_file(),
        "the PromQL conformance corpus is missing at {} (set WASMETHEUS_CONFORMANCE)",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test files in {}", dir.display());
    files
}
