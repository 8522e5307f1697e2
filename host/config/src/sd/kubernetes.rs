//! `kubernetes_sd_configs`: targets from a Kubernetes cluster's API, read and
//! checked as Prometheus 3.14's `discovery/kubernetes` `SDConfig` is (roles,
//! `api_server`, `kubeconfig_file`, `namespaces`, per-role `selectors` with
//! Kubernetes' own field and label selector syntax, `attach_metadata`, and
//! the inlined HTTP client settings).
//!
//! Go type names, for unknown-field messages: the config itself and
//! `namespaces` are both `kubernetes.plain` (each has an `UnmarshalYAML`
//! through a `plain` alias), a `selectors` entry is
//! `kubernetes.SelectorConfig`, `attach_metadata` is
//! `kubernetes.AttachMetadataConfig`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::go_yaml::null_as_default;
use crate::http_client::HttpClientConfig;

/// What a Kubernetes discovery lists: Prometheus' `Role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KubernetesRole {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Node,
    Ingress,
}

impl KubernetesRole {
    /// The role as written in the configuration (`endpoints`,
    /// `endpointslice`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Node => "node",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pod" => KubernetesRole::Pod,
            "service" => KubernetesRole::Service,
            "endpoints" => KubernetesRole::Endpoints,
            "endpointslice" => KubernetesRole::EndpointSlice,
            "node" => KubernetesRole::Node,
            "ingress" => KubernetesRole::Ingress,
            _ => return None,
        })
    }

    /// The selector roles Prometheus allows for a discovery of this role.
    pub fn allowed_selectors(self) -> &'static [KubernetesRole] {
        use KubernetesRole::*;
        match self {
            Pod => &[Pod, Node],
            Service => &[Service],
            EndpointSlice => &[Pod, Service, EndpointSlice],
            Endpoints => &[Pod, Service, Endpoints],
            Node => &[Node],
            Ingress => &[Ingress],
        }
    }
}

impl fmt::Display for KubernetesRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        KubernetesRole::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown Kubernetes SD role {}", go_quote(&s)))
        })
    }
}

impl Serialize for KubernetesRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

crate::http_client::with_http_client! {
    /// One `kubernetes_sd_configs` entry (Prometheus' `kubernetes.SDConfig`).
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub struct KubernetesSdConfig {
        /// The API server's URL; unset: in-cluster settings (or the
        /// kubeconfig file's).
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "crate::secret::serialize_optional_url"
        )]
        pub api_server: Option<String>,
        /// Required; `None` only until [`KubernetesSdConfig::validate`]
        /// rejects it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<KubernetesRole>,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "String::is_empty"
        )]
        pub kubeconfig_file: String,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "NamespaceDiscovery::is_empty"
        )]
        pub namespaces: NamespaceDiscovery,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Vec::is_empty"
        )]
        pub selectors: Vec<SelectorConfig>,
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "AttachMetadataConfig::is_empty"
        )]
        pub attach_metadata: AttachMetadataConfig,
    }
}

/// `namespaces`: which namespaces to watch (none named and not
/// `own_namespace`: all of them).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub own_namespace: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
}

impl NamespaceDiscovery {
    fn is_empty(&self) -> bool {
        !self.own_namespace && self.names.is_empty()
    }
}

/// A `selectors` entry: a label and a field selector for one kind of
/// object the discovery lists.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<KubernetesRole>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub label: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub field: String,
}

/// `attach_metadata`: metadata of related objects added to the targets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadataConfig {
    /// The node's labels and annotations (roles pod, endpoints,
    /// endpointslice).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub node: bool,
    /// The namespace's labels and annotations.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub namespace: bool,
    /// A pod's deployment (through its ReplicaSet).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub deployment: bool,
    /// A pod's job.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub job: bool,
    /// A pod's cron job (through its job).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "crate::http_client::is_false"
    )]
    pub cronjob: bool,
}

impl AttachMetadataConfig {
    fn is_empty(&self) -> bool {
        *self == AttachMetadataConfig::default()
    }
}

impl KubernetesSdConfig {
    /// The role; [`KubernetesSdConfig::validate`] has made sure it is set.
    pub fn role(&self) -> KubernetesRole {
        self.role.unwrap_or(KubernetesRole::Pod)
    }

