use proptest::prelude::*;
use serde::Deserialize;

use super::*;

// ---------------------------------------------------------------------------------------------
// Vectors computed by scripts/spec_subnets.py, a transcription of the consensus-specs functions.
// ---------------------------------------------------------------------------------------------

const VECTORS: &str = include_str!("../../testdata/subnet_vectors.json");

#[derive(Deserialize)]
struct Vectors {
    compute_shuffled_index: Vec<ShuffleCase>,
    compute_subscribed_subnets: Vec<SubnetsCase>,
    compute_subscribed_subnet: Vec<SubnetCase>,
    compute_subnet_for_attestation: Vec<AttestationCase>,
    committees_per_slot: Vec<CommitteeCountCase>,
    sync_subnet_for_committee_index: Vec<SyncSubnetCase>,
    is_aggregator: Vec<AggregatorCase>,
    is_sync_committee_aggregator: Vec<SyncAggregatorCase>,
}

#[derive(Deserialize)]
struct ShuffleCase {
    index: u64,
    index_count: u64,
    seed: String,
    rounds: u8,
    result: Option<u64>,
}

#[derive(Deserialize)]
struct SubnetsCase {
    node_id: NodeId,
    epoch: Epoch,
    subnets: [u64; 2],
}

#[derive(Deserialize)]
struct SubnetCase {
    node_id: NodeId,
    epoch: Epoch,
    index: u64,
    subnet: u64,
}

#[derive(Deserialize)]
struct AttestationCase {
    committees_per_slot: u64,
    slot: Slot,
    committee_index: u64,
    slots_per_epoch: u64,
    result: Option<u64>,
}

#[derive(Deserialize)]
struct CommitteeCountCase {
    active_validators: u64,
    slots_per_epoch: u64,
    result: Option<u64>,
}

#[derive(Deserialize)]
struct SyncSubnetCase {
    index: u64,
    result: Option<u64>,
}

#[derive(Deserialize)]
struct AggregatorCase {
    committee_len: u64,
    signature: String,
    result: bool,
}

#[derive(Deserialize)]
struct SyncAggregatorCase {
    signature: String,
    result: bool,
}

fn vectors() -> Vectors {
    serde_json::from_str(VECTORS).expect("testdata/subnet_vectors.json parses")
}

fn bytes<const N: usize>(hex_str: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(hex_str, &mut out).expect("fixed-size hex in vectors");
    out
}

#[test]
fn vectors_shuffled_index() {
    let cases = vectors().compute_shuffled_index;
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    assert!(cases.iter().any(|c| c.result.is_none()));
    assert!(cases
        .iter()
        .any(|c| c.result.is_some() && c.index_count > 1 << 40));
    for c in &cases {
        assert_eq!(
            compute_shuffled_index(c.index, c.index_count, &bytes(&c.seed), c.rounds),
            c.result,
            "index {} of {} seed {} rounds {}",
            c.index,
            c.index_count,
            c.seed,
            c.rounds
        );
    }
}

#[test]
fn vectors_subscribed_subnets() {
    let cases = vectors().compute_subscribed_subnets;
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    for c in &cases {
        let got = compute_subscribed_subnets(&c.node_id, c.epoch);
        assert_eq!(got, c.subnets, "node {} epoch {}", c.node_id, c.epoch);
        for (i, subnet) in c.subnets.iter().enumerate() {
            assert_eq!(
                compute_subscribed_subnet(&c.node_id, c.epoch, i as u64),
                *subnet
            );
        }
        assert_eq!(
            compute_subscribed_attnets(&c.node_id, c.epoch),
            AttestationSubnets::from_subnets(c.subnets)
        );
    }
}

#[test]
fn vectors_subscribed_subnet_any_index() {
    let cases = vectors().compute_subscribed_subnet;
    assert!(cases.iter().any(|c| c.index == u64::MAX));
    for c in &cases {
        assert_eq!(
            compute_subscribed_subnet(&c.node_id, c.epoch, c.index),
            c.subnet,
            "node {} epoch {} index {}",
            c.node_id,
            c.epoch,
            c.index
        );
    }
}

#[test]
fn vectors_subnet_for_attestation() {
    let v = vectors();
    assert!(v.compute_subnet_for_attestation.len() >= 50);
    for c in &v.compute_subnet_for_attestation {
        assert_eq!(
            compute_subnet_for_attestation(
                c.committees_per_slot,
                c.slot,
                c.committee_index,
                c.slots_per_epoch
            ),
            c.result,
            "cps {} slot {} index {} spe {}",
            c.committees_per_slot,
            c.slot,
            c.committee_index,
            c.slots_per_epoch
        );
    }
    assert!(v.committees_per_slot.len() >= 20);
    for c in &v.committees_per_slot {
        assert_eq!(
            committees_per_slot(c.active_validators, c.slots_per_epoch),
            c.result,
            "active {} spe {}",
            c.active_validators,
            c.slots_per_epoch
        );
    }
}

