//! The events a sentry emits and the consumer stores, and their JSON wire format.
//!
//! # Wire format
//!
//! On NATS (subject `valtrack.<kind>`, e.g. `valtrack.discovery`) each message is one
//! [`Event`] as a JSON object. The `kind` field names the variant (`discovery`, `metadata`,
//! `validator_metadata`, `attestation`, `peer_location`); the common fields ([`EventMeta`]) sit at the top level
//! beside the variant's own. Conventions:
//!
//! - `timestamp` is unix milliseconds; durations are whole milliseconds (`*_ms`);
//! - fork digests and versions are 8 lowercase hex digits without `0x` (`"8c9f62fe"`), roots
//!   are `0x`-prefixed hex;
//! - subnet bitfields (`attnets`, `syncnets`) are sorted lists of subnet ids (`[7, 17]`), never
//!   base64;
//! - `peer_id` is the libp2p text form (`16Uiu2HA…`), `node_id` 64 hex digits, `enr` the
//!   `enr:…` text form;
//! - absent values are `null`; unknown fields are ignored by readers, so fields can be added.
//!
//! `event_id` is derived from the event's identity (kind, crawler, peer, time and a
//! discriminator), so a retried publish carries the same id and JetStream drops the copy.
//!
//! ```
//! use valtrack_core::{Event, EventKind};
//! let json = r#"{"kind":"discovery","event_id":"00","crawler_id":"c1","crawler_location":"eu",
//!   "timestamp":1,"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
//!   "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
//!   "reason":"first_seen","seq":1,"class":"no_eth2","attnets":[3,4]}"#;
//! let event: Event = serde_json::from_str(json)?;
//! assert_eq!(event.kind(), EventKind::Discovery);
//! assert_eq!(event.subject(), "valtrack.discovery");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::ClientInfo;
use crate::enr_info::{EnrClass, EnrFieldError, EnrInfo};
use crate::location::Location;
use crate::peer_id::PeerId;
use crate::primitives::{Epoch, ForkDigest, NodeId, Root, Slot, Version};
use crate::ssz::{MetaData, Status};
use crate::subnets::{AttestationSubnets, SyncSubnets};

/// The fields every event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// Unique id, used to deduplicate (JetStream `Nats-Msg-Id`, the consumer's dedupe key).
    pub event_id: String,
    /// Which sentry saw it.
    pub crawler_id: String,
    /// Where that sentry runs (free text, e.g. a region).
    pub crawler_location: String,
    /// When, in unix milliseconds.
    pub timestamp: u64,
    /// The peer's libp2p id.
    pub peer_id: PeerId,
    /// The peer's discv5 node id.
    pub node_id: NodeId,
    /// The peer's ENR in text form, when known (peers that dialed us may have none).
    pub enr: Option<String>,
}

