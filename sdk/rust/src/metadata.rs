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
