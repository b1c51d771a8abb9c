//! The SSZ containers themselves. This module imports only `ssz_rs`: its derive macro clashes
//! with serde's `Serialize`/`Deserialize` when those are in scope.

use ssz_rs::prelude::*;

use super::SszError;
use crate::primitives::{ForkDigest, Version};
use crate::subnets::{AttestationSubnets, SyncSubnets};

use super::SszMessage;

/// `MAX_VALIDATORS_PER_COMMITTEE` (mainnet preset), the bound of a phase0 `aggregation_bits`.
pub const MAX_VALIDATORS_PER_COMMITTEE: usize = 2048;

fn encode<T: SimpleSerialize>(value: &T) -> Vec<u8> {
    let mut buf = Vec::with_capacity(<T as ssz_rs::Sized>::size_hint());
    // Serializing our own well-formed containers cannot fail: every field is fixed-size or
    // bounded by its type.
    value.serialize(&mut buf).expect("valid SSZ value");
    buf
}

fn decode<T: SimpleSerialize>(name: &'static str, bytes: &[u8]) -> Result<T, SszError> {
    T::deserialize(bytes).map_err(|source| SszError::Invalid {
        type_name: name,
        source,
    })
}

fn check_len(name: &'static str, len: usize, min: usize, max: usize) -> Result<(), SszError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(SszError::Length {
            type_name: name,
            len,
            min,
            max,
        })
    }
}

macro_rules! ssz_message {
    ($ty:ident, $min:expr, $max:expr) => {
        impl SszMessage for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            const SSZ_MIN_LEN: usize = $min;
            const SSZ_MAX_LEN: usize = $max;

            fn to_ssz_bytes(&self) -> Vec<u8> {
                encode(self)
            }

            fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError> {
                check_len(Self::TYPE_NAME, bytes.len(), $min, $max)?;
                decode(Self::TYPE_NAME, bytes)
            }
        }
    };
    ($ty:ident, $len:expr) => {
        ssz_message!($ty, $len, $len);
    };
}

/// `Status` v1 (`/eth2/beacon_chain/req/status/1/`): 84 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct StatusV1 {
    /// The sender's current fork digest.
    pub fork_digest: [u8; 4],
    /// Root of the finalized checkpoint.
    pub finalized_root: [u8; 32],
    /// Epoch of the finalized checkpoint.
    pub finalized_epoch: u64,
    /// Root of the head block.
    pub head_root: [u8; 32],
    /// Slot of the head block.
    pub head_slot: u64,
}
ssz_message!(StatusV1, 84);

/// `Status` v2 (Fulu, `status/2`): `StatusV1` plus `earliest_available_slot`; 92 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct StatusV2 {
    /// The sender's current fork digest.
    pub fork_digest: [u8; 4],
    /// Root of the finalized checkpoint.
    pub finalized_root: [u8; 32],
    /// Epoch of the finalized checkpoint.
    pub finalized_epoch: u64,
    /// Root of the head block.
    pub head_root: [u8; 32],
    /// Slot of the head block.
    pub head_slot: u64,
    /// Earliest slot the sender can serve blocks for.
    pub earliest_available_slot: u64,
}
ssz_message!(StatusV2, 92);

macro_rules! attnets_accessors {
    ($ty:ident) => {
        impl $ty {
            /// The advertised attestation subnets.
            pub fn attnets(&self) -> AttestationSubnets {
                let mut out = [0u8; 8];
                out.copy_from_slice(&encode(&self.attnets));
                AttestationSubnets(out)
            }
        }
    };
}

macro_rules! syncnets_accessors {
    ($ty:ident) => {
        impl $ty {
            /// The advertised sync-committee subnets.
            pub fn syncnets(&self) -> SyncSubnets {
                SyncSubnets(encode(&self.syncnets)[0])
            }
        }
    };
}

fn bitvector64(attnets: AttestationSubnets) -> Bitvector<64> {
    Bitvector::deserialize(&attnets.0).expect("8 bytes are a Bitvector[64]")
}

fn bitvector4(syncnets: SyncSubnets) -> Bitvector<4> {
    Bitvector::deserialize(&[syncnets.0 & 0x0f]).expect("low nibble is a Bitvector[4]")
}

/// `MetaData` v1 (`metadata/1`): 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct MetaDataV1 {
    /// Incremented whenever the metadata changes.
    pub seq_number: u64,
    /// Long-lived attestation subnets.
    pub attnets: Bitvector<64>,
}
ssz_message!(MetaDataV1, 16);
attnets_accessors!(MetaDataV1);