impl EventMeta {
    /// Builds the common fields; `event_id` is derived from `kind`, the crawler, the peer,
    /// the time and `discriminator` (anything else that tells two events of one peer apart
    /// within a millisecond, such as the ENR seq).
    pub fn new(
        kind: EventKind,
        crawler_id: &str,
        crawler_location: &str,
        timestamp: u64,
        peer_id: PeerId,
        enr: Option<String>,
        discriminator: &[u8],
    ) -> Self {
        let mut h = Sha256::new();
        for part in [
            kind.as_str().as_bytes(),
            crawler_id.as_bytes(),
            &peer_id.to_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(timestamp.to_le_bytes());
        h.update(discriminator);
        let event_id = hex::encode(&h.finalize()[..16]);
        Self {
            event_id,
            crawler_id: crawler_id.to_owned(),
            crawler_location: crawler_location.to_owned(),
            timestamp,
            peer_id,
            node_id: peer_id.node_id(),
            enr,
        }
    }
}

/// Which kind of event; also names its NATS subject and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// [`DiscoveryEvent`].
    Discovery,
    /// [`MetadataEvent`].
    Metadata,
    /// [`ValidatorMetadataEvent`].
    ValidatorMetadata,
    /// [`AttestationEvent`].
    Attestation,
    /// [`PeerLocationEvent`].
    PeerLocation,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::Discovery,
        Self::Metadata,
        Self::ValidatorMetadata,
        Self::Attestation,
        Self::PeerLocation,
    ];

    /// The snake-case name (`validator_metadata`), used in subjects.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Metadata => "metadata",
            Self::ValidatorMetadata => "validator_metadata",
            Self::Attestation => "attestation",
            Self::PeerLocation => "peer_location",
        }
    }

    /// The Parquet table the consumer writes these to.
    pub const fn table(self) -> &'static str {
        match self {
            Self::Discovery => "discovery_events",
            Self::Metadata => "metadata_events",
            Self::ValidatorMetadata => "validator_metadata_events",
            Self::Attestation => "validator_attributions",
            Self::PeerLocation => "peer_locations",
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
// Events are built once and moved into a sink; a few hundred bytes inline beat a box each.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// A node was found over discv5, its ENR changed, or it disappeared.
    Discovery(DiscoveryEvent),
    /// A libp2p handshake with a peer (successful or not).
    Metadata(MetadataEvent),
    /// Validator estimates derived for a peer.
    ValidatorMetadata(ValidatorMetadataEvent),
    /// An attestation a peer delivered first.
    Attestation(AttestationEvent),
    /// Where a peer's address is (GeoIP enrichment).
    PeerLocation(PeerLocationEvent),
}

impl Event {
    /// The common fields.
    pub fn meta(&self) -> &EventMeta {
        match self {
            Self::Discovery(e) => &e.meta,
            Self::Metadata(e) => &e.meta,
            Self::ValidatorMetadata(e) => &e.meta,
            Self::Attestation(e) => &e.meta,
            Self::PeerLocation(e) => &e.meta,
        }
    }

    /// The kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Discovery(_) => EventKind::Discovery,
            Self::Metadata(_) => EventKind::Metadata,
            Self::ValidatorMetadata(_) => EventKind::ValidatorMetadata,
            Self::Attestation(_) => EventKind::Attestation,
            Self::PeerLocation(_) => EventKind::PeerLocation,
        }
    }

    /// The NATS subject under the default stream prefix: `valtrack.<kind>`.
    pub fn subject(&self) -> String {
        format!("valtrack.{}", self.kind().as_str())
    }

    /// The JSON wire form.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialize to JSON")
    }

    /// Parses the JSON wire form.
    ///
    /// The form [`to_json`](Self::to_json) writes, with `"kind"` first, is read straight into
    /// the event's own type (serde's internally tagged path buffers the whole object first,
    /// which costs as much again); any other order of fields takes that general path.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        const PREFIX: &[u8] = b"{\"kind\":\"";
        let kind = bytes.strip_prefix(PREFIX).and_then(|rest| {
            let end = rest.iter().position(|&b| b == b'"')?;
            EventKind::ALL
                .into_iter()
                .find(|k| k.as_str().as_bytes() == &rest[..end])
        });
        match kind {
            Some(EventKind::Discovery) => serde_json::from_slice(bytes).map(Self::Discovery),
            Some(EventKind::Metadata) => serde_json::from_slice(bytes).map(Self::Metadata),
            Some(EventKind::ValidatorMetadata) => {
                serde_json::from_slice(bytes).map(Self::ValidatorMetadata)
            }
            Some(EventKind::Attestation) => serde_json::from_slice(bytes).map(Self::Attestation),
            Some(EventKind::PeerLocation) => serde_json::from_slice(bytes).map(Self::PeerLocation),
            None => serde_json::from_slice(bytes),
        }
    }
}

/// Why a discovery event was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryReason {
    /// First time this node was seen.
    FirstSeen,
    /// The node published an ENR with a higher seq.
    SeqChanged,
    /// The node has not been seen for the configured time and is forgotten.
    Disappeared,
}

