//! [`SimNet`]: a whole simulated beacon network in one process — each node a libp2p host
//! ([`SimNode`]) and a discv5 server ([`SimDiscv5`]) sharing one key, linked into one DHT
//! behind a discv5-only bootnode, with a realistic client mix and some full, unreachable,
//! wrong-fork and hostile nodes. The ground truth ([`SimPeer`]) says what a sentry should
//! record for each.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_core::events::HandshakeErrorKind;
use valtrack_core::subnets::compute_subscribed_attnets;
use valtrack_core::{
    AttestationSubnets, ClientKind, ConsensusConfig, EnrInfo, ForkDigest, Network, PeerId,
    SyncSubnets,
};

use discv5::Enr;

use crate::dht::{sim_node_id, SimDht, SimDhtNode, SimDiscv5, SimEnrFields, SplitMix};
use crate::{sim_secret_key, Hostility, SimNode, SimNodeConfig};
use valtrack_sentry::host::{GossipParams, MuxerOffer, PeerMode};
use valtrack_sentry::{CrawlerError, HostError};

/// The consensus config of simulated networks: mainnet preset, every fork up to Fulu at
/// genesis, one-second slots (32-second epochs).
pub const SIM_CONFIG_YAML: &str = "\
CONFIG_NAME: 'valtrack-sim'
PRESET_BASE: 'mainnet'
GENESIS_FORK_VERSION: 0x10000000
ALTAIR_FORK_VERSION: 0x11000000
ALTAIR_FORK_EPOCH: 0
BELLATRIX_FORK_VERSION: 0x12000000
BELLATRIX_FORK_EPOCH: 0
CAPELLA_FORK_VERSION: 0x13000000
CAPELLA_FORK_EPOCH: 0
DENEB_FORK_VERSION: 0x14000000
DENEB_FORK_EPOCH: 0
ELECTRA_FORK_VERSION: 0x15000000
ELECTRA_FORK_EPOCH: 0
FULU_FORK_VERSION: 0x16000000
FULU_FORK_EPOCH: 0
SECONDS_PER_SLOT: 1
MAX_BLOBS_PER_BLOCK_ELECTRA: 9
BLOB_SCHEDULE:
  - EPOCH: 0
    MAX_BLOBS_PER_BLOCK: 12
";

/// The genesis validators root of simulated networks.
pub const SIM_GENESIS_VALIDATORS_ROOT: [u8; 32] = [0x5a; 32];

/// The simulated network with genesis at `genesis_time` (time since the unix epoch).
pub fn sim_network(genesis_time: Duration) -> Network {
    // The embedded config is valid (a unit test parses it); fall back to mainnet's clock
    // rather than panic should it ever not be.
    ConsensusConfig::from_yaml(SIM_CONFIG_YAML)
        .and_then(|c| {
            Network::builder(c, SIM_GENESIS_VALIDATORS_ROOT)
                .genesis_time(genesis_time)
                .build()
        })
        .unwrap_or_else(|_| Network::mainnet())
}

/// A simulated network like [`sim_network`] with slots of `slot` (whole milliseconds, at
/// least 1), for attestation runs of many epochs in little time.
pub fn sim_network_with_slot(genesis_time: Duration, slot: Duration) -> Network {
    let ms = slot.as_millis().max(1);
    let yaml = SIM_CONFIG_YAML.replace("SECONDS_PER_SLOT: 1", &format!("SLOT_DURATION_MS: {ms}"));
    ConsensusConfig::from_yaml(&yaml)
        .and_then(|c| {
            Network::builder(c, SIM_GENESIS_VALIDATORS_ROOT)
                .genesis_time(genesis_time)
                .build()
        })
        .unwrap_or_else(|_| sim_network(genesis_time))
}

/// What a simulated node is, and so what a sentry should record for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SimRole {
    /// Answers everything honestly.
    Honest,
    /// Answers Goodbye 129 (too many peers) to every connection.
    Full,
    /// Its ENR advertises a closed TCP port and no QUIC.
    Unreachable,
    /// On another fork digest (ENR and Status).
    OtherFork,
    /// Misbehaves on every request.
    Hostile(Hostility),
}

