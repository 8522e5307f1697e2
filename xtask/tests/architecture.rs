//! The invariants of ARCHITECTURE.md that a program can check: which crate
//! may depend on which, that the code map names every crate and only paths
//! that exist, that every Rust file says what it is for, that no two files
//! of a crate import each other, and that files stay small enough to be one
//! job. A failure names the rule, the offender and how to fix it.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The workspace's packages and the resolved dependency graph.
struct Graph {
    /// Package id → name, for every package in the resolve.
    names: BTreeMap<String, String>,
    /// Workspace member name → its manifest directory, relative to the root.
    members: BTreeMap<String, String>,
    /// Package name → (dependency name, kind: "normal" | "dev" | "build").
    direct: BTreeMap<String, Vec<(String, String)>>,
}

impl Graph {
    /// `cargo metadata`, read once per test run.
    fn load() -> &'static Graph {
        static GRAPH: std::sync::OnceLock<Graph> = std::sync::OnceLock::new();
        GRAPH.get_or_init(Graph::read)
    }

    fn read() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1"])
            .current_dir(root())
            .output()
            .expect("run cargo metadata");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
        let root = root();
        let mut names = BTreeMap::new();
        let mut members = BTreeMap::new();
        let workspace: BTreeSet<&str> = meta["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for package in meta["packages"].as_array().unwrap() {
            let id = package["id"].as_str().unwrap();
            let name = package["name"].as_str().unwrap().to_owned();
            if workspace.contains(id) {
                let manifest = Path::new(package["manifest_path"].as_str().unwrap());
                let dir = manifest.parent().unwrap().strip_prefix(&root).unwrap();
                members.insert(name.clone(), dir.to_string_lossy().into_owned());
            }
            names.insert(id.to_owned(), name);
        }
        let mut direct = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().unwrap() {
            let name = names[node["id"].as_str().unwrap()].clone();
            let mut deps = Vec::new();
            for dep in node["deps"].as_array().unwrap() {
                let dep_name = names[dep["pkg"].as_str().unwrap()].clone();
                for kind in dep["dep_kinds"].as_array().unwrap() {
                    let kind = kind["kind"].as_str().unwrap_or("normal").to_owned();
                    deps.push((dep_name.clone(), kind));
                }
            }
            direct.insert(name, deps);
        }
        Graph {
            names,
            members,
            direct,
        }
    }

    /// Everything `package` pulls in through normal dependencies.
    fn normal_closure(&self, package: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![package.to_owned()];
        while let Some(p) = todo.pop() {
            for (dep, kind) in self.direct.get(&p).into_iter().flatten() {
                if kind == "normal" && seen.insert(dep.clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }

    fn depends_directly(&self, package: &str, dep: &str) -> Vec<String> {
        self.direct
            .get(package)
            .into_iter()
            .flatten()
            .filter(|(d, _)| d == dep)
            .map(|(_, kind)| kind.clone())
            .collect()
    }
}

/// Crates that must not end up in a crate's build (through normal
/// dependencies, directly or not), and why.
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "wasmetheus-model",
        &[
            "wasmetheus-config",
            "wasmetheus-tsdb",
            "wasmetheus-promql",
            "tokio",
            "wasmtime",
        ],
        "the model is the leaf every crate shares",
    ),
    (
        "wasmetheus-promql",
        &[
            "wasmetheus-tsdb",
            "wasmetheus-promqltest",
            "wasmtime",
            "hyper",
            "tokio",
        ],
        "the engine reads storage through the model's traits and carries no test harness",
    ),
    (
        "wasmetheus-tsdb",
        &["wasmetheus-promql", "wasmtime", "hyper"],
        "storage knows nothing of queries or plugins",
    ),
    (
        "wasmetheus-relabel",
        &["hyper", "rustls", "tokio", "wasmtime"],
        "relabeling is pure label arithmetic",
    ),
    (
        "wasmetheus-config",
        &["wasmetheus-scrape", "hyper", "rustls", "wasmtime"],
        "reading a config file does not pull in the HTTP client stack",
    ),
    (
        "wasmetheus-api",
        &[
            "wasmetheus-tsdb",
            "wasmetheus-plugin-runtime",
            "wasmetheus-scrape",
            "wasmtime",
        ],
        "the API talks to the server only through its Backend trait",
    ),
    (
        "wasmetheus-scrape",
        &["wasmtime", "wasmetheus-promql"],
        "scraping hands samples to an appender and knows no plugin runtime",
    ),
    (
        "wasmetheus-web",
        &["wasmtime", "wasmetheus-tsdb", "wasmetheus-promql"],
        "the web layer is TLS and authentication only",
    ),
];

