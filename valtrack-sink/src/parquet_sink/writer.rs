//! The writer thread: buffers events per (table, date) partition, writes them with
//! `ArrowWriter`, rotates files and publishes them by rename.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tokio::sync::{mpsc, oneshot};
use valtrack_core::{Event, EventKind, SinkError};

use super::config::ParquetSinkConfig;
use super::schema::{encode, schema};

/// What the sink asks of its writer thread.
#[derive(Debug)]
// Almost every command is a `Write`; boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    /// Buffer and eventually write one event.
    Write(Event),
    /// Close every open file durably, then answer with the first error since the last flush.
    Flush(oneshot::Sender<Result<(), SinkError>>),
}

/// Most commands the writer takes from its queue at once.
const DRAIN: usize = 256;
/// How long the writer waits after taking fewer than [`DRAIN`] commands, so that under a
/// steady stream it wakes once per batch rather than once per event. Bounds the extra latency
/// of a write (and of a flush) to about a millisecond.
const BATCH_PAUSE: Duration = Duration::from_millis(1);

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

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> SinkError {
    SinkError::Backend {
        backend: "parquet",
        source: Box::new(e),
    }
}

/// One file being written, under its temporary name.
struct OpenFile {
    kind: EventKind,
    writer: ArrowWriter<File>,
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    rows: u64,
    opened: Instant,
    pending: Vec<Event>,
}

impl OpenFile {
    /// Encodes the buffered events and hands them to the Parquet writer.
    fn write_pending(&mut self) -> Result<(), SinkError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = encode(self.kind, &self.pending).map_err(backend)?;
        self.writer.write(&batch).map_err(backend)?;
        self.pending.clear();
        Ok(())
    }

    /// Written bytes plus the estimated size of the row group in memory.
    fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Writes the footer, fsyncs, renames to the final name and fsyncs the directory.
    fn close(self) -> Result<PathBuf, SinkError> {
        let tmp = self.tmp.clone();
        let result = self.finish();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn finish(mut self) -> Result<PathBuf, SinkError> {
        self.write_pending()?;
        let file = self.writer.into_inner().map_err(backend)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        // The new name, and the partition and table directories if they were just created.
        sync_dir(&self.dir)?;
        if let Some(table_dir) = self.dir.parent() {
            sync_dir(table_dir)?;
            if let Some(root) = table_dir.parent() {
                sync_dir(root)?;
            }
        }
        Ok(self.path)
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The state of the writer thread.
pub(crate) struct Writer {
    config: ParquetSinkConfig,
    props: WriterProperties,
    /// Open files by table and UTC day.
    files: HashMap<(EventKind, u64), OpenFile>,
    next_seq: u64,
    error: Option<SinkError>,
}

impl Writer {
    pub(crate) fn new(config: ParquetSinkConfig) -> Self {
        let row_group_rows = config
            .row_group_rows
            .min(usize::try_from(config.max_file_rows).unwrap_or(usize::MAX));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(config.zstd_level))
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_max_row_group_bytes(Some(config.row_group_bytes))
            .build();
        Self {
            config,
            props,
            files: HashMap::new(),
            next_seq: 0,
            error: None,
        }
    }

    /// How often open files are checked for age.
    pub(crate) fn tick(&self) -> Duration {
        (self.config.max_file_age / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// Runs until every sender is gone, then closes the open files.
    ///
    /// Commands are taken from the queue as many at a time as are waiting (up to
    /// [`DRAIN`]), so a busy producer costs one wake-up and one timer per batch rather than per
    /// event; the age of open files is checked once per tick.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
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
                                self.close_all();
                                let _ = reply.send(self.error.take().map_or(Ok(()), Err));
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
                self.close_old();
                next_check = now + tick;
            }
        }
        self.close_all();
        if let Some(e) = self.error.take() {
            tracing::error!(target: "valtrack::sink::parquet", error = %e, "parquet sink closed with an unreported error");
        }
    }

    fn record(&mut self, error: SinkError) {
        tracing::warn!(target: "valtrack::sink::parquet", error = %error, "parquet write failed");
        self.error.get_or_insert(error);
    }

    fn write(&mut self, event: Event) {
        let kind = event.kind();
        let key = (kind, utc_day(event.meta().timestamp));
        if !self.files.contains_key(&key) {
            if self.files.len() >= self.config.max_open_files {
                let oldest = self
                    .files
                    .iter()
                    .min_by_key(|(_, f)| f.opened)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    self.close(&oldest);
                }
            }
            match self.open(kind, key.1) {
                Ok(file) => {
                    self.files.insert(key, file);
                }
                Err(e) => return self.record(e),
            }
        }
        let Some(file) = self.files.get_mut(&key) else {
            return;
        };
        file.pending.push(event);
        file.rows += 1;
        if file.pending.len() >= self.config.batch_rows {
            if let Err(e) = file.write_pending() {
                if let Some(file) = self.files.remove(&key) {
                    let _ = fs::remove_file(&file.tmp);
                }
                return self.record(e);
            }
        }
        if file.rows >= self.config.max_file_rows || file.size() >= self.config.max_file_bytes {
            self.close(&key);
        }
    }

    fn open(&mut self, kind: EventKind, day: u64) -> Result<OpenFile, SinkError> {
        let date = date_of_day(day);
        let dir = self
            .config
            .dir
            .join(kind.table())
            .join(format!("date={date}"));
        fs::create_dir_all(&dir)?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let (tmp, path) = loop {
            let seq = self.next_seq;
            self.next_seq += 1;
            let name = format!("part-{now_ms}-{seq:06}.parquet");
            let path = dir.join(&name);
            let tmp = dir.join(format!(".{name}.tmp"));
            if !path.exists() && !tmp.exists() {
                break (tmp, path);
            }
        };
        let file = File::create_new(&tmp)?;
        let writer =
            ArrowWriter::try_new(file, schema(kind), Some(self.props.clone())).map_err(backend)?;
        Ok(OpenFile {
            kind,
            writer,
            dir,
            tmp,
            path,
            rows: 0,
            opened: Instant::now(),
            pending: Vec::with_capacity(self.config.batch_rows.min(4096)),
        })
    }

    fn close(&mut self, key: &(EventKind, u64)) {
        if let Some(file) = self.files.remove(key) {
            match file.close() {
                Ok(path) => {
                    tracing::debug!(target: "valtrack::sink::parquet", path = %path.display(), "parquet file closed");
                }
                Err(e) => self.record(e),
            }
        }
    }

    fn close_old(&mut self) {
        let max_age = self.config.max_file_age;
        let old: Vec<_> = self
            .files
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= max_age)
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            self.close(&key);
        }
    }

    fn close_all(&mut self) {
        let keys: Vec<_> = self.files.keys().copied().collect();
        for key in keys {
            self.close(&key);
        }
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
