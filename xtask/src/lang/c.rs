//! c plugins: toolchain, build, tests, scaffold (see [`super`]).
//!
//! A C plugin is compiled by Debian's clang for `wasm32-wasi` (WASI
//! preview 1, with Debian's wasi-libc and compiler-rt builtins) against the
//! bindings `wit-bindgen c` generates from `wit/`, then made a component by
//! `wasm-tools component new` with WASI's preview1 *reactor* adapter (the
//! one matching the host's wasmtime, from the crates.io crate
//! `wasi-preview1-component-adapter-provider`). A plugin project is a
//! directory with a `Makefile` that includes `sdk/c/plugin.mk`, which holds
//! every rule (component build, native tests under AddressSanitizer); these
//! functions run `make` with the build directory under `target/c/`.

use super::{Result, Tools, run, write};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// `cargo install`ed tools: (crate, version, features, binary).
const CARGO_TOOLS: [(&str, &str, &str, &str); 2] = [
    (
        "wasm-tools",
        "1.239.0",
        "component,validate,print",
        "wasm-tools",
    ),
    ("wit-bindgen-cli", "0.46.0", "c", "wit-bindgen"),
];

/// The adapter crate, at the version of the host's wasmtime, and the
/// SHA-256 of its `.crate` (as crates.io's index lists it).
const ADAPTER_CRATE: &str = "wasi-preview1-component-adapter-provider";
const ADAPTER_VERSION: &str = "48.0.8";
const ADAPTER_SHA256: &str = "d3a1674fffec103c1d4367d4417a3bd5423cde3cfd56ff3b326b5fc72c0a8ebd";
const ADAPTER_FILE: &str = "wasi_snapshot_preview1.reactor.wasm";

/// What to install when Debian's C toolchain for wasm32 is missing.
const APT_HINT: &str = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";

/// `$WASMETHEUS_TOOLS/c-<adapter version>`: the adapter (sdk/c/plugin.mk
/// looks for it there).
fn c_dir(tools: &Tools) -> PathBuf {
    tools.dir.join(format!("c-{ADAPTER_VERSION}"))
}

/// Installs wasm-tools and wit-bindgen-cli under `$WASMETHEUS_TOOLS/cargo`
/// when the pinned version is not there yet (each one checked by its
/// `--version`); the Go toolchain uses them too.
pub fn ensure_cargo_tools(tools: &Tools) -> Result {
    let root = tools.dir.join("cargo");
    for (krate, version, features, bin) in CARGO_TOOLS {
        let path = root.join("bin").join(bin);
        let installed = Command::new(&path)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if installed.split_whitespace().nth(1) == Some(version) {
            eprintln!(
                "c: {krate} {version} already installed in {}",
                path.display()
            );
            continue;
        }
        eprintln!(
            "c: installing {krate} {version} into {} (cargo install; several minutes on 2 cores)",
            root.display()
        );
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["install", "--locked", "--root"])
            .arg(&root)
            .arg(format!("{krate}@{version}"))
            .args(["--no-default-features", "--features", features]);
        run(cmd)?;
    }
    Ok(())
}

