//! js plugins: toolchain, build, tests, scaffold (see [`super`]).
//!
//! The toolchain is jco from npm with its QuickJS backend (componentize-qjs),
//! installed with `npm ci` from the lock file committed in
//! `sdk/js/toolchain/` into `$WASMETHEUS_TOOLS/js-<jco version>`. It needs
//! Node.js 20 or later and npm on the machine.
//!
//! A plugin project holds a `package.json` whose `main` (by default
//! `src/exporter.js`) default-exports the exporter object, and `test/` with
//! `node --test` tests. The project imports the SDK as `wasmetheus-sdk`,
//! which resolves through `node_modules/wasmetheus-sdk`, a link to
//! `sdk/js` that the build and the tests create (as `npm install` would
//! from the `file:` dependency).
//!
//! A build stages, under `target/js-build/<project>/`, the world
//! `sdk/js/wit/world.wit` with its WASI dependencies and a copy of
//! `wit/plugin.wit`, and a generated entry module that hands the exporter
//! to the SDK's component glue; jco bundles the entry with the project and
//! the SDK and builds the component with QuickJS, without the component
//! model's async ABI (wasmtime 48 does not enable it).
//!
//! Why QuickJS rather than jco's default, StarlingMonkey (componentize-js
//! 0.23): StarlingMonkey collects no garbage between export calls, so an
//! instance's memory grows with every collect (5 KiB per collect returning
//! nothing; an exporter allocating a few megabytes per collect hits the
//! 128 MiB limit within 50 collects), and its components are 14 MiB against
//! 2 MiB, compile 4 to 8 times slower and collect about 10 times slower.
//! QuickJS's one limit here: componentize-qjs 0.4.5 cannot pre-initialize a
//! component importing `wasi:http` (it links those imports as stubs whose
//! resource types do not match `wasi:io`'s), so the SDK's `http` helper
//! speaks HTTP/1.1 over `wasi:sockets` TCP (plain http, `tcp_connect`
//! grants) instead.

use super::{Result, Tools, run, write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The jco release used (the lock in `sdk/js/toolchain` pins the rest).
const JCO: &str = "1.35.0";

fn toolchain(tools: &Tools) -> PathBuf {
    tools.dir.join(format!("js-{JCO}"))
}

fn jco(tools: &Tools) -> PathBuf {
    toolchain(tools).join("node_modules/.bin/jco")
}

/// Written last by [`ensure`]: the lock file it installed from.
fn stamp(tools: &Tools) -> PathBuf {
    toolchain(tools).join(".wasmetheus-installed")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Checks that `node` is 20 or later and `npm` is there.
fn check_node() -> Result {
    let hint = "Node.js 20 or later with npm is needed (on Debian: apt-get install nodejs npm)";
    let output = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run node: {e}; {hint}"))?;
    let version = String::from_utf8_lossy(&output.stdout);
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < 20) {
        return Err(format!("node --version says {:?}; {hint}", version.trim()));
    }
    Command::new("npm")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run npm: {e}; {hint}"))?;
    Ok(())
}

pub fn ensure(tools: &Tools) -> Result {
    let source = tools.sdk_dir("js").join("toolchain");
    let lock = read(&source.join("package-lock.json"))?;
    let want = format!("jco {JCO}\n{lock}");
    let dir = toolchain(tools);
    if std::fs::read_to_string(stamp(tools)).is_ok_and(|s| s == want) && jco(tools).exists() {
        eprintln!("js: jco {JCO} already installed in {}", dir.display());
        return Ok(());
    }
    check_node()?;
    if dir.exists() {
        eprintln!(
            "js: removing the unfinished or outdated install in {}",
            dir.display()
        );
        std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    eprintln!(
        "js: installing jco {JCO} and componentize-js from npm into {}",
        dir.display()
    );
    for file in ["package.json", "package-lock.json"] {
        write(&dir.join(file), &read(&source.join(file))?)?;
    }
    let mut cmd = Command::new("npm");
    cmd.args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
    ])
    .current_dir(&dir);
    run(cmd)?;
    let output = Command::new(jco(tools))
        .arg("--version")
        .output()
        .map_err(|e| format!("running {}: {e}", jco(tools).display()))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if version.trim() != JCO {
        return Err(format!(
            "{} --version says {:?}, expected {JCO:?}",
            jco(tools).display(),
            version.trim()
        ));
    }
    write(&stamp(tools), &want)?;
    eprintln!("js: jco {JCO} installed");
    Ok(())
}

