//! [`FanoutSink`]: one event to several sinks.

use futures::future::join_all;
use valtrack_core::{DynEventSink, Event, EventSink, SinkError};

/// Sends every event to each of several sinks, concurrently, e.g. Parquet and JSON lines.
///
/// Error policy: every sink is always tried, even when another fails, so one broken sink
/// does not starve the others; the call then returns the first error in the order the sinks
/// were given (the others are logged at `warn`). The same holds for
/// [`flush`](EventSink::flush). A fan-out of no sinks accepts and drops everything.
#[derive(Debug, Default)]
pub struct FanoutSink {
    sinks: Vec<Box<dyn DynEventSink>>,
}

impl FanoutSink {
    /// A fan-out to `sinks`.
    pub fn new(sinks: Vec<Box<dyn DynEventSink>>) -> Self {
        Self { sinks }
    }

    /// Adds one more sink.
    pub fn with(mut self, sink: impl EventSink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// How many sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there are no sinks.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

fn first_error(results: Vec<Result<(), SinkError>>) -> Result<(), SinkError> {
    let mut first = None;
    for (i, result) in results.into_iter().enumerate() {
        if let Err(e) = result {
            if first.is_none() {
                first = Some(e);
            } else {
                tracing::warn!(target: "valtrack::sink::fanout", sink = i, error = %e, "sink failed");
            }
        }
    }
    first.map_or(Ok(()), Err)
}

impl EventSink for FanoutSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let results = join_all(self.sinks.iter().map(|s| s.send_boxed(event.clone()))).await;
        first_error(results)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        let results = join_all(self.sinks.iter().map(|s| s.flush_boxed())).await;
        first_error(results)
    }
}
