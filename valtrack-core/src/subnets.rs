//! Attestation and sync-committee subnet maths from the consensus specs: which long-lived
//! ("backbone") attestation subnets a node id must join, which subnet an attestation or a
//! sync-committee seat belongs to, and whether a selection proof makes a validator an aggregator.
//!
//! Everything here is a pure function that never panics. Where the spec would fail (a failed
//! `assert`, a typed-integer overflow it writes out, a division by zero) the function returns
//! `None`; all other arithmetic is exact, like the spec's Python integers.
//!
//! Sources: consensus-specs `specs/phase0/beacon-chain.md` (`compute_shuffled_index`,
//! `get_committee_count_per_slot`), `specs/phase0/p2p-interface.md` (`compute_subscribed_subnet`,
//! after the v1.4.0 "attnet revamp"), `specs/phase0/validator.md`
//! (`compute_subnet_for_attestation`, `is_aggregator`) and `specs/altair/validator.md` (sync
//! subnets, `is_sync_committee_aggregator`). `testdata/subnet_vectors.json` holds vectors that
//! `scripts/spec_subnets.py`, an independent transcription of those functions, computed.
//!
//! # Example
//!
//! ```
//! use valtrack_core::subnets::{compute_subscribed_attnets, compute_subscribed_subnets};
//! use valtrack_core::NodeId;
//!
//! let node_id: NodeId = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
//!     .parse()?;
//! let [first, second] = compute_subscribed_subnets(&node_id, 300_000);
//! assert_eq!(second, (first + 1) % 64);
//! // A spec-following node advertises exactly these two bits in its ENR `attnets`.
//! let expected = compute_subscribed_attnets(&node_id, 300_000);
//! assert_eq!(expected.subnets().len(), 2);
//! assert!(expected.contains(first) && expected.contains(second));
//! # Ok::<(), valtrack_core::ParseHexError>(())
//! ```

mod bitfields;

pub use bitfields::{AttestationSubnets, SyncSubnets};

use sha2::{Digest, Sha256};

use crate::constants::{
    ATTESTATION_SUBNET_COUNT, ATTESTATION_SUBNET_PREFIX_BITS, EPOCHS_PER_SUBNET_SUBSCRIPTION,
    MAX_COMMITTEES_PER_SLOT, NODE_ID_BITS, SHUFFLE_ROUND_COUNT, SUBNETS_PER_NODE,
    SYNC_COMMITTEE_SIZE, SYNC_COMMITTEE_SUBNET_COUNT, TARGET_AGGREGATORS_PER_COMMITTEE,
    TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE, TARGET_COMMITTEE_SIZE,
};
use crate::primitives::{Epoch, NodeId, Slot};

// The prefix is read from the node id's most significant `u64` limb, and `1 << PREFIX_BITS`
// must stay a count that `compute_shuffled_index` accepts (<= 2^40).
const _: () = assert!(ATTESTATION_SUBNET_PREFIX_BITS >= 1 && ATTESTATION_SUBNET_PREFIX_BITS <= 40);
const _: () = assert!(NODE_ID_BITS == 256);
const _: () = assert!(EPOCHS_PER_SUBNET_SUBSCRIPTION > 0);

