//! The rows the tracker store keeps and returns.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use valtrack_core::events::{EstimateMethod, HandshakeErrorKind, ValidatorMetadataEvent};
use valtrack_core::{AttestationSubnets, ClientInfo, Epoch, ForkDigest, NodeId, PeerId};

use valtrack_core::Location;

/// Everything the tracker knows about one peer: its latest identity, location, latest
/// validator estimate and attribution counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerRecord {
    /// libp2p peer id.
    pub peer_id: PeerId,
    /// discv5 node id.
    pub node_id: NodeId,
    /// Latest ENR (text form). Hidden in the public view.
    #[serde(default)]
    pub enr: Option<String>,
    /// Latest ENR seq.
    #[serde(default)]
    pub enr_seq: Option<u64>,
    /// Latest multiaddr used to reach it. Hidden in the public view.
    #[serde(default)]
    pub multiaddr: Option<String>,
    /// Latest IP address (ENR or multiaddr). Hidden in the public view.
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// identify agent version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// Parsed client.
    #[serde(default)]
    pub client: Option<ClientInfo>,
    /// Latest fork digest (Status, else ENR `eth2`).
    #[serde(default)]
    pub fork_digest: Option<ForkDigest>,
    /// Latest long-lived attestation subnets (MetaData, else ENR).
    #[serde(default)]
    pub attnets: Option<AttestationSubnets>,
    /// Latest custody group count (MetaData, else ENR).
    #[serde(default)]
    pub cgc: Option<u64>,
    /// First event, unix ms.
    pub first_seen_ms: u64,
    /// Latest event, unix ms.
    pub last_seen_ms: u64,
    /// Whether discovery reported it gone (until it is seen again).
    #[serde(default)]
    pub disappeared: bool,
    /// Successful handshakes.
    #[serde(default)]
    pub handshakes_ok: u64,
    /// Failed handshakes.
    #[serde(default)]
    pub handshakes_failed: u64,
    /// Kind of the latest handshake failure.
    #[serde(default)]
    pub last_error: Option<HandshakeErrorKind>,
    /// Where its IP is.
    #[serde(default)]
    pub location: Option<Location>,
    /// The latest validator estimate.
    #[serde(default)]
    pub estimate: Option<EstimateRecord>,
    /// Estimates kept in its history.
    #[serde(default)]
    pub estimates_stored: u64,
    /// Attestations it delivered first.
    #[serde(default)]
    pub attestations_delivered: u64,
    /// Distinct validators attributed to it.
    #[serde(default)]
    pub attributed_validators: u64,
}

impl PeerRecord {
    /// A record with only the identity, first seen at `timestamp`.
    pub fn new(peer_id: PeerId, timestamp: u64) -> Self {
        Self {
            peer_id,
            node_id: peer_id.node_id(),
            enr: None,
            enr_seq: None,
            multiaddr: None,
            ip: None,
            agent_version: None,
            client: None,
            fork_digest: None,
            attnets: None,
            cgc: None,
            first_seen_ms: timestamp,
            last_seen_ms: timestamp,
            disappeared: false,
            handshakes_ok: 0,
            handshakes_failed: 0,
            last_error: None,
            location: None,
            estimate: None,
            estimates_stored: 0,
            attestations_delivered: 0,
            attributed_validators: 0,
        }
    }

    /// The public view: no IP, ENR or multiaddr, latitude and longitude rounded to one decimal
    /// (about 11 km).
    pub fn public_view(&self) -> Self {
        let mut out = self.clone();
        out.enr = None;
        out.multiaddr = None;
        out.ip = None;
        if let Some(loc) = &mut out.location {
            loc.ip = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
            loc.latitude = loc.latitude.map(round_1);
            loc.longitude = loc.longitude.map(round_1);
        }
        out
    }
}

fn round_1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One validator estimate for one peer at one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EstimateRecord {
    /// The peer.
    pub peer_id: PeerId,
    /// Epoch.
    pub epoch: Epoch,
    /// When, unix ms.
    pub timestamp: u64,
    /// Estimated validators.
    pub estimated_validators: u64,
    /// How.
    pub method: EstimateMethod,
    /// Confidence in `[0, 1]`.
    pub confidence: f32,
    /// Custody group count.
    #[serde(default)]
    pub custody_group_count: Option<u64>,
    /// Stake bound from `cgc`, ETH.
    #[serde(default)]
    pub stake_min_eth: Option<u64>,
    /// Stake bound from `cgc`, ETH (`None`: unbounded or unknown).
    #[serde(default)]
    pub stake_max_eth: Option<u64>,
    /// Number of short-lived subnets.
    pub short_lived_subnets: u32,
    /// On all 64 subnets.
    pub all_subnets: bool,
    /// Long-lived subnets equal the node-id prediction.
    pub matches_node_id_prediction: bool,
    /// Validators attributed to the peer from attestations, as the estimate counted them.
    #[serde(default)]
    pub attributed_validators: u64,
    /// Vantage points (sentries) backing those attributions.
    #[serde(default)]
    pub vantage_points: u32,
    /// Validators the vantage points disagreed on (not counted).
    #[serde(default)]
    pub contested_validators: u64,
}

