//! The proxy settings (`common/config.ProxyConfig`) that the client and
//! its `oauth2` block both inline: their checks.

use std::collections::BTreeMap;

use super::{set, set_opt};
use crate::secret::Secret;

/// Writes the fields of Prometheus' `ProxyConfig` (inlined in the HTTP
/// client and in its `oauth2` block) after a struct definition's own, then
/// the fields of an optional `@after { … }`, and passes the definition on
/// to `$next`.
macro_rules! proxy_fields {
    (
        @then $($next:ident)::+ ;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
        $( @after { $( $(#[$ameta:meta])* $avis:vis $afield:ident : $aty:ty ),* $(,)? } )?
    ) => {
        $($next)::+ ! {
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
                #[serde(
                    default,
                    skip_serializing_if = "Option::is_none",
                    serialize_with = "crate::secret::serialize_optional_url"
                )]
                pub proxy_url: Option<String>,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "String::is_empty"
                )]
                pub no_proxy: String,
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "crate::http_client::is_false"
                )]
                pub proxy_from_environment: bool,
                /// Headers sent to the proxy on CONNECT; values are secret.
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "std::collections::BTreeMap::is_empty"
                )]
                pub proxy_connect_header:
                    std::collections::BTreeMap<String, Vec<$crate::Secret>>,
                $($( $(#[$ameta])* $avis $afield : $aty, )*)?
            }
        }
    };
}
pub(crate) use proxy_fields;

/// `ProxyConfig.Validate`, shared by the client and its `oauth2` block.
pub(super) fn validate_proxy(
    proxy_url: &Option<String>,
    no_proxy: &str,
    proxy_from_environment: bool,
    proxy_connect_header: &BTreeMap<String, Vec<Secret>>,
) -> Result<(), String> {
    if !proxy_connect_header.is_empty() && !proxy_from_environment && !set_opt(proxy_url) {
        return Err(
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"
                .into(),
        );
    }
    if proxy_from_environment && set_opt(proxy_url) {
        return Err(
            "if proxy_from_environment is configured, proxy_url must not be configured".into(),
        );
    }
    if proxy_from_environment && set(no_proxy) {
        return Err(
            "if proxy_from_environment is configured, no_proxy must not be configured".into(),
        );
    }
    if proxy_url.is_none() && set(no_proxy) {
        return Err("if no_proxy is configured, proxy_url must also be configured".into());
    }
    if let Some(url) = proxy_url {
        super::parse_go_url(url)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::http_client::tests::{error, parse};

    #[test]
    fn proxy_checks() {
        let cases = [
            (
                "proxy_connect_header: {X: [a]}\n",
                "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
            ),
            (
                "proxy_from_environment: true\nproxy_url: http://p\n",
                "if proxy_from_environment is configured, proxy_url must not be configured",
            ),
            (
                "proxy_from_environment: true\nno_proxy: localhost\n",
                "if proxy_from_environment is configured, no_proxy must not be configured",
            ),
            (
                "no_proxy: localhost\n",
                "if no_proxy is configured, proxy_url must also be configured",
            ),
            (
                "oauth2: {client_id: i, token_url: http://t, no_proxy: x}\n",
                "if no_proxy is configured, proxy_url must also be configured",
            ),
            (
                "proxy_url: \"http://p\\x01\"\n",
                "invalid control character in URL",
            ),
            (
                "proxy_url: http://p:port\n",
                "invalid port \":port\" after host",
            ),
        ];
        for (yaml, want) in cases {
            let got = error(yaml);
            assert!(got.contains(want), "for {yaml}: {got}");
        }
        parse("proxy_url: http://p\nno_proxy: localhost\nproxy_connect_header: {X: [a]}\n")
            .unwrap();
        parse("proxy_from_environment: true\nproxy_connect_header: {X: [a]}\n").unwrap();
    }
}
