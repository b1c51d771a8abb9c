//! Our SSZ decoding (on `ssz_rs`) against Lighthouse's `ethereum_ssz` / `ssz_types`, on the
//! containers the sentry reads from peers: both accept the same bytes, and what they accept
//! encodes back the same. Shared by the `ssz_differential` fuzz target (`fuzz/src/lib.rs`
//! includes this file) and `tests/ssz_differential.rs`, which replays its kept corpus.

// `pub` for the fuzz crate's re-export; crate-visible where the tests include it.
#![allow(unreachable_pub)]

use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U2048, U4, U64, U96};
use ssz_types::{BitList, BitVector, FixedVector};
use valtrack_core::ssz as ours;
use valtrack_core::SszMessage;

#[derive(Debug, Encode, Decode)]
struct StatusV1 {
    fork_digest: [u8; 4],
    finalized_root: [u8; 32],
    finalized_epoch: u64,
    head_root: [u8; 32],
    head_slot: u64,
}

#[derive(Debug, Encode, Decode)]
struct StatusV2 {
    fork_digest: [u8; 4],
    finalized_root: [u8; 32],
    finalized_epoch: u64,
    head_root: [u8; 32],
    head_slot: u64,
    earliest_available_slot: u64,
}

#[derive(Debug, Encode, Decode)]
struct MetaDataV2 {
    seq_number: u64,
    attnets: BitVector<U64>,
    syncnets: BitVector<U4>,
}

#[derive(Debug, Encode, Decode)]
struct MetaDataV3 {
    seq_number: u64,
    attnets: BitVector<U64>,
    syncnets: BitVector<U4>,
    custody_group_count: u64,
}

#[derive(Debug, Encode, Decode)]
struct Checkpoint {
    epoch: u64,
    root: [u8; 32],
}

#[derive(Debug, Encode, Decode)]
struct AttestationData {
    slot: u64,
    index: u64,
    beacon_block_root: [u8; 32],
    source: Checkpoint,
    target: Checkpoint,
}

#[derive(Debug, Encode, Decode)]
struct Attestation {
    aggregation_bits: BitList<U2048>,
    data: AttestationData,
    signature: FixedVector<u8, U96>,
}

#[derive(Debug, Encode, Decode)]
struct SingleAttestation {
    committee_index: u64,
    attester_index: u64,
    data: AttestationData,
    signature: FixedVector<u8, U96>,
}

/// Both decoders accept the same bytes, and what they accept encodes back the same.
fn same<O: SszMessage, T: Decode + Encode + std::fmt::Debug>(bytes: &[u8]) {
    let mine = O::from_ssz_bytes(bytes);
    let theirs = T::from_ssz_bytes(bytes);
    match (&mine, &theirs) {
        (Ok(m), Ok(t)) => assert_eq!(
            m.to_ssz_bytes(),
            t.as_ssz_bytes(),
            "{}: same value",
            O::TYPE_NAME
        ),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("{}: we accept, ethereum_ssz refuses ({e:?})", O::TYPE_NAME),
        (Err(e), Ok(t)) => panic!(
            "{}: ethereum_ssz accepts {t:?}, we refuse ({e})",
            O::TYPE_NAME
        ),
    }
}

/// The first byte picks the container; the rest is its SSZ bytes.
pub fn ssz_differential(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    match pick % 6 {
        0 => same::<ours::StatusV1, StatusV1>(bytes),
        1 => same::<ours::StatusV2, StatusV2>(bytes),
        2 => same::<ours::MetaDataV2, MetaDataV2>(bytes),
        3 => same::<ours::MetaDataV3, MetaDataV3>(bytes),
        4 => same::<ours::Attestation, Attestation>(bytes),
        _ => same::<ours::SingleAttestation, SingleAttestation>(bytes),
    }
}
