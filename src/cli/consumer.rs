//! `valtrack consumer`: JetStream → derived rows → Parquet tables and the tracker store.

use clap::Args;
use valtrack::sink::consumer::{self, Consumer, ConsumerConfig};

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
    /// Durable consumer name: keep it stable so a restart resumes where it stopped.
    #[arg(long, default_value = consumer::DEFAULT_CONSUMER_NAME)]
    pub(crate) name: String,
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

impl ConsumerArgs {
    /// The consumer's configuration.
    fn config(&self) -> Result<ConsumerConfig, CliError> {
        let nats = self.nats.config(&self.stream)?;
        Ok(ConsumerConfig::builder(nats)
            .name(&self.name)
            .batch_size(self.batch_size)
            .commit_interval(self.commit_interval.0)
            .ack_wait(self.ack_wait.0)
            .seed_from_parquet(&self.store.data_dir)
            .build()?)
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
    let (store, sink) = args.store.open(network, false).await?;
    tracing::info!(
        target: "valtrack",
        nats = %args.nats.nats_url,
        stream = %args.stream,
        consumer = %args.name,
        data_dir = %args.store.data_dir.display(),
        "consumer started"
    );
    let reporter = {
        let stats = store.stats_reader();
        spawn_reporter(move || storage_line(&stats()))
    };
    let consumer = Consumer::new(config, sink);
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
        "stopped: received {}, written {}, duplicates {}, dead-lettered {}; {line}",
        stats.received,
        stats.written,
        stats.duplicates,
        stats.dead_lettered,
    );
    Ok(())
}
