//! `remote_write` and `remote_read`: typed and validated like Prometheus'
//! `RemoteWriteConfig` and `RemoteReadConfig` (defaults, header rules,
//! authentication conflicts, texts), though nothing sends or reads yet.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmetheus_relabel::RelabelConfig;

use crate::PromDuration;
use crate::go_yaml::no_nulls;
use crate::http_client::HttpClientConfig;
use crate::scrape::serialize_relabel_configs;
use crate::secret::{OpaqueSettings, serialize_url};

/// A section accepted but not interpreted (`sigv4`, `azuread`,
/// `google_iam`): whether it is there matters for Prometheus'
/// "at most one authentication" checks; its content is only shown.
pub(crate) type Present = OpaqueSettings;

/// The given ones among named opaque sections.
pub(crate) fn opaque_sections(
    sections: [(&'static str, &Option<Present>); 3],
) -> BTreeMap<&'static str, OpaqueSettings> {
    sections
        .into_iter()
        .filter_map(|(name, section)| Some((name, section.clone()?)))
        .collect()
}

/// The remote-write protobuf message to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMessage {
    /// `prometheus.WriteRequest` (remote write 1.0), the default.
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

impl WriteMessage {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMessage::V1 => "prometheus.WriteRequest",
            WriteMessage::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

impl Serialize for WriteMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WriteMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        [WriteMessage::V1, WriteMessage::V2]
            .into_iter()
            .find(|m| m.as_str() == text)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid protobuf_message value: unknown type for remote write protobuf \
                     message {text}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                ))
            })
    }
}

/// `queue_config`: Prometheus' `QueueConfig`, defaults included.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard before reading the WAL blocks.
    pub capacity: i64,
    pub max_shards: i64,
    pub min_shards: i64,
    pub max_samples_per_send: i64,
    /// How long a partial batch may wait before it is sent.
    pub batch_send_deadline: PromDuration,
    pub min_backoff: PromDuration,
    pub max_backoff: PromDuration,
    #[serde(rename = "retry_on_http_429")]
    pub retry_on_rate_limit: bool,
    /// Samples older than this are dropped; zero: no limit.
    pub sample_age_limit: PromDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        // Prometheus' `DefaultQueueConfig`.
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: PromDuration(Duration::from_secs(5)),
            min_backoff: PromDuration(Duration::from_millis(30)),
            max_backoff: PromDuration(Duration::from_secs(5)),
            retry_on_rate_limit: false,
            sample_age_limit: PromDuration(Duration::ZERO),
        }
    }
}

impl QueueConfig {
    /// Prometheus 3.14's checks of a remote write queue.
    fn validate(&self) -> Result<(), String> {
        let positive = [
            ("capacity", self.capacity),
            ("max_shards", self.max_shards),
            ("min_shards", self.min_shards),
            ("max_samples_per_send", self.max_samples_per_send),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(format!("remote write queue {name} must be positive"));
            }
        }
        if self.min_shards > self.max_shards {
            return Err("remote write queue min_shards must not be greater than max_shards".into());
        }
        if self.max_backoff < self.min_backoff {
            return Err("remote write queue max_backoff must not be less than min_backoff".into());
        }
        Ok(())
    }
}

/// `metadata_config`: whether and how often metric metadata is sent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    pub send: bool,
    pub send_interval: PromDuration,
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        // Prometheus' `DefaultMetadataConfig`.
        MetadataConfig {
            send: true,
            send_interval: PromDuration(Duration::from_secs(60)),
            max_samples_per_send: 2000,
        }
    }
}

/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawRemoteWrite")]
pub struct RemoteWriteConfig {
    #[serde(serialize_with = "serialize_url")]
    pub url: String,
    /// Empty: Prometheus names the queue by a hash of the config.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub remote_timeout: PromDuration,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_relabel_configs"
    )]
    pub write_relabel_configs: Vec<RelabelConfig>,
    pub send_exemplars: bool,
    pub send_native_histograms: bool,
    pub round_robin_dns: bool,
    pub protobuf_message: WriteMessage,
    /// Unset `follow_redirects` means true and unset `enable_http2` false
    /// here (Prometheus' `DefaultRemoteWriteHTTPClientConfig`; see
    /// [`Config::parse`](crate::Config::parse)).
    #[serde(flatten)]
    pub http: HttpClientConfig,
    pub queue_config: QueueConfig,
    pub metadata_config: MetadataConfig,
    /// Authentication sections accepted but not interpreted yet, among
    /// `oauth2`, `sigv4`, `azuread` and `google_iam`.
    #[serde(skip)]
    pub other_auth: Vec<&'static str>,
    /// Their content, shown with secrets redacted.
    #[serde(flatten)]
    pub other_auth_settings: BTreeMap<&'static str, OpaqueSettings>,
}

