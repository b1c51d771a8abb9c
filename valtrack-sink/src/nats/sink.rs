//! [`NatsSink`]: events to a JetStream stream, through an on-disk spool during outages.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::Context;
use bytes::Bytes;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use valtrack_core::{Event, EventSink, SinkError};

use super::config::NatsSinkConfig;
use super::spool::Spool;
use crate::error::NatsError;

const TARGET: &str = "valtrack::sink::nats";
/// How often an ongoing outage is logged.
const OUTAGE_LOG_EVERY: Duration = Duration::from_secs(10);

/// One event ready to publish.
#[derive(Debug)]
struct Msg {
    subject: String,
    id: String,
    payload: Bytes,
}

impl Msg {
    fn new(event: &Event) -> Self {
        Self {
            subject: event.subject(),
            id: event.meta().event_id.clone(),
            payload: Bytes::from(event.to_json()),
        }
    }
}

#[derive(Debug)]
enum Command {
    Event(Msg),
    Flush(oneshot::Sender<Result<(), SinkError>>),
}

type AckFuture = Pin<Box<dyn Future<Output = (Msg, Result<PublishAck, PublishError>)> + Send>>;

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
struct Counters {
    acked: AtomicU64,
    duplicates: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    outages: AtomicU64,
    spool_events: AtomicU64,
    spool_bytes: AtomicU64,
    in_outage: AtomicBool,
    spool_full: AtomicBool,
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
/// is logged, and `send` fails with [`NatsError::SpoolFull`] until room is made.
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
    /// cannot work (bad URL, unreadable credentials file) or a spool that cannot be opened.
    pub async fn connect(config: NatsSinkConfig) -> Result<Self, NatsError> {
        let spool = Spool::open(
            &config.spool_dir,
            config.spool_max_bytes,
            config.spool_segment_bytes,
        )?;
        let conn = match Conn::open(&config).await {
            Ok(conn) => Some(conn),
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
        let pump = Pump {
            config,
            conn,
            spool,
            in_flight: FuturesOrdered::new(),
            stream_ready: false,
            outage: None,
            counters: Arc::clone(&counters),
        };
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
        let c = &self.counters;
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

#[derive(Debug)]
struct Outage {
    since: Instant,
    last_log: Instant,
    reason: String,
}

/// One connection: never reconnects by itself (see [`NatsConfig::connect_once`]).
struct Conn {
    client: async_nats::Client,
    js: Context,
}

impl Conn {
    async fn open(config: &NatsSinkConfig) -> Result<Self, NatsError> {
        let client = config.nats.connect_once().await?;
        let js = config.nats.jetstream(client.clone(), config.max_in_flight);
        Ok(Self { client, js })
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }
}

/// The publishing task.
struct Pump {
    config: NatsSinkConfig,
    conn: Option<Conn>,
    spool: Spool,
    in_flight: FuturesOrdered<AckFuture>,
    stream_ready: bool,
    outage: Option<Outage>,
    counters: Arc<Counters>,
}

impl Pump {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        if self.conn.is_none() {
            self.start_outage("cannot connect").await;
        } else if self.spool.is_empty() {
            if let Err(e) = self.ensure_stream().await {
                self.start_outage(&e.to_string()).await;
            }
        } else {
            tracing::info!(target: TARGET, backlog_events = self.spool.events(), backlog_bytes = self.spool.bytes(), dir = %self.spool.dir().display(), "NATS sink: replaying the spool left by an earlier run");
            self.start_outage("spool not empty at start").await;
        }
        self.update_spool_counters();
        let mut retry = tokio::time::interval(self.config.retry_interval);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                Some((msg, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.on_ack(msg, result, false).await;
                }
                command = rx.recv(), if self.in_flight.len() < self.config.max_in_flight => {
                    match command {
                        Some(command) => self.handle(command).await,
                        None => break,
                    }
                }
                _ = retry.tick(), if self.outage.is_some() => {
                    self.replay(&mut rx).await;
                }
            }
        }
        if let Err(e) = self.flush().await {
            tracing::warn!(target: TARGET, error = %e, "NATS sink: final flush failed");
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Event(msg) => {
                if self.outage.is_some() {
                    self.spool_msg(&msg);
                } else {
                    self.publish(msg).await;
                }
            }
            Command::Flush(reply) => {
                let _ = reply.send(self.flush().await);
            }
        }
    }

    async fn ensure_stream(&mut self) -> Result<(), NatsError> {
        if !self.stream_ready {
            if let Some(conn) = &self.conn {
                self.config.nats.ensure_stream(&conn.js).await?;
                self.stream_ready = true;
            }
        }
        Ok(())
    }

    fn send_publish(
        js: &Context,
        msg: &Msg,
    ) -> impl Future<Output = Result<PublishAckFuture, PublishError>> + Send + 'static {
        let js = js.clone();
        let subject = msg.subject.clone();
        let publish = PublishMessage::build()
            .payload(msg.payload.clone())
            .message_id(&msg.id);
        async move { js.send_publish(subject, publish).await }
    }

