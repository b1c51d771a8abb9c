//! Argument parsing and wiring for the `valtrack` binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use valtrack::core::{
    genesis_from_beacon_state, parse_enr, parse_genesis_validators_root, ConsensusConfig, Enr,
    Event, EventSink, ForkDigest, Network, NetworkPreset, SinkError,
};

/// valtrack - Ethereum consensus validator tracking tool
#[derive(Debug, Parser)]
#[command(
    name = "valtrack",
    version,
    about = "valtrack - Ethereum consensus validator tracking tool"
)]
pub(crate) struct Cli {
    /// Log level: error, warn, info, debug, trace (or a tracing filter such as
    /// `info,valtrack::crawler=debug`).
    #[arg(
        short = 'l',
        long,
        global = true,
        default_value = "info",
        env = "VALTRACK_LOG_LEVEL"
    )]
    log_level: String,
    /// NATS server URL (the server needs JetStream).
    #[arg(
        short = 'n',
        long,
        global = true,
        default_value = "nats://localhost:4222",
        env = "VALTRACK_NATS_URL"
    )]
    nats_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crawl discv5, handshake every beacon node and emit discovery and metadata events.
    Sentry(SentryArgs),
    /// Sentry and storage in one process, no NATS: Parquet tables under --data-dir.
    Run(RunArgs),
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkArg {
    /// One JSON object per line on standard output.
    Stdout,
    /// Appended as JSON lines to a file.
    Jsonl(PathBuf),
}

impl FromStr for SinkArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" => Ok(Self::Stdout),
            _ => match s.strip_prefix("jsonl:") {
                Some(path) if !path.is_empty() => Ok(Self::Jsonl(PathBuf::from(path))),
                _ => Err(format!("unknown sink `{s}`: use `stdout` or `jsonl:PATH`")),
            },
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 384s, 6m, 1h)"))?;
    if d.is_zero() {
        return Err("must be positive".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub(crate) struct SentryArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    /// Where events go: `stdout` or `jsonl:PATH`.
    #[arg(long, default_value = "stdout")]
    sink: SinkArg,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    /// Directory of the Parquet tables (Hive layout: TABLE/date=YYYY-MM-DD/part-….parquet).
    #[arg(long, default_value = "./data", env = "VALTRACK_DATA_DIR")]
    data_dir: PathBuf,
}

/// What `sentry` and `run` share: the network, discovery, libp2p and scheduling settings.
#[derive(Debug, Args)]
pub(crate) struct CrawlArgs {
    /// Network: mainnet, sepolia, holesky, hoodi, sim (an in-process simulated network on
    /// loopback), or a directory with a consensus `config.yaml` and
    /// `genesis_validators_root.txt` (optionally `genesis.ssz`).
    #[arg(long, default_value = "mainnet", env = "VALTRACK_NETWORK")]
    network: String,
    #[command(flatten)]
    sim: SimArgs,
    /// Treat this fork digest as ours too (devnets whose genesis data you lack).
    #[arg(long, value_parser = parse_digest)]
    fork_digest: Option<ForkDigest>,
    /// Bootnode ENRs, comma-separated (mainnet's are built in).
    #[arg(long, value_delimiter = ',', env = "VALTRACK_BOOTNODES")]
    bootnodes: Vec<String>,
    /// IP address to listen on [default: 0.0.0.0; 127.0.0.1 with --network sim].
    #[arg(long)]
    listen_addr: Option<std::net::IpAddr>,
    /// UDP port for discv5 [default: 9000; any free port with --network sim].
    #[arg(long)]
    discovery_port: Option<u16>,
    /// TCP port for libp2p [default: 9000; any free port with --network sim].
    #[arg(long)]
    tcp_port: Option<u16>,
    /// UDP port for libp2p QUIC [default: 9001; any free port with --network sim].
    #[arg(long)]
    quic_port: Option<u16>,
    /// This sentry's id in events.
    #[arg(long, env = "VALTRACK_CRAWLER_ID", default_value = "valtrack-sentry")]
    crawler_id: String,
    /// Where this sentry runs (free text, e.g. a region), in events.
    #[arg(long, env = "VALTRACK_CRAWLER_LOCATION", default_value = "unknown")]
    crawler_location: String,
    /// Handshakes in flight.
    #[arg(long, default_value_t = valtrack::sentry::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// How often every known peer is revisited (default: one epoch of the network).
    #[arg(long, value_parser = parse_duration)]
    revisit_interval: Option<Duration>,
    /// How often each known node's routing table is enumerated again.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    recrawl_interval: Duration,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Attestation attribution: subscribe to all 64 attestation subnets (advertised
    /// honestly), keep handshaken peers connected and emit an attestation event per first
    /// delivery of each validator's attestation, with attribution evidence.
    #[arg(long, env = "VALTRACK_ATTESTATIONS")]
    attestations: bool,
    /// With --attestations: how many handshaken peers stay connected.
    #[arg(long, default_value_t = valtrack::sentry::DEFAULT_KEPT_PEERS)]
    kept_peers: usize,
}

/// Settings of `--network sim`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SimArgs {
    /// With --network sim: number of simulated beacon nodes.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub(crate) sim_nodes: u32,
    /// With --network sim: seed of the simulated network (keys, clients, roles).
    #[arg(long, default_value_t = 1)]
    pub(crate) sim_seed: u64,
}

