//! Argument parsing and wiring for the `valtrack` binary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Read events from NATS JetStream into Parquet tables (durable consumer, deduplicated).
    Consumer(ConsumerArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConsumerArgs {
    /// Directory of the Parquet dataset (`<dir>/<table>/date=YYYY-MM-DD/part-….parquet`).
    #[arg(long, default_value = "./data", env = "VALTRACK_OUTPUT_DIR")]
    output_dir: PathBuf,
    /// Durable consumer name: keep it stable so a restart resumes where it stopped.
    #[arg(long, default_value = valtrack::sink::consumer::DEFAULT_CONSUMER_NAME)]
    name: String,
    /// Messages per pull request.
    #[arg(long, default_value_t = valtrack::sink::consumer::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// JetStream stream to read (created when missing; subjects `valtrack.>`).
    #[arg(long, default_value = valtrack::sink::DEFAULT_STREAM)]
    stream: String,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkArg {
    /// One JSON object per line on standard output.
    Stdout,
    /// Appended as JSON lines to a file.
    Jsonl(PathBuf),
    /// Published to NATS JetStream (`--nats-url`), spooled to `--spool-dir` during outages.
    Nats,
}

impl FromStr for SinkArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" => Ok(Self::Stdout),
            "nats" => Ok(Self::Nats),
            _ => match s.strip_prefix("jsonl:") {
                Some(path) if !path.is_empty() => Ok(Self::Jsonl(PathBuf::from(path))),
                _ => Err(format!(
                    "unknown sink `{s}`: use `stdout`, `jsonl:PATH` or `nats`"
                )),
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
    /// Network: mainnet, sepolia, holesky, hoodi, or a directory with a consensus
    /// `config.yaml` and `genesis_validators_root.txt` (optionally `genesis.ssz`).
    #[arg(long, default_value = "mainnet", env = "VALTRACK_NETWORK")]
    network: String,
    /// Treat this fork digest as ours too (devnets whose genesis data you lack).
    #[arg(long, value_parser = parse_digest)]
    fork_digest: Option<ForkDigest>,
    /// Bootnode ENRs, comma-separated (mainnet's are built in).
    #[arg(long, value_delimiter = ',', env = "VALTRACK_BOOTNODES")]
    bootnodes: Vec<String>,
    /// IP address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    listen_addr: std::net::IpAddr,
    /// UDP port for discv5.
    #[arg(long, default_value_t = 9000)]
    discovery_port: u16,
    /// TCP port for libp2p.
    #[arg(long, default_value_t = 9000)]
    tcp_port: u16,
    /// UDP port for libp2p QUIC.
    #[arg(long, default_value_t = 9001)]
    quic_port: u16,
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
    /// Where events go: `stdout`, `jsonl:PATH` or `nats` [default: `nats` when --nats-url
    /// (or VALTRACK_NATS_URL) is given, else `stdout`].
    #[arg(long)]
    sink: Option<SinkArg>,
    /// Where the NATS sink keeps events while NATS is unreachable (replayed in order when it
    /// is back).
    #[arg(long, default_value = "./data/nats-spool", env = "VALTRACK_SPOOL_DIR")]
    spool_dir: PathBuf,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
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
            "unknown network `{arg}`: use mainnet, sepolia, holesky, hoodi or a config directory"
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
    let matches = Cli::command().get_matches();
    let nats_url_given = !matches!(
        matches.value_source("nats_url"),
        None | Some(ValueSource::DefaultValue)
    );
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log_level) {
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
            Command::Sentry(args) => {
                crate::cli::run_sentry(args, &cli.nats_url, nats_url_given).await
            }
            Command::Consumer(args) => crate::cli::run_consumer(args, &cli.nats_url).await,
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

fn summary(
    stats: &valtrack::sentry::SentryStats,
    crawler: &valtrack::sentry::Discv5Crawler,
) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let c = crawler.stats();
    format!(
        "dht nodes {} (requests {}), peers {}, handshakes ok {} failed {}, events {} (sink errors {})",
        c.known,
        c.requests,
        stats.peers.load(Relaxed),
        stats.handshakes_ok.load(Relaxed),
        stats.handshakes_failed.load(Relaxed),
        stats.events.load(Relaxed),
        stats.sink_errors.load(Relaxed),
    )
}

pub(crate) async fn run_sentry(
    args: SentryArgs,
    nats_url: &str,
    nats_url_given: bool,
) -> Result<(), CliError> {
    use std::net::SocketAddr;
    use valtrack::core::DynEventSink;
    use valtrack::sentry::{
        generate_secret_key, CrawlerConfig, Discv5Crawler, GossipProbe, HandshakeConfig, Host,
        HostConfig, Libp2pHandshaker, Sentry, SentryConfig,
    };

    let sink_arg = args.sink.clone().unwrap_or(if nats_url_given {
        SinkArg::Nats
    } else {
        SinkArg::Stdout
    });
    // Checked before any network is touched, so a bad flag fails fast.
    let nats_config = match sink_arg {
        SinkArg::Nats => Some(
            valtrack::sink::NatsSinkConfig::builder(
                valtrack::sink::NatsConfig::builder(nats_url).build()?,
                &args.spool_dir,
            )
            .build()?,
        ),
        _ => None,
    };
    let network = load_network(&args.network)?;
    let bootnodes: Vec<String> = if !args.bootnodes.is_empty() {
        args.bootnodes.clone()
    } else if args.network == "mainnet" {
        valtrack::core::MAINNET_BOOTNODES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        return Err(CliError(format!(
            "no built-in bootnodes for `{}`: pass --bootnodes ENR[,ENR…]",
            args.network
        )));
    };
    parse_bootnodes(&bootnodes)?;
    let sink: Box<dyn DynEventSink> = match &sink_arg {
        SinkArg::Stdout => Box::new(StdoutSink),
        SinkArg::Nats => match nats_config {
            Some(config) => Box::new(valtrack::sink::NatsSink::connect(config).await?),
            None => return Err(CliError("NATS sink without a config".into())),
        },
        SinkArg::Jsonl(path) => Box::new(
            valtrack::sink::JsonlSink::open(path)
                .map_err(|e| CliError(format!("{}: {}", path.display(), CliError::from(e).0)))?,
        ),
    };
    let key = generate_secret_key();
    let ip = args.listen_addr;
    let multiaddr = |proto: &str, port: u16| {
        let family = if ip.is_ipv4() { "ip4" } else { "ip6" };
        format!("/{family}/{ip}/{proto}/{port}")
    };
    let host_config = HostConfig::builder(network.clone())
        .secret_key(key)
        .listen_on(
            multiaddr("tcp", args.tcp_port)
                .parse()
                .map_err(CliError::from)?,
        )
        .listen_on(
            format!("{}/quic-v1", multiaddr("udp", args.quic_port))
                .parse()
                .map_err(CliError::from)?,
        )
        .build()?;
    let host = Host::spawn(host_config).await?;
    let mut crawler_config = CrawlerConfig::builder(&network)
        .bootnodes(&bootnodes)
        .listen(SocketAddr::new(ip, args.discovery_port))
        .secret_key(key);
    if let Some(d) = args.fork_digest {
        crawler_config = crawler_config.extra_digest(d);
    }
    let crawler = std::sync::Arc::new(Discv5Crawler::spawn(crawler_config.build()?).await?);
    let handshaker = Libp2pHandshaker::new(
        host.clone(),
        HandshakeConfig {
            extra_digests: args.fork_digest.into_iter().collect(),
            ..HandshakeConfig::default()
        },
    );
    let revisit = args
        .revisit_interval
        .unwrap_or_else(|| network.epoch_duration());
    let config = SentryConfig::builder(&args.crawler_id, &args.crawler_location)
        .concurrency(args.concurrency)
        .revisit_interval(revisit)
        .build()?;
    tracing::info!(
        target: "valtrack",
        peer_id = %host.peer_id(),
        listen = ?host.listen_addrs(),
        discv5 = %crawler.listen_addr(),
        bootnodes = bootnodes.len(),
        "sentry started"
    );
    let probe = GossipProbe::new(host.clone());
    let crawler_handle = crawler.clone();
    let sentry = Sentry::new(crawler, handshaker, sink, config).with_probe(&probe);
    let stats = sentry.stats();
    let reporter = {
        let stats = stats.clone();
        let crawler = crawler_handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SUMMARY_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                tracing::info!(target: "valtrack", "{}", summary(&stats, &crawler));
            }
        })
    };
    let shutdown = stop_signal(args.duration);
    let result = sentry.run(shutdown).await;
    reporter.abort();
    tracing::info!(target: "valtrack", "stopped: {}", summary(&stats, &crawler_handle));
    result.map_err(CliError::from)
}

