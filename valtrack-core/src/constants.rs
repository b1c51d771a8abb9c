//! Protocol constants from the consensus specs (mainnet preset unless noted).

use crate::primitives::Epoch;

/// `FAR_FUTURE_EPOCH`: an epoch that never comes (`2^64 - 1`).
pub const FAR_FUTURE_EPOCH: Epoch = u64::MAX;
/// `ATTESTATION_SUBNET_COUNT`.
pub const ATTESTATION_SUBNET_COUNT: u64 = 64;
/// `SUBNETS_PER_NODE`: long-lived attestation subnets per node.
pub const SUBNETS_PER_NODE: u64 = 2;
/// `EPOCHS_PER_SUBNET_SUBSCRIPTION`.
pub const EPOCHS_PER_SUBNET_SUBSCRIPTION: u64 = 256;
/// `ATTESTATION_SUBNET_EXTRA_BITS`.
pub const ATTESTATION_SUBNET_EXTRA_BITS: u32 = 0;
/// `ATTESTATION_SUBNET_PREFIX_BITS` = `ceillog2(ATTESTATION_SUBNET_COUNT) + ATTESTATION_SUBNET_EXTRA_BITS`.
pub const ATTESTATION_SUBNET_PREFIX_BITS: u32 = 6 + ATTESTATION_SUBNET_EXTRA_BITS;
/// `NODE_ID_BITS`.
pub const NODE_ID_BITS: u32 = 256;
/// `SHUFFLE_ROUND_COUNT` (mainnet preset; the minimal preset uses 10).
pub const SHUFFLE_ROUND_COUNT: u8 = 90;
/// `SYNC_COMMITTEE_SUBNET_COUNT`.
pub const SYNC_COMMITTEE_SUBNET_COUNT: u64 = 4;
/// `SYNC_COMMITTEE_SIZE` (mainnet preset).
pub const SYNC_COMMITTEE_SIZE: u64 = 512;
/// `BLOB_SIDECAR_SUBNET_COUNT_ELECTRA` (Deneb had 6; blob topics are deprecated from Fulu).
pub const BLOB_SIDECAR_SUBNET_COUNT_ELECTRA: u64 = 9;
/// `DATA_COLUMN_SIDECAR_SUBNET_COUNT` (Fulu).
pub const DATA_COLUMN_SIDECAR_SUBNET_COUNT: u64 = 128;
/// `MAX_COMMITTEES_PER_SLOT`.
pub const MAX_COMMITTEES_PER_SLOT: u64 = 64;
/// `TARGET_COMMITTEE_SIZE`.
pub const TARGET_COMMITTEE_SIZE: u64 = 128;
/// `TARGET_AGGREGATORS_PER_COMMITTEE`.
pub const TARGET_AGGREGATORS_PER_COMMITTEE: u64 = 16;
/// `TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE`.
pub const TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE: u64 = 16;
/// `SLOTS_PER_EPOCH` (mainnet preset; minimal is 8).
pub const SLOTS_PER_EPOCH: u64 = 32;
/// `SLOT_DURATION_MS` on mainnet.
pub const SLOT_DURATION_MS: u64 = 12_000;
/// `MAX_PAYLOAD_SIZE`: largest uncompressed req/resp chunk or gossip payload (10 MiB).
pub const MAX_PAYLOAD_SIZE: usize = 10 * 1024 * 1024;
/// `MAX_REQUEST_BLOCKS_DENEB`-independent bound on an `ErrorMessage` (`List[byte, 256]`).
pub const MAX_ERROR_MESSAGE_LEN: usize = 256;
/// `CUSTODY_REQUIREMENT`: the custody group count of a node without validators.
pub const CUSTODY_REQUIREMENT: u64 = 4;
/// `VALIDATOR_CUSTODY_REQUIREMENT`: the smallest custody of a node with validators.
pub const VALIDATOR_CUSTODY_REQUIREMENT: u64 = 8;
/// `NUMBER_OF_CUSTODY_GROUPS`.
pub const NUMBER_OF_CUSTODY_GROUPS: u64 = 128;
/// `BALANCE_PER_ADDITIONAL_CUSTODY_GROUP` in Gwei (32 ETH).
pub const BALANCE_PER_ADDITIONAL_CUSTODY_GROUP: u64 = 32_000_000_000;
