//! Builds every guest program under `tests/guests/` and every first-party
//! plugin under `plugins/` for wasm32-wasip2, and generates `guests.rs`: a
//! constant with each `.wasm` path and a `foreach_guest!` macro the tests
//! use to prove every guest has a test.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_owned();
    let guests_dir = manifest_dir.join("guests");
    println!("cargo:rerun-if-changed={}", guests_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("sdk/rust/src").display()
    );
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());

    let guests = packages_in(&guests_dir);
    // First-party plugins are built too, for the tests that run them.
    let plugins = packages_in(&workspace.join("plugins"));
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("plugins").display()
    );

    // A separate target directory: the outer cargo holds the main one.
    let target_dir = workspace.join("target/guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package) in guests.iter().chain(&plugins) {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage) are for the
    // host; the guests build plain.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo to build the test guests");
    assert!(
        status.success(),
        "building the test guests failed; is the wasm32-wasip2 target installed? \
         (`rustup target add wasm32-wasip2`)"
    );

    let mut generated = String::new();
    for (dir, package) in &guests {
        let wasm = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("{}.wasm", package.replace('-', "_")));
        assert!(wasm.exists(), "{} was not built", wasm.display());
        generated.push_str(&format!(
            "pub const {}: &str = {:?};\n",
            dir.to_uppercase(),
            wasm.display().to_string()
        ));
    }
    for (ident, package) in &plugins {
        let wasm = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("{}.wasm", package.replace('-', "_")));
        generated.push_str(&format!(
            "/// The first-party plugin `{package}`.\npub const PLUGIN_{}: &str = {:?};\n",
            ident.to_uppercase(),
            wasm.display().to_string()
        ));
    }
    generated.push_str("#[macro_export]\nmacro_rules! foreach_guest {\n    ($mac:ident) => {\n");
    for (dir, _) in &guests {
        generated.push_str(&format!("        $mac!({dir});\n"));
    }
    generated.push_str("    };\n}\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, generated).unwrap();
}

/// The crates in the subdirectories of `dir`, as (the directory name as a
/// Rust identifier, package name), sorted.
fn packages_in(dir: &Path) -> Vec<(String, String)> {
    let mut packages: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let manifest = std::fs::read_to_string(path.join("Cargo.toml")).ok()?;
            let package = manifest
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = "))?
                .trim_matches('"')
                .to_owned();
            let ident = path.file_name()?.to_str()?.replace('-', "_");
            Some((ident, package))
        })
        .collect();
    packages.sort();
    packages
}
