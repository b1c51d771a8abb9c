//! [`AttestationEvent`]: an attestation a peer delivered to us first, and what makes that peer
//! its likely origin ([`AttributionEvidence`]).
//!
//! GossipSub delivers each message once, from whichever peer was fastest, so first delivery
//! alone says little: a well-connected relay wins often. The evidence ranks, strongest first,
//! why the deliverer may be the origin: it sent the attestation on a subnet it neither
//! subscribes to nor is backbone for (it can only have published it), on a short-lived subnet
//! it subscribes to (aggregator duty), or on one of its backbone subnets (it may be relaying).

use serde::{Deserialize, Serialize};

use super::EventMeta;
use crate::primitives::{Epoch, Root, Slot};

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

event_struct! {
    /// An attestation first delivered to us by a peer.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}
