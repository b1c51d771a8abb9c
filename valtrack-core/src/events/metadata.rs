//! [`MetadataEvent`]: the outcome of one libp2p handshake, and the flattened forms of what it
//! learned ([`StatusInfo`], [`MetaDataInfo`], [`HandshakeTimingsMs`]) or why it failed
//! ([`HandshakeFailure`]).
//!
//! A handshake yields one event whether it succeeds or not, so failure rates can be counted
//! per client and per network. A failure is stored as a [`HandshakeErrorKind`] (for grouping
//! and metrics), the Goodbye code when the peer sent one, and the error chain as text; the
//! typed error itself ([`HandshakeError`](crate::HandshakeError)) lives with the handshake
//! seam, which also builds these events
//! ([`MetadataEvent::from_peer_info`], [`MetadataEvent::from_failure`]).

use serde::{Deserialize, Serialize};

use super::EventMeta;
use crate::client::ClientInfo;
use crate::primitives::{Epoch, ForkDigest, Root, Slot};
use crate::ssz::{MetaData, Status};
use crate::subnets::{AttestationSubnets, SyncSubnets};

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

event_struct! {
    /// The result of a libp2p handshake with one peer.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}
