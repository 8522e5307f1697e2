//! The languages plugins are written in, besides Rust: where each one's
//! toolchain is installed, how an example or a scaffolded plugin in it is
//! built into a component and tested natively, and how a new one is
//! scaffolded. Every language module has the same five functions:
//!
//! - `ensure(&Tools)`: installs its toolchain under [`Tools::dir`] if it is
//!   missing (idempotent, version-stamped, with progress lines);
//! - `build(&Tools, dir, out)`: builds the plugin project in `dir` into the
//!   component `out`;
//! - `test(&Tools, dir)`: runs that project's own tests natively;
//! - `test_sdk(&Tools)`: runs `sdk/<lang>`'s own tests natively;
//! - `scaffold(name, dir)`: writes a new plugin project with a test in
//!   `dir`, which does not exist yet.

pub mod c;
pub mod go;
pub mod js;
pub mod python;

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) use crate::Result;

/// Where toolchains live and what they build against.
pub struct Tools {
    /// `$WASMETHEUS_TOOLS`, by default `~/.cache/wasmetheus/tools`: kept
    /// across clones and runs, so a toolchain is installed once per machine.
    pub dir: PathBuf,
    /// The repository's root.
    pub root: PathBuf,
}

impl Tools {
    pub fn from_env() -> Tools {
        let dir = std::env::var_os("WASMETHEUS_TOOLS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home =
                    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
                home.join(".cache/wasmetheus/tools")
            });
        Tools {
            dir,
            root: crate::root(),
        }
    }

    /// `wit/`: the one WIT package every plugin is built against.
    pub fn wit_dir(&self) -> PathBuf {
        self.root.join("wit")
    }

    /// `sdk/<lang>`.
    pub fn sdk_dir(&self, lang: &str) -> PathBuf {
        self.root.join("sdk").join(lang)
    }
}

/// Runs `cmd`, echoing it; an error names the command and its exit status.
pub fn run(cmd: Command) -> Result {
    crate::status(cmd)
}

/// Writes `contents` to `path`, creating its parent directories.
pub fn write(path: &Path, contents: &str) -> Result {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(path, contents).map_err(|e| format!("writing {}: {e}", path.display()))
}
