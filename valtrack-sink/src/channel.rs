//! [`ChannelSink`]: events into an in-process bounded channel.

use tokio::sync::mpsc;
use valtrack_core::{Event, EventSink, SinkError};

/// Sends events into a bounded `tokio::sync::mpsc` channel, for embedding valtrack in a
/// program that consumes events itself.
///
/// [`send`](EventSink::send) waits while the channel is full (backpressure reaches the
/// sentry) and fails with [`SinkError::Closed`] once the receiver is dropped.
/// [`flush`](EventSink::flush) has nothing to write: it succeeds while the receiver lives.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<Event>,
}

impl ChannelSink {
    /// A sink and the receiver of its events, with room for `capacity` events (at least 1).
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }

    /// A sink over an existing sender.
    pub fn from_sender(tx: mpsc::Sender<Event>) -> Self {
        Self { tx }
    }

    /// Room left in the channel.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }
}

impl EventSink for ChannelSink {
    /// Cancel-safe: if the future is dropped before it completes, the event was not sent.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.tx.send(event).await.map_err(|_| SinkError::Closed)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        if self.tx.is_closed() {
            Err(SinkError::Closed)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_event;

    #[tokio::test]
    async fn delivers_in_order_through_an_existing_sender() {
        let (tx, mut rx) = mpsc::channel(4);
        let sink = ChannelSink::from_sender(tx);
        let clone = sink.clone();
        sink.send(test_event(1)).await.unwrap();
        clone.send(test_event(2)).await.unwrap();
        assert_eq!(sink.capacity(), 2);
        assert_eq!(rx.recv().await.unwrap().meta().timestamp, 1);
        assert_eq!(rx.recv().await.unwrap().meta().timestamp, 2);
    }

    #[test]
    fn capacity_is_at_least_one() {
        let (sink, _rx) = ChannelSink::new(0);
        assert_eq!(sink.capacity(), 1);
    }
}
