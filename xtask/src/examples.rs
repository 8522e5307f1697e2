//! Plugins in every language: `toolchains`, `build-examples`, `new-plugin`,
//! and the part of `test-plugins` that covers `examples/`, the SDKs and the
//! scaffolds. What is language-specific lives in [`crate::lang`].

use crate::Result;
use crate::lang::{Lang, Tools};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `cargo xtask toolchains [LANG…]`: installs the toolchains (all by
/// default) under `$WASMETHEUS_TOOLS`.
pub fn toolchains(args: &[String]) -> Result {
    let tools = Tools::from_env();
    let langs = if args.is_empty() {
        Lang::ALL.to_vec()
    } else {
        args.iter().map(|a| Lang::parse(a)).collect::<Result<_>>()?
    };
    for lang in langs {
        let started = Instant::now();
        lang.ensure(&tools)
            .map_err(|e| format!("installing the {} toolchain: {e}", lang.name()))?;
        eprintln!(
            "xtask: {} toolchain ready ({:.1} s)",
            lang.name(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Every project under `examples/`, sorted, with its language.
pub fn examples() -> Result<Vec<(PathBuf, Lang)>> {
    let dir = crate::root().join("examples");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            let lang = Lang::detect(&path)?;
            found.push((path, lang));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Where `dir` is built to: `target/examples/<dir's name>.wasm`.
fn output_of(dir: &Path) -> Result<PathBuf> {
    // `.` and `..` have no name of their own until made absolute.
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir.components().collect::<PathBuf>();
    let dir = if dir.ends_with("..") || dir.ends_with(".") {
        dir.canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?
    } else {
        dir
    };
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a directory name", dir.display()))?;
    Ok(crate::root()
        .join("target/examples")
        .join(format!("{name}.wasm")))
}

/// Builds the projects `dirs` (their toolchains installed first), each to
/// `target/examples/<dir name>.wasm`; returns the built files.
pub fn build(dirs: &[(PathBuf, Lang)]) -> Result<Vec<PathBuf>> {
    let tools = Tools::from_env();
    let mut ready: Vec<Lang> = Vec::new();
    let mut built = Vec::new();
    for (i, (dir, lang)) in dirs.iter().enumerate() {
        if !ready.contains(lang) {
            lang.ensure(&tools)
                .map_err(|e| format!("installing the {} toolchain: {e}", lang.name()))?;
            ready.push(*lang);
        }
        let out = output_of(dir)?;
        std::fs::create_dir_all(out.parent().expect("under target/examples"))
            .map_err(|e| e.to_string())?;
        eprintln!(
            "xtask: building {} ({}) [{}/{}]",
            dir.display(),
            lang.name(),
            i + 1,
            dirs.len()
        );
        let started = Instant::now();
        // Built beside and renamed into place: a server watching the
        // directory never loads half a file.
        let tmp = out.with_extension("wasm.tmp");
        let _ = std::fs::remove_file(&tmp);
        lang.build(&tools, dir, &tmp)
            .map_err(|e| format!("building {}: {e}", dir.display()))?;
        std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
        let size = std::fs::metadata(&out).map_or(0, |m| m.len());
        eprintln!(
            "xtask: built {} ({:.1} MiB) in {:.1} s",
            out.display(),
            size as f64 / f64::from(1 << 20),
            started.elapsed().as_secs_f64()
        );
        built.push(out);
    }
    Ok(built)
}

/// `cargo xtask build-examples [DIR…]`: every example, or the given
/// plugin projects.
pub fn build_examples(args: &[String]) -> Result<Vec<PathBuf>> {
    let dirs = if args.is_empty() {
        examples()?
    } else {
        args.iter()
            .map(|a| {
                let dir = PathBuf::from(a);
                Lang::detect(&dir).map(|lang| (dir, lang))
            })
            .collect::<Result<_>>()?
    };
    build(&dirs)
}

/// `cargo xtask new-plugin --lang LANG NAME [--dir DIR]`.
pub fn new_plugin(args: &[String]) -> Result {
    const USAGE: &str = "usage: cargo xtask new-plugin --lang rust|python|js|c|go NAME [--dir DIR]";
    let mut lang = None;
    let mut name = None;
    let mut dir = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lang" => lang = Some(Lang::parse(args.next().ok_or(USAGE)?)?),
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            other if other.starts_with('-') => {
                return Err(format!("unknown flag {other}\n{USAGE}"));
            }
            other if name.is_none() => name = Some(other.to_owned()),
            _ => return Err(USAGE.into()),
        }
    }
    let (Some(lang), Some(name)) = (lang, name) else {
        return Err(USAGE.into());
    };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-');
    if !valid {
        return Err(format!(
            "{name:?} is not a plugin name: use lowercase letters, digits and '-', starting with \
             a letter (it is the plugin's file name, NAME.wasm, and its metadata name)"
        ));
    }
    let dir = dir.unwrap_or_else(|| crate::root().join("examples").join(&name));
    // The project builds to target/examples/<its directory's name>.wasm,
    // and a plugin's file name must be its metadata name.
    if dir.file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
        return Err(format!(
            "--dir {} must end in the plugin's name: --dir {}",
            dir.display(),
            dir.parent().unwrap_or(Path::new("")).join(&name).display()
        ));
    }
    if dir.exists() {
        return Err(format!(
            "{} already exists: choose another NAME or --dir",
            dir.display()
        ));
    }
    lang.scaffold(&name, &dir)?;
    eprintln!(
        "created {} ({}). Next:\n  cargo xtask test-plugin {}   # its tests, its build, the runtime's checks\n  \
         cp target/examples/{name}.wasm plugins/\n\
         It then runs as an instance named {name}; one that needs grants or settings is \
         configured under plugins.instances in prometheus.yml (see sdk/README.md).",
        dir.display(),
        lang.name(),
        dir.display(),
    );
    Ok(())
}

/// The examples' part of `test-plugins` (built before, by
/// [`build_examples`]): runs each one's own tests and each SDK's tests, and
/// checks that every language's scaffold passes its tests as generated and
/// builds (the scaffolds are returned, for the runtime checks).
pub fn test(scratch: &Path) -> Result<Vec<PathBuf>> {
    let tools = Tools::from_env();
    let examples = examples()?;
    for lang in Lang::ALL {
        eprintln!("xtask: testing the {} SDK", lang.name());
        lang.test_sdk(&tools)
            .map_err(|e| format!("the {} SDK's tests: {e}", lang.name()))?;
    }
    for (dir, lang) in &examples {
        eprintln!("xtask: testing {}", dir.display());
        lang.test(&tools, dir)
            .map_err(|e| format!("the tests of {}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_dir_all(scratch);
    let mut scaffolds = Vec::new();
    for lang in Lang::ALL {
        let name = format!("scaffold-{}", lang.name());
        let dir = scratch.join(&name);
        lang.scaffold(&name, &dir)
            .map_err(|e| format!("scaffolding a {} plugin: {e}", lang.name()))?;
        lang.test(&tools, &dir)
            .map_err(|e| format!("the tests of a new {} plugin: {e}", lang.name()))?;
        scaffolds.push((dir, lang));
    }
    build(&scaffolds)
}

/// `cargo xtask test-plugin DIR`: one plugin project's own tests, its
/// build, and the runtime's checks on it (10,000 collects).
pub fn test_plugin(args: &[String]) -> Result {
    let [dir] = args else {
        return Err("usage: cargo xtask test-plugin DIR".into());
    };
    let dir = PathBuf::from(dir);
    let lang = Lang::detect(&dir)?;
    let tools = Tools::from_env();
    lang.ensure(&tools)?;
    eprintln!("xtask: testing {} ({})", dir.display(), lang.name());
    lang.test(&tools, &dir)?;
    let built = build(&[(dir, lang)])?;
    crate::check_in_runtime(&built)
}
