//! The instance configuration: the DSN, where the password comes from,
//! which scrapers run and the connection's limits; with its JSON Schema.

use crate::dsn::{self, Dsn};
use crate::scrapers::Scraper;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use wasmetheus_sdk::Error;

pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["dsn"],
  "examples": [{"dsn": "exporter@tcp(127.0.0.1:3306)/"}],
  "properties": {
    "dsn": {
      "type": "string",
      "writeOnly": true,
      "description": "mysqld_exporter's DSN: user[:password]@tcp(host:port)/[dbname][?params]; grant its host:port under tcp_connect"
    },
    "password_env": {
      "type": "string",
      "description": "Name of an environment variable holding the password (needs the env grant); overrides the DSN's password"
    },
    "password_file": {
      "type": "string",
      "description": "File whose contents (without the trailing newline) is the password (needs a read_paths grant on it); overrides the DSN's password"
    },
    "collectors": {
      "type": "object",
      "description": "Scrapers to switch on or off by mysqld_exporter's name; the six defaults of mysqld_exporter 0.14 are on, binlog_size is off",
      "propertyNames": {"enum": ["global_status", "global_variables", "slave_status", "info_schema.innodb_cmp", "info_schema.innodb_cmpmem", "info_schema.query_response_time", "binlog_size"]},
      "additionalProperties": {"type": "boolean"}
    },
    "lock_wait_timeout": {
      "type": "integer", "minimum": 0, "default": 2,
      "description": "SET lock_wait_timeout on each connection (seconds), like --exporter.lock_wait_timeout"
    },
    "log_slow_filter": {
      "type": "boolean", "default": false,
      "description": "SET SESSION log_slow_filter='tmp_table_on_disk,filesort_on_disk' (MariaDB/Percona), like --exporter.log_slow_filter"
    },
    "max_response_bytes": {
      "type": "integer", "minimum": 4096, "maximum": 1073741824, "default": 16777216,
      "description": "Most bytes the server may send in one collect; more is an error and drops the connection"
    },
    "timeout_seconds": {
      "type": "number", "exclusiveMinimum": 0, "default": 10,
      "description": "Connect and read/write timeout, unless the DSN sets timeout/readTimeout/writeTimeout"
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    dsn: String,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<String>,
    #[serde(default)]
    collectors: BTreeMap<String, bool>,
    #[serde(default = "default_lock_wait_timeout")]
    lock_wait_timeout: u32,
    #[serde(default)]
    log_slow_filter: bool,
    #[serde(default = "default_max_response_bytes")]
    max_response_bytes: u64,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
}

fn default_lock_wait_timeout() -> u32 {
    2
}
fn default_max_response_bytes() -> u64 {
    16 << 20
}
fn default_timeout() -> f64 {
    10.0
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    Dsn,
    Env(String),
    File(String),
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub dsn: Dsn,
    pub password: PasswordSource,
    pub scrapers: Vec<Scraper>,
    pub lock_wait_timeout: u32,
    pub log_slow_filter: bool,
    pub max_response_bytes: u64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
}

/// The largest `max_response_bytes` accepted (the sandbox's memory ceiling).
const MAX_RESPONSE_CEILING: u64 = 1 << 30;

/// The largest password file read.
const MAX_PASSWORD_FILE: u64 = 64 * 1024;

impl Config {
    pub fn parse(json: &str) -> Result<Config, Error> {
        let raw: Raw = wasmetheus_sdk::config::parse(json)?;
        let invalid = |m: String| Error::InvalidConfig(m);
        let dsn = dsn::parse(&raw.dsn).map_err(invalid)?;
        let password = match (raw.password_env, raw.password_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "set only one of password_env and password_file".into(),
                ));
            }
            (Some(e), None) if e.is_empty() || e.contains(['=', '\0']) => {
                return Err(invalid(
                    "password_env must be the name of an environment variable".into(),
                ));
            }
            (Some(e), None) => PasswordSource::Env(e),
            (None, Some(f)) if f.is_empty() || f.contains('\0') => {
                return Err(invalid("password_file must be a file path".into()));
            }
            (None, Some(f)) => PasswordSource::File(f),
            (None, None) => PasswordSource::Dsn,
        };
        for name in raw.collectors.keys() {
            if Scraper::from_name(name).is_none() {
                let known: Vec<&str> = Scraper::ALL.iter().map(|s| s.name()).collect();
                return Err(invalid(format!(
                    "collectors: unknown collector {name:?}; known: {}",
                    known.join(", ")
                )));
            }
        }
        let scrapers = Scraper::ALL
            .into_iter()
            .filter(|s| {
                raw.collectors
                    .get(s.name())
                    .copied()
                    .unwrap_or(s.default_enabled())
            })
            .collect();
        if !(4096..=MAX_RESPONSE_CEILING).contains(&raw.max_response_bytes) {
            return Err(invalid(format!(
                "max_response_bytes must be from 4096 to {MAX_RESPONSE_CEILING} (keep it well \
                 under the instance's memory_limit)"
            )));
        }
        if !(raw.timeout_seconds > 0.0 && raw.timeout_seconds <= 86_400.0) {
            return Err(invalid(
                "timeout_seconds must be above 0 and at most 86400".into(),
            ));
        }
        let timeout = Duration::from_secs_f64(raw.timeout_seconds);
        let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero()).unwrap_or(timeout);
        Ok(Config {
            connect_timeout: nonzero(dsn.timeout),
            read_timeout: nonzero(dsn.read_timeout),
            write_timeout: nonzero(dsn.write_timeout),
            dsn,
            password,
            scrapers,
            lock_wait_timeout: raw.lock_wait_timeout,
            log_slow_filter: raw.log_slow_filter,
            max_response_bytes: raw.max_response_bytes,
        })
    }

    /// The password to log in with, read now (a rotated file is picked up
    /// on the next connection). Errors say which grant may be missing.
    pub fn password(&self) -> Result<Option<String>, String> {
        match &self.password {
            PasswordSource::Dsn => Ok(self.dsn.password.clone()),
            PasswordSource::Env(name) => match std::env::var(name) {
                Ok(v) => Ok(Some(v)),
                Err(std::env::VarError::NotPresent) => Err(format!(
                    "password_env: environment variable {name} is not set or not granted (add it under grants.env)"
                )),
                Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                    "password_env: environment variable {name} is not valid UTF-8"
                )),
            },
            PasswordSource::File(path) => read_password_file(path).map(Some),
        }
    }
}

