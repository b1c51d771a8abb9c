//! The publishing task of a [`NatsSink`](super::NatsSink): publishes, awaits acks in order,
//! spools during outages and replays the spool when NATS is back.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::Context;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::mpsc;
use valtrack_core::{Event, SinkError};

use super::config::NatsSinkConfig;
use super::sink::{Command, Counters, Msg, TARGET};
use super::spool::Spool;
use crate::error::NatsError;

/// How often an ongoing outage is logged.
const OUTAGE_LOG_EVERY: Duration = Duration::from_secs(10);

type AckFuture = Pin<Box<dyn Future<Output = (Msg, Result<PublishAck, PublishError>)> + Send>>;

#[derive(Debug)]
struct Outage {
    since: Instant,
    last_log: Instant,
    reason: String,
}

/// One connection: never reconnects by itself (see [`NatsConfig::connect_once`]).
pub(super) struct Conn {
    client: async_nats::Client,
    js: Context,
}

impl Conn {
    pub(super) async fn open(config: &NatsSinkConfig) -> Result<Self, NatsError> {
        let client = config.nats.connect_once().await?;
        let js = config.nats.jetstream(client.clone(), config.max_in_flight);
        Ok(Self { client, js })
    }

    pub(super) fn js(&self) -> &Context {
        &self.js
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }
}

/// The publishing task.
pub(super) struct Pump {
    config: NatsSinkConfig,
    conn: Option<Conn>,
    spool: Spool,
    in_flight: FuturesOrdered<AckFuture>,
    stream_ready: bool,
    outage: Option<Outage>,
    counters: Arc<Counters>,
}

impl Pump {
    pub(super) fn new(
        config: NatsSinkConfig,
        conn: Option<Conn>,
        spool: Spool,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            config,
            conn,
            spool,
            in_flight: FuturesOrdered::new(),
            stream_ready: false,
            outage: None,
            counters,
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
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
        let started = Instant::now();
        match Self::send_publish(&conn.js, &msg).await {
            Ok(ack) => {
                let counters = Arc::clone(&self.counters);
                self.in_flight.push_back(Box::pin(async move {
                    let result = ack.await;
                    if result.is_ok() {
                        counters.publish_latency.observe(started.elapsed());
                    }
                    (msg, result)
                }));
            }
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
            if let Some(outage) = self.outage.as_mut() {
                // the periodic outage line says why, a refusal included
                outage.reason = e.to_string();
            }
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
            // Other tasks run between batches (a replay can take a while).
            tokio::task::yield_now().await;
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
            if !self.spool.is_empty() {
                let lost = self.spool.forget_unreadable()?;
                self.counters.dropped.fetch_add(lost, Relaxed);
                tracing::error!(target: TARGET, lost, dir = %self.spool.dir().display(), "NATS sink: spooled events could not be read back (an earlier spool write failed); dropped");
                self.room_made();
            }
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
            self.room_made();
        }
        Ok(ok)
    }

    /// The spool shrank: sends refused while it was full are taken again.
    fn room_made(&self) {
        self.update_spool_counters();
        self.counters.spool_full.store(false, Relaxed);
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
