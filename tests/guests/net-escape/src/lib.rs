//! Test guest: opens a TCP connection to the `address` in its config; the
//! host must refuse unless that address was granted.

use std::io::{Read, Write};
use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    address: String,
}

struct NetEscape {
    address: String,
}

impl Exporter for NetEscape {
    fn metadata() -> Metadata {
        Metadata::new(
            "net-escape",
            "0.1.0",
            "Connects to an address from its config",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(NetEscape {
            address: config.address,
        })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let mut stream = std::net::TcpStream::connect(&self.address)
            .map_err(|e| Error::Denied(format!("connect {}: {e}", self.address)))?;
        stream
            .write_all(b"ping\n")
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let mut reply = [0u8; 16];
        let n = stream
            .read(&mut reply)
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        out.gauge("net_escape_reply_bytes", "Bytes the peer answered.")
            .set(n as f64);
        Ok(())
    }
}

export_exporter!(NetEscape);
