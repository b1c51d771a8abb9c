//! A simulated discv5 DHT: many `discv5` servers in one process on 127.0.0.1, with real signed
//! ENRs carrying the eth2 fields, started by seeding routing tables directly.
//!
//! [`SimDiscv5::start`] builds one server for a given secret key and ENR fields, so a
//! simulated beacon node can run one with the key and TCP/QUIC ports of its libp2p host.
//! [`SimDht`] starts many and links them: each new node gets 16 random and 16 XOR-closest
//! existing ENRs in its table, and its ENR goes into theirs (with random seeds only, some
//! nodes never join their own neighbourhood). 1,000 nodes start in about a second.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use alloy_rlp::Bytes;
use discv5::kbucket::{ConnectionDirection, ConnectionState, NodeStatus};
use discv5::{ConfigBuilder, Discv5, Enr, ListenConfig};
use enr::{CombinedKey, EnrKey, NodeId};
use valtrack_core::ssz::EnrForkId;
use valtrack_core::subnets::compute_subscribed_attnets;
use valtrack_core::{AttestationSubnets, Network, SszMessage, SyncSubnets};

use valtrack_sentry::CrawlerError;

/// Routing-table entries a new node gets at random from the nodes before it.
pub const SEED_RANDOM: usize = 16;
/// Routing-table entries a new node gets from the XOR-closest nodes before it.
pub const SEED_CLOSEST: usize = 16;

/// The fields of a simulated node's ENR besides `ip`, `udp` and the key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimEnrFields {
    /// `eth2`; `None` leaves the field out (like a bootnode or a non-beacon node).
    pub eth2: Option<EnrForkId>,
    /// `attnets`.
    pub attnets: Option<AttestationSubnets>,
    /// `syncnets`.
    pub syncnets: Option<SyncSubnets>,
    /// `cgc`.
    pub cgc: Option<u64>,
    /// `tcp` (may be a closed port for pure-DHT tests).
    pub tcp: Option<u16>,
    /// `quic` (may be a closed port for pure-DHT tests).
    pub quic: Option<u16>,
    /// `nfd`: the next fork's digest (Fulu; `00000000` when none is scheduled).
    pub nfd: Option<[u8; 4]>,
    /// `ip6` with `udp6`/`tcp6`/`quic6` on the same ports as IPv4 (the crawler contacts
    /// IPv4 only; this makes records mainnet-sized).
    pub ip6: Option<std::net::Ipv6Addr>,
}

impl SimEnrFields {
    /// The fields a spec-following beacon node on `network` advertises at `epoch`: `eth2`,
    /// `attnets` from [`compute_subscribed_attnets`], no sync subnets, the minimum custody,
    /// and the given (possibly fake) TCP and QUIC ports.
    pub fn beacon(network: &Network, node_id: NodeId, epoch: u64, tcp: u16, quic: u16) -> Self {
        Self {
            eth2: Some(network.enr_fork_id(epoch)),
            attnets: Some(compute_subscribed_attnets(&node_id.into(), epoch)),
            syncnets: Some(SyncSubnets::default()),
            cgc: Some(valtrack_core::constants::CUSTODY_REQUIREMENT),
            tcp: Some(tcp),
            quic: Some(quic),
            nfd: Some([0; 4]),
            ip6: None,
        }
    }
}

/// The node id of a secret key (what the ENR will carry).
pub fn sim_node_id(secret_key: [u8; 32]) -> Result<NodeId, CrawlerError> {
    let key = combined_key(secret_key)?;
    Ok(NodeId::from(key.public()))
}

fn combined_key(secret_key: [u8; 32]) -> Result<CombinedKey, CrawlerError> {
    let mut bytes = secret_key;
    CombinedKey::secp256k1_from_bytes(&mut bytes).map_err(|_| CrawlerError::SecretKey)
}

/// Signs an ENR with `fields` at 127.0.0.1:`udp`.
pub fn sim_enr(secret_key: [u8; 32], udp: u16, fields: &SimEnrFields) -> Result<Enr, CrawlerError> {
    let key = combined_key(secret_key)?;
    build_enr(&key, udp, fields)
}

