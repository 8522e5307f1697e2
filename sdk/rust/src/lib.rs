//! `wasmetheus-sdk`: write wasmetheus exporter and receiver plugins in Rust
//! (receivers: see [`receiver`], and [`http`] to send requests).
//!
//! An exporter is a type implementing [`Exporter`], registered with
//! [`export_exporter!`]. Everything a plugin touches here — [`Registry`],
//! [`Metadata`], [`Error`], [`config::parse`] — is plain Rust, so the logic
//! of a plugin is unit-testable with `cargo test` on the build machine; only
//! the host imports ([`log`], [`fs::filesystem_usage`]) need the real host
//! and answer "unavailable" natively.
//!
//! ```
//! use wasmetheus_sdk::{Exporter, Metadata, Registry, Error, export_exporter};
//!
//! struct Hello;
//! impl Exporter for Hello {
//!     fn metadata() -> Metadata {
//!         Metadata::new("hello", env!("CARGO_PKG_VERSION"), "Says hello")
//!     }
//!     fn open(_config: &str) -> Result<Self, Error> { Ok(Hello) }
//!     fn collect(&mut self, out: &mut Registry) -> Result<(), Error> {
//!         out.gauge("hello_world", "Always one.").set(1.0);
//!         Ok(())
//!     }
//! }
//! export_exporter!(Hello);
//!
//! // The same logic, tested natively:
//! let mut out = Registry::new();
//! Hello::open("{}")?.collect(&mut out)?;
//! assert_eq!(out.get("hello_world").unwrap().metrics[0].number(), Some(1.0));
//! # Ok::<(), Error>(())
//! ```

pub mod config;
pub mod fs;
pub mod http;
pub mod log;
mod metadata;
pub mod receiver;
mod registry;
#[doc(hidden)]
pub mod wit;

pub use metadata::{Capability, CapabilityRequest, Metadata};
pub use registry::{
    Bucket, Family, FamilyBuilder, Histogram, Kind, Labels, Metric, Quantile, Registry, Summary,
    Value,
};

/// Bindings generated from `wit/plugin.wit`; plugin code rarely needs them.
#[allow(clippy::all, unused_qualifications, unsafe_op_in_unsafe_fn)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "exporter",
        pub_export_macro: true,
        export_macro_name: "__export_exporter_bindings",
        default_bindings_module: "wasmetheus_sdk::bindings",
    });
}

/// Bindings of the `receiver` world, sharing [`bindings`]' `types` and
/// `host`; used by [`export_receiver!`].
#[allow(clippy::all, unused_qualifications, unsafe_op_in_unsafe_fn)]
pub mod receiver_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "receiver",
        pub_export_macro: true,
        export_macro_name: "__export_receiver_bindings",
        default_bindings_module: "wasmetheus_sdk::receiver_bindings",
        with: {
            "wasmetheus:plugin/types@0.1.0": crate::bindings::wasmetheus::plugin::types,
            "wasmetheus:plugin/host@0.1.0": crate::bindings::wasmetheus::plugin::host,
        },
    });
}

/// What a plugin call can fail with. The host shows the message in the
/// plugin's status and sets the instance's `up` to 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The configuration is invalid; say how to fix it.
    InvalidConfig(String),
    /// A capability was not granted; name it.
    Denied(String),
    /// The thing observed is unavailable right now; a later call may work.
    Unavailable(String),
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::Unavailable(m) => write!(f, "unavailable: {m}"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// An exporter plugin: opened once per configured instance, then collected
/// once per scrape interval.
pub trait Exporter: Sized + 'static {
    /// Name, version, description, config schema and requested capabilities.
    fn metadata() -> Metadata;
    /// Opens an instance from its JSON configuration (`{}` when none).
    fn open(config: &str) -> Result<Self, Error>;
    /// Appends the current metrics to `out`.
    fn collect(&mut self, out: &mut Registry) -> Result<(), Error>;
}

/// Registers `$ty` (an [`Exporter`]) as the plugin's implementation of the
/// `exporter` world. Use it once, at the crate root of a `cdylib` built for
/// `wasm32-wasip2`. On other targets it expands to nothing, so the same
/// crate can be unit-tested natively.
#[macro_export]
macro_rules! export_exporter {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::wasmetheus::plugin::metrics as __metrics;
            struct __Plugin;
            struct __Collector(::core::cell::RefCell<$ty>);
            impl __metrics::Guest for __Plugin {
                type Collector = __Collector;
                fn metadata() -> $crate::bindings::wasmetheus::plugin::types::PluginMetadata {
                    $crate::wit::metadata(<$ty as $crate::Exporter>::metadata())
                }
            }
            impl __metrics::GuestCollector for __Collector {
                fn open(
                    config: ::std::string::String,
                ) -> ::core::result::Result<
                    __metrics::Collector,
                    $crate::bindings::wasmetheus::plugin::types::Error,
                > {
                    let inner =
                        <$ty as $crate::Exporter>::open(&config).map_err($crate::wit::error)?;
                    Ok(__metrics::Collector::new(__Collector(
                        ::core::cell::RefCell::new(inner),
                    )))
                }
                fn collect(
                    &self,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::bindings::wasmetheus::plugin::types::MetricFamily>,
                    $crate::bindings::wasmetheus::plugin::types::Error,
                > {
                    let mut out = $crate::Registry::new();
                    <$ty as $crate::Exporter>::collect(&mut *self.0.borrow_mut(), &mut out)
                        .map_err($crate::wit::error)?;
                    Ok($crate::wit::families(out))
                }
            }
    $crate::bindings::__export_exporter_bindings!(__Plugin with_types_in $crate::bindings);
        };
    };
}
