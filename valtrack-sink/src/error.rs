//! Error types of valtrack-sink.

use thiserror::Error;

/// A [`ParquetSinkConfig`](crate::ParquetSinkConfig) that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ParquetConfigError {
    /// A bound that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// The zstd level is outside the range zstd accepts.
    #[error("zstd level {level} is invalid")]
    ZstdLevel {
        /// The level given.
        level: i32,
        /// What parquet said.
        #[source]
        source: parquet::errors::ParquetError,
    },
}

/// A tracker store operation that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The embedded database failed (open, transaction, table, storage or commit).
    #[error("tracker database failed")]
    Db(#[source] Box<redb::Error>),
    /// A stored row does not decode, or a row does not encode.
    #[error("tracker row does not (de)serialize")]
    Row(#[from] serde_json::Error),
    /// A bound in the [`TrackerConfig`](crate::TrackerConfig) is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// A blocking store task was cancelled or panicked.
    #[error("tracker task failed")]
    Task(#[from] tokio::task::JoinError),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for TrackerError {
            fn from(e: $t) -> Self {
                Self::Db(Box::new(redb::Error::from(e)))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// API keys that cannot be loaded.
#[cfg(feature = "api")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiKeysError {
    /// The key file cannot be read.
    #[error("cannot read API key file {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set or not Unicode.
    #[error("environment variable {var} is not set or not Unicode")]
    Env {
        /// The variable.
        var: String,
        /// Why.
        #[source]
        source: std::env::VarError,
    },
    /// A key is shorter than [`MIN_API_KEY_LEN`](crate::MIN_API_KEY_LEN).
    #[error("API key {line} is {len} bytes long; keys need at least {min}")]
    TooShort {
        /// 1-based position of the key (line of the file, or entry of the variable).
        line: usize,
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// More keys than [`MAX_API_KEYS`](crate::MAX_API_KEYS).
    #[error("more than {max} API keys")]
    TooMany {
        /// The maximum.
        max: usize,
    },
}