impl SimRole {
    /// The failure a handshake with this node must end in (`None`: it must succeed).
    pub fn expected_failure(&self) -> Option<HandshakeErrorKind> {
        match self {
            Self::Honest | Self::Hostile(Hostility::NeverClose) => None,
            Self::Full => Some(HandshakeErrorKind::TooManyPeers),
            Self::Unreachable => Some(HandshakeErrorKind::Refused),
            Self::OtherFork => Some(HandshakeErrorKind::IrrelevantNetwork),
            Self::Hostile(Hostility::Stall) => Some(HandshakeErrorKind::Timeout),
            Self::Hostile(_) => Some(HandshakeErrorKind::ProtocolViolation),
        }
    }
}

/// One client of the mix: its agent version, what it is, the muxers it offers and its
/// weight in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimClient {
    /// identify agent version.
    pub agent_version: &'static str,
    /// What [`ClientInfo`](valtrack_core::ClientInfo) must make of it.
    pub kind: ClientKind,
    /// Muxers offered over TCP.
    pub muxers: MuxerOffer,
    /// Whether it advertises QUIC (the sentry then prefers it to TCP).
    pub quic: bool,
    /// How it publishes and keeps meshes (see [`GossipParams`] and
    /// `docs/gossip-publishing.md`).
    pub gossip: GossipParams,
    /// Relative weight.
    pub weight: u32,
}

const fn gossip(
    flood_publish: bool,
    [mesh_n_low, mesh_n, mesh_n_high, mesh_outbound_min, gossip_lazy]: [usize; 5],
    heartbeat_ms: u64,
) -> GossipParams {
    GossipParams {
        flood_publish,
        mesh_n,
        mesh_n_low,
        mesh_n_high,
        mesh_outbound_min,
        gossip_lazy,
        heartbeat: Duration::from_millis(heartbeat_ms),
        fanout_ttl: Duration::from_secs(60),
        floodsub: false,
    }
}

/// Lighthouse's GossipSub at its default network load (3, "Average"): no flood publishing,
/// D 5, D_lo 3, D_hi 10, D_out 2, D_lazy 3, heartbeat 1 s, fanout TTL 60 s.
pub const LIGHTHOUSE_GOSSIP: GossipParams = gossip(false, [3, 5, 10, 2, 3], 1000);
/// Prysm on go-libp2p-pubsub: no flood publishing (the library's default, which Prysm keeps),
/// D 8, D_lo 6, D_hi 12, D_out 2, D_lazy 6, heartbeat 700 ms. The library also speaks
/// floodsub (see [`floodsub_clients`]), left out here.
pub const PRYSM_GOSSIP: GossipParams = gossip(false, [6, 8, 12, 2, 6], 700);
/// Teku on jvm-libp2p: flood publishing of its own messages up to 16 KiB (every attestation),
/// D 8, D_lo 6, D_hi 12, D_out 4, D_lazy 6, heartbeat 700 ms.
pub const TEKU_GOSSIP: GossipParams = gossip(true, [6, 8, 12, 4, 6], 700);
/// Nimbus on nim-libp2p: flood publishing (capped by a bandwidth estimate at ~700 peers for
/// an attestation), D 8, D_lo 6, D_hi 12, D_lazy 6, heartbeat 700 ms.
pub const NIMBUS_GOSSIP: GossipParams = gossip(true, [6, 8, 12, 2, 6], 700);
/// Lodestar on js-gossipsub: no flood publishing (Lodestar sets `disableFloodPublish`),
/// D 8, D_lo 6, D_hi 12, D_lazy 6, heartbeat 700 ms.
pub const LODESTAR_GOSSIP: GossipParams = gossip(false, [6, 8, 12, 2, 6], 700);
/// Grandine (`eth2_libp2p`, a fork of Lighthouse's networking): as Lighthouse.
pub const GRANDINE_GOSSIP: GossipParams = LIGHTHOUSE_GOSSIP;
/// Erigon's Caplin on go-libp2p-pubsub: no flood publishing (the library's default), D 4,
/// D_lo 2, D_hi 6, D_out 1, D_lazy 6, heartbeat 700 ms. Speaks floodsub too, left out here
/// (see [`floodsub_clients`]).
pub const CAPLIN_GOSSIP: GossipParams = gossip(false, [2, 4, 6, 1, 6], 700);