fn parse_digest(s: &str) -> Result<ForkDigest, String> {
    s.parse()
        .map_err(|e| format!("`{s}` is not a 4-byte fork digest: {e}"))
}

/// A one-line user error.
#[derive(Debug)]
pub(crate) struct CliError(pub(crate) String);

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        let mut msg = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        Self(msg)
    }
}

/// Resolves `--network`: a preset name or a config directory.
pub(crate) fn load_network(arg: &str) -> Result<Network, CliError> {
    if let Ok(preset) = arg.parse::<NetworkPreset>() {
        return Ok(preset.network());
    }
    let dir = Path::new(arg);
    if !dir.is_dir() {
        return Err(CliError(format!(
            "unknown network `{arg}`: use mainnet, sepolia, holesky, hoodi, sim or a config directory"
        )));
    }
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| CliError(format!("{}: {e}", dir.join(name).display())))
    };
    let config = ConsensusConfig::from_yaml(&read("config.yaml")?).map_err(|e| {
        CliError(format!(
            "{}: {}",
            dir.join("config.yaml").display(),
            CliError::from(e).0
        ))
    })?;
    let genesis = dir.join("genesis.ssz");
    let (root, time) = if genesis.is_file() {
        let bytes =
            std::fs::read(&genesis).map_err(|e| CliError(format!("{}: {e}", genesis.display())))?;
        let (time, root) = genesis_from_beacon_state(&bytes)
            .map_err(|e| CliError(format!("{}: {}", genesis.display(), CliError::from(e).0)))?;
        (root, Some(time))
    } else {
        let text = read("genesis_validators_root.txt")?;
        (parse_genesis_validators_root(&text)?, None)
    };
    let mut builder = Network::builder(config, root);
    if let Some(time) = time {
        builder = builder.genesis_time(time);
    }
    Ok(builder.build()?)
}

/// Parses bootnode ENRs, naming the bad one.
pub(crate) fn parse_bootnodes(list: &[String]) -> Result<Vec<Enr>, CliError> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .enumerate()
        .map(|(i, s)| {
            parse_enr(s).map_err(|e| {
                let shown: String = s.chars().take(24).collect();
                CliError(format!(
                    "bootnode #{} ({shown}…) is not a valid ENR: {}",
                    i + 1,
                    CliError::from(e).0
                ))
            })
        })
        .collect()
}

/// Writes JSON lines to standard output.
#[derive(Debug, Default)]
pub(crate) struct StdoutSink;

