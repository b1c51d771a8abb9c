//! [`NatsSink`]: events to a JetStream stream, through an on-disk spool during outages.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use valtrack_core::{Event, EventSink, SinkError};

use super::config::NatsSinkConfig;
use super::pump::{Conn, Pump};
use super::spool::Spool;
use crate::error::NatsError;

pub(super) const TARGET: &str = "valtrack::sink::nats";

/// One event ready to publish.
#[derive(Debug)]
pub(super) struct Msg {
    pub(super) subject: String,
    pub(super) id: String,
    pub(super) payload: Bytes,
}

impl Msg {
    pub(super) fn new(event: &Event) -> Self {
        Self {
            subject: event.subject(),
            id: event.meta().event_id.clone(),
            payload: Bytes::from(event.to_json()),
        }
    }
}

#[derive(Debug)]
pub(super) enum Command {
    Event(Msg),
    Flush(oneshot::Sender<Result<(), SinkError>>),
}

/// Counters of a [`NatsSink`], from [`NatsSink::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsSinkStats {
    /// Publishes JetStream acknowledged (replays included).
    pub acked: u64,
    /// Of those, how many the server reported as duplicates (same `Nats-Msg-Id` within the
    /// duplicate window).
    pub duplicates: u64,
    /// Events written to the spool.
    pub spooled: u64,
    /// Events replayed from the spool and acknowledged.
    pub replayed: u64,
    /// Events dropped because the spool was full.
    pub dropped: u64,
    /// Outages seen (periods with NATS unreachable).
    pub outages: u64,
    /// Events in the spool now.
    pub spool_events: u64,
    /// Bytes of the spool on disk now.
    pub spool_bytes: u64,
    /// Whether NATS is unreachable now (events go to the spool).
    pub in_outage: bool,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) acked: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) spooled: AtomicU64,
    pub(super) replayed: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) outages: AtomicU64,
    pub(super) spool_events: AtomicU64,
    pub(super) spool_bytes: AtomicU64,
    pub(super) in_outage: AtomicBool,
    pub(super) spool_full: AtomicBool,
    /// Time from a direct publish to its ack.
    pub(super) publish_latency: crate::histogram::LatencyHistogram,
}

/// Publishes events to a NATS JetStream stream (see [`NatsConfig`](crate::NatsConfig)): the
/// subject is [`Event::subject`] (`valtrack.<kind>`), the payload [`Event::to_json`], and the
/// `Nats-Msg-Id` header the event id, so the stream drops a copy published again within its
/// duplicate window.
///
/// [`send`](EventSink::send) queues the event (bounded; it waits when the queue is full) for a
/// background task that publishes with at most `max_in_flight` unacknowledged publishes and
/// awaits every ack in order.
///
/// **Outages.** When a publish or its ack fails (server down, unreachable, too slow), the task
/// first awaits the outcome of every publish still in flight, writes the failed ones to the
/// on-disk spool (`spool_dir`, see [`NatsSinkConfigBuilder`](crate::NatsSinkConfigBuilder)),
/// and from then on writes every new event behind them. Every `retry_interval` it checks the
/// connection and replays the spool from the oldest event on, `max_in_flight` at a time;
/// once the spool is empty, events are published directly again. A broken connection is
/// never reused: async-nats would resend, after reconnecting, the publishes it still had
/// queued while the one being written when the connection broke was lost, which would put
/// events out of order; the sink opens a new connection and replays instead. So the stream
/// receives the events in the order they were sent, none lost: a publish whose ack was lost
/// and that is replayed is dropped by the server's duplicate window (and, beyond it, by the
/// consumer's dedupe). One exception remains: if the client's single immediate reconnect
/// attempt after a break succeeds (a blip, the server still up), the queued publishes it
/// resends can land before a lost one that is then replayed, so up to `max_in_flight`
/// events around the break may be reordered (never lost). The spool survives restarts (a sink opened on a non-empty spool replays it
/// first). Outage start, progress (every 10 s, with the backlog) and end are logged on the
/// `valtrack::sink::nats` target. Memory stays bounded: the queue, the in-flight window and a
/// write buffer. When the spool reaches `spool_max_bytes`, new events are dropped, an error
/// is logged, and `send` fails with [`NatsError::SpoolFull`] until replay has made room.
///
/// [`flush`](EventSink::flush) waits for every in-flight ack, tries once to replay the spool,
/// and fsyncs what stays spooled: when it returns `Ok`, every event sent before is either in
/// the stream or durably spooled ([`stats`](Self::stats) tells which).
#[derive(Debug)]
pub struct NatsSink {
    tx: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    spool_dir: std::path::PathBuf,
    spool_max_bytes: u64,
}

