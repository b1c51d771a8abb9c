//! [`ParquetSink`]: the async face of the writer thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use valtrack_core::{Event, EventKind, EventSink, SinkError};

use super::config::ParquetSinkConfig;
use super::journal;
use super::writer::{table_index, Command, Shared, Writer};

/// What a [`ParquetSink`] has done with the rows it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParquetStats {
    /// Rows in published files (renamed into place after an fsync), per table in
    /// [`EventKind::ALL`] order.
    pub published: [u64; 5],
    /// Files published, per table in [`EventKind::ALL`] order.
    pub files: [u64; 5],
    /// Rows accepted and not published yet: queued, in open files, or in files whose write
    /// failed and is retried.
    pub held: u64,
    /// Of [`held`](Self::held), rows synced to a journal (a crash does not lose them).
    pub journaled: u64,
    /// Failed attempts to write a file or journal, since the sink was opened.
    pub write_errors: u64,
    /// The write failure going on now, with its path and cause; `None` when writes work.
    pub fault: Option<String>,
}

impl ParquetStats {
    /// Rows published in `kind`'s table.
    pub fn published_in(&self, kind: EventKind) -> u64 {
        self.published[table_index(kind)]
    }

    /// Rows published in every table.
    pub fn published_total(&self) -> u64 {
        self.published.iter().sum()
    }

    /// Rows on disk: published, or held in a synced journal.
    pub fn durable(&self) -> u64 {
        self.published_total() + self.journaled
    }
}

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
/// name, only in `<table>/date=…/`), so do not point two sinks at one directory, unless each
/// is [`shared`](crate::ParquetSinkConfigBuilder::shared): then each takes a writer slot `N`
/// of the directory, writes `part-<ms>-<seq>-wN` files and clears only its slot's leftovers.
///
/// **Nothing accepted is dropped.** The sink holds every row in memory until the file it is
/// in is published. When a write fails (disk full, directory unwritable), the file's
/// temporary is removed, the failure is logged once with its path and cause (then every 30 s
/// with a count), and the rows are written to a new file once a second until it works;
/// meanwhile new rows are held too. Held rows are bounded by `max_held_rows`: at the bound,
/// [`send`](EventSink::send) waits. [`stats`](Self::stats) tells rows published, held and
/// journaled, write errors and the failure going on. With `journal` on, rows also go to a
/// journal synced once a second, which [`open`](Self::open) publishes after a crash.
///
/// [`flush`](EventSink::flush) publishes every held row durably (file and directory
/// fsynced), retrying failed files at once, and returns `Ok` only when no row is left held;
/// else the first write error since the previous flush (the rows stay held and retried).
///
/// [`EventKind`]: valtrack_core::EventKind
#[derive(Debug)]
pub struct ParquetSink {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    dir: PathBuf,
    /// The writer slot's lock in a shared directory, held while the sink lives.
    #[allow(dead_code)]
    slot: Option<std::fs::File>,
    tag: Option<String>,
}