/// Stops on Ctrl-C, or after `duration` when given.
async fn stop_signal(duration: Option<Duration>) {
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

pub(crate) async fn run_consumer(args: ConsumerArgs, nats_url: &str) -> Result<(), CliError> {
    use valtrack::sink::consumer::{Consumer, ConsumerConfig};
    use valtrack::sink::{NatsConfig, ParquetSink, ParquetSinkConfig};

    let nats = NatsConfig::builder(nats_url).stream(&args.stream).build()?;
    let config = ConsumerConfig::builder(nats)
        .name(&args.name)
        .batch_size(args.batch_size)
        .seed_from_parquet(&args.output_dir)
        .build()?;
    let dir = args.output_dir.display().to_string();
    let sink = ParquetSink::open(ParquetSinkConfig::builder(&args.output_dir).build()?)
        .map_err(|e| CliError(format!("{dir}: {}", CliError::from(e).0)))?;
    tracing::info!(target: "valtrack", nats = nats_url, stream = %args.stream, consumer = %args.name, output = %dir, "consumer started");
    let stats = Consumer::new(config, sink)
        .run(stop_signal(args.duration))
        .await?;
    tracing::info!(
        target: "valtrack",
        "stopped: received {}, written {}, duplicates {}, dead-lettered {}",
        stats.received,
        stats.written,
        stats.duplicates,
        stats.dead_lettered
    );
    Ok(())
}
