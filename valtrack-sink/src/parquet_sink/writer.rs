//! The writer thread: holds every accepted event until the file it is in is published,
//! writes files with `ArrowWriter`, rotates them, publishes them by rename, and retries what
//! failed from the events it still holds.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use tokio::sync::{mpsc, oneshot, Semaphore};
use valtrack_core::{Event, EventKind, SinkError};

use super::config::ParquetSinkConfig;
use super::journal::{self, Journal};
use super::schema::{encode, schema};
use crate::error::ParquetWriteError;

/// What the sink asks of its writer thread.
#[derive(Debug)]
// Almost every command is a `Write`; boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    /// Hold and eventually write one event.
    Write(Event),
    /// Publish every held row, then answer: `Ok` when none is left unpublished.
    Flush(oneshot::Sender<Result<(), SinkError>>),
}

/// Most commands the writer takes from its queue at once.
const DRAIN: usize = 256;
/// How long the writer waits after taking fewer than [`DRAIN`] commands, so that under a
/// steady stream it wakes once per batch rather than once per event. Bounds the extra latency
/// of a write (and of a flush) to about a millisecond.
const BATCH_PAUSE: Duration = Duration::from_millis(1);
/// How often a failed file is tried again.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often journals are synced: the most a crash can lose of what reached the writer.
pub(crate) const JOURNAL_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How often a failure that goes on is reported again (with its count).
const REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// The position of a table in [`EventKind::ALL`].
pub(crate) fn table_index(kind: EventKind) -> usize {
    EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Counters shared by the sink and its writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Rows in published files, per table ([`EventKind::ALL`] order).
    pub(crate) published: [AtomicU64; 5],
    /// Files published, per table.
    pub(crate) files: [AtomicU64; 5],
    /// Rows accepted and not yet published.
    pub(crate) held: AtomicU64,
    /// Of those, rows synced to a journal.
    pub(crate) journaled: AtomicU64,
    /// Failed attempts to write.
    pub(crate) write_errors: AtomicU64,
    /// The failure going on, if any.
    pub(crate) fault: Mutex<Option<String>>,
    /// One permit per row that may still be held: `send` takes one, publishing returns it.
    pub(crate) room: Semaphore,
}

impl Shared {
    pub(crate) fn new(max_held_rows: usize) -> Self {
        Self {
            published: Default::default(),
            files: Default::default(),
            held: AtomicU64::new(0),
            journaled: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            fault: Mutex::new(None),
            room: Semaphore::new(max_held_rows),
        }
    }

    /// The failure going on, if any.
    pub(crate) fn fault(&self) -> Option<String> {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_fault(&self, fault: Option<String>) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }
}

/// The UTC day (days since 1970-01-01) of a unix-ms timestamp: the partition of an event.
fn utc_day(timestamp_ms: u64) -> u64 {
    timestamp_ms / 86_400_000
}

