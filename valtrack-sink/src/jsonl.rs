//! [`JsonlSink`]: one JSON event per line, appended to a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;
use valtrack_core::{Event, EventSink, SinkError};

/// Default buffer of a [`JsonlSink`]: 64 KiB.
pub const DEFAULT_JSONL_BUFFER_BYTES: usize = 64 * 1024;

/// Appends events to a file as JSON lines (the NATS wire form, [`Event::to_json`], one per
/// line), readable back with [`Event::from_json`] or `jq`, DuckDB's `read_json`, ….
///
/// Lines are collected in a buffer of at most `buffer_bytes` (plus one event); a full buffer
/// is written out on a blocking thread (`spawn_blocking`), so the runtime is never blocked on
/// disk. [`flush`](EventSink::flush) writes the buffer and fsyncs the file. Dropping the sink
/// writes what is buffered, without fsync. Concurrent senders are serialised; lines are never
/// interleaved.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    buffer_bytes: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: Arc<File>,
    buf: Vec<u8>,
}

impl JsonlSink {
    /// Opens `path` for appending (creating it) with a [`DEFAULT_JSONL_BUFFER_BYTES`] buffer.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, SinkError> {
        Self::with_buffer(path, DEFAULT_JSONL_BUFFER_BYTES)
    }

    /// Opens `path` for appending (creating it), writing once `buffer_bytes` are buffered
    /// (0: write every event at once).
    pub fn with_buffer(path: impl Into<PathBuf>, buffer_bytes: usize) -> Result<Self, SinkError> {
        let path = path.into();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            buffer_bytes,
            state: Mutex::new(State {
                file: Arc::new(file),
                buf: Vec::with_capacity(buffer_bytes.min(1 << 20) + 1024),
            }),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the buffer (and fsyncs when `sync`) on a blocking thread, holding the lock so
    /// writes stay in order.
    async fn drain(state: &mut State, sync: bool) -> Result<(), SinkError> {
        if state.buf.is_empty() && !sync {
            return Ok(());
        }
        let file = Arc::clone(&state.file);
        let mut buf = std::mem::take(&mut state.buf);
        let (buf, result) = tokio::task::spawn_blocking(move || {
            let len = file.metadata().map(|m| m.len());
            if let Err(e) = (&*file).write_all(&buf) {
                // No torn line left behind (a later write would glue onto it), and the lines
                // stay buffered for the next write.
                if let Ok(len) = len {
                    let _ = file.set_len(len);
                }
                return (buf, Err(e));
            }
            buf.clear();
            (buf, if sync { file.sync_data() } else { Ok(()) })
        })
        .await
        .map_err(|e| SinkError::Backend {
            backend: "jsonl",
            source: Box::new(e),
        })?;
        state.buf = buf;
        result.map_err(SinkError::Io)
    }
}

impl EventSink for JsonlSink {
    /// Buffers one line, writing the buffer out when full. Not cancel-safe while a write is
    /// in progress: the write still completes, but the buffer's allocation is lost.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let mut line = serde_json::to_vec(&event)?;
        line.push(b'\n');
        let mut state = self.state.lock().await;
        let before = state.buf.len();
        state.buf.extend_from_slice(&line);
        if state.buf.len() >= self.buffer_bytes {
            if let Err(e) = Self::drain(&mut state, false).await {
                // This event is refused (the caller sees the error); the lines accepted
                // before it stay buffered for the next write, so the buffer stays bounded.
                state.buf.truncate(before);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the buffer and fsyncs the file.
    async fn flush(&self) -> Result<(), SinkError> {
        let mut state = self.state.lock().await;
        Self::drain(&mut state, true).await
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if !state.buf.is_empty() {
            if let Err(e) = (&*state.file).write_all(&state.buf) {
                tracing::warn!(target: "valtrack::sink::jsonl", error = %e, path = %self.path.display(), "lost buffered events on drop");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_event;

    /// A failing write (the disk full: `/dev/full`) refuses the event that triggered it and
    /// keeps the lines accepted before it; the buffer does not grow with every refusal.
    #[tokio::test]
    async fn a_failing_write_refuses_the_new_event_and_keeps_the_accepted_ones() {
        let line_len = test_event(1).to_json().len() + 1;
        let sink = JsonlSink::with_buffer("/dev/full", 2 * line_len + 1).unwrap();
        sink.send(test_event(1)).await.unwrap();
        sink.send(test_event(2)).await.unwrap();
        for n in 3..50 {
            assert!(matches!(
                sink.send(test_event(n)).await,
                Err(SinkError::Io(_))
            ));
        }
        let buffered = sink.state.lock().await.buf.clone();
        let lines: Vec<Event> = buffered
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| Event::from_json(l).unwrap())
            .collect();
        assert_eq!(lines, [test_event(1), test_event(2)]);
        assert!(sink.flush().await.is_err());
    }

    #[tokio::test]
    async fn buffers_until_full_or_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let line_len = test_event(1).to_json().len() + 1;
        // room for two lines: the third send writes all three
        let sink = JsonlSink::with_buffer(&path, 2 * line_len + 1).unwrap();
        assert_eq!(sink.path(), path);
        sink.send(test_event(1)).await.unwrap();
        sink.send(test_event(2)).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        sink.send(test_event(3)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
        sink.send(test_event(4)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
        sink.flush().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let stamps: Vec<u64> = text
            .lines()
            .map(|l| Event::from_json(l.as_bytes()).unwrap().meta().timestamp)
            .collect();
        assert_eq!(stamps, [1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn zero_buffer_writes_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let sink = JsonlSink::with_buffer(&path, 0).unwrap();
        sink.send(test_event(1)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(JsonlSink::open(dir.path()), Err(SinkError::Io(_))));
    }
}
