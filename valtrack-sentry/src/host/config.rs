//! Configuration of the libp2p host.

use std::time::Duration;

use libp2p::Multiaddr;
use valtrack_core::constants::CUSTODY_REQUIREMENT;
use valtrack_core::{AttestationSubnets, Network, Status, SyncSubnets};

use super::responder::{Responder, SharedResponder};
use super::transport::MuxerOffer;
use crate::error::HostError;
use crate::rpc::RpcTimeouts;

/// The agent version we announce in identify: `valtrack/<version>`.
pub const DEFAULT_AGENT_VERSION: &str = concat!("valtrack/", env!("CARGO_PKG_VERSION"));
/// Default bound on a connection's setup (TCP/QUIC connect, security, muxer).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default idle time after which libp2p closes a connection with no open stream.
pub const DEFAULT_IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on established connections.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 512;
/// Default cap on connections being set up (dials and accepts).
pub const DEFAULT_MAX_PENDING: u32 = 256;
/// Default capacity of the command queue from handles to the host task.
pub const DEFAULT_COMMAND_QUEUE: usize = 1024;

/// What the host answers to inbound connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMode {
    /// Answer requests honestly (the default).
    #[default]
    Normal,
    /// We are "full": every inbound connection gets Goodbye 129 and is closed.
    Full,
}

/// The GossipSub parameters in which clients differ: how a host publishes its own messages and
/// keeps its meshes (used only by hosts in meshes). What each client sets, with file and line,
/// is in `docs/gossip-publishing.md`. Default: the consensus spec's values with flood
/// publishing (rust-libp2p's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipParams {
    /// Send our own messages to every subscribed peer above the publish threshold (on), or
    /// only to the topic's mesh (topped up to `mesh_n` with other subscribed peers) or, when
    /// not subscribed, to `mesh_n` fanout peers kept for `fanout_ttl` (off).
    pub flood_publish: bool,
    /// D: the mesh's target size.
    pub mesh_n: usize,
    /// D_lo: below it the heartbeat grafts more peers.
    pub mesh_n_low: usize,
    /// D_hi: above it the heartbeat prunes down to D.
    pub mesh_n_high: usize,
    /// D_out: outbound links the mesh keeps (at most D_lo and D / 2).
    pub mesh_outbound_min: usize,
    /// D_lazy: the least peers outside the mesh sent IHAVE each heartbeat.
    pub gossip_lazy: usize,
    /// Heartbeat interval (mesh upkeep, IHAVE emission, fanout expiry).
    pub heartbeat: Duration,
    /// How long a fanout set outlives the last message published through it.
    pub fanout_ttl: Duration,
    /// Also speak `/floodsub/1.0.0`, and send a peer that speaks it to us every message of
    /// the topics it joined, our own and those we forward, whatever our mesh: what
    /// go-libp2p-pubsub does by default (Prysm, Caplin).
    pub floodsub: bool,
}

impl Default for GossipParams {
    fn default() -> Self {
        Self {
            flood_publish: true,
            mesh_n: 8,
            mesh_n_low: 6,
            mesh_n_high: 12,
            mesh_outbound_min: 2,
            gossip_lazy: 6,
            heartbeat: Duration::from_millis(700),
            fanout_ttl: Duration::from_secs(60),
            floodsub: false,
        }
    }
}

/// GossipSub peer-scoring parameters and thresholds (see
/// [`HostConfigBuilder::gossip_scoring`]).
#[derive(Debug, Clone)]
pub(crate) struct GossipScoring {
    pub(crate) params: libp2p::gossipsub::PeerScoreParams,
    pub(crate) thresholds: libp2p::gossipsub::PeerScoreThresholds,
}

/// Configuration of a [`Host`](super::Host). Build with [`HostConfig::builder`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub(crate) secret_key: Option<[u8; 32]>,
    pub(crate) network: Network,
    pub(crate) listen: Vec<Multiaddr>,
    pub(crate) muxers: MuxerOffer,
    pub(crate) agent_version: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_connection_timeout: Duration,
    pub(crate) max_connections: u32,
    pub(crate) max_pending: u32,
    pub(crate) timeouts: RpcTimeouts,
    pub(crate) attnets: AttestationSubnets,
    pub(crate) syncnets: SyncSubnets,
    pub(crate) custody_group_count: u64,
    pub(crate) metadata_seq: u64,
    pub(crate) fixed_status: Option<StatusFn>,
    pub(crate) mode: PeerMode,
    pub(crate) responder: Option<SharedResponder>,
    pub(crate) capture_responses: bool,
    pub(crate) gossipsub: bool,
    pub(crate) accept_gossip: bool,
    pub(crate) gossip_mesh: bool,
    pub(crate) ihave_from_subscribed: bool,
    pub(crate) floodsub_links: bool,
    pub(crate) gossip_params: GossipParams,
    pub(crate) gossip_scoring: Option<GossipScoring>,
    pub(crate) raw_gossip: bool,
    pub(crate) command_queue: usize,
}

