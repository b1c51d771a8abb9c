//! [`TrackerSink`]: an [`EventSink`] that updates a [`TrackerStore`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use valtrack_core::{Event, EventSink, SinkError};

use crate::error::{chain, TrackerError};
use crate::geoip::GeoIp;
use crate::tracker::store::TrackerStore;

/// Events queued for the tracker's writer thread before [`send`](EventSink::send) waits.
const QUEUE: usize = 4096;
/// Most events applied in one transaction.
const BATCH: usize = 1024;
/// How often a batch that failed on I/O is tried again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often a failure that goes on is reported again.
const REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// Updates a [`TrackerStore`] from events, locating peers with a [`GeoIp`] when given one.
///
/// [`send`](EventSink::send) queues the event for a writer thread, which applies whatever
/// is queued in one transaction (up to 1,024 events), without fsync; so the HTTP API sees an
/// event a moment after it is sent. [`flush`](EventSink::flush) waits until every event sent
/// before it is applied and makes them durable. The store commits durably at least every
/// [`TrackerConfig::sync_interval`](crate::TrackerConfig::sync_interval) by itself.
///
/// When the store fails on I/O (disk full), the batch is kept and tried again every second
/// (the store reopens itself), so updates are applied once the cause clears; meanwhile the
/// queue fills and `send` waits. The failure is logged once with its cause, then every 30 s
/// with a count; [`flush`](EventSink::flush) returns it. An event that fails for another
/// reason (a stored row that does not decode) is skipped and counted
/// ([`errors`](Self::errors)). Clone it freely: clones share the store and the thread.
#[derive(Debug, Clone)]
pub struct TrackerSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<TrackerStore>,
    /// `None` only while dropping.
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<std::thread::JoinHandle<()>>,
    errors: Arc<AtomicU64>,
    geoip: Option<Arc<GeoIp>>,
}

// Almost every command is an `Apply`; boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Command {
    Apply(Event),
    Flush(oneshot::Sender<Result<(), TrackerError>>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Apply(_) => "Apply",
            Self::Flush(_) => "Flush",
        })
    }
}

/// The last clone gone: the writer applies what is queued and stops, and this waits for it,
/// so the store is no longer in use when the sink is gone (it may be reopened at once).
impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl TrackerSink {
    /// A sink over `store`; starts its writer thread.
    pub fn new(store: Arc<TrackerStore>) -> Self {
        Self::start(store, None)
    }

    /// Locates peers with `geoip` (starts a new writer thread; call before sending).
    pub fn with_geoip(self, geoip: Arc<GeoIp>) -> Self {
        let store = self.inner.store.clone();
        drop(self);
        Self::start(store, Some(geoip))
    }

    fn start(store: Arc<TrackerStore>, geoip: Option<Arc<GeoIp>>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let errors = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            store: store.clone(),
            geoip: geoip.clone(),
            errors: errors.clone(),
            failing: None,
            unsynced: Vec::new(),
            replay: Vec::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("valtrack-tracker".into())
            .spawn(move || writer.run(rx));
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                // Without its thread every send fails with `Closed`, which the caller sees.
                tracing::error!(target: "valtrack::tracker", error = %e, "cannot start the tracker writer thread");
                None
            }
        };
        Self {
            inner: Arc::new(Inner {
                store,
                tx: Some(tx),
                thread,
                errors,
                geoip,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<TrackerStore> {
        &self.inner.store
    }

    /// The GeoIP databases peers are located with, if any.
    pub fn geoip(&self) -> Option<&Arc<GeoIp>> {
        self.inner.geoip.as_ref()
    }

    /// Failed attempts to apply a batch, and events skipped, since the sink was made.
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }
}

fn backend(e: TrackerError) -> SinkError {
    SinkError::Backend {
        backend: "tracker",
        source: Box::new(e),
    }
}

impl EventSink for TrackerSink {
    /// Queues the event; waits while the queue is full. Cancel-safe.
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let tx = self.inner.tx.as_ref().ok_or(SinkError::Closed)?;
        tx.send(Command::Apply(event))
            .await
            .map_err(|_| SinkError::Closed)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        let (reply, done) = oneshot::channel();
        let tx = self.inner.tx.as_ref().ok_or(SinkError::Closed)?;
        tx.send(Command::Flush(reply))
            .await
            .map_err(|_| SinkError::Closed)?;
        done.await.map_err(|_| SinkError::Closed)?.map_err(backend)
    }
}

/// A failure that goes on.
struct Failing {
    error: String,
    since: Instant,
    failures: u64,
    reported: Instant,
    unreported: u64,
}

struct Writer {
    store: Arc<TrackerStore>,
    geoip: Option<Arc<GeoIp>>,
    errors: Arc<AtomicU64>,
    failing: Option<Failing>,
    /// Events applied since the store's last durable commit: an I/O error that closes the
    /// store rolls it back to that commit, and these are applied again.
    unsynced: Vec<Event>,
    /// Events a rollback undid, applied again before the next batch.
    replay: Vec<Event>,
}

