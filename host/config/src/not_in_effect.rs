//! Fields wasmetheus reads and validates as Prometheus does but does not
//! act on yet. Each one present in a file is named once, with its
//! position, as `file:line:col: parsed, not in effect yet: <key>` in
//! [`crate::Config::warnings`] (and so in the load log and `check config`).
//!
//! [`NOT_IN_EFFECT`] is the one list of them. Keys are dotted paths from
//! the top of the file; list entries do not add a level
//! (`scrape_configs.scrape_native_histograms` is that key in any scrape
//! config). Service discovery mechanisms that do not run yet are reported
//! by the server with each discovery instead.

use std::path::Path;

/// Every field that is parsed and validated but not in effect yet.
pub const NOT_IN_EFFECT: &[&str] = &[
    // Sections whose feature does not run yet.
    "otlp",
    "tracing",
    "runtime",
    "storage.exemplars",
    "storage.tsdb.retention",
    "storage.tsdb.chunk_encoding",
    "storage.tsdb.stale_series_compaction_threshold",
    // Global settings.
    "global.query_log_file",
    "global.scrape_failure_log_file",
    "global.scrape_protocols",
    "global.scrape_native_histograms",
    "global.convert_classic_histograms_to_nhcb",
    "global.always_scrape_classic_histograms",
    "global.extra_scrape_metrics",
    "global.keep_dropped_targets",
    "global.metric_name_escaping_scheme",
    // Scrape settings.
    "scrape_configs.scrape_protocols",
    "scrape_configs.scrape_native_histograms",
    "scrape_configs.always_scrape_classic_histograms",
    "scrape_configs.convert_classic_histograms_to_nhcb",
    "scrape_configs.extra_scrape_metrics",
    "scrape_configs.scrape_failure_log_file",
    "scrape_configs.native_histogram_bucket_limit",
    "scrape_configs.native_histogram_min_bucket_factor",
    "scrape_configs.keep_dropped_targets",
    "scrape_configs.enable_compression",
    "scrape_configs.metric_name_escaping_scheme",
    // The HTTP client's settings it does not implement
    // (`wasmetheus_http_client::unsupported`) or act on: scrapes and HTTP
    // service discovery go on without them.
    "scrape_configs.oauth2",
    "scrape_configs.follow_redirects",
    "scrape_configs.enable_http2",
    "scrape_configs.proxy_url",
    "scrape_configs.no_proxy",
    "scrape_configs.proxy_from_environment",
    "scrape_configs.proxy_connect_header",
    "scrape_configs.basic_auth.username_ref",
    "scrape_configs.basic_auth.password_ref",
    "scrape_configs.authorization.credentials_ref",
    "scrape_configs.tls_config.ca_ref",
    "scrape_configs.tls_config.cert_ref",
    "scrape_configs.tls_config.key_ref",
    "scrape_configs.tls_config.next_protos",
    "scrape_configs.http_sd_configs.oauth2",
    "scrape_configs.http_sd_configs.follow_redirects",
    "scrape_configs.http_sd_configs.enable_http2",
    "scrape_configs.http_sd_configs.proxy_url",
    "scrape_configs.http_sd_configs.no_proxy",
    "scrape_configs.http_sd_configs.proxy_from_environment",
    "scrape_configs.http_sd_configs.proxy_connect_header",
    "scrape_configs.http_sd_configs.basic_auth.username_ref",
    "scrape_configs.http_sd_configs.basic_auth.password_ref",
    "scrape_configs.http_sd_configs.authorization.credentials_ref",
    "scrape_configs.http_sd_configs.tls_config.ca_ref",
    "scrape_configs.http_sd_configs.tls_config.cert_ref",
    "scrape_configs.http_sd_configs.tls_config.key_ref",
    "scrape_configs.http_sd_configs.tls_config.next_protos",
    // The notifier's HTTP client: settings it does not implement (an
    // entry using one sends nothing, and the log says why) and ones it
    // does not act on.
    "alerting.alertmanagers.oauth2",
    "alerting.alertmanagers.sigv4",
    "alerting.alertmanagers.proxy_url",
    "alerting.alertmanagers.no_proxy",
    "alerting.alertmanagers.proxy_from_environment",
    "alerting.alertmanagers.proxy_connect_header",
    "alerting.alertmanagers.follow_redirects",
    "alerting.alertmanagers.enable_http2",
    "alerting.alertmanagers.basic_auth.username_ref",
    "alerting.alertmanagers.basic_auth.password_ref",
    "alerting.alertmanagers.authorization.credentials_ref",
    "alerting.alertmanagers.tls_config.ca_ref",
    "alerting.alertmanagers.tls_config.cert_ref",
    "alerting.alertmanagers.tls_config.key_ref",
    "alerting.alertmanagers.tls_config.next_protos",
    // Alertmanager HTTP discovery: as HTTP service discovery above.
    "alerting.alertmanagers.http_sd_configs.oauth2",
    "alerting.alertmanagers.http_sd_configs.follow_redirects",
    "alerting.alertmanagers.http_sd_configs.enable_http2",
    "alerting.alertmanagers.http_sd_configs.proxy_url",
    "alerting.alertmanagers.http_sd_configs.no_proxy",
    "alerting.alertmanagers.http_sd_configs.proxy_from_environment",
    "alerting.alertmanagers.http_sd_configs.proxy_connect_header",
    "alerting.alertmanagers.http_sd_configs.basic_auth.username_ref",
    "alerting.alertmanagers.http_sd_configs.basic_auth.password_ref",
    "alerting.alertmanagers.http_sd_configs.authorization.credentials_ref",
    "alerting.alertmanagers.http_sd_configs.tls_config.ca_ref",
    "alerting.alertmanagers.http_sd_configs.tls_config.cert_ref",
    "alerting.alertmanagers.http_sd_configs.tls_config.key_ref",
    "alerting.alertmanagers.http_sd_configs.tls_config.next_protos",
];

