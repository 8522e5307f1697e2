//! Secrets in the configuration: passwords, bearer credentials and the
//! like are held in [`Secret`], which prints and serializes as
//! `<secret>` (Prometheus' `common/config.Secret`), so neither a log line
//! (`Debug`, `Display`) nor `/api/v1/status/config` can show one. The value
//! is only reachable through [`Secret::expose`].
//!
//! URLs are shown with their password replaced by `xxxxx`, as Go's
//! `url.URL.Redacted` does (Prometheus' `common/config.URL`), and a
//! plugin's own settings have every value under a secret-sounding key
//! redacted (see [`is_secret_key`]), as well as every value its config
//! schema declares secret (`"writeOnly": true` or `"format": "password"`;
//! the plugin runtime reads those into [`DeclaredSecrets`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// What a secret is shown as.
pub const SECRET_TOKEN: &str = "<secret>";

/// A secret configuration value. `Debug`, `Display` and `Serialize` print
/// `<secret>` (an empty one prints as empty, as Prometheus omits it);
/// [`Secret::expose`] is the only way to the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the code that authenticates with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What is shown instead of the value.
    fn shown(&self) -> &'static str {
        if self.0.is_empty() { "" } else { SECRET_TOKEN }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.shown(), f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if EXPOSING.with(std::cell::Cell::get) {
            return s.serialize_str(&self.0);
        }
        s.serialize_str(self.shown())
    }
}

thread_local! {
    /// Set only inside [`to_json_with_secrets`] on this thread.
    static EXPOSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `value` as JSON with its secrets (and URL passwords) in the clear: the
/// form a receiver plugin is configured with. Everywhere else, secrets
/// serialize as `<secret>`.
pub fn to_json_with_secrets<T: Serialize + ?Sized>(
    value: &T,
) -> serde_json::Result<serde_json::Value> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPOSING.with(|e| e.set(self.0));
        }
    }
    let _reset = Reset(EXPOSING.with(|e| e.replace(true)));
    serde_json::to_value(value)
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// For `skip_serializing_if`: an unset or empty secret is not shown.
pub(crate) fn no_secret(secret: &Option<Secret>) -> bool {
    secret.as_ref().is_none_or(Secret::is_empty)
}

pub use wasmetheus_model::redact_url;

/// For `serialize_with` on URL fields.
pub(crate) fn serialize_url<S: Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    if EXPOSING.with(std::cell::Cell::get) {
        return s.serialize_str(url);
    }
    s.serialize_str(&redact_url(url))
}

/// For `serialize_with` on optional URL fields.
pub(crate) fn serialize_optional_url<S: Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serialize_url(url, s),
        None => s.serialize_none(),
    }
}

/// Whether a plugin setting named `key` holds a secret. This applies to
/// every plugin, on top of what its schema declares ([`DeclaredSecrets`]),
/// and errs on the side of hiding: any key naming a password, secret,
/// token, credential, key
/// material or a data source name is secret, in any case and with `-`,
/// `_` or nothing between words; except a `*_file` key, a path, which
/// Prometheus shows as it is.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "accesskey",
        "privatekey",
        "authkey",
        "authorization",
        "bearer",
        "cookie",
        "dsn",
        "datasourcename",
        "connectionstring",
    ];
    let plain: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    !plain.ends_with("file") && WORDS.iter().any(|word| plain.contains(word))
}

/// A section accepted but not interpreted (`oauth2`, `sigv4`, `azuread`,
/// `google_iam`): kept as read, and shown (`Debug` and `Serialize`) with
/// the values of secret-named keys (`client_secret`, `secret_key`, …)
/// redacted as plugin settings are.
#[derive(Clone, PartialEq)]
pub struct OpaqueSettings(serde_json::Value);

impl OpaqueSettings {
    /// The section as read, secrets included.
    pub fn expose(&self) -> &serde_json::Value {
        &self.0
    }
}

impl fmt::Debug for OpaqueSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_plugin_settings(&self.0), f)
    }
}

impl Serialize for OpaqueSettings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        redact_plugin_settings(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for OpaqueSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(OpaqueSettings)
    }
}

