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
    /// Sentry and storage in one process, no NATS: Parquet tables under --data-dir.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConsumerArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The network whose clock dates the derived estimates (a preset or a config directory).
    #[arg(long, default_value = "mainnet", env = "VALTRACK_NETWORK")]
    network: String,
    /// Genesis time (Unix seconds) of a --network directory that has no genesis.ssz.
    #[arg(long, env = "VALTRACK_GENESIS_TIME")]
    genesis_time: Option<u64>,
    /// Durable consumer name: keep it stable so a restart resumes where it stopped.
    #[arg(long, default_value = valtrack::sink::consumer::DEFAULT_CONSUMER_NAME)]
    name: String,
    /// Messages per pull request.
    #[arg(long, default_value_t = valtrack::sink::consumer::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// JetStream stream to read (created when missing; subjects `valtrack.>`).
    #[arg(long, default_value = valtrack::sink::DEFAULT_STREAM)]
    stream: String,
    /// How long JetStream waits for an ack before redelivering (after a crash, unacked
    /// messages come back after this long).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    ack_wait: Duration,
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

fn parse_beacon_api(s: &str) -> Result<valtrack::sentry::BeaconApi, String> {
    valtrack::sentry::BeaconApi::new(s).map_err(|e| e.to_string())
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
    /// Where events go: `stdout`, `jsonl:PATH` or `nats` [default: `nats` when --nats-url
    /// (or VALTRACK_NATS_URL) is given, else `stdout`].
    #[arg(long)]
    sink: Option<SinkArg>,
    /// Where the NATS sink keeps events while NATS is unreachable (replayed in order when it
    /// is back).
    #[arg(long, default_value = "./data/nats-spool", env = "VALTRACK_SPOOL_DIR")]
    spool_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) crawl: CrawlArgs,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Where and how events are stored (`run` and `consumer`).
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Directory of the Parquet tables (Hive layout: TABLE/date=YYYY-MM-DD/part-….parquet)
    /// and of the tracker database (tracker.redb).
    #[arg(
        long,
        default_value = "./data",
        env = "VALTRACK_DATA_DIR",
        visible_alias = "output-dir"
    )]
    pub(crate) data_dir: PathBuf,
    /// MaxMind-format City database (.mmdb) for peer locations.
    #[arg(long, env = "VALTRACK_GEOIP_CITY")]
    pub(crate) geoip_city: Option<PathBuf>,
    /// MaxMind-format ASN database (.mmdb) for peer locations.
    #[arg(long, env = "VALTRACK_GEOIP_ASN")]
    pub(crate) geoip_asn: Option<PathBuf>,
    /// Serve the tracker's HTTP API on this address (e.g. 127.0.0.1:8080).
    #[arg(long, env = "VALTRACK_API_LISTEN")]
    pub(crate) api_listen: Option<std::net::SocketAddr>,
    /// File of API keys, one per line: requests with a valid `X-API-Key` see the admin view
    /// (IPs, ENRs, multiaddrs, exact coordinates).
    #[arg(long, env = "VALTRACK_API_KEYS_FILE")]
    pub(crate) api_keys_file: Option<PathBuf>,
}

