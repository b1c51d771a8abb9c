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