fn build_enr(key: &CombinedKey, udp: u16, fields: &SimEnrFields) -> Result<Enr, CrawlerError> {
    let mut builder = Enr::builder();
    builder.ip4(Ipv4Addr::LOCALHOST).udp4(udp);
    if let Some(eth2) = &fields.eth2 {
        builder.add_value("eth2", &Bytes::from(eth2.to_ssz_bytes()));
    }
    if let Some(attnets) = fields.attnets {
        builder.add_value("attnets", &Bytes::copy_from_slice(&attnets.0));
    }
    if let Some(syncnets) = fields.syncnets {
        builder.add_value("syncnets", &Bytes::copy_from_slice(&[syncnets.0]));
    }
    if let Some(cgc) = fields.cgc {
        builder.add_value("cgc", &cgc);
    }
    if let Some(tcp) = fields.tcp {
        builder.tcp4(tcp);
    }
    if let Some(quic) = fields.quic {
        builder.add_value("quic", &quic);
    }
    if let Some(nfd) = fields.nfd {
        builder.add_value("nfd", &Bytes::copy_from_slice(&nfd));
    }
    if let Some(ip6) = fields.ip6 {
        builder.ip6(ip6).udp6(udp);
        if let Some(tcp) = fields.tcp {
            builder.tcp6(tcp);
        }
        if let Some(quic) = fields.quic {
            builder.add_value("quic6", &quic);
        }
    }
    builder
        .build(key)
        .map_err(|e| CrawlerError::LocalEnr(e.to_string().into()))
}

/// One discv5 server on 127.0.0.1. Dropping it stops the server.
pub struct SimDiscv5 {
    discv5: Discv5,
    addr: SocketAddr,
}

impl std::fmt::Debug for SimDiscv5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDiscv5")
            .field("addr", &self.addr)
            .field("enr", &self.discv5.local_enr().to_base64())
            .finish()
    }
}

impl SimDiscv5 {
    /// Starts a server with `secret_key` on 127.0.0.1 (a port chosen by the OS) whose ENR
    /// carries `fields`. ENR auto-update, auto-NAT and the packet filter are off.
    pub async fn start(secret_key: [u8; 32], fields: &SimEnrFields) -> Result<Self, CrawlerError> {
        let key = combined_key(secret_key)?;
        // The crate does not report the port it bound for port 0: take one from the OS, free
        // it and bind it again at once (retrying in the unlikely case it was taken meanwhile).
        let mut last = None;
        for _ in 0..8 {
            let addr = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|s| s.local_addr())
                .map_err(|e| CrawlerError::Start {
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    reason: e.to_string(),
                })?;
            let enr = build_enr(&key, addr.port(), fields)?;
            let mut config = ConfigBuilder::new(ListenConfig::from_ip(addr.ip(), addr.port()));
            config
                .disable_enr_update()
                .auto_nat_listen_duration(None)
                .disable_report_discovered_peers();
            let mut discv5 = Discv5::new(enr, combined_key(secret_key)?, config.build())
                .map_err(|reason| CrawlerError::Discv5 { reason })?;
            match discv5.start().await {
                Ok(()) => return Ok(Self { discv5, addr }),
                Err(e) => {
                    last = Some(CrawlerError::Start {
                        addr,
                        reason: format!("{e:?}"),
                    })
                }
            }
        }
        Err(last.unwrap_or(CrawlerError::Config {
            reason: "no port could be bound",
        }))
    }

    /// Its current ENR.
    pub fn enr(&self) -> Enr {
        self.discv5.local_enr()
    }

    /// Its node id.
    pub fn node_id(&self) -> NodeId {
        self.discv5.local_enr().node_id()
    }

    /// Its UDP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server.
    pub fn discv5(&self) -> &Discv5 {
        &self.discv5
    }

    /// Adds a contactable ENR to its routing table; `false` if refused (bucket full, …).
    pub fn add_enr(&self, enr: Enr) -> bool {
        self.discv5.add_enr(enr).is_ok()
    }

    /// Puts any ENR in its routing table, contactable or not (for hostile-table tests).
    pub fn insert_enr(&self, enr: Enr) -> bool {
        let key = discv5::Key::from(enr.node_id());
        let status = NodeStatus {
            state: ConnectionState::Disconnected,
            direction: ConnectionDirection::Incoming,
        };
        self.discv5.with_kbuckets(|table| {
            !matches!(
                table.write().insert_or_update(&key, enr, status),
                discv5::kbucket::InsertResult::Failed(_)
            )
        })
    }

    /// Replaces its `attnets` (the ENR seq goes up by one).
    pub fn set_attnets(&self, attnets: AttestationSubnets) -> bool {
        self.discv5
            .enr_insert("attnets", &Bytes::copy_from_slice(&attnets.0))
            .is_ok()
    }
}

