//! Reading back the event ids of the newest Parquet files, to seed a consumer's dedupe.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use arrow::array::{Array, AsArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use valtrack_core::SinkError;

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> SinkError {
    SinkError::Backend {
        backend: "parquet",
        source: Box::new(e),
    }
}

/// Every published `*.parquet` file under `dir` (temporary `.…tmp` files are skipped),
/// with its modification time.
fn parquet_files(dir: &Path, out: &mut Vec<(SystemTime, PathBuf)>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            parquet_files(&path, out)?;
        } else if !name.starts_with('.') && name.ends_with(".parquet") {
            out.push((entry.metadata()?.modified()?, path));
        }
    }
    Ok(())
}

/// The `event_id`s of the most recently written Parquet files of a
/// [`ParquetSink`](crate::ParquetSink) dataset under `dir` (every table), newest files first,
/// at most about `max_ids` of them (whole files are read; reading stops once `max_ids` is
/// reached). Only the `event_id` column is read.
///
/// A consumer seeds its dedupe with these after a restart: a message that was written and
/// made durable (the file renamed into place) but not acknowledged before a crash is
/// redelivered by JetStream, and its id is found here.
pub fn recent_event_ids(dir: &Path, max_ids: usize) -> Result<Vec<String>, SinkError> {
    Ok(DatasetIds::seed(dir, max_ids)?.1)
}

/// The event ids of a dataset, read a file at a time and each file once: seeded with the
/// newest files (as [`recent_event_ids`]), then [`read_new`](Self::read_new) reads the files
/// published since, by any writer of the directory (consumers sharing it).
#[derive(Debug)]
pub(crate) struct DatasetIds {
    #[cfg_attr(not(feature = "nats"), allow(dead_code))] // read_new's
    dir: PathBuf,
    seen: HashSet<PathBuf>,
    /// Files older than this (less 1 s of slack) were left unread at seeding, past the cap.
    floor: Option<SystemTime>,
}

impl DatasetIds {
    /// Reads the newest files up to about `max_ids` ids; returns the reader and the ids,
    /// newest files first.
    pub(crate) fn seed(dir: &Path, max_ids: usize) -> Result<(Self, Vec<String>), SinkError> {
        let mut files = Vec::new();
        parquet_files(dir, &mut files)?;
        // Newest first; file names (`part-<unix ms>-<seq>`) break ties of equal mtimes.
        files.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| b.1.file_name().cmp(&a.1.file_name()))
        });
        let mut this = Self {
            dir: dir.to_owned(),
            seen: HashSet::new(),
            floor: None,
        };
        let mut ids = Vec::new();
        let total = files.len();
        for (i, (mtime, path)) in files.into_iter().enumerate() {
            if ids.len() >= max_ids {
                break;
            }
            read_ids(&path, &mut ids)?;
            this.seen.insert(path);
            if i + 1 < total {
                this.floor = Some(mtime);
            }
        }
        if this.seen.len() == total {
            this.floor = None;
        }
        Ok((this, ids))
    }

    /// The ids of the files published since the last call (or the seeding).
    #[cfg(feature = "nats")] // the consumer's
    pub(crate) fn read_new(&mut self) -> Result<Vec<String>, SinkError> {
        let mut files = Vec::new();
        parquet_files(&self.dir, &mut files)?;
        let floor = self.floor.map(|f| {
            f.checked_sub(std::time::Duration::from_secs(1))
                .unwrap_or(f)
        });
        let mut ids = Vec::new();
        for (mtime, path) in files {
            if floor.is_some_and(|f| mtime < f) || self.seen.contains(&path) {
                continue;
            }
            read_ids(&path, &mut ids)?;
            self.seen.insert(path);
        }
        Ok(ids)
    }
}

/// Appends the `event_id`s of one file (only that column is read).
fn read_ids(path: &Path, ids: &mut Vec<String>) -> Result<(), SinkError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?).map_err(backend)?;
    let Some(index) = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == "event_id")
    else {
        return Ok(());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let reader = builder.with_projection(mask).build().map_err(backend)?;
    for batch in reader {
        let batch = batch.map_err(backend)?;
        let Some(column) = batch.column(0).as_string_opt::<i32>() else {
            break;
        };
        for i in 0..column.len() {
            if column.is_valid(i) {
                ids.push(column.value(i).to_owned());
            }
        }
    }
    Ok(())
}