/// A node found on discv5: its ENR's fields, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryEvent {
    /// Common fields.
    #[serde(flatten)]
    pub meta: EventMeta,
    /// Why this event.
    pub reason: DiscoveryReason,
    /// ENR seq.
    pub seq: u64,
    /// IPv4 address.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// IPv6 address.
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// TCP port.
    #[serde(default)]
    pub tcp_port: Option<u16>,
    /// UDP (discv5) port.
    #[serde(default)]
    pub udp_port: Option<u16>,
    /// QUIC port.
    #[serde(default)]
    pub quic_port: Option<u16>,
    /// Current fork digest from `eth2`.
    #[serde(default)]
    pub fork_digest: Option<ForkDigest>,
    /// Next fork version from `eth2`.
    #[serde(default)]
    pub next_fork_version: Option<Version>,
    /// Next fork epoch from `eth2`.
    #[serde(default)]
    pub next_fork_epoch: Option<Epoch>,
    /// `nfd`.
    #[serde(default)]
    pub nfd: Option<ForkDigest>,
    /// `attnets`.
    #[serde(default)]
    pub attnets: Option<AttestationSubnets>,
    /// `syncnets`.
    #[serde(default)]
    pub syncnets: Option<SyncSubnets>,
    /// `cgc`.
    #[serde(default)]
    pub cgc: Option<u64>,
    /// Our network, another, or no eth2 field.
    pub class: EnrClass,
    /// Malformed fields.
    #[serde(default)]
    pub enr_issues: Vec<EnrFieldError>,
}

impl DiscoveryEvent {
    /// Builds the event from a decoded ENR.
    pub fn new(meta: EventMeta, reason: DiscoveryReason, info: &EnrInfo, class: EnrClass) -> Self {
        Self {
            meta,
            reason,
            seq: info.seq,
            ip: info.ip4,
            ip6: info.ip6,
            tcp_port: info.tcp4.or(info.tcp6),
            udp_port: info.udp4.or(info.udp6),
            quic_port: info.quic4.or(info.quic6),
            fork_digest: info.eth2.map(|e| e.fork_digest),
            next_fork_version: info.eth2.map(|e| e.next_fork_version),
            next_fork_epoch: info.eth2.map(|e| e.next_fork_epoch),
            nfd: info.nfd,
            attnets: info.attnets,
            syncnets: info.syncnets,
            cgc: info.cgc,
            class,
            enr_issues: info.issues.clone(),
        }
    }
}

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// We dialed.
    Outbound,
    /// The peer dialed us.
    Inbound,
}

/// The transport a connection used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// TCP with noise.
    Tcp,
    /// QUIC v1 (TLS 1.3).
    Quic,
}

/// The stream muxer negotiated over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Muxer {
    /// `/yamux/1.0.0`.
    Yamux,
    /// `/mplex/6.7.0`.
    Mplex,
}

/// A peer's Status, flattened for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// Protocol version answered (1 or 2).
    pub version: u8,
    /// Fork digest.
    pub fork_digest: ForkDigest,
    /// Finalized root.
    #[serde(with = "crate::serde_hex")]
    pub finalized_root: Root,
    /// Finalized epoch.
    pub finalized_epoch: Epoch,
    /// Head root.
    #[serde(with = "crate::serde_hex")]
    pub head_root: Root,
    /// Head slot.
    pub head_slot: Slot,
    /// Earliest available slot (status v2).
    #[serde(default)]
    pub earliest_available_slot: Option<Slot>,
}

impl From<&Status> for StatusInfo {
    fn from(s: &Status) -> Self {
        let (finalized_epoch, finalized_root) = s.finalized();
        let (head_slot, head_root) = s.head();
        Self {
            version: match s {
                Status::V1(_) => 1,
                Status::V2(_) => 2,
            },
            fork_digest: s.fork_digest(),
            finalized_root,
            finalized_epoch,
            head_root,
            head_slot,
            earliest_available_slot: s.earliest_available_slot(),
        }
    }
}

