//! Argument groups, one per concern, flattened only into the commands that use them; each
//! default is the library's `DEFAULT_*` constant, and each group builds the library's config.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use valtrack::core::ForkDigest;
use valtrack::sentry::{crawler, handshaker, sentry, service};
use valtrack::sink::store::{self, StoreConfig, StoreConfigBuilder};

use super::CliError;

/// The default `--network`.
pub(crate) const DEFAULT_NETWORK: &str = "mainnet";

/// A positive duration in humantime form (`384s`, `6m`, `1h`), shown the same way in help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d =
            humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (e.g. 384s, 6m, 1h)"))?;
        if d.is_zero() {
            return Err("must be positive".into());
        }
        Ok(Self(d))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

fn parse_digest(s: &str) -> Result<ForkDigest, String> {
    s.parse()
        .map_err(|e| format!("`{s}` is not a 4-byte fork digest: {e}"))
}

/// A duration of at least a second (revisits and recrawls faster than that only flood
/// the network and the tables).
fn parse_interval(s: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = s.parse()?;
    if d.0 < Duration::from_secs(1) {
        return Err(format!("`{s}` is shorter than the minimum, 1s"));
    }
    Ok(d)
}

/// A preset, `sim` or an existing directory (its contents are read later).
fn parse_network(s: &str) -> Result<String, String> {
    if s == "sim" || s.parse::<valtrack::core::NetworkPreset>().is_ok() || Path::new(s).is_dir() {
        return Ok(s.to_owned());
    }
    Err(format!(
        "unknown network `{s}`: use mainnet, sepolia, holesky, hoodi, sim or a config directory"
    ))
}

/// One bootnode ENR (`enr:-…`); its list is comma-separated.
fn parse_bootnode(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty bootnode in the list (a stray comma?)".into());
    }
    valtrack::core::parse_enr(s).map_err(|e| {
        let shown: String = s.chars().take(24).collect();
        format!("`{shown}…` is not a valid ENR: {e}")
    })?;
    Ok(s.to_owned())
}

/// A NATS server URL, `nats://HOST:PORT` (or `tls://`, `ws://`, `wss://`), or `HOST:PORT`;
/// several separated by commas.
pub(crate) fn parse_nats_url(s: &str) -> Result<String, String> {
    for url in s.split(',') {
        let url = url.trim();
        let scheme_ok = ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        let host_port = url
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !(scheme_ok || host_port) || url.contains(char::is_whitespace) {
            return Err(format!(
                "`{url}` is not a NATS server URL (e.g. nats://127.0.0.1:4222)"
            ));
        }
    }
    Ok(s.to_owned())
}

fn parse_beacon_api(s: &str) -> Result<valtrack::sentry::BeaconApi, String> {
    valtrack::sentry::BeaconApi::new(s).map_err(|e| e.to_string())
}

/// The NATS server (`sentry --sink nats` and `consumer`).
#[derive(Debug, Clone, Args)]
pub(crate) struct NatsArgs {
    /// NATS server URL (the server needs JetStream), or the servers of a cluster,
    /// comma-separated (nats://a:4222,nats://b:4222,nats://c:4222).
    #[arg(
        short = 'n',
        long,
        default_value = valtrack::sink::DEFAULT_NATS_URL,
        env = "VALTRACK_NATS_URL",
        value_parser = parse_nats_url
    )]
    pub(crate) nats_url: String,
    /// Servers of a JetStream cluster that keep a copy of the stream (1 to 5; 3 for a
    /// 3-server cluster). When given, a new stream is created with it and an existing one is
    /// scaled to it [default: 1 for a new stream; an existing one keeps its own].
    #[arg(long, env = "VALTRACK_STREAM_REPLICAS", value_parser = clap::value_parser!(u8).range(1..=5))]
    pub(crate) stream_replicas: Option<u8>,
}

impl NatsArgs {
    /// The connection and stream settings for `stream`.
    pub(crate) fn config(&self, stream: &str) -> Result<valtrack::sink::NatsConfig, CliError> {
        let mut builder = valtrack::sink::NatsConfig::builder(&self.nats_url).stream(stream);
        if let Some(n) = self.stream_replicas {
            builder = builder.replicas(usize::from(n));
        }
        Ok(builder.build()?)
    }
}

