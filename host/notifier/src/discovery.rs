//! Alertmanagers from discovered target groups, as Prometheus'
//! `AlertmanagerFromGroup` and `alertmanagerSet.sync` find them: each
//! target's labels with the config's `scheme` and API path
//! (`__scheme__`, `__alerts_path__`), the group's labels where the target
//! has none of that name, the config's `relabel_configs`; the URL made of
//! `__scheme__`, `__address__` and `__alerts_path__` (every other label,
//! `__meta_*` included, only feeds relabeling), deduplicated.
//!
//! Prometheus sends to any URL it builds and fails at every send when the
//! URL is unusable; here a URL with another scheme than `http`/`https`, no
//! host, or a host that is not a host name, IP address and port is
//! rejected up front, with the reason, and never sent to.

use std::collections::{BTreeMap, HashSet};

use wasmetheus_config::AlertmanagerConfig;
use wasmetheus_model::Label;

/// A group of discovered targets, as service discovery (static, file,
/// HTTP, DNS, …) reports it for one `alertmanagers` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetGroup {
    /// Where the group comes from (e.g. `0` for the first static config,
    /// a file name); only shown in reasons.
    pub source: String,
    /// One label set per target, with at least `__address__`
    /// (`host:port`) and any `__meta_*` labels of the mechanism.
    pub targets: Vec<Vec<Label>>,
    /// Labels common to the group's targets (a target's own label of the
    /// same name wins).
    pub labels: Vec<Label>,
}

impl TargetGroup {
    /// A group of `addresses` (`host:port`), as a `static_configs` entry
    /// gives them.
    pub fn from_addresses<S: AsRef<str>>(source: &str, addresses: &[S]) -> Self {
        TargetGroup {
            source: source.to_owned(),
            targets: addresses
                .iter()
                .map(|a| vec![Label::new("__address__", a.as_ref())])
                .collect(),
            labels: Vec::new(),
        }
    }
}

/// An Alertmanager not sent to because its URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedAlertmanager {
    /// The URL as Prometheus would print it.
    pub url: String,
    /// Why it is not used.
    pub reason: String,
}

/// What one `alertmanagers` entry's groups came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Discovered {
    /// Deduplicated URLs, in discovery order.
    pub active: Vec<String>,
    /// URLs of targets the relabeling dropped (before relabeling).
    pub dropped: Vec<String>,
    pub rejected: Vec<RejectedAlertmanager>,
}

/// `alertmanagerSet.sync`: every group through
/// [`alertmanagers_from_group`], URLs deduplicated.
pub(crate) fn discover(groups: &[TargetGroup], config: &AlertmanagerConfig) -> Discovered {
    let mut out = Discovered::default();
    let mut seen = HashSet::new();
    for group in groups {
        let Some(found) = alertmanagers_from_group(group, config, &mut out.rejected) else {
            continue;
        };
        out.dropped.extend(found.dropped);
        for url in found.active {
            if seen.insert(url.clone()) {
                out.active.push(url);
            }
        }
    }
    out
}

/// Prometheus' `AlertmanagerFromGroup`. `None` when a kept target's
/// address contains a `/` (Prometheus' `CheckTargetAddress`): the whole
/// group is skipped, as Prometheus does, and the reason recorded.
fn alertmanagers_from_group(
    group: &TargetGroup,
    config: &AlertmanagerConfig,
    rejected: &mut Vec<RejectedAlertmanager>,
) -> Option<Discovered> {
    let mut out = Discovered::default();
    let path = post_path(&config.path_prefix);
    for target in &group.targets {
        let mut set: BTreeMap<&str, &str> = BTreeMap::new();
        for label in target {
            set.insert(&label.name, &label.value);
        }
        set.insert("__scheme__", &config.scheme);
        set.insert("__alerts_path__", &path);
        for label in &group.labels {
            if !target.iter().any(|l| l.name == label.name) {
                set.insert(&label.name, &label.value);
            }
        }
        // An empty value is an absent label (Prometheus' labels.Builder).
        let labels: Vec<Label> = set
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| Label::new(n, v))
            .collect();
        let Some(relabeled) = wasmetheus_relabel::relabel(&labels, &config.relabel_configs) else {
            out.dropped.push(url_of(&labels));
            continue;
        };
        let address = get(&relabeled, "__address__");
        let url = url_of(&relabeled);
        if address.contains('/') {
            rejected.push(RejectedAlertmanager {
                url,
                reason: format!(
                    "{address:?} is not a valid hostname (target group {:?} skipped)",
                    group.source
                ),
            });
            return None;
        }
        match check_url(get(&relabeled, "__scheme__"), address) {
            Ok(()) => out.active.push(url),
            Err(reason) => rejected.push(RejectedAlertmanager { url, reason }),
        }
    }
    Some(out)
}