/// What answers Status instead of the learned status (see [`HostConfigBuilder::status_fn`]).
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub(crate) struct StatusFn(
    pub(crate)  std::sync::Arc<
        dyn Fn(Option<(valtrack_core::Epoch, valtrack_core::Slot)>) -> Status + Send + Sync,
    >,
);

impl std::fmt::Debug for StatusFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusFn")
    }
}

impl HostConfig {
    /// Starts a configuration for `network` with every default.
    pub fn builder(network: Network) -> HostConfigBuilder {
        HostConfigBuilder {
            config: Self {
                secret_key: None,
                network,
                listen: Vec::new(),
                muxers: MuxerOffer::default(),
                agent_version: DEFAULT_AGENT_VERSION.to_owned(),
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                idle_connection_timeout: DEFAULT_IDLE_CONNECTION_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                max_pending: DEFAULT_MAX_PENDING,
                timeouts: RpcTimeouts::default(),
                attnets: AttestationSubnets::NONE,
                syncnets: SyncSubnets::default(),
                custody_group_count: CUSTODY_REQUIREMENT,
                metadata_seq: 1,
                fixed_status: None,
                mode: PeerMode::Normal,
                responder: None,
                capture_responses: false,
                gossipsub: true,
                accept_gossip: false,
                gossip_mesh: true,
                ihave_from_subscribed: false,
                floodsub_links: false,
                gossip_params: GossipParams::default(),
                gossip_scoring: None,
                raw_gossip: false,
                command_queue: DEFAULT_COMMAND_QUEUE,
            },
        }
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The req/resp timeouts.
    pub fn timeouts(&self) -> RpcTimeouts {
        self.timeouts
    }
}

/// Builder of [`HostConfig`]; every setter documents its default.
#[derive(Debug, Clone)]
pub struct HostConfigBuilder {
    config: HostConfig,
}

impl HostConfigBuilder {
    /// The secp256k1 secret key (shared with discv5). Default: a fresh random key.
    pub fn secret_key(mut self, key: [u8; 32]) -> Self {
        self.config.secret_key = Some(key);
        self
    }

    /// Adds a listen address. Default: none (dial only).
    pub fn listen_on(mut self, addr: Multiaddr) -> Self {
        self.config.listen.push(addr);
        self
    }

    /// Listens on 127.0.0.1 with OS-chosen ports: TCP, and QUIC when the `quic` feature is on.
    pub fn listen_on_loopback(mut self) -> Self {
        self.config
            .listen
            .push("/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"));
        #[cfg(feature = "quic")]
        self.config.listen.push(
            "/ip4/127.0.0.1/udp/0/quic-v1"
                .parse()
                .expect("valid multiaddr"),
        );
        self
    }

    /// Muxers offered over TCP. Default: yamux and mplex.
    pub fn muxers(mut self, offer: MuxerOffer) -> Self {
        self.config.muxers = offer;
        self
    }

    /// identify's agent version. Default: [`DEFAULT_AGENT_VERSION`].
    pub fn agent_version(mut self, agent: impl Into<String>) -> Self {
        self.config.agent_version = agent.into();
        self
    }