/// What `sentry` and `run` share: the network, discovery, libp2p and scheduling settings.
#[derive(Debug, Args)]
pub(crate) struct CrawlArgs {
    /// Network: mainnet, sepolia, holesky, hoodi, sim (an in-process simulated network on
    /// loopback), or a directory with a consensus `config.yaml` and `genesis.ssz` (or
    /// `genesis_validators_root.txt`), and optionally `bootstrap_nodes.txt` (or
    /// `boot_enr.yaml`) with its bootnodes' ENRs.
    #[arg(long, default_value = "mainnet", env = "VALTRACK_NETWORK")]
    network: String,
    /// Genesis time (Unix seconds) of a --network directory that has no genesis.ssz.
    #[arg(long, env = "VALTRACK_GENESIS_TIME")]
    genesis_time: Option<u64>,
    #[command(flatten)]
    sim: SimArgs,
    /// Treat this fork digest as ours too (devnets whose genesis data you lack).
    #[arg(long, value_parser = parse_digest)]
    fork_digest: Option<ForkDigest>,
    /// Bootnode ENRs, comma-separated (mainnet's are built in; a network directory's
    /// `bootstrap_nodes.txt` or `boot_enr.yaml` is read when this is not given).
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
    #[arg(long, default_value_t = valtrack::sentry::sentry::DEFAULT_CONCURRENCY)]
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
    #[arg(long, default_value_t = valtrack::sentry::handshaker::DEFAULT_KEPT_PEERS)]
    kept_peers: usize,
    /// With --attestations: a beacon node's REST API (e.g. http://127.0.0.1:5052) whose
    /// committees name the validators of phase0 attestations (forks before Electra); without
    /// it those are recorded by committee seat, unresolved.
    #[arg(long, env = "VALTRACK_BEACON_API", requires = "attestations", value_parser = parse_beacon_api)]
    beacon_api: Option<valtrack::sentry::BeaconApi>,
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

/// Resolves `--network`: a preset name or a config directory, whose genesis time comes from
/// its `genesis.ssz`, else from `genesis_time` (`--genesis-time`), else from its config.
pub(crate) fn load_network(arg: &str, genesis_time: Option<u64>) -> Result<Network, CliError> {
    if let Ok(preset) = arg.parse::<NetworkPreset>() {
        if genesis_time.is_some() {
            return Err(CliError(format!(
                "--genesis-time is for a network directory: `{arg}` has its own genesis time"
            )));
        }
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
    let flag = genesis_time.map(Duration::from_secs);
    if let (Some(file), Some(flag)) = (time, flag) {
        if file != flag {
            return Err(CliError(format!(
                "--genesis-time {} disagrees with {} (genesis time {})",
                flag.as_secs(),
                genesis.display(),
                file.as_secs()
            )));
        }
    }
    let time = time.or(flag);
    let mut builder = Network::builder(config, root);
    if let Some(time) = time {
        builder = builder.genesis_time(time);
    }
    let network = builder.build()?;
    if time.is_none() {
        // Fork digests do not need the genesis time, but slot timing (attestation delays,
        // estimate epochs, which committees to fetch) does.
        tracing::warn!(target: "valtrack", dir = %dir.display(), genesis_time = network.genesis_time().as_secs(),
            "no genesis.ssz nor --genesis-time: genesis time taken as MIN_GENESIS_TIME + GENESIS_DELAY; slot timing is wrong if the network started later");
    }
    Ok(network)
}

/// The files a network directory lists its bootnodes in, as the eth-clients network
/// repositories name them; the first one present is read.
const BOOTNODE_FILES: [&str; 2] = ["bootstrap_nodes.txt", "boot_enr.yaml"];

/// Largest bootnode file read (real ones are a few kB).
const MAX_BOOTNODE_FILE: u64 = 1 << 20;

/// The bootnode ENRs of a network directory's `bootstrap_nodes.txt` (one per line) or
/// `boot_enr.yaml` (a list), `#` comments and blank lines skipped; `None` when it has neither
/// file. A bad ENR is an error naming the file and line.
pub(crate) fn network_dir_bootnodes(dir: &Path) -> Result<Option<Vec<Enr>>, CliError> {
    let Some(path) = BOOTNODE_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let io_err = |e: std::io::Error| CliError(format!("{}: {e}", path.display()));
    let len = std::fs::metadata(&path).map_err(io_err)?.len();
    if len > MAX_BOOTNODE_FILE {
        return Err(CliError(format!(
            "{}: {len} bytes, larger than a bootnode list can be ({MAX_BOOTNODE_FILE})",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(io_err)?;
    let mut enrs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // `- "enr:…" # comment` (YAML) or `enr:…` (text)
        let line = line.split('#').next().unwrap_or_default().trim();
        let entry = line
            .strip_prefix('-')
            .unwrap_or(line)
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        if entry.is_empty() {
            continue;
        }
        let enr = parse_enr(entry).map_err(|e| {
            CliError(format!(
                "{} line {}: not a valid ENR: {}",
                path.display(),
                i + 1,
                CliError::from(e).0
            ))
        })?;
        enrs.push(enr);
    }
    if enrs.is_empty() {
        return Err(CliError(format!("{}: no ENRs in it", path.display())));
    }
    Ok(Some(enrs))
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

/// Writes JSON lines to standard output, in order: through one handle (tokio writes each
/// handle's data on a blocking thread, so two handles could overtake each other), whose
/// flush waits for the writes handed to it.
#[derive(Debug)]
pub(crate) struct StdoutSink(tokio::sync::Mutex<tokio::io::Stdout>);

impl Default for StdoutSink {
    fn default() -> Self {
        Self(tokio::sync::Mutex::new(tokio::io::stdout()))
    }
}

impl EventSink for StdoutSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        use tokio::io::AsyncWriteExt;
        let mut line = event.to_json();
        line.push(b'\n');
        self.0.lock().await.write_all(&line).await?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), SinkError> {
        use tokio::io::AsyncWriteExt;
        self.0.lock().await.flush().await?;
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
    // Colours only on a terminal (not in log files), and never with NO_COLOR set.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
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
    pub(crate) sim: Option<valtrack_sim::SimNet>,
}

/// Resolves `--network` and the bootnodes; starts the simulated network for `sim` (whose
/// validators publish attestations when `attestations`).
pub(crate) async fn target(args: &CrawlArgs) -> Result<Target, CliError> {
    let (network, sim, attestations) = (args.network.as_str(), &args.sim, args.attestations);
    let explicit = parse_bootnodes(&args.bootnodes)?;
    if network == "sim" {
        if args.genesis_time.is_some() {
            return Err(CliError(
                "--genesis-time is for a network directory: the simulated network keeps its own clock"
                    .into(),
            ));
        }
        let net = valtrack_sim::SimNet::builder(sim.sim_nodes as usize)
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
    let network_value = load_network(network, args.genesis_time)?;
    let bootnodes = if !explicit.is_empty() {
        explicit
    } else if network == "mainnet" {
        let builtin: Vec<String> = valtrack::core::MAINNET_BOOTNODES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        parse_bootnodes(&builtin)?
    } else if network.parse::<NetworkPreset>().is_ok() {
        return Err(CliError(format!(
            "no built-in bootnodes for `{network}`: pass --bootnodes ENR[,ENR…]"
        )));
    } else {
        // load_network accepted it: a network directory
        let dir = Path::new(network);
        let listed = network_dir_bootnodes(dir)?.ok_or_else(|| {
            CliError(format!(
                "no bootnodes for `{network}`: pass --bootnodes ENR[,ENR…] or list them in {}",
                dir.join(BOOTNODE_FILES[0]).display()
            ))
        })?;
        tracing::info!(target: "valtrack", bootnodes = listed.len(), dir = %dir.display(), "bootnodes from the network directory");
        listed
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
    if let Some(api) = &args.beacon_api {
        builder = builder.beacon_api(api.clone());
    }
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

pub(crate) async fn run_sentry(
    args: SentryArgs,
    nats_url: &str,
    nats_url_given: bool,
) -> Result<(), CliError> {
    use valtrack::core::DynEventSink;
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
    let sink: Box<dyn DynEventSink> = match &sink_arg {
        SinkArg::Stdout => Box::new(StdoutSink::default()),
        SinkArg::Nats => match nats_config {
            Some(config) => Box::new(valtrack::sink::NatsSink::connect(config).await?),
            None => return Err(CliError("NATS sink without a config".into())),
        },
        SinkArg::Jsonl(path) => Box::new(
            valtrack::sink::JsonlSink::open(path)
                .map_err(|e| CliError(format!("{}: {}", path.display(), CliError::from(e).0)))?,
        ),
    };
    let args = args.crawl;
    let target = target(&args).await?;
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
pub(crate) struct Counting<S> {
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

/// The storage side: derived rows, Parquet tables and the tracker store, and the HTTP API
/// when asked for. What `run` and `consumer` write through.
pub(crate) struct Storage {
    counts: std::sync::Arc<[std::sync::atomic::AtomicU64; 5]>,
    data_dir: PathBuf,
    api: Option<(
        tokio::task::JoinHandle<std::io::Result<()>>,
        tokio::sync::oneshot::Sender<()>,
    )>,
}

impl Storage {
    /// Opens the tables and the tracker under `--data-dir`, the GeoIP databases and the API;
    /// returns the sink to write through.
    pub(crate) async fn open(
        args: &StoreArgs,
        network: Option<Network>,
    ) -> Result<(Self, StorageSink), CliError> {
        use std::sync::Arc;
        use valtrack::core::DynEventSink;
        use valtrack::sink::{
            ApiKeys, DeriveSink, FanoutSink, GeoIp, ParquetSink, ParquetSinkConfig, TrackerSink,
            TrackerStore,
        };
        let dir = &args.data_dir;
        let at = |e: &dyn std::fmt::Display| CliError(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| at(&e))?;
        let config = ParquetSinkConfig::builder(dir)
            .max_file_age(Duration::from_secs(60))
            .build()
            .map_err(|e| at(&CliError::from(e).0))?;
        let parquet = ParquetSink::open(config).map_err(|e| at(&CliError::from(e).0))?;
        let db = dir.join("tracker.redb");
        let store = Arc::new(
            TrackerStore::open(&db)
                .map_err(|e| CliError(format!("{}: {}", db.display(), CliError::from(e).0)))?,
        );
        let geoip = if args.geoip_city.is_some() || args.geoip_asn.is_some() {
            Some(Arc::new(
                GeoIp::open(args.geoip_city.as_deref(), args.geoip_asn.as_deref())
                    .map_err(CliError::from)?,
            ))
        } else {
            None
        };
        let mut tracker = TrackerSink::new(store.clone());
        if let Some(g) = &geoip {
            tracker = tracker.with_geoip(g.clone());
        }
        let api = match args.api_listen {
            Some(addr) => {
                let keys = match &args.api_keys_file {
                    Some(path) => ApiKeys::from_file(path).map_err(CliError::from)?,
                    None => ApiKeys::none(),
                };
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| CliError(format!("--api-listen {addr}: {e}")))?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let served = tokio::spawn(valtrack::sink::serve(listener, store, keys, async {
                    let _ = stopped.await;
                }));
                Some((served, stop))
            }
            None => {
                if args.api_keys_file.is_some() {
                    return Err(CliError("--api-keys-file needs --api-listen".into()));
                }
                None
            }
        };
        let sinks: Vec<Box<dyn DynEventSink>> = vec![Box::new(parquet), Box::new(tracker)];
        let counts: Arc<[std::sync::atomic::AtomicU64; 5]> = Arc::default();
        let mut sink = DeriveSink::new(Counting {
            inner: FanoutSink::new(sinks),
            counts: counts.clone(),
        });
        if let Some(n) = network {
            sink = sink.with_network(n);
        }
        if let Some(g) = geoip {
            sink = sink.with_geoip(g);
        }
        let storage = Self {
            counts,
            data_dir: dir.clone(),
            api,
        };
        Ok((storage, sink))
    }

    /// `N discovery_events, …` written so far.
    pub(crate) fn written(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let n = |i: usize| self.counts[i].load(Relaxed);
        format!(
            "written to {}: discovery_events {}, metadata_events {}, validator_metadata_events {}, validator_attributions {}, peer_locations {}",
            self.data_dir.display(),
            n(0),
            n(1),
            n(2),
            n(3),
            n(4)
        )
    }

    /// Stops the API server, if any.
    pub(crate) async fn stop_api(&mut self) {
        if let Some((served, stop)) = self.api.take() {
            let _ = stop.send(());
            let _ = served.await;
        }
    }
}

/// What [`Storage::open`] writes through.
pub(crate) type StorageSink = valtrack::sink::DeriveSink<Counting<valtrack::sink::FanoutSink>>;

/// `valtrack run`: the sentry writing Parquet under `--data-dir`, in one process.
pub(crate) async fn run_embedded(args: RunArgs) -> Result<(), CliError> {
    let crawl = args.crawl;
    let target = target(&crawl).await?;
    let (mut storage, sink) = Storage::open(&args.store, Some(target.network.clone())).await?;
    let service = sentry_service(&crawl, &target, sink).await?;
    tracing::info!(target: "valtrack", data_dir = %args.store.data_dir.display(), "writing Parquet tables and the tracker store");
    let summary = service.summary();
    let written = {
        let counts = storage.counts.clone();
        let dir = storage.data_dir.clone();
        move || {
            use std::sync::atomic::Ordering::Relaxed;
            format!(
                "rows written to {}: {}",
                dir.display(),
                counts.iter().map(|c| c.load(Relaxed)).sum::<u64>()
            )
        }
    };
    let reporter = {
        let summary = service.summary();
        let written = written.clone();
        spawn_reporter(move || format!("{}; {}", summary(), written()))
    };
    let result = service.run(shutdown_signal(crawl.duration)).await;
    reporter.abort();
    drop(target);
    storage.stop_api().await;
    tracing::info!(target: "valtrack", "stopped: {}; {}", summary(), storage.written());
    result.map_err(CliError::from)
}

/// `valtrack consumer`: JetStream → derived rows → Parquet tables and the tracker store.
pub(crate) async fn run_consumer(args: ConsumerArgs, nats_url: &str) -> Result<(), CliError> {
    use valtrack::sink::consumer::{Consumer, ConsumerConfig};
    use valtrack::sink::NatsConfig;

    let network = load_network(&args.network, args.genesis_time)?;
    let nats = NatsConfig::builder(nats_url).stream(&args.stream).build()?;
    let config = ConsumerConfig::builder(nats)
        .name(&args.name)
        .batch_size(args.batch_size)
        .ack_wait(args.ack_wait)
        .seed_from_parquet(&args.store.data_dir)
        .build()?;
    let (mut storage, sink) = Storage::open(&args.store, Some(network)).await?;
    tracing::info!(
        target: "valtrack",
        nats = nats_url,
        stream = %args.stream,
        consumer = %args.name,
        data_dir = %args.store.data_dir.display(),
        "consumer started"
    );
    let result = Consumer::new(config, sink)
        .run(shutdown_signal(args.duration))
        .await;
    storage.stop_api().await;
    let stats = result?;
    tracing::info!(
        target: "valtrack",
        "stopped: received {}, written {}, duplicates {}, dead-lettered {}; {}",
        stats.received,
        stats.written,
        stats.duplicates,
        stats.dead_lettered,
        storage.written()
    );
    Ok(())
}
