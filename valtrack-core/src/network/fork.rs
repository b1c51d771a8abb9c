//! Fork names, the fork schedule's entries and the fork-digest computation of the consensus
//! specs (`compute_fork_data_root`, `compute_fork_digest`, EIP-7892 blob parameters).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::primitives::{Epoch, ForkDigest, Root, Version};
use crate::ssz::ForkData;

/// A regular (fork-version changing) consensus fork, in activation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ForkName {
    /// Genesis (`GENESIS_FORK_VERSION`, always at epoch 0).
    Phase0,
    /// Altair.
    Altair,
    /// Bellatrix (the Merge).
    Bellatrix,
    /// Capella.
    Capella,
    /// Deneb.
    Deneb,
    /// Electra.
    Electra,
    /// Fulu (PeerDAS; fork digests mix in the blob parameters from here on).
    Fulu,
    /// Gloas.
    Gloas,
    /// Heze.
    Heze,
}

impl ForkName {
    /// Every fork, in activation order.
    pub const ALL: [Self; 9] = [
        Self::Phase0,
        Self::Altair,
        Self::Bellatrix,
        Self::Capella,
        Self::Deneb,
        Self::Electra,
        Self::Fulu,
        Self::Gloas,
        Self::Heze,
    ];

    /// The lowercase name used by the specs and the beacon API (`"phase0"`, `"fulu"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phase0 => "phase0",
            Self::Altair => "altair",
            Self::Bellatrix => "bellatrix",
            Self::Capella => "capella",
            Self::Deneb => "deneb",
            Self::Electra => "electra",
            Self::Fulu => "fulu",
            Self::Gloas => "gloas",
            Self::Heze => "heze",
        }
    }

    /// The config key holding this fork's version (`GENESIS_FORK_VERSION` for phase0).
    pub const fn version_key(self) -> &'static str {
        match self {
            Self::Phase0 => "GENESIS_FORK_VERSION",
            Self::Altair => "ALTAIR_FORK_VERSION",
            Self::Bellatrix => "BELLATRIX_FORK_VERSION",
            Self::Capella => "CAPELLA_FORK_VERSION",
            Self::Deneb => "DENEB_FORK_VERSION",
            Self::Electra => "ELECTRA_FORK_VERSION",
            Self::Fulu => "FULU_FORK_VERSION",
            Self::Gloas => "GLOAS_FORK_VERSION",
            Self::Heze => "HEZE_FORK_VERSION",
        }
    }

    /// The config key holding this fork's epoch (`None` for phase0, which is always epoch 0).
    pub const fn epoch_key(self) -> Option<&'static str> {
        match self {
            Self::Phase0 => None,
            Self::Altair => Some("ALTAIR_FORK_EPOCH"),
            Self::Bellatrix => Some("BELLATRIX_FORK_EPOCH"),
            Self::Capella => Some("CAPELLA_FORK_EPOCH"),
            Self::Deneb => Some("DENEB_FORK_EPOCH"),
            Self::Electra => Some("ELECTRA_FORK_EPOCH"),
            Self::Fulu => Some("FULU_FORK_EPOCH"),
            Self::Gloas => Some("GLOAS_FORK_EPOCH"),
            Self::Heze => Some("HEZE_FORK_EPOCH"),
        }
    }
}

impl fmt::Display for ForkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One regular fork of a network's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fork {
    /// Which fork.
    pub name: ForkName,
    /// Its fork version.
    pub version: Version,
    /// Its activation epoch; `FAR_FUTURE_EPOCH` when not scheduled.
    pub epoch: Epoch,
}

impl Fork {
    /// Whether the fork has an activation epoch (is not at `FAR_FUTURE_EPOCH`).
    pub fn is_scheduled(&self) -> bool {
        self.epoch != crate::constants::FAR_FUTURE_EPOCH
    }
}

/// One `BLOB_SCHEDULE` entry, or the Electra default (EIP-7892 `BlobParameters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobParameters {
    /// The epoch from which these parameters apply.
    pub epoch: Epoch,
    /// `MAX_BLOBS_PER_BLOCK` from that epoch on.
    pub max_blobs_per_block: u64,
}

impl BlobParameters {
    /// The mask XORed into the fork data root from Fulu on:
    /// `sha256(u64le(epoch) ‖ u64le(max_blobs_per_block))`.
    pub fn digest_mask(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.epoch.to_le_bytes());
        hasher.update(self.max_blobs_per_block.to_le_bytes());
        hasher.finalize().into()
    }
}

/// A point of the schedule where the fork digest changes: a regular fork or a
/// Blob-Parameters-Only (BPO) fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduledDigest {
    /// First epoch with this digest.
    pub epoch: Epoch,
    /// The fork digest from `epoch` on.
    pub digest: ForkDigest,
    /// The regular fork active at `epoch`.
    pub fork: ForkName,
    /// That fork's version.
    pub version: Version,
    /// The blob parameters mixed into the digest (`None` before Fulu).
    pub blob_parameters: Option<BlobParameters>,
    /// Whether a regular fork (one that changes the fork version) starts at `epoch`; `false`
    /// for a BPO fork. The genesis entry counts as regular.
    pub regular: bool,
}

/// `compute_fork_data_root(version, genesis_validators_root)`: the SSZ hash tree root of
/// `ForkData`, i.e. `sha256(version ‖ 28 × 00 ‖ genesis_validators_root)`.
pub fn compute_fork_data_root(version: Version, genesis_validators_root: &Root) -> Root {
    ForkData {
        current_version: version.0,
        genesis_validators_root: *genesis_validators_root,
    }
    .root()
}

/// The pre-Fulu (phase0) `compute_fork_digest(version, genesis_validators_root)`:
/// the first four bytes of the fork data root.
///
/// With `GENESIS_FORK_VERSION` and an all-zero root this is the digest bootnodes advertise
/// before genesis (`f5a5fd42` on mainnet).
pub fn compute_base_fork_digest(version: Version, genesis_validators_root: &Root) -> ForkDigest {
    let root = compute_fork_data_root(version, genesis_validators_root);
    ForkDigest([root[0], root[1], root[2], root[3]])
}

/// The Fulu `compute_fork_digest` (EIP-7892): the fork data root XOR the blob parameters'
/// [mask](BlobParameters::digest_mask), first four bytes.
pub fn compute_fulu_fork_digest(
    version: Version,
    genesis_validators_root: &Root,
    blob_parameters: &BlobParameters,
) -> ForkDigest {
    let root = compute_fork_data_root(version, genesis_validators_root);
    let mask = blob_parameters.digest_mask();
    ForkDigest([
        root[0] ^ mask[0],
        root[1] ^ mask[1],
        root[2] ^ mask[2],
        root[3] ^ mask[3],
    ])
}
