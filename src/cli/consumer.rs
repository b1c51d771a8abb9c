//! `valtrack consumer`: JetStream → derived rows → Parquet tables and the tracker store.

use clap::Args;
use valtrack::sink::consumer::{self, Consumer, ConsumerConfig};
use valtrack::sink::StoreRole;

use super::args::{
    final_storage_lines, storage_line, HumanDuration, NatsArgs, NetworkArgs, StoreArgs,
};
use super::metrics::MetricsArgs;
use super::{shutdown_signal, spawn_reporter, CliError};

#[derive(Debug, Args)]
pub(crate) struct ConsumerArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) nats: NatsArgs,
    /// The network whose clock dates the derived estimates (a preset or a config
    /// directory), and for a directory its genesis time.
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
    /// What this consumer writes: `all` (derived rows, every table and the tracker store),
    /// or one part of a fleet: `tables` (the events as received, into a data directory any
    /// number of `tables` consumers share, splitting the stream's messages among them) or
    /// `tracker` (derived rows, their tables and the tracker store, for the API: run one).
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub(crate) role: Role,
    /// Durable consumer name: keep it stable so a restart resumes where it stopped; consumers
    /// with one name share its messages [default: `valtrack-consumer`, `valtrack-tables` or
    /// `valtrack-tracker` by --role].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Messages per pull request.
    #[arg(long, default_value_t = consumer::DEFAULT_BATCH_SIZE)]
    pub(crate) batch_size: usize,
    /// Longest wait before received events are written durably and acknowledged (a commit
    /// also happens every 50,000 events); shorter: fresher tables, more and smaller files.
    #[arg(long, default_value_t = HumanDuration(consumer::DEFAULT_COMMIT_INTERVAL))]
    pub(crate) commit_interval: HumanDuration,
    /// JetStream stream to read (created when missing; subjects `valtrack.>`).
    #[arg(long, default_value = valtrack::sink::DEFAULT_STREAM)]
    pub(crate) stream: String,
    /// How long JetStream waits for an ack before redelivering (after a crash, unacked
    /// messages come back after this long).
    #[arg(long, default_value_t = HumanDuration(consumer::DEFAULT_ACK_WAIT))]
    pub(crate) ack_wait: HumanDuration,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long)]
    pub(crate) duration: Option<HumanDuration>,
    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
}

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// Derived rows, every table and the tracker store, from one durable.
    All,
    /// The events as received, into a shared data directory; run any number.
    Tables,
    /// Derived rows, their tables and the tracker store; run one.
    Tracker,
}

impl Role {
    fn store_role(self) -> StoreRole {
        match self {
            Self::All => StoreRole::All,
            Self::Tables => StoreRole::Tables,
            Self::Tracker => StoreRole::Tracker,
        }
    }

    fn default_name(self) -> &'static str {
        match self {
            Self::All => consumer::DEFAULT_CONSUMER_NAME,
            Self::Tables => "valtrack-tables",
            Self::Tracker => "valtrack-tracker",
        }
    }
}

impl ConsumerArgs {
    fn name(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or_else(|| self.role.default_name())
    }

    /// The consumer's configuration.
    fn config(&self) -> Result<ConsumerConfig, CliError> {
        let nats = self.nats.config(&self.stream)?;
        let mut builder = ConsumerConfig::builder(nats)
            .name(self.name())
            .batch_size(self.batch_size)
            .commit_interval(self.commit_interval.0)
            .ack_wait(self.ack_wait.0);
        // The tracker role's dedupe is the tracker's applied ids (it writes no events' rows);
        // a database dedupes by itself (the event id is each table's key).
        if self.role != Role::Tracker && self.store.database.is_none() {
            builder = builder.seed_from_parquet(&self.store.data_dir);
        }
        Ok(builder.build()?)
    }
}

pub(crate) async fn run(args: ConsumerArgs) -> Result<(), CliError> {
    // A simulated network's clock lives in the sentry that started it: the consumer dates
    // its estimates by each peer's head slot (simulated nodes' heads follow their clock).
    let network = if args.network.network == "sim" {
        if args.network.genesis_time.is_some() {
            return Err(CliError(
                "--genesis-time is for a network directory: the simulated network keeps its own clock"
                    .into(),
            ));
        }
        tracing::info!(target: "valtrack", "--network sim: estimates are dated by each peer's head slot");
        None
    } else {
        Some(args.network.network()?)
    };
    let config = args.config()?;
    let metrics = args.metrics.bind().await?;
    if args.role == Role::Tables && args.store.api_listen.is_some() && args.store.database.is_none()
    {
        return Err(CliError(
            "--api-listen serves the tracker store, which --role tables does not keep: give it to the --role tracker consumer (with --database, any consumer can serve it)".into(),
        ));
    }
    let (store, sink) = args
        .store
        .open_waiting(network, args.role.store_role())
        .await?;
    tracing::info!(
        target: "valtrack",
        nats = %args.nats.nats_url,
        stream = %args.stream,
        consumer = %args.name(),
        role = ?args.role,
        writing_to = %store.location(),
        "consumer started"
    );
    let reporter = {
        let stats = store.stats_reader();
        spawn_reporter(move || storage_line(&stats()))
    };
    let mut consumer = Consumer::new(config, sink);
    if let Some(tracker) = store.tracker().filter(|_| args.role == Role::Tracker) {
        let tracker = tracker.clone();
        let ids = tokio::task::spawn_blocking(move || tracker.applied_event_ids())
            .await
            .map_err(|e| CliError(e.to_string()))?
            .map_err(|e| CliError(format!("reading the tracker's applied event ids: {e}")))?;
        tracing::info!(target: "valtrack", ids = ids.len(), "dedupe seeded from the tracker store");
        consumer = consumer.seed_event_ids(ids);
    }
    let mut registry = valtrack::sink::metrics::registry();
    valtrack::sink::metrics::ProcessCollector::register(&mut registry);
    valtrack::sink::metrics::StoreCollector::register(&mut registry, &store);
    valtrack::sink::metrics::ConsumerCollector::register(&mut registry, &consumer);
    let metrics = metrics.serve(registry);
    let result = consumer
        .run(shutdown_signal(args.duration.map(|d| d.0)))
        .await;
    reporter.abort();
    metrics.stop().await;
    let line = storage_line(&store.stats());
    final_storage_lines(&store, true);
    store.close().await;
    let stats = result?;
    tracing::info!(
        target: "valtrack",
        "stopped: received {}, written {}, duplicates {}, redelivered {}, dead-lettered {}; {line}",
        stats.received,
        stats.written,
        stats.duplicates,
        stats.redelivered,
        stats.dead_lettered,
    );
    Ok(())
}
