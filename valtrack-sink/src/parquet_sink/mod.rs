//! The Parquet sink: config, table schemas, writer thread.

mod config;
mod journal;
mod recent;
mod schema;
mod sink;
mod writer;

pub use config::{
    ParquetSinkConfig, ParquetSinkConfigBuilder, DEFAULT_BATCH_ROWS, DEFAULT_CHANNEL_CAPACITY,
    DEFAULT_MAX_FILE_AGE, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILE_ROWS, DEFAULT_MAX_HELD_ROWS,
    DEFAULT_MAX_OPEN_FILES, DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL,
    MAX_WRITERS,
};
pub use recent::recent_event_ids;
pub(crate) use recent::DatasetIds;
#[cfg(feature = "postgres")]
pub(crate) use schema::encode;
pub use schema::schema;
pub use sink::{ParquetSink, ParquetStats};
