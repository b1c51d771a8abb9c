//! [`FanoutSink`]: one event to several sinks.

use futures::future::join_all;
use valtrack_core::{DynEventSink, Event, EventSink, SinkError};

/// Sends every event to each of several sinks, concurrently, e.g. Parquet and JSON lines.
///
/// Error policy: every sink is always tried, even when another fails, so one broken sink
/// does not starve the others; the call then returns the first error in the order the sinks
/// were given (the others are logged at `warn`). The same holds for
/// [`flush`](EventSink::flush). A fan-out of no sinks accepts and drops everything.
#[derive(Default)]
pub struct FanoutSink {
    sinks: Vec<Box<dyn DynEventSink>>,
}

impl std::fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanoutSink")
            .field("sinks", &self.sinks.len())
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::{test_event, ChannelSink};

    #[test]
    fn the_first_error_in_sink_order_wins() {
        let results = vec![
            Ok(()),
            Err(SinkError::Io(io::Error::other("second"))),
            Err(SinkError::Closed),
        ];
        match first_error(results) {
            Err(SinkError::Io(e)) => assert_eq!(e.to_string(), "second"),
            other => panic!("{other:?}"),
        }
        assert!(first_error(vec![Ok(()), Ok(())]).is_ok());
    }

    #[tokio::test]
    async fn every_sink_gets_a_copy() {
        let (a, mut ra) = ChannelSink::new(2);
        let (b, mut rb) = ChannelSink::new(2);
        let fanout = FanoutSink::new(vec![Box::new(a)]).with(b);
        assert_eq!(fanout.len(), 2);
        fanout.send(test_event(7)).await.unwrap();
        fanout.flush().await.unwrap();
        assert_eq!(ra.recv().await, Some(test_event(7)));
        assert_eq!(rb.recv().await, Some(test_event(7)));
    }
}
