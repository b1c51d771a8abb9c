//! [`ParquetSink`]: the async face of the writer thread.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use valtrack_core::{Event, EventSink, SinkError};

use super::config::ParquetSinkConfig;
use super::writer::{Command, Writer};

/// Writes events to a Hive-partitioned Parquet dataset, one table per [`EventKind`]:
/// `<dir>/<table>/date=YYYY-MM-DD/part-<unix ms>-<seq>.parquet`, zstd-compressed, with the
/// typed columns listed in the crate docs. The date is the event's timestamp in UTC.
///
/// Events go through a bounded queue to a dedicated writer thread, so the async runtime never
/// waits on disk: [`send`](EventSink::send) only waits when the queue is full. The thread
/// buffers up to `batch_rows` events per open file, encodes them to Arrow and hands them to
/// Parquet's `ArrowWriter`, which ends a row group at `row_group_rows` rows or
/// `row_group_bytes` bytes; so memory is bounded per open file, and at most `max_open_files`
/// files (one per table and date) are open at once.
///
/// A file is written under a hidden temporary name (`.part-….parquet.tmp`, which DuckDB,
/// Spark, pyarrow and Trino skip because of the leading dot) and renamed to its final name only
/// once its footer is written and it is fsynced. A file is closed when it reaches
/// `max_file_rows` or `max_file_bytes`, when it is `max_file_age` old, on
/// [`flush`](EventSink::flush), and when the sink is closed or dropped. So a crash never leaves
/// a footerless file in the dataset, only a stray `.tmp` file (events in it are lost; they were
/// never acknowledged by a flush). A sink owns its directory: [`open`](Self::open) removes the
/// stray `.part-….parquet.tmp` files a crashed writer left in its tables (only files of that
/// name, only in `<table>/date=…/`), so do not point two sinks at one directory.
///
/// [`flush`](EventSink::flush) closes every open file durably (file and directory fsynced)
/// and returns the first write error since the previous flush, if any: write errors are not
/// reported by `send`, which has already returned.
///
/// [`EventKind`]: valtrack_core::EventKind
#[derive(Debug)]
pub struct ParquetSink {
    tx: mpsc::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    dir: PathBuf,
}

impl ParquetSink {
    /// Creates the dataset directory, removes the temporary files a crashed writer left in
    /// it, and starts the writer thread.
    pub fn open(config: ParquetSinkConfig) -> Result<Self, SinkError> {
        std::fs::create_dir_all(&config.dir)?;
        let stale = remove_stale_tmp_files(&config.dir)?;
        if stale > 0 {
            tracing::info!(target: "valtrack::parquet", dir = %config.dir.display(), files = stale,
                "removed temporary files left by an earlier writer (their rows were never flushed)");
        }
        let dir = config.dir.clone();
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let writer = Writer::new(config);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("valtrack-parquet".into())
            .spawn(move || runtime.block_on(writer.run(rx)))?;
        Ok(Self {
            tx,
            thread: Mutex::new(Some(thread)),
            dir,
        })
    }

    /// The dataset root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes, stops the writer thread and waits for it.
    pub async fn close(self) -> Result<(), SinkError> {
        let flushed = self.flush().await;
        let Self { tx, thread, .. } = self;
        drop(tx);
        let handle = thread.lock().map_or(None, |mut t| t.take());
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| SinkError::Backend {
                    backend: "parquet",
                    source: Box::new(e),
                })?
                .map_err(|_| SinkError::Closed)?;
        }
        flushed
    }
}

impl EventSink for ParquetSink {
    /// Queues the event for the writer thread; waits while the queue is full. Cancel-safe:
    /// if the future is dropped before it completes, the event was not queued.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.tx
            .send(Command::Write(event))
            .await
            .map_err(|_| SinkError::Closed)
    }

    /// Closes every open file durably (see the type's docs). If the future is dropped, the
    /// flush still happens but its result is lost.
    async fn flush(&self) -> Result<(), SinkError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(reply))
            .await
            .map_err(|_| SinkError::Closed)?;
        done.await.map_err(|_| SinkError::Closed)?
    }
}

/// Whether `name` is one of our temporary file names: `.part-<ms>-<seq>.parquet.tmp`.
fn is_our_tmp(name: &str) -> bool {
    name.strip_prefix(".part-")
        .and_then(|rest| rest.strip_suffix(".parquet.tmp"))
        .is_some_and(|stem| {
            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        })
}

/// Removes our temporary files from `<dir>/<table>/date=…/`; returns how many.
fn remove_stale_tmp_files(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for kind in valtrack_core::EventKind::ALL {
        let Ok(days) = std::fs::read_dir(dir.join(kind.table())) else {
            continue;
        };
        for day in days.flatten() {
            if !day.file_name().to_string_lossy().starts_with("date=") {
                continue;
            }
            let Ok(files) = std::fs::read_dir(day.path()) else {
                continue;
            };
            for file in files.flatten() {
                if is_our_tmp(&file.file_name().to_string_lossy()) && file.path().is_file() {
                    std::fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::is_our_tmp;

    #[test]
    fn only_our_temporary_names_count() {
        assert!(is_our_tmp(".part-1764763200000-000001.parquet.tmp"));
        for other in [
            "part-1764763200000-000001.parquet",
            ".part-.parquet.tmp",
            ".part-12-x.parquet.tmp",
            ".other.parquet.tmp",
            ".part-1-1.parquet.tmp.bak",
            "notes.txt",
        ] {
            assert!(!is_our_tmp(other), "{other}");
        }
    }
}
