//! Gossipsub topic names: `/eth2/{fork_digest}/{name}/ssz_snappy`.

use std::fmt;
use std::str::FromStr;

use crate::constants::{
    ATTESTATION_SUBNET_COUNT, BLOB_SIDECAR_SUBNET_COUNT_ELECTRA, DATA_COLUMN_SIDECAR_SUBNET_COUNT,
    SYNC_COMMITTEE_SUBNET_COUNT,
};
use crate::error::TopicError;
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn topic(s: &str) -> Result<GossipTopic, TopicError> {
        s.parse()
    }

    #[test]
    fn parses_reference_topics() {
        let t = topic("/eth2/8c9f62fe/beacon_attestation_17/ssz_snappy").unwrap();
        assert_eq!(t.fork_digest, ForkDigest([0x8c, 0x9f, 0x62, 0xfe]));
        assert_eq!(t.kind, GossipKind::BeaconAttestation(17));
        assert_eq!(t.kind.subnet_id(), Some(17));
        assert_eq!(t.encoding, GossipEncoding::SszSnappy);
        // Topics from Prysm's topics_test.go.
        let t = topic("/eth2/cc2c5cdb/data_column_sidecar_0/ssz_snappy").unwrap();
        assert_eq!(t.kind, GossipKind::DataColumnSidecar(0));
        let t = topic("/eth2/afcaaba0/sync_committee_contribution_and_proof/ssz_snappy").unwrap();
        assert_eq!(t.kind, GossipKind::SyncCommitteeContributionAndProof);
        assert_eq!(t.kind.subnet_id(), None);
        let t = topic("/eth2/ad532ceb/sync_committee_3/ssz_snappy").unwrap();
        assert_eq!(t.kind, GossipKind::SyncCommittee(3));
        let t = topic("/eth2/6a95a1a9/blob_sidecar_8/ssz_snappy").unwrap();
        assert_eq!(t.kind, GossipKind::BlobSidecar(8));
        assert_eq!(
            GossipTopic::new(
                ForkDigest([0xb5, 0x30, 0x3f, 0x2a]),
                GossipKind::BeaconBlock
            )
            .to_string(),
            "/eth2/b5303f2a/beacon_block/ssz_snappy"
        );
    }

    #[test]
    fn rejects_out_of_range_subnets() {
        let cases = [
            ("beacon_attestation_64", "beacon_attestation", 64, 64),
            ("sync_committee_4", "sync_committee", 4, 4),
            ("data_column_sidecar_128", "data_column_sidecar", 128, 128),
            ("blob_sidecar_9", "blob_sidecar", 9, 9),
            (
                "beacon_attestation_18446744073709551615",
                "beacon_attestation",
                u64::MAX,
                64,
            ),
        ];
        for (name, family, id, count) in cases {
            assert_eq!(
                topic(&format!("/eth2/8c9f62fe/{name}/ssz_snappy")),
                Err(TopicError::SubnetOutOfRange {
                    kind: family,
                    id,
                    count
                }),
                "{name}"
            );
        }
        assert!(GossipKind::BeaconAttestation(64).validate().is_err());
        assert!(GossipKind::BeaconAttestation(63).validate().is_ok());
        assert!(GossipKind::BeaconBlock.validate().is_ok());
    }

    #[test]
    fn rejects_malformed_topics() {
        let invalid_id = |name: &str| TopicError::InvalidSubnetId {
            name: name.to_owned(),
        };
        let cases: [(&str, TopicError); 18] = [
            ("", TopicError::Malformed),
            (
                "eth2/8c9f62fe/beacon_block/ssz_snappy",
                TopicError::Malformed,
            ),
            (
                "/eth1/8c9f62fe/beacon_block/ssz_snappy",
                TopicError::Malformed,
            ),
            ("/eth2/8c9f62fe/beacon_block", TopicError::Malformed),
            (
                "/eth2/8c9f62fe/beacon_block/ssz_snappy/",
                TopicError::Malformed,
            ),
            (
                "/eth2/8c9f62fe/beacon_block/ssz_snappy/x",
                TopicError::Malformed,
            ),
            (
                "/eth2//8c9f62fe/beacon_block/ssz_snappy",
                TopicError::Malformed,
            ),
            (
                "/eth2/8C9F62FE/beacon_block/ssz_snappy",
                TopicError::InvalidForkDigest {
                    digest: "8C9F62FE".into(),
                },
            ),
            (
                "/eth2/0x8c9f62fe/beacon_block/ssz_snappy",
                TopicError::InvalidForkDigest {
                    digest: "0x8c9f62fe".into(),
                },
            ),
            (
                "/eth2/8c9f62/beacon_block/ssz_snappy",
                TopicError::InvalidForkDigest {
                    digest: "8c9f62".into(),
                },
            ),
            (
                "/eth2/8c9f62fe/beacon_blocks/ssz_snappy",
                TopicError::UnknownKind {
                    name: "beacon_blocks".into(),
                },
            ),
            (
                "/eth2/8c9f62fe/beacon_attestation/ssz_snappy",
                TopicError::UnknownKind {
                    name: "beacon_attestation".into(),
                },
            ),
            (
                "/eth2/8c9f62fe/beacon_attestation_01/ssz_snappy",
                invalid_id("beacon_attestation_01"),
            ),
            (
                "/eth2/8c9f62fe/beacon_attestation_+1/ssz_snappy",
                invalid_id("beacon_attestation_+1"),
            ),
            (
                "/eth2/8c9f62fe/beacon_attestation_/ssz_snappy",
                invalid_id("beacon_attestation_"),
            ),
            (
                "/eth2/8c9f62fe/sync_committee_x/ssz_snappy",
                invalid_id("sync_committee_x"),
            ),
            (
                "/eth2/8c9f62fe/beacon_attestation_99999999999999999999/ssz_snappy",
                invalid_id("beacon_attestation_99999999999999999999"),
            ),
            (
                "/eth2/8c9f62fe/beacon_block/ssz",
                TopicError::UnknownEncoding {
                    encoding: "ssz".into(),
                },
            ),
        ];
        for (s, expected) in cases {
            assert_eq!(topic(s), Err(expected), "{s:?}");
        }
    }

    #[test]
    fn all_kinds_are_listed_once() {
        let kinds: Vec<GossipKind> = GossipKind::all().collect();
        assert_eq!(kinds.len(), 9 + 64 + 4 + 9 + 128);
        let mut sorted = kinds.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), kinds.len());
        assert!(kinds.iter().all(|k| k.validate().is_ok()));
    }

    fn arb_kind() -> impl Strategy<Value = GossipKind> {
        let kinds: Vec<GossipKind> = GossipKind::all().collect();
        proptest::sample::select(kinds)
    }

    proptest! {
        #[test]
        fn topic_roundtrip(digest in any::<[u8; 4]>(), kind in arb_kind()) {
            let topic = GossipTopic::new(ForkDigest(digest), kind);
            let text = topic.to_string();
            prop_assert_eq!(text.parse::<GossipTopic>(), Ok(topic));
            prop_assert_eq!(kind.to_string().parse::<GossipKind>(), Ok(kind));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC*") {
            let _ = s.parse::<GossipTopic>();
            let _ = s.parse::<GossipKind>();
        }

        #[test]
        fn near_miss_topics_never_panic(digest in "[0-9a-fA-Fx]{0,10}", name in "[a-z_0-9]{0,40}",
                                        enc in "[a-z_]{0,12}") {
            let s = format!("/eth2/{digest}/{name}/{enc}");
            if let Ok(t) = s.parse::<GossipTopic>() {
                prop_assert_eq!(t.to_string(), s);
            }
        }
    }
}
