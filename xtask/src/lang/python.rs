//! python plugins: toolchain, build, tests, scaffold (see [`super`]).
//!
//! The toolchain is componentize-py from PyPI, in a virtual environment
//! `$WASMETHEUS_TOOLS/python-<version>` made with the machine's `python3`
//! (it bundles its own CPython for the component). A plugin project holds a
//! `pyproject.toml` whose `[tool.wasmetheus]` table names the exporter class
//! (`exporter = "module:Class"`), its modules, and `tests/` (plain
//! `unittest`, run natively with `sdk/python` on `PYTHONPATH`).
//!
//! A build stages, under `target/python-build/<project>/`, the project's
//! modules and packages (not its tests), a copy of `sdk/python`'s
//! `wasmetheus_sdk` package, and two generated modules: `app`, the
//! component's entry, which registers the exporter class and exports the
//! world's `metrics` interface, and `wasmetheus_metrics`, which exports its
//! `collector` resource (componentize-py looks a resource's class up in the
//! module named after its interface; the interface is renamed so that a
//! plugin's own module called `metrics` is not taken for it). componentize-py
//! then builds the stage into a component of the `exporter` world.

use super::{Result, Tools, run, write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release used; 0.25 builds components importing WASI
/// 0.2.x interfaces only, which wasmtime 48 provides.
const COMPONENTIZE_PY: &str = "0.25.1";

/// The virtual environment holding componentize-py.
fn venv(tools: &Tools) -> PathBuf {
    tools.dir.join(format!("python-{COMPONENTIZE_PY}"))
}

fn componentize_py(tools: &Tools) -> PathBuf {
    venv(tools).join("bin/componentize-py")
}

/// Written last by [`ensure`]: its presence with this content means done.
fn stamp(tools: &Tools) -> PathBuf {
    venv(tools).join(".wasmetheus-installed")
}

/// `python3` with the environment the native tests run in: the SDK on the
/// path, no `__pycache__` left in the sources.
fn python(tools: &Tools) -> Command {
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", tools.sdk_dir("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

pub fn ensure(tools: &Tools) -> Result {
    let want = format!("componentize-py {COMPONENTIZE_PY}");
    if std::fs::read_to_string(stamp(tools)).is_ok_and(|s| s.trim() == want) {
        eprintln!(
            "python: {want} already installed in {}",
            venv(tools).display()
        );
        return Ok(());
    }
    let dir = venv(tools);
    if dir.exists() {
        eprintln!(
            "python: removing the unfinished install in {}",
            dir.display()
        );
        std::fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    eprintln!(
        "python: creating a virtual environment in {}",
        dir.display()
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv"]).arg(&dir);
    run(cmd).map_err(|e| {
        format!(
            "{e}: python3 with its venv module is needed (on Debian: apt-get install python3 \
             python3-venv)"
        )
    })?;
    eprintln!("python: installing componentize-py {COMPONENTIZE_PY} from PyPI");
    let mut cmd = Command::new(dir.join("bin/pip"));
    cmd.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("componentize-py=={COMPONENTIZE_PY}"),
    ]);
    run(cmd)?;
    let output = Command::new(componentize_py(tools))
        .arg("--version")
        .output()
        .map_err(|e| format!("running {}: {e}", componentize_py(tools).display()))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if version.trim() != want {
        return Err(format!(
            "{} --version says {:?}, expected {want:?}",
            componentize_py(tools).display(),
            version.trim()
        ));
    }
    write(&stamp(tools), &want)?;
    eprintln!("python: {want} installed");
    Ok(())
}

/// `module:Class` from `[tool.wasmetheus] exporter = "…"` of `pyproject`.
fn exporter_entry(pyproject: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(pyproject)
        .map_err(|e| format!("reading {}: {e}", pyproject.display()))?;
    let mut in_table = false;
    let mut entry = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line == "[tool.wasmetheus]";
        } else if in_table
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "exporter"
        {
            let value = value.trim();
            entry = Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned());
        }
    }
    let missing = || {
        format!(
            "{}: add `exporter = \"module:Class\"` under [tool.wasmetheus], naming the module \
             and the class of the plugin's Exporter",
            pyproject.display()
        )
    };
    let entry = entry.ok_or_else(missing)?;
    let identifier = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match entry.split_once(':') {
        Some((module, class))
            if module.split('.').all(identifier)
                && identifier(class)
                && !module.starts_with("wasmetheus_") =>
        {
            Ok((module.to_owned(), class.to_owned()))
        }
        _ => Err(format!(
            "{}: exporter = {entry:?} is not `module:Class` (a module of the project, not \
             named wasmetheus_*, and a class name)",
            pyproject.display()
        )),
    }
}

