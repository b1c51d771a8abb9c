//! The on-disk spool of a [`NatsSink`](crate::NatsSink): events that could not be published,
//! kept in order until NATS is back.
//!
//! Layout: `<dir>/seg-<20-digit id>.jsonl` segment files, each a run of JSON lines (one
//! [`Event::to_json`](valtrack_core::Event::to_json) per line, appended, never rewritten),
//! and `<dir>/cursor` (`<segment id> <byte offset>`: what has been replayed). Replayed
//! segments are deleted; once everything is replayed, the directory is emptied. A line cut
//! short by a crash is dropped when the spool is opened. The spool is bounded by its bytes
//! on disk; memory holds only a write buffer and the segment list.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::NatsError;

/// Write buffer of the tail segment.
const WRITE_BUFFER: usize = 64 * 1024;
/// The longest line replay accepts (NATS' own default max payload is 1 MiB).
const MAX_LINE: u64 = 8 << 20;

/// A position in the spool: segment id and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    segment: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    len: u64,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    writer: Option<BufWriter<File>>,
    cursor: Pos,
    events: u64,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("seg-{id:020}.jsonl"))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, dropping a torn last line.
    pub(crate) fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> Result<Self, NatsError> {
        Self::open_inner(dir, max_bytes, segment_bytes).map_err(|source| NatsError::Spool {
            dir: dir.to_owned(),
            source,
        })
    }

    fn open_inner(dir: &Path, max_bytes: u64, segment_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_prefix("seg-")
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut segments = VecDeque::new();
        for (i, &id) in ids.iter().enumerate() {
            let path = segment_path(dir, id);
            let mut len = fs::metadata(&path)?.len();
            if i + 1 == ids.len() {
                len = truncate_torn_tail(&path, len)?;
            }
            segments.push_back(Segment { id, len });
        }
        let cursor = read_cursor(dir)?
            .filter(|c| segments.iter().any(|s| s.id == c.segment))
            .unwrap_or(Pos {
                segment: segments.front().map_or(0, |s| s.id),
                offset: 0,
            });
        // Segments before the cursor were replayed: a crash came before their deletion.
        while segments.front().is_some_and(|s| s.id < cursor.segment) {
            if let Some(s) = segments.pop_front() {
                fs::remove_file(segment_path(dir, s.id))?;
            }
        }
        let mut spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes,
            segments,
            writer: None,
            cursor,
            events: 0,
        };
        spool.events = spool.count_from_cursor()?;
        Ok(spool)
    }

    fn count_from_cursor(&self) -> io::Result<u64> {
        let mut n = 0;
        for s in &self.segments {
            let mut file = File::open(segment_path(&self.dir, s.id))?;
            if s.id == self.cursor.segment {
                file.seek(SeekFrom::Start(self.cursor.offset))?;
            }
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let read = file.read(&mut buf)?;
                if read == 0 {
                    break;
                }
                n += buf[..read].iter().filter(|&&b| b == b'\n').count() as u64;
            }
        }
        Ok(n)
    }

    /// Events not yet replayed.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// Whether every event was replayed.
    pub(crate) fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Bytes on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// The spool directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, source: io::Error) -> NatsError {
        NatsError::Spool {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Appends one event's JSON (which holds no raw newline). Fails with
    /// [`NatsError::SpoolFull`] when it would pass the byte bound.
    pub(crate) fn append(&mut self, json: &[u8]) -> Result<(), NatsError> {
        let len = json.len() as u64 + 1;
        let bytes = self.bytes();
        if bytes + len > self.max_bytes {
            return Err(NatsError::SpoolFull {
                dir: self.dir.clone(),
                bytes,
                max_bytes: self.max_bytes,
            });
        }
        self.append_inner(json).map_err(|e| self.err(e))?;
        self.events += 1;
        Ok(())
    }

    fn append_inner(&mut self, json: &[u8]) -> io::Result<()> {
        let rotate = self
            .segments
            .back()
            .is_none_or(|s| s.len >= self.segment_bytes);
        if rotate || self.writer.is_none() {
            // Flushed before it is let go: on an error the buffered lines (already counted)
            // stay in the writer for the next try, instead of vanishing with it.
            if let Some(w) = self.writer.as_mut() {
                w.flush()?;
            }
            self.writer = None;
            if rotate {
                let id = self
                    .segments
                    .back()
                    .map_or(self.cursor.segment, |s| s.id + 1);
                if self.segments.is_empty() {
                    self.cursor = Pos {
                        segment: id,
                        offset: 0,
                    };
                }
                self.segments.push_back(Segment { id, len: 0 });
            }
            let id = self.segments.back().map_or(0, |s| s.id);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, id))?;
            if rotate {
                // the new segment's name, durable before anything is acknowledged from it
                File::open(&self.dir)?.sync_all()?;
            }
            self.writer = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        }
        if let (Some(w), Some(s)) = (self.writer.as_mut(), self.segments.back_mut()) {
            // Room for the whole line first, so a failing flush cannot leave half of it in
            // the buffer (a line longer than the buffer goes straight to the file).
            if w.capacity() - w.buffer().len() <= json.len() {
                w.flush()?;
            }
            w.write_all(json)?;
            w.write_all(b"\n")?;
            s.len += json.len() as u64 + 1;
        }
        Ok(())
    }

    /// Writes the buffer out and fsyncs the tail segment, so spooled events survive a crash.
    pub(crate) fn sync(&mut self) -> Result<(), NatsError> {
        if let Some(w) = self.writer.as_mut() {
            let result = w.flush().and_then(|()| w.get_ref().sync_data());
            result.map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Up to `max` spooled events from the cursor on, each with the position after it; the
    /// cursor does not move (see [`advance`](Self::advance)).
    pub(crate) fn read(&mut self, max: usize) -> Result<Vec<(Vec<u8>, Pos)>, NatsError> {
        if let Some(w) = self.writer.as_mut() {
            let result = w.flush();
            result.map_err(|e| self.err(e))?;
        }
        self.read_inner(max).map_err(|e| self.err(e))
    }

    fn read_inner(&self, max: usize) -> io::Result<Vec<(Vec<u8>, Pos)>> {
        let mut out = Vec::new();
        let mut pos = self.cursor;
        for s in self.segments.iter().filter(|s| s.id >= self.cursor.segment) {
            if out.len() >= max {
                break;
            }
            if s.id != pos.segment {
                pos = Pos {
                    segment: s.id,
                    offset: 0,
                };
            }
            let mut file = File::open(segment_path(&self.dir, s.id))?;
            file.seek(SeekFrom::Start(pos.offset))?;
            let mut reader = BufReader::new(file.take(s.len.saturating_sub(pos.offset)));
            while out.len() < max {
                let mut line = Vec::new();
                let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                pos.offset += n as u64;
                line.pop();
                out.push((line, pos));
            }
        }
        Ok(out)
    }

    /// Gives up the events counted but no longer readable from the cursor on (a write that
    /// failed half-way, or a line longer than replay accepts): marks everything as replayed
    /// and returns how many events were counted. Called when [`read`](Self::read) finds
    /// nothing although [`events`](Self::events) is not 0, so replay cannot wait on them
    /// forever.
    pub(crate) fn forget_unreadable(&mut self) -> Result<u64, NatsError> {
        let lost = self.events;
        let end = self.segments.back().map_or(self.cursor, |s| Pos {
            segment: s.id,
            offset: s.len,
        });
        self.advance(end, lost)?;
        Ok(lost)
    }

    /// Marks everything up to `pos` (from [`read`](Self::read)) as replayed: `events` fewer
    /// events remain. Deletes segments left behind, and empties the directory when nothing
    /// is left.
    pub(crate) fn advance(&mut self, pos: Pos, events: u64) -> Result<(), NatsError> {
        self.advance_inner(pos, events).map_err(|e| self.err(e))
    }

    fn advance_inner(&mut self, pos: Pos, events: u64) -> io::Result<()> {
        self.cursor = pos;
        self.events = self.events.saturating_sub(events);
        let tail = self.segments.back().map_or(0, |s| s.id);
        while self.segments.front().is_some_and(|s| {
            s.id < pos.segment || (s.id == pos.segment && s.id != tail && pos.offset >= s.len)
        }) {
            if let Some(s) = self.segments.pop_front() {
                fs::remove_file(segment_path(&self.dir, s.id))?;
            }
            if let Some(front) = self.segments.front() {
                if front.id > self.cursor.segment {
                    self.cursor = Pos {
                        segment: front.id,
                        offset: 0,
                    };
                }
            }
        }
        let drained = self.events == 0
            && self
                .segments
                .back()
                .is_none_or(|s| s.id == self.cursor.segment && self.cursor.offset >= s.len);
        if drained {
            self.writer = None;
            for s in self.segments.drain(..) {
                fs::remove_file(segment_path(&self.dir, s.id))?;
            }
            let next = self.cursor.segment + 1;
            self.cursor = Pos {
                segment: next,
                offset: 0,
            };
            match fs::remove_file(self.dir.join("cursor")) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            return Ok(());
        }
        // Written without fsync: after a power cut, replay may repeat some events, which
        // JetStream's duplicate window and the consumer's dedupe absorb.
        let tmp = self.dir.join(".cursor.tmp");
        fs::write(
            &tmp,
            format!("{} {}\n", self.cursor.segment, self.cursor.offset),
        )?;
        fs::rename(&tmp, self.dir.join("cursor"))
    }
}

fn read_cursor(dir: &Path) -> io::Result<Option<Pos>> {
    let text = match fs::read_to_string(dir.join("cursor")) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    Ok(match (parts.next(), parts.next()) {
        (Some(Ok(segment)), Some(Ok(offset))) => Some(Pos { segment, offset }),
        _ => None,
    })
}

/// Cuts a segment back to its last complete line; returns the new length.
fn truncate_torn_tail(path: &Path, len: u64) -> io::Result<u64> {
    if len == 0 {
        return Ok(0);
    }
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep != len {
                tracing::warn!(target: "valtrack::sink::nats", path = %path.display(), dropped_bytes = len - keep, "spool: dropped a torn last line");
                file.set_len(keep)?;
            }
            return Ok(keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(spool: &mut Spool, max: usize) -> Vec<String> {
        spool
            .read(max)
            .unwrap()
            .into_iter()
            .map(|(l, _)| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn replays_in_order_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20, 20).unwrap();
        for i in 0..10 {
            spool.append(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
        }
        assert_eq!(spool.events(), 10);
        let batch = spool.read(4).unwrap();
        assert_eq!(lines(&mut spool, 2), ["{\"n\":0}", "{\"n\":1}"]);
        spool.advance(batch[3].1, 4).unwrap();
        spool.sync().unwrap();
        drop(spool);
        // a torn line from a crash is dropped
        let spool = Spool::open(dir.path(), 1 << 20, 20).unwrap();
        let tail = segment_path(dir.path(), spool.segments.back().unwrap().id);
        OpenOptions::new()
            .append(true)
            .open(&tail)
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        drop(spool);
        let mut spool = Spool::open(dir.path(), 1 << 20, 20).unwrap();
        assert_eq!(spool.events(), 6);
        spool.append(b"{\"n\":10}").unwrap();
        let all = lines(&mut spool, 100);
        let want: Vec<String> = (4..=10).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(all, want);
        let batch = spool.read(100).unwrap();
        spool.advance(batch.last().unwrap().1, 7).unwrap();
        assert!(spool.is_empty());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "drained spool is emptied"
        );
        spool.append(b"{\"n\":11}").unwrap();
        assert_eq!(lines(&mut spool, 10), ["{\"n\":11}"]);
    }

    #[test]
    fn events_that_cannot_be_read_back_are_forgotten_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        spool.append(b"{\"n\":0}").unwrap();
        spool.append(b"{\"n\":1}").unwrap();
        let batch = spool.read(10).unwrap();
        spool.advance(batch[0].1, 1).unwrap();
        // the count says one more than the segment holds (as after a failed write)
        spool.events += 1;
        assert_eq!(lines(&mut spool, 10), ["{\"n\":1}"]);
        let batch = spool.read(10).unwrap();
        spool.advance(batch[0].1, 1).unwrap();
        assert_eq!(spool.events(), 1);
        assert!(spool.read(10).unwrap().is_empty());
        assert_eq!(spool.forget_unreadable().unwrap(), 1);
        assert!(spool.is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        spool.append(b"{\"n\":2}").unwrap();
        assert_eq!(lines(&mut spool, 10), ["{\"n\":2}"]);
    }

    #[test]
    fn a_full_spool_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 25, 1000).unwrap();
        spool.append(b"0123456789").unwrap();
        spool.append(b"0123456789").unwrap();
        assert!(matches!(
            spool.append(b"0123456789"),
            Err(NatsError::SpoolFull {
                bytes: 22,
                max_bytes: 25,
                ..
            })
        ));
        assert_eq!(spool.events(), 2);
    }
}