impl From<&ValidatorMetadataEvent> for EstimateRecord {
    fn from(e: &ValidatorMetadataEvent) -> Self {
        Self {
            peer_id: e.meta.peer_id,
            epoch: e.epoch,
            timestamp: e.meta.timestamp,
            estimated_validators: e.estimated_validators,
            method: e.method,
            confidence: if e.confidence.is_finite() {
                e.confidence.clamp(0.0, 1.0)
            } else {
                0.0
            },
            custody_group_count: e.custody_group_count,
            stake_min_eth: e.stake_min_eth,
            stake_max_eth: e.stake_max_eth,
            short_lived_subnets: e.short_lived_subnets.count(),
            all_subnets: e.all_subnets,
            matches_node_id_prediction: e.matches_node_id_prediction,
            attributed_validators: e.attributed_validators,
            vantage_points: e.vantage_points,
            contested_validators: e.contested_validators,
        }
    }
}

/// One page of peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerPage {
    /// Peers in the store.
    pub total: u64,
    /// The offset asked for.
    pub offset: u64,
    /// The peers on this page, ordered by peer id.
    pub peers: Vec<PeerRecord>,
}

/// Aggregates over every peer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Peers in the store.
    pub peers: u64,
    /// Peers with at least one successful handshake.
    pub peers_handshaked: u64,
    /// Peers whose latest estimate is above zero.
    pub peers_with_validators: u64,
    /// Sum of the latest estimates: a **lower bound**. Without attestation attribution a
    /// node's estimate comes from its custody group count and subnets, which saturate: a
    /// node with 8 validators may show 1, one with 500, 64 or 128.
    pub estimated_validators: u64,
    /// Sum of the upper bounds the estimates allow (the stake bound of the custody group
    /// count, at 32 ETH a validator), over the peers whose estimate has one; the others
    /// count with their estimate. Together with
    /// [`peers_unbounded`](Self::peers_unbounded), it tells how loose the lower bound is.
    #[serde(default)]
    pub estimated_validators_max: u64,
    /// Peers with validators whose estimate has no upper bound (a custody group count of
    /// 128: at least 128 validators, or a supernode).
    #[serde(default)]
    pub peers_unbounded: u64,
    /// Peers in hosting/cloud ASNs.
    pub hosting: u64,
    /// Peers by client name (`unknown` when no agent was read).
    pub clients: BTreeMap<String, u64>,
    /// Peers by country code (`unknown` when not located).
    pub countries: BTreeMap<String, u64>,
    /// Peers by ASN (`AS24940`; `unknown` when not known).
    pub asns: BTreeMap<String, u64>,
    /// Peers by fork digest (`unknown` when not known).
    pub fork_digests: BTreeMap<String, u64>,
}

impl Stats {
    pub(crate) fn add(&mut self, p: &PeerRecord) {
        let unknown = || "unknown".to_owned();
        self.peers += 1;
        if p.handshakes_ok > 0 {
            self.peers_handshaked += 1;
        }
        if let Some(e) = &p.estimate {
            if e.estimated_validators > 0 {
                self.peers_with_validators += 1;
            }
            self.estimated_validators = self
                .estimated_validators
                .saturating_add(e.estimated_validators);
            let max = e
                .stake_max_eth
                .map(|eth| (eth / 32).max(e.estimated_validators));
            match max {
                Some(max) => {
                    self.estimated_validators_max =
                        self.estimated_validators_max.saturating_add(max);
                }
                None => {
                    if e.estimated_validators > 0 {
                        self.peers_unbounded += 1;
                    }
                    self.estimated_validators_max = self
                        .estimated_validators_max
                        .saturating_add(e.estimated_validators);
                }
            }
        }
        let loc = p.location.as_ref();
        if loc.is_some_and(|l| l.hosting) {
            self.hosting += 1;
        }
        let client = p
            .client
            .as_ref()
            .map_or_else(unknown, |c| c.kind.to_string());
        *self.clients.entry(client).or_default() += 1;
        let country = loc.and_then(|l| l.country.clone()).unwrap_or_else(unknown);
        *self.countries.entry(country).or_default() += 1;
        let asn = loc
            .and_then(|l| l.asn)
            .map_or_else(unknown, |a| format!("AS{a}"));
        *self.asns.entry(asn).or_default() += 1;
        let digest = p.fork_digest.map_or_else(unknown, |d| d.to_string());
        *self.fork_digests.entry(digest).or_default() += 1;
    }
}