/// `clients` with the ones on go-libp2p-pubsub (Prysm, Caplin) speaking floodsub as well, as
/// that library does with its default protocols (which both keep): they send a floodsub peer
/// every message of its topics, their own and what they forward
/// ([`GossipParams::floodsub`]). For measuring floodsub links
/// (`GossipStrategy::OutOfMeshesFloodsubLinks`); not in [`MAINNET_LIKE_MIX`], so that the
/// figures measured without it stay comparable (a sentry that speaks GossipSub to them meets
/// the same behaviour either way).
pub fn floodsub_clients(clients: &[SimClient]) -> Vec<SimClient> {
    clients
        .iter()
        .map(|c| {
            let mut c = *c;
            if matches!(c.kind, ClientKind::Prysm | ClientKind::Erigon) {
                c.gossip.floodsub = true;
            }
            c
        })
        .collect()
}

/// A client mix shaped like mainnet's (Lighthouse and Prysm most, Lodestar and Nimbus
/// mplex-only, as they are). Lighthouse and Grandine advertise QUIC, as they do by default;
/// the others TCP only, so most nodes are reached over TCP (yamux or mplex), as on mainnet.
pub const MAINNET_LIKE_MIX: [SimClient; 7] = [
    SimClient {
        agent_version: "Lighthouse/v7.1.0-e42406d/x86_64-linux",
        kind: ClientKind::Lighthouse,
        muxers: MuxerOffer::YamuxAndMplex,
        quic: true,
        gossip: LIGHTHOUSE_GOSSIP,
        weight: 38,
    },
    SimClient {
        agent_version: "Prysm/v6.0.4/8a3f8c1b2d4e5f60718293a4b5c6d7e8f9012345",
        kind: ClientKind::Prysm,
        muxers: MuxerOffer::YamuxAndMplex,
        quic: false,
        gossip: PRYSM_GOSSIP,
        weight: 30,
    },
    SimClient {
        agent_version:
            "teku/teku/v25.6.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21",
        kind: ClientKind::Teku,
        muxers: MuxerOffer::YamuxAndMplex,
        quic: false,
        gossip: TEKU_GOSSIP,
        weight: 13,
    },
    SimClient {
        agent_version: "nimbus",
        kind: ClientKind::Nimbus,
        muxers: MuxerOffer::MplexOnly,
        quic: false,
        gossip: NIMBUS_GOSSIP,
        weight: 9,
    },
    SimClient {
        agent_version: "lodestar/v1.31.0/4a4f9a1",
        kind: ClientKind::Lodestar,
        muxers: MuxerOffer::MplexOnly,
        quic: false,
        gossip: LODESTAR_GOSSIP,
        weight: 6,
    },
    SimClient {
        agent_version: "Grandine/1.1.0-29cb5cf/x86_64-linux",
        kind: ClientKind::Grandine,
        muxers: MuxerOffer::YamuxAndMplex,
        quic: true,
        gossip: GRANDINE_GOSSIP,
        weight: 2,
    },
    SimClient {
        agent_version: "erigon/caplin",
        kind: ClientKind::Erigon,
        muxers: MuxerOffer::YamuxOnly,
        quic: false,
        gossip: CAPLIN_GOSSIP,
        weight: 2,
    },
];

/// Validators per node and the weight of each count: most nodes host none or few, some
/// many.
pub const DEFAULT_VALIDATOR_MIX: [(u64, u32); 5] = [(0, 40), (1, 20), (8, 20), (64, 15), (500, 5)];

/// How a [`SimNet`] is made. Build with [`SimNet::builder`].
#[derive(Debug, Clone)]
pub struct SimNetBuilder {
    nodes: usize,
    seed: u64,
    network: Option<Network>,
    full: f64,
    unreachable: f64,
    other_fork: f64,
    hostile: f64,
    gossipsub: bool,
    clients: Vec<SimClient>,
    validators: Vec<(u64, u32)>,
    attestations: bool,
    mesh_degree: Option<usize>,
    subnet_peers: usize,
    duty_validators: Option<u64>,
    subscribe_all: f64,
}

/// Default seed of a simulated network (keys, clients, roles).
pub const DEFAULT_SEED: u64 = 1;
/// Default size of the simulated network that `valtrack --network sim` starts.
pub const DEFAULT_NODES: usize = 100;
/// Default number of other simulated nodes each node dials when attestations are on.
pub const DEFAULT_MESH_DEGREE: usize = 4;
/// Default number of nodes sharing a backbone subnet that each node links to, when
/// attestations are on (clients look for peers on their subnets, so their subnet meshes can
/// fill).
pub const DEFAULT_SUBNET_PEERS: usize = 8;

