//! [`PgSink`]: an [`EventSink`] that writes batches of events to a [`PgStore`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use valtrack_core::{Event, EventKind, EventSink, SinkError};

use super::{PgError, PgStore, WRITE_TIMEOUT};
use crate::error::chain;
use crate::geoip::GeoIp;

/// Events queued for the writer before [`send`](EventSink::send) waits.
const QUEUE: usize = 8192;
/// Most events in one transaction.
const BATCH: usize = 4096;
/// Longest wait between two attempts at a batch while the database is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Applied ids deleted at most per batch.
const PRUNE_CHUNK: i64 = 50_000;
/// How often a failure that goes on is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(30);
/// How often applied event ids past their retention are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// What a [`PgSink`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgWrites {
    /// The event tables it writes rows to (by the events' kinds).
    pub tables: Vec<EventKind>,
    /// Whether it updates the tracker.
    pub tracker: bool,
}

impl PgWrites {
    /// Every table and the tracker.
    pub fn all() -> Self {
        Self {
            tables: EventKind::ALL.to_vec(),
            tracker: true,
        }
    }

    /// Every table, not the tracker.
    pub fn tables() -> Self {
        Self {
            tables: EventKind::ALL.to_vec(),
            tracker: false,
        }
    }
}

/// What a [`PgSink`] did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgSinkStats {
    /// Rows inserted, per table in [`EventKind::ALL`] order.
    pub inserted: [u64; 5],
    /// Rows not inserted because a row with their event id was there already (a
    /// redelivery, another consumer), per table.
    pub present: [u64; 5],
    /// Events the tracker applied.
    pub applied: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Events sent and not committed yet.
    pub held: u64,
    /// Failed attempts at a batch.
    pub write_errors: u64,
    /// The failure going on now; `None` when writes work.
    pub fault: Option<String>,
}

/// Writes events to PostgreSQL: the rows of [`PgWrites::tables`] and the tracker's update.
///
/// [`send`](EventSink::send) queues the event for a writer task, which writes whatever is
/// queued (up to 4,096 events) in one transaction. [`flush`](EventSink::flush) returns once
/// every event sent before it is committed. While the database is away (stopped, restarting,
/// out of disk, a deadlock victim), the batch is kept and tried again with backoff, the
/// queue fills and `send` waits: nothing is dropped, and the failure is logged once, then
/// every 30 s. A failure that retrying cannot fix (a missing table, no permission) is
/// returned by every later `flush`, so a consumer acknowledges nothing it did not commit.
/// Clones share the writer.
#[derive(Debug, Clone)]
pub struct PgSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<PgStore>,
    tx: mpsc::Sender<Command>,
    stats: Arc<Mutex<PgSinkStats>>,
}

#[derive(Debug)]
enum Command {
    Apply(Box<Event>),
    Flush(oneshot::Sender<Result<(), String>>),
}

impl PgSink {
    /// A sink writing `writes` to `store`, locating peers with `geoip` when given; starts
    /// its writer task (call within a Tokio runtime).
    pub fn new(store: Arc<PgStore>, writes: PgWrites, geoip: Option<Arc<GeoIp>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(Mutex::new(PgSinkStats::default()));
        let writer = Writer {
            store: store.clone(),
            writes,
            geoip,
            stats: stats.clone(),
            broken: None,
            pruned_at: None,
        };
        tokio::spawn(writer.run(rx));
        Self {
            inner: Arc::new(Inner { store, tx, stats }),
        }
    }

    /// The database.
    pub fn store(&self) -> &Arc<PgStore> {
        &self.inner.store
    }

    /// What it did so far.
    pub fn stats(&self) -> PgSinkStats {
        self.inner
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A cheap reader of [`stats`](Self::stats) that outlives borrows.
    pub fn stats_reader(&self) -> impl Fn() -> PgSinkStats + Send + Sync + 'static {
        let stats = self.inner.stats.clone();
        move || stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl EventSink for PgSink {
    /// Queues the event; waits while the queue is full. Cancel-safe.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let held = |add: bool| {
            let mut s = self
                .inner
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            s.held = if add {
                s.held + 1
            } else {
                s.held.saturating_sub(1)
            };
        };
        // counted before the writer can see it, so the writer's decrement never comes first
        held(true);
        let sent = self.inner.tx.send(Command::Apply(Box::new(event))).await;
        if sent.is_err() {
            held(false);
        }
        sent.map_err(|_| SinkError::Closed)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        let (reply, done) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Flush(reply))
            .await
            .map_err(|_| SinkError::Closed)?;
        done.await
            .map_err(|_| SinkError::Closed)?
            .map_err(|e| SinkError::Backend {
                backend: "postgres",
                source: e.into(),
            })
    }
}

