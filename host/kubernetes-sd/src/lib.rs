//! `wasmetheus-kubernetes-sd`: Prometheus' Kubernetes service discovery
//! (`kubernetes_sd_configs`) on the `kube` client.
//!
//! [`KubernetesDiscovery::new`] turns a checked
//! [`KubernetesSdConfig`] into an API client the way Prometheus does:
//! `kubeconfig_file` when set, else the in-cluster service account (token,
//! CA and `KUBERNETES_SERVICE_HOST`/`_PORT`) when `api_server` is unset,
//! else `api_server` with the inlined HTTP client settings (basic auth,
//! authorization, TLS). [`KubernetesDiscovery::run`] lists and watches the
//! objects of the role (and the related ones it needs: services and pods
//! for endpoints, nodes and namespaces for `attach_metadata`, …) in the
//! configured namespaces with the configured selectors, reconnecting with
//! back-off and re-listing when the server asks, and sends the target
//! groups Prometheus would build (see `targets`): first every group once
//! all lists are in, then each group that changed; a group whose object
//! went away is sent with no targets.
//!
//! Errors while listing or watching are logged and retried; the groups
//! already sent stay valid until the objects change. Each API response is
//! capped at [`MAX_RESPONSE_BYTES`]. [`events_total`] counts the objects
//! handled, as Prometheus' `prometheus_sd_kubernetes_events_total`.
//!
//! Not supported yet (refused with a reason when configured): `oauth2`,
//! proxies, `http_headers` read from files, secret references (`*_ref`),
//! `tls_config` `min_version: TLS13` or a `max_version` below it.

mod targets;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use tokio::sync::mpsc;
use wasmetheus_config::sd::kubernetes::{KubernetesRole, KubernetesSdConfig};

/// A target group (Prometheus' `targetgroup.Group`): targets with their
/// own labels (`__address__` among them) and the labels they share.
/// No targets: the group's source has no targets any more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub source: String,
    pub labels: BTreeMap<String, String>,
    pub targets: Vec<BTreeMap<String, String>>,
}

impl Group {
    fn empty(source: String) -> Group {
        Group {
            source,
            ..Group::default()
        }
    }
}

