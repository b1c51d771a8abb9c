//! [`Libp2pHandshaker`]: the eth2 handshake over a [`Host`].

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tracing::debug;
use valtrack_core::ssz::{Goodbye, Ping};
use valtrack_core::{
    ClientInfo, DiscoveredNode, EnrInfo, ForkDigest, HandshakeError, HandshakeStage,
    HandshakeTimings, Handshaker, MetaData, PeerInfo, Status,
};

use crate::error::RequestError;
use crate::host::{to_core_peer_id, to_libp2p_peer_id, Connected, Host};
use crate::rpc::{RpcRequest, RpcResponse};

const LOG: &str = "valtrack::handshake";

/// Default wait for identify after the req/resp exchange.
pub const DEFAULT_IDENTIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// Default bound on sending our Goodbye.
pub const DEFAULT_GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);
/// Peers kept connected after a successful handshake when attestation attribution wants live
/// connections (see [`HandshakeConfig::keep_connected`]); below the host's default
/// connection cap, leaving room for inbound peers and dials.
pub const DEFAULT_KEPT_PEERS: usize = 400;

/// Handshake settings. Build with [`HandshakeConfig::builder`]; `Default` is every default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeConfig {
    connect_timeout: Duration,
    identify_timeout: Duration,
    goodbye_timeout: Duration,
    prefer_quic: bool,
    extra_digests: Vec<ForkDigest>,
    keep_connected: usize,
}

impl Default for HandshakeConfig {
    fn default() -> Self {
        Self {
            connect_timeout: crate::host::DEFAULT_CONNECT_TIMEOUT,
            identify_timeout: DEFAULT_IDENTIFY_TIMEOUT,
            goodbye_timeout: DEFAULT_GOODBYE_TIMEOUT,
            prefer_quic: true,
            extra_digests: Vec::new(),
            keep_connected: 0,
        }
    }
}

impl HandshakeConfig {
    /// Starts a configuration with every default.
    pub fn builder() -> HandshakeConfigBuilder {
        HandshakeConfigBuilder(Self::default())
    }

    /// Bound on connecting.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Digests accepted as ours besides the network's own.
    pub fn extra_digests(&self) -> &[ForkDigest] {
        &self.extra_digests
    }

    /// How many handshaken peers stay connected.
    pub fn keep_connected(&self) -> usize {
        self.keep_connected
    }
}

/// Builder of [`HandshakeConfig`]; every setter documents its default.
#[derive(Debug, Clone)]
pub struct HandshakeConfigBuilder(HandshakeConfig);

impl HandshakeConfigBuilder {
    /// Bound on connecting (dial to a secured, muxed connection). Default:
    /// [`DEFAULT_CONNECT_TIMEOUT`](crate::host::DEFAULT_CONNECT_TIMEOUT).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.0.connect_timeout = d;
        self
    }

    /// How long to wait for identify after Ping. Default: [`DEFAULT_IDENTIFY_TIMEOUT`].
    pub fn identify_timeout(mut self, d: Duration) -> Self {
        self.0.identify_timeout = d;
        self
    }

    /// Bound on sending Goodbye. Default: [`DEFAULT_GOODBYE_TIMEOUT`].
    pub fn goodbye_timeout(mut self, d: Duration) -> Self {
        self.0.goodbye_timeout = d;
        self
    }

    /// Dial QUIC before TCP when the ENR offers both (and the `quic` feature is on).
    /// Default: true, as the spec makes QUIC primary.
    pub fn prefer_quic(mut self, on: bool) -> Self {
        self.0.prefer_quic = on;
        self
    }

    /// Accepts `digest` as ours besides the network's own (a devnet whose genesis data we
    /// lack): a peer whose Status carries it is handshaken, and our Status mirrors it when
    /// the peer's ENR advertises it. Default: none.
    pub fn extra_digest(mut self, digest: ForkDigest) -> Self {
        if !self.0.extra_digests.contains(&digest) {
            self.0.extra_digests.push(digest);
        }
        self
    }

    /// Keep up to this many successfully handshaken peers connected (no Goodbye, no
    /// disconnect), so their gossip keeps arriving; a revisit of a kept peer reuses its
    /// connection (Status, MetaData and Ping again). Beyond the cap, peers get Goodbye as
    /// usual. Default: 0 (off: every handshake ends with Goodbye). Attestation attribution
    /// uses [`DEFAULT_KEPT_PEERS`].
    pub fn keep_connected(mut self, n: usize) -> Self {
        self.0.keep_connected = n;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<HandshakeConfig, HandshakeConfigError> {
        let HandshakeConfig {
            connect_timeout,
            identify_timeout,
            goodbye_timeout,
            prefer_quic: _,
            extra_digests: _,
            keep_connected: _,
        } = &self.0;
        for (name, d) in [
            ("connect timeout", connect_timeout),
            ("identify timeout", identify_timeout),
            ("goodbye timeout", goodbye_timeout),
        ] {
            if d.is_zero() {
                return Err(HandshakeConfigError::ZeroTimeout { name });
            }
        }
        Ok(self.0)
    }
}