fn get<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// `path.Join("/", prefix, "/api/v2/alerts")`.
pub(crate) fn post_path(prefix: &str) -> String {
    wasmetheus_model::go::clean_path(&format!("/{prefix}/api/v2/alerts"))
}

/// An address with user information (`user:password@host`, which is never
/// sent to: `@` is not a host character) as it may be shown: the password
/// as `xxxxx`, as Prometheus shows passwords in URLs.
fn hide_password(address: &str) -> std::borrow::Cow<'_, str> {
    match address.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            if user.len() == userinfo.len() {
                address.into()
            } else {
                format!("{user}:xxxxx@{host}").into()
            }
        }
        None => address.into(),
    }
}

/// Go's `url.URL{Scheme, Host, Path}.String()` for the labels'
/// `__scheme__`, `__address__` and `__alerts_path__`.
fn url_of(labels: &[Label]) -> String {
    let scheme = get(labels, "__scheme__");
    let host = get(labels, "__address__");
    let path = get(labels, "__alerts_path__");
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push(':');
    }
    if (!scheme.is_empty() || !host.is_empty()) && (!host.is_empty() || !path.is_empty()) {
        out.push_str("//");
        out.push_str(&wasmetheus_model::go::escape_host(&hide_password(host)));
    }
    if !path.is_empty() && !path.starts_with('/') && !host.is_empty() {
        out.push('/');
    }
    out.push_str(&wasmetheus_model::go::escape_path(path));
    out
}

/// Whether an Alertmanager at `scheme://address` can be sent to; the
/// reason (Go's texts where Go has one) when not.
fn check_url(scheme: &str, address: &str) -> Result<(), String> {
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported protocol scheme {scheme:?}"));
    }
    if address.is_empty() {
        return Err("no Host in request URL".into());
    }
    if let Some(c) = address
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:[]".contains(*c)))
    {
        return Err(format!(
            "invalid character {:?} in host name",
            c.to_string()
        ));
    }
    let authority: hyper::http::uri::Authority = address
        .parse()
        .map_err(|e| format!("invalid address {address:?}: {e}"))?;
    if authority.host().is_empty() {
        return Err("no Host in request URL".into());
    }
    if let Some(port) = address.rsplit_once(':').map(|(_, p)| p)
        && !address.ends_with(']')
        && authority.port().is_none()
        && !port.is_empty()
    {
        return Err(format!("invalid port {port:?} after host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_paths_join_as_go() {
        assert_eq!(post_path(""), "/api/v2/alerts");
        assert_eq!(post_path("/"), "/api/v2/alerts");
        assert_eq!(post_path("am"), "/am/api/v2/alerts");
        assert_eq!(post_path("/a/b/"), "/a/b/api/v2/alerts");
        assert_eq!(post_path("../x/./y"), "/x/y/api/v2/alerts");
    }

    #[test]
    fn urls_print_as_go() {
        let labels = |s: &str, a: &str, p: &str| {
            vec![
                Label::new("__address__", a),
                Label::new("__alerts_path__", p),
                Label::new("__scheme__", s),
            ]
        };
        assert_eq!(
            url_of(&labels("http", "am:9093", "/api/v2/alerts")),
            "http://am:9093/api/v2/alerts"
        );
        assert_eq!(url_of(&labels("http", "a b", "/x y")), "http://a%20b/x%20y");
        assert_eq!(url_of(&labels("http", "", "/p")), "http:///p");
        assert_eq!(
            url_of(&labels("https", "[::1]:1", "p")),
            "https://[::1]:1/p"
        );
        // A password in the address is never shown (the address itself is
        // unusable: '@' is no host character).
        let shown = url_of(&labels("http", "user:s3cret@am:9093", "/p"));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "http://user:xxxxx%40am:9093/p");
        let error = check_url("http", "user:s3cret@am:9093").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn unusable_urls_have_reasons() {
        for (scheme, address, want) in [
            ("ftp", "am:1", "unsupported protocol scheme \"ftp\""),
            ("", "am:1", "unsupported protocol scheme \"\""),
            ("http", "", "no Host in request URL"),
            ("http", "a b:1", "invalid character \" \" in host name"),
            ("http", "a@b:1", "invalid character \"@\" in host name"),
            ("http", "am:x", "invalid"),
            ("http", ":9093", "no Host in request URL"),
        ] {
            let got = check_url(scheme, address).unwrap_err();
            assert!(got.contains(want), "{scheme} {address}: {got}");
        }
        for address in ["am:9093", "am", "127.0.0.1:1", "[::1]:9093"] {
            check_url("http", address).unwrap();
        }
    }
}