/// A peer's MetaData, flattened for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaDataInfo {
    /// Protocol version answered (1, 2 or 3).
    pub version: u8,
    /// `seq_number`.
    pub seq_number: u64,
    /// `attnets`.
    pub attnets: AttestationSubnets,
    /// `syncnets` (v2+).
    #[serde(default)]
    pub syncnets: Option<SyncSubnets>,
    /// `custody_group_count` (v3).
    #[serde(default)]
    pub custody_group_count: Option<u64>,
}

impl From<&MetaData> for MetaDataInfo {
    fn from(m: &MetaData) -> Self {
        Self {
            version: m.version(),
            seq_number: m.seq_number(),
            attnets: m.attnets(),
            syncnets: m.syncnets(),
            custody_group_count: m.custody_group_count(),
        }
    }
}

/// How a handshake failed, for storage and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HandshakeErrorKind {
    /// A stage did not finish in time.
    Timeout,
    /// The connection was refused (closed port).
    Refused,
    /// Noise/TLS or muxer negotiation failed.
    SecurityFailed,
    /// The peer is on another fork digest, or said Goodbye 2.
    IrrelevantNetwork,
    /// The peer is full (Goodbye 129).
    TooManyPeers,
    /// The peer said Goodbye with another code.
    Goodbye,
    /// The peer broke the protocol (bad bytes, oversize frames, …).
    ProtocolViolation,
    /// The node has no address we can dial.
    NoAddress,
    /// Any other transport failure.
    Transport,
}

/// A failed handshake, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeFailure {
    /// What kind of failure.
    pub kind: HandshakeErrorKind,
    /// The Goodbye code, when the peer sent one.
    #[serde(default)]
    pub goodbye_code: Option<u64>,
    /// Human-readable detail (the error chain).
    pub message: String,
}

/// Timings of one handshake, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HandshakeTimingsMs {
    /// Dial to an established, secured, muxed connection.
    #[serde(default)]
    pub connect_ms: Option<u64>,
    /// Status round trip.
    #[serde(default)]
    pub status_ms: Option<u64>,
    /// MetaData round trip.
    #[serde(default)]
    pub metadata_ms: Option<u64>,
    /// Ping round trip.
    #[serde(default)]
    pub ping_ms: Option<u64>,
    /// Whole handshake.
    #[serde(default)]
    pub total_ms: Option<u64>,
}

/// The result of a libp2p handshake with one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataEvent {
    /// Common fields.
    #[serde(flatten)]
    pub meta: EventMeta,
    /// The address used.
    #[serde(default)]
    pub multiaddr: Option<String>,
    /// Who dialed.
    pub direction: Direction,
    /// Transport used.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Muxer used (TCP only).
    #[serde(default)]
    pub muxer: Option<Muxer>,
    /// The peer's Status.
    #[serde(default)]
    pub status: Option<StatusInfo>,
    /// The peer's MetaData.
    #[serde(default)]
    pub metadata: Option<MetaDataInfo>,
    /// identify's agent version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// The agent version parsed.
    #[serde(default)]
    pub client: Option<ClientInfo>,
    /// Attestation subnets the peer is subscribed to on gossip (when observed).
    #[serde(default)]
    pub subscribed_attnets: Option<AttestationSubnets>,
    /// Sync-committee subnets the peer is subscribed to on gossip (when observed).
    #[serde(default)]
    pub subscribed_syncnets: Option<SyncSubnets>,
    /// Protocols the peer announced in identify.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// Round-trip timings.
    #[serde(default)]
    pub timings: HandshakeTimingsMs,
    /// Why the handshake failed, if it did.
    #[serde(default)]
    pub error: Option<HandshakeFailure>,
}

