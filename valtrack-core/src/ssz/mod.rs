//! Consensus-layer SSZ containers, encoded and decoded with `ssz_rs`.
//!
//! The containers live in a private `containers` module that imports only `ssz_rs` (its derive
//! clashes with serde's traits when both are in scope). This module adds the [`SszMessage`]
//! trait with each type's encoded-length bounds, which the codecs check *before* allocating,
//! and version-agnostic [`Status`] and [`MetaData`] enums.

mod containers;

pub use containers::{
    Attestation, AttestationData, Checkpoint, EnrForkId, ErrorMessage, ForkData, Goodbye,
    MetaDataV1, MetaDataV2, MetaDataV3, Ping, SingleAttestation, StatusV1, StatusV2,
    SyncCommitteeMessage, MAX_VALIDATORS_PER_COMMITTEE,
};

use thiserror::Error;

use crate::primitives::{Epoch, ForkDigest, Root, Slot};
use crate::subnets::{AttestationSubnets, SyncSubnets};

/// SSZ bytes that do not decode to the expected type.
#[derive(Debug, Error)]
pub enum SszError {
    /// The encoding's length is outside the type's bounds.
    #[error("{type_name}: SSZ length {len} outside [{min}, {max}]")]
    Length {
        /// The type being decoded.
        type_name: &'static str,
        /// Length found.
        len: usize,
        /// Smallest valid length.
        min: usize,
        /// Largest valid length.
        max: usize,
    },
    /// A variable-size field's offset is not where the layout puts it.
    #[error("{type_name}: SSZ offset {offset}, expected {expected}")]
    Offset {
        /// The type being decoded.
        type_name: &'static str,
        /// Offset found.
        offset: usize,
        /// Offset the layout requires.
        expected: usize,
    },
    /// The bytes are the right size but not a valid value.
    #[error("{type_name}: invalid SSZ")]
    Invalid {
        /// The type being decoded.
        type_name: &'static str,
        /// What the SSZ decoder said.
        #[source]
        source: ssz_rs::DeserializeError,
    },
}

/// A value with an SSZ encoding and known bounds on its encoded length.
///
/// Every req/resp and gossip type implements this; the codecs use [`SSZ_MIN_LEN`] and
/// [`SSZ_MAX_LEN`] to reject a length prefix before allocating anything.
///
/// [`SSZ_MIN_LEN`]: SszMessage::SSZ_MIN_LEN
/// [`SSZ_MAX_LEN`]: SszMessage::SSZ_MAX_LEN
pub trait SszMessage: Sized {
    /// Name used in errors.
    const TYPE_NAME: &'static str;
    /// Smallest valid encoded length.
    const SSZ_MIN_LEN: usize;
    /// Largest valid encoded length.
    const SSZ_MAX_LEN: usize;

    /// Encodes `self`.
    fn to_ssz_bytes(&self) -> Vec<u8>;

    /// Decodes a value from exactly `bytes`. Never panics.
    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError>;

    /// Whether `len` lies within this type's bounds.
    fn is_valid_len(len: usize) -> bool {
        (Self::SSZ_MIN_LEN..=Self::SSZ_MAX_LEN).contains(&len)
    }
}

/// A Status of either version (`status/1` or `status/2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// `StatusV1` (phase0 onwards).
    V1(StatusV1),
    /// `StatusV2` (Fulu): adds `earliest_available_slot`.
    V2(StatusV2),
}

impl Status {
    /// The sender's fork digest.
    pub fn fork_digest(&self) -> ForkDigest {
        ForkDigest(match self {
            Self::V1(s) => s.fork_digest,
            Self::V2(s) => s.fork_digest,
        })
    }

    /// Finalized checkpoint `(epoch, root)`.
    pub fn finalized(&self) -> (Epoch, Root) {
        match self {
            Self::V1(s) => (s.finalized_epoch, s.finalized_root),
            Self::V2(s) => (s.finalized_epoch, s.finalized_root),
        }
    }

    /// Head `(slot, root)`.
    pub fn head(&self) -> (Slot, Root) {
        match self {
            Self::V1(s) => (s.head_slot, s.head_root),
            Self::V2(s) => (s.head_slot, s.head_root),
        }
    }

    /// `earliest_available_slot` (V2 only).
    pub fn earliest_available_slot(&self) -> Option<Slot> {
        match self {
            Self::V1(_) => None,
            Self::V2(s) => Some(s.earliest_available_slot),
        }
    }

    /// The same status in V1 form (drops `earliest_available_slot`).
    pub fn to_v1(&self) -> StatusV1 {
        match self {
            Self::V1(s) => s.clone(),
            Self::V2(s) => StatusV1 {
                fork_digest: s.fork_digest,
                finalized_root: s.finalized_root,
                finalized_epoch: s.finalized_epoch,
                head_root: s.head_root,
                head_slot: s.head_slot,
            },
        }
    }

    /// The same status in V2 form, with `earliest_available_slot` (0 when unknown).
    pub fn to_v2(&self) -> StatusV2 {
        match self {
            Self::V2(s) => s.clone(),
            Self::V1(s) => StatusV2 {
                fork_digest: s.fork_digest,
                finalized_root: s.finalized_root,
                finalized_epoch: s.finalized_epoch,
                head_root: s.head_root,
                head_slot: s.head_slot,
                earliest_available_slot: 0,
            },
        }
    }
}

/// A MetaData of any version (`metadata/1`, `/2` or `/3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaData {
    /// `MetaDataV1`: seq and attnets.
    V1(MetaDataV1),
    /// `MetaDataV2` (Altair): adds syncnets.
    V2(MetaDataV2),
    /// `MetaDataV3` (Fulu): adds custody_group_count.
    V3(MetaDataV3),
}

impl MetaData {
    /// The version number (1, 2 or 3).
    pub fn version(&self) -> u8 {
        match self {
            Self::V1(_) => 1,
            Self::V2(_) => 2,
            Self::V3(_) => 3,
        }
    }

    /// `seq_number`.
    pub fn seq_number(&self) -> u64 {
        match self {
            Self::V1(m) => m.seq_number,
            Self::V2(m) => m.seq_number,
            Self::V3(m) => m.seq_number,
        }
    }

    /// `attnets`.
    pub fn attnets(&self) -> AttestationSubnets {
        match self {
            Self::V1(m) => m.attnets(),
            Self::V2(m) => m.attnets(),
            Self::V3(m) => m.attnets(),
        }
    }

    /// `syncnets` (V2 and V3).
    pub fn syncnets(&self) -> Option<SyncSubnets> {
        match self {
            Self::V1(_) => None,
            Self::V2(m) => Some(m.syncnets()),
            Self::V3(m) => Some(m.syncnets()),
        }
    }

    /// `custody_group_count` (V3).
    pub fn custody_group_count(&self) -> Option<u64> {
        match self {
            Self::V3(m) => Some(m.custody_group_count),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
