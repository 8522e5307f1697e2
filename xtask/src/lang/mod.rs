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
pub mod rust;

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

/// A language a plugin can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
    Go,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C, Lang::Go];

    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
            Lang::Go => "go",
        }
    }

    pub fn parse(name: &str) -> Result<Lang> {
        match name {
            "rust" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "js" | "javascript" => Ok(Lang::Js),
            "c" => Ok(Lang::C),
            "go" => Ok(Lang::Go),
            other => Err(format!(
                "unknown language {other:?}: use one of rust, python, js, c, go"
            )),
        }
    }

    /// The language of the plugin project in `dir`, from its marker file.
    pub fn detect(dir: &Path) -> Result<Lang> {
        let markers = [
            ("Cargo.toml", Lang::Rust),
            ("go.mod", Lang::Go),
            ("package.json", Lang::Js),
            ("pyproject.toml", Lang::Python),
            ("Makefile", Lang::C),
        ];
        markers
            .iter()
            .find(|(file, _)| dir.join(file).is_file())
            .map(|(_, lang)| *lang)
            .ok_or_else(|| {
                format!(
                    "{}: not a plugin project (none of Cargo.toml, go.mod, package.json, \
                     pyproject.toml, Makefile); create one with `cargo xtask new-plugin`",
                    dir.display()
                )
            })
    }

    pub fn ensure(self, tools: &Tools) -> Result {
        match self {
            Lang::Rust => rust::ensure(tools),
            Lang::Python => python::ensure(tools),
            Lang::Js => js::ensure(tools),
            Lang::C => c::ensure(tools),
            Lang::Go => go::ensure(tools),
        }
    }

    pub fn build(self, tools: &Tools, dir: &Path, out: &Path) -> Result {
        match self {
            Lang::Rust => rust::build(tools, dir, out),
            Lang::Python => python::build(tools, dir, out),
            Lang::Js => js::build(tools, dir, out),
            Lang::C => c::build(tools, dir, out),
            Lang::Go => go::build(tools, dir, out),
        }
    }

    pub fn test(self, tools: &Tools, dir: &Path) -> Result {
        match self {
            Lang::Rust => rust::test(tools, dir),
            Lang::Python => python::test(tools, dir),
            Lang::Js => js::test(tools, dir),
            Lang::C => c::test(tools, dir),
            Lang::Go => go::test(tools, dir),
        }
    }

    pub fn test_sdk(self, tools: &Tools) -> Result {
        match self {
            Lang::Rust => rust::test_sdk(tools),
            Lang::Python => python::test_sdk(tools),
            Lang::Js => js::test_sdk(tools),
            Lang::C => c::test_sdk(tools),
            Lang::Go => go::test_sdk(tools),
        }
    }

    pub fn scaffold(self, name: &str, dir: &Path) -> Result {
        match self {
            Lang::Rust => rust::scaffold(name, dir),
            Lang::Python => python::scaffold(name, dir),
            Lang::Js => js::scaffold(name, dir),
            Lang::C => c::scaffold(name, dir),
            Lang::Go => go::scaffold(name, dir),
        }
    }
}