/// Makes `dir/node_modules/wasmetheus-sdk` a link to `sdk/js`, as
/// `npm install` does for the `file:` dependency.
fn link_sdk(tools: &Tools, dir: &Path) -> Result {
    let link = dir.join("node_modules/wasmetheus-sdk");
    let target = tools.sdk_dir("js");
    if let Ok(meta) = std::fs::symlink_metadata(&link) {
        if !meta.file_type().is_symlink() {
            // Installed by npm as a copy, or something else: leave it.
            return Ok(());
        }
        // `npm install` links it relatively: fine when it leads to sdk/js.
        if std::fs::canonicalize(&link)
            .is_ok_and(|t| Some(t) == std::fs::canonicalize(&target).ok())
        {
            return Ok(());
        }
        std::fs::remove_file(&link).map_err(|e| format!("removing {}: {e}", link.display()))?;
    }
    std::fs::create_dir_all(dir.join("node_modules")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&target, &link)
        .map_err(|e| format!("linking {} to {}: {e}", link.display(), target.display()))
}

/// The `"main"` of `package.json`, `src/exporter.js` when absent.
fn main_module(dir: &Path) -> Result<PathBuf> {
    let manifest = dir.join("package.json");
    let text = read(&manifest)?;
    let main = text
        .split_once("\"main\"")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix(':'))
        .and_then(|rest| rest.trim_start().strip_prefix('"'))
        .and_then(|rest| rest.split_once('"'))
        .map_or("src/exporter.js", |(value, _)| value);
    let path = dir.join(main);
    if !path.is_file() {
        return Err(format!(
            "{}: its main module {} does not exist (set \"main\" to the module whose default \
             export is the exporter)",
            manifest.display(),
            path.display()
        ));
    }
    Ok(path)
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))
                .map_err(|e| format!("copying {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// A path as a JavaScript string literal.
fn js_string(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn build(tools: &Tools, dir: &Path, out: &Path) -> Result {
    let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a directory name", dir.display()))?
        .to_owned();
    let main = main_module(&dir)?;
    link_sdk(tools, &dir)?;
    let stage = tools.root.join("target/js-build").join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .map_err(|e| format!("removing {}: {e}", stage.display()))?;
    }
    let wit = stage.join("wit");
    copy_dir(&tools.sdk_dir("js").join("wit"), &wit)?;
    std::fs::remove_file(wit.join("README.md")).ok();
    write(
        &wit.join("deps/plugin/plugin.wit"),
        &read(&tools.wit_dir().join("plugin.wit"))?,
    )?;
    let entry = stage.join("entry.js");
    write(
        &entry,
        &format!(
            "// The component's entry (generated by cargo xtask): hands the plugin's\n\
             // exporter to the SDK's glue, which exports the world's `metrics`.\n\
             import exporter from {main};\n\
             import {{ exportExporter }} from {glue};\n\n\
             export const metrics = exportExporter(exporter);\n",
            main = js_string(&main),
            glue = js_string(&tools.sdk_dir("js").join("src/component.js")),
        ),
    )?;
    let out = if out.is_absolute() {
        out.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|e| e.to_string())?
            .join(out)
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    // Relative paths: jco reads the WIT through a WASI sandbox that sees
    // only the working directory.
    let mut cmd = Command::new(jco(tools));
    cmd.args(["componentize", "entry.js", "--wit", "wit"])
        .args(["--world-name", "exporter-js", "--bundle", "--bundle-config"])
        .arg(tools.sdk_dir("js").join("toolchain/bundle.config.mjs"))
        // Standard output and error go nowhere in the host (log with the
        // SDK's `log`); fetch() and incoming requests are not for exporters.
        .args([
            "--backend",
            "quickjs",
            "--backend-qjs-disable-async",
            "--out",
        ])
        .arg(&out)
        .current_dir(&stage);
    run(cmd).map_err(|e| {
        if jco(tools).exists() {
            e
        } else {
            format!("{e}: the js toolchain is missing; run `cargo xtask toolchains` first")
        }
    })
}

/// Runs `node --test` over `dir/test`, failing when no test ran.
fn node_test(dir: &Path) -> Result {
    if !dir.join("test").is_dir() {
        return Err(format!(
            "{}: no test/ directory (node:test modules named *.test.js)",
            dir.display()
        ));
    }
    let output = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!(
                "running node --test in {}: {e} (Node.js 20 or later is needed)",
                dir.display()
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprint!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!(
            "node --test in {} failed ({})",
            dir.display(),
            output.status
        ));
    }
    if stdout.lines().any(|l| l.trim() == "# tests 0") {
        return Err(format!("node --test in {} ran no test", dir.display()));
    }
    Ok(())
}

pub fn test(tools: &Tools, dir: &Path) -> Result {
    link_sdk(tools, dir)?;
    node_test(dir)
}

pub fn test_sdk(tools: &Tools) -> Result {
    node_test(&tools.sdk_dir("js"))
}

/// `to` relative to `from` when both are absolute, for the `file:`
/// dependency of a scaffolded project; `to` itself otherwise.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (Ok(from), Ok(to)) = (absolute(from), absolute(to)) else {
        return to.to_owned();
    };
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in from.components().skip(common) {
        out.push("..");
    }
    for part in to.components().skip(common) {
        out.push(part);
    }
    out
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

