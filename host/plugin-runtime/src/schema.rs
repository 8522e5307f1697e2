//! The settings a plugin declares secret in its config schema.
//!
//! A plugin marks a setting secret with the JSON Schema annotation
//! `"writeOnly": true` (or `"format": "password"`) on the setting's schema,
//! at any depth: under `properties`, `patternProperties` and
//! `additionalProperties` (every other key), `items`, `prefixItems` and
//! the like (every item), through `allOf`/`anyOf`/`oneOf`/`if`/`then`/`else`
//! and local `$ref`s (`#/$defs/…`). [`declared_secrets`] turns that into the
//! paths of [`DeclaredSecrets`], which `/api/v1/status/config` shows as
//! `<secret>` in every instance of the plugin.
//!
//! The schema is untrusted input: it is read only up to
//! [`MAX_SCHEMA_BYTES`], parsed by `serde_json` (whose nesting limit turns a
//! deeply nested document into an error, not a deep recursion), and walked
//! at most [`MAX_SCHEMA_DEPTH`] subschemas deep, [`MAX_SCHEMAS_WALKED`]
//! subschemas in all, declaring at most [`MAX_SECRET_PATHS`] paths. What the
//! walk cannot finish errs on the side of hiding: a schema that cannot be
//! read hides all of the plugin's settings ([`secrets_of`]), and a `$ref`
//! cycle or a subschema below the depth limit hides the value there when
//! the schema declares any secret at all.

use serde_json::{Map, Value};
use wasmetheus_config::{DeclaredSecrets, SettingStep};

/// The largest config schema read, in bytes.
pub const MAX_SCHEMA_BYTES: usize = 1 << 20;
/// How many subschemas deep the walk goes (a `$ref` counts as one more).
pub const MAX_SCHEMA_DEPTH: usize = 64;
/// How many subschemas the walk visits in all (a subschema reached through
/// several `$ref`s counts each time).
pub const MAX_SCHEMAS_WALKED: usize = 100_000;
/// How many secret paths a schema may declare.
pub const MAX_SECRET_PATHS: usize = 1_000;

/// Why a config schema's secrets could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the config schema is {size} bytes, over the limit of {limit}: describe the settings in a smaller schema"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("the config schema is not valid JSON: {0}")]
    NotJson(String),
    #[error(
        "the config schema has more than {0} subschemas to walk (counting each use of a $ref): declare settings with fewer references"
    )]
    TooManySchemas(usize),
    #[error("the config schema declares more than {0} secret settings")]
    TooManySecrets(usize),
}

/// The settings `schema` declares secret. An empty schema declares none.
pub fn declared_secrets(schema: &str) -> Result<DeclaredSecrets, SchemaError> {
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(SchemaError::TooLarge {
            size: schema.len(),
            limit: MAX_SCHEMA_BYTES,
        });
    }
    if schema.trim().is_empty() {
        return Ok(DeclaredSecrets::default());
    }
    let root: Value =
        serde_json::from_str(schema).map_err(|e| SchemaError::NotJson(e.to_string()))?;
    let mut walker = Walker {
        root: &root,
        declares_any: declares_any(&root),
        refs: Vec::new(),
        walked: 0,
        out: DeclaredSecrets::default(),
    };
    if walker.declares_any {
        walker.walk(&root, &mut Vec::new(), 0)?;
    }
    Ok(walker.out)
}

/// [`declared_secrets`], with a schema that cannot be read declaring every
/// setting secret; the error is logged against `plugin`.
pub fn secrets_of(plugin: &str, schema: &str) -> DeclaredSecrets {
    declared_secrets(schema).unwrap_or_else(|error| {
        tracing::warn!(
            plugin,
            %error,
            "all settings of this plugin are shown as <secret>: its config schema cannot be read"
        );
        DeclaredSecrets::everything()
    })
}

/// Whether a schema object carries a secret annotation.
fn is_secret(schema: &Map<String, Value>) -> bool {
    schema.get("writeOnly") == Some(&Value::Bool(true))
        || schema.get("format").and_then(Value::as_str) == Some("password")
}

