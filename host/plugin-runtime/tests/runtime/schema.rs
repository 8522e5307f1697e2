//! A plugin's config schema: the settings it declares secret, as the
//! public `schema` module reads them and as a loaded plugin's metadata
//! carries them.

use crate::Fixture;
use crate::component::Exporter;
use wasmetheus_config::{DeclaredSecrets, SettingStep};
use wasmetheus_plugin_runtime::schema::{MAX_SCHEMA_BYTES, SchemaError, declared_secrets};

fn key(k: &str) -> SettingStep {
    SettingStep::Key(k.to_owned())
}

const SCHEMA: &str = r#"{
    "type": "object",
    "properties": {
        "host": {"type": "string"},
        "password": {"type": "string", "writeOnly": true},
        "tls": {"properties": {"key": {"type": "string", "format": "password"}}},
        "headers": {"additionalProperties": {"type": "string", "writeOnly": true}}
    }
}"#;

#[test]
fn secrets_are_read_from_the_schema_at_any_depth() {
    let secrets = declared_secrets(SCHEMA).unwrap();
    assert_eq!(secrets.len(), 3);
    assert!(secrets.contains(&[key("password")]));
    assert!(secrets.contains(&[key("tls"), key("key")]));
    assert!(secrets.contains(&[key("headers"), SettingStep::AnyKey]));
    assert!(!secrets.contains(&[key("host")]));
    assert!(declared_secrets("").unwrap().is_empty());
    assert!(
        declared_secrets(r#"{"type": "object"}"#)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_schema_that_cannot_be_read_is_an_error_that_says_why() {
    let error = declared_secrets("{not json").unwrap_err();
    assert!(matches!(error, SchemaError::NotJson(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("the config schema is not valid JSON: "),
        "{error}"
    );
    let huge = format!("\"{}\"", "x".repeat(MAX_SCHEMA_BYTES));
    let error = declared_secrets(&huge).unwrap_err();
    assert_eq!(
        error,
        SchemaError::TooLarge {
            size: huge.len(),
            limit: MAX_SCHEMA_BYTES
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the config schema is {} bytes, over the limit of {MAX_SCHEMA_BYTES}: describe the \
             settings in a smaller schema",
            huge.len()
        )
    );
}

#[test]
fn a_loaded_plugin_carries_the_secrets_its_schema_declares() {
    let fixture = Fixture::new();
    fixture.load(&Exporter::new("db").schema(SCHEMA), "db");
    let metadata = fixture.runtime.metadata("db").unwrap();
    assert_eq!(metadata.config_schema, SCHEMA);
    assert_eq!(metadata.declared_secrets, declared_secrets(SCHEMA).unwrap());

    // A schema the host cannot read hides every setting.
    fixture.load(&Exporter::new("odd").schema("{not json"), "odd");
    let metadata = fixture.runtime.metadata("odd").unwrap();
    assert_eq!(metadata.declared_secrets, DeclaredSecrets::everything());
    assert!(metadata.declared_secrets.is_everything());

    // No schema: nothing declared.
    fixture.load(&Exporter::new("plain"), "plain");
    let metadata = fixture.runtime.metadata("plain").unwrap();
    assert!(metadata.declared_secrets.is_empty());
}
