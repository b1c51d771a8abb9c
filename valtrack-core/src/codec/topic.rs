//! Gossipsub topic names: `/eth2/{fork_digest}/{name}/ssz_snappy`.

use std::fmt;
use std::str::FromStr;

use crate::constants::{
    ATTESTATION_SUBNET_COUNT, BLOB_SIDECAR_SUBNET_COUNT_ELECTRA, DATA_COLUMN_SIDECAR_SUBNET_COUNT,
    SYNC_COMMITTEE_SUBNET_COUNT,
};
use thiserror::Error;

use crate::primitives::ForkDigest;

/// The payload encoding named at the end of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GossipEncoding {
    /// `ssz_snappy`: SSZ compressed with block snappy (the only encoding in use).
    #[default]
    SszSnappy,
}

impl GossipEncoding {
    /// The name as it appears in a topic.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SszSnappy => "ssz_snappy",
        }
    }
}

impl fmt::Display for GossipEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GossipEncoding {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ssz_snappy" => Ok(Self::SszSnappy),
            _ => Err(TopicError::UnknownEncoding {
                encoding: s.to_owned(),
            }),
        }
    }
}

/// What a topic carries: its name without fork digest and encoding.
///
/// Subnet ids are plain numbers; a kind built with an id at or above its family's subnet count
/// still displays, but [`GossipKind::validate`] and parsing reject it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GossipKind {
    /// `beacon_block`: SignedBeaconBlock.
    BeaconBlock,
    /// `beacon_aggregate_and_proof`: SignedAggregateAndProof.
    BeaconAggregateAndProof,
    /// `beacon_attestation_{subnet}` (`0..64`): Attestation, SingleAttestation from Electra.
    BeaconAttestation(u64),
    /// `voluntary_exit`: SignedVoluntaryExit.
    VoluntaryExit,
    /// `proposer_slashing`: ProposerSlashing.
    ProposerSlashing,
    /// `attester_slashing`: AttesterSlashing.
    AttesterSlashing,
    /// `sync_committee_contribution_and_proof` (Altair): SignedContributionAndProof.
    SyncCommitteeContributionAndProof,
    /// `sync_committee_{subnet}` (Altair, `0..4`): SyncCommitteeMessage.
    SyncCommittee(u64),
    /// `light_client_finality_update` (Altair): LightClientFinalityUpdate.
    LightClientFinalityUpdate,
    /// `light_client_optimistic_update` (Altair): LightClientOptimisticUpdate.
    LightClientOptimisticUpdate,
    /// `bls_to_execution_change` (Capella): SignedBLSToExecutionChange.
    BlsToExecutionChange,
    /// `blob_sidecar_{subnet}` (Deneb `0..6`, Electra `0..9`; deprecated in Fulu): BlobSidecar.
    BlobSidecar(u64),
    /// `data_column_sidecar_{subnet}` (Fulu, `0..128`): DataColumnSidecar.
    DataColumnSidecar(u64),
}

/// Topics without a subnet id, by name.
const FIXED_KINDS: [(&str, GossipKind); 9] = [
    ("beacon_block", GossipKind::BeaconBlock),
    (
        "beacon_aggregate_and_proof",
        GossipKind::BeaconAggregateAndProof,
    ),
    ("voluntary_exit", GossipKind::VoluntaryExit),
    ("proposer_slashing", GossipKind::ProposerSlashing),
    ("attester_slashing", GossipKind::AttesterSlashing),
    (
        "sync_committee_contribution_and_proof",
        GossipKind::SyncCommitteeContributionAndProof,
    ),
    (
        "light_client_finality_update",
        GossipKind::LightClientFinalityUpdate,
    ),
    (
        "light_client_optimistic_update",
        GossipKind::LightClientOptimisticUpdate,
    ),
    ("bls_to_execution_change", GossipKind::BlsToExecutionChange),
];

/// A family of subnet topics: `{family}_{id}` with `id < count`.
struct SubnetFamily {
    family: &'static str,
    count: u64,
    kind: fn(u64) -> GossipKind,
}

const SUBNET_FAMILIES: [SubnetFamily; 4] = [
    SubnetFamily {
        family: "beacon_attestation",
        count: ATTESTATION_SUBNET_COUNT,
        kind: GossipKind::BeaconAttestation,
    },
    SubnetFamily {
        family: "sync_committee",
        count: SYNC_COMMITTEE_SUBNET_COUNT,
        kind: GossipKind::SyncCommittee,
    },
    SubnetFamily {
        family: "blob_sidecar",
        count: BLOB_SIDECAR_SUBNET_COUNT_ELECTRA,
        kind: GossipKind::BlobSidecar,
    },
    SubnetFamily {
        family: "data_column_sidecar",
        count: DATA_COLUMN_SIDECAR_SUBNET_COUNT,
        kind: GossipKind::DataColumnSidecar,
    },
];

impl GossipKind {
    /// Every valid kind: the fixed topics, then each subnet of each family (215 in all).
    pub fn all() -> impl Iterator<Item = Self> {
        FIXED_KINDS.iter().map(|(_, kind)| *kind).chain(
            SUBNET_FAMILIES
                .iter()
                .flat_map(|family| (0..family.count).map(family.kind)),
        )
    }

    /// The subnet id of a subnet topic.
    pub const fn subnet_id(&self) -> Option<u64> {
        match self {
            Self::BeaconAttestation(id)
            | Self::SyncCommittee(id)
            | Self::BlobSidecar(id)
            | Self::DataColumnSidecar(id) => Some(*id),
            _ => None,
        }
    }