/// How one node of a [`SimDht`] is made.
#[derive(Debug, Clone)]
pub struct SimDhtNode {
    /// Its secret key.
    pub secret_key: [u8; 32],
    /// Its ENR fields.
    pub fields: SimEnrFields,
}

/// Many [`SimDiscv5`] servers whose routing tables were seeded directly. Dropping it stops
/// them all.
#[derive(Debug, Default)]
pub struct SimDht {
    nodes: Vec<SimDiscv5>,
    /// Records of silent nodes (in others' tables, never answering) and the socket they all
    /// point at: bound, never read.
    silent: Vec<Enr>,
    silent_socket: Option<UdpSocket>,
}

impl SimDht {
    /// Starts `specs` in order and seeds their tables (deterministic for a given `seed`).
    pub async fn spawn(specs: Vec<SimDhtNode>, seed: u64) -> Result<Self, CrawlerError> {
        let mut rng = SplitMix(seed);
        let mut nodes: Vec<SimDiscv5> = Vec::with_capacity(specs.len());
        // Node ids, kept apart: `node_id()` clones the ENR, too slow for N² comparisons.
        let mut ids: Vec<[u8; 32]> = Vec::with_capacity(specs.len());
        for spec in specs {
            let node = SimDiscv5::start(spec.secret_key, &spec.fields).await?;
            let id = node.node_id().raw();
            let chosen = seeds(&ids, &id, &mut rng);
            let enr = node.enr();
            for i in chosen {
                node.add_enr(nodes[i].enr());
                nodes[i].add_enr(enr.clone());
            }
            nodes.push(node);
            ids.push(id);
        }
        Ok(Self {
            nodes,
            ..Self::default()
        })
    }