#[test]
fn vectors_sync_subnets() {
    let cases = vectors().sync_subnet_for_committee_index;
    assert!(cases.len() >= 10);
    for c in &cases {
        assert_eq!(
            sync_subnet_for_committee_index(c.index),
            c.result,
            "seat {}",
            c.index
        );
    }
}

#[test]
fn vectors_aggregators() {
    let v = vectors();
    let attestation = &v.is_aggregator;
    // Both outcomes occur where the modulo is above 1, so the hash rule is really exercised.
    let selective = attestation.iter().filter(|c| c.committee_len >= 32);
    assert!(selective.clone().any(|c| c.result) && selective.clone().any(|c| !c.result));
    for c in attestation {
        assert_eq!(
            is_aggregator(c.committee_len, &bytes(&c.signature)),
            c.result,
            "committee_len {} sig {}",
            c.committee_len,
            c.signature
        );
    }
    let sync = &v.is_sync_committee_aggregator;
    assert!(sync.iter().any(|c| c.result) && sync.iter().any(|c| !c.result));
    for c in sync {
        assert_eq!(
            is_sync_committee_aggregator(&bytes(&c.signature)),
            c.result,
            "sig {}",
            c.signature
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-checkable cases.
// ---------------------------------------------------------------------------------------------

#[test]
fn shuffle_edge_cases() {
    let seed = [7u8; 32];
    assert_eq!(compute_shuffled_index(0, 0, &seed, 90), None);
    assert_eq!(compute_shuffled_index(5, 5, &seed, 90), None);
    assert_eq!(compute_shuffled_index(0, 1, &seed, 90), Some(0));
    // No round, no move.
    assert_eq!(compute_shuffled_index(41, 100, &seed, 0), Some(41));
    // Counts up to 2^40 never overflow the uint32 bucket; the largest index is fine.
    assert!(compute_shuffled_index((1 << 40) - 1, 1 << 40, &seed, 90).is_some());
}

#[test]
fn shuffle_is_a_permutation() {
    for count in [1u64, 2, 3, 64, 257, 1000] {
        for rounds in [1u8, 10, 90] {
            let seed = [count as u8 ^ rounds; 32];
            let mut seen: Vec<u64> = (0..count)
                .map(|i| compute_shuffled_index(i, count, &seed, rounds).unwrap())
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..count).collect::<Vec<_>>(), "{count} {rounds}");
        }
    }
}

#[test]
fn subscribed_subnets_use_the_spec_seed_and_prefix() {
    // Node id 0: prefix 0, offset 0, so during epochs 0..=255 the seed is sha256(uint64(0)).
    let seed: [u8; 32] = Sha256::digest(0u64.to_le_bytes()).into();
    let first = compute_shuffled_index(0, 64, &seed, 90).unwrap();
    let zero = NodeId([0; 32]);
    assert_eq!(
        compute_subscribed_subnets(&zero, 0),
        [first, (first + 1) % 64]
    );
    assert_eq!(
        compute_subscribed_subnets(&zero, 255),
        [first, (first + 1) % 64]
    );

    // Node id 0x7f..ff: prefix 0b011111 = 31, offset 255, so epoch 1 is already period 1.
    let mut id = [0xff; 32];
    id[0] = 0x7f;
    let id = NodeId(id);
    let seed: [u8; 32] = Sha256::digest(1u64.to_le_bytes()).into();
    let first = compute_shuffled_index(31, 64, &seed, 90).unwrap();
    assert_eq!(
        compute_subscribed_subnets(&id, 1),
        [first, (first + 1) % 64]
    );
    assert_eq!(
        compute_subscribed_subnets(&id, 256),
        [first, (first + 1) % 64]
    );

    // At the last epoch, (2^64 - 1 + 255) // 256 = 2^56 exactly, without wrapping.
    let seed: [u8; 32] = Sha256::digest((1u64 << 56).to_le_bytes()).into();
    let first = compute_shuffled_index(31, 64, &seed, 90).unwrap();
    assert_eq!(
        compute_subscribed_subnets(&id, u64::MAX),
        [first, (first + 1) % 64]
    );
}

#[test]
fn subscribed_subnets_match_lodestar() {
    // Node ids, epochs and expected subnets from Lodestar's `computeSubscribedSubnet` unit test
    // (packages/beacon-node/test/unit/network/subnets/util.test.ts), node ids converted to hex.
    let cases = [
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            54321,
            [4, 5],
        ),
        (
            "c438183619322fed157cf9c6b16e2d5cabeb959208f0ebd4950cddd9ce97b5bd",
            1017090249,
            [61, 62],
        ),
        (
            "296a5c6726b584c5d7bda5294b1ceb67e1b427aa79bc401dca98136e4729a9fc",
            1827566880,
            [23, 24],
        ),
        (
            "3d4cd62623fbcdaab520d46c9b6b890be3404c75d6e0bcffaeea8387f2077534",
            846255942,
            [38, 39],
        ),
        (
            "57e4aa8c038bbde64dda2036548752f1781db39f3506d08fba135880b98f793e",
            766597383,
            [53, 54],
        ),
        (
            "4686456aa7e34e5ff5836a5e2660fff89807b6c51cf03504bc6db9ef65766149",
            1204990115,
            [39, 40],
        ),
        (
            "81831a9cbd9ba762a9b55a4c263bb92c48c1883194c7be9e91fa9a035852e052",
            1616209495,
            [48, 49],
        ),
        (
            "3e73d340a18f8f7a1d168eaba02a9aa75b63b5fff0fa11836e473a31aed9b915",
            1774367616,
            [39, 40],
        ),
        (
            "86b57c4aa11d9a3fde53e0bf9d88a9ddff5e10a174cfd0dcc4787f68623da957",
            1484598751,
            [34, 35],
        ),
        (
            "e5896dd7a31f2560f3c1ac9c5de60b68f1439e76407cc506d582b648ad76165d",
            3525502229,
            [37, 38],
        ),
    ];
    for (id, epoch, expected) in cases {
        assert_eq!(
            compute_subscribed_subnets(&id.parse().unwrap(), epoch),
            expected,
            "{id} {epoch}"
        );
    }
}