/// One warning per [`NOT_IN_EFFECT`] key present in `text`, at its first
/// occurrence, in file order.
pub(crate) fn warnings(text: &str, path: &Path) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    warnings_once(text, path, &mut seen)
}

/// [`warnings`] for keys not in `seen` yet (keys already reported for
/// another file are not repeated).
pub(crate) fn warnings_once(
    text: &str,
    path: &Path,
    seen: &mut std::collections::HashSet<&'static str>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (line, column, key) in key_paths(text) {
        if let Some(known) = NOT_IN_EFFECT.iter().find(|k| **k == key)
            && seen.insert(*known)
        {
            out.push(format!(
                "{}:{line}:{column}: parsed, not in effect yet: {known}",
                path.display()
            ));
        }
    }
    out
}

/// The dotted path of every block-style mapping key, with its 1-based
/// position, in one pass over the lines (list entries add no level; block
/// scalars are skipped).
fn key_paths(text: &str) -> Vec<(usize, usize, String)> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    let mut block_scalar_above: Option<usize> = None;
    for (number, raw) in text.lines().enumerate() {
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - content.len();
        if let Some(limit) = block_scalar_above {
            if indent > limit {
                continue;
            }
            block_scalar_above = None;
        }
        let mut rest = content;
        let mut floor = None;
        while let Some(after) = rest.strip_prefix("- ") {
            floor.get_or_insert(indent);
            let trimmed = after.trim_start();
            indent += rest.len() - trimmed.len();
            rest = trimmed;
        }
        let Some((key, value)) = split_key(rest) else {
            continue;
        };
        // A list entry's keys close what is deeper than its dash; a key at
        // the dash's own column is the list's parent (`key:` then `- item`
        // at the same indentation, as YAML allows).
        let cut = floor.map_or(indent, |dash| dash + 1);
        while stack.last().is_some_and(|(i, _)| *i >= cut) {
            stack.pop();
        }
        let mut path = String::new();
        for (_, parent) in &stack {
            path.push_str(parent);
            path.push('.');
        }
        path.push_str(key);
        out.push((number + 1, indent + 1, path));
        let value = value.trim_start();
        if value.starts_with('|') || value.starts_with('>') {
            block_scalar_above = Some(indent);
        }
        stack.push((indent, key.to_owned()));
    }
    out
}

/// `key: value` or `key:`, with a plain key.
fn split_key(content: &str) -> Option<(&str, &str)> {
    let (key, value) = match content.split_once(": ") {
        Some(pair) => pair,
        None => (content.trim_end().strip_suffix(':')?, ""),
    };
    let key = key.trim();
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    plain.then_some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_nesting() {
        let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_native_histograms: true\n    static_configs:\n      - targets: [x]\n  - job_name: b\n    scrape_native_histograms: false\nplugins:\n  x: |\n    scrape_configs: 1\n";
        let paths: Vec<String> = key_paths(text).into_iter().map(|(_, _, p)| p).collect();
        assert_eq!(
            paths,
            [
                "global",
                "global.scrape_interval",
                "scrape_configs",
                "scrape_configs.job_name",
                "scrape_configs.scrape_native_histograms",
                "scrape_configs.static_configs",
                "scrape_configs.static_configs.targets",
                "scrape_configs.job_name",
                "scrape_configs.scrape_native_histograms",
                "plugins",
                "plugins.x",
            ]
        );
        let w = warnings(text, Path::new("p.yml"));
        assert_eq!(
            w,
            ["p.yml:5:5: parsed, not in effect yet: scrape_configs.scrape_native_histograms"]
        );
    }

    #[test]
    fn list_entries_at_their_parents_column() {
        let text = "alerting:\n  alertmanagers:\n  - oauth2:\n      client_id: c\n    static_configs: []\n  - sigv4: {}\nscrape_configs:\n- job_name: a\n  scrape_native_histograms: true\n- job_name: b\n";
        assert_eq!(
            warnings(text, Path::new("p.yml")),
            [
                "p.yml:3:5: parsed, not in effect yet: alerting.alertmanagers.oauth2",
                "p.yml:6:5: parsed, not in effect yet: alerting.alertmanagers.sigv4",
                "p.yml:9:3: parsed, not in effect yet: scrape_configs.scrape_native_histograms",
            ]
        );
    }
}
