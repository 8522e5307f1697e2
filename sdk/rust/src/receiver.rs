//! Receivers: plugins of the `receiver` world that deliver alert
//! notifications. A receiver is a type implementing [`Receiver`],
//! registered with [`export_receiver!`](crate::export_receiver); like
//! exporters, its logic is plain Rust, testable natively.
//!
//! ```
//! use wasmetheus_sdk::receiver::{Notification, Receiver, SendError};
//! use wasmetheus_sdk::{Error, Metadata, export_receiver};
//!
//! struct Counting(usize);
//! impl Receiver for Counting {
//!     fn metadata() -> Metadata {
//!         Metadata::new("counting", "0.1.0", "Counts alerts")
//!     }
//!     fn open(_config: &str) -> Result<Self, Error> { Ok(Counting(0)) }
//!     fn notify(&mut self, n: Notification) -> Result<(), SendError> {
//!         self.0 += n.alerts.len();
//!         Ok(())
//!     }
//! }
//! export_receiver!(Counting);
//!
//! let mut r = Counting::open("{}")?;
//! r.notify(Notification::default()).unwrap();
//! assert_eq!(r.0, 0);
//! # Ok::<(), Error>(())
//! ```

use crate::{Error, Metadata};

/// One alert of a notification (Alertmanager's webhook v4 alert). Labels
/// and annotations are sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; empty while firing.
    pub ends_at: String,
    pub generator_url: String,
    pub fingerprint: String,
}

/// A group of alerts routed to one receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub receiver: String,
    /// `firing` when at least one alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<Alert>,
    pub group_labels: Vec<(String, String)>,
    pub common_labels: Vec<(String, String)>,
    pub common_annotations: Vec<(String, String)>,
    pub external_url: String,
    pub group_key: String,
    /// Alerts left out before the notification reached the receiver.
    pub truncated_alerts: u32,
}

/// Why a notification was not delivered, and whether sending it again may
/// help (a timeout, a 5xx answer) or not (a rejected payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    pub retryable: bool,
}

impl SendError {
    /// A failure a later attempt may not have.
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that sending the same notification again would repeat.
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SendError {}

/// A receiver plugin: opened once per configured receiver, then asked to
/// deliver each notification routed to it, one at a time, under a deadline.
pub trait Receiver: Sized + 'static {
    /// Name, version, description, config schema and requested capabilities.
    fn metadata() -> Metadata;
    /// Opens a receiver from its JSON configuration.
    fn open(config: &str) -> Result<Self, Error>;
    /// Delivers one notification.
    fn notify(&mut self, notification: Notification) -> Result<(), SendError>;
}

/// Conversions from the generated bindings, used by
/// [`export_receiver!`](crate::export_receiver).
#[doc(hidden)]
pub mod wit {
    use super::{Alert, Notification, SendError};
    use crate::bindings::wasmetheus::plugin::types as w;

    fn pairs(labels: Vec<w::Label>) -> Vec<(String, String)> {
        labels.into_iter().map(|l| (l.name, l.value)).collect()
    }

    pub fn notification(n: w::Notification) -> Notification {
        Notification {
            receiver: n.receiver,
            status: n.status,
            alerts: n
                .alerts
                .into_iter()
                .map(|a| Alert {
                    status: a.status,
                    labels: pairs(a.labels),
                    annotations: pairs(a.annotations),
                    starts_at: a.starts_at,
                    ends_at: a.ends_at,
                    generator_url: a.generator_url,
                    fingerprint: a.fingerprint,
                })
                .collect(),
            group_labels: pairs(n.group_labels),
            common_labels: pairs(n.common_labels),
            common_annotations: pairs(n.common_annotations),
            external_url: n.external_url,
            group_key: n.group_key,
            truncated_alerts: n.truncated_alerts,
        }
    }

    pub fn send_error(e: SendError) -> w::SendError {
        w::SendError {
            message: e.message,
            retryable: e.retryable,
        }
    }
}

/// Registers `$ty` (a [`Receiver`]) as the plugin's implementation of the
/// `receiver` world. Use it once, at the crate root of a `cdylib` built for
/// `wasm32-wasip2`; on other targets it expands to nothing.
#[macro_export]
macro_rules! export_receiver {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::receiver_bindings::exports::wasmetheus::plugin::alerts as __alerts;
            use $crate::bindings::wasmetheus::plugin::types as __types;
            struct __Plugin;
            struct __Sender(::core::cell::RefCell<$ty>);
            impl __alerts::Guest for __Plugin {
                type Sender = __Sender;
                fn metadata() -> __types::PluginMetadata {
                    $crate::wit::metadata(<$ty as $crate::receiver::Receiver>::metadata())
                }
            }
            impl __alerts::GuestSender for __Sender {
                fn open(
                    config: ::std::string::String,
                ) -> ::core::result::Result<__alerts::Sender, __types::Error> {
                    let inner = <$ty as $crate::receiver::Receiver>::open(&config)
                        .map_err($crate::wit::error)?;
                    Ok(__alerts::Sender::new(__Sender(::core::cell::RefCell::new(
                        inner,
                    ))))
                }
                fn notify(
                    &self,
                    notification: __types::Notification,
                ) -> ::core::result::Result<(), __types::SendError> {
                    <$ty as $crate::receiver::Receiver>::notify(
                        &mut *self.0.borrow_mut(),
                        $crate::receiver::wit::notification(notification),
                    )
                    .map_err($crate::receiver::wit::send_error)
                }
            }
            $crate::receiver_bindings::__export_receiver_bindings!(__Plugin with_types_in $crate::receiver_bindings);
        };
    };
}
