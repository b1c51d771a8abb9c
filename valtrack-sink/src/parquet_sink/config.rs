//! [`ParquetSinkConfig`] and its builder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parquet::basic::ZstdLevel;

use crate::error::ParquetConfigError;

/// Most sinks sharing one directory (see [`ParquetSinkConfigBuilder::shared`]).
pub const MAX_WRITERS: usize = 64;
/// Default [`ParquetSinkConfigBuilder::max_file_rows`]: 1,000,000 rows.
pub const DEFAULT_MAX_FILE_ROWS: u64 = 1_000_000;
/// Default [`ParquetSinkConfigBuilder::max_file_bytes`]: 128 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Default [`ParquetSinkConfigBuilder::max_file_age`]: 15 minutes.
pub const DEFAULT_MAX_FILE_AGE: Duration = Duration::from_secs(15 * 60);
/// Default [`ParquetSinkConfigBuilder::row_group_rows`]: 128 Ki rows.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 128 * 1024;
/// Default [`ParquetSinkConfigBuilder::row_group_bytes`]: 32 MiB.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;
/// Default [`ParquetSinkConfigBuilder::batch_rows`]: 1,024 events.
pub const DEFAULT_BATCH_ROWS: usize = 1024;
/// Default [`ParquetSinkConfigBuilder::channel_capacity`]: 4,096 events.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;
/// Default [`ParquetSinkConfigBuilder::max_open_files`]: 16 (five tables, a few dates each).
pub const DEFAULT_MAX_OPEN_FILES: usize = 16;
/// Default [`ParquetSinkConfigBuilder::zstd_level`]: 3 (zstd's own default).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Default [`ParquetSinkConfigBuilder::max_held_rows`]: 262,144 rows.
pub const DEFAULT_MAX_HELD_ROWS: usize = 256 * 1024;

/// How a [`ParquetSink`](crate::ParquetSink) lays out and rotates its files.
///
/// Built with [`ParquetSinkConfig::builder`]; every bound is positive.
#[derive(Debug, Clone)]
pub struct ParquetSinkConfig {
    pub(crate) dir: PathBuf,
    pub(crate) max_file_rows: u64,
    pub(crate) max_file_bytes: u64,
    pub(crate) max_file_age: Duration,
    pub(crate) row_group_rows: usize,
    pub(crate) row_group_bytes: usize,
    pub(crate) batch_rows: usize,
    pub(crate) channel_capacity: usize,
    pub(crate) max_open_files: usize,
    pub(crate) zstd_level: ZstdLevel,
    pub(crate) max_held_rows: usize,
    pub(crate) journal: bool,
    pub(crate) shared: bool,
}

impl ParquetSinkConfig {
    /// Starts a config writing under `dir` (created when missing), with every other setting
    /// at its default.
    pub fn builder(dir: impl Into<PathBuf>) -> ParquetSinkConfigBuilder {
        ParquetSinkConfigBuilder {
            dir: dir.into(),
            max_file_rows: DEFAULT_MAX_FILE_ROWS,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_file_age: DEFAULT_MAX_FILE_AGE,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            batch_rows: DEFAULT_BATCH_ROWS,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            max_held_rows: DEFAULT_MAX_HELD_ROWS,
            journal: false,
            shared: false,
        }
    }

    /// The dataset root: tables are its subdirectories.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rows after which a file is closed.
    pub fn max_file_rows(&self) -> u64 {
        self.max_file_rows
    }

    /// Bytes (written plus buffered, estimated) after which a file is closed.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Age after which a file is closed.
    pub fn max_file_age(&self) -> Duration {
        self.max_file_age
    }

    /// Rows accepted and not yet published that make `send` wait.
    pub fn max_held_rows(&self) -> usize {
        self.max_held_rows
    }

    /// Whether open files are journaled.
    pub fn journal(&self) -> bool {
        self.journal
    }
}

/// Builder of [`ParquetSinkConfig`].
#[derive(Debug, Clone)]
pub struct ParquetSinkConfigBuilder {
    dir: PathBuf,
    max_file_rows: u64,
    max_file_bytes: u64,
    max_file_age: Duration,
    row_group_rows: usize,
    row_group_bytes: usize,
    batch_rows: usize,
    channel_capacity: usize,
    max_open_files: usize,
    zstd_level: i32,
    max_held_rows: usize,
    journal: bool,
    shared: bool,
}

impl ParquetSinkConfigBuilder {
    /// Closes a file once it holds this many rows. Default: [`DEFAULT_MAX_FILE_ROWS`].
    pub fn max_file_rows(mut self, rows: u64) -> Self {
        self.max_file_rows = rows;
        self
    }

    /// Closes a file once its written bytes plus its buffered row group (estimated) reach
    /// this size; the file ends up about this large or a little smaller after compression.
    /// Default: [`DEFAULT_MAX_FILE_BYTES`].
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Closes a file once it has been open this long, even when no more events arrive, so
    /// data becomes readable within this delay. Default: [`DEFAULT_MAX_FILE_AGE`].
    pub fn max_file_age(mut self, age: Duration) -> Self {
        self.max_file_age = age;
        self
    }

