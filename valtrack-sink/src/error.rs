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
    Db(#[source] redb::Error),
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
                Self::Db(redb::Error::from(e))
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
