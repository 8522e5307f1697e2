//! The server's remote storage: the remote write receiver
//! (`--web.enable-remote-write-receiver`) and the remote read server,
//! configured from the flags, with the TSDB's XOR chunk encoder for
//! streamed reads; and [`RemoteReaders`], the TSDB with the configured
//! `remote_read` entries merged in, which queries and rules read.

use std::sync::Arc;
use wasmetheus_model::MetricFamily;
use wasmetheus_model::storage::{
    Appender, Matcher, Queryable, SelectHints, Series, Storage, StorageError,
};
use wasmetheus_remote::read::{ChunkEncoder, ReadServer};
use wasmetheus_remote::receiver::Receiver;

/// What `/api/v1/write` and `/api/v1/read` use.
pub struct RemoteEndpoints {
    /// `None` unless the receiver is enabled.
    pub receiver: Option<Arc<Receiver>>,
    pub read: Arc<ReadServer>,
}

impl RemoteEndpoints {
    /// The endpoints of the flags' receiver (if enabled) and read
    /// options (`RemoteStorageArgs` computes both).
    pub fn new(receiver: Option<Receiver>, read: wasmetheus_remote::read::ReadOptions) -> Self {
        RemoteEndpoints {
            receiver: receiver.map(Arc::new),
            read: Arc::new(ReadServer::new(read, Some(xor_encoder()))),
        }
    }

    /// Their self-metrics.
    pub fn families(&self) -> Vec<MetricFamily> {
        let mut families = self.read.families();
        if let Some(receiver) = &self.receiver {
            families.extend(receiver.families());
        }
        families
    }
}

/// The TSDB's XOR chunk encoder, as streamed remote read sends chunks.
fn xor_encoder() -> ChunkEncoder {
    Arc::new(|samples: &[(i64, f64)]| {
        let mut chunk = wasmetheus_tsdb::chunk::XorChunk::new();
        for &(t, v) in samples {
            // At most 120 samples, in time order: an append cannot fail.
            let _ = chunk.append(t, v);
        }
        chunk.bytes().to_vec()
    })
}

/// What queries and rules read: the TSDB, with the `remote_read` entries
/// of the configuration in force merged in; appends go to the TSDB.
pub struct RemoteReaders {
    local: Arc<wasmetheus_tsdb::Db>,
    /// `None` while no `remote_read` entry is configured.
    merged: parking_lot::RwLock<Option<Arc<wasmetheus_remote::client::MergedQueryable>>>,
}

impl RemoteReaders {
    pub fn new(local: Arc<wasmetheus_tsdb::Db>) -> Arc<Self> {
        Arc::new(RemoteReaders {
            local,
            merged: parking_lot::RwLock::new(None),
        })
    }