/// Whether any object anywhere in `root` carries a secret annotation
/// (iterative: the document's depth is bounded by the parser anyway).
fn declares_any(root: &Value) -> bool {
    let mut pending = vec![root];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                if is_secret(map) {
                    return true;
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    false
}

struct Walker<'a> {
    root: &'a Value,
    /// Whether the document declares anything: only then does a cut-off
    /// walk hide what it could not reach.
    declares_any: bool,
    /// The `$ref`s being expanded, outermost first.
    refs: Vec<&'a str>,
    walked: usize,
    out: DeclaredSecrets,
}

impl<'a> Walker<'a> {
    fn declare(&mut self, path: &[SettingStep]) -> Result<(), SchemaError> {
        if self.out.contains(path) {
            return Ok(());
        }
        if self.out.len() >= MAX_SECRET_PATHS {
            return Err(SchemaError::TooManySecrets(MAX_SECRET_PATHS));
        }
        self.out.insert(path.to_vec());
        Ok(())
    }

    /// The walk could not go on at `path`: hide it if anything is secret.
    fn cut_off(&mut self, path: &[SettingStep]) -> Result<(), SchemaError> {
        if self.declares_any {
            self.declare(path)?;
        }
        Ok(())
    }

    fn walk(
        &mut self,
        schema: &'a Value,
        path: &mut Vec<SettingStep>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        // `true`, `false` and anything else that is not a schema object
        // declare nothing.
        let Value::Object(map) = schema else {
            return Ok(());
        };
        self.walked += 1;
        if self.walked > MAX_SCHEMAS_WALKED {
            return Err(SchemaError::TooManySchemas(MAX_SCHEMAS_WALKED));
        }
        if depth > MAX_SCHEMA_DEPTH {
            return self.cut_off(path);
        }
        if is_secret(map) {
            // The whole value is hidden: nothing below needs a path.
            return self.declare(path);
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            self.follow(reference, path, depth)?;
        }
        // Subschemas applying to the same value.
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(schemas)) = map.get(keyword) {
                for sub in schemas {
                    self.walk(sub, path, depth + 1)?;
                }
            }
        }
        for keyword in ["if", "then", "else"] {
            if let Some(sub) = map.get(keyword) {
                self.walk(sub, path, depth + 1)?;
            }
        }
        if let Some(Value::Object(schemas)) = map.get("dependentSchemas") {
            for sub in schemas.values() {
                self.walk(sub, path, depth + 1)?;
            }
        }
        // Members of an object.
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (key, sub) in properties {
                self.step(SettingStep::Key(key.clone()), sub, path, depth)?;
            }
        }
        if let Some(Value::Object(patterns)) = map.get("patternProperties") {
            for sub in patterns.values() {
                self.step(SettingStep::AnyKey, sub, path, depth)?;
            }
        }
        for keyword in ["additionalProperties", "unevaluatedProperties"] {
            if let Some(sub) = map.get(keyword) {
                self.step(SettingStep::AnyKey, sub, path, depth)?;
            }
        }
        // Items of an array (a tuple's positions are not told apart).
        for keyword in [
            "items",
            "prefixItems",
            "additionalItems",
            "unevaluatedItems",
            "contains",
        ] {
            match map.get(keyword) {
                Some(Value::Array(schemas)) => {
                    for sub in schemas {
                        self.step(SettingStep::AnyItem, sub, path, depth)?;
                    }
                }
                Some(sub) => self.step(SettingStep::AnyItem, sub, path, depth)?,
                None => {}
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        step: SettingStep,
        sub: &'a Value,
        path: &mut Vec<SettingStep>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        path.push(step);
        let walked = self.walk(sub, path, depth + 1);
        path.pop();
        walked
    }

    /// A local `$ref` (`#` or `#/json/pointer`) is walked in place; one
    /// already being expanded (a cycle) is cut off. Other references (remote
    /// documents, anchors) are not fetched or resolved.
    fn follow(
        &mut self,
        reference: &'a str,
        path: &mut Vec<SettingStep>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Ok(());
        };
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Ok(());
        }
        let Some(target) = self.root.pointer(pointer) else {
            return Ok(());
        };
        if self.refs.contains(&reference) {
            return self.cut_off(path);
        }
        self.refs.push(reference);
        let walked = self.walk(target, path, depth + 1);
        self.refs.pop();
        walked
    }
}

