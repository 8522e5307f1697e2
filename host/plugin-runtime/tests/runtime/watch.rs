//! Hot reload through the watcher: a plugin written into the directory is
//! loaded, a replaced one reloaded, a removed one stopped, and files that
//! are not plugins ignored. Each step waits for the runtime to show the
//! change, which is what the watcher promises; how soon is not asserted.

use crate::component::Exporter;
use crate::{Fixture, wait_until};
use wasmetheus_plugin_runtime::watch_plugins_dir;

fn plugins(fixture: &Fixture) -> Vec<(String, Option<String>)> {
    fixture
        .runtime
        .status()
        .into_iter()
        .map(|p| (p.plugin, p.version))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_appear_change_and_disappear_with_their_files() {
    let fixture = Fixture::new();
    let _watcher = watch_plugins_dir(fixture.runtime.clone()).unwrap();
    let runtime = &fixture.runtime;

    // Renamed into place.
    let path = Exporter::new("counter")
        .version("1.0.0")
        .install(fixture.dir(), "counter");
    wait_until(runtime, "the plugin is loaded", || {
        runtime.targets().iter().any(|t| t.instance == "counter")
    })
    .await;

    // Replaced by a new version.
    Exporter::new("counter")
        .version("2.0.0")
        .install(fixture.dir(), "counter");
    wait_until(runtime, "the new version is loaded", || {
        runtime
            .metadata("counter")
            .is_some_and(|m| m.version == "2.0.0")
    })
    .await;
    assert_eq!(
        crate::collects(&runtime.collect("counter").await.unwrap()),
        1.0
    );

    // Removed.
    std::fs::remove_file(&path).unwrap();
    wait_until(runtime, "the plugin is gone", || {
        runtime.status().is_empty()
    })
    .await;
    assert!(runtime.targets().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_written_in_place_piece_by_piece_is_loaded_whole() {
    use std::io::Write;
    let fixture = Fixture::new();
    let _watcher = watch_plugins_dir(fixture.runtime.clone()).unwrap();
    let runtime = &fixture.runtime;
    let bytes = Exporter::new("slow").build();
    let mut file = std::fs::File::create(fixture.dir().join("slow.wasm")).unwrap();
    for chunk in bytes.chunks(bytes.len() / 4 + 1) {
        file.write_all(chunk).unwrap();
        file.flush().unwrap();
    }
    drop(file);
    // However the writes were split into events, the file ends up loaded
    // from its whole content.
    wait_until(runtime, "the plugin is loaded whole", || {
        runtime
            .status()
            .iter()
            .any(|p| p.plugin == "slow" && p.health == "ok")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_plugins_are_ignored() {
    let fixture = Fixture::new();
    let _watcher = watch_plugins_dir(fixture.runtime.clone()).unwrap();
    let runtime = &fixture.runtime;
    std::fs::write(fixture.dir().join("notes.txt"), b"not a plugin").unwrap();
    std::fs::write(fixture.dir().join(".hidden.wasm"), b"hidden").unwrap();
    std::fs::write(fixture.dir().join("plugin.wasm.bak"), b"backup").unwrap();
    // Written after the others: once it is loaded, their events have been
    // handled too.
    Exporter::new("last").install(fixture.dir(), "last");
    wait_until(runtime, "the plugin is loaded", || {
        runtime.metadata("last").is_some()
    })
    .await;
    assert_eq!(
        plugins(&fixture),
        [("last".to_owned(), Some("1.2.3".to_owned()))]
    );
}