    /// Puts `config`'s `remote_read` entries in force; on an error (an
    /// entry whose client cannot be built) the previous ones stay.
    pub async fn apply(&self, config: &wasmetheus_config::Config) -> Result<(), String> {
        let entries = config.remote_read.clone();
        if entries.is_empty() {
            *self.merged.write() = None;
            return Ok(());
        }
        let external: Vec<wasmetheus_model::Label> = (config.global.external_labels.iter())
            .map(|(k, v)| wasmetheus_model::Label::new(k.clone(), v.clone()))
            .collect();
        // Building a client reads certificate files.
        let clients = tokio::task::spawn_blocking(move || {
            entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    wasmetheus_remote::client::RemoteReadClient::new(
                        entry,
                        i,
                        &external,
                        Some(xor_decoder()),
                    )
                    .map(Arc::new)
                    .map_err(|e| {
                        format!(
                            "remote_read {}: {e}",
                            wasmetheus_model::redact_url(&entry.url)
                        )
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .await
        .map_err(|e| e.to_string())??;
        let db = Arc::clone(&self.local);
        let local_start = Arc::new(move || db.head().min_time().min(db.store().time_range().0));
        *self.merged.write() = Some(Arc::new(wasmetheus_remote::client::MergedQueryable::new(
            Arc::clone(&self.local) as Arc<dyn Queryable>,
            clients,
            tokio::runtime::Handle::current(),
            local_start,
        )));
        Ok(())
    }

    /// The remote read clients' self-metrics (none without entries).
    pub fn families(&self) -> Vec<MetricFamily> {
        self.merged
            .read()
            .as_ref()
            .map(|m| m.families())
            .unwrap_or_default()
    }

    /// What a query reads now.
    pub fn queryable(&self) -> Arc<dyn Queryable> {
        match &*self.merged.read() {
            Some(merged) => Arc::clone(merged) as Arc<dyn Queryable>,
            None => Arc::clone(&self.local) as Arc<dyn Queryable>,
        }
    }
}

impl Queryable for RemoteReaders {
    fn select_series(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError> {
        self.queryable().select_series(matchers, hints)
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.queryable().label_names(matchers, mint, maxt)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.queryable().label_values(name, matchers, mint, maxt)
    }
}

impl Storage for RemoteReaders {
    fn appender(&self) -> Box<dyn Appender + Send + '_> {
        Storage::appender(&*self.local)
    }
}

/// The TSDB's XOR chunk decoder, for streamed remote read answers.
fn xor_decoder() -> wasmetheus_remote::client::ChunkDecoder {
    Arc::new(|data: &[u8]| {
        let n = data
            .get(..2)
            .map(|h| u16::from_be_bytes([h[0], h[1]]))
            .ok_or("chunk shorter than its header")?;
        let mut iter =
            wasmetheus_tsdb::chunk::ChunkIter::new(data, n.into()).map_err(|e| e.to_string())?;
        let samples: Vec<(i64, f64)> = iter.by_ref().collect();
        match iter.err() {
            Some(e) => Err(e.to_string()),
            None => Ok(samples),
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::serve::ServeArgs;
    use clap::Parser;
    use wasmetheus_remote::receiver::MessageKind;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn flags_have_prometheus_names_and_defaults() {
        let args = Cli::try_parse_from(["wasmetheus"]).unwrap().serve.remote;
        assert!(!args.enable_remote_write_receiver);
        assert!(args.receiver().is_none(), "off by default");
        assert_eq!(
            args.accepted_messages,
            vec![MessageKind::V1, MessageKind::V2]
        );
        let read = args.read_options();
        assert_eq!(
            (
                read.sample_limit,
                read.concurrent_limit,
                read.max_bytes_in_frame
            ),
            (50_000_000, 10, 1_048_576)
        );
        let args = Cli::try_parse_from([
            "wasmetheus",
            "--web.enable-remote-write-receiver",
            "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request",
            "--storage.remote.read-sample-limit=0",
            "--storage.remote.read-concurrent-limit=2",
            "--storage.remote.read-max-bytes-in-frame=4096",
        ])
        .unwrap()
        .serve;
        let receiver = args.remote.receiver().unwrap();
        assert_eq!(receiver.options().accepted, vec![MessageKind::V2]);
        assert_eq!(args.remote.read_options().max_bytes_in_frame, 4096);
        let flags = args.flag_values();
        assert_eq!(flags["web.enable-remote-write-receiver"], "true");
        assert_eq!(
            flags["web.remote-write-receiver.accepted-protobuf-messages"],
            "io.prometheus.write.v2.Request"
        );
        assert_eq!(flags["storage.remote.read-sample-limit"], "0");
        let e = Cli::try_parse_from([
            "wasmetheus",
            "--web.remote-write-receiver.accepted-protobuf-messages=foo",
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("unknown remote write protobuf message \"foo\""),
            "{e}"
        );
        assert!(
            Cli::try_parse_from(["wasmetheus", "--storage.remote.read-max-bytes-in-frame=0"])
                .is_err()
        );
    }
}
