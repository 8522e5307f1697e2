//! Test guest: a receiver that traps (panics, which aborts) in `notify`
//! when the notification's receiver is `trap`, and counts the other
//! notifications it delivers: a `count` notification fails (not retryable)
//! with the count, showing whether its state survived.

use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};

struct Trap {
    delivered: u64,
}

impl Receiver for Trap {
    fn metadata() -> Metadata {
        Metadata::new("receiver-trap", "0.1.0", "Traps on request")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(Trap { delivered: 0 })
    }

    fn notify(&mut self, n: Notification) -> Result<(), SendError> {
        match n.receiver.as_str() {
            "trap" => panic!("asked to trap"),
            "count" => Err(SendError::permanent(format!(
                "delivered {}",
                self.delivered
            ))),
            _ => {
                self.delivered += 1;
                Ok(())
            }
        }
    }
}

export_receiver!(Trap);