    /// Ends a row group after this many rows (never more than the file bound).
    /// Default: [`DEFAULT_ROW_GROUP_ROWS`].
    pub fn row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows;
        self
    }

    /// Ends a row group once its buffered, encoded size reaches this many bytes: with
    /// [`batch_rows`](Self::batch_rows) this bounds the memory of each open file.
    /// Default: [`DEFAULT_ROW_GROUP_BYTES`].
    pub fn row_group_bytes(mut self, bytes: usize) -> Self {
        self.row_group_bytes = bytes;
        self
    }

    /// Events buffered per open file before they are encoded into Arrow and handed to the
    /// Parquet writer. Default: [`DEFAULT_BATCH_ROWS`].
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows;
        self
    }

    /// Events queued between [`send`](valtrack_core::EventSink::send) and the writer
    /// thread; `send` waits when the queue is full. Default: [`DEFAULT_CHANNEL_CAPACITY`].
    pub fn channel_capacity(mut self, events: usize) -> Self {
        self.channel_capacity = events;
        self
    }

    /// Files open at once (one per table and date partition); opening one more closes the
    /// oldest. With [`batch_rows`](Self::batch_rows) and
    /// [`row_group_bytes`](Self::row_group_bytes) this bounds the writer's memory, even when
    /// event timestamps span many dates. Default: [`DEFAULT_MAX_OPEN_FILES`].
    pub fn max_open_files(mut self, files: usize) -> Self {
        self.max_open_files = files;
        self
    }

    /// zstd compression level (1 to 22). Default: [`DEFAULT_ZSTD_LEVEL`].
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    /// Rows accepted and not yet published (in the queue, in open files, in files whose
    /// write failed and waits for a retry) before [`send`](valtrack_core::EventSink::send)
    /// waits. The sink keeps every row in memory until its file is published, so that a
    /// failed write can be retried from it; this bounds that memory. Open files are published
    /// early when half of it is used. Default: [`DEFAULT_MAX_HELD_ROWS`].
    pub fn max_held_rows(mut self, rows: usize) -> Self {
        self.max_held_rows = rows;
        self
    }

    /// Journals open files: each accepted row is also appended to a journal next to its
    /// file (`.part-….journal`, JSON lines) synced once a second, and
    /// [`ParquetSink::open`](crate::ParquetSink::open) publishes the rows of journals a crash
    /// left. A crash then loses at most the last second of rows that reached the writer
    /// (plus those still in the queue), instead of every unpublished row. Costs one JSON
    /// encoding per row and the journal's disk space until its file is published. Leave off
    /// when the events can be had again (a JetStream consumer acknowledges only published
    /// rows). Default: off.
    pub fn journal(mut self, on: bool) -> Self {
        self.journal = on;
        self
    }

    /// Share the directory with other sinks (other processes, e.g. several consumers of one
    /// stream): the sink takes the first free writer slot `N` of the directory (an exclusive
    /// lock on `.writer-N.lock`, held while it is open, at most [`MAX_WRITERS`]), names its
    /// files `part-<ms>-<seq>-wN.parquet`, and at open clears only what an earlier writer of
    /// that slot left. Default: off (the sink owns the directory).
    pub fn shared(mut self, on: bool) -> Self {
        self.shared = on;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<ParquetSinkConfig, ParquetConfigError> {
        let Self {
            dir,
            max_file_rows,
            max_file_bytes,
            max_file_age,
            row_group_rows,
            row_group_bytes,
            batch_rows,
            channel_capacity,
            max_open_files,
            zstd_level,
            max_held_rows,
            journal,
            shared,
        } = self;
        for (field, value) in [
            ("max_file_rows", max_file_rows),
            ("max_file_bytes", max_file_bytes),
            ("max_file_age", max_file_age.as_millis() as u64),
            ("row_group_rows", row_group_rows as u64),
            ("row_group_bytes", row_group_bytes as u64),
            ("batch_rows", batch_rows as u64),
            ("channel_capacity", channel_capacity as u64),
            ("max_open_files", max_open_files as u64),
            ("max_held_rows", max_held_rows as u64),
        ] {
            if value == 0 {
                return Err(ParquetConfigError::Zero { field });
            }
        }
        let level =
            ZstdLevel::try_new(zstd_level).map_err(|source| ParquetConfigError::ZstdLevel {
                level: zstd_level,
                source,
            })?;
        Ok(ParquetSinkConfig {
            dir,
            max_file_rows,
            max_file_bytes,
            max_file_age,
            row_group_rows,
            row_group_bytes,
            batch_rows,
            channel_capacity,
            max_open_files,
            zstd_level: level,
            max_held_rows,
            journal,
            shared,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_zero_bounds_are_rejected() {
        let config = ParquetSinkConfig::builder("/tmp/x").build().unwrap();
        assert_eq!(config.max_file_rows(), DEFAULT_MAX_FILE_ROWS);
        assert_eq!(config.max_file_bytes(), DEFAULT_MAX_FILE_BYTES);
        assert_eq!(config.max_file_age(), DEFAULT_MAX_FILE_AGE);
        let err = ParquetSinkConfig::builder("/tmp/x")
            .batch_rows(0)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ParquetConfigError::Zero {
                field: "batch_rows"
            }
        ));
        let err = ParquetSinkConfig::builder("/tmp/x")
            .max_file_age(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ParquetConfigError::Zero {
                field: "max_file_age"
            }
        ));
        let err = ParquetSinkConfig::builder("/tmp/x")
            .zstd_level(99)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ParquetConfigError::ZstdLevel { level: 99, .. }
        ));
    }
}