/// Which network, and (for a network directory) its genesis time.
#[derive(Debug, Clone, Args)]
pub(crate) struct NetworkArgs {
    /// Network: mainnet, sepolia, holesky, hoodi, sim (an in-process simulated network on
    /// loopback), or a directory with a consensus `config.yaml` and `genesis.ssz` (or
    /// `genesis_validators_root.txt`), and optionally `bootstrap_nodes.txt` (or
    /// `boot_enr.yaml`) with its bootnodes' ENRs.
    #[arg(long, default_value = DEFAULT_NETWORK, env = "VALTRACK_NETWORK", value_parser = parse_network)]
    pub(crate) network: String,
    /// Genesis time (Unix seconds) of a --network directory that has no genesis.ssz.
    #[arg(long, env = "VALTRACK_GENESIS_TIME")]
    pub(crate) genesis_time: Option<u64>,
}

/// Settings of `--network sim`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SimArgs {
    /// With --network sim: number of simulated beacon nodes.
    #[arg(long, default_value_t = valtrack_sim::DEFAULT_NODES as u32, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub(crate) sim_nodes: u32,
    /// With --network sim: seed of the simulated network (keys, clients, roles).
    #[arg(long, default_value_t = valtrack_sim::DEFAULT_SEED)]
    pub(crate) sim_seed: u64,
}

/// What `sentry` and `run` share: the network, discovery, libp2p and scheduling settings.
#[derive(Debug, Args)]
pub(crate) struct CrawlArgs {
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
    #[command(flatten)]
    pub(crate) sim: SimArgs,
    /// Treat this fork digest as ours too (devnets whose genesis data you lack): its nodes
    /// are crawled and handshaken.
    #[arg(long, value_parser = parse_digest)]
    pub(crate) fork_digest: Option<ForkDigest>,
    /// Bootnode ENRs, comma-separated (mainnet's are built in; a network directory's
    /// `bootstrap_nodes.txt` or `boot_enr.yaml` is read when this is not given).
    #[arg(long, value_delimiter = ',', env = "VALTRACK_BOOTNODES", value_parser = parse_bootnode)]
    pub(crate) bootnodes: Vec<String>,
    #[arg(long, help = format!(
        "IP address to listen on [default: {}; 127.0.0.1 with --network sim]",
        service::DEFAULT_LISTEN_IP
    ))]
    pub(crate) listen_addr: Option<std::net::IpAddr>,
    #[arg(long, help = format!(
        "UDP port for discv5 [default: {}; any free port with --network sim]",
        service::DEFAULT_DISCOVERY_PORT
    ))]
    pub(crate) discovery_port: Option<u16>,
    #[arg(long, help = format!(
        "TCP port for libp2p [default: {}; any free port with --network sim]",
        service::DEFAULT_TCP_PORT
    ))]
    pub(crate) tcp_port: Option<u16>,
    #[arg(long, help = format!(
        "UDP port for libp2p QUIC [default: {}; any free port with --network sim]",
        service::DEFAULT_QUIC_PORT
    ))]
    pub(crate) quic_port: Option<u16>,
    /// This sentry's id in events.
    #[arg(long, env = "VALTRACK_CRAWLER_ID", default_value = service::DEFAULT_CRAWLER_ID)]
    pub(crate) crawler_id: String,
    /// Where this sentry runs (free text, e.g. a region), in events.
    #[arg(long, env = "VALTRACK_CRAWLER_LOCATION", default_value = service::DEFAULT_CRAWLER_LOCATION)]
    pub(crate) crawler_location: String,
    /// Handshakes in flight (1 to 4096).
    #[arg(long, default_value_t = sentry::DEFAULT_CONCURRENCY,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub(crate) concurrency: usize,
    /// How often every known peer is revisited, at least 1s (default: one epoch of the
    /// network).
    #[arg(long, value_parser = parse_interval)]
    pub(crate) revisit_interval: Option<HumanDuration>,
    /// How often each known node's routing table is enumerated again (at least 1s).
    #[arg(long, default_value_t = HumanDuration(crawler::DEFAULT_RECRAWL_INTERVAL), value_parser = parse_interval)]
    pub(crate) recrawl_interval: HumanDuration,
    /// Stop after this long (default: run until Ctrl-C).
    #[arg(long)]
    pub(crate) duration: Option<HumanDuration>,
    /// Attestation attribution: subscribe to all 64 attestation subnets (advertised
    /// honestly), keep handshaken peers connected and emit an attestation event per first
    /// delivery of each validator's attestation, with attribution evidence.
    #[arg(long, env = "VALTRACK_ATTESTATIONS")]
    pub(crate) attestations: bool,
    /// With --attestations: how many handshaken peers stay connected (at most 100000).
    #[arg(long, default_value_t = handshaker::DEFAULT_KEPT_PEERS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100_000))]
    pub(crate) kept_peers: usize,
    /// With --attestations: a beacon node's REST API (e.g. http://127.0.0.1:5052) whose
    /// committees name the validators of phase0 attestations (forks before Electra); without
    /// it those are recorded by committee seat, unresolved.
    #[arg(long, env = "VALTRACK_BEACON_API", requires = "attestations", value_parser = parse_beacon_api)]
    pub(crate) beacon_api: Option<valtrack::sentry::BeaconApi>,
}