fn read_password_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    let hint = "(grant its directory under grants.read_paths)";
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("password_file {path} does not exist or is not reachable {hint}")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("password_file {path}: reading it is denied {hint}")
        }
        _ => format!("password_file {path}: {e} {hint}"),
    })?;
    let mut data = Vec::new();
    file.take(MAX_PASSWORD_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("password_file {path}: {e}"))?;
    if data.len() as u64 > MAX_PASSWORD_FILE {
        return Err(format!(
            "password_file {path} is larger than {MAX_PASSWORD_FILE} bytes; it should hold only the password"
        ));
    }
    let mut text =
        String::from_utf8(data).map_err(|_| format!("password_file {path} is not UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_collectors() {
        let c = Config::parse(r#"{"dsn": "u:p@tcp(127.0.0.1:3306)/"}"#).unwrap();
        assert_eq!(c.scrapers, Scraper::ALL[..6].to_vec());
        let all =
            Config::parse(r#"{"dsn": "u@tcp(h)/", "collectors": {"binlog_size": true}}"#).unwrap();
        assert_eq!(all.scrapers, Scraper::ALL.to_vec());
        assert_eq!(c.lock_wait_timeout, 2);
        assert!(!c.log_slow_filter);
        assert_eq!(c.max_response_bytes, 16 << 20);
        assert_eq!(c.read_timeout, Duration::from_secs(10));
        assert_eq!(c.password().unwrap().as_deref(), Some("p"));
        let c = Config::parse(
            r#"{"dsn": "u@tcp(h)/?readTimeout=2s", "collectors": {"slave_status": false, "info_schema.innodb_cmp": false}}"#,
        )
        .unwrap();
        assert_eq!(c.read_timeout, Duration::from_secs(2));
        assert_eq!(
            c.scrapers,
            vec![
                Scraper::GlobalStatus,
                Scraper::GlobalVariables,
                Scraper::InnodbCmpMem,
                Scraper::QueryResponseTime
            ]
        );
    }

    #[test]
    fn errors_name_the_fix_and_hide_the_password() {
        let err = |j: &str| Config::parse(j).unwrap_err().to_string();
        assert!(
            err(r#"{"dsn": "u:p@tcp(h)/", "collectors": {"binlog": true}}"#)
                .contains("known: global_status")
        );
        assert!(err("{}").contains("dsn"));
        assert!(err(r#"{"dsn": "u:p@tcp(h)/", "verbose": true}"#).contains("unknown field"));
        let unix = err(r#"{"dsn": "u:hunter2@unix(/tmp/s)/"}"#);
        assert!(unix.contains("tcp") && !unix.contains("hunter2"), "{unix}");
        assert!(
            err(r#"{"dsn": "u@tcp(h)/", "password_env": "A", "password_file": "/x"}"#)
                .contains("only one")
        );
        assert!(err(r#"{"dsn": "u@tcp(h)/", "max_response_bytes": 1}"#).contains("4096"));
        assert!(
            err(r#"{"dsn": "u@tcp(h)/", "max_response_bytes": 1000000000000}"#)
                .contains("memory_limit")
        );
        assert!(err(r#"{"dsn": "u@tcp(h)/", "timeout_seconds": 0}"#).contains("timeout_seconds"));
    }

    #[test]
    fn password_from_env_and_file() {
        let dir = std::env::temp_dir().join(format!("mysqld-exporter-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\r\n").unwrap();
        let c = Config::parse(&format!(
            r#"{{"dsn": "u:dsnpw@tcp(h)/", "password_file": {:?}}}"#,
            file.to_str().unwrap()
        ))
        .unwrap();
        assert_eq!(c.password().unwrap().as_deref(), Some("from-file"));
        std::fs::write(&file, vec![b'x'; 70_000]).unwrap();
        assert!(c.password().unwrap_err().contains("larger than"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(c.password().unwrap_err().contains("grants.read_paths"));
        let c = Config::parse(
            r#"{"dsn": "u@tcp(h)/", "password_env": "MYSQLD_EXPORTER_TEST_SURELY_UNSET"}"#,
        )
        .unwrap();
        assert!(c.password().unwrap_err().contains("grants.env"));
        let c = Config::parse(r#"{"dsn": "u@tcp(h)/", "password_env": "PATH"}"#).unwrap();
        assert!(c.password().unwrap().is_some());
    }
}