crate::http_client::with_http_client! {
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteWrite {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default = "thirty_seconds")]
    remote_timeout: PromDuration,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    write_relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    send_exemplars: bool,
    #[serde(default)]
    send_native_histograms: bool,
    #[serde(default)]
    round_robin_dns: bool,
    #[serde(default)]
    protobuf_message: WriteMessage,
    #[serde(default)]
    queue_config: QueueConfig,
    #[serde(default)]
    metadata_config: MetadataConfig,
    #[serde(default)]
    sigv4: Option<Present>,
    #[serde(default)]
    azuread: Option<Present>,
    #[serde(default)]
    google_iam: Option<Present>,
}
}

impl TryFrom<RawRemoteWrite> for RemoteWriteConfig {
    type Error = String;

    /// Prometheus' `RemoteWriteConfig.UnmarshalYAML`, checks in its order.
    fn try_from(raw: RawRemoteWrite) -> Result<Self, String> {
        let mut http = raw.http();
        let url = raw.url.ok_or("url for remote_write is empty")?;
        check_url(&url)?;
        let write_relabel_configs = no_nulls(
            raw.write_relabel_configs,
            "empty or null relabeling rule in remote write config",
        )?;
        check_headers(&raw.headers)?;
        http.validate()?;
        raw.queue_config.validate()?;
        let mut configured = Vec::new();
        for (name, present) in [
            ("basic_auth", http.basic_auth.is_some()),
            ("authorization", http.authorization.is_some()),
            ("oauth2", http.oauth2.is_some()),
            ("sigv4", raw.sigv4.is_some()),
            ("azuread", raw.azuread.is_some()),
            ("google_iam", raw.google_iam.is_some()),
        ] {
            if present {
                configured.push(name);
            }
        }
        if configured.len() > 1 {
            return Err(format!(
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam \
                 must be configured. Currently configured: [{}]",
                configured.join(" ")
            ));
        }
        let other_auth = configured
            .into_iter()
            .filter(|name| !matches!(*name, "basic_auth" | "authorization"))
            .collect();
        let other_auth_settings = opaque_sections([
            ("sigv4", &raw.sigv4),
            ("azuread", &raw.azuread),
            ("google_iam", &raw.google_iam),
        ]);
        Ok(RemoteWriteConfig {
            url,
            name: raw.name,
            remote_timeout: raw.remote_timeout,
            headers: raw.headers,
            write_relabel_configs,
            send_exemplars: raw.send_exemplars,
            send_native_histograms: raw.send_native_histograms,
            round_robin_dns: raw.round_robin_dns,
            protobuf_message: raw.protobuf_message,
            http,
            queue_config: raw.queue_config,
            metadata_config: raw.metadata_config,
            other_auth,
            other_auth_settings,
        })
    }
}

/// One `remote_read` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawRemoteRead")]
pub struct RemoteReadConfig {
    #[serde(serialize_with = "serialize_url")]
    pub url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub remote_timeout: PromDuration,
    /// The largest protobuf frame accepted in a chunked answer, in bytes.
    pub chunked_read_limit: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Whether to read from the remote even for times the local storage
    /// covers.
    pub read_recent: bool,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Equality matchers a selector must contain for this remote to be
    /// asked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub required_matchers: BTreeMap<String, String>,
    /// Whether the external labels are sent as matchers.
    pub filter_external_labels: bool,
    /// `oauth2` was given (accepted, not interpreted yet).
    #[serde(skip)]
    pub oauth2: bool,
}