impl CrawlArgs {
    /// The sentry service's builder for `network` and `bootnodes`; `sim` picks loopback and
    /// free ports as the defaults.
    pub(crate) fn service_builder(
        &self,
        network: valtrack::core::Network,
        bootnodes: impl IntoIterator<Item = valtrack::core::Enr>,
        sim: bool,
    ) -> service::SentryServiceBuilder {
        use std::net::{IpAddr, Ipv4Addr};
        let (ip, ports) = if sim {
            (IpAddr::V4(Ipv4Addr::LOCALHOST), (0, 0, 0))
        } else {
            (
                service::DEFAULT_LISTEN_IP,
                (
                    service::DEFAULT_DISCOVERY_PORT,
                    service::DEFAULT_TCP_PORT,
                    service::DEFAULT_QUIC_PORT,
                ),
            )
        };
        let mut builder = valtrack::sentry::SentryService::builder(network)
            .bootnodes(bootnodes)
            .listen_ip(self.listen_addr.unwrap_or(ip))
            .ports(
                self.discovery_port.unwrap_or(ports.0),
                self.tcp_port.unwrap_or(ports.1),
                self.quic_port.unwrap_or(ports.2),
            )
            .crawler(&self.crawler_id, &self.crawler_location)
            .concurrency(self.concurrency)
            .recrawl_interval(self.recrawl_interval.0)
            .attestations(self.attestations)
            .kept_peers(self.kept_peers);
        if let Some(api) = &self.beacon_api {
            builder = builder.beacon_api(api.clone());
        }
        if let Some(d) = self.revisit_interval {
            builder = builder.revisit_interval(d.0);
        }
        if let Some(d) = self.fork_digest {
            builder = builder.extra_digest(d);
        }
        builder
    }
}

/// Where and how events are stored (`run` and `consumer`).
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Directory of the Parquet tables (Hive layout: TABLE/date=YYYY-MM-DD/part-….parquet)
    /// and of the tracker database (tracker.redb).
    #[arg(
        long,
        default_value = store::DEFAULT_DATA_DIR,
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
    #[arg(long, env = "VALTRACK_API_KEYS_FILE", requires = "api_listen")]
    pub(crate) api_keys_file: Option<PathBuf>,
    /// PostgreSQL database to write to instead of Parquet files and tracker.redb
    /// (postgres://user:password@host:port/dbname, TLS as libpq's sslmode, e.g.
    /// ?sslmode=verify-full&sslrootcert=ca.pem): the event tables and the tracker, shared by
    /// every consumer; the API then serves from it. The schema is created or migrated at
    /// start.
    #[arg(long, env = "VALTRACK_DATABASE_URL", hide_env_values = true)]
    pub(crate) database: Option<String>,
}

impl StoreArgs {
    /// The store's configuration builder, dating estimates by `network`'s clock.
    /// Without a network, estimates are dated by each peer's head slot.
    pub(crate) fn builder(&self, network: Option<valtrack::core::Network>) -> StoreConfigBuilder {
        let mut builder = StoreConfig::builder(&self.data_dir);
        if let Some(network) = network {
            builder = builder.network(network);
        }
        if let Some(p) = &self.geoip_city {
            builder = builder.geoip_city(p);
        }
        if let Some(p) = &self.geoip_asn {
            builder = builder.geoip_asn(p);
        }
        if let Some(addr) = self.api_listen {
            builder = builder.api_listen(addr);
        }
        if let Some(p) = &self.api_keys_file {
            builder = builder.api_keys_file(p);
        }
        if let Some(url) = &self.database {
            builder = builder.database(url);
        }
        builder
    }