#[test]
fn crates_depend_only_downwards() {
    let graph = Graph::load();
    let mut problems = Vec::new();
    for (package, forbidden, why) in FORBIDDEN {
        assert!(
            graph.members.contains_key(*package),
            "rule for {package}, which is not a workspace member: update FORBIDDEN"
        );
        let closure = graph.normal_closure(package);
        for f in *forbidden {
            if closure.contains(*f) {
                problems.push(format!(
                    "{package} pulls in {f} ({why}); `cargo tree -p {package} -i {f}` shows the path"
                ));
            }
        }
    }
    // Scraping knows no config file: the server turns scrape configs into
    // targets. (The shared HTTP client, which reads its settings from the
    // configuration's type, brings the crate along without scraping
    // naming it.)
    for kind in graph.depends_directly("wasmetheus-scrape", "wasmetheus-config") {
        if kind == "normal" {
            problems.push(
                "wasmetheus-scrape depends on wasmetheus-config: let the server turn the \
                 configuration into targets and settings"
                    .to_owned(),
            );
        }
    }
    // Not even as a test helper: the two may never see each other.
    for (a, b) in [
        ("wasmetheus-promql", "wasmetheus-tsdb"),
        ("wasmetheus-tsdb", "wasmetheus-promql"),
    ] {
        for kind in graph.depends_directly(a, b) {
            problems.push(format!("{a} has a {kind} dependency on {b}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn only_the_plugin_runtime_uses_wasmtime() {
    let graph = Graph::load();
    let mut users = BTreeSet::new();
    for member in graph.members.keys() {
        for (dep, _) in graph.direct.get(member).into_iter().flatten() {
            if dep == "wasmtime" || dep.starts_with("wasmtime-") {
                users.insert(member.clone());
            }
        }
    }
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["wasmetheus-plugin-runtime"],
        "only host/plugin-runtime may depend on wasmtime: move the code that needs it there"
    );
    assert!(!graph.names.is_empty());
}

fn architecture_md() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md")
}

#[test]
fn the_code_map_names_every_crate() {
    let graph = Graph::load();
    let text = architecture_md();
    let missing: Vec<&String> = graph
        .members
        .iter()
        .filter(|(name, dir)| {
            // Test guests are listed by their directory.
            !name.starts_with("guest-") && !text.contains(&format!("`{dir}`"))
        })
        .map(|(_, dir)| dir)
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these crates (as `dir`): {missing:?}"
    );
}

#[test]
fn the_code_map_names_only_paths_that_exist() {
    let text = architecture_md();
    let root = root();
    let mut stale = Vec::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let path = quoted.trim_end_matches('/');
        let top = path.split('/').next().unwrap_or("");
        let is_path = matches!(
            top,
            "host" | "sdk" | "plugins" | "examples" | "tests" | "xtask" | "wit" | ".ci"
        ) && path.contains('/');
        if !is_path || path.contains(|c: char| "*{}<> …".contains(c)) {
            continue;
        }
        if !root.join(path).exists() {
            stale.push(path.to_owned());
        }
    }
    assert!(
        stale.is_empty(),
        "ARCHITECTURE.md names paths that do not exist (moved or renamed?): {stale:?}"
    );
}

/// Every `.rs` file of the workspace's own code, relative to the root.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = root();
    let mut files = Vec::new();
    for top in ["host", "sdk", "plugins", "tests", "xtask"] {
        walk(&root.join(top), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|f| f.strip_prefix(&root).unwrap().to_owned())
        .collect()
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let root = root();
    let undocumented: Vec<PathBuf> = rust_files()
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("#!["));
            !first.is_some_and(|l| l.starts_with("//!"))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "these files do not start with a `//!` comment saying what they are for: {undocumented:?}"
    );
}