struct Writer {
    store: Arc<PgStore>,
    writes: PgWrites,
    geoip: Option<Arc<GeoIp>>,
    stats: Arc<Mutex<PgSinkStats>>,
    /// A failure retrying cannot fix: every later flush returns it.
    broken: Option<String>,
    pruned_at: Option<Instant>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
        while let Some(first) = rx.recv().await {
            let mut flushes = Vec::new();
            let mut next = Some(first);
            // What is queued, up to a batch, stopping after a flush (which covers the events
            // before it).
            while let Some(command) = next.take() {
                match command {
                    Command::Apply(e) => batch.push(*e),
                    Command::Flush(reply) => {
                        flushes.push(reply);
                        break;
                    }
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.write(&batch).await;
                batch.clear();
            }
            for reply in flushes {
                let _ = reply.send(self.broken.clone().map_or(Ok(()), Err));
            }
            self.prune().await;
        }
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, PgSinkStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the batch, trying again while the failure is transient.
    async fn write(&mut self, batch: &[Event]) {
        if self.broken.is_some() {
            // Nothing more is written once broken: the consumer stops at its next flush.
            let mut s = self.stats();
            s.held -= (batch.len() as u64).min(s.held);
            return;
        }
        let mut backoff = Duration::from_millis(250);
        let mut failing: Option<(Instant, u64)> = None;
        let mut reported = Instant::now();
        loop {
            let attempt = tokio::time::timeout(
                WRITE_TIMEOUT,
                self.store.write(
                    batch,
                    &self.writes.tables,
                    self.writes.tracker,
                    self.geoip.as_deref(),
                ),
            )
            .await
            .unwrap_or(Err(PgError::Timeout(WRITE_TIMEOUT)));
            match attempt {
                Ok(w) => {
                    let mut s = self.stats();
                    for i in 0..5 {
                        s.inserted[i] += w.inserted[i];
                        s.present[i] += w.present[i];
                    }
                    s.applied += w.applied;
                    s.commits += 1;
                    s.held -= (batch.len() as u64).min(s.held);
                    s.fault = None;
                    drop(s);
                    if let Some((since, failures)) = failing {
                        tracing::info!(target: "valtrack::postgres", failures, after = ?since.elapsed(), "database writes resumed");
                    }
                    return;
                }
                Err(e) => {
                    let text = chain(&e);
                    {
                        let mut s = self.stats();
                        s.write_errors += 1;
                        s.fault = Some(text.clone());
                    }
                    if !e.is_transient() {
                        tracing::error!(target: "valtrack::postgres", error = %text, events = batch.len(), "database write failed and will not be retried");
                        {
                            let mut s = self.stats();
                            s.held -= (batch.len() as u64).min(s.held);
                        }
                        self.broken = Some(text);
                        return;
                    }
                    match &mut failing {
                        None => {
                            tracing::warn!(target: "valtrack::postgres", error = %text, events = batch.len(), "database write failed; retrying until it works");
                            failing = Some((Instant::now(), 1));
                            reported = Instant::now();
                        }
                        Some((since, failures)) => {
                            *failures += 1;
                            if reported.elapsed() >= REPORT_INTERVAL {
                                tracing::warn!(target: "valtrack::postgres", error = %text, failures = *failures, for_ = ?since.elapsed(), "database writes still failing");
                                reported = Instant::now();
                            }
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Deletes applied event ids past their retention, once an hour, at most
    /// [`PRUNE_CHUNK`] a batch (a day of ids at mainnet's rate is millions: one DELETE of
    /// them all would stall the writes behind it).
    async fn prune(&mut self) {
        if !self.writes.tracker || self.pruned_at.is_some_and(|t| t.elapsed() < PRUNE_INTERVAL) {
            return;
        }
        self.pruned_at = Some(Instant::now());
        let retention = self.store.config().applied_retention.as_secs_f64();
        let result = async {
            let client = self.store.client().await?;
            client
                .execute(
                    "DELETE FROM tracker_applied WHERE ctid = ANY(ARRAY(SELECT ctid FROM tracker_applied \
                     WHERE applied_at < now() - make_interval(secs => $1) LIMIT $2))",
                    &[&retention, &PRUNE_CHUNK],
                )
                .await
                .map_err(PgError::query("deleting old applied ids"))
        }
        .await;
        match result {
            Ok(n) if n > 0 => {
                tracing::debug!(target: "valtrack::postgres", deleted = n, "old applied event ids deleted");
                if n >= PRUNE_CHUNK as u64 {
                    // more to go: the next chunk after the next batch
                    self.pruned_at = None;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "valtrack::postgres", error = %chain(&e), "cannot delete old applied event ids");
            }
        }
    }
}
