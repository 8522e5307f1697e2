//! Rust plugins outside the workspace's `plugins/`: a scaffolded crate has
//! its own `[workspace]` and depends on `sdk/rust` by path; it builds for
//! wasm32-wasip2 into `target/examples-build/rust` (shared by all of them,
//! so the SDK is compiled once) and is tested natively with `cargo test`.

use super::{Result, Tools, write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn ensure(_tools: &Tools) -> Result {
    crate::ensure_wasm_target()
}

fn cargo_in(tools: &Tools, dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir).env(
        "CARGO_TARGET_DIR",
        tools.root.join("target/examples-build/rust"),
    );
    cmd
}

fn package_name(dir: &Path) -> Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_owned())
        .ok_or_else(|| format!("{}: no package name", manifest.display()))
}

pub fn build(tools: &Tools, dir: &Path, out: &Path) -> Result {
    let name = package_name(dir)?;
    let mut cmd = cargo_in(tools, dir);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"]);
    super::run(cmd)?;
    let artifact = tools
        .root
        .join("target/examples-build/rust/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&artifact, out)
        .map(drop)
        .map_err(|e| format!("copying {}: {e}", artifact.display()))
}

pub fn test(tools: &Tools, dir: &Path) -> Result {
    let mut cmd = cargo_in(tools, dir);
    cmd.arg("test");
    super::run(cmd)
}

/// `sdk/rust` is a workspace member: `cargo test --workspace` runs its
/// tests.
pub fn test_sdk(_tools: &Tools) -> Result {
    Ok(())
}

/// The SDK's path as the new crate's manifest should name it: relative
/// when both are in this repository, so the crate can move with it.
fn sdk_path(dir: &Path) -> PathBuf {
    let sdk = crate::root().join("sdk/rust");
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    match dir.strip_prefix(crate::root()) {
        Ok(inside) => {
            let mut up = PathBuf::new();
            for _ in inside.components() {
                up.push("..");
            }
            up.join("sdk/rust")
        }
        Err(_) => sdk,
    }
}

pub fn scaffold(name: &str, dir: &Path) -> Result {
    let sdk = sdk_path(dir);
    write(
        &dir.join("Cargo.toml"),
        &format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A plugin is a wasm32-wasip2 component (cdylib); rlib lets `cargo test`
# test its logic natively.
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
wasmetheus-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}

# Not a member of any enclosing workspace.
[workspace]

[profile.release]
opt-level = "s"
lto = true
strip = true
codegen-units = 1
panic = "abort"
"#,
            sdk = sdk.display()
        ),
    )?;
    let ident = name.replace('-', "_");
    write(
        &dir.join("src/lib.rs"),
        &format!(
            r##"//! {name}: a wasmetheus exporter plugin. `collect` fills the registry
//! each time the server scrapes this plugin's instances.

use wasmetheus_sdk::{{Error, Exporter, Metadata, Registry, config, export_exporter}};

/// The instance's `config:` block in prometheus.yml.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {{
    /// A label value every series of this instance carries.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}}

fn default_greeting() -> String {{
    "hello".to_owned()
}}

pub struct Plugin {{
    config: Config,
    collects: u64,
}}

impl Exporter for Plugin {{
    fn metadata() -> Metadata {{
        Metadata::new("{name}", env!("CARGO_PKG_VERSION"), "An example exporter")
            .config_schema(
                r#"{{"type": "object", "properties": {{"greeting": {{"type": "string"}}}},
                    "additionalProperties": false, "examples": [{{"greeting": "hello"}}]}}"#,
            )
    }}

    fn open(config: &str) -> Result<Self, Error> {{
        Ok(Plugin {{
            config: config::parse(config)?,
            collects: 0,
        }})
    }}

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {{
        self.collects += 1;
        out.counter("{ident}_collects_total", "Collects of this instance.")
            .with(&[("greeting", &self.config.greeting)], self.collects as f64);
        Ok(())
    }}
}}

export_exporter!(Plugin);

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn counts_collects() {{
        let mut plugin = Plugin::open(r#"{{"greeting": "hi"}}"#).unwrap();
        for _ in 0..2 {{
            let mut out = Registry::new();
            plugin.collect(&mut out).unwrap();
            let family = out.get("{ident}_collects_total").unwrap();
            assert_eq!(family.metrics[0].label("greeting"), Some("hi"));
        }}
        let mut out = Registry::new();
        plugin.collect(&mut out).unwrap();
        assert_eq!(out.get("{ident}_collects_total").unwrap().metrics[0].number(), Some(3.0));
    }}

    #[test]
    fn unknown_settings_are_refused() {{
        assert!(matches!(Plugin::open(r#"{{"greting": "x"}}"#), Err(Error::InvalidConfig(_))));
    }}
}}
"##
        ),
    )?;
    // The workspace's lock file pins the SDK's dependencies to the
    // versions the project tests; cargo drops what this crate does not use.
    let lock = crate::root().join("Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock"))
        .map(drop)
        .map_err(|e| format!("copying {}: {e}", lock.display()))
}