/// Fails telling which Debian packages to install unless clang compiles
/// and links a program for wasm32-wasi.
fn check_clang(tools: &Tools) -> Result {
    let dir = c_dir(tools);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let probe = dir.join("probe.c");
    write(
        &probe,
        "#include <stdio.h>\nint main(void) { return printf(\"%g\", 1.5) < 0; }\n",
    )?;
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O1"])
        .arg(&probe)
        .arg("-o")
        .arg(dir.join("probe.wasm"))
        .output();
    match out {
        Ok(o) if o.status.success() => {
            eprintln!("c: clang builds for wasm32-wasi");
            Ok(())
        }
        Ok(o) => Err(format!(
            "c: clang cannot build for wasm32-wasi ({}); install Debian's toolchain: {APT_HINT}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("c: clang not found ({e}); {APT_HINT}")),
    }
}

/// Puts WASI's preview1 reactor adapter (the one matching the host's
/// wasmtime) in [`c_dir`] unless it is already there, and returns its path:
/// the crate from static.crates.io (checked against its SHA-256), or, when
/// that is unreachable, through `cargo fetch` of a throwaway project
/// (cargo's own registry settings and checksum). Other languages that make
/// a component from a preview1 module use it too.
pub fn ensure_adapter(tools: &Tools) -> Result<PathBuf> {
    let dir = c_dir(tools);
    let adapter = dir.join(ADAPTER_FILE);
    let stamp = dir.join(".adapter-installed");
    let want = format!("{ADAPTER_CRATE} {ADAPTER_VERSION}");
    if adapter.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) {
        eprintln!("c: {want} adapter already in {}", adapter.display());
        return Ok(adapter);
    }
    eprintln!("c: fetching the preview1 reactor adapter ({want})");
    let member = format!("{ADAPTER_CRATE}-{ADAPTER_VERSION}/artefacts/{ADAPTER_FILE}");
    let archive = dir.join(format!("{ADAPTER_CRATE}-{ADAPTER_VERSION}.crate"));
    let url = format!(
        "https://static.crates.io/crates/{ADAPTER_CRATE}/{ADAPTER_CRATE}-{ADAPTER_VERSION}.crate"
    );
    let mut curl = Command::new("curl");
    curl.args(["-fsSL", "--retry", "2", "-o"])
        .arg(&archive)
        .arg(&url);
    let fetched = run(curl).and_then(|()| {
        let out = Command::new("sha256sum")
            .arg(&archive)
            .output()
            .map_err(|e| format!("sha256sum: {e}"))?;
        let sum = String::from_utf8_lossy(&out.stdout);
        if sum.split_whitespace().next() == Some(ADAPTER_SHA256) {
            Ok(())
        } else {
            Err(format!("{url}: SHA-256 {sum} is not {ADAPTER_SHA256}"))
        }
    });
    match fetched {
        Ok(()) => {
            let mut tar = Command::new("tar");
            tar.arg("-xzf")
                .arg(&archive)
                .arg("-C")
                .arg(&dir)
                .args(["--strip-components=2", &member]);
            run(tar)?;
            let _ = std::fs::remove_file(&archive);
        }
        Err(e) => {
            eprintln!("c: {e}; trying cargo fetch");
            fetch_with_cargo(&dir, &adapter)?;
        }
    }
    if !adapter.is_file() {
        return Err(format!("c: {} was not extracted", adapter.display()));
    }
    write(&stamp, &want)?;
    Ok(adapter)
}

/// Fetches the adapter crate with `cargo fetch` into cargo's registry and
/// copies the adapter out of its sources.
fn fetch_with_cargo(dir: &Path, adapter: &Path) -> Result {
    let project = dir.join("adapter-fetch");
    write(
        &project.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"adapter-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{ADAPTER_CRATE} = \"={ADAPTER_VERSION}\"\n[workspace]\n"
        ),
    )?;
    write(&project.join("src/lib.rs"), "")?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.arg("fetch").current_dir(&project);
    run(cmd)?;
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    let src = cargo_home.join("registry/src");
    let entries = std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for entry in entries.flatten() {
        let candidate = entry.path().join(format!(
            "{ADAPTER_CRATE}-{ADAPTER_VERSION}/artefacts/{ADAPTER_FILE}"
        ));
        if candidate.is_file() {
            std::fs::copy(&candidate, adapter).map_err(|e| format!("copying the adapter: {e}"))?;
            return Ok(());
        }
    }
    Err(format!(
        "c: cargo fetched {ADAPTER_CRATE} {ADAPTER_VERSION} but no {ADAPTER_FILE} was found \
         under {}",
        src.display()
    ))
}

pub fn ensure(tools: &Tools) -> Result {
    check_clang(tools)?;
    ensure_cargo_tools(tools)?;
    ensure_adapter(tools).map(drop)
}

/// `make -C dir` with the tools, the WIT and a build directory under
/// `target/c/<what>`.
fn make(tools: &Tools, dir: &Path, what: &str) -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("--no-print-directory")
        .arg("-C")
        .arg(dir)
        .arg(format!("WASMETHEUS_TOOLS={}", tools.dir.display()))
        .arg(format!("WASMETHEUS_WIT={}", tools.wit_dir().display()))
        .arg(format!(
            "BUILD={}",
            tools.root.join("target/c").join(what).display()
        ));
    cmd
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "plugin".into(), |n| n.to_string_lossy().into_owned())
}

