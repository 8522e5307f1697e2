//! Why the Alertmanager could not start or reload: texts for the user
//! (the configuration's `file:line:col`, a missing plugin by path).

use std::path::PathBuf;

/// Why the Alertmanager could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// alertmanager.yml is unreadable or invalid (positioned).
    #[error(transparent)]
    Config(#[from] wasmetheus_alertmanager_config::Error),
    /// The state directory cannot be opened.
    #[error(transparent)]
    State(#[from] wasmetheus_alertmanager::OpenError),
    /// A configured integration has no receiver plugin file.
    #[error(
        "receiver {receiver:?}: {integration}_configs need the receiver plugin {}, which does not exist",
        path.display()
    )]
    MissingPlugin {
        receiver: String,
        integration: String,
        path: PathBuf,
    },
    /// A receiver plugin could not be loaded or refused its configuration.
    #[error("receiver {receiver:?}: {message}")]
    Receiver { receiver: String, message: String },
    /// A template file could not be read.
    #[error("{0}")]
    Templates(String),
    /// A task of the service ended unexpectedly.
    #[error("{0}")]
    Internal(String),
    /// The service is shutting down.
    #[error("the Alertmanager is shutting down")]
    ShuttingDown,
}