    /// Publishes directly; a failure starts an outage.
    async fn publish(&mut self, msg: Msg) {
        let Some(conn) = &self.conn else {
            self.start_outage("not connected").await;
            self.spool_msg(&msg);
            return;
        };
        match Self::send_publish(&conn.js, &msg).await {
            Ok(ack) => self
                .in_flight
                .push_back(Box::pin(async move { (msg, ack.await) })),
            Err(e) => {
                self.start_outage(&e.to_string()).await;
                self.spool_msg(&msg);
            }
        }
    }

    async fn on_ack(&mut self, msg: Msg, result: Result<PublishAck, PublishError>, replay: bool) {
        match result {
            Ok(ack) => self.count_ack(&ack, replay),
            Err(e) => {
                tracing::debug!(target: TARGET, subject = %msg.subject, error = %e, "publish failed");
                // This one is older than everything still in flight: spool it first.
                self.spool_msg(&msg);
                self.start_outage(&e.to_string()).await;
            }
        }
    }

    fn count_ack(&self, ack: &PublishAck, replay: bool) {
        self.counters.acked.fetch_add(1, Relaxed);
        if ack.duplicate {
            self.counters.duplicates.fetch_add(1, Relaxed);
        }
        if replay {
            self.counters.replayed.fetch_add(1, Relaxed);
        }
    }

    /// Enters outage mode: awaits every publish in flight, spooling the failed ones in order.
    async fn start_outage(&mut self, reason: &str) {
        if self.outage.is_none() {
            tracing::warn!(target: TARGET, reason, spool = %self.spool.dir().display(), "NATS unreachable: outage started, spooling events to disk");
            self.counters.outages.fetch_add(1, Relaxed);
            self.counters.in_outage.store(true, Relaxed);
            let now = Instant::now();
            self.outage = Some(Outage {
                since: now,
                last_log: now,
                reason: reason.into(),
            });
        }
        while let Some((msg, result)) = self.in_flight.next().await {
            match result {
                Ok(ack) => self.count_ack(&ack, false),
                Err(_) => self.spool_msg(&msg),
            }
        }
        // Never reuse a broken connection (it could resend stale publishes out of order).
        self.conn = None;
        self.stream_ready = false;
    }

    fn spool_msg(&mut self, msg: &Msg) {
        match self.spool.append(&msg.payload) {
            Ok(()) => {
                self.counters.spooled.fetch_add(1, Relaxed);
                self.counters.spool_full.store(false, Relaxed);
            }
            Err(e) => {
                let dropped = self.counters.dropped.fetch_add(1, Relaxed) + 1;
                if !self.counters.spool_full.swap(true, Relaxed) || dropped.is_power_of_two() {
                    tracing::error!(target: TARGET, error = %e, event_id = %msg.id, dropped, "NATS sink: event dropped, the spool cannot take it");
                }
            }
        }
        self.update_spool_counters();
    }

    fn update_spool_counters(&self) {
        self.counters
            .spool_events
            .store(self.spool.events(), Relaxed);
        self.counters.spool_bytes.store(self.spool.bytes(), Relaxed);
    }

