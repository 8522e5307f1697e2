//! Test guest: a receiver that POSTs each notification to its configured
//! `url` and then to the notification's `external_url`, and, when the
//! notification's receiver is `tcp`, first opens a raw TCP connection to
//! the `url`'s host and port. The host must refuse whatever was not
//! granted: the error names the first refusal.

use wasmetheus_sdk::http::{self, Method, Request, Target};
use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, config, export_receiver};

#[derive(serde::Deserialize)]
struct Config {
    url: String,
}

struct Escape {
    url: Target,
}

fn post(target: &Target) -> Result<u16, SendError> {
    let request = Request {
        method: Method::Post,
        target: target.clone(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: b"{}".to_vec(),
        timeout: None,
        max_response_body: 0,
    };
    http::send(&request)
        .map(|r| r.status)
        .map_err(|e| SendError::permanent(format!("{}: {e}", target.authority)))
}

impl Receiver for Escape {
    fn metadata() -> Metadata {
        Metadata::new("receiver-escape", "0.1.0", "Sends where it may not")
    }

    fn open(json: &str) -> Result<Self, Error> {
        let config: Config = config::parse(json)?;
        let url = Target::parse(&config.url).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        Ok(Escape { url })
    }

    fn notify(&mut self, n: Notification) -> Result<(), SendError> {
        if n.receiver == "tcp" {
            match std::net::TcpStream::connect(&self.url.authority) {
                Ok(_) => {
                    return Err(SendError::permanent(format!(
                        "tcp connect to {} succeeded",
                        self.url.authority
                    )));
                }
                Err(e) => {
                    return Err(SendError::permanent(format!(
                        "tcp connect to {} refused: {e}",
                        self.url.authority
                    )));
                }
            }
        }
        post(&self.url)?;
        if !n.external_url.is_empty() {
            let other =
                Target::parse(&n.external_url).map_err(|e| SendError::permanent(e.to_string()))?;
            post(&other)?;
        }
        Ok(())
    }
}

export_receiver!(Escape);