/// How a validator count was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EstimateMethod {
    /// Short-lived (aggregator) subscriptions beyond the node-id backbone.
    ShortLivedSubnets,
    /// The custody group count's stake bound.
    CustodyGroupCount,
    /// Distinct validators attributed from attestations.
    Attribution,
    /// Pre-2023 clients: one random long-lived subnet per validator.
    LegacyAttnets,
    /// A combination of the above.
    Combined,
    /// No signal.
    None,
}

/// Validator estimates for one peer at one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorMetadataEvent {
    /// Common fields.
    #[serde(flatten)]
    pub meta: EventMeta,
    /// Epoch the estimate is for.
    pub epoch: Epoch,
    /// Long-lived subnets (MetaData/ENR `attnets`).
    pub long_lived_subnets: AttestationSubnets,
    /// The two subnets the node id predicts.
    pub predicted_subnets: AttestationSubnets,
    /// Whether the long-lived subnets are exactly the prediction.
    pub matches_node_id_prediction: bool,
    /// Subscribed subnets beyond the backbone (aggregator duties).
    pub short_lived_subnets: AttestationSubnets,
    /// Subscribed to all 64 subnets (estimates from subscriptions are then meaningless).
    pub all_subnets: bool,
    /// Custody group count.
    #[serde(default)]
    pub custody_group_count: Option<u64>,
    /// Lower bound on attached stake implied by `cgc`, in ETH.
    #[serde(default)]
    pub stake_min_eth: Option<u64>,
    /// Upper bound on attached stake implied by `cgc`, in ETH (`None`: unbounded).
    #[serde(default)]
    pub stake_max_eth: Option<u64>,
    /// Estimated validators behind the node.
    pub estimated_validators: u64,
    /// How.
    pub method: EstimateMethod,
    /// Confidence in `[0, 1]`.
    pub confidence: f32,
}

/// The payload form of an observed attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationForm {
    /// Electra `SingleAttestation`: names the validator.
    Single,
    /// Phase0 `Attestation` with one aggregation bit.
    Phase0,
}

/// What makes a delivering peer the likely origin of an attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttributionEvidence {
    /// Delivered on a subnet the peer neither subscribes to nor is backbone for: it must have
    /// published it itself.
    UnsubscribedSubnet,
    /// Delivered first on a subnet the peer subscribes to (short-lived): weaker.
    FirstOnShortLivedSubnet,
    /// Delivered first on one of the peer's backbone subnets: weakest (it may be relaying).
    FirstOnBackboneSubnet,
}

/// An attestation first delivered to us by a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationEvent {
    /// Common fields (the peer that delivered it).
    #[serde(flatten)]
    pub meta: EventMeta,
    /// Payload form.
    pub form: AttestationForm,
    /// Subnet it arrived on.
    pub subnet: u64,
    /// Attestation slot.
    pub slot: Slot,
    /// Committee index.
    pub committee_index: u64,
    /// Validator index (SingleAttestation, or a resolved phase0 attestation).
    #[serde(default)]
    pub attester_index: Option<u64>,
    /// Aggregation bit position (phase0).
    #[serde(default)]
    pub aggregation_bit: Option<u64>,
    /// Target epoch.
    pub target_epoch: Epoch,
    /// Block root voted for.
    #[serde(with = "crate::serde_hex")]
    pub beacon_block_root: Root,
    /// Milliseconds from the slot's start to first delivery (negative when early).
    pub first_seen_delay_ms: i64,
    /// Attribution evidence, when the delivering peer is a likely origin.
    #[serde(default)]
    pub evidence: Option<AttributionEvidence>,
}

/// Where a peer's address is, from GeoIP databases (the `peer_locations` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerLocationEvent {
    /// Common fields (the located peer).
    #[serde(flatten)]
    pub meta: EventMeta,
    /// The location.
    #[serde(flatten)]
    pub location: Location,
}

#[cfg(test)]
mod tests;