    /// A mainnet-shaped DHT of `n` records: 60 % beacon nodes of `network` (a quarter of them
    /// dual-stack), 15 % nodes of another network (another fork digest), 15 % nodes without
    /// `eth2`, and 10 % silent: records that sit in the tables of their 16 XOR-closest and 16
    /// random live nodes but whose address never answers. Every record is signed and 200–260
    /// bytes.
    pub async fn mainnet_mix(
        network: &Network,
        n: usize,
        first_key: u64,
    ) -> Result<Self, CrawlerError> {
        let mut specs = Self::beacon_specs(network, n, first_key)?;
        for (i, spec) in specs.iter_mut().enumerate() {
            match i % 20 {
                1 | 11 | 17 => {
                    if let Some(eth2) = spec.fields.eth2.as_mut() {
                        eth2.fork_digest = [0xbc, 0x9a, 0x6f, 0x5e];
                    }
                }
                3 | 13 | 19 => spec.fields.eth2 = None,
                _ => {}
            }
        }
        let (silent_specs, specs): (Vec<_>, Vec<_>) = specs
            .into_iter()
            .enumerate()
            .partition(|(i, _)| matches!(i % 20, 7 | 15));
        let specs = specs.into_iter().map(|(_, spec)| spec).collect();
        let mut dht = Self::spawn(specs, first_key).await?;
        let socket =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| CrawlerError::Start {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                reason: e.to_string(),
            })?;
        let port = socket.local_addr().map(|a| a.port()).unwrap_or_default();
        let mut rng = SplitMix(first_key ^ 0x5e1e_u64);
        let ids: Vec<[u8; 32]> = dht.nodes.iter().map(|n| n.node_id().raw()).collect();
        for (_, spec) in silent_specs {
            let enr = sim_enr(spec.secret_key, port, &spec.fields)?;
            let id = enr.node_id().raw();
            for i in seeds(&ids, &id, &mut rng) {
                dht.nodes[i].add_enr(enr.clone());
            }
            dht.silent.push(enr);
        }
        dht.silent_socket = Some(socket);
        Ok(dht)
    }

    /// `n` beacon nodes on `network` at its current epoch, with keys
    /// [`sim_secret_key`](super::sim_secret_key)`(first_key..first_key + n)`, fake TCP/QUIC
    /// ports, `nfd`, and every fourth with an IPv6 address too (records of 200–260 bytes, like
    /// mainnet's).
    pub async fn beacon_nodes(
        network: &Network,
        n: usize,
        first_key: u64,
    ) -> Result<Self, CrawlerError> {
        Self::spawn(Self::beacon_specs(network, n, first_key)?, first_key).await
    }

    /// The specs [`beacon_nodes`](Self::beacon_nodes) starts, to change some before
    /// [`spawn`](Self::spawn).
    pub fn beacon_specs(
        network: &Network,
        n: usize,
        first_key: u64,
    ) -> Result<Vec<SimDhtNode>, CrawlerError> {
        let epoch = network
            .current_epoch(std::time::SystemTime::now())
            .unwrap_or(0);
        (0..n as u64)
            .map(|i| {
                let secret_key = super::sim_secret_key(first_key + i);
                let node_id = sim_node_id(secret_key)?;
                let mut fields = SimEnrFields::beacon(network, node_id, epoch, 9000, 9001);
                if i % 4 == 3 {
                    // A documentation address (RFC 3849): never routed.
                    fields.ip6 = Some(std::net::Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        (i >> 16) as u16,
                        i as u16,
                    ));
                }
                Ok(SimDhtNode { secret_key, fields })
            })
            .collect()
    }

    /// The ground truth: every live node's current ENR.
    pub fn enrs(&self) -> Vec<Enr> {
        self.nodes.iter().map(SimDiscv5::enr).collect()
    }

    /// The records of silent nodes ([`mainnet_mix`](Self::mainnet_mix)): in the tables, never
    /// answering.
    pub fn silent_enrs(&self) -> &[Enr] {
        &self.silent
    }

    /// The nodes.
    pub fn nodes(&self) -> &[SimDiscv5] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there is no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Takes node `i` out (drop it to stop it); the others keep it in their tables.
    pub fn remove(&mut self, i: usize) -> Option<SimDiscv5> {
        (i < self.nodes.len()).then(|| self.nodes.remove(i))
    }
}

/// Which of `ids` a node with id `id` is linked to: [`SEED_RANDOM`] at random and the
/// [`SEED_CLOSEST`] XOR-closest, without repeats, in index order.
fn seeds(ids: &[[u8; 32]], id: &[u8; 32], rng: &mut SplitMix) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::with_capacity(SEED_RANDOM + SEED_CLOSEST);
    if ids.is_empty() {
        return chosen;
    }
    for _ in 0..SEED_RANDOM.min(ids.len()) {
        chosen.push((rng.next() % ids.len() as u64) as usize);
    }
    let mut by_distance: Vec<([u8; 32], usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, other)| (xor(id, other), i))
        .collect();
    let k = SEED_CLOSEST.min(by_distance.len());
    if k < by_distance.len() {
        by_distance.select_nth_unstable(k);
    }
    chosen.extend(by_distance[..k].iter().map(|(_, i)| *i));
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// A small deterministic generator (SplitMix64).
#[derive(Debug)]
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
