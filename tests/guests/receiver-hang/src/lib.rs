//! Test guest: a receiver whose `notify` spins forever when the
//! notification's receiver is `spin`, and sleeps forever (in a host call)
//! when it is `sleep`; any other notification is delivered at once. With
//! `{"hang_in_open": true}` its `open` spins instead.

use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
use wasmetheus_sdk::{Error, Metadata, export_receiver};

struct Hang {
    delivered: u64,
}

impl Receiver for Hang {
    fn metadata() -> Metadata {
        Metadata::new("receiver-hang", "0.1.0", "Never returns from notify")
    }

    fn open(config: &str) -> Result<Self, Error> {
        if config.contains("\"hang_in_open\": true") || config.contains("\"hang_in_open\":true") {
            spin();
        }
        Ok(Hang { delivered: 0 })
    }

    fn notify(&mut self, n: Notification) -> Result<(), SendError> {
        match n.receiver.as_str() {
            "spin" => spin(),
            "sleep" => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => {
                self.delivered += 1;
                Ok(())
            }
        }
    }
}

fn spin() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

export_receiver!(Hang);
