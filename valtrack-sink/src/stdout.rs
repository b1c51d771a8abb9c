//! [`StdoutSink`]: events as JSON lines on standard output.

use tokio::io::AsyncWriteExt;
use valtrack_core::{Event, EventSink, SinkError};

/// Writes each event as one JSON line to standard output, in order.
///
/// All writes go through one handle: tokio writes each handle's data on a blocking thread,
/// so two handles could overtake each other. [`flush`](EventSink::flush) waits for the
/// writes handed to it.
#[derive(Debug)]
pub struct StdoutSink(tokio::sync::Mutex<tokio::io::Stdout>);

impl Default for StdoutSink {
    fn default() -> Self {
        Self(tokio::sync::Mutex::new(tokio::io::stdout()))
    }
}

impl StdoutSink {
    /// A sink on this process's standard output.
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventSink for StdoutSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let mut line = event.to_json();
        line.push(b'\n');
        self.0.lock().await.write_all(&line).await?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.0.lock().await.flush().await?;
        Ok(())
    }
}