/// The first entry of a config schema's top-level `examples`, when it is
/// an object: how `wasmetheus check plugins` configures an exporter that
/// cannot open without settings (a DSN, say).
pub fn first_example(schema: &str) -> Option<Value> {
    let schema: Value = serde_json::from_str(schema).ok()?;
    let example = schema.get("examples")?.as_array()?.first()?;
    example.is_object().then(|| example.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use SettingStep::{AnyItem, AnyKey, Key};

    fn key(k: &str) -> SettingStep {
        Key(k.to_owned())
    }

    fn paths(schema: &str) -> Vec<Vec<SettingStep>> {
        declared_secrets(schema)
            .unwrap()
            .paths()
            .map(<[SettingStep]>::to_vec)
            .collect()
    }

    #[test]
    fn nothing_declared() {
        assert!(paths("").is_empty());
        assert!(paths("  ").is_empty());
        assert!(paths("true").is_empty());
        assert!(
            paths(r#"{"type":"object","properties":{"password":{"type":"string"}}}"#).is_empty()
        );
    }

    #[test]
    fn write_only_and_password_format_at_any_depth() {
        let schema = r#"{
            "type": "object",
            "properties": {
                "blob": {"type": "string", "writeOnly": true},
                "visible": {"type": "string", "writeOnly": false},
                "db": {
                    "type": "object",
                    "properties": {
                        "auth": {"type": "string", "format": "password"},
                        "host": {"type": "string"}
                    }
                },
                "peers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"seed": {"writeOnly": true}, "name": {}}
                    }
                },
                "headers": {"additionalProperties": {"type": "string", "writeOnly": true}},
                "tuple": {"prefixItems": [{"type": "string"}, {"writeOnly": true}]}
            }
        }"#;
        assert_eq!(
            paths(schema),
            vec![
                vec![key("blob")],
                vec![key("db"), key("auth")],
                vec![key("headers"), AnyKey],
                vec![key("peers"), AnyItem, key("seed")],
                vec![key("tuple"), AnyItem],
            ]
        );
    }

    #[test]
    fn a_secret_object_hides_all_of_it() {
        let schema = r#"{"properties": {"vault": {"writeOnly": true,
            "properties": {"inner": {"writeOnly": true}}}}}"#;
        assert_eq!(paths(schema), vec![vec![key("vault")]]);
        assert_eq!(paths(r#"{"writeOnly": true}"#), vec![Vec::new()]);
    }

    #[test]
    fn combinators_and_local_refs() {
        let schema = r##"{
            "$defs": {"credential": {"type": "string", "writeOnly": true},
                      "endpoint": {"properties": {"key": {"$ref": "#/$defs/credential"}}}},
            "allOf": [{"properties": {"a": {"writeOnly": true}}}],
            "oneOf": [{"properties": {"b": {"format": "password"}}}],
            "properties": {
                "main": {"$ref": "#/$defs/endpoint"},
                "remote": {"$ref": "https://example.com/schema.json"},
                "missing": {"$ref": "#/$defs/nowhere"}
            }
        }"##;
        assert_eq!(
            paths(schema),
            vec![
                vec![key("a")],
                vec![key("b")],
                vec![key("main"), key("key")]
            ]
        );
    }

    #[test]
    fn a_ref_cycle_hides_where_it_recurses() {
        // A tree of nodes, each with a secret: the first level's secret is
        // declared, the recursion is hidden as a whole.
        let schema = r##"{"properties": {
            "token_like": {"writeOnly": true},
            "children": {"type": "array", "items": {"$ref": "#"}}
        }}"##;
        assert_eq!(
            paths(schema),
            vec![
                vec![key("children"), AnyItem, key("children"), AnyItem],
                vec![key("children"), AnyItem, key("token_like")],
                vec![key("token_like")],
            ]
        );
        // No secret anywhere: a recursive schema hides nothing.
        assert!(paths(r##"{"properties": {"children": {"items": {"$ref": "#"}}}}"##).is_empty());
    }

    #[test]
    fn deep_schemas_are_cut_off_at_the_depth_limit() {
        // 100 levels of objects (within the parser's limit: 2 JSON levels
        // each would be 200, so use a chain of refs instead).
        let levels = 100;
        let mut defs = Vec::new();
        for i in 0..levels {
            defs.push(format!(
                r##""l{i}": {{"properties": {{"s": {{"writeOnly": true}}, "next": {{"$ref": "#/$defs/l{}"}}}}}}"##,
                i + 1
            ));
        }
        defs.push(format!(r#""l{levels}": {{}}"#));
        let schema = format!(
            r##"{{"$defs": {{{}}}, "$ref": "#/$defs/l0"}}"##,
            defs.join(",")
        );
        let declared = declared_secrets(&schema).unwrap();
        let longest = declared.paths().map(<[SettingStep]>::len).max().unwrap();
        assert!(longest <= MAX_SCHEMA_DEPTH, "{longest}");
        // The cut-off point is hidden as a whole.
        let cut: Vec<SettingStep> = std::iter::repeat_n(key("next"), longest).collect();
        assert!(declared.contains(&cut), "{:?}", declared.paths().last());
    }

    #[test]
    fn hostile_schemas_are_errors_not_panics() {
        // 10 MB.
        let huge = format!(
            r#"{{"properties": {{"a": {{"description": "{}"}}}}}}"#,
            "x".repeat(10 << 20)
        );
        assert!(matches!(
            declared_secrets(&huge),
            Err(SchemaError::TooLarge { .. })
        ));
        // 100k-deep nesting, within the size limit as arrays and as objects.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            declared_secrets(&deep),
            Err(SchemaError::NotJson(_))
        ));
        let deep = format!(
            "{}{{\"writeOnly\": true}}{}",
            r#"{"properties": {"a": "#.repeat(100_000 / 3),
            "}}".repeat(100_000 / 3)
        );
        assert!(deep.len() < MAX_SCHEMA_BYTES);
        assert!(matches!(
            declared_secrets(&deep),
            Err(SchemaError::NotJson(_))
        ));
        // Not JSON.
        for text in ["not json", "{\"properties\": ", "\u{0}\u{ff}", "{'a': 1}"] {
            assert!(
                matches!(declared_secrets(text), Err(SchemaError::NotJson(_))),
                "{text:?}"
            );
        }
        // Exponentially many walks through refs (each def uses the next
        // twice, 2^20 in all, within the depth limit): the walk stops at
        // its budget.
        let mut defs = Vec::new();
        for i in 0..20 {
            defs.push(format!(
                r##""d{i}": {{"properties": {{"x": {{"$ref": "#/$defs/d{n}"}}, "y": {{"$ref": "#/$defs/d{n}"}}}}}}"##,
                n = i + 1
            ));
        }
        defs.push(r#""d20": {}"#.to_owned());
        let schema = format!(
            r##"{{"$defs": {{{}}}, "$ref": "#/$defs/d0", "properties": {{"s": {{"writeOnly": true}}}}}}"##,
            defs.join(",")
        );
        assert_eq!(
            declared_secrets(&schema),
            Err(SchemaError::TooManySchemas(MAX_SCHEMAS_WALKED))
        );
        // Too many secrets.
        let properties: Vec<String> = (0..=MAX_SECRET_PATHS)
            .map(|i| format!(r#""p{i}": {{"writeOnly": true}}"#))
            .collect();
        let schema = format!(r#"{{"properties": {{{}}}}}"#, properties.join(","));
        assert_eq!(
            declared_secrets(&schema),
            Err(SchemaError::TooManySecrets(MAX_SECRET_PATHS))
        );
    }

    #[test]
    fn an_unreadable_schema_hides_everything() {
        assert!(secrets_of("p", "not json").is_everything());
        assert!(secrets_of("p", "").is_empty());
        assert_eq!(
            secrets_of("p", r#"{"properties": {"blob": {"writeOnly": true}}}"#)
                .paths()
                .collect::<Vec<_>>(),
            vec![&[key("blob")][..]]
        );
    }

    #[test]
    fn the_first_object_example_configures_a_checked_instance() {
        assert_eq!(
            first_example(r#"{"type": "object", "examples": [{"dsn": "u@tcp(h:1)/"}, {}]}"#),
            Some(serde_json::json!({"dsn": "u@tcp(h:1)/"}))
        );
        for none in [
            "",
            "not json",
            r#"{"type": "object"}"#,
            r#"{"examples": []}"#,
            r#"{"examples": ["a string"]}"#,
            r#"{"examples": {"dsn": "x"}}"#,
        ] {
            assert_eq!(first_example(none), None, "{none}");
        }
    }
}