impl MetaDataV1 {
    /// Builds a value.
    pub fn new(seq_number: u64, attnets: AttestationSubnets) -> Self {
        Self {
            seq_number,
            attnets: bitvector64(attnets),
        }
    }
}

/// `MetaData` v2 (Altair, `metadata/2`): adds `syncnets`; 17 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct MetaDataV2 {
    /// Incremented whenever the metadata changes.
    pub seq_number: u64,
    /// Long-lived attestation subnets.
    pub attnets: Bitvector<64>,
    /// Sync-committee subnets.
    pub syncnets: Bitvector<4>,
}
ssz_message!(MetaDataV2, 17);
attnets_accessors!(MetaDataV2);
syncnets_accessors!(MetaDataV2);

impl MetaDataV2 {
    /// Builds a value (bits of `syncnets` above the fourth are dropped).
    pub fn new(seq_number: u64, attnets: AttestationSubnets, syncnets: SyncSubnets) -> Self {
        Self {
            seq_number,
            attnets: bitvector64(attnets),
            syncnets: bitvector4(syncnets),
        }
    }
}

/// `MetaData` v3 (Fulu, `metadata/3`): adds `custody_group_count`; 25 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct MetaDataV3 {
    /// Incremented whenever the metadata changes.
    pub seq_number: u64,
    /// Long-lived attestation subnets.
    pub attnets: Bitvector<64>,
    /// Sync-committee subnets.
    pub syncnets: Bitvector<4>,
    /// Number of custody groups the node samples.
    pub custody_group_count: u64,
}
ssz_message!(MetaDataV3, 25);
attnets_accessors!(MetaDataV3);
syncnets_accessors!(MetaDataV3);

impl MetaDataV3 {
    /// Builds a value (bits of `syncnets` above the fourth are dropped).
    pub fn new(
        seq_number: u64,
        attnets: AttestationSubnets,
        syncnets: SyncSubnets,
        custody_group_count: u64,
    ) -> Self {
        Self {
            seq_number,
            attnets: bitvector64(attnets),
            syncnets: bitvector4(syncnets),
            custody_group_count,
        }
    }
}

/// `Ping` body: the sender's `MetaData.seq_number`, a bare `uint64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping {
    /// The sender's metadata sequence number.
    pub seq_number: u64,
}

/// `Goodbye` body: a bare `uint64` reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Goodbye {
    /// Reason code (1 shutdown, 2 irrelevant network, 3 fault, 129 too many peers, …).
    pub reason: u64,
}

macro_rules! bare_u64_message {
    ($ty:ident, $field:ident) => {
        impl SszMessage for $ty {
            const TYPE_NAME: &'static str = stringify!($ty);
            const SSZ_MIN_LEN: usize = 8;
            const SSZ_MAX_LEN: usize = 8;

            fn to_ssz_bytes(&self) -> Vec<u8> {
                encode(&self.$field)
            }

            fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError> {
                check_len(Self::TYPE_NAME, bytes.len(), 8, 8)?;
                decode(Self::TYPE_NAME, bytes).map(|$field| Self { $field })
            }
        }
    };
}
bare_u64_message!(Ping, seq_number);
bare_u64_message!(Goodbye, reason);

/// `ENRForkID`, the value of an ENR's `eth2` key: 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct EnrForkId {
    /// The digest at the node's current epoch.
    pub fork_digest: [u8; 4],
    /// The next regular fork's version (the current one if none is scheduled).
    pub next_fork_version: [u8; 4],
    /// The next regular or BPO fork epoch, or `FAR_FUTURE_EPOCH`.
    pub next_fork_epoch: u64,
}
ssz_message!(EnrForkId, 16);

impl EnrForkId {
    /// The current fork digest as a typed value.
    pub fn digest(&self) -> ForkDigest {
        ForkDigest(self.fork_digest)
    }

    /// The next fork version as a typed value.
    pub fn next_version(&self) -> Version {
        Version(self.next_fork_version)
    }
}

/// `ForkData`, whose hash tree root gives the fork digest.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct ForkData {
    /// The fork version.
    pub current_version: [u8; 4],
    /// The chain's genesis validators root.
    pub genesis_validators_root: [u8; 32],
}

impl ForkData {
    /// `compute_fork_data_root`: the SSZ hash tree root of this container.
    pub fn root(&self) -> [u8; 32] {
        let mut me = self.clone();
        let node = me
            .hash_tree_root()
            .expect("fixed-size container merkleizes");
        let mut out = [0u8; 32];
        out.copy_from_slice(node.as_ref());
        out
    }
}