    /// During an outage: if NATS is back, replays the spool oldest first, taking new events
    /// into the spool between batches. Returns when the spool is empty (outage over) or a
    /// publish fails again.
    async fn replay(&mut self, rx: &mut mpsc::Receiver<Command>) {
        if !self.conn.as_ref().is_some_and(Conn::is_connected) {
            self.conn = None;
            self.stream_ready = false;
            match Conn::open(&self.config).await {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => {
                    tracing::debug!(target: TARGET, error = %e, "still cannot connect");
                    self.log_outage();
                    return;
                }
            }
        }
        if let Err(e) = self.ensure_stream().await {
            tracing::debug!(target: TARGET, error = %e, "stream not ready yet");
            self.log_outage();
            return;
        }
        loop {
            match self.replay_batch().await {
                Ok(true) => {}
                Ok(false) => {
                    self.conn = None;
                    self.stream_ready = false;
                    self.log_outage();
                    return;
                }
                Err(e) => {
                    tracing::error!(target: TARGET, error = %e, "NATS sink: cannot read the spool");
                    return;
                }
            }
            // Let new events in behind the spool, a bounded number per batch.
            for _ in 0..self.config.max_in_flight {
                match rx.try_recv() {
                    Ok(Command::Event(msg)) => self.spool_msg(&msg),
                    Ok(Command::Flush(reply)) => {
                        let result = self.spool.sync().map_err(SinkError::from);
                        let _ = reply.send(result);
                    }
                    Err(_) => break,
                }
            }
            if self.spool.is_empty() {
                if let Some(outage) = self.outage.take() {
                    tracing::info!(target: TARGET, lasted = ?outage.since.elapsed(), replayed = self.counters.replayed.load(Relaxed), "NATS reachable again: outage over, spool drained");
                }
                self.counters.in_outage.store(false, Relaxed);
                return;
            }
        }
    }

    /// Publishes the oldest spooled events; advances the spool past the acknowledged prefix.
    /// `Ok(false)` when some publish failed.
    async fn replay_batch(&mut self) -> Result<bool, NatsError> {
        let batch = self.spool.read(self.config.max_in_flight)?;
        if batch.is_empty() {
            return Ok(true);
        }
        let Some(js) = self.conn.as_ref().map(|c| c.js.clone()) else {
            return Ok(false);
        };
        let mut acks = FuturesOrdered::new();
        let mut ok = true;
        for (line, _) in &batch {
            let msg = match Event::from_json(line) {
                Ok(event) => Msg::new(&event),
                Err(e) => {
                    // Never written by us; skip it rather than block the spool forever.
                    tracing::error!(target: TARGET, error = %e, "NATS sink: skipping an undecodable spool line");
                    acks.push_back(
                        Box::pin(async { true }) as Pin<Box<dyn Future<Output = bool> + Send>>
                    );
                    continue;
                }
            };
            match Self::send_publish(&js, &msg).await {
                Ok(ack) => {
                    let counters = Arc::clone(&self.counters);
                    acks.push_back(Box::pin(async move {
                        match ack.await {
                            Ok(ack) => {
                                counters.acked.fetch_add(1, Relaxed);
                                counters.replayed.fetch_add(1, Relaxed);
                                if ack.duplicate {
                                    counters.duplicates.fetch_add(1, Relaxed);
                                }
                                true
                            }
                            Err(e) => {
                                tracing::debug!(target: TARGET, error = %e, "replay publish failed");
                                false
                            }
                        }
                    }));
                }
                Err(e) => {
                    tracing::debug!(target: TARGET, error = %e, "replay publish failed");
                    ok = false;
                    break;
                }
            }
        }
        let mut done = 0usize;
        while let Some(acked) = acks.next().await {
            if !acked {
                ok = false;
            }
            if ok {
                done += 1;
            }
        }
        if done > 0 {
            self.spool.advance(batch[done - 1].1, done as u64)?;
            self.update_spool_counters();
        }
        Ok(ok)
    }

    fn log_outage(&mut self) {
        if let Some(outage) = self.outage.as_mut() {
            if outage.last_log.elapsed() >= OUTAGE_LOG_EVERY {
                outage.last_log = Instant::now();
                tracing::warn!(target: TARGET, lasting = ?outage.since.elapsed(), reason = %outage.reason, backlog_events = self.spool.events(), backlog_bytes = self.spool.bytes(), "NATS still unreachable");
            }
        }
    }

    /// Awaits every ack in flight, tries to replay the spool, and fsyncs it.
    async fn flush(&mut self) -> Result<(), SinkError> {
        while let Some((msg, result)) = self.in_flight.next().await {
            self.on_ack(msg, result, false).await;
        }
        if self.outage.is_some() {
            let (_tx, mut rx) = mpsc::channel(1);
            self.replay(&mut rx).await;
        }
        self.spool.sync()?;
        self.update_spool_counters();
        Ok(())
    }
}
