//! The consumer: JetStream → an [`EventSink`] (normally a
//! [`ParquetSink`](crate::ParquetSink)), at least once in, effectively once out.
//!
//! A [`Consumer`] binds a durable pull consumer with a stable name (default
//! [`DEFAULT_CONSUMER_NAME`]) and explicit acks on the event stream, pulls batches of
//! `batch_size` messages with a `max_wait` expiry (an idle consumer waits on the server, it
//! does not spin), decodes each message and hands the event to the sink.
//!
//! **Commits.** Messages are acknowledged only after the sink's
//! [`flush`](EventSink::flush) returned `Ok`, i.e. after the rows are durable (ParquetSink
//! publishes its files by rename). A commit happens every `commit_events` events, every
//! `commit_interval`, and on shutdown. The consumer goes on reading and writing the next
//! events while a commit's flush runs (at most one commit is in flight; a flush covers the
//! events sent before it). The acks of a commit are sent by a task of their own, so reading
//! goes on while the server takes them; [`Consumer::run`] returns once every ack is sent and
//! flushed. If the process dies between a flush and the acks, JetStream redelivers the
//! messages after `ack_wait`.
//!
//! **Dedupe** by event id, so a redelivered or twice-published event is written once: the
//! ids of the last `dedupe_capacity` distinct events written are kept in memory (16-byte
//! keys), and at start, with [`ConsumerConfigBuilder::seed_from_parquet`], the set is seeded
//! from the `event_id` column of the newest Parquet files of the dataset
//! ([`recent_event_ids`](crate::recent_event_ids)). The Parquet files themselves are the
//! record: a row is in the dedupe set after a restart exactly when it is durable. The window
//! is therefore the last `dedupe_capacity` events written, across restarts; it covers every
//! redelivery (at most the unacknowledged messages, bounded by the consumer's
//! `max_ack_pending` = 2 × `commit_events` + `batch_size`) and every publish retried by a
//! [`NatsSink`](crate::NatsSink) within that many events.
//!
//! **Several consumers** may pull one durable and write one dataset (each with a
//! [`shared`](crate::ParquetSinkConfigBuilder::shared) ParquetSink): JetStream hands each
//! message to one of them. When one dies between making rows durable and acknowledging them,
//! its messages are redelivered, after `ack_wait`, to another; so on a redelivered message
//! (delivery count > 1) the consumer first reads the ids of the dataset's files published
//! since it last looked (at most every 250 ms; each file once), which holds every row the
//! dead consumer made durable. What remains is a consumer that stalls (not dies) for longer
//! than `ack_wait` between writing rows and acknowledging them: its messages go to another
//! consumer meanwhile, and both may write them.
//!
//! **Dead letters.** A message whose payload is not an [`Event`] is published to the
//! dead-letter stream (default [`DEFAULT_DEAD_LETTER_STREAM`], subjects
//! `valtrack-dlq.>`: the message from `valtrack.metadata` goes to
//! `valtrack-dlq.valtrack.metadata`, with headers `Valtrack-Error`,
//! `Valtrack-Stream-Sequence` and `Valtrack-Consumer`), then terminated (`+TERM`) so it is
//! never redelivered, counted and logged; the consumer goes on.

mod config;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::{self, Stream as MessageStream};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind, Context};
use async_nats::HeaderMap;
use futures::StreamExt;
use tokio::time::Instant;
use valtrack_core::{Event, EventSink, SinkError};

pub use self::config::{
    ConsumerConfig, ConsumerConfigBuilder, DEAD_LETTER_PREFIX, DEFAULT_ACK_WAIT,
    DEFAULT_BATCH_SIZE, DEFAULT_COMMIT_EVENTS, DEFAULT_COMMIT_INTERVAL, DEFAULT_CONSUMER_NAME,
    DEFAULT_DEAD_LETTER_STREAM, DEFAULT_DEDUPE_CAPACITY, DEFAULT_MAX_WAIT,
};
use crate::error::{ConsumerError, NatsError};
use crate::event_key::{event_key as key, RecentIds};