#[test]
fn prefix_subnets_match_lighthouse() {
    // Node ids and expected subnets from Lighthouse's `compute_attestation_subnets_test`
    // (consensus/types/src/subnet_id.rs), node ids converted from decimal to hex.
    let cases = [
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            [0, 1],
        ),
        (
            "c438183619322fed157cf9c6b16e2d5cabeb959208f0ebd4950cddd9ce97b5bd",
            [49, 50],
        ),
        (
            "296a5c6726b584c5d7bda5294b1ceb67e1b427aa79bc401dca98136e4729a9fc",
            [10, 11],
        ),
        (
            "3d4cd62623fbcdaab520d46c9b6b890be3404c75d6e0bcffaeea8387f2077534",
            [15, 16],
        ),
        (
            "57e4aa8c038bbde64dda2036548752f1781db39f3506d08fba135880b98f793e",
            [21, 22],
        ),
        (
            "4686456aa7e34e5ff5836a5e2660fff89807b6c51cf03504bc6db9ef65766149",
            [17, 18],
        ),
    ];
    for (id, expected) in cases {
        assert_eq!(
            compute_prefix_subnets(&id.parse().unwrap()),
            expected,
            "{id}"
        );
    }
    assert_eq!(compute_prefix_subnets(&NodeId([0xff; 32])), [63, 0]);
}

#[test]
fn attestation_subnet_by_hand() {
    // Mainnet with 64 committees per slot: subnet == committee index.
    assert_eq!(compute_subnet_for_attestation(64, 33, 5, 32), Some(5));
    // 2 committees per slot, slot 33 is slot 1 of its epoch: 2 * 1 + 1.
    assert_eq!(compute_subnet_for_attestation(2, 33, 1, 32), Some(3));
    // (2^64 - 1) * 31 + (2^64 - 1) = 32 * (2^64 - 1), and 32 * odd = 32 (mod 64).
    assert_eq!(
        compute_subnet_for_attestation(u64::MAX, u64::MAX, u64::MAX, 32),
        Some(32)
    );
    assert_eq!(compute_subnet_for_attestation(64, 100, 3, 0), None);

    assert_eq!(committees_per_slot(0, 32), Some(1));
    assert_eq!(committees_per_slot(8_191, 32), Some(1));
    assert_eq!(committees_per_slot(8_192, 32), Some(2));
    assert_eq!(committees_per_slot(262_143, 32), Some(63));
    assert_eq!(committees_per_slot(262_144, 32), Some(64));
    assert_eq!(committees_per_slot(u64::MAX, 32), Some(64));
    assert_eq!(committees_per_slot(1_000, 0), None);
}