/// Why a Kubernetes discovery could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (outside a cluster, set api_server or kubeconfig_file)"
    )]
    NotInCluster,
    #[error("reading the {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read own namespace name (empty file {0})")]
    EmptyNamespace(PathBuf),
    #[error("invalid api_server URL {url:?}: {reason} (write it as https://host:port)")]
    Url { url: String, reason: String },
    #[error("kubeconfig_file {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error(
        "{0} is not supported by Kubernetes discovery yet: use basic_auth, authorization or a kubeconfig_file"
    )]
    Unsupported(&'static str),
    #[error("TLS settings: {0}")]
    Tls(String),
    #[error("http_headers: {0}")]
    Header(String),
    #[error("building the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// Where the in-cluster settings come from (Kubernetes' defaults; tests
/// point them elsewhere).
#[derive(Debug, Clone)]
pub struct InCluster {
    /// The service account directory (`token`, `ca.crt`, `namespace`).
    pub dir: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`.
    pub host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub port: Option<String>,
}

impl Default for InCluster {
    fn default() -> Self {
        InCluster {
            dir: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"),
            host: std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            port: std::env::var("KUBERNETES_SERVICE_PORT").ok(),
        }
    }
}

/// Prometheus' `prometheus_sd_kubernetes_events_total`: `(role, event,
/// count)` for every role (`endpointslice`, `endpoints`, `node`, `pod`,
/// `service`, `ingress`) and event (`add`, `update`, `delete`), counting
/// the objects of that kind every discovery of this process handled.
pub fn events_total() -> Vec<(&'static str, &'static str, u64)> {
    watch::events_total()
}

/// The most one API response may hold: a list page or, over its life, a
/// watch (a watch that reaches it is simply started again from where it
/// was). Real pages hold at most 500 objects.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// A running-to-be Kubernetes discovery: the client and what to watch.
pub struct KubernetesDiscovery {
    client: kube::Client,
    kube_config: kube::Config,
    config: KubernetesSdConfig,
    /// Empty: all namespaces.
    namespaces: Vec<String>,
}

impl std::fmt::Debug for KubernetesDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesDiscovery")
            .field("role", &self.config.role())
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl KubernetesDiscovery {
    /// A discovery for `config` (already validated), with relative file
    /// paths resolved against `base_dir`, in-cluster settings from the
    /// process environment. A config from `Config::load` has its paths
    /// joined with the config file's directory already: give an empty
    /// `base_dir` then, so that a relative directory is not joined twice
    /// (the server does). Must be called within a Tokio runtime.
    pub async fn new(config: &KubernetesSdConfig, base_dir: &Path) -> Result<Self, Error> {
        Self::with_in_cluster(config, base_dir, &InCluster::default()).await
    }

    /// [`KubernetesDiscovery::new`] with the in-cluster settings given.
    pub async fn with_in_cluster(
        config: &KubernetesSdConfig,
        base_dir: &Path,
        in_cluster: &InCluster,
    ) -> Result<Self, Error> {
        let mut own_namespace = None;
        let kube_config = if !config.kubeconfig_file.is_empty() {
            let path = base_dir.join(&config.kubeconfig_file);
            let kc = Kubeconfig::read_from(&path).map_err(|source| Error::Kubeconfig {
                path: path.clone(),
                source,
            })?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|source| Error::Kubeconfig { path, source })?
        } else if let Some(url) = &config.api_server {
            api_server_config(config, url, base_dir)?
        } else {
            let (c, ns) = in_cluster_config(in_cluster, config.namespaces.own_namespace)?;
            own_namespace = ns;
            tracing::info!("kubernetes_sd: using the pod's service account (in-cluster config)");
            c
        };
        let client = client(kube_config.clone(), MAX_RESPONSE_BYTES)?;
        let mut namespaces = config.namespaces.names.clone();
        if let Some(ns) = own_namespace {
            namespaces.push(ns);
        }
        Ok(KubernetesDiscovery {
            client,
            kube_config,
            config: config.clone(),
            namespaces,
        })
    }

    /// The same discovery with another cap on each API response than
    /// [`MAX_RESPONSE_BYTES`].
    pub fn with_max_response_bytes(mut self, limit: usize) -> Result<Self, Error> {
        self.client = client(self.kube_config.clone(), limit)?;
        Ok(self)
    }

    /// The role discovered.
    pub fn role(&self) -> KubernetesRole {
        self.config.role()
    }

    /// Lists and watches until `updates` is closed (or the task is
    /// dropped), sending target groups as they change.
    pub async fn run(self, updates: mpsc::Sender<Vec<Group>>) {
        watch::run(self.client, self.config, self.namespaces, updates).await
    }
}

/// A client whose responses end in an error past `limit` bytes.
fn client(config: kube::Config, limit: usize) -> Result<kube::Client, Error> {
    let builder = kube::client::ClientBuilder::try_from(config).map_err(Error::Client)?;
    let capped = builder.with_layer(&tower::util::MapResponseLayer::new(
        move |response: http::Response<_>| {
            response.map(|body| http_body_util::Limited::new(body, limit))
        },
    ));
    Ok(capped.build())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn read_string(what: &'static str, path: &Path) -> Result<String, Error> {
    let bytes = read(what, path)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

/// DER certificates from PEM text.
fn certificates(pem_text: &[u8], what: &str) -> Result<Vec<Vec<u8>>, Error> {
    let blocks = pem::parse_many(pem_text).map_err(|e| Error::Tls(format!("{what}: {e}")))?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .collect();
    if certs.is_empty() {
        return Err(Error::Tls(format!("{what}: no PEM certificate found")));
    }
    Ok(certs)
}

fn in_cluster_config(
    env: &InCluster,
    own_namespace: bool,
) -> Result<(kube::Config, Option<String>), Error> {
    let (Some(host), Some(port)) = (&env.host, &env.port) else {
        return Err(Error::NotInCluster);
    };
    if host.is_empty() || port.is_empty() {
        return Err(Error::NotInCluster);
    }
    let url = format!("https://{}", join(host, port));
    let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| Error::Url {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let token_path = env.dir.join("token");
    // Read once to fail early; the client re-reads it as it rotates.
    read("service account token", &token_path)?;
    let ca = read("service account CA", &env.dir.join("ca.crt"))?;
    let mut config = kube::Config::new(uri);
    config.root_cert = Some(certificates(&ca, "service account CA")?);
    config.auth_info = AuthInfo {
        token_file: Some(token_path.to_string_lossy().into_owned()),
        ..AuthInfo::default()
    };
    let namespace = if own_namespace {
        let path = env.dir.join("namespace");
        let ns = read_string("pod's namespace", &path)?;
        if ns.is_empty() {
            return Err(Error::EmptyNamespace(path));
        }
        Some(ns)
    } else {
        None
    };
    Ok((config, namespace))
}

fn join(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn api_server_config(
    config: &KubernetesSdConfig,
    url: &str,
    base: &Path,
) -> Result<kube::Config, Error> {
    let shown = wasmetheus_config::redact_url(url).into_owned();
    let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| Error::Url {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(Error::Url {
            url: shown,
            reason: "no scheme or host".into(),
        });
    }
    let mut kc = kube::Config::new(uri);
    // Prometheus' timeouts for the API server; watches end on their own
    // well within the read timeout.
    kc.connect_timeout = Some(Duration::from_secs(30));
    kc.read_timeout = Some(Duration::from_secs(330));
    let http = config.http();
    if http.oauth2.is_some() {
        return Err(Error::Unsupported("oauth2"));
    }
    if http.proxy_url.is_some() || http.proxy_from_environment {
        return Err(Error::Unsupported(
            "a proxy (proxy_url, proxy_from_environment)",
        ));
    }
    refuse_unsupported(&http)?;
    let path = |p: &str| base.join(p);
    let mut auth = AuthInfo::default();
    if let Some(basic) = &http.basic_auth {
        let username = if !basic.username_file.is_empty() {
            read_string("basic_auth username_file", &path(&basic.username_file))?
        } else {
            basic.username.clone()
        };
        let password = match (&basic.password, &basic.password_file) {
            (Some(p), _) if !p.is_empty() => p.expose().to_owned(),
            (_, Some(f)) if !f.is_empty() => read_string("basic_auth password_file", &path(f))?,
            _ => String::new(),
        };
        auth.username = Some(username);
        auth.password = Some(password.into());
    }
    if let Some(a) = &http.authorization {
        let bearer = a.kind.eq_ignore_ascii_case("bearer");
        match (&a.credentials, &a.credentials_file) {
            (Some(c), _) if bearer => auth.token = Some(c.expose().to_owned().into()),
            (_, Some(f)) if bearer && !f.is_empty() => {
                // Read once, trimmed as Prometheus reads it (a trailing
                // newline is no part of the token).
                let token = read_string("authorization credentials_file", &path(f))?;
                auth.token = Some(token.into());
            }
            (c, f) => {
                let credentials = match (c, f) {
                    (Some(c), _) => c.expose().to_owned(),
                    (_, Some(f)) => read_string("authorization credentials_file", &path(f))?,
                    _ => String::new(),
                };
                let mut value = http::HeaderValue::from_str(&format!("{} {credentials}", a.kind))
                    .map_err(|_| {
                    Error::Header("authorization: not a valid header value".into())
                })?;
                // Kept out of the client config's Debug output.
                value.set_sensitive(true);
                kc.headers.push((http::header::AUTHORIZATION, value));
            }
        }
    }
    if let Some(tls) = &http.tls_config {
        let mut roots = Vec::new();
        if !tls.ca.is_empty() {
            roots.extend(certificates(tls.ca.as_bytes(), "tls_config ca")?);
        }
        if let Some(f) = tls.ca_file.as_deref().filter(|f| !f.is_empty()) {
            roots.extend(certificates(&read("tls_config ca_file", &path(f))?, f)?);
        }
        if !roots.is_empty() {
            kc.root_cert = Some(roots);
        }
        if let Some(f) = tls.cert_file.as_deref().filter(|f| !f.is_empty()) {
            auth.client_certificate = Some(path(f).to_string_lossy().into_owned());
        } else if !tls.cert.is_empty() {
            auth.client_certificate_data = Some(base64(tls.cert.as_bytes()));
        }
        if let Some(f) = tls.key_file.as_deref().filter(|f| !f.is_empty()) {
            auth.client_key = Some(path(f).to_string_lossy().into_owned());
        } else if !tls.key.is_empty() {
            auth.client_key_data = Some(base64(tls.key.expose().as_bytes()).into());
        }
        kc.accept_invalid_certs = tls.insecure_skip_verify;
        kc.tls_server_name = tls.server_name.clone().filter(|s| !s.is_empty());
    }
    for (name, header) in http.http_headers.iter().flatten() {
        if !header.files.is_empty() {
            return Err(Error::Unsupported("http_headers read from files"));
        }
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Header(format!("{name:?} is not a valid header name")))?;
        for v in &header.values {
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| Error::Header(format!("{name}: not a valid header value")))?;
            kc.headers.push((name.clone(), value));
        }
        for v in &header.secrets {
            let mut value = http::HeaderValue::from_str(v.expose())
                .map_err(|_| Error::Header(format!("{name}: not a valid header value")))?;
            value.set_sensitive(true);
            kc.headers.push((name.clone(), value));
        }
    }
    kc.auth_info = auth;
    Ok(kc)
}

/// Settings the client cannot honour: refused rather than ignored.
fn refuse_unsupported(http: &wasmetheus_config::HttpClientConfig) -> Result<(), Error> {
    let secret_ref = http
        .basic_auth
        .as_ref()
        .is_some_and(|b| !b.username_ref.is_empty() || !b.password_ref.is_empty())
        || http
            .authorization
            .as_ref()
            .is_some_and(|a| !a.credentials_ref.is_empty())
        || http.tls_config.as_ref().is_some_and(|t| {
            !t.ca_ref.is_empty() || !t.cert_ref.is_empty() || !t.key_ref.is_empty()
        });
    if secret_ref {
        return Err(Error::Unsupported("a secret reference (*_ref)"));
    }
    if let Some(tls) = &http.tls_config {
        // rustls speaks TLS 1.2 and 1.3: lower minimums hold as they are.
        if tls.min_version.as_deref() == Some("TLS13") {
            return Err(Error::Unsupported("tls_config min_version TLS13"));
        }
        if tls.max_version.as_deref().is_some_and(|v| v != "TLS13") {
            return Err(Error::Unsupported("a tls_config max_version below TLS13"));
        }
    }
    Ok(())
}

/// Standard base64, as kubeconfig `*-data` fields hold.
fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    /// A non-Bearer authorization and secret headers reach the client
    /// config, but its Debug output (a log line, a panic) does not show them.
    #[test]
    fn secret_headers_stay_out_of_debug_output() {
        let mut config: KubernetesSdConfig = serde_saphyr::from_str(
            "role: pod\n\
             api_server: https://k8s.example:6443\n\
             authorization: {type: Custom, credentials: auth-s3cret}\n\
             http_headers:\n  X-Token: {secrets: [hdr-s3cret], values: [plain-value]}\n",
        )
        .unwrap();
        config.validate().unwrap();
        let kc = api_server_config(&config, "https://k8s.example:6443", Path::new("")).unwrap();
        let sent: Vec<&[u8]> = kc.headers.iter().map(|(_, v)| v.as_bytes()).collect();
        assert!(sent.contains(&b"Custom auth-s3cret".as_slice()), "{sent:?}");
        assert!(sent.contains(&b"hdr-s3cret".as_slice()), "{sent:?}");
        let shown = format!("{kc:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("plain-value"), "{shown}");
    }
}
