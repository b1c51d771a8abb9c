//! valtrack-sim: a simulated beacon network for valtrack's tests, benches and demo.
//!
//! # Architecture
//!
//! Each simulated node ([`SimNode`]) is a real valtrack-sentry [`Host`] on loopback that
//! answers the eth2 req/resp protocols from a configuration, with a real signed ENR —
//! honest, full, on another fork, unreachable or hostile ([`Hostility`], a
//! [`Responder`](valtrack_sentry::host::Responder) that writes raw bytes). [`SimNet`] runs
//! many of them, each beside a real discv5 server sharing its key, behind a bootnode, with a
//! mainnet-like client mix, validators whose attestations they publish and relay, and the
//! ground truth per node. [`run_attribution`] and [`score_attributions`] score a sentry's
//! attributions against that truth.
//!
//! The crate is built on the public API of `valtrack-sentry` and `valtrack-core` only, as
//! rust-libp2p's `libp2p-swarm-test` is on libp2p's: the simulator adds nothing to their
//! types.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let net = valtrack_sim::SimNet::builder(50).seed(7).spawn().await?;
//! println!("{} nodes on {}, bootnode {}", net.len(), net.fork_digest(), net.bootnode().to_base64());
//! # Ok(())
//! # }
//! ```

mod dht;
mod duties;
pub mod flood;
mod hostile;
mod net;
mod run;
mod score;
mod scoring;

use std::net::Ipv4Addr;

use alloy_rlp::Bytes;
use enr::k256::ecdsa::SigningKey;
use libp2p::multiaddr::Protocol;
use libp2p::PeerId;
use valtrack_core::ssz::StatusV2;
use valtrack_core::{
    AttestationSubnets, DiscoveredNode, Enr, EnrInfo, ForkDigest, Network, NodeUpdate, SszMessage,
    Status, SyncSubnets,
};

pub use dht::{
    sim_enr, sim_node_id, SimDht, SimDhtNode, SimDiscv5, SimEnrFields, SEED_CLOSEST, SEED_RANDOM,
};
pub use duties::{sim_attestation, sim_duty, SimAttestation, SimDuty, MAX_PUBLISHED_LOG};
pub use hostile::Hostility;
pub use net::{
    custody_group_count, floodsub_clients, scale_fanout, sim_network, sim_network_with_slot,
    SimClient, SimNet, SimNetBuilder, SimNetError, SimPeer, SimRole, CAPLIN_GOSSIP,
    DEFAULT_MESH_DEGREE, DEFAULT_NODES, DEFAULT_SEED, DEFAULT_SUBNET_PEERS, DEFAULT_VALIDATOR_MIX,
    GRANDINE_GOSSIP, LIGHTHOUSE_GOSSIP, LODESTAR_GOSSIP, MAINNET_LIKE_MIX, NIMBUS_GOSSIP,
    PRYSM_GOSSIP, SIM_CONFIG_YAML, SIM_GENESIS_VALIDATORS_ROOT, TEKU_GOSSIP,
};
pub use run::{run_attribution, run_attribution_with, AttributionRun, Traffic};
pub use score::{
    combine_vantage_points, score_attributions, AttributionCounts, AttributionScore, PublishCase,
    VantageAgreement,
};
pub use scoring::{lighthouse_peer_score, LIGHTHOUSE_SCORED_VALIDATORS};

use valtrack_sentry::host::{GossipParams, Host, HostConfig, MuxerOffer, PeerMode};
use valtrack_sentry::HostError;