pub fn scaffold(name: &str, dir: &Path) -> Result {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "plugin name {name:?}: use lowercase letters, digits and - (it is the plugin's \
             name in the host)"
        ));
    }
    let sdk = relative(dir, &crate::root().join("sdk/js"));
    let metric = name.replace('-', "_");
    write(
        &dir.join("package.json"),
        &format!(
            r#"{{
  "name": "{name}",
  "version": "0.1.0",
  "description": "Says hello",
  "type": "module",
  "private": true,
  "main": "src/exporter.js",
  "scripts": {{
    "test": "node --test test/"
  }},
  "devDependencies": {{
    "wasmetheus-sdk": "file:{sdk}"
  }}
}}
"#,
            sdk = sdk.display()
        ),
    )?;
    write(&dir.join(".gitignore"), "node_modules/\n")?;
    // How the generated header tells to test it: from the repository's
    // root, the project's path as given (relative to the root inside it).
    let shown = absolute(dir).map_or_else(
        |_| dir.to_owned(),
        |d| {
            d.strip_prefix(crate::root())
                .map_or_else(|_| d.clone(), Path::to_owned)
        },
    );
    write(
        &dir.join("src/exporter.js"),
        &format!(
            r#"// {name}: a wasmetheus exporter plugin (start from here). From the
// wasmetheus repository's root, `cargo xtask test-plugin {shown}` runs
// its tests, builds it and checks it in the runtime.

import {{ Metadata, parseConfig, log }} from "wasmetheus-sdk";

/** The settings `open` accepts, as a JSON Schema; `wasmetheus check plugins` opens the plugin with the first example. */
export const SCHEMA = {{
  type: "object",
  additionalProperties: false,
  properties: {{
    greeting: {{ type: "string", minLength: 1, default: "hello" }},
  }},
  examples: [{{ greeting: "hello" }}],
}};

class Hello {{
  constructor(settings) {{
    // `settings` is the instance's config, checked against SCHEMA, with
    // its defaults filled in (an empty config means all defaults).
    this.greeting = settings.greeting;
    this.collects = 0;
  }}

  collect(out) {{
    this.collects += 1;
    if (this.collects === 1) log.info(`first collect, greeting ${{this.greeting}}`);
    out.counter("{metric}_collects_total", "Collects of this instance.").with({{ greeting: this.greeting }}, this.collects);
  }}
}}

export default {{
  metadata() {{
    // Ask for what the plugin reads or connects to, with a reason, e.g.
    // .request(Capability.readPath("/proc"), "reads /proc/loadavg")
    return new Metadata("{name}", "0.1.0", "Says hello").configSchema(SCHEMA);
  }},
  open(config) {{
    return new Hello(parseConfig(config, SCHEMA));
  }},
}};
"#,
            shown = shown.display()
        ),
    )?;
    write(
        &dir.join("test/exporter.test.js"),
        &format!(
            r#"// Native tests of {name}: its metrics and its config errors.

import {{ test }} from "node:test";
import assert from "node:assert/strict";
import {{ PluginError, Registry, log }} from "wasmetheus-sdk";
import exporter, {{ SCHEMA }} from "../src/exporter.js";

function collect(instance) {{
  const out = new Registry();
  instance.collect(out);
  return out;
}}

test("counts its collects", () => {{
  const logs = log.captureLogs();
  const instance = exporter.open('{{"greeting": "hi"}}');
  assert.equal(collect(instance).value("{metric}_collects_total", {{ greeting: "hi" }}), 1);
  assert.equal(collect(instance).value("{metric}_collects_total", {{ greeting: "hi" }}), 2);
  logs.stop();
  assert.deepEqual(logs.map((l) => l.message), ["first collect, greeting hi"]);
}});

test("an empty config means the defaults", () => {{
  for (const config of ["", "{{}}"]) {{
    assert.equal(collect(exporter.open(config)).value("{metric}_collects_total", {{ greeting: "hello" }}), 1);
  }}
}});

test("a bad config is an invalid-config error naming the setting", () => {{
  const bad = (config, pattern) =>
    assert.throws(() => exporter.open(config), (e) => e instanceof PluginError && e.kind === "invalid-config" && pattern.test(e.message));
  bad('{{"greting": "hi"}}', /unknown setting `greting`/);
  bad('{{"greeting": ""}}', /config\.greeting: must be at least 1 characters long/);
  bad('{{"greeting": 1}}', /config\.greeting: expected string/);
  bad('{{"greeting": "hi",}}', /config is not valid JSON: .* at line 1 column 19/);
}});

test("metadata, and its schema's example opens", () => {{
  const meta = exporter.metadata();
  assert.equal(meta.name, "{name}");
  assert.deepEqual(JSON.parse(meta.toWit().configSchema), SCHEMA);
  assert.ok(exporter.open(JSON.stringify(SCHEMA.examples[0])));
}});
"#
        ),
    )?;
    Ok(())
}