    /// Opens the store of these settings (`journal`: see `StoreConfigBuilder::journal`).
    pub(crate) async fn open(
        &self,
        network: Option<valtrack::core::Network>,
        journal: bool,
    ) -> Result<(valtrack::sink::Store, valtrack::sink::StoreSink), CliError> {
        self.open_as(network, journal, valtrack::sink::StoreRole::All)
            .await
    }

    /// Opens the store in a fleet `role`.
    pub(crate) async fn open_as(
        &self,
        network: Option<valtrack::core::Network>,
        journal: bool,
        role: valtrack::sink::StoreRole,
    ) -> Result<(valtrack::sink::Store, valtrack::sink::StoreSink), CliError> {
        let config = self.builder(network).journal(journal).role(role).build()?;
        Ok(valtrack::sink::Store::open(config).await?)
    }

    /// As [`open_as`](Self::open_as) (no journal), but a database that cannot be reached
    /// yet is waited for (a consumer is a service: it starts before or during an outage of
    /// its database), until Ctrl-C. Other errors, and a refusal (a wrong password, no such
    /// database), return at once.
    pub(crate) async fn open_waiting(
        &self,
        network: Option<valtrack::core::Network>,
        role: valtrack::sink::StoreRole,
    ) -> Result<(valtrack::sink::Store, valtrack::sink::StoreSink), CliError> {
        let config = self.builder(network).role(role).build()?;
        let mut backoff = Duration::from_millis(500);
        let mut since: Option<(std::time::Instant, std::time::Instant)> = None;
        loop {
            match valtrack::sink::Store::open(config.clone()).await {
                Err(valtrack::sink::StoreError::Database(e)) if e.is_transient() => {
                    let now = std::time::Instant::now();
                    match &mut since {
                        None => {
                            tracing::warn!(target: "valtrack", error = %CliError::from(&e).0, "database unreachable at start; waiting for it (Ctrl-C to stop)");
                            since = Some((now, now));
                        }
                        Some((first, said))
                            if now.duration_since(*said) >= Duration::from_secs(30) =>
                        {
                            tracing::warn!(target: "valtrack", error = %CliError::from(&e).0, waited = ?now.duration_since(*first), "database still unreachable");
                            *said = now;
                        }
                        Some(_) => {}
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = tokio::signal::ctrl_c() => {
                            return Err(CliError(format!("stopped while waiting for the database: {}", CliError::from(&e).0)));
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
                Ok(opened) => {
                    if let Some((first, _)) = since {
                        tracing::info!(target: "valtrack", waited = ?first.elapsed(), "database reachable; starting");
                    }
                    return Ok(opened);
                }
            }
        }
    }
}

/// `rows on disk N (J in journals), held H, write errors E` — the truth about the tables
/// now: on disk means published, or synced to a journal that the next start publishes.
pub(crate) fn storage_line(stats: &valtrack::sink::ParquetStats) -> String {
    let mut line = format!("rows on disk {}", stats.durable());
    if stats.journaled > 0 {
        line += &format!(" ({} in journals)", stats.journaled);
    }
    let waiting = stats.held - stats.journaled.min(stats.held);
    line += &format!(", in memory {waiting}, write errors {}", stats.write_errors);
    if let Some(fault) = &stats.fault {
        line += &format!(" (failing: {fault})");
    }
    line
}

/// At exit: what the tables hold, and exactly what could not be written. `acked_only`: the
/// rows came from JetStream and were acknowledged only once published (the consumer).
pub(crate) fn final_storage_lines(store: &valtrack::sink::Store, acked_only: bool) {
    let stats = store.stats();
    tracing::info!(target: "valtrack", "written to {}: {}", store.location(), store.counts());
    if stats.held == 0 {
        return;
    }
    let fault = stats.fault.as_deref().unwrap_or("the last write failed");
    let dir = store.location();
    if acked_only {
        tracing::error!(
            target: "valtrack",
            "{} rows were not written to {dir}: {fault}; their messages were not acknowledged, so JetStream delivers them again to the next run",
            stats.held,
        );
    } else {
        let lost = stats.held - stats.journaled.min(stats.held);
        tracing::error!(
            target: "valtrack",
            "{} rows were not written to {dir}: {fault}; {} of them are in journals and will be written at the next start, {lost} are lost",
            stats.held,
            stats.journaled,
        );
    }
}
