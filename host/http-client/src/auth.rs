//! Where a request's credentials come from: `basic_auth` (username and
//! password, each written out or in a file) and `authorization` (a type
//! and credentials, written out or in a file; `bearer_token` and
//! `bearer_token_file` become one when the configuration is validated).
//! Files are read at every request, so rotated secrets are picked up, as
//! Prometheus' round trippers do; reading blocks (the caller runs it on
//! the blocking pool).

use crate::Error;
use crate::file::read_secret_file;

/// A value written in the configuration or read from a file. `Debug`
/// shows a written-out secret as `<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Text(String),
    File(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Text(text) if text.is_empty() => f.write_str("Text(\"\")"),
            SecretSource::Text(_) => f.write_str("Text(<secret>)"),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl SecretSource {
    /// A file when one is named (non-empty), else the text (empty when
    /// unset), as Prometheus picks between `x` and `x_file`.
    pub fn text_or_file(text: Option<&str>, file: Option<&str>) -> SecretSource {
        match file.filter(|f| !f.is_empty()) {
            Some(file) => SecretSource::File(file.to_owned()),
            None => SecretSource::Text(text.unwrap_or_default().to_owned()),
        }
    }

    /// The value; a file is read (bounded) and trimmed. `field` names the
    /// setting for the error. Blocking.
    pub fn read(&self, field: &'static str) -> Result<String, Error> {
        match self {
            SecretSource::Text(text) => Ok(text.clone()),
            SecretSource::File(path) => read_secret_file(path).map_err(|source| Error::File {
                field,
                path: path.clone(),
                source,
            }),
        }
    }
}

/// The `Authorization` header's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `basic_auth`.
    Basic {
        username: SecretSource,
        password: SecretSource,
    },
    /// `authorization` (`Bearer` unless another type is given).
    Token {
        kind: String,
        credentials: SecretSource,
    },
}

impl Auth {
    /// The header's value, files read now. Blocking.
    pub fn header_value(&self) -> Result<String, Error> {
        match self {
            Auth::Basic { username, password } => {
                use base64::Engine;
                let pair = format!(
                    "{}:{}",
                    username.read("basic_auth.username_file")?,
                    password.read("basic_auth.password_file")?
                );
                Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            Auth::Token { kind, credentials } => Ok(format!(
                "{kind} {}",
                credentials.read("authorization.credentials_file")?
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_base64_of_user_and_password() {
        let auth = Auth::Basic {
            username: SecretSource::Text("Aladdin".into()),
            password: SecretSource::Text("open sesame".into()),
        };
        assert_eq!(
            auth.header_value().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn debug_hides_written_out_secrets_but_shows_files() {
        let auth = Auth::Token {
            kind: "Bearer".into(),
            credentials: SecretSource::Text("hunter2".into()),
        };
        let basic = Auth::Basic {
            username: SecretSource::Text("alice".into()),
            password: SecretSource::File("/etc/pw".into()),
        };
        let shown = format!("{auth:?} {basic:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("/etc/pw"), "{shown}");
        assert_eq!(shown.matches("<secret>").count(), 2, "{shown}");
    }

    #[test]
    fn an_empty_file_name_means_the_text() {
        assert_eq!(
            SecretSource::text_or_file(Some("t"), Some("")),
            SecretSource::Text("t".into())
        );
        assert_eq!(
            SecretSource::text_or_file(None, None),
            SecretSource::Text(String::new())
        );
        assert_eq!(
            SecretSource::text_or_file(Some("t"), Some("/f")),
            SecretSource::File("/f".into())
        );
    }
}
