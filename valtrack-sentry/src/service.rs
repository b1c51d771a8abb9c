//! [`SentryService`]: the full sentry — libp2p host, discv5 crawler, handshaker (outbound and
//! inbound) and GossipSub probe — wired to one [`EventSink`] from a few settings. This is
//! what the `valtrack` binary and the `sentry` example run; embed it the same way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use valtrack_core::{EventSink, ForkDigest, Network, SinkError, SubnetProbe};

use crate::crawler::{CrawlerConfig, CrawlerStats, Discv5Crawler, DEFAULT_RECRAWL_INTERVAL};
use crate::error::{CrawlerError, HostError};
use crate::handshaker::{HandshakeConfig, Libp2pHandshaker, DEFAULT_KEPT_PEERS};
use crate::host::{generate_secret_key, Host, HostConfig};
use crate::probe::GossipProbe;
use crate::sentry::{Sentry, SentryConfig, SentryStats, DEFAULT_CONCURRENCY};

/// Idle-connection timeout of the host when attestations are on: kept connections carry
/// only gossip between revisits.
pub const ATTESTATION_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Why a [`SentryService`] did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The libp2p host (or a sentry setting) was refused.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The discv5 crawler was refused.
    #[error(transparent)]
    Crawler(#[from] CrawlerError),
    /// A sentry setting was refused.
    #[error(transparent)]
    Sentry(#[from] crate::sentry::SentryConfigError),
    /// A handshake setting was refused.
    #[error(transparent)]
    Handshake(#[from] crate::handshaker::HandshakeConfigError),
}

/// How a sentry in attestation mode takes part in GossipSub (see
/// [`SentryServiceBuilder::gossip_strategy`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GossipStrategy {
    /// Keep out of every mesh: prune each GRAFT, graft nobody, take IHAVE only from peers not
    /// subscribed to the topic (only a fanout publisher can send one). Peers send us only what
    /// they publish themselves, so a first delivery names its origin, but peers that publish
    /// to their mesh only (flood publishing off) reach us on their own subnets only when their
    /// mesh is short of D.
    #[default]
    OutOfMeshes,
    /// Join meshes like any peer (GRAFT up to the spec's D, accept GRAFTs up to D_hi), still
    /// IGNOREing every message (we relay nothing). Mesh peers then push us their own messages
    /// and everything they relay on the topic.
    InMeshes,
    /// Join the mesh of every subscribed peer on every topic (GRAFT all of them, accept every
    /// GRAFT), still IGNOREing every message. Every node that accepts us then pushes us its
    /// own messages directly, as well as what it relays. Hopping's best case
    /// (`docs/mesh-hopping.md`); with full meshes about half its claims name a relay, as in
    /// [`InMeshes`](Self::InMeshes) (the README's "How far to trust attributions").
    AllMeshes,
    /// As [`OutOfMeshes`](Self::OutOfMeshes), but IHAVE is taken from every peer, subscribed
    /// to the topic or not, and the first announcer's copy fetched: tests whether an origin's
    /// announcement comes before its relays'.
    OutOfMeshesAnyIhave,
    /// As [`OutOfMeshes`](Self::OutOfMeshes), and a floodsub peer of every peer we dialed
    /// whose identify lists floodsub (go-libp2p-pubsub: Prysm, Caplin), reconnecting to it
    /// once identified: such a peer sends us every message of the topics we joined, its own
    /// first-hand whatever its mesh, and what it forwards, whose copies beat other origins'
    /// own. Measured worse (`docs/gossip-publishing.md`, "Floodsub links"): with full meshes
    /// precision fell to 62 %.
    OutOfMeshesFloodsubLinks,
}

/// D, D_lo and D_hi of a sentry in [`GossipStrategy::AllMeshes`]: above any peer count it
/// keeps, so every heartbeat grafts each subscribed peer not in backoff.
const ALL_MESHES_D: usize = 100_000;

/// Default address the sentry listens on (discv5, TCP and QUIC): every IPv4 interface.
pub const DEFAULT_LISTEN_IP: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// Default UDP port of discv5 (the consensus clients' own default).
pub const DEFAULT_DISCOVERY_PORT: u16 = 9000;
/// Default TCP port of libp2p.
pub const DEFAULT_TCP_PORT: u16 = 9000;
/// Default UDP port of libp2p QUIC.
pub const DEFAULT_QUIC_PORT: u16 = 9001;
/// Default id of the sentry in its events.
pub const DEFAULT_CRAWLER_ID: &str = "valtrack-sentry";
/// Default location of the sentry in its events (free text).
pub const DEFAULT_CRAWLER_LOCATION: &str = "unknown";

/// Settings of a [`SentryService`]. Start with [`SentryService::builder`].
#[derive(Debug, Clone)]
pub struct SentryServiceBuilder {
    network: Network,
    /// Base64 text forms.
    bootnodes: Vec<String>,
    listen_ip: IpAddr,
    discovery_port: u16,
    tcp_port: u16,
    quic_port: u16,
    crawler_id: String,
    crawler_location: String,
    concurrency: usize,
    revisit_interval: Option<Duration>,
    recrawl_interval: Duration,
    extra_digest: Option<ForkDigest>,
    secret_key: Option<[u8; 32]>,
    attestations: bool,
    gossip_strategy: GossipStrategy,
    kept_peers: usize,
    beacon_api: Option<crate::BeaconApi>,
}

impl SentryServiceBuilder {
    /// Bootnode ENRs (at least one is needed to find anything), as
    /// [`parse_enr`](valtrack_core::parse_enr) gives them.
    pub fn bootnodes(mut self, enrs: impl IntoIterator<Item = valtrack_core::Enr>) -> Self {
        self.bootnodes = enrs.into_iter().map(|e| e.to_base64()).collect();
        self
    }
    /// IP address to listen on. Default: 0.0.0.0.
    pub fn listen_ip(mut self, ip: IpAddr) -> Self {
        self.listen_ip = ip;
        self
    }
    /// UDP port of discv5, TCP port of libp2p and UDP port of QUIC (0: any free port).
    /// Default: 9000, 9000, 9001.
    pub fn ports(mut self, discovery: u16, tcp: u16, quic: u16) -> Self {
        self.discovery_port = discovery;
        self.tcp_port = tcp;
        self.quic_port = quic;
        self
    }
    /// The labels of every event. Default: `valtrack-sentry`, `unknown`.
    pub fn crawler(mut self, id: impl Into<String>, location: impl Into<String>) -> Self {
        self.crawler_id = id.into();
        self.crawler_location = location.into();
        self
    }
    /// Handshakes in flight (outbound; as many again inbound). Default:
    /// [`DEFAULT_CONCURRENCY`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    /// How often each peer is revisited. Default: one epoch of the network.
    pub fn revisit_interval(mut self, d: Duration) -> Self {
        self.revisit_interval = Some(d);
        self
    }
    /// How often each node's routing table is enumerated again. Default:
    /// [`DEFAULT_RECRAWL_INTERVAL`].
    pub fn recrawl_interval(mut self, d: Duration) -> Self {
        self.recrawl_interval = d;
        self
    }
    /// Treat this digest as ours too (devnets whose genesis data we lack).
    pub fn extra_digest(mut self, digest: ForkDigest) -> Self {
        self.extra_digest = Some(digest);
        self
    }
    /// Attestation attribution: subscribe to all 64 attestation subnets (advertised in
    /// MetaData and the ENR) but keep out of GossipSub meshes (see
    /// [`HostConfigBuilder::gossip_mesh`](crate::host::HostConfigBuilder::gossip_mesh)), keep
    /// handshaken peers connected (up to
    /// [`kept_peers`](Self::kept_peers)) and emit an attestation event per first delivery of
    /// each (target epoch, validator). Default: off.
    pub fn attestations(mut self, on: bool) -> Self {
        self.attestations = on;
        self
    }
    /// With attestations on: whether the sentry keeps out of GossipSub meshes. Default:
    /// [`GossipStrategy::OutOfMeshes`].
    pub fn gossip_strategy(mut self, strategy: GossipStrategy) -> Self {
        self.gossip_strategy = strategy;
        self
    }
    /// With attestations on: the beacon node REST API whose committees name the validators of
    /// phase0 attestations (see [`Sentry::with_beacon_api`]). Default: none (phase0
    /// attestations are recorded by committee seat).
    pub fn beacon_api(mut self, api: crate::BeaconApi) -> Self {
        self.beacon_api = Some(api);
        self
    }
    /// With attestations on: how many handshaken peers stay connected. Default:
    /// [`DEFAULT_KEPT_PEERS`].
    pub fn kept_peers(mut self, n: usize) -> Self {
        self.kept_peers = n;
        self
    }
    /// The secp256k1 key of both discv5 and libp2p. Default: a fresh random one.
    pub fn secret_key(mut self, key: [u8; 32]) -> Self {
        self.secret_key = Some(key);
        self
    }

    /// Starts the host and the crawler (both listening) and wires the sentry to `sink`;
    /// nothing is crawled or dialed before [`SentryService::run`].
    pub async fn build<S: EventSink>(self, sink: S) -> Result<SentryService<S>, ServiceError> {
        let key = self.secret_key.unwrap_or_else(generate_secret_key);
        let ip = self.listen_ip;
        let family = if ip.is_ipv4() { "ip4" } else { "ip6" };
        let addr = |s: String| -> Result<Multiaddr, ServiceError> {
            s.parse()
                .map_err(|_| ServiceError::Host(HostError::Config("bad listen address")))
        };
        let mut host_config = HostConfig::builder(self.network.clone())
            .secret_key(key)
            .listen_on(addr(format!("/{family}/{ip}/tcp/{}", self.tcp_port))?)
            .listen_on(addr(format!(
                "/{family}/{ip}/udp/{}/quic-v1",
                self.quic_port
            ))?);
        if self.attestations {
            // Kept peers must not be dropped as idle between revisits.
            host_config = host_config
                .subscribe_all_subnets()
                .gossip_mesh(matches!(
                    self.gossip_strategy,
                    GossipStrategy::InMeshes | GossipStrategy::AllMeshes
                ))
                .ihave_from_subscribed(self.gossip_strategy == GossipStrategy::OutOfMeshesAnyIhave)
                .floodsub_links(self.gossip_strategy == GossipStrategy::OutOfMeshesFloodsubLinks)
                .idle_connection_timeout(ATTESTATION_IDLE_TIMEOUT);
            if self.gossip_strategy == GossipStrategy::AllMeshes {
                host_config = host_config.gossip_params(crate::host::GossipParams {
                    mesh_n: ALL_MESHES_D,
                    mesh_n_low: ALL_MESHES_D,
                    mesh_n_high: ALL_MESHES_D,
                    mesh_outbound_min: 0,
                    ..crate::host::GossipParams::default()
                });
            }
        }
        let host = Host::spawn(host_config.build()?).await?;
        let mut crawler = CrawlerConfig::builder(&self.network)
            .bootnodes(&self.bootnodes)
            .listen(SocketAddr::new(ip, self.discovery_port))
            .secret_key(key)
            .recrawl_interval(self.recrawl_interval);
        if self.attestations {
            crawler = crawler.attnets(valtrack_core::AttestationSubnets::ALL);
        }
        if let Some(d) = self.extra_digest {
            crawler = crawler.extra_digest(d);
        }
        // Bound now, started in `run` once the sentry listens: no discovery is missed.
        let crawler = Arc::new(Discv5Crawler::bind(crawler.build()?).await?);
        let mut handshake = HandshakeConfig::builder().keep_connected(if self.attestations {
            self.kept_peers
        } else {
            0
        });
        if let Some(d) = self.extra_digest {
            handshake = handshake.extra_digest(d);
        }
        let handshaker = Libp2pHandshaker::new(host.clone(), handshake.build()?);
        let config = SentryConfig::builder(self.crawler_id, self.crawler_location)
            .concurrency(self.concurrency)
            .revisit_interval(
                self.revisit_interval
                    .unwrap_or_else(|| self.network.epoch_duration()),
            )
            .build()?;
        let probe = GossipProbe::new(host.clone());
        let inbound = handshaker.inbound(self.concurrency);
        let mut sentry = Sentry::new(crawler.clone(), handshaker, sink, config).with_probe(&probe);
        if let Some(inbound) = inbound {
            sentry = sentry.with_inbound(inbound);
        }
        if self.attestations {
            sentry = sentry.with_attestations(self.network.clone(), probe.attestations());
            if let Some(api) = self.beacon_api {
                sentry = sentry.with_beacon_api(api);
            }
        }
        Ok(SentryService {
            stats: sentry.stats(),
            host,
            crawler,
            sentry,
        })
    }
}

/// A running sentry: host and crawler listening, ready to [`run`](Self::run).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use valtrack_core::{parse_enr, Event, EventSink, Network, SinkError, MAINNET_BOOTNODES};
/// use valtrack_sentry::SentryService;
///
/// #[derive(Debug)]
/// struct Print;
/// impl EventSink for Print {
///     async fn send(&self, event: Event) -> Result<(), SinkError> {
///         println!("{}", String::from_utf8_lossy(&event.to_json()));
///         Ok(())
///     }
///     async fn flush(&self) -> Result<(), SinkError> {
///         Ok(())
///     }
/// }
///
/// let bootnodes = MAINNET_BOOTNODES
///     .iter()
///     .map(|s| parse_enr(s))
///     .collect::<Result<Vec<_>, _>>()?;
/// let service = SentryService::builder(Network::mainnet())
///     .bootnodes(bootnodes)
///     .build(Print)
///     .await?;
/// service.run(tokio::time::sleep(Duration::from_secs(60))).await?;
/// # Ok(()) }
/// ```
pub struct SentryService<S> {
    host: Host,
    crawler: Arc<Discv5Crawler>,
    sentry: Sentry<Arc<Discv5Crawler>, Libp2pHandshaker, S>,
    stats: Arc<SentryStats>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SentryService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryService")
            .field("peer_id", &self.host.peer_id())
            .field("crawler", &self.crawler.listen_addr())
            .finish_non_exhaustive()
    }
}