/// The first 8 bytes of `sha256(data)` read little-endian: the spec's
/// `bytes_to_uint64(hash(data)[0:8])`.
fn hash_to_u64(data: &[u8]) -> u64 {
    let digest = Sha256::digest(data);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The spec's swap-or-not shuffle: where `index` lands in a permutation of `0..index_count`
/// chosen by `seed`, after `rounds` rounds (`SHUFFLE_ROUND_COUNT`: 90 on mainnet, 10 on the
/// minimal preset).
///
/// Returns `None` where the spec fails: when `index >= index_count` (so always when
/// `index_count == 0`), and when a round's `position // 256` does not fit the spec's `uint32`,
/// which can only happen when `index_count > 2^40`.
pub fn compute_shuffled_index(
    index: u64,
    index_count: u64,
    seed: &[u8; 32],
    rounds: u8,
) -> Option<u64> {
    if index >= index_count {
        return None;
    }
    let mut index = index;
    // seed || uint8(round) || uint32(position // 256), little-endian.
    let mut input = [0u8; 37];
    input[..32].copy_from_slice(seed);
    for round in 0..rounds {
        input[32] = round;
        let pivot = hash_to_u64(&input[..33]) % index_count;
        // (pivot + index_count - index) % index_count, without overflowing u64.
        let flip = if pivot >= index {
            pivot - index
        } else {
            pivot + (index_count - index)
        };
        let position = index.max(flip);
        let bucket = u32::try_from(position / 256).ok()?;
        input[33..].copy_from_slice(&bucket.to_le_bytes());
        let source = Sha256::digest(input);
        let byte = source[(position % 256 / 8) as usize];
        if (byte >> (position % 8)) & 1 == 1 {
            index = flip;
        }
    }
    Some(index)
}

/// `node_id >> (NODE_ID_BITS - ATTESTATION_SUBNET_PREFIX_BITS)`, the node id read as a
/// big-endian `uint256`.
fn node_id_prefix(node_id: &NodeId) -> u64 {
    node_id.to_be_limbs()[0] >> (64 - ATTESTATION_SUBNET_PREFIX_BITS)
}

/// `node_id % modulus` for the node id read as a big-endian `uint256`; `modulus` must not be 0.
fn node_id_mod(node_id: &NodeId, modulus: u64) -> u64 {
    let modulus = u128::from(modulus);
    let rem = node_id.to_be_limbs().iter().fold(0u128, |rem, limb| {
        ((rem << 64) | u128::from(*limb)) % modulus
    });
    // `rem < modulus <= u64::MAX`.
    rem as u64
}

/// The spec's `permutated_prefix`: the node's subnet for `index == 0` in `epoch`.
fn permutated_prefix(node_id: &NodeId, epoch: Epoch) -> u64 {
    let prefix = node_id_prefix(node_id);
    let node_offset = node_id_mod(node_id, EPOCHS_PER_SUBNET_SUBSCRIPTION);
    // (epoch + node_offset) // EPOCHS_PER_SUBNET_SUBSCRIPTION, exactly: node_offset is smaller
    // than the divisor, so no intermediate value can overflow even at epoch == u64::MAX.
    let period = epoch / EPOCHS_PER_SUBNET_SUBSCRIPTION
        + (epoch % EPOCHS_PER_SUBNET_SUBSCRIPTION + node_offset) / EPOCHS_PER_SUBNET_SUBSCRIPTION;
    let seed: [u8; 32] = Sha256::digest(period.to_le_bytes()).into();
    // `prefix < 1 << ATTESTATION_SUBNET_PREFIX_BITS <= 2^40`, so the shuffle cannot fail.
    compute_shuffled_index(
        prefix,
        1 << ATTESTATION_SUBNET_PREFIX_BITS,
        &seed,
        SHUFFLE_ROUND_COUNT,
    )
    .unwrap_or(prefix)
}

/// The spec's `compute_subscribed_subnet`: the `index`-th long-lived attestation subnet of the
/// node `node_id` during `epoch`.
///
/// The node id is read as a big-endian `uint256`. The subnet set rotates once every
/// `EPOCHS_PER_SUBNET_SUBSCRIPTION` (256) epochs, staggered per node by `node_id % 256`.
/// `epoch + node_id % 256` is computed exactly at every epoch up to `u64::MAX`, as with the plain
/// Python integers the spec's own tests pass in. (With a typed `Epoch` the pyspec would raise in
/// the last 255 epochs before `u64::MAX`, and Prysm wraps around there; no real epoch is close.)
pub fn compute_subscribed_subnet(node_id: &NodeId, epoch: Epoch, index: u64) -> u64 {
    // (permutated_prefix + index) % ATTESTATION_SUBNET_COUNT, without overflowing u64.
    (permutated_prefix(node_id, epoch) + index % ATTESTATION_SUBNET_COUNT)
        % ATTESTATION_SUBNET_COUNT
}

/// The spec's `compute_subscribed_subnets`: the `SUBNETS_PER_NODE` (2) long-lived attestation
/// subnets the node `node_id` must join during `epoch`, in the spec's order. They are
/// consecutive modulo 64.
///
/// # Example
///
/// ```
/// use valtrack_core::subnets::compute_subscribed_subnets;
/// use valtrack_core::NodeId;
///
/// let node_id = NodeId([0; 32]);
/// // Value from testdata/subnet_vectors.json (computed by scripts/spec_subnets.py).
/// assert_eq!(compute_subscribed_subnets(&node_id, 0), [49, 50]);
/// // Node id 0 has `node_id % 256 == 0`, so it rotates exactly at multiples of 256.
/// assert_eq!(compute_subscribed_subnets(&node_id, 255), [49, 50]);
/// assert_ne!(compute_subscribed_subnets(&node_id, 256), [49, 50]);
/// ```
pub fn compute_subscribed_subnets(
    node_id: &NodeId,
    epoch: Epoch,
) -> [u64; SUBNETS_PER_NODE as usize] {
    let first = permutated_prefix(node_id, epoch);
    std::array::from_fn(|i| (first + i as u64) % ATTESTATION_SUBNET_COUNT)
}

/// [`compute_subscribed_subnets`] as the `attnets` bitfield that a spec-following node without
/// `--subscribe-all-subnets` advertises in its ENR and `MetaData` during `epoch`.
pub fn compute_subscribed_attnets(node_id: &NodeId, epoch: Epoch) -> AttestationSubnets {
    AttestationSubnets::from_subnets(compute_subscribed_subnets(node_id, epoch))
}

/// The long-lived subnets of `node_id` **without** the spec's shuffle and rotation: the node id's
/// top `ATTESTATION_SUBNET_PREFIX_BITS` bits and the subnets after it, `(prefix + i) % 64`.
///
/// This is not the spec rule. It is the "simplified attestation subnet mapping" proposed in
/// consensus-specs PR #3735 (closed), which Lighthouse adopted anyway in its PR #6146 (merged
/// 2024): such nodes stay on these subnets for as long as they keep their node key. A crawler
/// that checks `attnets` against [`compute_subscribed_subnets`] alone would misjudge them.
pub fn compute_prefix_subnets(node_id: &NodeId) -> [u64; SUBNETS_PER_NODE as usize] {
    let prefix = node_id_prefix(node_id);
    std::array::from_fn(|i| (prefix + i as u64) % ATTESTATION_SUBNET_COUNT)
}

/// The spec's `compute_subnet_for_attestation`: the `beacon_attestation_{subnet}` topic of an
/// attestation of committee `committee_index` at `slot`, when each slot has
/// `committees_per_slot` committees (see [`committees_per_slot`]).
///
/// `slots_per_epoch` is the preset's `SLOTS_PER_EPOCH` (32 on mainnet). Returns `None` only when
/// it is 0. The arithmetic is exact for every `u64` input.
pub fn compute_subnet_for_attestation(
    committees_per_slot: u64,
    slot: Slot,
    committee_index: u64,
    slots_per_epoch: u64,
) -> Option<u64> {
    let slots_since_epoch_start = slot.checked_rem(slots_per_epoch)?;
    // < (2^64 - 1)^2 + 2^64 - 1 < 2^128: no overflow.
    let committees = u128::from(committees_per_slot) * u128::from(slots_since_epoch_start)
        + u128::from(committee_index);
    // The remainder is below 64.
    Some((committees % u128::from(ATTESTATION_SUBNET_COUNT)) as u64)
}

/// The spec's `get_committee_count_per_slot`, from the number of active validators:
/// `max(1, min(MAX_COMMITTEES_PER_SLOT, active_validators // slots_per_epoch //
/// TARGET_COMMITTEE_SIZE))`.
///
/// On mainnet this is 64 once at least 262,144 validators are active, and then an attestation's
/// subnet equals its committee index. Returns `None` only when `slots_per_epoch` is 0.
pub fn committees_per_slot(active_validators: u64, slots_per_epoch: u64) -> Option<u64> {
    let per_slot = active_validators.checked_div(slots_per_epoch)? / TARGET_COMMITTEE_SIZE;
    Some(per_slot.clamp(1, MAX_COMMITTEES_PER_SLOT))
}

/// The `sync_committee_{subnet}` topic of seat `index_in_committee` of the sync committee:
/// `index // (SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT)`, i.e. 128 seats per subnet.
///
/// A validator may hold several seats and so be on several subnets. Returns `None` when
/// `index_in_committee >= SYNC_COMMITTEE_SIZE` (512), a seat that does not exist.
pub fn sync_subnet_for_committee_index(index_in_committee: u64) -> Option<u64> {
    (index_in_committee < SYNC_COMMITTEE_SIZE)
        .then_some(index_in_committee / (SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT))
}

/// The spec's `is_aggregator`: whether the validator whose slot signature (selection proof) is
/// `slot_signature` aggregates for its committee of `committee_len` members.
///
/// True when `bytes_to_uint64(sha256(slot_signature)[0:8]) % max(1, committee_len //
/// TARGET_AGGREGATORS_PER_COMMITTEE) == 0`, which selects about 16 aggregators per committee.
/// This checks the hash rule only, not the BLS signature.
pub fn is_aggregator(committee_len: u64, slot_signature: &[u8; 96]) -> bool {
    let modulo = (committee_len / TARGET_AGGREGATORS_PER_COMMITTEE).max(1);
    hash_to_u64(slot_signature).is_multiple_of(modulo)
}

/// The spec's `is_sync_committee_aggregator`: whether a sync-committee selection proof makes
/// its validator an aggregator of its subcommittee.
///
/// The modulo is `max(1, SYNC_COMMITTEE_SIZE // SYNC_COMMITTEE_SUBNET_COUNT //
/// TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE)` (8 on mainnet). This checks the hash rule only,
/// not the BLS signature.
pub fn is_sync_committee_aggregator(signature: &[u8; 96]) -> bool {
    let modulo = (SYNC_COMMITTEE_SIZE
        / SYNC_COMMITTEE_SUBNET_COUNT
        / TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE)
        .max(1);
    hash_to_u64(signature).is_multiple_of(modulo)
}

#[cfg(test)]
mod tests;