/// `YYYY-MM-DD` of a UTC day number.
fn date_of_day(day: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let days = day as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One file on its way to being published: every event it holds (kept until it is
/// published), the Parquet writer on its temporary file (none before the first write or
/// after a failure), and its journal.
pub(crate) struct Segment {
    kind: EventKind,
    dir: PathBuf,
    /// `part-<ms>-<seq>`: the file is `<stem>.parquet`, its temporary `.<stem>.parquet.tmp`,
    /// its journal `.<stem>.journal`.
    stem: String,
    events: Vec<Event>,
    /// Events handed to `file` so far.
    encoded: usize,
    file: Option<ArrowWriter<File>>,
    journal: Option<Journal>,
    opened: Instant,
    /// Set while the segment's last write failed: when to try again.
    retry_at: Option<Instant>,
    /// Whether its rows took permits of the sink's room (all but replayed ones).
    holds_permits: bool,
}

impl Segment {
    fn tmp(&self) -> PathBuf {
        self.dir.join(format!(".{}.parquet.tmp", self.stem))
    }

    fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.parquet", self.stem))
    }

    /// Written bytes plus the estimated size of the row group in memory.
    fn size(&self) -> u64 {
        self.file
            .as_ref()
            .map_or(0, |w| (w.bytes_written() + w.in_progress_size()) as u64)
    }

    /// Drops the Parquet writer and its temporary file (after a failure: the events are
    /// still held, and the next attempt writes them all to a new one).
    fn discard_file(&mut self) {
        self.file = None;
        let _ = fs::remove_file(self.tmp());
        self.encoded = 0;
    }

    /// Hands the events not yet encoded to the Parquet writer, creating it first if needed.
    fn write_pending(&mut self, props: &WriterProperties) -> Result<(), ParquetWriteError> {
        if self.encoded == self.events.len() {
            return Ok(());
        }
        if self.file.is_none() {
            fs::create_dir_all(&self.dir)
                .map_err(|e| ParquetWriteError::io("creating", &self.dir, e))?;
            let tmp = self.tmp();
            // Ours alone (the stem is new): a temporary file of an earlier attempt is cut
            // back to nothing. (Removing it first hid the real cause behind "File exists"
            // when the directory was read-only.)
            let file =
                File::create(&tmp).map_err(|e| ParquetWriteError::io("creating", &tmp, e))?;
            let writer = ArrowWriter::try_new(file, schema(self.kind), Some(props.clone()))
                .map_err(|e| ParquetWriteError::parquet("writing", &tmp, e))?;
            self.file = Some(writer);
            self.encoded = 0;
        }
        let tmp = self.tmp();
        let Some(writer) = self.file.as_mut() else {
            return Ok(());
        };
        // Large batches (a retry of many rows) are encoded in pieces.
        for chunk in self.events[self.encoded..].chunks(8192) {
            let batch = encode(self.kind, chunk)
                .map_err(|e| ParquetWriteError::parquet("encoding", &tmp, e.into()))?;
            writer
                .write(&batch)
                .map_err(|e| ParquetWriteError::parquet("writing", &tmp, e))?;
        }
        self.encoded = self.events.len();
        Ok(())
    }

    /// Writes the footer, fsyncs, renames to the final name and fsyncs the directories.
    fn publish(&mut self, props: &WriterProperties) -> Result<PathBuf, ParquetWriteError> {
        self.write_pending(props)?;
        let tmp = self.tmp();
        let Some(writer) = self.file.take() else {
            return Err(ParquetWriteError::io(
                "writing",
                &tmp,
                std::io::Error::other("no file"),
            ));
        };
        let file = writer
            .into_inner()
            .map_err(|e| ParquetWriteError::parquet("writing", &tmp, e))?;
        file.sync_all()
            .map_err(|e| ParquetWriteError::io("syncing", &tmp, e))?;
        drop(file);
        let path = self.path();
        fs::rename(&tmp, &path).map_err(|e| ParquetWriteError::io("renaming", &tmp, e))?;
        // The new name, and the partition and table directories if they were just created.
        let mut dir = Some(self.dir.as_path());
        for _ in 0..3 {
            let Some(d) = dir else { break };
            sync_dir(d).map_err(|e| ParquetWriteError::io("syncing", d, e))?;
            dir = d.parent();
        }
        Ok(path)
    }
}

/// A failure that goes on: reported once when it starts, then every [`REPORT_INTERVAL`]
/// with how many times it happened.
struct Fault {
    /// The conditions (OS errors) seen in this episode: each is reported when first seen.
    seen: Vec<String>,
    /// The latest error of this condition, with its path.
    last: String,
    since: Instant,
    failures: u64,
    unreported: u64,
    reported: Instant,
}

/// The state of the writer thread.
pub(crate) struct Writer {
    config: ParquetSinkConfig,
    props: WriterProperties,
    shared: std::sync::Arc<Shared>,
    /// The segment taking new events, by table and UTC day.
    open: HashMap<(EventKind, u64), Segment>,
    /// Segments whose publication failed, waiting for a retry.
    failed: Vec<Segment>,
    next_seq: u64,
    /// The writer slot's tag in a shared directory, appended to file stems.
    tag: Option<String>,
    fault: Option<Fault>,
    /// Whether the last journal sync failed (a fault goes on even when files publish).
    journal_failing: bool,
    /// The first error since the last flush answered.
    error: Option<ParquetWriteError>,
    last_journal_sync: Instant,
}

impl Writer {
    pub(crate) fn new(
        config: ParquetSinkConfig,
        shared: std::sync::Arc<Shared>,
        tag: Option<String>,
    ) -> Self {
        let row_group_rows = config
            .row_group_rows
            .min(usize::try_from(config.max_file_rows).unwrap_or(usize::MAX));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(config.zstd_level))
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_max_row_group_bytes(Some(config.row_group_bytes))
            // Every row's id is new: a dictionary of them costs a hash and a copy a row
            // and makes the column larger, not smaller.
            .set_column_dictionary_enabled(ColumnPath::from("event_id"), false)
            .build();
        Self {
            config,
            props,
            shared,
            open: HashMap::new(),
            failed: Vec::new(),
            next_seq: 0,
            tag,
            fault: None,
            journal_failing: false,
            error: None,
            last_journal_sync: Instant::now(),
        }
    }

    /// How often open files are checked for age, journals synced and failures retried.
    pub(crate) fn tick(&self) -> Duration {
        (self.config.max_file_age / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// Rows held by segments (open and failed).
    fn held_rows(&self) -> usize {
        self.open
            .values()
            .chain(&self.failed)
            .map(|s| s.events.len())
            .sum()
    }

    /// Runs until every sender is gone, then publishes what it holds.
    ///
    /// Commands are taken from the queue as many at a time as are waiting (up to
    /// [`DRAIN`]), so a busy producer costs one wake-up and one timer per batch rather than per
    /// event; the age of open files, journals and retries are seen to once per tick.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        // However the writer ends (a panic included), senders waiting for room wake up.
        struct CloseRoom(std::sync::Arc<Shared>);
        impl Drop for CloseRoom {
            fn drop(&mut self) {
                self.0.room.close();
            }
        }
        let _close_room = CloseRoom(self.shared.clone());
        // Rows replayed from journals first.
        self.retry(None);
        let tick = self.tick();
        let mut commands = Vec::with_capacity(DRAIN);
        let mut next_check = Instant::now() + tick;
        loop {
            match tokio::time::timeout(tick, rx.recv_many(&mut commands, DRAIN)).await {
                Ok(0) => break,
                Ok(n) => {
                    // Under a steady stream, let the queue fill a little before the next wake.
                    let pause = n < DRAIN;
                    for command in commands.drain(..) {
                        match command {
                            Command::Write(event) => self.write(event),
                            Command::Flush(reply) => {
                                let _ = reply.send(self.flush());
                            }
                        }
                    }
                    if pause {
                        tokio::time::sleep(BATCH_PAUSE).await;
                    }
                }
                Err(_elapsed) => {}
            }
            let now = Instant::now();
            if now >= next_check {
                self.maintain(now);
                next_check = now + tick;
            }
        }
        let _ = self.flush();
        self.report_unpublished();
    }

    /// Publishes every segment (retrying failed ones now); `Ok` when nothing is left held.
    pub(crate) fn flush(&mut self) -> Result<(), SinkError> {
        let keys: Vec<_> = self.open.keys().copied().collect();
        for key in keys {
            self.close(&key);
        }
        self.retry(None);
        self.sync_journals();
        let first = self.error.take();
        if self.failed.is_empty() {
            return Ok(());
        }
        let held = self.shared.held.load(Ordering::Relaxed);
        let error = first.unwrap_or_else(|| {
            let fault = self
                .shared
                .fault()
                .unwrap_or_else(|| "an earlier write failed".into());
            ParquetWriteError::io("writing", &self.config.dir, std::io::Error::other(fault))
        });
        tracing::debug!(target: "valtrack::sink::parquet", held, "flush left rows held");
        Err(SinkError::Backend {
            backend: "parquet",
            source: Box::new(error),
        })
    }

    /// Age rotation, journal syncs and retries.
    fn maintain(&mut self, now: Instant) {
        let max_age = self.config.max_file_age;
        let old: Vec<_> = self
            .open
            .iter()
            .filter(|(_, s)| s.opened.elapsed() >= max_age)
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            self.close(&key);
        }
        if now.duration_since(self.last_journal_sync) >= JOURNAL_SYNC_INTERVAL {
            self.sync_journals();
        }
        self.retry(Some(now));
        if let Some(fault) = &mut self.fault {
            if fault.unreported > 0 && fault.reported.elapsed() >= REPORT_INTERVAL {
                tracing::warn!(target: "valtrack::sink::parquet",
                    failures = fault.unreported, since_secs = fault.since.elapsed().as_secs(),
                    held_rows = self.shared.held.load(Ordering::Relaxed),
                    "parquet writes still failing ({}); the rows are held and retried every {}s",
                    fault.last, RETRY_INTERVAL.as_secs());
                fault.unreported = 0;
                fault.reported = Instant::now();
            }
        }
    }

    fn sync_journals(&mut self) {
        self.last_journal_sync = Instant::now();
        let mut failures = Vec::new();
        for segment in self.open.values_mut().chain(self.failed.iter_mut()) {
            let Some(journal) = segment.journal.as_mut() else {
                continue;
            };
            if !journal.dirty() {
                continue;
            }
            let path = journal.path().to_owned();
            match journal.sync() {
                Ok(rows) => {
                    self.shared.journaled.fetch_add(rows, Ordering::Relaxed);
                }
                Err(e) => failures.push(ParquetWriteError::io("writing", &path, e)),
            }
        }
        self.journal_failing = !failures.is_empty();
        for e in failures {
            self.failure(e);
        }
        if !self.journal_failing && self.failed.is_empty() {
            self.recovered();
        }
    }

    /// Tries the failed segments again (those due at `now`, or all).
    fn retry(&mut self, now: Option<Instant>) {
        if self.failed.is_empty() {
            return;
        }
        let failed = std::mem::take(&mut self.failed);
        for mut segment in failed {
            if now.is_some_and(|now| segment.retry_at.is_some_and(|at| at > now)) {
                self.failed.push(segment);
                continue;
            }
            match segment.publish(&self.props) {
                Ok(path) => self.published(segment, path),
                Err(e) => {
                    segment.discard_file();
                    segment.retry_at = Some(Instant::now() + RETRY_INTERVAL);
                    self.failed.push(segment);
                    self.failure(e);
                }
            }
        }
        if self.failed.is_empty() {
            self.recovered();
        }
    }

    fn failure(&mut self, error: ParquetWriteError) {
        self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
        self.shared.set_fault(Some(error.to_string()));
        let condition = error.condition();
        let fault = self.fault.get_or_insert_with(|| Fault {
            seen: Vec::new(),
            last: String::new(),
            since: Instant::now(),
            failures: 0,
            unreported: 0,
            reported: Instant::now(),
        });
        fault.failures += 1;
        fault.last = error.to_string();
        // Failures that alternate between causes (a read-only disk fails creates and journal
        // writes in turn) are each said once per episode, then counted.
        if fault.seen.contains(&condition) {
            fault.unreported += 1;
        } else if fault.seen.len() < 8 {
            tracing::warn!(target: "valtrack::sink::parquet", error = %error,
                held_rows = self.shared.held.load(Ordering::Relaxed),
                "parquet write failed; the rows are held and retried every {}s",
                RETRY_INTERVAL.as_secs());
            fault.seen.push(condition);
        } else {
            fault.unreported += 1;
        }
        self.error.get_or_insert(error);
    }

    fn recovered(&mut self) {
        if self.journal_failing {
            return;
        }
        if let Some(fault) = self.fault.take() {
            tracing::info!(target: "valtrack::sink::parquet", failures = fault.failures,
                after_secs = fault.since.elapsed().as_secs(),
                "parquet writes recovered; every held row is written");
            self.shared.set_fault(None);
        }
    }

    /// Counts a segment's rows as published and forgets its journal.
    fn published(&mut self, segment: Segment, path: PathBuf) {
        tracing::debug!(target: "valtrack::sink::parquet", path = %path.display(), rows = segment.events.len(), "parquet file published");
        let rows = segment.events.len() as u64;
        let segment_permits = segment.holds_permits;
        let t = table_index(segment.kind);
        self.shared.published[t].fetch_add(rows, Ordering::Relaxed);
        self.shared.files[t].fetch_add(1, Ordering::Relaxed);
        self.shared.held.fetch_sub(rows, Ordering::Relaxed);
        if let Some(journal) = segment.journal {
            self.shared
                .journaled
                .fetch_sub(journal.synced_rows(), Ordering::Relaxed);
            let jpath = journal.path().to_owned();
            // Left behind, it is found stale (its file exists) and removed at the next start.
            if let Err(e) = journal.remove() {
                tracing::warn!(target: "valtrack::sink::parquet", path = %jpath.display(), error = %e, "could not remove a published file's journal");
            }
        }
        if segment_permits {
            self.shared.room.add_permits(rows as usize);
        }
    }

    /// Adds a segment found at start (a journal whose file was never published), to be
    /// published first. Its rows hold no permit of the sink's room.
    pub(crate) fn adopt(
        &mut self,
        kind: EventKind,
        dir: PathBuf,
        stem: String,
        replayed: journal::Replayed,
    ) {
        let rows = replayed.events.len() as u64;
        let jpath = dir.join(format!(".{stem}.journal"));
        self.shared.held.fetch_add(rows, Ordering::Relaxed);
        self.shared.journaled.fetch_add(rows, Ordering::Relaxed);
        self.failed.push(Segment {
            kind,
            dir,
            stem,
            events: replayed.events,
            encoded: 0,
            file: None,
            journal: Some(Journal::existing(jpath, replayed.len, rows)),
            opened: Instant::now(),
            retry_at: None,
            holds_permits: false,
        });
    }

    fn new_stem(&mut self) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let seq = self.next_seq;
        self.next_seq += 1;
        match &self.tag {
            Some(tag) => format!("part-{now_ms}-{seq:06}-{tag}"),
            None => format!("part-{now_ms}-{seq:06}"),
        }
    }

    fn write(&mut self, event: Event) {
        let kind = event.kind();
        let key = (kind, utc_day(event.meta().timestamp));
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.config.max_open_files {
                let oldest = self
                    .open
                    .iter()
                    .min_by_key(|(_, s)| s.opened)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    self.close(&oldest);
                }
            }
            let dir = self
                .config
                .dir
                .join(kind.table())
                .join(format!("date={}", date_of_day(key.1)));
            let stem = loop {
                let stem = self.new_stem();
                let taken = [
                    format!("{stem}.parquet"),
                    format!(".{stem}.parquet.tmp"),
                    format!(".{stem}.journal"),
                ]
                .iter()
                .any(|name| dir.join(name).exists());
                if !taken {
                    break stem;
                }
            };
            let journal = self
                .config
                .journal
                .then(|| Journal::new(dir.join(format!(".{stem}.journal"))));
            self.open.insert(
                key,
                Segment {
                    kind,
                    dir,
                    stem,
                    events: Vec::with_capacity(self.config.batch_rows.min(4096)),
                    encoded: 0,
                    file: None,
                    journal,
                    opened: Instant::now(),
                    retry_at: None,
                    holds_permits: true,
                },
            );
        }
        let Some(segment) = self.open.get_mut(&key) else {
            return;
        };
        if let Some(journal) = segment.journal.as_mut() {
            journal.append(&event);
        }
        segment.events.push(event);
        // While files fail, new rows are only held (written when their file is published).
        // A new file is created with its first row, so that a failure shows at once.
        let failing = !self.failed.is_empty();
        let batch_full = segment.events.len() - segment.encoded >= self.config.batch_rows;
        let write = !failing && (segment.file.is_none() || batch_full);
        if write {
            if let Err(e) = segment.write_pending(&self.props) {
                // Close it now: it becomes a failed segment, retried from its events.
                segment.discard_file();
                self.failure(e);
                if let Some(mut segment) = self.open.remove(&key) {
                    segment.retry_at = Some(Instant::now() + RETRY_INTERVAL);
                    self.failed.push(segment);
                }
                return;
            }
        }
        // The size changes only when rows are encoded (and asking costs a walk over every
        // column's writer, ~5 % of this thread's CPU when done for every row).
        let full = segment.events.len() as u64 >= self.config.max_file_rows
            || (write && segment.size() >= self.config.max_file_bytes);
        if full {
            self.close(&key);
        } else if !failing && self.held_rows() >= self.config.max_held_rows / 2 {
            // Publish the largest open file before senders have to wait for room.
            let largest = self
                .open
                .iter()
                .max_by_key(|(_, s)| s.events.len())
                .map(|(k, _)| *k);
            if let Some(largest) = largest {
                self.close(&largest);
            }
        }
    }

    /// Publishes an open segment; on failure it joins the failed ones.
    fn close(&mut self, key: &(EventKind, u64)) {
        let Some(mut segment) = self.open.remove(key) else {
            return;
        };
        match segment.publish(&self.props) {
            Ok(path) => {
                self.published(segment, path);
                if self.failed.is_empty() {
                    self.recovered();
                }
            }
            Err(e) => {
                segment.discard_file();
                segment.retry_at = Some(Instant::now() + RETRY_INTERVAL);
                self.failed.push(segment);
                self.failure(e);
            }
        }
    }

    /// At the end: says exactly what could not be written, and what the journals keep.
    fn report_unpublished(&mut self) {
        if self.failed.is_empty() {
            return;
        }
        let mut per_table = [0u64; 5];
        let mut journaled = 0;
        for segment in &self.failed {
            per_table[table_index(segment.kind)] += segment.events.len() as u64;
            journaled += segment.journal.as_ref().map_or(0, Journal::synced_rows);
        }
        let total: u64 = per_table.iter().sum();
        let tables = EventKind::ALL
            .iter()
            .zip(per_table)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{} {n}", k.table()))
            .collect::<Vec<_>>()
            .join(", ");
        let fault = self.shared.fault().unwrap_or_default();
        tracing::error!(target: "valtrack::sink::parquet", dir = %self.config.dir.display(),
            "{total} rows were not written ({tables}): {fault}; {journaled} of them are in journals and will be written at the next start");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc_date(timestamp_ms: u64) -> String {
        date_of_day(utc_day(timestamp_ms))
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(86_399_999), "1970-01-01");
        assert_eq!(utc_date(86_400_000), "1970-01-02");
        // 2024-02-29T12:00:00Z
        assert_eq!(utc_date(1_709_208_000_000), "2024-02-29");
        // 2026-11-26T23:59:59.999Z
        assert_eq!(utc_date(1_795_737_599_999), "2026-11-26");
        assert_eq!(utc_date(1_795_737_600_000), "2026-11-27");
    }
}