impl SentryService<()> {
    /// Starts configuring a sentry on `network`.
    pub fn builder(network: Network) -> SentryServiceBuilder {
        SentryServiceBuilder {
            network,
            bootnodes: Vec::new(),
            listen_ip: DEFAULT_LISTEN_IP,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            tcp_port: DEFAULT_TCP_PORT,
            quic_port: DEFAULT_QUIC_PORT,
            crawler_id: DEFAULT_CRAWLER_ID.to_owned(),
            crawler_location: DEFAULT_CRAWLER_LOCATION.to_owned(),
            concurrency: DEFAULT_CONCURRENCY,
            revisit_interval: None,
            recrawl_interval: DEFAULT_RECRAWL_INTERVAL,
            extra_digest: None,
            secret_key: None,
            attestations: false,
            gossip_strategy: GossipStrategy::default(),
            kept_peers: DEFAULT_KEPT_PEERS,
            beacon_api: None,
        }
    }
}

impl<S: EventSink> SentryService<S> {
    /// Our libp2p host (PeerId, listen addresses).
    pub fn host(&self) -> &Host {
        &self.host
    }
    /// The crawler (its stats, known nodes, listen address).
    pub fn crawler(&self) -> &Arc<Discv5Crawler> {
        &self.crawler
    }
    /// The sentry's live counters.
    pub fn stats(&self) -> Arc<SentryStats> {
        self.stats.clone()
    }
    /// Registers collectors of the crawler's, the sentry's and the host's counters in
    /// `registry` (see [`metrics`](crate::metrics)); read at each scrape.
    #[cfg(feature = "metrics")]
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register_collector(Box::new(crate::metrics::SentryCollector {
            crawler: self.crawler.clone(),
            stats: self.stats.clone(),
            host: self.host.clone(),
        }));
    }

    /// A one-line summary of the crawler and sentry counters.
    pub fn summary(&self) -> impl Fn() -> String + Send + Sync + 'static {
        summary_fn(
            self.stats.clone(),
            self.crawler.clone(),
            self.host.gossip_defence(),
        )
    }
    /// While no handshake has succeeded: why, most likely, and what to check (`None` once
    /// one has). For a "no progress" warning after a while.
    pub fn stall_hint(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let (stats, crawler) = (self.stats.clone(), self.crawler.clone());
        move || stall_hint(&crawler.stats(), &stats)
    }
    /// Crawls, handshakes and emits events until `shutdown` completes; then flushes the
    /// sink and returns its flush error, if any.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), SinkError> {
        let mut run = std::pin::pin!(self.sentry.run(shutdown));
        // The first poll subscribes to the crawler's discoveries; only then crawl.
        if let std::task::Poll::Ready(result) = futures::poll!(run.as_mut()) {
            return result;
        }
        self.crawler.start();
        let result = run.await;
        drop(self.host);
        result
    }
}

