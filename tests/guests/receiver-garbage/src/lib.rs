//! Test guest: a receiver misbehaving by the notification's receiver name:
//! `huge-error` fails with a 48 MiB error text, `long-error` with a
//! 100 KiB one (retryable), `allocate` allocates until it is stopped;
//! anything else is delivered.

use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};

struct Garbage;

impl Receiver for Garbage {
    fn metadata() -> Metadata {
        Metadata::new("receiver-garbage", "0.1.0", "Huge errors, unbounded memory")
    }

    fn open(_config: &str) -> Result<Self, Error> {
        Ok(Garbage)
    }

    fn notify(&mut self, n: Notification) -> Result<(), SendError> {
        match n.receiver.as_str() {
            "huge-error" => Err(SendError::retryable("x".repeat(48 << 20))),
            "long-error" => Err(SendError::retryable("é".repeat(50 << 10))),
            "allocate" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => Ok(()),
        }
    }
}

export_receiver!(Garbage);
