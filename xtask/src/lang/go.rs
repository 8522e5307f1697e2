//! go plugins: toolchain, build, tests, scaffold (see [`super`]).

use super::{Result, Tools};
use std::path::Path;

pub fn ensure(_tools: &Tools) -> Result {
    Err("go: not implemented yet".into())
}

pub fn build(_tools: &Tools, _dir: &Path, _out: &Path) -> Result {
    Err("go: not implemented yet".into())
}

pub fn test(_tools: &Tools, _dir: &Path) -> Result {
    Err("go: not implemented yet".into())
}

pub fn test_sdk(_tools: &Tools) -> Result {
    Err("go: not implemented yet".into())
}

pub fn scaffold(_name: &str, _dir: &Path) -> Result {
    Err("go: not implemented yet".into())
}