#[test]
fn the_server_builds_no_api_json() {
    let root = root();
    let mut found = Vec::new();
    for file in rust_files() {
        if !file.starts_with("host/server/src") {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["serde_json::Value", "json!(", "serde_json::to_value"]
                .iter()
                .any(|p| code.contains(p))
            {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the server builds JSON by hand; return a type of host/api (its `types` module) instead:\n{}",
        found.join("\n")
    );
}

/// A file past this many lines is usually two jobs: split it by job.
const MAX_LINES: usize = 1_300;

#[test]
fn source_files_stay_one_job() {
    let root = root();
    let long: Vec<String> = rust_files()
        .into_iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        .filter_map(|f| {
            let lines = std::fs::read_to_string(root.join(&f)).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "source files past {MAX_LINES} lines (split them by job): {long:?}"
    );
}

/// A crate's modules (one per file) and which others each one names
/// through `crate::…` or `super::…` paths, outside `#[cfg(test)]` modules
/// and comments. A module naming its own ancestor or descendant does not
/// count: that is how a module tree is built.
fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap().with_extension("");
        let mut path: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if path.first().is_some_and(|p| p == "bin") {
            continue;
        }
        let is_mod_file = matches!(
            path.last().map(String::as_str),
            Some("lib" | "main" | "mod")
        );
        if is_mod_file {
            path.pop();
        }
        modules.insert(path, file);
    }
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or("")
            .lines()
            .map(|l| match l.find("//") {
                Some(i) => &l[..i],
                None => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut references: Vec<Vec<String>> = Vec::new();
        // `super` of `a/b.rs` and of `a/b/mod.rs` alike is `a`.
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
            let mut rest = code.as_str();
            while let Some(i) = rest.find(prefix) {
                let preceded_by_ident = rest[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                rest = &rest[i + prefix.len()..];
                if preceded_by_ident {
                    continue;
                }
                let mut segments = base.clone();
                if let Some(group) = rest.strip_prefix('{') {
                    // `crate::{a::X, b}`: each item of the group.
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let mut item_path = base.clone();
                        item_path.extend(path_segments(item.trim()));
                        references.push(item_path);
                    }
                    continue;
                }
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                segments.extend(path_segments(&rest[..end]));
                references.push(segments);
            }
        }
        let mut edges = BTreeSet::new();
        for reference in references {
            let target = (0..=reference.len())
                .rev()
                .map(|k| reference[..k].to_vec())
                .find(|p| known.contains(p))
                .unwrap_or_default();
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                edges.insert(target);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

fn path_segments(path: &str) -> Vec<String> {
    path.split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in &s.graph[v] {
            let Some((w, _)) = s.graph.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(if w.is_empty() {
                    "lib".to_owned()
                } else {
                    w.join("::")
                });
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn no_two_files_of_a_crate_import_each_other() {
    let graph = Graph::load();
    let root = root();
    let mut found = Vec::new();
    for dir in graph.members.values() {
        let src = root.join(dir).join("src");
        if !src.is_dir() {
            continue;
        }
        for cycle in cycles(&module_graph(&src)) {
            found.push(format!("{dir}: {}", cycle.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that import each other (move what they share into a module both use):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let dir = std::env::temp_dir().join(format!("wasmetheus-arch-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "//! x\nmod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "//! a\nuse crate::b::X;\n").unwrap();
    std::fs::write(
        src.join("b/mod.rs"),
        "//! b\nmod inner;\nuse crate::{a::Y, c};\n",
    )
    .unwrap();
    std::fs::write(src.join("b/inner.rs"), "//! inner\nuse super::Z;\n").unwrap();
    std::fs::write(
        src.join("c.rs"),
        "//! c\n// crate::a::Y in a comment\n#[cfg(test)]\nmod tests { use crate::a::Y; }\n",
    )
    .unwrap();
    let found = cycles(&module_graph(&src));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, vec![vec!["a".to_owned(), "b".to_owned()]]);
}