    /// The label and field selectors configured for objects of `role`
    /// (empty strings where none is).
    pub fn selector(&self, role: KubernetesRole) -> (&str, &str) {
        self.selectors
            .iter()
            .find(|s| s.role == Some(role))
            .map(|s| (s.label.as_str(), s.field.as_str()))
            .unwrap_or(("", ""))
    }

    /// Prometheus' `SDConfig.UnmarshalYAML` checks, with its texts.
    pub fn validate(&mut self) -> Result<(), String> {
        let Some(role) = self.role else {
            return Err(
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
                    .into(),
            );
        };
        self.validate_http_client()?;
        let custom_http = self.http() != HttpClientConfig::default();
        let kubeconfig = !self.kubeconfig_file.is_empty();
        if self.api_server.is_some() && kubeconfig {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
        }
        if kubeconfig && custom_http {
            return Err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if self.api_server.is_none() && custom_http {
            return Err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly"
                    .into(),
            );
        }
        if self.api_server.is_some() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if kubeconfig && self.namespaces.own_namespace {
            return Err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        let mut seen = Vec::new();
        for selector in &self.selectors {
            let name = selector.role.map(KubernetesRole::as_str).unwrap_or("");
            if seen.contains(&selector.role) {
                return Err(format!("duplicated selector role: {name}"));
            }
            seen.push(selector.role);
            let allowed = role.allowed_selectors();
            if !selector.role.is_some_and(|r| allowed.contains(&r)) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "{role} role supports only {} selectors",
                    names.join(", ")
                ));
            }
            parse_field_selector(&selector.field)?;
            parse_label_selector(&selector.label)?;
        }
        Ok(())
    }
}

use wasmetheus_model::go::quote as go_quote;

/// Splits on commas that are not escaped by a backslash (apimachinery's
/// `splitTerms`).
fn split_terms(selector: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in selector.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            terms.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    terms.push(current);
    terms
}

/// One parsed field selector term: `field`, operator, value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub equal: bool,
    pub value: String,
}

/// Kubernetes' field selector syntax (`fields.ParseSelector`):
/// comma-separated `field=value`, `field==value` or `field!=value` terms,
/// with `\`, `,` and `=` escaped by a backslash in values.
pub fn parse_field_selector(selector: &str) -> Result<Vec<FieldRequirement>, String> {
    let mut terms = split_terms(selector);
    terms.sort();
    let mut out = Vec::new();
    for term in terms {
        if term.is_empty() {
            continue;
        }
        let Some((lhs, op, rhs)) = split_field_term(&term) else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{term}'"
            ));
        };
        let value = unescape_field_value(rhs)?;
        out.push(FieldRequirement {
            field: lhs.to_owned(),
            equal: op != "!=",
            value,
        });
    }
    Ok(out)
}

fn split_field_term(term: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

fn unescape_field_value(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence in {value:?}"
                    ));
                }
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped {c:?} in {value:?} (escape it with a backslash)"
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One parsed label selector requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequirement {
    pub key: String,
    pub op: LabelOp,
    pub values: Vec<String>,
}

/// A label selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOp {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Not,
    Eq,
    DoubleEq,
    NotEq,
    In,
    NotIn,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

fn tokenize(selector: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = selector.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '!' if next == Some('=') => {
                tokens.push(Token::NotEq);
                i += 2;
            }
            '!' => {
                tokens.push(Token::Not);
                i += 1;
            }
            '=' if next == Some('=') => {
                tokens.push(Token::DoubleEq);
                i += 2;
            }
            '=' => {
                tokens.push(Token::Eq);
                i += 1;
            }
            '>' => {
                tokens.push(Token::Gt);
                i += 1;
            }
            '<' => {
                tokens.push(Token::Lt);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"!=<>(),".contains(chars[i])
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                });
            }
        }
    }
    Ok(tokens)
}

fn token_text(t: Option<&Token>) -> String {
    match t {
        None => "end of string".into(),
        Some(Token::Ident(s)) => format!("'{s}'"),
        Some(Token::Not) => "'!'".into(),
        Some(Token::Eq) => "'='".into(),
        Some(Token::DoubleEq) => "'=='".into(),
        Some(Token::NotEq) => "'!='".into(),
        Some(Token::In) => "'in'".into(),
        Some(Token::NotIn) => "'notin'".into(),
        Some(Token::Gt) => "'>'".into(),
        Some(Token::Lt) => "'<'".into(),
        Some(Token::Open) => "'('".into(),
        Some(Token::Close) => "')'".into(),
        Some(Token::Comma) => "','".into(),
    }
}