fn summary_fn(
    stats: Arc<SentryStats>,
    crawler: Arc<Discv5Crawler>,
    defence: Arc<crate::host::GossipDefenceStats>,
) -> impl Fn() -> String + Send + Sync + 'static {
    move || {
        use std::sync::atomic::Ordering::Relaxed;
        let c: CrawlerStats = crawler.stats();
        format!(
            "dht nodes {} (requests {}), peers {}, handshakes ok {} failed {} (inbound {}), attestations {} (undecodable {}, untimely {}, attributed {}, phase0 resolved {}), events {} (sink errors {}), gossip penalised: rejected {} out-of-window {} peers banned {}, lagged {}",
            c.known,
            c.requests,
            stats.peers.load(Relaxed),
            stats.handshakes_ok.load(Relaxed),
            stats.handshakes_failed.load(Relaxed),
            stats.inbound.load(Relaxed),
            stats.attestations.load(Relaxed),
            stats.attestation_errors.load(Relaxed),
            stats.attestations_untimely.load(Relaxed),
            stats.attributions.load(Relaxed),
            stats.resolved.load(Relaxed),
            stats.events.load(Relaxed),
            stats.sink_errors.load(Relaxed),
            defence.rejected.load(Relaxed),
            defence.untimely.load(Relaxed),
            defence.banned.load(Relaxed),
            defence.lagged.load(Relaxed),
        )
    }
}