pub fn build(tools: &Tools, dir: &Path, out: &Path) -> Result {
    let out = if out.is_absolute() {
        out.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|e| e.to_string())?
            .join(out)
    };
    let mut cmd = make(tools, dir, &dir_name(dir));
    cmd.arg(format!("OUT={}", out.display())).arg("all");
    run(cmd)
}

pub fn test(tools: &Tools, dir: &Path) -> Result {
    let mut cmd = make(tools, dir, &dir_name(dir));
    cmd.arg("test");
    run(cmd)
}

/// The SDK's native tests, and its test plugin built for wasm32.
pub fn test_sdk(tools: &Tools) -> Result {
    let dir = tools.sdk_dir("c").join("tests");
    let mut cmd = make(tools, &dir, "sdk-tests");
    cmd.args(["test", "all"]);
    run(cmd)
}

/// `path` relative to `from` when both lie in the repository, else
/// absolute (lexically: `from` need not exist yet).
fn include_path(root: &Path, from: &Path, path: &Path) -> PathBuf {
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_owned()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let (from, path) = (absolute(from), absolute(path));
    match (from.strip_prefix(root), path.strip_prefix(root)) {
        (Ok(inner), Ok(target))
            if inner
                .components()
                .all(|c| matches!(c, Component::Normal(_))) =>
        {
            let mut relative = PathBuf::new();
            for _ in inner.components() {
                relative.push("..");
            }
            relative.join(target)
        }
        _ => path,
    }
}

pub fn scaffold(name: &str, dir: &Path) -> Result {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "c: plugin name {name:?}: use lowercase letters, digits and '-'"
        ));
    }
    let root = crate::root();
    let mk = include_path(&root, dir, &root.join("sdk/c/plugin.mk"));
    let prefix = name.replace('-', "_");
    write(
        &dir.join("Makefile"),
        &format!(
            "# Makefile: builds {name} into a wasmetheus plugin component (`make`, giving\n\
             # build/{name}.wasm) and runs its native tests (`make test`); from the\n\
             # repository, `cargo xtask test-plugin DIR` does both and checks the\n\
             # component in the runtime. The tools: see sdk/c/plugin.mk.\n\
             NAME := {name}\n\
             SRCS := src/plugin.c\n\
             TESTS := tests/test_plugin.c\n\n\
             include {}\n",
            mk.display()
        ),
    )?;
    write(&dir.join(".gitignore"), "build/\n")?;
    write(
        &dir.join("src/plugin.c"),
        &SCAFFOLD_PLUGIN
            .replace("NAME", name)
            .replace("PREFIX", &prefix),
    )?;
    write(
        &dir.join("tests/test_plugin.c"),
        &SCAFFOLD_TEST
            .replace("NAME", name)
            .replace("PREFIX", &prefix),
    )?;
    eprintln!("c: wrote {}", dir.display());
    Ok(())
}

const SCAFFOLD_PLUGIN: &str = r#"/* plugin.c: NAME, a wasmetheus exporter plugin written in C with
 * sdk/c/wasmetheus.h: it counts the collects of each instance, labelled
 * with the instance's greeting. `cargo xtask test-plugin DIR` runs its
 * tests, builds it and checks it in the runtime (see sdk/c/README.md). */
#define WASMETHEUS_IMPLEMENTATION
#include "wasmetheus.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The settings, as JSON Schema. An empty config means every default;
 * `check plugins` opens the plugin with the first of the "examples". */