/// Idle-connection timeout of relaying simulated nodes: their links carry only gossip.
pub const RELAY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Configuration of one simulated node.
#[derive(Debug, Clone)]
pub struct SimNodeConfig {
    /// The network (fork schedule, clock).
    pub network: Network,
    /// secp256k1 secret key; it fixes the node id and PeerId.
    pub secret_key: [u8; 32],
    /// identify agent version, e.g. `Lighthouse/v7.1.0-e42406d/x86_64-linux`.
    pub agent_version: String,
    /// Muxers offered over TCP.
    pub muxers: MuxerOffer,
    /// Long-lived attestation subnets (ENR, MetaData, gossip subscriptions).
    pub attnets: AttestationSubnets,
    /// Sync-committee subnets.
    pub syncnets: SyncSubnets,
    /// Custody group count.
    pub custody_group_count: u64,
    /// MetaData seq.
    pub metadata_seq: u64,
    /// The digest the node is on (ENR `eth2` and Status). Default: the network's current one.
    pub fork_digest: Option<ForkDigest>,
    /// Head slot in its Status; `None` (the default): the current slot, as an honest synced
    /// node's, with the epoch two back finalized.
    pub head_slot: Option<u64>,
    /// Honest or full.
    pub mode: PeerMode,
    /// How it misbehaves on every request but Goodbye, if it does. Default: never.
    pub hostility: Option<Hostility>,
    /// Advertise a closed TCP port (and no QUIC) so nobody can connect.
    pub unreachable: bool,
    /// Advertise QUIC beside TCP. Default: true.
    pub quic: bool,
    /// Run GossipSub (subscribing to its subnets).
    pub gossipsub: bool,
    /// Validate gossip as ACCEPT and so relay it (simulated nodes among themselves); its
    /// connections then stay open while idle. Default: false (IGNORE, like a sentry).
    pub relay: bool,
    /// How it publishes and keeps meshes. Default: [`GossipParams::default`] (flood
    /// publishing, the spec's mesh).
    pub gossip: GossipParams,
    /// How it scores its GossipSub peers (e.g. [`lighthouse_peer_score`]). Default: `None`,
    /// the host's own defensive scoring.
    pub gossip_scoring: Option<(
        valtrack_sentry::libp2p::gossipsub::PeerScoreParams,
        valtrack_sentry::libp2p::gossipsub::PeerScoreThresholds,
    )>,
}

impl SimNodeConfig {
    /// An honest node with key `secret_key` on `network`.
    pub fn new(network: Network, secret_key: [u8; 32]) -> Self {
        Self {
            network,
            secret_key,
            agent_version: "Lighthouse/v7.1.0-e42406d/x86_64-linux".to_owned(),
            muxers: MuxerOffer::YamuxAndMplex,
            attnets: AttestationSubnets::NONE,
            syncnets: SyncSubnets::default(),
            custody_group_count: valtrack_core::constants::CUSTODY_REQUIREMENT,
            metadata_seq: 1,
            fork_digest: None,
            head_slot: None,
            mode: PeerMode::Normal,
            hostility: None,
            unreachable: false,
            quic: true,
            gossipsub: false,
            relay: false,
            gossip: GossipParams::default(),
            gossip_scoring: None,
        }
    }
}

/// A running simulated node. Dropping it stops the node.
#[derive(Debug, Clone)]
pub struct SimNode {
    host: Host,
    enr: Enr,
    info: EnrInfo,
    config: SimNodeConfig,
}