/// A plugin's settings as shown: values under secret keys (at any depth)
/// replaced by `<secret>`, and the password of any URL-like string
/// (`scheme://user:password@host`, or a DSN's `user:password@…`) by
/// `xxxxx`.
pub fn redact_plugin_settings(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let shown = if is_secret_key(k) && !is_empty_value(v) {
                        Value::String(SECRET_TOKEN.to_owned())
                    } else {
                        redact_plugin_settings(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_plugin_settings).collect()),
        Value::String(text) => Value::String(redact_dsn(text).into_owned()),
        other => other.clone(),
    }
}

fn is_empty_value(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A URL's or DSN's password (`user:password@…`) replaced by `xxxxx`.
fn redact_dsn(text: &str) -> Cow<'_, str> {
    if text.contains("://") {
        return redact_url(text);
    }
    // `user:password@tcp(host)/db`: user information up to the last `@`
    // before any `/`.
    let head_end = text.find('/').unwrap_or(text.len());
    let Some(at) = text[..head_end].rfind('@') else {
        return Cow::Borrowed(text);
    };
    let Some(colon) = text[..at].find(':') else {
        return Cow::Borrowed(text);
    };
    if text[..colon].contains(char::is_whitespace) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("{}xxxxx{}", &text[..=colon], &text[at..]))
}

/// One step from a value of a plugin's settings to a value inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SettingStep {
    /// The member of an object under this key.
    Key(String),
    /// Every member of an object (a schema's `additionalProperties` or
    /// `patternProperties`).
    AnyKey,
    /// Every item of an array (a schema's `items`).
    AnyItem,
}

/// The settings a plugin's config schema declares secret, as paths from
/// the root of an instance's `config`; the empty path is the whole of it.
/// Every instance of the plugin shows the values at these paths as
/// `<secret>` in `/api/v1/status/config`, on top of the key-name rule of
/// [`is_secret_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredSecrets {
    paths: std::collections::BTreeSet<Vec<SettingStep>>,
}

impl DeclaredSecrets {
    /// Every setting secret: what a schema the host cannot read declares.
    pub fn everything() -> Self {
        let mut all = DeclaredSecrets::default();
        all.insert(Vec::new());
        all
    }

    /// Declares the value at `path` secret.
    pub fn insert(&mut self, path: Vec<SettingStep>) {
        self.paths.insert(path);
    }

    /// No setting declared secret.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// How many paths are declared.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether the whole configuration is secret.
    pub fn is_everything(&self) -> bool {
        self.paths.contains(&Vec::new())
    }

    /// Whether the value at exactly `path` is declared secret.
    pub fn contains(&self, path: &[SettingStep]) -> bool {
        self.paths.contains(path)
    }

    /// The declared paths, in order.
    pub fn paths(&self) -> impl Iterator<Item = &[SettingStep]> {
        self.paths.iter().map(Vec::as_slice)
    }

    /// `settings` with every non-empty value at a declared path replaced by
    /// `<secret>`. Only as deep as the longest path: the walk follows the
    /// paths, not the value.
    pub fn redact(&self, settings: &mut serde_json::Value) {
        for path in &self.paths {
            redact_at(settings, path);
        }
    }
}

fn redact_at(value: &mut serde_json::Value, path: &[SettingStep]) {
    use serde_json::Value;
    match (path.split_first(), value) {
        (None, value) if !is_empty_value(value) => {
            *value = Value::String(SECRET_TOKEN.to_owned());
        }
        (Some((SettingStep::Key(key), rest)), Value::Object(map)) => {
            if let Some(member) = map.get_mut(key) {
                redact_at(member, rest);
            }
        }
        (Some((SettingStep::AnyKey, rest)), Value::Object(map)) => {
            for member in map.values_mut() {
                redact_at(member, rest);
            }
        }
        (Some((SettingStep::AnyItem, rest)), Value::Array(items)) => {
            for item in items {
                redact_at(item, rest);
            }
        }
        // The value does not have the declared shape: nothing there.
        _ => {}
    }
}

