//! JsonlSink, ChannelSink and FanoutSink.

use std::time::Duration;

use valtrack_core::{DynEventSink, Event, EventKind, EventSink, SinkError};
use valtrack_sink::{ChannelSink, FanoutSink, JsonlSink, ParquetSink, ParquetSinkConfig};

use crate::fixtures;

#[tokio::test]
async fn jsonl_round_trips_every_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("events.jsonl");
    let events = fixtures::all(25);
    // a small buffer, so some writes happen before the flush
    let sink = JsonlSink::with_buffer(&path, 4096).unwrap();
    for event in events.clone() {
        sink.send(event).await.unwrap();
    }
    sink.flush().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let back: Vec<Event> = text
        .lines()
        .map(|line| Event::from_json(line.as_bytes()).unwrap())
        .collect();
    assert_eq!(back.len(), 25 * EventKind::ALL.len());
    assert_eq!(back, events);

    // reopening appends
    drop(sink);
    let sink = JsonlSink::open(&path).unwrap();
    sink.send(fixtures::discovery(99)).await.unwrap();
    drop(sink); // drop writes what is buffered
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 25 * EventKind::ALL.len() + 1);
}

#[tokio::test]
async fn channel_applies_backpressure_and_reports_a_closed_receiver() {
    let (sink, mut rx) = ChannelSink::new(2);
    sink.send(fixtures::discovery(0)).await.unwrap();
    sink.send(fixtures::discovery(1)).await.unwrap();
    assert_eq!(sink.capacity(), 0);
    // full: the third send waits
    let third = tokio::time::timeout(Duration::from_millis(50), sink.send(fixtures::discovery(2)));
    assert!(third.await.is_err(), "send did not wait for capacity");
    // a receive makes room
    assert_eq!(rx.recv().await, Some(fixtures::discovery(0)));
    sink.send(fixtures::discovery(2)).await.unwrap();
    sink.flush().await.unwrap();
    assert_eq!(rx.recv().await, Some(fixtures::discovery(1)));
    assert_eq!(rx.recv().await, Some(fixtures::discovery(2)));
    drop(rx);
    assert!(matches!(
        sink.send(fixtures::discovery(3)).await,
        Err(SinkError::Closed)
    ));
    assert!(matches!(sink.flush().await, Err(SinkError::Closed)));
}

#[tokio::test]
async fn fanout_reaches_every_sink_and_returns_the_first_error() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("events.jsonl");
    let data = tmp.path().join("data");
    let (closed, closed_rx) = ChannelSink::new(1);
    drop(closed_rx);
    let (channel, mut rx) = ChannelSink::new(16);
    let sinks: Vec<Box<dyn DynEventSink>> = vec![
        Box::new(closed),
        Box::new(channel),
        Box::new(JsonlSink::open(&jsonl).unwrap()),
        Box::new(ParquetSink::open(ParquetSinkConfig::builder(&data).build().unwrap()).unwrap()),
    ];
    let fanout = FanoutSink::new(sinks);
    assert_eq!(fanout.len(), 4);
    let events = fixtures::all(2);
    for event in events.clone() {
        // the closed channel fails every send, but the others still get the event
        assert!(matches!(fanout.send(event).await, Err(SinkError::Closed)));
    }
    assert!(matches!(fanout.flush().await, Err(SinkError::Closed)));
    for event in &events {
        assert_eq!(rx.recv().await.as_ref(), Some(event));
    }
    assert_eq!(
        std::fs::read_to_string(&jsonl).unwrap().lines().count(),
        2 * EventKind::ALL.len()
    );
    let written = crate::parquet::files(&data);
    assert_eq!(written.len(), EventKind::ALL.len(), "{written:?}");

    // without the broken sink, everything succeeds
    let (channel, mut rx) = ChannelSink::new(4);
    let fanout = FanoutSink::default().with(channel);
    fanout.send(fixtures::attestation(0)).await.unwrap();
    fanout.flush().await.unwrap();
    assert_eq!(rx.recv().await, Some(fixtures::attestation(0)));
    assert!(FanoutSink::default().is_empty());
}