impl SimNetBuilder {
    /// Seed of every random choice (keys, roles, clients, validators, DHT links).
    /// Default: 1.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The network. Default: [`sim_network`] with genesis now (32-second epochs).
    pub fn network(mut self, network: Network) -> Self {
        self.network = Some(network);
        self
    }

    /// Fractions of full, unreachable, other-fork and hostile nodes (the rest are honest).
    /// Default: 5% each. Each is clamped to `[0, 1]`; their sum must not exceed 1.
    pub fn roles(mut self, full: f64, unreachable: f64, other_fork: f64, hostile: f64) -> Self {
        let clamp = |x: f64| {
            if x.is_finite() {
                x.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        self.full = clamp(full);
        self.unreachable = clamp(unreachable);
        self.other_fork = clamp(other_fork);
        self.hostile = clamp(hostile);
        self
    }

    /// Whether nodes run GossipSub on their subnets (so a probe sees subscriptions).
    /// Default: true.
    pub fn gossipsub(mut self, on: bool) -> Self {
        self.gossipsub = on;
        self
    }

    /// The client mix. Default: [`MAINNET_LIKE_MIX`].
    pub fn clients(mut self, clients: impl IntoIterator<Item = SimClient>) -> Self {
        self.clients = clients.into_iter().collect();
        self
    }

    /// Validators per node with weights. Default: [`DEFAULT_VALIDATOR_MIX`].
    pub fn validators(mut self, mix: impl IntoIterator<Item = (u64, u32)>) -> Self {
        self.validators = mix.into_iter().collect();
        self
    }

    /// Whether validators publish attestations: each epoch every validator attests once on
    /// its duty's subnet (see [`sim_duty`](super::sim_duty)), aggregators' nodes subscribe to
    /// their duty subnets, and nodes relay gossip among themselves (ACCEPT). Needs
    /// `gossipsub`. Default: false.
    pub fn attestations(mut self, on: bool) -> Self {
        self.attestations = on;
        self
    }

    /// How many other nodes each node dials at start, so gossip also arrives through relays
    /// (full, unreachable and other-fork nodes are never dialed; other-fork nodes dial
    /// nobody). Default: [`DEFAULT_MESH_DEGREE`] with attestations on, 0 otherwise.
    pub fn mesh_degree(mut self, degree: usize) -> Self {
        self.mesh_degree = Some(degree);
        self
    }

    /// How many nodes sharing a backbone subnet each node links to (beyond
    /// [`mesh_degree`](Self::mesh_degree)'s random links), as clients seek peers on their
    /// subnets: with enough nodes per subnet, meshes fill to D. Default:
    /// [`DEFAULT_SUBNET_PEERS`] with attestations on.
    pub fn subnet_peers(mut self, n: usize) -> Self {
        self.subnet_peers = n;
        self
    }

    /// The fraction of nodes that subscribe to all 64 attestation subnets (and advertise
    /// them), like operators running `--subscribe-all-subnets`: they fill other nodes' subnet
    /// meshes and fanout choices, as on mainnet. Clamped to `[0, 1]`. Default: 0.
    pub fn subscribe_all(mut self, fraction: f64) -> Self {
        self.subscribe_all = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The active validator count duties are drawn from (committees per slot, their size, and
    /// so the odds of aggregating and of a duty on a subnet the node is subscribed to); the
    /// simulated validators are a sample of it. Mainnet's ~1,000,000 gives 64 committees of
    /// ~490 a slot, one validator in ~30 aggregating. Default: the simulated validators alone
    /// (never fewer).
    pub fn duty_validators(mut self, n: u64) -> Self {
        self.duty_validators = Some(n);
        self
    }

    /// Starts every node, links the DHT and returns the running network.
    pub async fn spawn(self) -> Result<SimNet, SimNetError> {
        let total = self.full + self.unreachable + self.other_fork + self.hostile;
        if total > 1.0 + 1e-9 {
            return Err(SimNetError::Config("role fractions sum to more than 1"));
        }
        if self
            .clients
            .iter()
            .map(|c| u64::from(c.weight))
            .sum::<u64>()
            == 0
        {
            return Err(SimNetError::Config("the client mix has no weight"));
        }
        if self.validators.iter().map(|v| u64::from(v.1)).sum::<u64>() == 0 {
            return Err(SimNetError::Config("the validator mix has no weight"));
        }
        if self.attestations && !self.gossipsub {
            return Err(SimNetError::Config("attestations need gossipsub"));
        }
        let network = self.network.clone().unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            sim_network(Duration::from_secs(now.as_secs()))
        });
        let epoch = network.current_epoch(SystemTime::now()).unwrap_or(0);
        let digest = network.fork_digest(epoch);
        // Another network's digest: the same versions under another genesis root.
        let other_digest = {
            let d = digest.0;
            ForkDigest([d[0] ^ 0xff, d[1] ^ 0x5a, d[2], d[3] ^ 0x01])
        };
        let roles = self.roles_for(self.nodes);
        let mut rng = SplitMix(self.seed ^ 0x51_4e_45_54);
        let first_key = self.seed.wrapping_mul(1_000_003);
        let mut peers = Vec::with_capacity(self.nodes);
        let mut specs = Vec::with_capacity(self.nodes + 1);
        // The bootnode: discv5 only, no eth2 field, like mainnet's.
        specs.push(SimDhtNode {
            secret_key: sim_secret_key(first_key),
            fields: SimEnrFields::default(),
        });
        for (i, role) in roles.into_iter().enumerate() {
            let secret_key = sim_secret_key(first_key.wrapping_add(1 + i as u64));
            let node_id = sim_node_id(secret_key)?;
            let client = pick(&self.clients, |c| c.weight, rng.next());
            let validators = pick(&self.validators, |v| v.1, rng.next()).0;
            let mut config = SimNodeConfig::new(network.clone(), secret_key);
            config.agent_version = client.agent_version.to_owned();
            config.muxers = client.muxers;
            config.quic = client.quic;
            // Drawn only when asked, so the other choices of a seed stay as they were.
            let all = self.subscribe_all > 0.0
                && ((rng.next() % 1_000_000) as f64) < self.subscribe_all * 1e6;
            config.attnets = if all {
                AttestationSubnets::ALL
            } else {
                compute_subscribed_attnets(&node_id.into(), epoch)
            };
            config.syncnets = if validators > 0 && rng.next().is_multiple_of(8) {
                SyncSubnets(1 << (rng.next() % 4))
            } else {
                SyncSubnets::default()
            };
            config.custody_group_count = custody_group_count(validators);
            config.metadata_seq = 1 + rng.next() % 16;
            config.gossipsub = self.gossipsub;
            config.relay = self.attestations;
            config.gossip = scale_fanout(client.gossip, network.slot_duration());
            match role {
                SimRole::Honest => {}
                SimRole::Full => config.mode = PeerMode::Full,
                SimRole::Unreachable => config.unreachable = true,
                SimRole::OtherFork => config.fork_digest = Some(other_digest),
                SimRole::Hostile(h) => config.hostility = Some(h),
            }
            let node = SimNode::spawn(config).await?;
            let info = node.enr_info();
            let mut fork_id = network.enr_fork_id(epoch);
            if let Some(d) = info.fork_digest() {
                fork_id.fork_digest = d.0;
            }
            specs.push(SimDhtNode {
                secret_key,
                fields: SimEnrFields {
                    eth2: Some(fork_id),
                    attnets: info.attnets,
                    syncnets: info.syncnets,
                    cgc: info.cgc,
                    tcp: info.tcp4,
                    quic: info.quic4,
                    nfd: info.nfd.map(|d| d.0),
                    ip6: None,
                },
            });
            peers.push((node, role, client.kind, validators));
        }
        let dht = SimDht::spawn(specs, self.seed).await?;
        let mut next_index = 0u64;
        let peers: Vec<SimPeer> = peers
            .into_iter()
            .zip(dht.nodes().iter().skip(1))
            .map(|((node, role, client, validators), discv5)| {
                let enr = discv5.enr();
                let info = EnrInfo::from_enr(&enr).map_err(|_| SimNetError::Config("own ENR"))?;
                let start = next_index;
                next_index += validators;
                Ok(SimPeer {
                    node,
                    enr,
                    info,
                    role,
                    client,
                    validators,
                    validator_indices: start..next_index,
                })
            })
            .collect::<Result<_, SimNetError>>()?;
        let total_validators = next_index;
        let published: super::duties::PublishedLog = Arc::default();
        let mut tasks = Vec::new();
        if self.attestations {
            let degree = self.mesh_degree.unwrap_or(DEFAULT_MESH_DEGREE);
            link_mesh(&peers, degree, self.subnet_peers, self.seed).await;
            for p in peers.iter().filter(|p| p.role != SimRole::OtherFork) {
                if p.validators == 0 {
                    continue;
                }
                let task = super::duties::DutyTask {
                    host: p.node.host().clone(),
                    network: network.clone(),
                    peer_id: p.peer_id(),
                    validators: p.validator_indices.clone(),
                    total_validators: self
                        .duty_validators
                        .unwrap_or(total_validators)
                        .max(total_validators),
                    backbone: p.node.config().attnets,
                    log: published.clone(),
                };
                tasks.push(tokio::spawn(task.run()).abort_handle());
            }
        }
        let index = peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.info.peer_id, i))
            .collect();
        Ok(SimNet {
            network,
            digest,
            other_digest,
            dht,
            peers,
            index,
            total_validators,
            published,
            tasks,
        })
    }

