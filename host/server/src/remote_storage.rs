//! The server's remote storage endpoints: the remote write receiver
//! (`--web.enable-remote-write-receiver`) and the remote read server,
//! configured from the flags, with the TSDB's XOR chunk encoder for
//! streamed reads.

use std::sync::Arc;
use wasmetheus_model::MetricFamily;
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