/// For `serialize_with` on a plugin instance's `config`.
pub(crate) fn serialize_plugin_settings<S: Serializer>(
    value: &Option<serde_json::Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => redact_plugin_settings(value).serialize(s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_exposed_only_inside_to_json_with_secrets() {
        #[derive(Serialize)]
        struct S {
            password: Secret,
            #[serde(serialize_with = "serialize_url")]
            url: String,
        }
        let s = S {
            password: Secret::new("pw"),
            url: "http://u:pw@h/".to_owned(),
        };
        let exposed = to_json_with_secrets(&s).expect("json");
        assert_eq!(exposed["password"], "pw");
        assert_eq!(exposed["url"], "http://u:pw@h/");
        // Afterwards (and on other paths) they are hidden again.
        let shown = serde_json::to_value(&s).expect("json");
        assert_eq!(shown["password"], SECRET_TOKEN);
        assert_eq!(shown["url"], "http://u:xxxxx@h/");
    }

    #[test]
    fn urls_lose_their_password_only() {
        assert_eq!(
            redact_url("http://user:pass@host:9090/path?q=a@b"),
            "http://user:xxxxx@host:9090/path?q=a@b"
        );
        assert_eq!(redact_url("http://user@host/"), "http://user@host/");
        assert_eq!(redact_url("http://host/a:b@c"), "http://host/a:b@c");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_dsn("root:hunter2@tcp(db:3306)/app"),
            "root:xxxxx@tcp(db:3306)/app"
        );
        assert_eq!(redact_dsn("someone@example.com"), "someone@example.com");
    }

    #[test]
    fn declared_secrets_are_redacted_at_their_paths_only() {
        use SettingStep::{AnyItem, AnyKey, Key};
        let mut declared = DeclaredSecrets::default();
        declared.insert(vec![Key("blob".into())]);
        declared.insert(vec![Key("db".into()), Key("auth".into())]);
        declared.insert(vec![Key("peers".into()), AnyItem, Key("seed".into())]);
        declared.insert(vec![Key("headers".into()), AnyKey]);
        declared.insert(vec![Key("absent".into()), Key("deeper".into())]);
        let mut settings = serde_json::json!({
            "blob": "b10b",
            "db": {"auth": {"user": "u", "pass": "p"}, "host": "h"},
            "peers": [{"seed": "s1", "name": "a"}, {"seed": "", "name": "b"}, "bare"],
            "headers": {"X-One": "1", "X-Two": "2"},
            "absent": "a string, not the declared object",
            "other": "shown",
        });
        declared.redact(&mut settings);
        assert_eq!(
            settings,
            serde_json::json!({
                "blob": "<secret>",
                "db": {"auth": "<secret>", "host": "h"},
                "peers": [{"seed": "<secret>", "name": "a"}, {"seed": "", "name": "b"}, "bare"],
                "headers": {"X-One": "<secret>", "X-Two": "<secret>"},
                "absent": "a string, not the declared object",
                "other": "shown",
            })
        );
        let mut settings = serde_json::json!({"anything": 1});
        DeclaredSecrets::everything().redact(&mut settings);
        assert_eq!(settings, serde_json::json!("<secret>"));
    }

    #[test]
    fn status_config_hides_declared_secrets_of_that_plugin_only() {
        let text = "plugins:\n  instances:\n    \
            - {name: a, plugin: vault, config: {blob: b10b-a, region: eu, password: pw}}\n    \
            - {name: b, plugin: vault, config: {blob: b10b-b}}\n    \
            - {name: c, plugin: other, config: {blob: shown-c}}\n";
        let config = crate::Config::parse(text, std::path::Path::new("prometheus.yml")).unwrap();
        let mut declared = DeclaredSecrets::default();
        declared.insert(vec![SettingStep::Key("blob".into())]);
        let shown = config
            .to_yaml_with_declared_secrets(&[("vault".to_owned(), declared)].into_iter().collect());
        for hidden in ["b10b-a", "b10b-b", "pw"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
        for visible in ["eu", "shown-c"] {
            assert!(shown.contains(visible), "{visible} missing from {shown}");
        }
        // Without declarations only the key-name rule applies.
        let plain = config.to_yaml_with_declared_secrets(&Default::default());
        assert_eq!(plain, config.to_yaml());
        assert!(plain.contains("b10b-a") && !plain.contains("pw"), "{plain}");
    }

    #[test]
    fn secret_keys() {
        for key in [
            "password",
            "DB_PASSWORD",
            "api-key",
            "apiKey",
            "client_secret",
            "auth_token",
            "dsn",
            "credentials_json",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "username",
            "host",
            "port",
            "path",
            "timeout",
            "password_file",
            "credentials_file",
            "client_secret_file",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
