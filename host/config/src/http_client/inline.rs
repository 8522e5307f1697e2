//! [`with_http_client!`]: Go's `yaml:",inline"` of `HTTPClientConfig`
//! into the structs that use it, as a macro writing the fields into a
//! struct definition (see the parent module's documentation).

/// Writes the fields of Prometheus' `HTTPClientConfig` after a struct
/// definition's own (the proxy settings through `proxy_fields!`, before
/// `http_headers`, in Go's order) and passes the definition on to `$next`:
/// the one list of them, for [`HttpClientConfig`] itself and every struct
/// inlining it.
///
/// [`HttpClientConfig`]: crate::http_client::HttpClientConfig
macro_rules! http_client_fields {
    (
        @then $($next:ident)::+ ;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::http_client::proxy_fields! {
            @then $($next)::+ ;
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub basic_auth: Option<$crate::http_client::BasicAuth>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub authorization: Option<$crate::http_client::Authorization>,
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub oauth2: Option<$crate::http_client::OAuth2>,
                /// Deprecated: moved into `authorization` by
                /// [`HttpClientConfig::validate`](crate::http_client::HttpClientConfig::validate).
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "crate::Secret::is_empty"
                )]
                pub bearer_token: $crate::Secret,
                /// Deprecated: moved into `authorization` by
                /// [`HttpClientConfig::validate`](crate::http_client::HttpClientConfig::validate).
                #[serde(
                    default,
                    deserialize_with = "crate::go_yaml::null_as_default",
                    skip_serializing_if = "String::is_empty"
                )]
                pub bearer_token_file: String,
                #[serde(
                    default,
                    skip_serializing_if = "crate::http_client::no_tls_config"
                )]
                pub tls_config: Option<$crate::http_client::TlsConfig>,
                #[serde(
                    default = "crate::http_client::yes",
                    deserialize_with = "crate::go_yaml::null_as_default"
                )]
                pub follow_redirects: bool,
                #[serde(
                    default = "crate::http_client::yes",
                    deserialize_with = "crate::go_yaml::null_as_default"
                )]
                pub enable_http2: bool,
            }
            @after {
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub http_headers: Option<
                    std::collections::BTreeMap<String, $crate::http_client::HttpHeader>,
                >,
            }
        }
    };
}
pub(crate) use http_client_fields;

/// Writes Prometheus' inlined HTTP client fields into a struct definition
/// and implements `http()`, `set_http()` and `validate_http_client()` on it
/// (see the module documentation).
macro_rules! with_http_client {
    (
        @then $($next:ident)::+ ;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::http_client::http_client_fields! {
            @then $($next)::+ ;
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
            }
        }

        impl $name {
            /// Its HTTP client settings.
            #[allow(dead_code)]
            pub fn http(&self) -> $crate::http_client::HttpClientConfig {
                $crate::http_client::HttpClientConfig {
                    basic_auth: self.basic_auth.clone(),
                    authorization: self.authorization.clone(),
                    oauth2: self.oauth2.clone(),
                    bearer_token: self.bearer_token.clone(),
                    bearer_token_file: self.bearer_token_file.clone(),
                    tls_config: self.tls_config.clone(),
                    follow_redirects: self.follow_redirects,
                    enable_http2: self.enable_http2,
                    proxy_url: self.proxy_url.clone(),
                    no_proxy: self.no_proxy.clone(),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: self.proxy_connect_header.clone(),
                    http_headers: self.http_headers.clone(),
                }
            }

            /// Replaces its HTTP client settings.
            #[allow(dead_code)]
            pub fn set_http(&mut self, http: $crate::http_client::HttpClientConfig) {
                let $crate::http_client::HttpClientConfig {
                    basic_auth,
                    authorization,
                    oauth2,
                    bearer_token,
                    bearer_token_file,
                    tls_config,
                    follow_redirects,
                    enable_http2,
                    proxy_url,
                    no_proxy,
                    proxy_from_environment,
                    proxy_connect_header,
                    http_headers,
                } = http;
                self.basic_auth = basic_auth;
                self.authorization = authorization;
                self.oauth2 = oauth2;
                self.bearer_token = bearer_token;
                self.bearer_token_file = bearer_token_file;
                self.tls_config = tls_config;
                self.follow_redirects = follow_redirects;
                self.enable_http2 = enable_http2;
                self.proxy_url = proxy_url;
                self.no_proxy = no_proxy;
                self.proxy_from_environment = proxy_from_environment;
                self.proxy_connect_header = proxy_connect_header;
                self.http_headers = http_headers;
            }

            /// Joins the relative file paths of its HTTP client settings
            /// with `dir` (see [`HttpClientConfig::set_directory`]).
            ///
            /// [`HttpClientConfig::set_directory`]: crate::http_client::HttpClientConfig::set_directory
            #[allow(dead_code)]
            pub fn set_http_directory(&mut self, dir: &std::path::Path) {
                let mut http = self.http();
                http.set_directory(dir);
                self.set_http(http);
            }

            /// [`HttpClientConfig::validate_nested`] on its HTTP client
            /// settings: what Prometheus checks before the struct's own
            /// checks.
            ///
            /// [`HttpClientConfig::validate_nested`]: crate::http_client::HttpClientConfig::validate_nested
            #[allow(dead_code)]
            pub fn validate_http_nested(&self) -> Result<(), String> {
                $crate::http_client::validate_nested(&self.tls_config, &self.oauth2)
            }

            /// [`HttpClientConfig::validate`] on its HTTP client settings,
            /// keeping the normalised result (`bearer_token` moved into
            /// `authorization`).
            ///
            /// [`HttpClientConfig::validate`]: crate::http_client::HttpClientConfig::validate
            #[allow(dead_code)]
            pub fn validate_http_client(&mut self) -> Result<(), String> {
                let mut http = self.http();
                http.validate()?;
                self.set_http(http);
                Ok(())
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $crate::http_client::with_http_client! {
            @then $crate::http_client::plain_struct;
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
            }
        }
    };
}
pub(crate) use with_http_client;

/// The identity continuation: writes the struct definition as it is.
macro_rules! plain_struct {
    ($($item:tt)*) => {
        $($item)*
    };
}
pub(crate) use plain_struct;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde::{Deserialize, Serialize};

    use crate::Secret;

    crate::http_client::with_http_client! {
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct Inlined {
            /// A field of its own.
            #[serde(default)]
            name: String,
        }
    }

    #[test]
    fn inlined_fields_read_validate_and_normalise() {
        let mut inlined: Inlined =
            serde_saphyr::from_str("name: n\nbearer_token: t\nfollow_redirects: false\n").unwrap();
        assert!(!inlined.follow_redirects && inlined.enable_http2);
        inlined.validate_http_client().unwrap();
        inlined.set_http_directory(Path::new("/d"));
        assert_eq!(
            inlined.authorization.as_ref().unwrap().credentials,
            Some(Secret::new("t"))
        );
        assert!(inlined.bearer_token.is_empty());
        let mut bad: Inlined =
            serde_saphyr::from_str("bearer_token: t\nbearer_token_file: f\n").unwrap();
        assert_eq!(
            bad.validate_http_client().unwrap_err(),
            "at most one of bearer_token & bearer_token_file must be configured"
        );
        assert!(serde_saphyr::from_str::<Inlined>("nme: n\n").is_err());
    }
}