crate::http_client::with_http_client! {
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteRead {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default = "one_minute")]
    remote_timeout: PromDuration,
    #[serde(default = "fifty_megabytes")]
    chunked_read_limit: u64,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    read_recent: bool,
    #[serde(default)]
    required_matchers: BTreeMap<String, String>,
    #[serde(default = "yes")]
    filter_external_labels: bool,
}
}

impl TryFrom<RawRemoteRead> for RemoteReadConfig {
    type Error = String;

    /// Prometheus' `RemoteReadConfig.UnmarshalYAML`.
    fn try_from(raw: RawRemoteRead) -> Result<Self, String> {
        let mut http = raw.http();
        let url = raw.url.ok_or("url for remote_read is empty")?;
        check_url(&url)?;
        check_headers(&raw.headers)?;
        http.validate()?;
        if let Some(name) = raw.required_matchers.keys().find(|n| n.is_empty()) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        let http_oauth2 = http.oauth2.is_some();
        Ok(RemoteReadConfig {
            url,
            name: raw.name,
            remote_timeout: raw.remote_timeout,
            chunked_read_limit: raw.chunked_read_limit,
            headers: raw.headers,
            read_recent: raw.read_recent,
            http,
            required_matchers: raw.required_matchers,
            filter_external_labels: raw.filter_external_labels,
            oauth2: http_oauth2,
        })
    }
}

/// Which `remote_write` entries of the file's `text` turn HTTP/2 on, in
/// order. Prometheus' `DefaultRemoteWriteHTTPClientConfig` leaves it off:
/// unlike every other HTTP client, a remote write client speaks HTTP/2 only
/// where its entry says `enable_http2: true`. The shared HTTP client fields
/// default it to true, so the entries are read again for the key alone.
pub(crate) fn remote_write_http2(text: &str, path: &std::path::Path) -> Vec<bool> {
    #[derive(Deserialize)]
    struct Entries {
        #[serde(default, deserialize_with = "crate::go_yaml::null_as_default")]
        remote_write: Vec<Option<Entry>>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        enable_http2: Option<bool>,
    }
    crate::source::parse_yaml::<Entries>(text, path)
        .map(|entries| {
            entries
                .remote_write
                .into_iter()
                .map(|e| e.and_then(|e| e.enable_http2).unwrap_or(false))
                .collect()
        })
        .unwrap_or_default()
}

/// The few things Go's `url.Parse` rejects that a hand-written URL may
/// contain; everything else it accepts, and so does this. The error shows
/// the URL with its password as `xxxxx` (it reaches reload answers and
/// logs).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let shown = crate::secret::redact_url(url);
    if url.chars().any(|c| c.is_ascii_control()) {
        return Err(format!(
            "parse {shown:?}: net/url: invalid control character in URL"
        ));
    }
    if url.starts_with(':') {
        return Err(format!("parse {shown:?}: missing protocol scheme"));
    }
    Ok(())
}

/// Headers Prometheus sets itself may not be configured.
/// Headers Prometheus sets itself (`reservedHeaders`; `authorization` is
/// checked on its own).
pub(crate) const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    for header in headers.keys() {
        let lower = header.to_ascii_lowercase();
        if lower == "authorization" {
            return Err(
                "authorization header must be changed via the basic_auth, authorization, \
                 oauth2, sigv4, azuread or google_iam parameter"
                    .into(),
            );
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(format!(
                "{header} is a reserved header. It must not be changed"
            ));
        }
    }
    Ok(())
}

fn thirty_seconds() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}
fn one_minute() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}
fn fifty_megabytes() -> u64 {
    // Prometheus' `DefaultChunkedReadLimit` (5e+7).
    50_000_000
}
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn url_errors_hide_the_password() {
        for (url, want) in [
            (
                "http://rw:hunter2@remote.example/wr\x01ite",
                "parse \"http://rw:xxxxx@remote.example/wr\\u{1}ite\": net/url: invalid control character in URL",
            ),
            (
                "://rw:hunter2@remote.example/write",
                "parse \"://rw:xxxxx@remote.example/write\": missing protocol scheme",
            ),
        ] {
            assert_eq!(check_url(url).unwrap_err(), want);
        }
        assert_eq!(check_url("http://rw:hunter2@remote.example/write"), Ok(()));
    }
}