/// Events applied without a durable commit after which the writer syncs by itself.
const MAX_UNSYNCED: usize = 64 * 1024;

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(command) = rx.blocking_recv() {
            let mut flushes = Vec::new();
            let mut next = Some(command);
            // Take what is queued, up to a batch, stopping after a flush (which covers the
            // events before it).
            while let Some(command) = next.take() {
                match command {
                    Command::Apply(event) => batch.push(event),
                    Command::Flush(reply) => {
                        flushes.push(reply);
                        break;
                    }
                }
                if batch.len() < BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !self.replay.is_empty() {
                let mut again = std::mem::take(&mut self.replay);
                again.append(&mut batch);
                batch = again;
            }
            self.apply(&mut batch, &mut rx, &mut flushes);
            if !flushes.is_empty() || self.unsynced.len() >= MAX_UNSYNCED {
                let result = self.sync();
                for reply in flushes {
                    let _ = reply.send(match &result {
                        Ok(()) => Ok(()),
                        Err(_) => Err(TrackerError::Closed),
                    });
                }
            }
        }
    }

    /// One transaction for `batch`. On an error after which the store was closed (and so
    /// rolled back to its last durable commit), the events applied since are put back in
    /// front of `batch`, to be applied again in order.
    fn commit(&mut self, batch: &mut Vec<Event>) -> Result<(), TrackerError> {
        let (closes, durable) = (self.store.closes(), self.store.durable_commits());
        let result = self.store.apply_all(batch, self.geoip.as_deref());
        if self.store.closes() != closes {
            let mut again = std::mem::take(&mut self.unsynced);
            again.append(batch);
            *batch = again;
            // Whatever the result says, the store holds only its last durable state.
            return Err(result.err().unwrap_or(TrackerError::Closed));
        }
        result?;
        if self.store.durable_commits() != durable {
            self.unsynced.clear();
        } else {
            self.unsynced.append(batch);
        }
        batch.clear();
        Ok(())
    }

    /// A durable commit. If it closed the store (rolling it back to its last durable
    /// commit), what was applied since is applied again before the next batch.
    fn sync(&mut self) -> Result<(), TrackerError> {
        let closes = self.store.closes();
        let result = self.store.sync();
        if self.store.closes() != closes {
            self.replay = std::mem::take(&mut self.unsynced);
            let e = result.err().unwrap_or(TrackerError::Closed);
            self.failed(&e);
            return Err(e);
        }
        match result {
            Ok(()) => {
                self.unsynced.clear();
                Ok(())
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }

    /// Applies the batch; on I/O failure keeps it and retries every second, answering the
    /// flushes that arrive meanwhile with the error (the queue fills and senders wait).
    fn apply(
        &mut self,
        batch: &mut Vec<Event>,
        rx: &mut mpsc::Receiver<Command>,
        flushes: &mut Vec<oneshot::Sender<Result<(), TrackerError>>>,
    ) {
        let mut closed_tries = 0;
        while !batch.is_empty() {
            let e = match self.commit(batch) {
                Ok(()) => {
                    self.recovered();
                    return;
                }
                Err(e) if e.is_io() => e,
                Err(_) => {
                    // Not I/O: apply one at a time, skipping the events that fail.
                    let events = std::mem::take(batch);
                    let mut rest = events.into_iter();
                    while let Some(event) = rest.next() {
                        let mut one = vec![event];
                        match self.commit(&mut one) {
                            Ok(()) => {}
                            Err(e) if e.is_io() => {
                                // Back to retrying, with this event and the rest.
                                one.extend(rest);
                                *batch = one;
                                break;
                            }
                            Err(e) => {
                                self.errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(target: "valtrack::tracker", error = %chain(&e),
                                    peer = %one[0].meta().peer_id, "tracker skipped an event it cannot apply");
                            }
                        }
                    }
                    continue;
                }
            };
            self.failed(&e);
            // Answer the flushes waiting now: the events are not applied.
            for reply in flushes.drain(..) {
                let _ = reply.send(Err(TrackerError::Closed));
            }
            std::thread::sleep(RETRY_INTERVAL);
            // Take what is queued (up to a bound; then senders wait), answering flushes at
            // once rather than have them wait for the disk.
            while batch.len() < 16 * BATCH {
                match rx.try_recv() {
                    Ok(Command::Apply(event)) => batch.push(event),
                    Ok(Command::Flush(reply)) => {
                        let _ = reply.send(Err(TrackerError::Closed));
                    }
                    Err(_) => break,
                }
            }
            if rx.is_closed() {
                // Every sender is gone: a few more tries, then say what is lost.
                closed_tries += 1;
                if closed_tries > 5 {
                    tracing::error!(target: "valtrack::tracker", events = batch.len(), error = %chain(&e),
                        "tracker updates not applied at exit");
                    batch.clear();
                    return;
                }
            }
        }
    }

    fn failed(&mut self, error: &TrackerError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let text = chain(error);
        match &mut self.failing {
            Some(f) if f.error == text => {
                f.failures += 1;
                f.unreported += 1;
                if f.reported.elapsed() >= REPORT_INTERVAL {
                    tracing::warn!(target: "valtrack::tracker", failures = f.unreported, since_secs = f.since.elapsed().as_secs(),
                        "tracker updates still failing ({text}); retried every {}s", RETRY_INTERVAL.as_secs());
                    f.unreported = 0;
                    f.reported = Instant::now();
                }
            }
            _ => {
                tracing::warn!(target: "valtrack::tracker", error = %text,
                    "tracker update failed; kept and retried every {}s", RETRY_INTERVAL.as_secs());
                self.failing = Some(Failing {
                    error: text,
                    since: Instant::now(),
                    failures: 1,
                    reported: Instant::now(),
                    unreported: 0,
                });
            }
        }
    }

    fn recovered(&mut self) {
        if let Some(f) = self.failing.take() {
            tracing::info!(target: "valtrack::tracker", failures = f.failures, after_secs = f.since.elapsed().as_secs(),
                "tracker updates recovered");
        }
    }
}
