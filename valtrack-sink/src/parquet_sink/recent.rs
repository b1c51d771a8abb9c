//! Reading back the event ids of the newest Parquet files, to seed a consumer's dedupe.

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
    let mut files = Vec::new();
    parquet_files(dir, &mut files)?;
    // Newest first; file names (`part-<unix ms>-<seq>`) break ties of equal mtimes.
    files.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.1.file_name().cmp(&a.1.file_name()))
    });
    let mut ids = Vec::new();
    for (_, path) in files {
        if ids.len() >= max_ids {
            break;
        }
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?).map_err(backend)?;
        let Some(index) = builder
            .schema()
            .fields()
            .iter()
            .position(|f| f.name() == "event_id")
        else {
            continue;
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
    }
    Ok(ids)
}