    /// The family name and subnet count of a subnet topic.
    fn family(&self) -> Option<(&'static str, u64)> {
        let index = match self {
            Self::BeaconAttestation(_) => 0,
            Self::SyncCommittee(_) => 1,
            Self::BlobSidecar(_) => 2,
            Self::DataColumnSidecar(_) => 3,
            _ => return None,
        };
        let family = &SUBNET_FAMILIES[index];
        Some((family.family, family.count))
    }

    /// Checks that a subnet id is below its family's subnet count.
    pub fn validate(&self) -> Result<(), TopicError> {
        match (self.family(), self.subnet_id()) {
            (Some((family, count)), Some(id)) if id >= count => Err(TopicError::SubnetOutOfRange {
                kind: family,
                id,
                count,
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for GossipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some((family, _)), Some(id)) = (self.family(), self.subnet_id()) {
            return write!(f, "{family}_{id}");
        }
        let name = FIXED_KINDS
            .iter()
            .find(|(_, kind)| kind == self)
            .map_or("unknown", |(name, _)| name);
        f.write_str(name)
    }
}

impl FromStr for GossipKind {
    type Err = TopicError;

    /// Parses a topic name such as `beacon_attestation_17`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Some((_, kind)) = FIXED_KINDS.iter().find(|(n, _)| *n == name) {
            return Ok(*kind);
        }
        for family in &SUBNET_FAMILIES {
            let Some(suffix) = name
                .strip_prefix(family.family)
                .and_then(|rest| rest.strip_prefix('_'))
            else {
                continue;
            };
            let id = parse_subnet_id(suffix).ok_or_else(|| TopicError::InvalidSubnetId {
                name: name.to_owned(),
            })?;
            let kind = (family.kind)(id);
            kind.validate()?;
            return Ok(kind);
        }
        Err(TopicError::UnknownKind {
            name: name.to_owned(),
        })
    }
}

/// A decimal subnet id as topics write it: digits only, no sign, no leading zero.
fn parse_subnet_id(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

/// A consensus-layer gossip topic: `/eth2/{fork_digest}/{kind}/{encoding}`, for example
/// `/eth2/8c9f62fe/beacon_attestation_17/ssz_snappy`.
///
/// Parsing is strict, as clients are: the digest must be eight lowercase hex digits, the name
/// a known topic with an in-range subnet id, and the encoding `ssz_snappy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GossipTopic {
    /// The fork digest the topic belongs to.
    pub fork_digest: ForkDigest,
    /// What the topic carries.
    pub kind: GossipKind,
    /// The payload encoding.
    pub encoding: GossipEncoding,
}

impl GossipTopic {
    /// A topic with the `ssz_snappy` encoding.
    pub const fn new(fork_digest: ForkDigest, kind: GossipKind) -> Self {
        Self {
            fork_digest,
            kind,
            encoding: GossipEncoding::SszSnappy,
        }
    }
}

impl fmt::Display for GossipTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/eth2/{}/{}/{}",
            self.fork_digest, self.kind, self.encoding
        )
    }
}

impl FromStr for GossipTopic {
    type Err = TopicError;

    fn from_str(topic: &str) -> Result<Self, Self::Err> {
        let rest = topic.strip_prefix("/eth2/").ok_or(TopicError::Malformed)?;
        let mut parts = rest.split('/');
        let (Some(digest), Some(name), Some(encoding), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TopicError::Malformed);
        };
        let lower_hex = digest.len() == 8
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let fork_digest = lower_hex
            .then(|| digest.parse::<ForkDigest>().ok())
            .flatten()
            .ok_or_else(|| TopicError::InvalidForkDigest {
                digest: digest.to_owned(),
            })?;
        Ok(Self {
            fork_digest,
            kind: name.parse()?,
            encoding: encoding.parse()?,
        })
    }
}

/// A gossipsub topic string that is not a valid consensus-layer topic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not of the form `/eth2/{digest}/{name}/{encoding}`.
    #[error("topic is not of the form /eth2/{{fork_digest}}/{{name}}/{{encoding}}")]
    Malformed,
    /// The fork digest is not eight lowercase hex digits.
    #[error("fork digest {digest:?} is not 8 lowercase hex digits")]
    InvalidForkDigest {
        /// The digest segment as found.
        digest: String,
    },
    /// The topic name is not one of the consensus-layer topics.
    #[error("unknown topic name {name:?}")]
    UnknownKind {
        /// The name segment as found.
        name: String,
    },
    /// The subnet suffix is not a plain decimal number (digits only, no leading zero).
    #[error("{name:?}: subnet id is not a plain decimal number")]
    InvalidSubnetId {
        /// The name segment as found.
        name: String,
    },
    /// The subnet id is not below the topic's subnet count.
    #[error("{kind} subnet {id} out of range (must be below {count})")]
    SubnetOutOfRange {
        /// The topic family (`beacon_attestation`, …).
        kind: &'static str,
        /// The subnet id found.
        id: u64,
        /// Number of subnets of this family.
        count: u64,
    },
    /// The encoding is not `ssz_snappy`.
    #[error("unknown encoding {encoding:?}")]
    UnknownEncoding {
        /// The encoding segment as found.
        encoding: String,
    },
}

#[cfg(test)]
mod tests;