/// `Checkpoint`: 40 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct Checkpoint {
    /// Epoch.
    pub epoch: u64,
    /// Block root.
    pub root: [u8; 32],
}

/// `AttestationData`: 128 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct AttestationData {
    /// Slot.
    pub slot: u64,
    /// Committee index (must be 0 from Electra on; the committee moves out of the data).
    pub index: u64,
    /// LMD GHOST vote.
    pub beacon_block_root: [u8; 32],
    /// FFG source.
    pub source: Checkpoint,
    /// FFG target.
    pub target: Checkpoint,
}
ssz_message!(AttestationData, 128);

/// Phase0–Deneb `Attestation` as gossiped on `beacon_attestation_{n}`: one bit set in
/// `aggregation_bits`, whose position indexes the committee. 229 to 485 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct Attestation {
    /// One bit per committee member.
    pub aggregation_bits: Bitlist<MAX_VALIDATORS_PER_COMMITTEE>,
    /// What is attested.
    pub data: AttestationData,
    /// BLS signature.
    pub signature: Vector<u8, 96>,
}

/// Size of `Attestation`'s fixed part: the bitlist offset, the data and the signature.
const ATTESTATION_FIXED_LEN: usize = 4 + 128 + 96;

impl SszMessage for Attestation {
    const TYPE_NAME: &'static str = "Attestation";
    // A bitlist takes at least one byte (its delimiter bit) and at most 2048 bits + 1.
    const SSZ_MIN_LEN: usize = ATTESTATION_FIXED_LEN + 1;
    const SSZ_MAX_LEN: usize = ATTESTATION_FIXED_LEN + MAX_VALIDATORS_PER_COMMITTEE / 8 + 1;

    fn to_ssz_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError> {
        check_len(
            Self::TYPE_NAME,
            bytes.len(),
            Self::SSZ_MIN_LEN,
            Self::SSZ_MAX_LEN,
        )?;
        // The only offset must point just past the fixed part. ssz_rs 0.9's derive underflows
        // (panics in debug builds) on a bad offset, so it is checked here first.
        let offset = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if offset != ATTESTATION_FIXED_LEN {
            return Err(SszError::Offset {
                type_name: Self::TYPE_NAME,
                offset,
                expected: ATTESTATION_FIXED_LEN,
            });
        }
        decode(Self::TYPE_NAME, bytes)
    }
}

impl Attestation {
    /// Positions of the set aggregation bits (one, for an unaggregated attestation).
    pub fn set_bits(&self) -> Vec<usize> {
        self.aggregation_bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Electra `SingleAttestation` on `beacon_attestation_{n}`: names the validator directly.
/// 240 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct SingleAttestation {
    /// The committee (the subnet is derived from it).
    pub committee_index: u64,
    /// The attesting validator's index (unauthenticated until the signature is checked).
    pub attester_index: u64,
    /// What is attested (`data.index` is 0).
    pub data: AttestationData,
    /// BLS signature.
    pub signature: Vector<u8, 96>,
}
ssz_message!(SingleAttestation, 240);

/// `SyncCommitteeMessage` on `sync_committee_{n}`: 144 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct SyncCommitteeMessage {
    /// Slot.
    pub slot: u64,
    /// Block root signed.
    pub beacon_block_root: [u8; 32],
    /// The member's validator index.
    pub validator_index: u64,
    /// BLS signature.
    pub signature: Vector<u8, 96>,
}
ssz_message!(SyncCommitteeMessage, 144);

/// `ErrorMessage`: `List[byte, 256]`, usually UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, Default, SimpleSerialize)]
pub struct ErrorMessage {
    /// Raw bytes.
    pub message: List<u8, 256>,
}

impl SszMessage for ErrorMessage {
    const TYPE_NAME: &'static str = "ErrorMessage";
    const SSZ_MIN_LEN: usize = 0;
    const SSZ_MAX_LEN: usize = 256;

    fn to_ssz_bytes(&self) -> Vec<u8> {
        // A List[byte, N] as the only payload is encoded as its bytes (no container offset).
        encode(&self.message)
    }

    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, SszError> {
        check_len(Self::TYPE_NAME, bytes.len(), 0, 256)?;
        decode(Self::TYPE_NAME, bytes).map(|message| Self { message })
    }
}

impl ErrorMessage {
    /// Builds a message from text, truncated to 256 bytes.
    pub fn from_text(text: &str) -> Self {
        let bytes = &text.as_bytes()[..text.len().min(256)];
        Self {
            message: List::try_from(bytes.to_vec()).expect("at most 256 bytes"),
        }
    }

    /// The message as text (lossy UTF-8).
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.message.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