const TARGET: &str = "valtrack::consumer";
/// Longest pause between attempts to set up the consumer while NATS is unreachable.
const MAX_SETUP_BACKOFF: Duration = Duration::from_secs(10);

/// What a [`Consumer`] did, returned by [`Consumer::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Messages received (redeliveries included).
    pub received: u64,
    /// Events handed to the sink and committed (flushed, then acknowledged).
    pub written: u64,
    /// Messages dropped as duplicates of an event already written.
    pub duplicates: u64,
    /// Messages delivered more than once (after a consumer died or an ack was lost).
    pub redelivered: u64,
    /// Malformed messages sent to the dead-letter stream.
    pub dead_lettered: u64,
    /// Commits (sink flushes followed by acks).
    pub commits: u64,
    /// Messages of the stream not yet delivered to this consumer (JetStream's
    /// `num_pending`), as of the last message received: the consumer's lag.
    pub pending: u64,
}

/// Reads a running [`Consumer`]'s counters (for metrics and progress lines).
#[derive(Debug, Clone, Default)]
pub struct ConsumerStatsReader(Arc<std::sync::Mutex<ConsumerStats>>);

impl ConsumerStatsReader {
    /// The counters as of the last message handled or commit made.
    pub fn stats(&self) -> ConsumerStats {
        self.0.lock().map_or_else(|p| *p.into_inner(), |s| *s)
    }

    fn set(&self, stats: &ConsumerStats) {
        if let Ok(mut s) = self.0.lock() {
            *s = *stats;
        }
    }
}

/// Reads the event stream into a sink; see the [module docs](self).
#[derive(Debug)]
pub struct Consumer<S> {
    config: ConsumerConfig,
    sink: S,
    live: ConsumerStatsReader,
    /// Ids known written before the run (taken by `run`).
    seed: std::sync::Mutex<Vec<String>>,
}

/// Least time between two reads of the dataset's new files on redelivery.
const REREAD_EVERY: Duration = Duration::from_millis(250);

/// The dataset the consumer writes (and maybe other consumers too), read for ids.
struct Dataset {
    /// `None` only while a read runs.
    ids: Option<crate::parquet_sink::DatasetIds>,
    read_at: Option<Instant>,
}

/// Work since the last commit.
#[derive(Default)]
struct Pending {
    ackers: Vec<Acker>,
    keys: Vec<u128>,
    set: HashSet<u128>,
    since: Option<Instant>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("messages", &self.ackers.len())
            .field("events", &self.keys.len())
            .finish()
    }
}

/// A commit whose sink flush is under way; its messages are acknowledged once it is done.
/// Meanwhile the consumer goes on reading: at most one commit is in flight.
struct InCommit<'a> {
    flush: Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>,
    work: Pending,
}