/// Why a sentry that has not completed one handshake is stuck, and what to check.
pub(crate) fn stall_hint(c: &CrawlerStats, stats: &SentryStats) -> Option<String> {
    use std::sync::atomic::Ordering::Relaxed;
    if stats.handshakes_ok.load(Relaxed) > 0 {
        return None;
    }
    let failed = stats.handshakes_failed.load(Relaxed);
    let answered = c.requests.saturating_sub(c.failures);
    Some(if c.requests == 0 {
        "discv5 has sent no FINDNODE request: there is no node to start from; check --bootnodes \
         (or the network directory's bootstrap_nodes.txt)"
            .to_owned()
    } else if answered == 0 {
        format!(
            "none of {} FINDNODE requests to {} known nodes was answered: no UDP reply reaches \
             this machine; check that it is online, that no firewall or NAT drops UDP to and \
             from the bootnodes, and --bootnodes",
            c.requests, c.known
        )
    } else if failed == 0 {
        format!(
            "discv5 answers ({answered} replies, {} nodes known) but no node of this network was \
             dialled: check that --network is the network these nodes are on",
            c.known
        )
    } else {
        let last = stats
            .last_handshake_error
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .unwrap_or_default();
        format!(
            "discv5 answers ({} nodes known) but all {failed} handshakes failed (last: {last}): \
             check that outbound TCP and UDP (QUIC) connections are allowed, and that --network \
             is the network these nodes are on",
            c.known
        )
    })
}

#[cfg(test)]
mod stall_tests {
    use super::*;

    #[test]
    fn each_stall_has_its_own_hint() {
        let stats = SentryStats::default();
        let mut c = CrawlerStats::default();
        assert!(stall_hint(&c, &stats)
            .unwrap()
            .contains("no FINDNODE request"));
        c.requests = 20;
        c.failures = 20;
        c.known = 10;
        assert!(stall_hint(&c, &stats)
            .unwrap()
            .contains("none of 20 FINDNODE requests to 10"));
        c.failures = 5;
        assert!(stall_hint(&c, &stats).unwrap().contains("--network"));
        stats
            .handshakes_failed
            .store(9, std::sync::atomic::Ordering::Relaxed);
        *stats.last_handshake_error.lock().unwrap() = Some("dial failed: timeout".into());
        let hint = stall_hint(&c, &stats).unwrap();
        assert!(
            hint.contains("all 9 handshakes failed (last: dial failed: timeout)"),
            "{hint}"
        );
        stats
            .handshakes_ok
            .store(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(stall_hint(&c, &stats), None);
    }
}
