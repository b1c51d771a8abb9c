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
//! (`scripts/module_cycles.py` checks). The crate root re-exports the names most programs use.
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
mod committees;
pub mod constants;
pub mod crawler;
pub mod enr_info;
pub mod estimate;
pub mod events;
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

pub use attribution::{
    attribute, AttestationDecodeError, AttestationDedupe, AttestationFacts, AttesterKey,
    DEFAULT_DEDUPE_EPOCHS, DEFAULT_DEDUPE_PER_EPOCH,
};
pub use client::{ClientInfo, ClientKind};
pub use codec::{
    decode_empty_request, decode_gossip, decode_optional_response, decode_request,
    decode_request_chunk, decode_response, decode_response_chunk, decompress_gossip,
    encode_empty_request, encode_error_response, encode_gossip, encode_request, encode_response,
    gossip_len_bound, gossip_message_id, gossip_message_id_decompressed, max_compressed_len,
    max_message_size, CodecError, GossipEncoding, GossipKind, GossipTopic, MessageIdFork,
    ResponseCode, TopicError, VarintError, MAX_VARINT_LEN, MESSAGE_DOMAIN_INVALID_SNAPPY,
    MESSAGE_DOMAIN_VALID_SNAPPY,
};
pub use committees::{
    CommitteesError, EpochCommittees, MAX_COMMITTEES_PER_EPOCH, MAX_VALIDATORS_PER_COMMITTEE,
};
pub use crawler::{Crawler, DiscoveredNode, NodeUpdate};
pub use enr_info::{
    decode_enr, parse_enr, Enr, EnrClass, EnrError, EnrFieldError, EnrForkIdInfo, EnrInfo,
    FieldProblem, MAX_ENR_SIZE,
};
pub use estimate::{
    estimate_validators, matches_prediction_near, short_lived_subnets, stake_bound, CustodySignal,
    EstimateInput, StakeBound, ValidatorEstimate, CONFIDENCE_ATTRIBUTION, CONFIDENCE_CAP,
    CONFIDENCE_CGC_EXACT, CONFIDENCE_CGC_MAX, CONFIDENCE_CGC_MIN, CONFIDENCE_CGC_NONE,
    CONFIDENCE_LEGACY, CONFIDENCE_SHORT_LIVED, ETH_PER_CUSTODY_GROUP, ETH_PER_VALIDATOR,
};
pub use events::{
    AttestationEvent, AttestationForm, AttributionEvidence, Direction, DiscoveryEvent,
    DiscoveryReason, EstimateMethod, Event, EventKind, EventMeta, HandshakeErrorKind,
    HandshakeFailure, HandshakeTimingsMs, MetaDataInfo, MetadataEvent, Muxer, PeerLocationEvent,
    StatusInfo, Transport, ValidatorMetadataEvent,
};
pub use handshake::{HandshakeError, HandshakeStage, HandshakeTimings, Handshaker, PeerInfo};
pub use location::{AddressKind, Location};
pub use network::{
    compute_base_fork_digest, compute_fork_data_root, compute_fulu_fork_digest,
    genesis_from_beacon_state, parse_genesis_validators_root, BlobParameters, ConfigError,
    ConsensusConfig, Fork, ForkName, Network, NetworkBuilder, NetworkPreset, PresetBase,
    ScheduledDigest, DEFAULT_NETWORK_NAME, MAINNET_BOOTNODES,
};
pub use network::{parse_bootnodes, NetworkDir};
pub use peer_id::{PeerId, PeerIdError};
pub use primitives::{Epoch, ForkDigest, NodeId, ParseHexError, Root, Slot, Version};
pub use probe::{GossipMessage, Subnet, SubnetObservation, SubnetProbe};
pub use sink::{BoxError, DynEventSink, EventSink, SinkError};
pub use ssz::{MetaData, SszError, SszMessage, Status};
pub use subnets::{
    committees_per_slot, compute_prefix_subnets, compute_shuffled_index,
    compute_subnet_for_attestation, compute_subscribed_attnets, compute_subscribed_subnet,
    compute_subscribed_subnets, is_aggregator, is_sync_committee_aggregator,
    sync_subnet_for_committee_index, AttestationSubnets, SyncSubnets,
};
