//! valtrack-core: the Ethereum consensus-layer wire types, codecs and maths that valtrack is
//! built on, with no networking; it reads files only to load a network directory.
//!
//! # Architecture
//!
//! valtrack finds beacon nodes over discv5, learns what each one is over libp2p and works out
//! which validators stand behind it. This crate holds everything in that pipeline that is pure
//! computation, one public module per concern, each with its own types, errors and
//! `DEFAULT_*`/`MAX_*` constants:
//!
//! - [`network`]: fork schedules, fork digests, presets and `config.yaml` parsing
//!   ([`network::DEFAULT_NETWORK_NAME`]), and [`network::dir`], which loads a network
//!   directory ([`NetworkDir`]): the only place where core reads files;
//! - [`enr_info`]: ENR decoding ([`enr_info::MAX_ENR_SIZE`]);
//! - [`ssz`] and [`codec`]: the SSZ containers and their `ssz_snappy` and gossip codecs,
//!   bounded against hostile input ([`codec::MAX_VARINT_LEN`]);
//! - [`subnets`], [`estimate`] and [`attribution`]: the attestation-subnet maths, validator
//!   estimates and attestation attribution;
//! - [`events`]: the events the sentry emits and their JSON wire format;
//! - [`constants`]: the consensus specs' constants.
//!
//! The other crates plug into four seams, each a module holding its trait and the data that
//! crosses it: [`crawler`] ([`Crawler`]), [`handshake`] ([`Handshaker`]), [`probe`]
//! ([`SubnetProbe`]) and [`sink`] ([`EventSink`]). Imports between these modules point one way
//! (`scripts/module_cycles.py` checks). The crate root re-exports only the names most programs
//! use (the seams' traits and types, [`Event`], [`Network`], the primitives, ENRs, the main
//! SSZ messages and the errors behind `?`); everything else is reached through its module,
//! e.g. [`events::MetadataEvent`], [`codec::GossipTopic`],
//! [`subnets::compute_subscribed_attnets`], [`estimate::estimate_validators`].
//! It depends on neither tokio, libp2p nor NATS.
//!
//! # Feature flags
//!
//! None yet: everything is always built.
//!
//! # Example
//!
//! ```
//! use valtrack_core::{AttestationSubnets, ForkDigest, Network};
//!
//! let digest: ForkDigest = "0x8c9f62fe".parse()?;
//! assert_eq!(Network::mainnet().fork_digest(419_072), digest);
//! assert_eq!(valtrack_core::network::DEFAULT_NETWORK_NAME, "custom");
//! assert_eq!(digest.to_string(), "8c9f62fe");
//! let attnets = AttestationSubnets::from_subnets([9, 10]);
//! assert_eq!(attnets.0, [0, 0b110, 0, 0, 0, 0, 0, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod attribution;
mod base58;
mod client;
pub mod codec;
pub mod committees;
pub mod constants;
pub mod crawler;
pub mod enr_info;
pub mod estimate;
pub mod events;
#[doc(hidden)]
pub mod fuzz;
pub mod handshake;
mod location;
pub mod network;
mod peer_id;
mod primitives;
pub mod probe;
mod serde_hex;
pub mod sink;
pub mod ssz;
pub mod subnets;

pub use client::{ClientInfo, ClientKind};
pub use codec::CodecError;
pub use crawler::{Crawler, DiscoveredNode, NodeUpdate};
pub use enr_info::{parse_enr, Enr, EnrClass, EnrError, EnrInfo};
pub use events::{Event, EventKind, EventMeta};
pub use handshake::{HandshakeError, HandshakeStage, HandshakeTimings, Handshaker, PeerInfo};
pub use location::{AddressKind, Location};
pub use network::{
    ConfigError, ConsensusConfig, ForkName, Network, NetworkDir, NetworkPreset, MAINNET_BOOTNODES,
};
pub use peer_id::{PeerId, PeerIdError};
pub use primitives::{Epoch, ForkDigest, NodeId, ParseHexError, Root, Slot, Version};
pub use probe::{GossipMessage, Subnet, SubnetObservation, SubnetProbe};
pub use sink::{BoxError, DynEventSink, EventSink, SinkError};
pub use ssz::{MetaData, SszError, SszMessage, Status};
pub use subnets::{AttestationSubnets, SyncSubnets};