impl EventSink for StdoutSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        use tokio::io::AsyncWriteExt;
        let mut line = event.to_json();
        line.push(b'\n');
        tokio::io::stdout().write_all(&line).await?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), SinkError> {
        use tokio::io::AsyncWriteExt;
        tokio::io::stdout().flush().await?;
        Ok(())
    }
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    // discv5 warns about every late reply, which a crawler sees all the time: keep it to
    // errors unless the filter names it.
    let directives = if cli.log_level.contains("discv5") {
        cli.log_level.clone()
    } else {
        format!("{},discv5=error", cli.log_level)
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&directives) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: invalid --log-level `{}`: {e}", cli.log_level);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sentry(args) => crate::cli::run_sentry(args, &cli.nats_url).await,
            Command::Run(args) => crate::cli::run_embedded(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// How often the summary line is logged.
const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// A network to crawl: a real one, or a simulated one running in this process.
pub(crate) struct Target {
    pub(crate) network: Network,
    pub(crate) bootnodes: Vec<Enr>,
    /// Keeps the simulated network running.
    pub(crate) sim: Option<valtrack::sentry::sim::SimNet>,
}

/// Resolves `--network` and the bootnodes; starts the simulated network for `sim` (whose
/// validators publish attestations when `attestations`).
pub(crate) async fn target(
    network: &str,
    bootnodes: &[String],
    sim: &SimArgs,
    attestations: bool,
) -> Result<Target, CliError> {
    let explicit = parse_bootnodes(bootnodes)?;
    if network == "sim" {
        let net = valtrack::sentry::sim::SimNet::builder(sim.sim_nodes as usize)
            .seed(sim.sim_seed)
            .attestations(attestations)
            .spawn()
            .await
            .map_err(CliError::from)?;
        tracing::info!(
            target: "valtrack",
            nodes = net.len(),
            digest = %net.fork_digest(),
            "simulated network started"
        );
        let bootnodes = if explicit.is_empty() {
            vec![parse_enr(&net.bootnode().to_base64())?]
        } else {
            explicit
        };
        return Ok(Target {
            network: net.network().clone(),
            bootnodes,
            sim: Some(net),
        });
    }
    let network_value = load_network(network)?;
    let bootnodes = if !explicit.is_empty() {
        explicit
    } else if network == "mainnet" {
        let builtin: Vec<String> = valtrack::core::MAINNET_BOOTNODES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        parse_bootnodes(&builtin)?
    } else {
        return Err(CliError(format!(
            "no built-in bootnodes for `{network}`: pass --bootnodes ENR[,ENR…]"
        )));
    };
    Ok(Target {
        network: network_value,
        bootnodes,
        sim: None,
    })
}

/// Builds the sentry service of `args` over `target`, sending events to `sink`.
pub(crate) async fn sentry_service<S: EventSink>(
    args: &CrawlArgs,
    target: &Target,
    sink: S,
) -> Result<valtrack::sentry::SentryService<S>, CliError> {
    use std::net::{IpAddr, Ipv4Addr};
    let sim = target.sim.is_some();
    let (ip, port) = if sim {
        (IpAddr::V4(Ipv4Addr::LOCALHOST), (0, 0, 0))
    } else {
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), (9000, 9000, 9001))
    };
    let mut builder = valtrack::sentry::SentryService::builder(target.network.clone())
        .bootnodes(target.bootnodes.iter().cloned())
        .listen_ip(args.listen_addr.unwrap_or(ip))
        .ports(
            args.discovery_port.unwrap_or(port.0),
            args.tcp_port.unwrap_or(port.1),
            args.quic_port.unwrap_or(port.2),
        )
        .crawler(&args.crawler_id, &args.crawler_location)
        .concurrency(args.concurrency)
        .recrawl_interval(args.recrawl_interval)
        .attestations(args.attestations)
        .kept_peers(args.kept_peers);
    if let Some(d) = args.revisit_interval {
        builder = builder.revisit_interval(d);
    }
    if let Some(d) = args.fork_digest {
        builder = builder.extra_digest(d);
    }
    let service = builder.build(sink).await?;
    tracing::info!(
        target: "valtrack",
        peer_id = %service.host().peer_id(),
        listen = ?service.host().listen_addrs(),
        discv5 = %service.crawler().listen_addr(),
        bootnodes = target.bootnodes.len(),
        "sentry started"
    );
    Ok(service)
}