    /// Roles for `n` nodes: the fractions rounded, spread through the index range, hostile
    /// nodes cycling through every [`Hostility`].
    fn roles_for(&self, n: usize) -> Vec<SimRole> {
        let count = |f: f64| (f * n as f64).round() as usize;
        let mut roles = Vec::with_capacity(n);
        roles.extend(std::iter::repeat_n(SimRole::Full, count(self.full)));
        roles.extend(std::iter::repeat_n(
            SimRole::Unreachable,
            count(self.unreachable),
        ));
        roles.extend(std::iter::repeat_n(
            SimRole::OtherFork,
            count(self.other_fork),
        ));
        roles.extend(
            (0..count(self.hostile))
                .map(|i| SimRole::Hostile(Hostility::ALL[i % Hostility::ALL.len()])),
        );
        roles.truncate(n);
        roles.resize(n, SimRole::Honest);
        // A deterministic shuffle, so special nodes sit anywhere in the DHT.
        let mut rng = SplitMix(self.seed ^ 0x726f_6c65);
        for i in (1..roles.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            roles.swap(i, j);
        }
        roles
    }
}

/// Most links a simulated node takes part in (a client's peer limit is ~100; the hosts
/// accept 256 inbound connections).
const MAX_SIM_LINKS: usize = 64;