    /// Bound on connection setup. Default: [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.config.connect_timeout = t;
        self
    }

    /// Idle connection timeout. Default: [`DEFAULT_IDLE_CONNECTION_TIMEOUT`].
    pub fn idle_connection_timeout(mut self, t: Duration) -> Self {
        self.config.idle_connection_timeout = t;
        self
    }

    /// Cap on established connections. Default: [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, n: u32) -> Self {
        self.config.max_connections = n;
        self
    }

    /// Cap on connections being set up. Default: [`DEFAULT_MAX_PENDING`].
    pub fn max_pending(mut self, n: u32) -> Self {
        self.config.max_pending = n;
        self
    }

    /// Req/resp timeouts. Default: TTFB 5 s, RESP 10 s.
    pub fn rpc_timeouts(mut self, t: RpcTimeouts) -> Self {
        self.config.timeouts = t;
        self
    }

    /// Attestation subnets we subscribe to, and so advertise in MetaData. Default: none.
    pub fn attnets(mut self, a: AttestationSubnets) -> Self {
        self.config.attnets = a;
        self
    }

    /// Subscribes to all 64 attestation subnets (for attestation attribution), and so
    /// advertises all 64 in MetaData: what we advertise is what we do. Same as
    /// `attnets(AttestationSubnets::ALL)`. Default: off.
    pub fn subscribe_all_subnets(mut self) -> Self {
        self.config.attnets = AttestationSubnets::ALL;
        self
    }

    /// Sync-committee subnets we subscribe to and advertise. Default: none.
    pub fn syncnets(mut self, s: SyncSubnets) -> Self {
        self.config.syncnets = s;
        self
    }

    /// Custody group count advertised in MetaData v3. Default: `CUSTODY_REQUIREMENT` (4).
    pub fn custody_group_count(mut self, cgc: u64) -> Self {
        self.config.custody_group_count = cgc;
        self
    }

    /// MetaData `seq_number`. Default: 1.
    pub fn metadata_seq(mut self, seq: u64) -> Self {
        self.config.metadata_seq = seq;
        self
    }

    /// Always answer Status with this value (simulated nodes). Default: answer with the
    /// status learned from peers on our network's current digest.
    pub fn fixed_status(self, status: Status) -> Self {
        self.status_fn(move |_| status.clone())
    }

    /// Answer Status with what `status` returns, given the network's clock (current epoch
    /// and slot; `None` before genesis): e.g. a simulated node whose head follows the clock,
    /// or a sentry reporting a beacon node's head. Default: answer with the status learned
    /// from peers on our network's current digest.
    pub fn status_fn(
        mut self,
        status: impl Fn(Option<(valtrack_core::Epoch, valtrack_core::Slot)>) -> Status
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.config.fixed_status = Some(StatusFn(std::sync::Arc::new(status)));
        self
    }

    /// How to treat inbound connections. Default: [`PeerMode::Normal`].
    pub fn mode(mut self, mode: PeerMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Keep the raw bytes of the last responses read (see `Host::captured_responses`).
    /// Default: off.
    pub fn capture_responses(mut self, on: bool) -> Self {
        self.config.capture_responses = on;
        self
    }

    /// Run GossipSub. Default: on.
    pub fn gossipsub(mut self, on: bool) -> Self {
        self.config.gossipsub = on;
        self
    }

    /// Decide the answer to each inbound request with `responder`, which sees the honest
    /// answer first (see [`Responder`]). Default: none (every answer honest).
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.config.responder = Some(SharedResponder(std::sync::Arc::new(responder)));
        self
    }

    /// Validate gossip as ACCEPT, so it is forwarded (simulated nodes relaying among
    /// themselves). A sentry cannot validate and keeps IGNORE. Default: off (IGNORE).
    pub fn accept_gossip(mut self, on: bool) -> Self {
        self.config.accept_gossip = on;
        self
    }

    /// Take part in GossipSub meshes. Off, we refuse every GRAFT at once (asking for an hour's
    /// backoff, and dropping what the peer forwarded meanwhile), graft nobody and take IHAVE
    /// only from peers not subscribed to the topic (unless
    /// [`ihave_from_subscribed`](Self::ihave_from_subscribed)): peers then send us only what they
    /// publish themselves, so the first delivery of a message names its origin (attestation
    /// attribution; see the host's `gossipsub_config`). Fair to peers too: a host that
    /// IGNOREs everything is a useless mesh member. Default: on.
    pub fn gossip_mesh(mut self, on: bool) -> Self {
        self.config.gossip_mesh = on;
        self
    }

    /// Out of meshes ([`gossip_mesh`](Self::gossip_mesh) off), take IHAVE from peers subscribed
    /// to the topic as well, and fetch what they announce: such a peer may be announcing what
    /// it relayed, so the first delivery no longer names the origin for sure. For measuring
    /// that trade ([`GossipStrategy::OutOfMeshesAnyIhave`](crate::GossipStrategy)). Default:
    /// off.
    pub fn ihave_from_subscribed(mut self, on: bool) -> Self {
        self.config.ihave_from_subscribed = on;
        self
    }

    /// Out of meshes ([`gossip_mesh`](Self::gossip_mesh) off), speak only `/floodsub/1.0.0`
    /// with every peer whose identify lists it: once identified, such a peer we dialed is
    /// disconnected and dialed again, and the new connection speaks floodsub. go-libp2p-pubsub
    /// (Prysm, Caplin) sends a floodsub peer every message of its topics, the ones it
    /// publishes (to its mesh only, otherwise) and the ones it forwards, so its own reach us
    /// first-hand whatever its mesh, with its relays' copies beside them
    /// ([`GossipStrategy::OutOfMeshesFloodsubLinks`](crate::GossipStrategy)). Default: off.
    pub fn floodsub_links(mut self, on: bool) -> Self {
        self.config.floodsub_links = on;
        self
    }

    /// How we publish and keep meshes (simulated clients' behaviours). Default:
    /// [`GossipParams::default`].
    pub fn gossip_params(mut self, params: GossipParams) -> Self {
        self.config.gossip_params = params;
        self
    }

    /// How we score other GossipSub peers, in place of the host's own defensive scoring
    /// (which weighs only invalid messages and untimely attestations): a simulated client
    /// scoring like a real one, to see how it scores a sentry. The host still disconnects a
    /// peer whose score falls to −80. Default: the host's own.
    pub fn gossip_scoring(
        mut self,
        params: libp2p::gossipsub::PeerScoreParams,
        thresholds: libp2p::gossipsub::PeerScoreThresholds,
    ) -> Self {
        self.config.gossip_scoring = Some(GossipScoring { params, thresholds });
        self
    }

    /// Publish gossip payloads as given (no snappy compression), up to twice the largest
    /// GossipSub frame: for testing other hosts' defences with malformed and oversized
    /// gossip (valtrack-sim's floods). Default: off.
    pub fn raw_gossip(mut self, on: bool) -> Self {
        self.config.raw_gossip = on;
        self
    }

    /// Capacity of the command queue. Default: [`DEFAULT_COMMAND_QUEUE`].
    pub fn command_queue(mut self, n: usize) -> Self {
        self.config.command_queue = n;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<HostConfig, HostError> {
        let HostConfig {
            secret_key,
            network: _,
            listen: _,
            muxers: _,
            agent_version,
            connect_timeout,
            idle_connection_timeout: _,
            max_connections,
            max_pending,
            timeouts,
            attnets: _,
            syncnets,
            custody_group_count: _,
            metadata_seq: _,
            fixed_status: _,
            mode: _,
            responder: _,
            capture_responses: _,
            gossipsub: _,
            accept_gossip: _,
            gossip_mesh: _,
            ihave_from_subscribed: _,
            floodsub_links: _,
            gossip_params,
            gossip_scoring: _,
            raw_gossip: _,
            command_queue,
        } = &self.config;
        if let Some(key) = secret_key {
            if libp2p::identity::secp256k1::SecretKey::try_from_bytes(*key).is_err() {
                return Err(HostError::Config(
                    "secret key is not a valid secp256k1 scalar",
                ));
            }
        }
        if agent_version.len() > 256 {
            return Err(HostError::Config("agent version longer than 256 bytes"));
        }
        if connect_timeout.is_zero() || timeouts.ttfb.is_zero() || timeouts.resp.is_zero() {
            return Err(HostError::Config("timeouts must be positive"));
        }
        if *max_connections == 0 || *max_pending == 0 || *command_queue == 0 {
            return Err(HostError::Config("limits and queue sizes must be positive"));
        }
        let g = gossip_params;
        if g.heartbeat.is_zero()
            || g.fanout_ttl.is_zero()
            || g.mesh_n == 0
            || !(g.mesh_n_low <= g.mesh_n && g.mesh_n <= g.mesh_n_high)
            || g.mesh_outbound_min > g.mesh_n_low
            || g.mesh_outbound_min > g.mesh_n / 2
        {
            return Err(HostError::Config(
                "GossipSub parameters need D_out <= D_lo <= D <= D_hi, 0 < D, D_out <= D/2 \
                 and positive intervals",
            ));
        }
        if syncnets.has_padding_bits() {
            return Err(HostError::Config("syncnets has bits above the fourth"));
        }
        Ok(self.config)
    }
}
