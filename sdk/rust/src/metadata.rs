//! What a plugin says about itself: identity, config schema, capabilities.

/// A capability a plugin asks the operator for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    ReadPath(String),
    TcpConnect(String),
    HttpOrigin(String),
    EnvVar(String),
    DnsLookup,
    FilesystemUsage(String),
}

/// A requested capability, why, and whether the plugin works without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityRequest {
    pub capability: Capability,
    pub reason: String,
    pub optional: bool,
}

/// Plugin metadata, built with [`Metadata::new`] and the `request*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: String,
    pub capabilities: Vec<CapabilityRequest>,
}

impl Metadata {
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Metadata {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            config_schema: String::new(),
            capabilities: Vec::new(),
        }
    }

    /// The JSON Schema of the configuration `open` accepts.
    ///
    /// Declare each setting that holds a secret with `"writeOnly": true`
    /// (or `"format": "password"`) on its schema, at any depth (nested
    /// `properties`, `additionalProperties`, array `items`, combinators,
    /// local `$ref`s): the host then shows its value as `<secret>`, for
    /// example in `/api/v1/status/config`, whatever the key is called. Keys
    /// that name a secret (`password`, `api_key`, `dsn` …) are hidden
    /// anyway. A schema over 1 MiB or not valid JSON hides every setting.
    ///
    /// ```
    /// # use wasmetheus_sdk::Metadata;
    /// let metadata = Metadata::new("vault", "1.0.0", "Secrets engine stats").config_schema(
    ///     r#"{"type": "object", "properties": {
    ///         "address": {"type": "string"},
    ///         "approle": {"type": "string", "writeOnly": true}
    ///     }}"#,
    /// );
    /// # assert!(metadata.config_schema.contains("writeOnly"));
    /// ```
    pub fn config_schema(mut self, schema: &str) -> Self {
        self.config_schema = schema.to_owned();
        self
    }

    /// Asks for a capability the plugin cannot work without.
    pub fn request(mut self, capability: Capability, reason: &str) -> Self {
        self.capabilities.push(CapabilityRequest {
            capability,
            reason: reason.to_owned(),
            optional: false,
        });
        self
    }

    /// Asks for a capability the plugin can do without, producing less.
    pub fn request_optional(mut self, capability: Capability, reason: &str) -> Self {
        self.capabilities.push(CapabilityRequest {
            capability,
            reason: reason.to_owned(),
            optional: true,
        });
        self
    }
}