/// `params` with the fanout TTL scaled from mainnet's 12-second slots to `slot`, so a fanout
/// set lasts as many slots as on mainnet (at least one slot).
pub fn scale_fanout(params: GossipParams, slot: Duration) -> GossipParams {
    let mainnet_slot = Duration::from_secs(12);
    let ttl = params
        .fanout_ttl
        .mul_f64(slot.as_secs_f64() / mainnet_slot.as_secs_f64());
    GossipParams {
        fanout_ttl: ttl.max(slot),
        ..params
    }
}

/// Each node (but other-fork ones) dials `degree` random nodes that accept connections
/// (honest or hostile: full, unreachable and other-fork nodes turn links away), and links to
/// up to `subnet_peers` such nodes sharing each of its backbone subnets; all at once.
async fn link_mesh(peers: &[SimPeer], degree: usize, subnet_peers: usize, seed: u64) {
    let targets: Vec<usize> = (0..peers.len())
        .filter(|&i| matches!(peers[i].role, SimRole::Honest | SimRole::Hostile(_)))
        .collect();
    if targets.len() < 2 {
        return;
    }
    let mut rng = SplitMix(seed ^ 0x6d65_7368);
    // (dialer, target), one per pair: the node that chose the link dials.
    let mut pairs = std::collections::BTreeSet::new();
    let mut links = Vec::new();
    let mut links_of = vec![0usize; peers.len()];
    for (i, p) in peers.iter().enumerate() {
        if p.role == SimRole::OtherFork {
            continue;
        }
        let mut chosen = std::collections::BTreeSet::new();
        for _ in 0..degree * 4 {
            if chosen.len() >= degree.min(targets.len() - 1) {
                break;
            }
            let j = targets[(rng.next() % targets.len() as u64) as usize];
            if j != i {
                chosen.insert(j);
            }
        }
        // Subnet peers: the first `subnet_peers` other targets on each of its node id's
        // backbone subnets (a node on all subnets too seeks peers for those two only),
        // starting at a random point so links spread, skipping targets already at
        // `MAX_SIM_LINKS`.
        if subnet_peers > 0 {
            let start = rng.next() as usize % targets.len();
            let attnets = p.node.config().attnets;
            let own = if attnets.is_all() {
                compute_subscribed_attnets(&p.info.node_id, 0)
            } else {
                attnets
            };
            for subnet in own.subnets() {
                let on_subnet = (0..targets.len())
                    .map(|k| targets[(start + k) % targets.len()])
                    .filter(|&j| {
                        j != i
                            && links_of[j] < MAX_SIM_LINKS
                            && peers[j].node.config().attnets.contains(subnet)
                    })
                    .take(subnet_peers);
                chosen.extend(on_subnet);
            }
        }
        for j in chosen {
            if links_of[i] < MAX_SIM_LINKS && pairs.insert((i.min(j), i.max(j))) {
                links.push((i, j));
                links_of[i] += 1;
                links_of[j] += 1;
            }
        }
    }
    let mut dials = Vec::new();
    for (i, j) in links {
        let host = peers[i].node.host().clone();
        let target = peers[j].node.host();
        let (peer, addrs) = (target.peer_id(), target.listen_addrs().to_vec());
        dials.push(async move {
            let dial = host.dial(peer, addrs);
            let _ = tokio::time::timeout(Duration::from_secs(10), dial).await;
        });
    }
    futures::future::join_all(dials).await;
}