/// Kubernetes' label selector syntax (`labels.Parse`): comma-separated
/// `key`, `!key`, `key=value`, `key==value`, `key!=value`,
/// `key in (a,b)`, `key notin (a,b)`, `key>n`, `key<n`, with keys and
/// values checked as Kubernetes checks label names and values.
pub fn parse_label_selector(selector: &str) -> Result<Vec<LabelRequirement>, String> {
    let tokens = tokenize(selector)?;
    let mut pos = 0;
    let mut out = Vec::new();
    if tokens.is_empty() {
        return Ok(out);
    }
    let err = |detail: String| format!("unable to parse requirement: {detail}");
    loop {
        let negated = matches!(tokens.get(pos), Some(Token::Not));
        if negated {
            pos += 1;
        }
        let key = match tokens.get(pos) {
            Some(Token::Ident(k)) => k.clone(),
            other => {
                return Err(err(format!(
                    "found {}, expected: identifier",
                    token_text(other)
                )));
            }
        };
        validate_label_key(&key).map_err(err)?;
        pos += 1;
        let at_end = matches!(tokens.get(pos), None | Some(Token::Comma));
        let requirement = if negated {
            if !at_end {
                return Err(err(format!(
                    "found {}, expected: ',' or end of string",
                    token_text(tokens.get(pos))
                )));
            }
            LabelRequirement {
                key,
                op: LabelOp::DoesNotExist,
                values: Vec::new(),
            }
        } else if at_end {
            LabelRequirement {
                key,
                op: LabelOp::Exists,
                values: Vec::new(),
            }
        } else {
            let op = match tokens.get(pos) {
                Some(Token::Eq | Token::DoubleEq) => LabelOp::Equals,
                Some(Token::NotEq) => LabelOp::NotEquals,
                Some(Token::In) => LabelOp::In,
                Some(Token::NotIn) => LabelOp::NotIn,
                Some(Token::Gt) => LabelOp::GreaterThan,
                Some(Token::Lt) => LabelOp::LessThan,
                other => {
                    return Err(err(format!(
                        "found {}, expected: in, notin, =, ==, !=, gt, lt",
                        token_text(other)
                    )));
                }
            };
            pos += 1;
            let mut values = Vec::new();
            if matches!(op, LabelOp::In | LabelOp::NotIn) {
                if !matches!(tokens.get(pos), Some(Token::Open)) {
                    return Err(err(format!(
                        "found {}, expected: '('",
                        token_text(tokens.get(pos))
                    )));
                }
                pos += 1;
                loop {
                    match tokens.get(pos) {
                        Some(Token::Ident(v)) => {
                            values.push(v.clone());
                            pos += 1;
                        }
                        Some(Token::Comma | Token::Close) => values.push(String::new()),
                        other => {
                            return Err(err(format!(
                                "found {}, expected: ',', ')' or identifier",
                                token_text(other)
                            )));
                        }
                    }
                    match tokens.get(pos) {
                        Some(Token::Comma) => pos += 1,
                        Some(Token::Close) => {
                            pos += 1;
                            break;
                        }
                        other => {
                            return Err(err(format!(
                                "found {}, expected: ',' or ')'",
                                token_text(other)
                            )));
                        }
                    }
                }
            } else {
                match tokens.get(pos) {
                    Some(Token::Ident(v)) => {
                        values.push(v.clone());
                        pos += 1;
                    }
                    None | Some(Token::Comma)
                        if matches!(op, LabelOp::Equals | LabelOp::NotEquals) =>
                    {
                        values.push(String::new());
                    }
                    other => {
                        return Err(err(format!(
                            "found {}, expected: identifier",
                            token_text(other)
                        )));
                    }
                }
            }
            for v in &values {
                if matches!(op, LabelOp::GreaterThan | LabelOp::LessThan) {
                    if v.parse::<i64>().is_err() {
                        return Err(err(format!(
                            "for 'Gt', 'Lt' operators, the value must be an integer, not {v:?}"
                        )));
                    }
                } else {
                    validate_label_value(v).map_err(err)?;
                }
            }
            LabelRequirement { key, op, values }
        };
        out.push(requirement);
        match tokens.get(pos) {
            None => break,
            Some(Token::Comma) => pos += 1,
            other => {
                return Err(err(format!(
                    "found {}, expected: ',' or end of string",
                    token_text(other)
                )));
            }
        }
    }
    Ok(out)
}

fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(is_dns_subdomain);
    if !prefix_ok || !is_name_part(name) {
        return Err(format!(
            "invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters), with an optional DNS subdomain prefix and '/'"
        ));
    }
    Ok(())
}

fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<KubernetesSdConfig, String> {
        let mut c: KubernetesSdConfig = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn defaults_and_nulls() {
        let c = load("role: pod\nnamespaces:\nselectors:\nattach_metadata:\n").unwrap();
        assert_eq!(c.role(), KubernetesRole::Pod);
        assert!(c.namespaces.names.is_empty());
        assert!(!c.namespaces.own_namespace);
        assert!(c.follow_redirects && c.enable_http2);
        assert_eq!(c.http(), HttpClientConfig::default());
    }

    #[test]
    fn role_is_required_and_checked() {
        assert_eq!(
            load("api_server: https://k:443\n").unwrap_err(),
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)"
        );
        let e = load("role: vacation\n").unwrap_err();
        assert!(e.contains("unknown Kubernetes SD role \"vacation\""), "{e}");
    }

    #[test]
    fn api_server_kubeconfig_and_http_settings_exclude_each_other() {
        assert!(
            load("role: pod\nauthorization:\n  credentials: x\n")
                .unwrap_err()
                .contains("please provide the 'api_server' URL explicitly")
        );
        // enable_http2: false is a custom client configuration too.
        assert!(load("role: pod\nenable_http2: false\n").is_err());
        assert!(
            load("role: pod\nkubeconfig_file: /k\nbearer_token: t\n")
                .unwrap_err()
                .contains("together with 'kubeconfig_file'")
        );
        let c = load("role: pod\napi_server: https://k\nbearer_token: t\n").unwrap();
        let auth = c.authorization.unwrap();
        assert_eq!(auth.kind, "Bearer");
        assert_eq!(auth.credentials.unwrap().expose(), "t");
    }

    #[test]
    fn selectors_per_role() {
        load("role: pod\nselectors:\n- role: node\n  field: metadata.name=n1\n").unwrap();
        assert_eq!(
            load("role: service\nselectors:\n- role: pod\n").unwrap_err(),
            "service role supports only service selectors"
        );
        assert_eq!(
            load("role: endpointslice\nselectors:\n- role: node\n").unwrap_err(),
            "endpointslice role supports only pod, service, endpointslice selectors"
        );
        assert_eq!(
            load("role: node\nselectors:\n- label: a=b\n").unwrap_err(),
            "node role supports only node selectors"
        );
    }

    #[test]
    fn field_selectors() {
        let r = parse_field_selector("metadata.name=a\\,b,spec.nodeName!=n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].field, "metadata.name");
        assert_eq!(r[0].value, "a,b");
        assert!(!r[1].equal);
        assert_eq!(
            parse_field_selector("metadata.status-Running").unwrap_err(),
            "invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'"
        );
        assert!(parse_field_selector("").unwrap().is_empty());
    }

    #[test]
    fn label_selectors() {
        let r = parse_label_selector("foo in (bar,baz), !gone, app=web, x!=y, has, n>3").unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].op, LabelOp::In);
        assert_eq!(r[0].values, ["bar", "baz"]);
        assert_eq!(r[1].op, LabelOp::DoesNotExist);
        assert_eq!(r[4].op, LabelOp::Exists);
        for bad in [
            "foo in bar",
            "=x",
            "foo=bar baz",
            "a>b",
            "-x=y",
            "foo in (bar",
        ] {
            let e = parse_label_selector(bad).unwrap_err();
            assert!(e.starts_with("unable to parse requirement"), "{bad}: {e}");
        }
        // Deep or huge input stays linear and does not panic.
        let huge = "a=b,".repeat(50_000) + "c";
        assert_eq!(parse_label_selector(&huge).unwrap().len(), 50_001);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = load("role: pod\nnamespaces:\n  foo: bar\n").unwrap_err();
        assert!(e.contains("foo"), "{e}");
        let e = load("role: pod\nattach_metadata:\n  nodes: true\n").unwrap_err();
        assert!(e.contains("nodes"), "{e}");
    }

    #[test]
    fn secrets_do_not_serialise() {
        let c = load(
            "role: pod\napi_server: https://u:hunter2@k\nbasic_auth:\n  username: u\n  password: hunter2\n",
        )
        .unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
    }
}
