//! Sink errors: why events could not be taken or persisted.

use thiserror::Error;

/// A boxed error from a lower layer (transport, codec) that core cannot name.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a sink could not take or persist events.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink was closed.
    #[error("sink closed")]
    Closed,
    /// A file or socket failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// The event could not be encoded.
    #[error("could not encode event")]
    Encode(#[from] serde_json::Error),
    /// The backend (NATS, Parquet, …) failed.
    #[error("{backend} failed")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// Its error.
        #[source]
        source: BoxError,
    },
}