impl SimNode {
    /// Starts the node on 127.0.0.1 (ports chosen by the OS) and signs its ENR.
    pub async fn spawn(config: SimNodeConfig) -> Result<Self, HostError> {
        let now = config
            .network
            .current_epoch(std::time::SystemTime::now())
            .unwrap_or(0);
        let digest = config
            .fork_digest
            .unwrap_or_else(|| config.network.fork_digest(now));
        let fixed_head = config.head_slot;
        let status = move |now: Option<(u64, u64)>| {
            let (epoch, slot) = now.unwrap_or((0, 0));
            Status::V2(StatusV2 {
                fork_digest: digest.0,
                finalized_epoch: if fixed_head.is_some() {
                    0
                } else {
                    epoch.saturating_sub(2)
                },
                head_slot: fixed_head.unwrap_or(slot),
                ..StatusV2::default()
            })
        };
        let mut host_config = HostConfig::builder(config.network.clone())
            .secret_key(config.secret_key)
            .listen_on_loopback()
            .muxers(config.muxers)
            .agent_version(config.agent_version.clone())
            .attnets(config.attnets)
            .syncnets(config.syncnets)
            .custody_group_count(config.custody_group_count)
            .metadata_seq(config.metadata_seq)
            .status_fn(status)
            .mode(config.mode.clone())
            .gossipsub(config.gossipsub)
            .accept_gossip(config.relay)
            .gossip_params(config.gossip);
        if let Some(hostility) = config.hostility {
            host_config = host_config.responder(hostility);
        }
        if let Some((params, thresholds)) = config.gossip_scoring.clone() {
            host_config = host_config.gossip_scoring(params, thresholds);
        }
        if config.relay {
            host_config = host_config.idle_connection_timeout(RELAY_IDLE_TIMEOUT);
        }
        let host_config = host_config.build()?;
        let host = Host::spawn(host_config).await?;
        let mut tcp = None;
        let mut quic = None;
        for addr in host.listen_addrs() {
            let protocols: Vec<Protocol<'_>> = addr.iter().collect();
            match protocols.as_slice() {
                [Protocol::Ip4(_), Protocol::Tcp(p)] => tcp = Some(*p),
                [Protocol::Ip4(_), Protocol::Udp(p), Protocol::QuicV1] => quic = Some(*p),
                _ => {}
            }
        }
        if config.unreachable {
            tcp = Some(closed_port());
            quic = None;
        }
        if !config.quic {
            quic = None;
        }
        let key = SigningKey::from_slice(&config.secret_key)
            .map_err(|_| HostError::Config("secret key is not a valid secp256k1 scalar"))?;
        let mut fork_id = config.network.enr_fork_id(now);
        fork_id.fork_digest = digest.0;
        let mut builder = Enr::builder();
        builder
            .ip4(Ipv4Addr::LOCALHOST)
            .add_value("eth2", &Bytes::from(fork_id.to_ssz_bytes()))
            .add_value("attnets", &Bytes::copy_from_slice(&config.attnets.0))
            .add_value("syncnets", &Bytes::copy_from_slice(&[config.syncnets.0]))
            .add_value("cgc", &config.custody_group_count);
        if let Some(port) = tcp {
            builder.tcp4(port);
        }
        if let Some(port) = quic {
            builder.add_value("quic", &port);
        }
        let enr = builder
            .build(&key)
            .map_err(|_| HostError::Config("could not sign the ENR"))?;
        let info = EnrInfo::from_enr(&enr).map_err(|_| HostError::Config("unreadable own ENR"))?;
        Ok(Self {
            host,
            enr,
            info,
            config,
        })
    }

    /// The node's libp2p host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The node's libp2p PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.host.peer_id()
    }

    /// Its signed ENR.
    pub fn enr(&self) -> &Enr {
        &self.enr
    }

    /// Its ENR, decoded.
    pub fn enr_info(&self) -> &EnrInfo {
        &self.info
    }

    /// Its configuration (the ground truth).
    pub fn config(&self) -> &SimNodeConfig {
        &self.config
    }

    /// The node as a crawler would report it.
    pub fn discovered(&self, our_digests: &[ForkDigest]) -> DiscoveredNode {
        DiscoveredNode {
            enr: self.enr.to_base64(),
            class: self.info.classify(our_digests),
            info: self.info.clone(),
            update: NodeUpdate::New,
        }
    }
}

/// A loopback TCP port nothing listens on (bound, then released). It is taken below the
/// usual ephemeral ranges (Linux 32768–60999, others 49152+), so no later port-0 listener
/// (another simulated node) can get it and turn "refused" into a wrong-peer handshake.
fn closed_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 5_000) as u16;
    for _ in 0..2_000 {
        let port = start + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1)
}

/// A deterministic, valid secp256k1 secret key for simulated node `n`.
pub fn sim_secret_key(n: u64) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"valtrack-sim-node");
    h.update(n.to_le_bytes());
    // A SHA-256 output is a valid scalar with overwhelming probability; rehash if not.
    let mut key: [u8; 32] = h.finalize().into();
    while SigningKey::from_slice(&key).is_err() {
        key = Sha256::digest(key).into();
    }
    key
}
