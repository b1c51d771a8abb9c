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
//!
//! # Families
//!
//! - discovery: [`DiscoveryEvent`] and [`DiscoveryReason`];
//! - handshakes: [`MetadataEvent`] with [`StatusInfo`], [`MetaDataInfo`], [`Direction`],
//!   [`Transport`], [`Muxer`], [`HandshakeTimingsMs`] and, for failures,
//!   [`HandshakeFailure`] and [`HandshakeErrorKind`];
//! - validator estimates: [`ValidatorMetadataEvent`] and [`EstimateMethod`];
//! - attestations: [`AttestationEvent`], [`AttestationForm`] and [`AttributionEvidence`];
//! - locations: [`PeerLocationEvent`].

/// Defines an event struct whose first field is `pub meta: EventMeta` (flattened into the
/// JSON object), and deserializes it without serde's `flatten` on the way in: a flattened field
/// makes serde buffer every other key of the object as generic content first, a third of the
/// time of decoding an event. The struct is emitted as written (derive `Serialize`, not
/// `Deserialize`); its `Deserialize` reads one private struct holding the common fields and
/// the event's own, with the same serde attributes, then moves them into place. Unknown keys
/// (such as `"kind"`) are ignored, as before.
macro_rules! event_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(#[$meta_attr:meta])*
            pub meta: EventMeta,
            $(
                $(#[$field_attr:meta])*
                pub $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $(#[$meta_attr])*
            pub meta: EventMeta,
            $(
                $(#[$field_attr])*
                pub $field: $ty,
            )*
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Named as the event, so serde's errors name it ("expected struct …").
                #[derive(::serde::Deserialize)]
                struct $name {
                    event_id: String,
                    crawler_id: String,
                    crawler_location: String,
                    timestamp: u64,
                    peer_id: $crate::PeerId,
                    node_id: $crate::NodeId,
                    enr: Option<String>,
                    $(
                        $(#[$field_attr])*
                        $field: $ty,
                    )*
                }
                let w = $name::deserialize(d)?;
                Ok(Self {
                    meta: EventMeta {
                        event_id: w.event_id,
                        crawler_id: w.crawler_id,
                        crawler_location: w.crawler_location,
                        timestamp: w.timestamp,
                        peer_id: w.peer_id,
                        node_id: w.node_id,
                        enr: w.enr,
                    },
                    $($field: w.$field,)*
                })
            }
        }
    };
}

mod attestation;
mod discovery;
mod location;
mod metadata;
mod validator;

pub use attestation::{AttestationEvent, AttestationForm, AttributionEvidence};
pub use discovery::{DiscoveryEvent, DiscoveryReason};
pub use location::PeerLocationEvent;
pub use metadata::{
    Direction, HandshakeErrorKind, HandshakeFailure, HandshakeTimingsMs, MetaDataInfo,
    MetadataEvent, Muxer, StatusInfo, Transport,
};
pub use validator::{EstimateMethod, ValidatorMetadataEvent};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::peer_id::PeerId;
use crate::primitives::NodeId;

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
        let node_id = peer_id.node_id();
        Self::with_node_id(
            kind,
            crawler_id,
            crawler_location,
            timestamp,
            (peer_id, node_id),
            enr,
            discriminator,
        )
    }

    /// [`EventMeta::new`] for a peer whose node id the caller already has (deriving it from
    /// the key takes a square root on the curve: dear at thousands of events a second).
    /// `peer.1` must be `peer.0.node_id()`.
    pub fn with_node_id(
        kind: EventKind,
        crawler_id: &str,
        crawler_location: &str,
        timestamp: u64,
        (peer_id, node_id): (PeerId, NodeId),
        enr: Option<String>,
        discriminator: &[u8],
    ) -> Self {
        debug_assert_eq!(node_id, peer_id.node_id());
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
            node_id,
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

#[cfg(test)]
mod tests;