static const char SCHEMA[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"greeting\": {\"type\": \"string\", \"default\": \"hello\", "
    "\"description\": \"The value of the greeting label.\"}}, "
    "\"examples\": [{\"greeting\": \"hello\"}]}";

/* One configured instance. */
typedef struct plugin {
    char *greeting;
    uint64_t collects;
} plugin;

static int plugin_open(const wm_config *config, void **state, wm_error *err) {
    static const char *const known[] = {"greeting", NULL};
    char *greeting = NULL;
    if (wm_config_only(config, known, err) != 0 ||
        wm_config_string(config, "greeting", &greeting, err) < 0) {
        return -1;
    }
    plugin *p = calloc(1, sizeof *p);
    if (p != NULL) {
        p->greeting = greeting != NULL ? greeting : strdup("hello");
    }
    if (p == NULL || p->greeting == NULL) {
        free(greeting);
        free(p);
        return wm_fail(err, WM_OTHER, "out of memory");
    }
    *state = p;
    return 0;
}

static int plugin_collect(void *state, wm_registry *out, wm_error *err) {
    plugin *p = state;
    (void)err;
    p->collects++;
    wm_add(wm_counter(out, "PREFIX_collects_total", "Collects of this instance."),
           WM_LABELS({"greeting", p->greeting}), (double)p->collects);
    return 0;
}

static void plugin_close(void *state) {
    plugin *p = state;
    free(p->greeting);
    free(p);
}

static const wm_plugin PLUGIN = {
    .name = "NAME", /* the component's file name: NAME.wasm */
    .version = "0.1.0",
    .description = "Counts its collects",
    .config_schema = SCHEMA,
    .open = plugin_open,
    .collect = plugin_collect,
    .close = plugin_close,
};

WM_EXPORT_PLUGIN(PLUGIN)
"#;

const SCAFFOLD_TEST: &str = r#"/* test_plugin.c: native tests of NAME through the simulated host
 * (sdk/c/native/wasmetheus_native.h), under AddressSanitizer; run by
 * `cargo xtask test-plugin DIR` or `make -C DIR test`. */
#include "wasmetheus_native.h"
#include "wm_check.h"

#include <stdio.h>
#include <string.h>

/* Collects `handle` once: the value of PREFIX_collects_total (-1 when
 * missing), its greeting label in `greeting`. */
static double collects(int32_t handle, char *greeting, size_t size) {
    wm_native_result r = wm_native_collect(handle);
    CHECK(r.ok);
    const wasmetheus_plugin_types_metric_family_t *f =
        wm_native_family(&r, "PREFIX_collects_total");
    double value = -1;
    greeting[0] = '\0';
    if (f != NULL && f->kind == WASMETHEUS_PLUGIN_TYPES_METRIC_KIND_COUNTER &&
        f->metrics.len == 1 && f->metrics.ptr[0].labels.len == 1) {
        value = f->metrics.ptr[0].value.val.number;
        wm_native_str(&f->metrics.ptr[0].labels.ptr[0].value, greeting, size);
    }
    wm_native_release();
    return value;
}

int main(void) {
    char greeting[64];
    const wasmetheus_plugin_types_plugin_metadata_t *m = wm_native_metadata();
    CHECK(m->name.len == strlen("NAME") && memcmp(m->name.ptr, "NAME", m->name.len) == 0);
    wm_native_release();

    /* Each collect counts, per instance. */
    wm_native_result opened = wm_native_open("{\"greeting\": \"hi\"}");
    CHECK(opened.ok);
    CHECK(collects(opened.handle, greeting, sizeof greeting) == 1);
    CHECK(strcmp(greeting, "hi") == 0);
    CHECK(collects(opened.handle, greeting, sizeof greeting) == 2);
    wm_native_result other = wm_native_open("{}");
    CHECK(other.ok);
    CHECK(collects(other.handle, greeting, sizeof greeting) == 1);
    CHECK(strcmp(greeting, "hello") == 0);
    CHECK(collects(opened.handle, greeting, sizeof greeting) == 3);
    wm_native_drop(other.handle);
    wm_native_drop(opened.handle);

    /* An empty config means the defaults. */
    opened = wm_native_open("");
    CHECK(opened.ok);
    CHECK(collects(opened.handle, greeting, sizeof greeting) == 1);
    CHECK(strcmp(greeting, "hello") == 0);
    wm_native_drop(opened.handle);

    /* A wrong config is refused, saying what to fix. */
    wm_native_result bad = wm_native_open("{\"greeting\": 5}");
    CHECK(!bad.ok && bad.error_kind == WASMETHEUS_PLUGIN_TYPES_ERROR_INVALID_CONFIG);
    CHECK(strstr(bad.error, "\"greeting\" must be a string") != NULL);
    bad = wm_native_open("{\"greting\": \"hi\"}");
    CHECK(!bad.ok && strstr(bad.error, "unknown setting \"greting\"") != NULL);
    bad = wm_native_open("{\"greeting\": ");
    CHECK(!bad.ok && strstr(bad.error, "config is not valid JSON") != NULL);

    if (failures) {
        fprintf(stderr, "test_plugin: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_plugin: all checks passed\n");
    return 0;
}
"#;