/// Completes after `duration`, or at Ctrl-C.
pub(crate) async fn shutdown_signal(duration: Option<Duration>) {
    match duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs `summary()` every [`SUMMARY_EVERY`] until aborted.
pub(crate) fn spawn_reporter(
    summary: impl Fn() -> String + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SUMMARY_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            tracing::info!(target: "valtrack", "{}", summary());
        }
    })
}

pub(crate) async fn run_sentry(args: SentryArgs, _nats_url: &str) -> Result<(), CliError> {
    use valtrack::core::DynEventSink;
    // Check the sink before starting anything.
    let sink: Box<dyn DynEventSink> = match &args.sink {
        SinkArg::Stdout => Box::new(StdoutSink),
        SinkArg::Jsonl(path) => Box::new(
            valtrack::sink::JsonlSink::open(path)
                .map_err(|e| CliError(format!("{}: {}", path.display(), CliError::from(e).0)))?,
        ),
    };
    let args = args.crawl;
    let target = target(&args.network, &args.bootnodes, &args.sim, args.attestations).await?;
    let service = sentry_service(&args, &target, sink).await?;
    let summary = service.summary();
    let reporter = spawn_reporter(service.summary());
    let result = service.run(shutdown_signal(args.duration)).await;
    reporter.abort();
    tracing::info!(target: "valtrack", "stopped: {}", summary());
    drop(target);
    result.map_err(CliError::from)
}

/// Counts what reaches the inner sink, per table.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    counts: std::sync::Arc<[std::sync::atomic::AtomicU64; 5]>,
}

fn table_index(kind: valtrack::core::EventKind) -> usize {
    use valtrack::core::EventKind as K;
    match kind {
        K::Discovery => 0,
        K::Metadata => 1,
        K::ValidatorMetadata => 2,
        K::Attestation => 3,
        _ => 4,
    }
}

impl<S: EventSink> EventSink for Counting<S> {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let i = table_index(event.kind());
        self.inner.send(event).await?;
        self.counts[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        self.inner.flush().await
    }
}

/// `valtrack run`: the sentry writing Parquet under `--data-dir`, in one process.
pub(crate) async fn run_embedded(args: RunArgs) -> Result<(), CliError> {
    use std::sync::atomic::Ordering::Relaxed;
    use valtrack::sink::{ParquetSink, ParquetSinkConfig};
    let config = ParquetSinkConfig::builder(&args.data_dir)
        .max_file_age(Duration::from_secs(60))
        .build()
        .map_err(|e| {
            CliError(format!(
                "{}: {}",
                args.data_dir.display(),
                CliError::from(e).0
            ))
        })?;
    let parquet = ParquetSink::open(config).map_err(|e| {
        CliError(format!(
            "{}: {}",
            args.data_dir.display(),
            CliError::from(e).0
        ))
    })?;
    let counts: std::sync::Arc<[std::sync::atomic::AtomicU64; 5]> = std::sync::Arc::default();
    let sink = Counting {
        inner: parquet,
        counts: counts.clone(),
    };
    let crawl = args.crawl;
    let target = target(
        &crawl.network,
        &crawl.bootnodes,
        &crawl.sim,
        crawl.attestations,
    )
    .await?;
    let service = sentry_service(&crawl, &target, sink).await?;
    tracing::info!(target: "valtrack", data_dir = %args.data_dir.display(), "writing Parquet tables");
    let summary = service.summary();
    let reporter = spawn_reporter(service.summary());
    let result = service.run(shutdown_signal(crawl.duration)).await;
    reporter.abort();
    drop(target);
    let written = |i: usize| counts[i].load(Relaxed);
    tracing::info!(
        target: "valtrack",
        "stopped: {}; written to {}: discovery_events {}, metadata_events {}, validator_metadata_events {}, attestation_events {}",
        summary(),
        args.data_dir.display(),
        written(0),
        written(1),
        written(2),
        written(3),
    );
    result.map_err(CliError::from)
}
