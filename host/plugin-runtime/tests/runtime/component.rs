//! Exporter components for the tests, built here from WebAssembly text: a
//! core module that follows the canonical ABI, wrapped by `wit-component`
//! into a component of the `exporter` world of `wit/plugin.wit`.
//!
//! The plugin's metadata is a static memory image laid out as the canonical
//! ABI lays out `plugin-metadata`. Each collector counts its collects and
//! returns one gauge, `test_collects`, with that count: an instance that
//! was kept answers 2 on its second collect, one that was reopened 1.
//! `open` fails with `invalid-config` when the configuration starts with
//! `{"f` (`{"fail": true}`); a collector opened with a configuration that
//! starts with `{"e` (`{"error": true}`) fails every collect with
//! `unavailable`.

use std::path::Path;
use wasmetheus_plugin_runtime::Capability;

/// The error text `open` gives for `{"fail": true}`.
pub const OPEN_ERROR: &str = "fail is set in the configuration";
/// The error text `collect` gives for a collector opened with `{"error": true}`.
pub const COLLECT_ERROR: &str = "asked to fail";

/// What the built plugin says about itself.
#[derive(Debug, Clone)]
pub struct Exporter {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: String,
    pub capabilities: Vec<(Capability, String, bool)>,
}

impl Exporter {
    pub fn new(name: &str) -> Self {
        Exporter {
            name: name.to_owned(),
            version: "1.2.3".to_owned(),
            description: format!("the {name} test exporter"),
            config_schema: String::new(),
            capabilities: Vec::new(),
        }
    }

    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    pub fn schema(mut self, schema: &str) -> Self {
        self.config_schema = schema.to_owned();
        self
    }

    pub fn capability(mut self, capability: Capability, reason: &str, optional: bool) -> Self {
        self.capabilities
            .push((capability, reason.to_owned(), optional));
        self
    }

    /// The component's bytes.
    pub fn build(&self) -> Vec<u8> {
        wrap(&self.core_wat(), &wit_dir(), "exporter")
    }

    /// Writes the component to `<dir>/<file>.wasm` through a temporary
    /// name, as an installer would.
    pub fn install(&self, dir: &Path, file: &str) -> std::path::PathBuf {
        let path = dir.join(format!("{file}.wasm"));
        let tmp = dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, self.build()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }

    fn core_wat(&self) -> String {
        let mut image = Image::default();
        let name = image.string(&self.name);
        let version = image.string(&self.version);
        let description = image.string(&self.description);
        let schema = image.string(&self.config_schema);
        // capability-request: capability (u8 case, string) at 0, reason
        // at 12, optional at 20; 24 bytes, align 4.
        let requests: Vec<[u8; 24]> = self
            .capabilities
            .iter()
            .map(|(capability, reason, optional)| {
                let (case, text) = match capability {
                    Capability::ReadPath(p) => (0, p.as_str()),
                    Capability::TcpConnect(a) => (1, a.as_str()),
                    Capability::HttpOrigin(o) => (2, o.as_str()),
                    Capability::EnvVar(v) => (3, v.as_str()),
                    Capability::DnsLookup => (4, ""),
                    Capability::FilesystemUsage(p) => (5, p.as_str()),
                };
                let text = image.string(text);
                let reason = image.string(reason);
                let mut request = [0u8; 24];
                request[0] = case;
                request[4..12].copy_from_slice(&pair(text));
                request[12..20].copy_from_slice(&pair(reason));
                request[20] = u8::from(*optional);
                request
            })
            .collect();
        let requests_at = image.align(4);
        for request in &requests {
            image.bytes.extend_from_slice(request);
        }
        // plugin-metadata: five (pointer, length) pairs.
        let metadata = image.align(4);
        for field in [
            name,
            version,
            description,
            schema,
            (requests_at, requests.len() as u32),
        ] {
            image.bytes.extend_from_slice(&pair(field));
        }
        // result<collector, error> of `open`: ok, the handle at 4 (set by
        // `open`); err(invalid-config(OPEN_ERROR)).
        let open_error = image.string(OPEN_ERROR);
        let open_ok = image.align(4);
        image.bytes.extend_from_slice(&[0; 8]);
        let open_err = image.align(4);
        image.bytes.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        image.bytes.extend_from_slice(&pair(open_error));
        // One metric (56 bytes, align 8): no labels, number(value at 16),
        // no timestamp.
        let metric = image.align(8);
        let mut bytes = [0u8; 56];
        bytes[0..4].copy_from_slice(&metric.to_le_bytes());
        image.bytes.extend_from_slice(&bytes);
        // One family (36 bytes): name, kind gauge, help, unit, metrics.
        let family_name = image.string("test_collects");
        let help = image.string("Collects of this collector.");
        let family = image.align(4);
        image.bytes.extend_from_slice(&pair(family_name));
        image.bytes.extend_from_slice(&[1, 0, 0, 0]);
        image.bytes.extend_from_slice(&pair(help));
        image.bytes.extend_from_slice(&pair((help.0, 0)));
        image.bytes.extend_from_slice(&pair((metric, 1)));
        // result<list<metric-family>, error> of `collect`.
        let collect_ok = image.align(4);
        image.bytes.extend_from_slice(&[0, 0, 0, 0]);
        image.bytes.extend_from_slice(&pair((family, 1)));
        let collect_error = image.string(COLLECT_ERROR);
        let collect_err = image.align(4);
        image.bytes.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        image.bytes.extend_from_slice(&pair(collect_error));
        let heap = image.align(8);
        let data: String = image.bytes.iter().map(|b| format!("\\{b:02x}")).collect();
        format!(
            r#"(module
  (import "[export]wasmetheus:plugin/metrics@0.1.0" "[resource-new]collector"
    (func $new (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const {heap}))
  (data (i32.const 0) "{data}")
  (func $alloc (param $align i32) (param $size i32) (result i32)
    (local $at i32)
    (local.set $at
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $at) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then
        (drop (memory.grow
          (i32.add
            (i32.shr_u
              (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
              (i32.const 16))
            (i32.const 1))))))
    (local.get $at))
  (func (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32)
    (result i32)
    (call $alloc (local.get $align) (local.get $size)))
  ;; Byte 2 of the configuration text, or 0.
  (func $key (param $ptr i32) (param $len i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $len) (i32.const 2))
      (then (i32.load8_u offset=2 (local.get $ptr)))
      (else (i32.const 0))))
  (func (export "wasmetheus:plugin/metrics@0.1.0#metadata") (result i32)
    (i32.const {metadata}))
  (func (export "wasmetheus:plugin/metrics@0.1.0#[static]collector.open")
    (param $ptr i32) (param $len i32) (result i32)
    (local $cell i32)
    ;; 'f': fail to open.
    (if (i32.eq (call $key (local.get $ptr) (local.get $len)) (i32.const 102))
      (then (return (i32.const {open_err}))))
    ;; The collector: its collect count, and whether collects fail ('e').
    (local.set $cell (call $alloc (i32.const 4) (i32.const 8)))
    (i32.store (local.get $cell) (i32.const 0))
    (i32.store offset=4 (local.get $cell)
      (i32.eq (call $key (local.get $ptr) (local.get $len)) (i32.const 101)))
    (i32.store offset=4 (i32.const {open_ok}) (call $new (local.get $cell)))
    (i32.const {open_ok}))
  (func (export "wasmetheus:plugin/metrics@0.1.0#[method]collector.collect")
    (param $rep i32) (result i32)
    (if (i32.load offset=4 (local.get $rep))
      (then (return (i32.const {collect_err}))))
    (i32.store (local.get $rep) (i32.add (i32.load (local.get $rep)) (i32.const 1)))
    (f64.store offset=16 (i32.const {metric})
      (f64.convert_i32_u (i32.load (local.get $rep))))
    (i32.const {collect_ok}))
)"#
        )
    }
}

/// A valid component of another world: it exports `run` and nothing of
/// the `exporter` world.
pub fn other_world() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("other.wit"),
        "package test:other;\n\nworld other {\n    export run: func();\n}\n",
    )
    .unwrap();
    wrap(
        r#"(module
  (memory (export "memory") 1)
  (func (export "run")))"#,
        dir.path(),
        "other",
    )
}

/// A core module (not a component) that is valid WebAssembly.
pub fn core_module() -> Vec<u8> {
    wat::parse_str(r#"(module (func (export "run")))"#).unwrap()
}

fn wit_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit")
}

/// Wraps the core module in `wat` into a component of `world` in `wit`.
fn wrap(wat: &str, wit: &Path, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(wit).unwrap();
    let world = resolve.select_world(&[package], Some(world)).unwrap();
    let mut module = wat::parse_str(wat).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// (pointer, length) as the canonical ABI stores it.
fn pair((ptr, len): (u32, u32)) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&ptr.to_le_bytes());
    out[4..].copy_from_slice(&len.to_le_bytes());
    out
}

/// The static part of the module's memory, from address 8 up (0 stays
/// unused, so no pointer is null).
struct Image {
    bytes: Vec<u8>,
}

impl Default for Image {
    fn default() -> Self {
        Image { bytes: vec![0; 8] }
    }
}

impl Image {
    /// Pads to `align` and returns the address of what comes next.
    fn align(&mut self, align: usize) -> u32 {
        while !self.bytes.len().is_multiple_of(align) {
            self.bytes.push(0);
        }
        self.bytes.len() as u32
    }

    fn string(&mut self, text: &str) -> (u32, u32) {
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(text.as_bytes());
        (at, text.len() as u32)
    }
}
