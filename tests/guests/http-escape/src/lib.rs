//! Test guest: sends `GET /` through `wasi:http` to the `authority`
//! (`host:port`) in its config; the host must refuse unless the origin was
//! granted.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use wasmetheus_sdk::{Error, Exporter, Metadata, Registry, config, export_exporter};

#[derive(serde::Deserialize)]
struct Config {
    authority: String,
}

struct HttpEscape {
    authority: String,
}

impl HttpEscape {
    fn get(&self) -> Result<u16, Error> {
        let request = OutgoingRequest::new(Fields::new());
        let invalid = |what: &str| Error::Other(format!("cannot set the request {what}"));
        request
            .set_method(&Method::Get)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&Scheme::Http))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(&self.authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some("/"))
            .map_err(|()| invalid("path"))?;
        let denied = |e: String| Error::Denied(format!("http://{}: {e}", self.authority));
        let response =
            outgoing_handler::handle(request, None).map_err(|e| denied(format!("{e:?}")))?;
        response.subscribe().block();
        let response = response
            .get()
            .ok_or_else(|| denied("no response".into()))?
            .map_err(|()| denied("response taken twice".into()))?
            .map_err(|e| denied(format!("{e:?}")))?;
        Ok(response.status())
    }
}

impl Exporter for HttpEscape {
    fn metadata() -> Metadata {
        Metadata::new(
            "http-escape",
            "0.1.0",
            "Sends an HTTP request from its config",
        )
    }

    fn open(config: &str) -> Result<Self, Error> {
        let config: Config = config::parse(config)?;
        Ok(HttpEscape {
            authority: config.authority,
        })
    }

    fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
        let status = self.get()?;
        out.gauge("http_escape_status", "HTTP status of the answer.")
            .set(f64::from(status));
        Ok(())
    }
}

export_exporter!(HttpEscape);