impl ParquetSink {
    /// Creates the dataset directory, removes the temporary files a crashed writer left in
    /// it, reads the journals it left (their rows are published first, whether or not this
    /// sink journals), and starts the writer thread.
    pub fn open(config: ParquetSinkConfig) -> Result<Self, SinkError> {
        std::fs::create_dir_all(&config.dir)?;
        let slot = if config.shared {
            Some(claim_slot(&config.dir)?)
        } else {
            None
        };
        let tag = slot.as_ref().map(|(n, _)| format!("w{n}"));
        let found = scan(&config.dir, tag.as_deref())?;
        if found.stale_tmp > 0 || found.stale_journals > 0 {
            tracing::info!(target: "valtrack::parquet", dir = %config.dir.display(),
                temporary_files = found.stale_tmp, published_journals = found.stale_journals,
                "removed files left by an earlier writer");
        }
        let dir = config.dir.clone();
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let shared = Arc::new(Shared::new(config.max_held_rows));
        let mut writer = Writer::new(config, shared.clone(), tag.clone());
        let (mut rows, mut torn) = (0, 0);
        let journals = found.journals.len();
        for (kind, day_dir, stem, replayed) in found.journals {
            rows += replayed.events.len();
            torn += usize::from(replayed.torn);
            writer.adopt(kind, day_dir, stem, replayed);
        }
        if journals > 0 {
            tracing::info!(target: "valtrack::parquet", dir = %dir.display(), journals, rows,
                torn_tails = torn, "publishing the rows of journals an earlier writer left");
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("valtrack-parquet".into())
            .spawn(move || runtime.block_on(writer.run(rx)))?;
        if let Some(tag) = &tag {
            tracing::info!(target: "valtrack::parquet", dir = %dir.display(), writer = %tag, "writing to a shared directory");
        }
        Ok(Self {
            tx,
            shared,
            thread: Mutex::new(Some(thread)),
            dir,
            slot: slot.map(|(_, lock)| lock),
            tag,
        })
    }

    /// The writer slot's tag (`wN`) in a shared directory; `None` when the sink owns it.
    pub fn writer_tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Rows published, held and journaled, write errors, and the failure going on.
    pub fn stats(&self) -> ParquetStats {
        stats_of(&self.shared)
    }

    /// A cheap reader of [`stats`](Self::stats) that outlives the sink's borrows.
    pub fn stats_reader(&self) -> impl Fn() -> ParquetStats + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || stats_of(&shared)
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
    /// Queues the event for the writer thread; waits while the queue is full or
    /// `max_held_rows` rows are held. Cancel-safe: if the future is dropped before it
    /// completes, the event was not queued.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let permit = self
            .shared
            .room
            .acquire()
            .await
            .map_err(|_| SinkError::Closed)?;
        // Both waits come before anything is counted, so a dropped future leaves no trace.
        let slot = self.tx.reserve().await.map_err(|_| SinkError::Closed)?;
        self.shared.held.fetch_add(1, Ordering::Relaxed);
        slot.send(Command::Write(event));
        // The writer gives it back when the row is published.
        permit.forget();
        Ok(())
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

fn stats_of(shared: &Shared) -> ParquetStats {
    ParquetStats {
        published: std::array::from_fn(|i| shared.published[i].load(Ordering::Relaxed)),
        files: std::array::from_fn(|i| shared.files[i].load(Ordering::Relaxed)),
        held: shared.held.load(Ordering::Relaxed),
        journaled: shared.journaled.load(Ordering::Relaxed),
        write_errors: shared.write_errors.load(Ordering::Relaxed),
        fault: shared.fault(),
    }
}

/// Takes the first free writer slot of a shared directory: `(N, the locked .writer-N.lock)`.
fn claim_slot(dir: &Path) -> Result<(usize, std::fs::File), SinkError> {
    for n in 1..=super::config::MAX_WRITERS {
        let path = dir.join(format!(".writer-{n}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => return Ok((n, file)),
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
    }
    Err(SinkError::Backend {
        backend: "parquet",
        source: format!(
            "all {} writer slots of {} are taken by running writers",
            super::config::MAX_WRITERS,
            dir.display()
        )
        .into(),
    })
}

/// Whether a file stem (`part-<ms>-<seq>`, or `part-<ms>-<seq>-<tag>` in a shared
/// directory) is one a sink with `tag` writes.
pub(crate) fn stem_is_ours(stem: &str, tag: Option<&str>) -> bool {
    let Some(rest) = stem.strip_prefix("part-") else {
        return false;
    };
    let digits = match tag {
        None => rest,
        Some(t) => match rest.strip_suffix(t).and_then(|r| r.strip_suffix('-')) {
            Some(d) => d,
            None => return false,
        },
    };
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// Whether `name` is one of our temporary file names: `.<stem>.parquet.tmp`.
fn is_our_tmp(name: &str, tag: Option<&str>) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".parquet.tmp"))
        .is_some_and(|stem| stem_is_ours(stem, tag))
}

/// What an earlier writer left in a dataset.
#[derive(Default)]
struct Found {
    stale_tmp: usize,
    stale_journals: usize,
    /// Journals whose file was never published: table, partition directory, stem, rows.
    journals: Vec<(EventKind, PathBuf, String, journal::Replayed)>,
}

/// Removes our temporary files and the journals of published files from
/// `<dir>/<table>/date=…/`, and reads the other journals; only those of a writer with `tag`.
fn scan(dir: &Path, tag: Option<&str>) -> std::io::Result<Found> {
    let mut found = Found::default();
    for kind in EventKind::ALL {
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
                let name = file.file_name().to_string_lossy().into_owned();
                if !file.path().is_file() {
                    continue;
                }
                if is_our_tmp(&name, tag) {
                    std::fs::remove_file(file.path())?;
                    found.stale_tmp += 1;
                } else if let Some(stem) =
                    journal::stem_of(&name).filter(|stem| stem_is_ours(stem, tag))
                {
                    if day.path().join(format!("{stem}.parquet")).exists() {
                        std::fs::remove_file(file.path())?;
                        found.stale_journals += 1;
                        continue;
                    }
                    let mut replayed = match journal::read(&file.path()) {
                        Ok(replayed) if !replayed.corrupt => replayed,
                        result => {
                            // Not ours to guess at: set aside, whole, for a person to look at.
                            let bad = file.path().with_extension("journal.bad");
                            tracing::error!(target: "valtrack::parquet", path = %file.path().display(),
                                set_aside = %bad.display(), error = ?result.err(),
                                "a journal has an unreadable line before its end; its rows are not published");
                            std::fs::rename(file.path(), &bad)?;
                            continue;
                        }
                    };
                    // A journal holds one table's rows; anything else is not ours to write.
                    replayed.events.retain(|e| e.kind() == kind);
                    found
                        .journals
                        .push((kind, day.path(), stem.to_owned(), replayed));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::is_our_tmp;

    #[test]
    fn only_our_temporary_names_count() {
        assert!(is_our_tmp(".part-1764763200000-000001.parquet.tmp", None));
        assert!(is_our_tmp(
            ".part-1764763200000-000001-w3.parquet.tmp",
            Some("w3")
        ));
        assert!(!is_our_tmp(
            ".part-1764763200000-000001-w3.parquet.tmp",
            None
        ));
        assert!(!is_our_tmp(
            ".part-1764763200000-000001-w3.parquet.tmp",
            Some("w1")
        ));
        assert!(!is_our_tmp(
            ".part-1764763200000-000001-w13.parquet.tmp",
            Some("w3")
        ));
        assert!(!is_our_tmp(
            ".part-1764763200000-000001.parquet.tmp",
            Some("w3")
        ));
        for other in [
            "part-1764763200000-000001.parquet",
            ".part-.parquet.tmp",
            ".part-12-x.parquet.tmp",
            ".other.parquet.tmp",
            ".part-1-1.parquet.tmp.bak",
            "notes.txt",
        ] {
            assert!(!is_our_tmp(other, None), "{other}");
        }
    }
}