/// Copies the Python sources of `from` into `to`: modules and packages,
/// without `tests`, caches, hidden files or anything else.
fn copy_sources(from: &Path, to: &Path, top: bool) -> Result {
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "__pycache__" || (top && name == "tests") {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| e.to_string())?;
        if file_type.is_dir() {
            // A package (or a data directory inside one).
            if !top || path.join("__init__.py").is_file() {
                std::fs::create_dir_all(to.join(&*name)).map_err(|e| e.to_string())?;
                copy_sources(&path, &to.join(&*name), false)?;
            }
        } else if !top || name.ends_with(".py") {
            std::fs::copy(&path, to.join(&*name))
                .map_err(|e| format!("copying {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

pub fn build(tools: &Tools, dir: &Path, out: &Path) -> Result {
    let (module, class) = exporter_entry(&dir.join("pyproject.toml"))?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a directory name", dir.display()))?;
    let stage = tools.root.join("target/python-build").join(name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .map_err(|e| format!("removing {}: {e}", stage.display()))?;
    }
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    copy_sources(dir, &stage, true)?;
    let sdk = tools.sdk_dir("python").join("wasmetheus_sdk");
    std::fs::create_dir_all(stage.join("wasmetheus_sdk")).map_err(|e| e.to_string())?;
    copy_sources(&sdk, &stage.join("wasmetheus_sdk"), false)?;
    write(
        &stage.join("app.py"),
        &format!(
            "\"\"\"The component's entry (generated by cargo xtask): registers the \
             plugin's exporter\nand exports the world's `metrics` interface.\"\"\"\n\n\
             from {module} import {class} as _Exporter\n\
             from wasmetheus_sdk import _component\n\n\
             _component.register(_Exporter)\n\n\
             from wasmetheus_sdk._component import WasmetheusMetrics  # noqa: E402,F401\n"
        ),
    )?;
    write(
        &stage.join("wasmetheus_metrics.py"),
        "\"\"\"The `collector` resource of the `metrics` export (generated by cargo \
         xtask).\"\"\"\n\nfrom wasmetheus_sdk._component import Collector  # noqa: F401\n",
    )?;
    let mut cmd = Command::new(componentize_py(tools));
    cmd.arg("--wit-path")
        .arg(tools.wit_dir())
        .args([
            "--world",
            "exporter",
            "--export-interface-name",
            "wasmetheus:plugin/metrics@0.1.0=wasmetheus_metrics",
            "--quiet",
            "componentize",
            "--python-path",
        ])
        .arg(&stage)
        .args(["app", "--output"])
        .arg(out)
        .current_dir(&stage)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run(cmd)
}

/// Runs `python3 -m unittest` over `dir/tests`, failing when none ran.
fn unittest(tools: &Tools, dir: &Path) -> Result {
    if !dir.join("tests").is_dir() {
        return Err(format!(
            "{}: no tests/ directory (unittest modules named test_*.py)",
            dir.display()
        ));
    }
    let mut cmd = python(tools);
    cmd.args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
        .current_dir(dir);
    let output = cmd
        .output()
        .map_err(|e| format!("running python3 -m unittest in {}: {e}", dir.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{}{stderr}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        return Err(format!(
            "python3 -m unittest in {} failed ({})",
            dir.display(),
            output.status
        ));
    }
    if stderr.contains("Ran 0 tests") {
        return Err(format!(
            "python3 -m unittest in {} ran no test",
            dir.display()
        ));
    }
    Ok(())
}

pub fn test(tools: &Tools, dir: &Path) -> Result {
    unittest(tools, dir)
}

pub fn test_sdk(tools: &Tools) -> Result {
    unittest(tools, &tools.sdk_dir("python"))
}

/// `my-plugin` as `MyPlugin`.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// How the scaffold's comments name `dir`: relative to the repository's
/// root when it lies inside it (the commands are run from there).
fn shown(dir: &Path) -> String {
    let root = crate::root();
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.strip_prefix(&root)
        .map_or(dir.as_path(), |relative| relative)
        .display()
        .to_string()
}

pub fn scaffold(name: &str, dir: &Path) -> Result {
    let mut class = camel(name);
    if !class.ends_with("Exporter") {
        class.push_str("Exporter");
    }
    let ident = name.replace('-', "_");
    // No `dependencies`: the SDK comes from the repository's sdk/python,
    // and a name a package index could resolve would invite someone
    // else's package in.
    write(
        &dir.join("pyproject.toml"),
        &format!(
            "# {name}: a wasmetheus exporter plugin in Python. From the repository's\n\
             # root, `cargo xtask test-plugin {shown}` runs its tests, builds it\n\
             # into target/examples/{name}.wasm and checks it in the runtime.\n\
             # The SDK comes from the repository's sdk/python, not from a package index.\n\
             [project]\n\
             name = \"{name}\"\n\
             version = \"0.1.0\"\n\
             description = \"Counts its collects\"\n\
             requires-python = \">=3.11\"\n\n\
             [tool.wasmetheus]\n\
             # module:class of the plugin's Exporter\n\
             exporter = \"exporter:{class}\"\n",
            shown = shown(dir)
        ),
    )?;
    write(&dir.join(".gitignore"), "__pycache__/\n")?;
    write(
        &dir.join("exporter.py"),
        &format!(
            r#""""{name}: a wasmetheus exporter plugin. `collect` fills the registry
each time the server scrapes this plugin's instances."""

from wasmetheus_sdk import Exporter, Metadata, Registry

#: The instance's `config:` block in prometheus.yml, as a JSON Schema: the
#: host shows it to operators, `open` checks the config against it and fills
#: in its defaults (an empty config means all defaults), and `wasmetheus
#: check plugins` opens the plugin with the first of its `examples`.
SCHEMA = {{
    "type": "object",
    "additionalProperties": False,
    "properties": {{
        # A label value every series of this instance carries.
        "greeting": {{"type": "string", "default": "hello"}},
    }},
    "examples": [{{"greeting": "hello"}}],
}}


class {class}(Exporter):
    @classmethod
    def metadata(cls) -> Metadata:
        # Ask for what the plugin reads, with a reason, e.g.
        # .request(Capability.read_path("/proc"), "reads /proc/loadavg")
        return Metadata("{name}", "0.1.0", "An example exporter", SCHEMA)

    def __init__(self, settings: dict):
        # `settings`: the config, checked against SCHEMA, defaults filled in.
        self.greeting = settings["greeting"]
        self.collects = 0

    def collect(self, out: Registry) -> None:
        self.collects += 1
        out.counter("{ident}_collects_total", "Collects of this instance.").set(
            self.collects, {{"greeting": self.greeting}}
        )
"#
        ),
    )?;
    write(
        &dir.join("tests/__init__.py"),
        &format!("\"\"\"Native tests of {name}.\"\"\"\n"),
    )?;
    write(
        &dir.join("tests/test_exporter.py"),
        &format!(
            r#""""Native tests of {name}: its metrics and its config errors."""

import json
import unittest

from exporter import {class}
from wasmetheus_sdk import InvalidConfig, Registry


class {class}Test(unittest.TestCase):
    def test_counts_collects(self):
        exporter = {class}.open('{{"greeting": "hi"}}')
        for _ in range(2):
            out = Registry()
            exporter.collect(out)
            family = out.get("{ident}_collects_total")
            self.assertEqual(family.metrics[0].label("greeting"), "hi")
        out = Registry()
        exporter.collect(out)
        self.assertEqual(out.get("{ident}_collects_total").value({{"greeting": "hi"}}), 3)

    def test_an_empty_config_means_defaults(self):
        for config in ("", "{{}}"):
            exporter = {class}.open(config)
            out = Registry()
            exporter.collect(out)
            self.assertEqual(out.get("{ident}_collects_total").value({{"greeting": "hello"}}), 1)

    def test_bad_configs_are_refused(self):
        with self.assertRaisesRegex(InvalidConfig, "unknown setting 'greting'"):
            {class}.open('{{"greting": "hi"}}')
        with self.assertRaisesRegex(InvalidConfig, "config.greeting: expected string"):
            {class}.open('{{"greeting": 1}}')
        with self.assertRaisesRegex(InvalidConfig, "config is not valid JSON"):
            {class}.open("greeting: hi")

    def test_metadata(self):
        metadata = {class}.metadata()
        self.assertEqual(metadata.name, "{name}")
        # `check plugins` opens the plugin with the schema's first example.
        {class}.open(json.dumps(metadata.schema_dict()["examples"][0]))


if __name__ == "__main__":
    unittest.main()
"#
        ),
    )?;
    Ok(())
}