impl NatsSink {
    /// Opens the spool and connects. The stream is created (or updated) as soon as the
    /// server is reachable; until then events are spooled. Fails only for a config that
    /// cannot work (bad URL, unreadable credentials file, a stream JetStream refuses: see
    /// [`NatsConfig::update_of`](crate::NatsConfig::update_of)) or a spool that cannot be
    /// opened.
    pub async fn connect(config: NatsSinkConfig) -> Result<Self, NatsError> {
        let spool = Spool::open(
            &config.spool_dir,
            config.spool_max_bytes,
            config.spool_segment_bytes,
        )?;
        let conn = match Conn::open(&config).await {
            Ok(conn) => {
                // A stream JetStream refuses is a config to fix before events pile up in
                // the spool; an unavailable one is the pump's to retry.
                match config.nats.ensure_stream(conn.js()).await {
                    Err(e @ NatsError::StreamRefused { .. }) => return Err(e),
                    Err(e) => {
                        tracing::warn!(target: TARGET, error = %e, "NATS sink: the stream is not ready yet");
                    }
                    Ok(()) => {}
                }
                Some(conn)
            }
            Err(NatsError::Connect { url, source })
                if source.kind() == async_nats::ConnectErrorKind::ServerParse =>
            {
                return Err(NatsError::Connect { url, source });
            }
            Err(NatsError::Connect { source, .. }) => {
                tracing::warn!(target: TARGET, url = %config.nats.url, error = %source, "NATS sink: cannot connect yet");
                None
            }
            Err(e) => return Err(e),
        };
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let counters = Arc::new(Counters::default());
        // Known before the task runs, so `stats()` never shows a backlog as drained.
        counters.spool_events.store(spool.events(), Relaxed);
        counters.spool_bytes.store(spool.bytes(), Relaxed);
        counters
            .in_outage
            .store(conn.is_none() || !spool.is_empty(), Relaxed);
        let spool_dir = config.spool_dir.clone();
        let spool_max_bytes = config.spool_max_bytes;
        let pump = Pump::new(config, conn, spool, Arc::clone(&counters));
        let task = tokio::spawn(pump.run(rx));
        Ok(Self {
            tx,
            task: Mutex::new(Some(task)),
            counters,
            spool_dir,
            spool_max_bytes,
        })
    }

    /// The counters now.
    pub fn stats(&self) -> NatsSinkStats {
        stats_of(&self.counters)
    }

    /// A reader of the counters that outlives the sink's move into a sentry (for metrics).
    pub fn stats_reader(&self) -> NatsSinkStatsReader {
        NatsSinkStatsReader(Arc::clone(&self.counters))
    }

    /// Flushes, stops the publishing task and waits for it. What could not be published
    /// stays in the spool for the next sink opened on it.
    pub async fn close(self) -> Result<(), SinkError> {
        let flushed = self.flush().await;
        let Self { tx, task, .. } = self;
        drop(tx);
        let handle = task.lock().map_or(None, |mut t| t.take());
        if let Some(handle) = handle {
            handle.await.map_err(|e| SinkError::Backend {
                backend: "nats",
                source: Box::new(e),
            })?;
        }
        flushed
    }
}

/// Reads a [`NatsSink`]'s counters from anywhere, after the sink was moved (for metrics).
#[derive(Debug, Clone)]
pub struct NatsSinkStatsReader(Arc<Counters>);

impl NatsSinkStatsReader {
    /// The counters now.
    pub fn stats(&self) -> NatsSinkStats {
        stats_of(&self.0)
    }

    /// Time from a direct publish to its JetStream ack (replays are not counted).
    pub fn publish_latency(&self) -> crate::histogram::HistogramSnapshot {
        self.0.publish_latency.snapshot()
    }
}

fn stats_of(c: &Counters) -> NatsSinkStats {
    NatsSinkStats {
        acked: c.acked.load(Relaxed),
        duplicates: c.duplicates.load(Relaxed),
        spooled: c.spooled.load(Relaxed),
        replayed: c.replayed.load(Relaxed),
        dropped: c.dropped.load(Relaxed),
        outages: c.outages.load(Relaxed),
        spool_events: c.spool_events.load(Relaxed),
        spool_bytes: c.spool_bytes.load(Relaxed),
        in_outage: c.in_outage.load(Relaxed),
    }
}

impl EventSink for NatsSink {
    /// Queues the event for publishing; waits while the queue is full. Cancel-safe: if the
    /// future is dropped before it completes, the event was not queued.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let c = &self.counters;
        if c.spool_full.load(Relaxed) {
            return Err(NatsError::SpoolFull {
                dir: self.spool_dir.clone(),
                bytes: c.spool_bytes.load(Relaxed),
                max_bytes: self.spool_max_bytes,
            }
            .into());
        }
        self.tx
            .send(Command::Event(Msg::new(&event)))
            .await
            .map_err(|_| SinkError::Closed)
    }

    /// Waits for every in-flight ack and makes the rest durable in the spool (see the type's
    /// docs). If the future is dropped, the flush still happens but its result is lost.
    async fn flush(&self) -> Result<(), SinkError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(reply))
            .await
            .map_err(|_| SinkError::Closed)?;
        done.await.map_err(|_| SinkError::Closed)?
    }
}