#[test]
fn sync_subnets_by_hand() {
    assert_eq!(sync_subnet_for_committee_index(0), Some(0));
    assert_eq!(sync_subnet_for_committee_index(127), Some(0));
    assert_eq!(sync_subnet_for_committee_index(128), Some(1));
    assert_eq!(sync_subnet_for_committee_index(511), Some(3));
    assert_eq!(sync_subnet_for_committee_index(512), None);
    assert_eq!(sync_subnet_for_committee_index(u64::MAX), None);
}

#[test]
fn small_committees_always_aggregate() {
    // len // 16 <= 1 gives modulo 1.
    for len in [0, 1, 16, 31] {
        assert!(is_aggregator(len, &[0xab; 96]));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 32]>().prop_map(NodeId)
}

proptest! {
    #[test]
    fn shuffle_never_panics(index: u64, count: u64, seed: [u8; 32], rounds: u8) {
        match compute_shuffled_index(index, count, &seed, rounds) {
            Some(out) => prop_assert!(out < count),
            None => prop_assert!(index >= count || count > 1 << 40),
        }
    }

    #[test]
    fn shuffle_succeeds_below_2_pow_40(count in 1u64..=1 << 40, pick: u64, seed: [u8; 32]) {
        let index = pick % count;
        let out = compute_shuffled_index(index, count, &seed, 90);
        prop_assert!(matches!(out, Some(o) if o < count));
    }

    #[test]
    fn shuffle_permutes_small_lists(count in 1u64..=64, seed: [u8; 32], rounds: u8) {
        let mut seen = vec![false; count as usize];
        for i in 0..count {
            let out = compute_shuffled_index(i, count, &seed, rounds).unwrap();
            prop_assert!(!seen[out as usize], "{} hit twice", out);
            seen[out as usize] = true;
        }
    }

    #[test]
    fn backbone_subnets_are_consecutive(id in node_id(), epoch: u64) {
        let subnets = compute_subscribed_subnets(&id, epoch);
        prop_assert!(subnets[0] < 64);
        prop_assert_eq!(subnets[1], (subnets[0] + 1) % 64);
        prop_assert_eq!(compute_subscribed_subnet(&id, epoch, 0), subnets[0]);
        prop_assert_eq!(compute_subscribed_subnet(&id, epoch, 1), subnets[1]);
        prop_assert_eq!(compute_subscribed_attnets(&id, epoch).count(), 2);
        let fixed = compute_prefix_subnets(&id);
        prop_assert_eq!(fixed[1], (fixed[0] + 1) % 64);
    }

    #[test]
    fn subscribed_subnet_never_panics(id in node_id(), epoch: u64, index: u64) {
        prop_assert!(compute_subscribed_subnet(&id, epoch, index) < 64);
    }

    #[test]
    fn backbone_subnets_hold_for_the_whole_period(id in node_id(), epoch: u64, other in 0u64..256) {
        // The node's period runs over the epochs e with the same (e + offset) // 256.
        let offset = u128::from(id.0[31]);
        let period = (u128::from(epoch) + offset) / 256;
        let same_period = (period * 256 + u128::from(other)).checked_sub(offset);
        if let Some(e) = same_period.and_then(|e| u64::try_from(e).ok()) {
            prop_assert_eq!(compute_subscribed_subnets(&id, e), compute_subscribed_subnets(&id, epoch));
        }
    }

    #[test]
    fn attestation_maths_never_panics(cps: u64, slot: u64, index: u64, spe: u64, active: u64) {
        let subnet = compute_subnet_for_attestation(cps, slot, index, spe);
        prop_assert_eq!(subnet.is_none(), spe == 0);
        prop_assert!(subnet.is_none_or(|s| s < 64));
        prop_assert_eq!(compute_subnet_for_attestation(64, slot, index, 32), Some(index % 64));
        let count = committees_per_slot(active, spe);
        prop_assert_eq!(count.is_none(), spe == 0);
        prop_assert!(count.is_none_or(|c| (1..=64).contains(&c)));
    }

    #[test]
    fn sync_and_aggregator_rules_never_panic(seat: u64, len: u64, sig in prop::array::uniform32(any::<u8>()), tail in prop::array::uniform32(any::<u8>()), end in prop::array::uniform32(any::<u8>())) {
        let mut signature = [0u8; 96];
        signature[..32].copy_from_slice(&sig);
        signature[32..64].copy_from_slice(&tail);
        signature[64..].copy_from_slice(&end);
        let subnet = sync_subnet_for_committee_index(seat);
        prop_assert_eq!(subnet.is_some(), seat < 512);
        prop_assert!(subnet.is_none_or(|s| s < 4));
        let _ = is_aggregator(len, &signature);
        let _ = is_sync_committee_aggregator(&signature);
        if len < 32 {
            prop_assert!(is_aggregator(len, &signature));
        }
    }
}
