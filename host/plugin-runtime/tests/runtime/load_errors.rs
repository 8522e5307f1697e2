//! What a plugin file that cannot be loaded is reported as: the error of
//! `load_file`, and the plugin's status.

use crate::component::{self, Exporter};
use crate::{Fixture, runtime_over};
use std::path::Path;
use wasmetheus_plugin_runtime::{LoadError, RuntimeOptions};

/// Writes `bytes` as `<name>.wasm`, loads it and returns the error text,
/// checking that the status reports the plugin failed with it.
fn load_error(fixture: &Fixture, name: &str, bytes: &[u8]) -> String {
    let path = fixture.dir().join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    let error = fixture.runtime.load_file(&path).unwrap_err();
    let text = error.to_string();
    let status = fixture.runtime.status();
    let plugin = status.iter().find(|p| p.plugin == name).unwrap();
    assert_eq!(plugin.health, "failed");
    assert_eq!(plugin.last_error.as_deref(), Some(text.as_str()));
    assert!(plugin.instances.is_empty());
    assert!(fixture.runtime.targets().is_empty());
    text
}

fn invalid_component(path: &Path) -> String {
    format!("{} is not a valid exporter component: ", path.display())
}

#[test]
fn a_missing_file_is_a_read_error_and_leaves_no_entry() {
    let fixture = Fixture::new();
    let path = fixture.dir().join("missing.wasm");
    let error = fixture.runtime.load_file(&path).unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot read {}: ", path.display())),
        "{error}"
    );
    assert!(fixture.runtime.status().is_empty());
}

#[test]
fn bytes_that_are_not_a_component_are_refused_as_invalid() {
    let fixture = Fixture::new();
    for (name, bytes) in [
        ("garbage", b"not WebAssembly at all".to_vec()),
        ("empty", Vec::new()),
        ("core", component::core_module()),
    ] {
        let error = load_error(&fixture, name, &bytes);
        let path = fixture.dir().join(format!("{name}.wasm"));
        assert!(error.starts_with(&invalid_component(&path)), "{error}");
    }
}

#[test]
fn a_truncated_component_is_refused_as_invalid() {
    let fixture = Fixture::new();
    let whole = Exporter::new("cut").build();
    for len in [whole.len() / 2, whole.len() - 1, 8] {
        let error = load_error(&fixture, "cut", &whole[..len]);
        let path = fixture.dir().join("cut.wasm");
        assert!(
            error.starts_with(&invalid_component(&path)),
            "{len}: {error}"
        );
    }
}

#[test]
fn a_component_of_another_world_is_refused_naming_what_it_lacks() {
    let fixture = Fixture::new();
    let error = load_error(&fixture, "other", &component::other_world());
    let path = fixture.dir().join("other.wasm");
    assert!(error.starts_with(&invalid_component(&path)), "{error}");
    assert!(error.contains("wasmetheus:plugin/metrics"), "{error}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let plugins = tempfile::tempdir().unwrap();
    let path = Exporter::new("big").install(plugins.path(), "big");
    let size = std::fs::metadata(&path).unwrap().len();
    let mut options = RuntimeOptions::new(plugins.path());
    options.max_plugin_size = size - 1;
    let runtime = wasmetheus_plugin_runtime::PluginRuntime::new(options).unwrap();
    let error = runtime.load_file(&path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is {size} bytes, more than the plugin size limit of {} bytes; build the plugin \
             smaller (release profile, stripped) or raise the limit",
            path.display(),
            size - 1
        )
    );
}

#[test]
fn load_all_loads_top_level_wasm_files_and_reports_the_bad_ones() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path();
    Exporter::new("good").install(dir, "good");
    std::fs::write(dir.join("bad.wasm"), b"bad").unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a plugin").unwrap();
    std::fs::write(dir.join(".hidden.wasm"), b"hidden").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    Exporter::new("nested").install(&dir.join("sub"), "nested");
    std::fs::create_dir(dir.join("dir.wasm")).unwrap();
    let runtime = runtime_over(dir, None);
    assert_eq!(runtime.load_all(), 1);
    let status = runtime.status();
    let plugins: Vec<(&str, &str)> = status
        .iter()
        .map(|p| (p.plugin.as_str(), p.health))
        .collect();
    assert_eq!(plugins, [("bad", "failed"), ("good", "ok")]);
}

#[test]
fn a_missing_plugins_directory_loads_nothing() {
    let plugins = tempfile::tempdir().unwrap();
    let runtime = runtime_over(&plugins.path().join("absent"), None);
    assert_eq!(runtime.load_all(), 0);
    assert!(runtime.status().is_empty());
}