/// A [`HandshakeConfig`] that [`HandshakeConfigBuilder::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeConfigError {
    /// A timeout is zero.
    #[error("{name} must be positive")]
    ZeroTimeout {
        /// Which timeout.
        name: &'static str,
    },
}

/// Goodbye reason codes we send.
mod reason {
    /// Done with the peer (a crawler's normal end).
    pub(super) const SHUTDOWN: u64 = 1;
    /// The peer is on another network.
    pub(super) const IRRELEVANT_NETWORK: u64 = 2;
    /// The peer misbehaved or failed.
    pub(super) const FAULT: u64 = 3;
}

/// Handshakes beacon nodes: Status, MetaData (v3 → v2 → v1), Ping, identify, Goodbye.
#[derive(Debug, Clone)]
pub struct Libp2pHandshaker {
    host: Host,
    config: HandshakeConfig,
    /// Peers kept connected (at most `config.keep_connected`), shared by clones.
    kept: Arc<Mutex<HashSet<PeerId>>>,
}

impl Libp2pHandshaker {
    /// A handshaker over `host`.
    pub fn new(host: Host, config: HandshakeConfig) -> Self {
        Self {
            host,
            config,
            kept: Arc::default(),
        }
    }

    /// Peers currently counted as kept connected (some may have gone since; they are
    /// pruned when the cap is reached).
    pub fn kept_peers(&self) -> usize {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether to keep `peer` connected after a successful handshake (and counts it).
    async fn keep(&self, peer: PeerId) -> bool {
        let cap = self.config.keep_connected;
        if cap == 0 {
            return false;
        }
        let snapshot: Vec<PeerId> = {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if kept.contains(&peer) || kept.len() < cap {
                kept.insert(peer);
                return true;
            }
            kept.iter().copied().collect()
        };
        // Full: forget peers that went away meanwhile, then try again.
        let mut gone = Vec::new();
        for p in snapshot {
            if !self.host.is_connected(p).await {
                gone.push(p);
            }
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        for p in gone {
            kept.remove(&p);
        }
        if kept.len() < cap {
            kept.insert(peer);
            true
        } else {
            false
        }
    }

    fn unkeep(&self, peer: &PeerId) {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The addresses to dial for a node, QUIC first when preferred.
    pub fn dial_addrs(info: &EnrInfo, prefer_quic: bool) -> Vec<Multiaddr> {
        let mut quic = Vec::new();
        let mut tcp = Vec::new();
        let families = [
            (info.ip4.map(IpAddr::V4), info.tcp4, info.quic4),
            (
                info.ip6.map(IpAddr::V6),
                info.tcp6.or(info.tcp4),
                info.quic6.or(info.quic4),
            ),
        ];
        for (ip, tcp_port, quic_port) in families {
            let Some(ip) = ip else { continue };
            let base = Multiaddr::empty().with(match ip {
                IpAddr::V4(v4) => Protocol::Ip4(v4),
                IpAddr::V6(v6) => Protocol::Ip6(v6),
            });
            if let Some(port) = tcp_port.filter(|p| *p != 0) {
                tcp.push(base.clone().with(Protocol::Tcp(port)));
            }
            if let Some(port) = quic_port.filter(|p| *p != 0) {
                quic.push(base.with(Protocol::Udp(port)).with(Protocol::QuicV1));
            }
        }
        if !cfg!(feature = "quic") {
            quic.clear();
        }
        if prefer_quic {
            quic.extend(tcp);
            quic
        } else {
            tcp.extend(quic);
            tcp
        }
    }

    /// Handshakes `peer` at `addrs`. `advertised` is the digest its ENR claims, if any.
    pub async fn handshake_peer(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        advertised: Option<ForkDigest>,
    ) -> Result<PeerInfo, HandshakeError> {
        let started = Instant::now();
        let connected =
            tokio::time::timeout(self.config.connect_timeout, self.host.dial(peer, addrs))
                .await
                .map_err(|_| HandshakeError::Timeout {
                    stage: HandshakeStage::Connect,
                })??;
        let result = self.exchange(&connected, advertised, started).await;
        if result.is_ok() && self.keep(peer).await {
            debug!(target: LOG, %peer, "kept connected");
            return result;
        }
        self.unkeep(&peer);
        match &result {
            Ok(_) => self.goodbye(peer, reason::SHUTDOWN).await,
            Err(HandshakeError::Goodbye { .. }) => {}
            Err(HandshakeError::IrrelevantNetwork { .. }) => {
                self.goodbye(peer, reason::IRRELEVANT_NETWORK).await
            }
            Err(_) => self.goodbye(peer, reason::FAULT).await,
        }
        self.host.disconnect(peer).await;
        result
    }

    /// Learns what a peer that dialed us is: it sends Status first (the host answers it);
    /// we ask for its Status in turn (so the record holds it, and its gossip subscriptions
    /// are read on its digest, as for peers we dial), its MetaData, ping it and read
    /// identify, without disconnecting it. A peer that does not answer our Status is still
    /// recorded, without one.
    pub async fn handshake_inbound(
        &self,
        connected: Connected,
    ) -> Result<PeerInfo, HandshakeError> {
        let started = Instant::now();
        let peer = connected.peer;
        let ours = self.host_network_digests().0;
        let mut timings = HandshakeTimings::default();
        let mut status = None;
        if let Some(our_status) = self.host.status_for(ours).await {
            let t = Instant::now();
            match self
                .request(peer, RpcRequest::Status(our_status), HandshakeStage::Status)
                .await
            {
                Ok(RpcResponse::Status(s)) => {
                    timings.status = Some(t.elapsed());
                    status = Some(s);
                }
                Ok(other) => {
                    debug!(target: LOG, %peer, answer = ?other, "inbound peer answered Status oddly")
                }
                Err(e) => {
                    debug!(target: LOG, %peer, error = %e, "inbound peer did not answer Status")
                }
            }
        }
        let mut info = self.collect(&connected, status, started, timings).await?;
        info.direction = valtrack_core::events::Direction::Inbound;
        Ok(info)
    }

    /// Handshakes every peer that dials the host, at most `concurrency` at once, as a
    /// stream of outcomes (for [`Sentry::with_inbound`](crate::Sentry::with_inbound)).
    /// `None` if the host's inbound connections were already taken. Connections that arrive
    /// while `concurrency` handshakes run wait in the host's bounded queue (and are dropped
    /// from it when that is full).
    pub fn inbound(
        &self,
        concurrency: usize,
    ) -> Option<impl futures::Stream<Item = crate::sentry::InboundOutcome> + Send + 'static> {
        use futures::StreamExt;
        let rx = self.host.inbound_connections()?;
        let this = self.clone();
        let connections =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        Some(
            connections
                .map(move |connected| {
                    let this = this.clone();
                    async move {
                        let peer = crate::host::to_core_peer_id(&connected.peer);
                        let result = this.handshake_inbound(connected).await;
                        (peer, result)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .filter_map(|(peer, result)| async move { peer.map(|p| (p, result)) }),
        )
    }

    async fn exchange(
        &self,
        connected: &Connected,
        advertised: Option<ForkDigest>,
        started: Instant,
    ) -> Result<PeerInfo, HandshakeError> {
        let peer = connected.peer;
        let network = self.host_network_digests();
        // Mirror the node's digest when it is one of our network's (a fork behind or ahead);
        // otherwise speak our current one and let the peer's answer tell.
        let ours = match advertised {
            Some(d) if network.1.contains(&d) => d,
            _ => network.0,
        };
        let our_status = self
            .host
            .status_for(ours)
            .await
            .ok_or(HandshakeError::Transport {
                source: Box::new(crate::error::HostError::Closed),
            })?;
        let t = Instant::now();
        let status = match self
            .request(peer, RpcRequest::Status(our_status), HandshakeStage::Status)
            .await?
        {
            RpcResponse::Status(s) => s,
            other => return Err(unexpected(HandshakeStage::Status, &other)),
        };
        let mut timings = HandshakeTimings {
            connect: Some(connected.established_in),
            status: Some(t.elapsed()),
            ..HandshakeTimings::default()
        };
        let theirs = status.fork_digest();
        if !network.1.contains(&theirs) {
            return Err(HandshakeError::IrrelevantNetwork { ours, theirs });
        }
        timings.total = None;
        let mut info = self
            .collect(connected, Some(status), started, timings)
            .await?;
        info.timings.total = Some(started.elapsed());
        Ok(info)
    }

    /// MetaData, Ping and identify.
    async fn collect(
        &self,
        connected: &Connected,
        status: Option<Status>,
        started: Instant,
        mut timings: HandshakeTimings,
    ) -> Result<PeerInfo, HandshakeError> {
        let peer = connected.peer;
        let t = Instant::now();
        let metadata: MetaData = match self
            .request(peer, RpcRequest::MetaData, HandshakeStage::MetaData)
            .await?
        {
            RpcResponse::MetaData(m) => m,
            other => return Err(unexpected(HandshakeStage::MetaData, &other)),
        };
        timings.metadata = Some(t.elapsed());
        let t = Instant::now();
        let seq = Ping { seq_number: 1 };
        match self
            .request(peer, RpcRequest::Ping(seq), HandshakeStage::Ping)
            .await?
        {
            RpcResponse::Ping(_) => timings.ping = Some(t.elapsed()),
            other => return Err(unexpected(HandshakeStage::Ping, &other)),
        }
        let identify = tokio::time::timeout(self.config.identify_timeout, self.host.identify(peer))
            .await
            .ok()
            .flatten();
        if identify.is_none() {
            debug!(target: LOG, %peer, "no identify in time");
        }
        timings.total = Some(started.elapsed());
        let (agent_version, protocols, listen_addrs) = match identify {
            Some(i) => (
                Some(i.agent_version),
                i.protocols.iter().map(ToString::to_string).collect(),
                i.listen_addrs
                    .iter()
                    .take(32)
                    .map(ToString::to_string)
                    .collect(),
            ),
            None => (None, Vec::new(), Vec::new()),
        };
        Ok(PeerInfo {
            peer_id: to_core_peer_id(&peer).ok_or(HandshakeError::SecurityFailed {
                source: Box::new(std::io::Error::other("peer key is not secp256k1")),
            })?,
            multiaddr: connected.address.to_string(),
            direction: valtrack_core::events::Direction::Outbound,
            transport: connected.transport,
            muxer: connected.muxer,
            status,
            metadata: Some(metadata),
            client: ClientInfo::from_agent_version(agent_version.as_deref().unwrap_or("")),
            agent_version,
            protocols,
            listen_addrs,
            timings,
        })
    }

    async fn request(
        &self,
        peer: PeerId,
        request: RpcRequest,
        stage: HandshakeStage,
    ) -> Result<RpcResponse, HandshakeError> {
        self.host.request(peer, request).await.map_err(|e| match e {
            RequestError::Goodbye(code) => HandshakeError::Goodbye { code },
            RequestError::Timeout(_) => HandshakeError::Timeout { stage },
            RequestError::Violation(source) => HandshakeError::ProtocolViolation { stage, source },
            RequestError::Unsupported => HandshakeError::ProtocolViolation {
                stage,
                source: Box::new(RequestError::Unsupported),
            },
            other => HandshakeError::Transport {
                source: Box::new(other),
            },
        })
    }

    async fn goodbye(&self, peer: PeerId, reason: u64) {
        let bye = self
            .host
            .request(peer, RpcRequest::Goodbye(Goodbye { reason }));
        let _ = tokio::time::timeout(self.config.goodbye_timeout, bye).await;
    }

    /// Our current digest and every digest we accept as ours: the network's and the
    /// configured extra ones.
    fn host_network_digests(&self) -> (ForkDigest, Vec<ForkDigest>) {
        let network = self.host.network();
        let epoch = network.current_epoch(SystemTime::now()).unwrap_or(0);
        let mut accepted: Vec<ForkDigest> =
            network.all_digests().iter().map(|d| d.digest).collect();
        accepted.extend(self.config.extra_digests.iter().copied());
        (network.fork_digest(epoch), accepted)
    }
}

fn unexpected(stage: HandshakeStage, response: &RpcResponse) -> HandshakeError {
    HandshakeError::ProtocolViolation {
        stage,
        source: Box::new(std::io::Error::other(format!(
            "unexpected response {response:?}"
        ))),
    }
}

impl Handshaker for Libp2pHandshaker {
    async fn handshake(&self, node: &DiscoveredNode) -> Result<PeerInfo, HandshakeError> {
        let peer = to_libp2p_peer_id(&node.info.peer_id);
        let addrs = Self::dial_addrs(&node.info, self.config.prefer_quic);
        if addrs.is_empty() {
            return Err(HandshakeError::NoAddress);
        }
        self.handshake_peer(peer, addrs, node.info.fork_digest())
            .await
    }
}
