//! The write-ahead journal of an open Parquet file: its events as JSON lines, synced about
//! once a second, so a crash loses at most that second; replayed into the file at the next
//! [`ParquetSink::open`](super::ParquetSink::open).
//!
//! A journal `.part-<ms>-<seq>.journal` belongs to the file `part-<ms>-<seq>.parquet` in
//! the same partition directory. It is removed only after that file is renamed into place
//! and the directory synced; so at start, a journal whose file exists is stale (removed),
//! and one whose file does not exist holds rows that were never published (replayed).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use valtrack_core::Event;

/// The journal of one open file.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Option<File>,
    /// Bytes on disk and synced: whole lines only.
    synced_len: u64,
    /// Rows on disk and synced.
    synced_rows: u64,
    /// Lines not yet on disk.
    buf: Vec<u8>,
    buf_rows: u64,
}

impl Journal {
    /// A journal at `path`; nothing is created until the first [`sync`](Self::sync).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            synced_len: 0,
            synced_rows: 0,
            buf: Vec::new(),
            buf_rows: 0,
        }
    }

    /// The journal of rows already on disk (`len` bytes, `rows` rows), as found at start.
    pub(crate) fn existing(path: PathBuf, len: u64, rows: u64) -> Self {
        Self {
            synced_len: len,
            synced_rows: rows,
            ..Self::new(path)
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Rows synced to disk.
    pub(crate) fn synced_rows(&self) -> u64 {
        self.synced_rows
    }

    /// Whether lines wait to be written.
    pub(crate) fn dirty(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Adds an event (in memory until the next sync).
    pub(crate) fn append(&mut self, event: &Event) {
        self.buf.extend_from_slice(&event.to_json());
        self.buf.push(b'\n');
        self.buf_rows += 1;
    }

    /// Writes the waiting lines and syncs them; returns how many rows became durable. On an
    /// error the file is cut back to its last synced line and the lines stay waiting, so
    /// the next call retries them whole.
    pub(crate) fn sync(&mut self) -> io::Result<u64> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        let result = self.write_out();
        if result.is_err() {
            if let Some(file) = &self.file {
                let _ = file.set_len(self.synced_len);
            }
            // Reopen next time: after a failed write or fsync the handle's state is unknown.
            self.file = None;
        }
        result?;
        self.synced_len += self.buf.len() as u64;
        self.synced_rows += self.buf_rows;
        let rows = self.buf_rows;
        self.buf.clear();
        self.buf_rows = 0;
        Ok(rows)
    }

    fn write_out(&mut self) -> io::Result<()> {
        let created = self.file.is_none() && self.synced_len == 0;
        if created {
            // A new partition's directory (its file is not written while writes fail).
            if let Some(dir) = self.path.parent() {
                if !dir.is_dir() {
                    fs::create_dir_all(dir)?;
                    for d in dir.ancestors().skip(1).take(2) {
                        File::open(d)?.sync_all()?;
                    }
                }
            }
        }
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&self.path)?;
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(self.synced_len))?;
        file.write_all(&self.buf)?;
        file.sync_data()?;
        if created {
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(())
    }

    /// Deletes the journal (its rows are published).
    pub(crate) fn remove(mut self) -> io::Result<()> {
        self.file = None;
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What [`read`] found in a journal.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) events: Vec<Event>,
    /// Bytes of whole, readable lines.
    pub(crate) len: u64,
    /// Whether the file ended in a line that could not be read (a write a crash cut short).
    pub(crate) torn: bool,
    /// Whether a line before the last could not be read: not a crash's doing.
    pub(crate) corrupt: bool,
}

/// Reads a journal's events. Only the last line may be unreadable (a write a crash cut
/// short, `torn`); an unreadable line before it makes the journal `corrupt`.
pub(crate) fn read(path: &Path) -> io::Result<Replayed> {
    let bytes = fs::read(path)?;
    let mut events = Vec::new();
    let mut len = 0u64;
    let mut rest = &bytes[..];
    let (mut torn, mut corrupt) = (false, false);
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            torn = true;
            break;
        };
        match Event::from_json(&rest[..end]) {
            Ok(event) => events.push(event),
            Err(_) => {
                // The last line, cut short, or a bad line with more after it.
                torn = true;
                corrupt = end + 1 < rest.len();
                break;
            }
        }
        len += end as u64 + 1;
        rest = &rest[end + 1..];
    }
    Ok(Replayed {
        events,
        len,
        torn,
        corrupt,
    })
}

/// Whether `name` is a journal's name, `.part-<ms>-<seq>.journal`; returns its stem
/// `part-<ms>-<seq>`.
pub(crate) fn stem_of(name: &str) -> Option<&str> {
    let stem = name.strip_prefix('.')?.strip_suffix(".journal")?;
    let rest = stem.strip_prefix("part-")?;
    // `<ms>-<seq>`, or `<ms>-<seq>-<tag>` in a shared directory
    let digits = match rest.rsplit_once("-w") {
        Some((digits, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => digits,
        _ => rest,
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'-')).then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_event;

    #[test]
    fn a_journal_keeps_synced_lines_and_reads_back_up_to_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".part-1-000001.journal");
        let mut journal = Journal::new(path.clone());
        assert_eq!(journal.sync().unwrap(), 0);
        assert!(!path.exists(), "nothing is created before there is a line");
        let events: Vec<Event> = (0..3).map(test_event).collect();
        for e in &events[..2] {
            journal.append(e);
        }
        assert_eq!(journal.sync().unwrap(), 2);
        journal.append(&events[2]);
        assert_eq!(journal.sync().unwrap(), 1);
        assert_eq!(journal.synced_rows(), 3);
        // A crash mid-line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":").unwrap();
        let replayed = read(&path).unwrap();
        assert_eq!(replayed.events, events);
        assert!(replayed.torn && !replayed.corrupt);
        assert_eq!(replayed.len, journal.synced_len);
        journal.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_failed_sync_keeps_its_lines_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the journal's place: opening it for writing fails.
        let path = dir.path().join(".part-1-000002.journal");
        fs::create_dir(&path).unwrap();
        let mut journal = Journal::new(path.clone());
        journal.append(&test_event(1));
        assert!(journal.sync().is_err());
        assert!(journal.dirty());
        fs::remove_dir(&path).unwrap();
        journal.append(&test_event(2));
        assert_eq!(journal.sync().unwrap(), 2);
        assert_eq!(read(&path).unwrap().events.len(), 2);
    }

    #[test]
    fn a_bad_line_before_the_end_is_corruption_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".part-1-000003.journal");
        let mut lines = test_event(1).to_json();
        lines.extend_from_slice(b"\n{garbage}\n");
        lines.extend_from_slice(&test_event(2).to_json());
        lines.push(b'\n');
        fs::write(&path, lines).unwrap();
        let replayed = read(&path).unwrap();
        assert!(replayed.corrupt && replayed.torn);
        assert_eq!(replayed.events.len(), 1);
    }

    #[test]
    fn a_journal_in_a_new_partition_creates_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/date=2026-12-03/.part-1-000004.journal");
        let mut journal = Journal::new(path.clone());
        journal.append(&test_event(1));
        assert_eq!(journal.sync().unwrap(), 1);
        assert_eq!(read(&path).unwrap().events.len(), 1);
    }

    #[test]
    fn journal_names() {
        assert_eq!(stem_of(".part-17-000001.journal"), Some("part-17-000001"));
        for other in [
            "part-17-000001.journal",
            ".part-.journal",
            ".part-1-x.journal",
            ".part-1-1.parquet.tmp",
        ] {
            assert_eq!(stem_of(other), None, "{other}");
        }
    }
}