/// The custody group count a node with `validators` validators of 32 ETH advertises:
/// `CUSTODY_REQUIREMENT` without validators, else `clamp(validators, 8, 128)`.
pub fn custody_group_count(validators: u64) -> u64 {
    if validators == 0 {
        valtrack_core::constants::CUSTODY_REQUIREMENT
    } else {
        validators.clamp(8, 128)
    }
}

fn pick<T: Copy>(items: &[T], weight: impl Fn(&T) -> u32, r: u64) -> T {
    let total: u64 = items.iter().map(|i| u64::from(weight(i))).sum();
    let mut x = r % total.max(1);
    for item in items {
        let w = u64::from(weight(item));
        if x < w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1]
}

/// Why a [`SimNet`] did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimNetError {
    /// A bad setting.
    #[error("simulated network: {0}")]
    Config(&'static str),
    /// A node's libp2p host did not start.
    #[error("simulated node: {0}")]
    Host(#[from] HostError),
    /// A node's discv5 server did not start.
    #[error("simulated discv5: {0}")]
    Discv5(#[from] CrawlerError),
}

/// One node of a [`SimNet`] and the truth about it.
#[derive(Debug)]
pub struct SimPeer {
    node: SimNode,
    enr: Enr,
    info: EnrInfo,
    role: SimRole,
    client: ClientKind,
    validators: u64,
    validator_indices: Range<u64>,
}

impl SimPeer {
    /// Its libp2p side (configuration included).
    pub fn node(&self) -> &SimNode {
        &self.node
    }
    /// The ENR its discv5 server hands out (udp, tcp, quic, eth2, attnets, syncnets, cgc).
    pub fn enr(&self) -> &Enr {
        &self.enr
    }
    /// That ENR, decoded.
    pub fn info(&self) -> &EnrInfo {
        &self.info
    }
    /// Its PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.info.peer_id
    }
    /// What it is.
    pub fn role(&self) -> SimRole {
        self.role
    }
    /// The client its agent version names.
    pub fn client(&self) -> ClientKind {
        self.client
    }
    /// Validators it hosts.
    pub fn validators(&self) -> u64 {
        self.validators
    }
    /// The global indices of the validators it hosts (disjoint across nodes,
    /// `validators()` long).
    pub fn validator_indices(&self) -> Range<u64> {
        self.validator_indices.clone()
    }
}

/// A running simulated network. Dropping it stops every node.
#[derive(Debug)]
pub struct SimNet {
    network: Network,
    digest: ForkDigest,
    other_digest: ForkDigest,
    dht: SimDht,
    peers: Vec<SimPeer>,
    index: HashMap<PeerId, usize>,
    total_validators: u64,
    published: super::duties::PublishedLog,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for SimNet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl SimNet {
    /// A network of `nodes` beacon nodes (plus one bootnode); see [`SimNetBuilder`].
    pub fn builder(nodes: usize) -> SimNetBuilder {
        SimNetBuilder {
            nodes,
            seed: DEFAULT_SEED,
            network: None,
            full: 0.05,
            unreachable: 0.05,
            other_fork: 0.05,
            hostile: 0.05,
            gossipsub: true,
            clients: MAINNET_LIKE_MIX.to_vec(),
            validators: DEFAULT_VALIDATOR_MIX.to_vec(),
            attestations: false,
            mesh_degree: None,
            subnet_peers: DEFAULT_SUBNET_PEERS,
            duty_validators: None,
            subscribe_all: 0.0,
        }
    }

    /// Validators on all nodes together (indices `0..total`).
    pub fn total_validators(&self) -> u64 {
        self.total_validators
    }

    /// The node hosting validator `index`.
    pub fn validator_node(&self, index: u64) -> Option<&SimPeer> {
        self.peers
            .iter()
            .find(|p| p.validator_indices.contains(&index))
    }

    /// Every attestation the nodes tried to publish so far (with attestations on), in order;
    /// at most [`MAX_PUBLISHED_LOG`](super::MAX_PUBLISHED_LOG).
    pub fn published_attestations(&self) -> Vec<super::SimAttestation> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The network its nodes are on.
    pub fn network(&self) -> &Network {
        &self.network
    }
    /// The fork digest of honest nodes.
    pub fn fork_digest(&self) -> ForkDigest {
        self.digest
    }
    /// The digest of [`SimRole::OtherFork`] nodes.
    pub fn other_fork_digest(&self) -> ForkDigest {
        self.other_digest
    }
    /// The bootnode's ENR (discv5 only, no eth2 field).
    pub fn bootnode(&self) -> Enr {
        self.dht.nodes()[0].enr()
    }
    /// The bootnode's discv5 server.
    pub fn bootnode_discv5(&self) -> &SimDiscv5 {
        &self.dht.nodes()[0]
    }
    /// Every beacon node, with the truth about it.
    pub fn peers(&self) -> &[SimPeer] {
        &self.peers
    }
    /// The node with this PeerId.
    pub fn peer(&self, peer_id: &PeerId) -> Option<&SimPeer> {
        self.index.get(peer_id).map(|&i| &self.peers[i])
    }
    /// Number of beacon nodes (the bootnode not counted).
    pub fn len(&self) -> usize {
        self.peers.len()
    }
    /// Whether there is no beacon node.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sim_config_parses_with_short_epochs_at_fulu() {
        let yaml = ConsensusConfig::from_yaml(SIM_CONFIG_YAML).unwrap();
        let net = Network::builder(yaml, SIM_GENESIS_VALIDATORS_ROOT)
            .genesis_time(Duration::from_secs(1_800_000_000))
            .build()
            .unwrap();
        assert_eq!(net.epoch_duration(), Duration::from_secs(32));
        assert_eq!(net.fork_at(0).name, valtrack_core::ForkName::Fulu);
        assert_eq!(sim_network(Duration::from_secs(1_800_000_000)), net);
    }

    #[test]
    fn short_slots() {
        let net = sim_network_with_slot(
            Duration::from_secs(1_800_000_000),
            Duration::from_millis(250),
        );
        assert_eq!(net.epoch_duration(), Duration::from_secs(8));
        assert_eq!(net.fork_at(0).name, valtrack_core::ForkName::Fulu);
    }

    #[test]
    fn roles_follow_the_fractions_and_cycle_hostilities() {
        let roles = SimNet::builder(200).roles_for(200);
        let count = |r: SimRole| roles.iter().filter(|x| **x == r).count();
        assert_eq!(count(SimRole::Full), 10);
        assert_eq!(count(SimRole::Unreachable), 10);
        assert_eq!(count(SimRole::OtherFork), 10);
        assert_eq!(count(SimRole::Honest), 160);
        for h in Hostility::ALL {
            assert_eq!(count(SimRole::Hostile(h)), 2, "{h:?}");
        }
        // Shuffled: not all special roles at the front.
        assert!(roles[..40].contains(&SimRole::Honest));
    }

    #[test]
    fn custody_follows_validators() {
        assert_eq!(custody_group_count(0), 4);
        assert_eq!(custody_group_count(1), 8);
        assert_eq!(custody_group_count(64), 64);
        assert_eq!(custody_group_count(500), 128);
    }

    #[test]
    fn every_mix_agent_parses_to_its_kind() {
        for c in MAINNET_LIKE_MIX {
            assert_eq!(
                valtrack_core::ClientInfo::from_agent_version(c.agent_version).kind,
                c.kind,
                "{}",
                c.agent_version
            );
        }
    }
}