/// The result of the flush under way; pending forever when there is none.
async fn flushed(commit: &mut Option<InCommit<'_>>) -> Result<(), SinkError> {
    match commit {
        Some(c) => c.flush.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Acknowledgements per commit waiting for the ack task; the consumer waits for room only
/// when the task is this many commits behind.
const ACK_QUEUE_COMMITS: usize = 2;

/// Sends the acknowledgements of committed messages on a task of its own, so the consumer
/// goes on reading while the server takes them. A commit's acks are thousands of publishes
/// and a round trip to the server (the flush): sent from the consumer's loop, they stalled it
/// for as long, every commit.
struct Acks {
    tx: tokio::sync::mpsc::Sender<Vec<Acker>>,
    task: tokio::task::JoinHandle<()>,
}

impl Acks {
    fn start(client: async_nats::Client) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Acker>>(ACK_QUEUE_COMMITS);
        let task = tokio::spawn(async move {
            while let Some(ackers) = rx.recv().await {
                let mut failed = 0u64;
                for acker in ackers {
                    failed += u64::from(acker.ack().await.is_err());
                }
                if failed > 0 {
                    // Redelivered later, then dropped as duplicates.
                    tracing::warn!(target: TARGET, failed, "some acks could not be sent");
                }
                if let Err(e) = client.flush().await {
                    tracing::warn!(target: TARGET, error = %e, "acks not flushed to the server; they may be redelivered");
                }
            }
        });
        Self { tx, task }
    }

    /// Queues the acks of one commit (waits while the task is [`ACK_QUEUE_COMMITS`] behind).
    async fn send(&self, ackers: Vec<Acker>) {
        if ackers.is_empty() {
            return;
        }
        // The task ends only when `tx` is dropped; if it panicked, the messages are
        // redelivered after `ack_wait` and dropped as duplicates.
        if self.tx.send(ackers).await.is_err() {
            tracing::warn!(target: TARGET, "the ack task is gone; messages will be redelivered");
        }
    }

    /// Sends every queued ack and flushes them to the server.
    async fn finish(self) {
        drop(self.tx);
        if let Err(e) = self.task.await {
            tracing::warn!(target: TARGET, error = %e, "the ack task failed; messages will be redelivered");
        }
    }
}

impl<S: EventSink> Consumer<S> {
    /// A consumer writing to `sink`. Nothing happens until [`run`](Self::run).
    pub fn new(config: ConsumerConfig, sink: S) -> Self {
        Self {
            config,
            sink,
            live: ConsumerStatsReader::default(),
            seed: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Event ids already written where this consumer writes (newest first), for its dedupe:
    /// what the sink itself remembers, e.g. the tracker store's
    /// [`applied_event_ids`](crate::TrackerStore::applied_event_ids) when it writes no
    /// Parquet dataset to seed from.
    pub fn seed_event_ids(self, ids: Vec<String>) -> Self {
        if let Ok(mut seed) = self.seed.lock() {
            *seed = ids;
        }
        self
    }

    /// A reader of the counters while [`run`](Self::run) goes on.
    pub fn stats_reader(&self) -> ConsumerStatsReader {
        self.live.clone()
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Runs until `shutdown` resolves: then it stops pulling, commits what it has (flush,
    /// then ack) and returns the counts. While NATS is unreachable it waits (setting up
    /// again with backoff); it returns an error only when the sink fails (the messages not
    /// yet acknowledged are then redelivered to the next run) or the config cannot work.
    ///
    /// Not cancel-safe in the sense that dropping the future loses the uncommitted work:
    /// nothing is lost from the stream, the messages are redelivered after `ack_wait`, and
    /// dedupe drops those whose rows were already durable.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ConsumerStats, ConsumerError> {
        let mut stats = ConsumerStats::default();
        let mut recent = RecentIds::new(self.config.dedupe_capacity);
        if let Ok(mut seed) = self.seed.lock() {
            for id in seed.drain(..).rev() {
                recent.insert(key(&id));
            }
        }
        let mut dataset = None;
        if let Some(dir) = &self.config.seed_from_parquet {
            let dir2 = dir.clone();
            let max = self.config.dedupe_capacity;
            let (ids_of, ids) = tokio::task::spawn_blocking(move || {
                crate::parquet_sink::DatasetIds::seed(&dir2, max)
            })
            .await
            .map_err(|e| ConsumerError::Seed {
                dir: dir.clone(),
                source: valtrack_core::SinkError::Backend {
                    backend: "parquet",
                    source: Box::new(e),
                },
            })?
            .map_err(|source| ConsumerError::Seed {
                dir: dir.clone(),
                source,
            })?;
            // oldest first, so the newest are the last evicted
            for id in ids.iter().rev() {
                recent.insert(key(id));
            }
            dataset = Some(Dataset {
                ids: Some(ids_of),
                read_at: None,
            });
            tracing::info!(target: TARGET, ids = recent.len(), dir = %dir.display(), "dedupe seeded from the dataset");
        }
        let client = self.config.nats.connect().await?;
        let js = self.config.nats.jetstream(client.clone(), 1024);
        let acks = Acks::start(client.clone());
        tokio::pin!(shutdown);
        let Some(consumer) = self.setup_until_ready(&js, &mut shutdown).await? else {
            return Ok(stats);
        };
        tracing::info!(target: TARGET, stream = %self.config.nats.stream, consumer = %self.config.name, "consuming");
        let mut pending = Pending::default();
        let mut messages: Option<MessageStream> = None;
        let mut backoff = Duration::from_millis(100);
        // One timer, re-armed when the first event after a commit arrives (not one per
        // message).
        let commit_timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(commit_timer);
        let mut armed = false;
        let mut in_commit: Option<InCommit<'_>> = None;
        loop {
            if messages.is_none() {
                match self.messages(&consumer).await {
                    Ok(m) => {
                        messages = Some(m);
                        backoff = Duration::from_millis(100);
                    }
                    Err(e) => {
                        tracing::warn!(target: TARGET, error = %e, "cannot pull; retrying");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(MAX_SETUP_BACKOFF);
                        continue;
                    }
                }
            }
            if !armed {
                if let Some(since) = pending.since {
                    commit_timer
                        .as_mut()
                        .reset(since + self.config.commit_interval);
                    armed = true;
                }
            }
            let Some(stream) = messages.as_mut() else {
                continue;
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                result = flushed(&mut in_commit), if in_commit.is_some() => {
                    if let Some(done) = in_commit.take() {
                        self.finish_commit(&acks, done.work, result, &mut recent, &mut stats).await?;
                    }
                }
                () = &mut commit_timer, if armed => {
                    in_commit = self.start_commit(&acks, in_commit, &mut pending, &mut recent, &mut stats).await?;
                    armed = false;
                }
                next = stream.next() => match next {
                    Some(Ok(message)) => {
                        let committing = in_commit.as_ref().map(|c| &c.work.set);
                        self.handle(&js, message, &mut pending, &mut recent, &mut dataset, committing, &mut stats).await?;
                        if pending.ackers.len() >= self.config.commit_events {
                            in_commit = self.start_commit(&acks, in_commit, &mut pending, &mut recent, &mut stats).await?;
                            armed = false;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(target: TARGET, error = %e, "pull failed; pulling again");
                        messages = None;
                    }
                    None => messages = None,
                },
            }
            self.live.set(&stats);
        }
        drop(messages);
        let last = self
            .start_commit(&acks, in_commit, &mut pending, &mut recent, &mut stats)
            .await?;
        if let Some(mut last) = last {
            let result = last.flush.as_mut().await;
            self.finish_commit(&acks, last.work, result, &mut recent, &mut stats)
                .await?;
        }
        acks.finish().await;
        self.live.set(&stats);
        tracing::info!(target: TARGET, received = stats.received, written = stats.written, duplicates = stats.duplicates, dead_lettered = stats.dead_lettered, "consumer stopped");
        Ok(stats)
    }

    /// Creates the streams and the durable consumer, retrying with backoff while NATS is
    /// unreachable; `None` when shut down first, an error when JetStream refuses for good.
    async fn setup_until_ready(
        &self,
        js: &Context,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Option<PullConsumer>, NatsError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.setup(js).await {
                Ok(c) => return Ok(Some(c)),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, retry_in = ?backoff, "NATS not ready; retrying");
                }
            }
            tokio::select! {
                () = &mut *shutdown => return Ok(None),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_SETUP_BACKOFF);
        }
    }

    async fn setup(&self, js: &Context) -> Result<PullConsumer, NatsError> {
        let nats = &self.config.nats;
        nats.ensure_stream(js).await?;
        let created = nats.stream_config();
        let dlq = jetstream::stream::Config {
            name: self.config.dead_letter_stream.clone(),
            subjects: vec![format!("{DEAD_LETTER_PREFIX}.>")],
            storage: jetstream::stream::StorageType::File,
            max_age: created.max_age,
            duplicate_window: created.duplicate_window,
            num_replicas: created.num_replicas,
            description: Some("valtrack messages the consumer could not decode".into()),
            ..Default::default()
        };
        // An existing dead-letter stream keeps its settings, but for replicas when set.
        nats.ensure(js, dlq, |existing| {
            let mut updated = existing.clone();
            if let Some(n) = nats.replicas {
                updated.num_replicas = n;
            }
            Ok(updated)
        })
        .await?;
        let consumer_err = |source: async_nats::Error| NatsError::Consumer {
            stream: nats.stream.clone(),
            consumer: self.config.name.clone(),
            source,
        };
        let stream = js
            .get_stream(&nats.stream)
            .await
            .map_err(|e| consumer_err(Box::new(e)))?;
        let max_ack_pending = 2 * self.config.commit_events + self.config.batch_size;
        let config = pull::Config {
            durable_name: Some(self.config.name.clone()),
            description: Some("valtrack consumer".into()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.config.ack_wait,
            max_ack_pending: i64::try_from(max_ack_pending).unwrap_or(i64::MAX),
            filter_subject: crate::nats::EVENT_SUBJECTS.into(),
            ..Default::default()
        };
        stream
            .create_consumer(config)
            .await
            .map_err(|e| consumer_err(Box::new(e)))
    }

    async fn messages(&self, consumer: &PullConsumer) -> Result<MessageStream, NatsError> {
        let heartbeat = (self.config.max_wait / 2).max(Duration::from_millis(500));
        let expires = self.config.max_wait.max(2 * heartbeat);
        consumer
            .stream()
            .max_messages_per_batch(self.config.batch_size)
            .expires(expires)
            .heartbeat(heartbeat)
            .messages()
            .await
            .map_err(|e| NatsError::Pull {
                consumer: self.config.name.clone(),
                source: Box::new(e),
            })
    }

    #[allow(clippy::too_many_arguments)]
    async fn handle(
        &self,
        js: &Context,
        message: jetstream::Message,
        pending: &mut Pending,
        recent: &mut RecentIds,
        dataset: &mut Option<Dataset>,
        committing: Option<&HashSet<u128>>,
        stats: &mut ConsumerStats,
    ) -> Result<(), ConsumerError> {
        stats.received += 1;
        let (sequence, lag, delivered) = message.info().map_or((0, stats.pending, 1), |i| {
            (i.stream_sequence, i.pending, i.delivered)
        });
        stats.pending = lag;
        if delivered > 1 {
            stats.redelivered += 1;
            if let Some(dataset) = dataset {
                // Another consumer of this durable may have written it before it died.
                self.read_new_files(dataset, recent).await?;
            }
        }
        let (message, acker) = message.split();
        match decode(&message.payload) {
            Ok(event) => {
                let k = key(&event.meta().event_id);
                if recent.contains(k)
                    || pending.set.contains(&k)
                    || committing.is_some_and(|c| c.contains(&k))
                {
                    stats.duplicates += 1;
                } else {
                    self.sink.send(event).await?;
                    pending.keys.push(k);
                    pending.set.insert(k);
                }
                pending.since.get_or_insert_with(Instant::now);
                pending.ackers.push(acker);
            }
            Err(e) => {
                self.dead_letter(js, &message, sequence, acker, &e, stats)
                    .await;
            }
        }
        Ok(())
    }

    /// Adds to `recent` the ids of the dataset's files published since it last looked (by
    /// this consumer or another sharing the directory); at most every
    /// [`REREAD_EVERY`], so a burst of redeliveries costs one directory listing per interval.
    async fn read_new_files(
        &self,
        dataset: &mut Dataset,
        recent: &mut RecentIds,
    ) -> Result<(), ConsumerError> {
        if dataset.read_at.is_some_and(|t| t.elapsed() < REREAD_EVERY) {
            return Ok(());
        }
        let Some(mut ids_of) = dataset.ids.take() else {
            return Ok(());
        };
        let dir = self.config.seed_from_parquet.clone().unwrap_or_default();
        let (ids_of, ids) = tokio::task::spawn_blocking(move || {
            let ids = ids_of.read_new();
            (ids_of, ids)
        })
        .await
        .map_err(|e| ConsumerError::Seed {
            dir: dir.clone(),
            source: SinkError::Backend {
                backend: "parquet",
                source: Box::new(e),
            },
        })?;
        dataset.ids = Some(ids_of);
        dataset.read_at = Some(Instant::now());
        let ids = ids.map_err(|source| ConsumerError::Seed { dir, source })?;
        for id in &ids {
            recent.insert(key(id));
        }
        tracing::debug!(target: TARGET, ids = ids.len(), "redelivery: read the dataset's new files");
        Ok(())
    }

    /// Publishes an undecodable message to the dead-letter stream, then terminates it.
    /// When the dead-letter publish fails, the message is left unacknowledged (it comes
    /// back after `ack_wait`).
    async fn dead_letter(
        &self,
        js: &Context,
        message: &async_nats::Message,
        sequence: u64,
        acker: Acker,
        error: &str,
        stats: &mut ConsumerStats,
    ) {
        tracing::warn!(target: TARGET, subject = %message.subject, stream_sequence = sequence, error = %error, bytes = message.payload.len(), "malformed message: dead-lettered");
        let mut headers = HeaderMap::new();
        headers.insert("Valtrack-Error", error.to_string().as_str());
        headers.insert("Valtrack-Stream-Sequence", sequence.to_string().as_str());
        headers.insert("Valtrack-Consumer", self.config.name.as_str());
        if sequence > 0 {
            // a redelivered dead letter is published once
            headers.insert(
                "Nats-Msg-Id",
                format!("{}-{sequence}", self.config.nats.stream).as_str(),
            );
        }
        let subject = format!("{DEAD_LETTER_PREFIX}.{}", message.subject);
        let published = match js
            .publish_with_headers(subject, headers, message.payload.clone())
            .await
        {
            Ok(ack) => ack.await.map(drop),
            Err(e) => Err(e),
        };
        match published {
            Ok(()) => {
                if let Err(e) = acker.ack_with(AckKind::Term).await {
                    tracing::warn!(target: TARGET, error = %e, "cannot terminate a dead-lettered message");
                }
                stats.dead_lettered += 1;
            }
            Err(e) => {
                tracing::warn!(target: TARGET, error = %e, "dead-letter publish failed; the message will be redelivered");
            }
        }
    }

    /// Finishes the commit in flight, if any (at most one is), then starts flushing the
    /// pending work; returns the new commit in flight.
    async fn start_commit<'a>(
        &'a self,
        acks: &Acks,
        in_commit: Option<InCommit<'a>>,
        pending: &mut Pending,
        recent: &mut RecentIds,
        stats: &mut ConsumerStats,
    ) -> Result<Option<InCommit<'a>>, ConsumerError> {
        if let Some(mut previous) = in_commit {
            let result = previous.flush.as_mut().await;
            self.finish_commit(acks, previous.work, result, recent, stats)
                .await?;
        }
        if pending.ackers.is_empty() {
            pending.since = None;
            return Ok(None);
        }
        Ok(Some(InCommit {
            flush: Box::pin(self.sink.flush()),
            work: std::mem::take(pending),
        }))
    }

    /// After the sink's flush made `work`'s rows durable: remembers their ids and hands
    /// every message of it to the ack task.
    async fn finish_commit(
        &self,
        acks: &Acks,
        mut work: Pending,
        flushed: Result<(), SinkError>,
        recent: &mut RecentIds,
        stats: &mut ConsumerStats,
    ) -> Result<(), ConsumerError> {
        flushed?;
        for k in work.keys.drain(..) {
            recent.insert(k);
        }
        stats.written += work.set.len() as u64;
        acks.send(std::mem::take(&mut work.ackers)).await;
        stats.commits += 1;
        Ok(())
    }
}

/// Longest string an event may carry (crawler ids and locations, ENRs, multiaddrs, agent
/// versions are all far shorter); a message with a longer one is dead-lettered, so a bad
/// publisher cannot make the tables and the tracker store hold megabyte fields.
pub const MAX_EVENT_STRING_BYTES: usize = 4096;

/// An event from a message, refused when it is not one or carries an over-long string.
fn decode(payload: &[u8]) -> Result<Event, String> {
    if has_string_over(payload, MAX_EVENT_STRING_BYTES) {
        return Err(format!(
            "a string field is over {MAX_EVENT_STRING_BYTES} bytes"
        ));
    }
    Event::from_json(payload).map_err(|e| e.to_string())
}

/// Whether a JSON string in `json` is longer than `max` bytes (escapes counted as
/// written; an unterminated one runs to the end): a scan of the raw bytes, before any
/// parsing. A payload of at most `max` + 1 bytes cannot hold one (every event the sentry
/// publishes is far shorter), so only longer payloads are scanned, a quote or backslash at a
/// time.
fn has_string_over(json: &[u8], max: usize) -> bool {
    if json.len() <= max.saturating_add(1) {
        return false;
    }
    let mut at = 0;
    // Outside a string: the next quote opens one.
    while let Some(open) = memchr::memchr(b'"', &json[at..]) {
        let start = at + open + 1;
        let mut i = start;
        // Inside: the next unescaped quote closes it.
        loop {
            let Some(j) = memchr::memchr2(b'"', b'\\', &json[i..]) else {
                return json.len() - start > max;
            };
            i += j;
            if json[i] == b'"' {
                break;
            }
            // A backslash and the byte it escapes.
            i += 2;
            if i >= json.len() {
                return json.len() - start > max;
            }
        }
        if i - start > max {
            return true;
        }
        at = i + 1;
    }
    false
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[test]
    fn over_long_strings_are_refused_before_parsing() {
        let ok = crate::test_event(1).to_json();
        assert!(decode(&ok).is_ok());
        let long = String::from_utf8(ok)
            .unwrap()
            .replace("\"c1\"", &format!("\"{}\"", "x".repeat(900_000)));
        let err = decode(long.as_bytes()).unwrap_err();
        assert!(err.contains("over 4096 bytes"), "{err}");
        // Escaped quotes do not end a string early.
        assert!(has_string_over(br#"{"a":"\"\"\"\"\""}"#, 9));
        assert!(!has_string_over(br#"{"a":"\"\"","b":"xy"}"#, 4));
        assert!(decode(b"{not json").is_err());
    }

    /// The first version: every byte in turn.
    fn has_string_over_bytewise(json: &[u8], max: usize) -> bool {
        let (mut in_string, mut escaped, mut len) = (false, false, 0usize);
        for &b in json {
            if !in_string {
                if b == b'"' {
                    in_string = true;
                    len = 0;
                }
                continue;
            }
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                continue;
            }
            len += 1;
            if len > max {
                return true;
            }
        }
        false
    }

    proptest::proptest! {
        #[test]
        fn the_scan_agrees_with_a_bytewise_one(
            json in proptest::collection::vec(proptest::sample::select(b"\"\\ax".to_vec()), 0..64),
            max in 0usize..12,
        ) {
            proptest::prop_assert_eq!(
                has_string_over(&json, max),
                has_string_over_bytewise(&json, max)
            );
        }
    }
}
