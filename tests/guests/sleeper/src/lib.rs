//! Test guest: waits forever inside a host call, in the export its config
//! names. `in` is `open`, `collect` or `drop` (the collector's destructor);
//! `how` is `sleep` (a WASI clock sleep) or `read` (a blocking read of a TCP
//! connection to `address`, whose peer never writes). Epoch interruption
//! cannot stop either: the host must end the call at its deadline.

use std::io::Read;
use std::time::Duration;
use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(rename = "in")]
    in_: String,
    how: String,
    #[serde(default)]
    address: String,
}

struct Sleeper {
    config: Config,
}

/// Blocks the calling guest for good, in a host call.
fn hang(config: &Config) -> Error {
    match config.how.as_str() {
        "read" => match std::net::TcpStream::connect(&config.address) {
            Ok(mut stream) => {
                let mut buf = [0u8; 16];
                let read = stream.read(&mut buf);
                Error::Other(format!("the read returned: {read:?}"))
            }
            Err(e) => Error::Denied(format!("connect {}: {e}", config.address)),
        },
        _ => {
            std::thread::sleep(Duration::from_secs(3600));
            Error::Other("woke up after an hour".into())
        }
    }
}

impl Exporter for Sleeper {
    fn metadata() -> Metadata {
        Metadata::new(
            "sleeper",
            "0.1.0",
            "Waits forever in a host call where its config says",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        if config.in_ == "open" {
            return Err(hang(&config));
        }
        Ok(Sleeper { config })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        if self.config.in_ == "collect" {
            return Err(hang(&self.config));
        }
        out.counter("sleeper_collections", "Collections that returned.")
            .set(1.0);
        Ok(())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        if self.config.in_ == "drop" {
            hang(&self.config);
        }
    }
}

export_exporter!(Sleeper);
