use proptest::prelude::*;

use super::*;
use crate::subnets::{AttestationSubnets, SyncSubnets};

fn arb_root() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn arb_sig() -> impl Strategy<Value = ssz_rs::Vector<u8, 96>> {
    proptest::collection::vec(any::<u8>(), 96)
        .prop_map(|v| ssz_rs::Vector::try_from(v).expect("96 bytes"))
}

fn arb_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (any::<u64>(), arb_root()).prop_map(|(epoch, root)| Checkpoint { epoch, root })
}

fn arb_data() -> impl Strategy<Value = AttestationData> {
    (
        any::<u64>(),
        any::<u64>(),
        arb_root(),
        arb_checkpoint(),
        arb_checkpoint(),
    )
        .prop_map(
            |(slot, index, beacon_block_root, source, target)| AttestationData {
                slot,
                index,
                beacon_block_root,
                source,
                target,
            },
        )
}

fn roundtrip<T: SszMessage + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = value.to_ssz_bytes();
    assert!(
        T::is_valid_len(bytes.len()),
        "{} encoded to {} bytes",
        T::TYPE_NAME,
        bytes.len()
    );
    let back = T::from_ssz_bytes(&bytes).expect("decodes");
    assert_eq!(&back, value);
}

proptest! {
    #[test]
    fn status_roundtrip(fd in any::<[u8; 4]>(), fr in arb_root(), fe in any::<u64>(),
                        hr in arb_root(), hs in any::<u64>(), eas in any::<u64>()) {
        let v1 = StatusV1 { fork_digest: fd, finalized_root: fr, finalized_epoch: fe, head_root: hr, head_slot: hs };
        roundtrip(&v1);
        prop_assert_eq!(v1.to_ssz_bytes().len(), 84);
        let v2 = StatusV2 { fork_digest: fd, finalized_root: fr, finalized_epoch: fe, head_root: hr, head_slot: hs, earliest_available_slot: eas };
        roundtrip(&v2);
        prop_assert_eq!(v2.to_ssz_bytes().len(), 92);
        prop_assert_eq!(&Status::V2(v2).to_v1(), &v1);
        prop_assert_eq!(Status::V1(v1).fork_digest().0, fd);
    }

    #[test]
    fn metadata_roundtrip(seq in any::<u64>(), att in any::<[u8; 8]>(), sync in 0u8..16, cgc in any::<u64>()) {
        let a = AttestationSubnets(att);
        let s = SyncSubnets(sync);
        let v1 = MetaDataV1::new(seq, a);
        roundtrip(&v1);
        prop_assert_eq!(v1.attnets(), a);
        let v2 = MetaDataV2::new(seq, a, s);
        roundtrip(&v2);
        prop_assert_eq!(v2.syncnets(), s);
        let v3 = MetaDataV3::new(seq, a, s, cgc);
        roundtrip(&v3);
        let m = MetaData::V3(v3);
        prop_assert_eq!(m.seq_number(), seq);
        prop_assert_eq!(m.attnets(), a);
        prop_assert_eq!(m.custody_group_count(), Some(cgc));
        // layout: seq LE, then the attnets bytes as they are
        let bytes = m_bytes(&m);
        prop_assert_eq!(&bytes[0..8], &seq.to_le_bytes()[..]);
        prop_assert_eq!(&bytes[8..16], &att[..]);
        prop_assert_eq!(bytes[16], sync);
    }

    #[test]
    fn ping_goodbye_enrforkid_roundtrip(x in any::<u64>(), fd in any::<[u8; 4]>(), nv in any::<[u8; 4]>()) {
        roundtrip(&Ping { seq_number: x });
        prop_assert_eq!(Ping { seq_number: x }.to_ssz_bytes(), x.to_le_bytes().to_vec());
        roundtrip(&Goodbye { reason: x });
        let id = EnrForkId { fork_digest: fd, next_fork_version: nv, next_fork_epoch: x };
        roundtrip(&id);
        let b = id.to_ssz_bytes();
        prop_assert_eq!(&b[0..4], &fd[..]);
        prop_assert_eq!(&b[4..8], &nv[..]);
        prop_assert_eq!(&b[8..16], &x.to_le_bytes()[..]);
    }

    #[test]
    fn attestation_roundtrip(ci in any::<u64>(), ai in any::<u64>(), data in arb_data(), sig in arb_sig(),
                             len in 1usize..=MAX_VALIDATORS_PER_COMMITTEE, bit in any::<prop::sample::Index>()) {
        roundtrip(&data);
        let single = SingleAttestation { committee_index: ci, attester_index: ai, data: data.clone(), signature: sig.clone() };
        roundtrip(&single);
        prop_assert_eq!(single.to_ssz_bytes().len(), 240);
        let mut bits = ssz_rs::Bitlist::<MAX_VALIDATORS_PER_COMMITTEE>::default();
        for _ in 0..len { bits.push(false); }
        let pos = bit.index(len);
        bits.set(pos, true);
        let att = Attestation { aggregation_bits: bits, data, signature: sig };
        roundtrip(&att);
        prop_assert_eq!(att.set_bits(), vec![pos]);
    }

    #[test]
    fn sync_and_error_roundtrip(slot in any::<u64>(), root in arb_root(), vi in any::<u64>(), sig in arb_sig(), text in ".{0,80}") {
        roundtrip(&SyncCommitteeMessage { slot, beacon_block_root: root, validator_index: vi, signature: sig });
        let e = ErrorMessage::from_text(&text);
        roundtrip(&e);
        prop_assert!(e.to_ssz_bytes().len() <= 256);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = StatusV1::from_ssz_bytes(&bytes);
        let _ = StatusV2::from_ssz_bytes(&bytes);
        let _ = MetaDataV1::from_ssz_bytes(&bytes);
        let _ = MetaDataV2::from_ssz_bytes(&bytes);
        let _ = MetaDataV3::from_ssz_bytes(&bytes);
        let _ = Ping::from_ssz_bytes(&bytes);
        let _ = Goodbye::from_ssz_bytes(&bytes);
        let _ = EnrForkId::from_ssz_bytes(&bytes);
        let _ = AttestationData::from_ssz_bytes(&bytes);
        let _ = Attestation::from_ssz_bytes(&bytes);
        let _ = SingleAttestation::from_ssz_bytes(&bytes);
        let _ = SyncCommitteeMessage::from_ssz_bytes(&bytes);
        let _ = ErrorMessage::from_ssz_bytes(&bytes);
    }

    #[test]
    fn attestation_shaped_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 229..=485), off in 0u32..600) {
        // keep a plausible offset so the decoder reaches the bitlist
        bytes[0..4].copy_from_slice(&off.to_le_bytes());
        let _ = Attestation::from_ssz_bytes(&bytes);
    }
}

fn m_bytes(m: &MetaData) -> Vec<u8> {
    match m {
        MetaData::V1(x) => x.to_ssz_bytes(),
        MetaData::V2(x) => x.to_ssz_bytes(),
        MetaData::V3(x) => x.to_ssz_bytes(),
    }
}

#[test]
fn lengths_are_checked_before_decoding() {
    let err = StatusV1::from_ssz_bytes(&[0u8; 83]).unwrap_err();
    assert!(matches!(
        err,
        super::SszError::Length {
            len: 83,
            min: 84,
            max: 84,
            ..
        }
    ));
    assert!(MetaDataV2::from_ssz_bytes(&[0u8; 16]).is_err());
    // Bitvector[4] with a padding bit set is invalid SSZ.
    let mut md = [0u8; 17];
    md[16] = 0x10;
    assert!(MetaDataV2::from_ssz_bytes(&md).is_err());
}

#[test]
fn real_lodestar_metadata_v2() {
    // MetaData v2 SSZ from Lodestar 1.5.1 (WIRE.md): seq 1, attnets 800002002c400a00, syncnets 0f.
    let ssz = hex::decode("0100000000000000800002002c400a000f").unwrap();
    let md = MetaDataV2::from_ssz_bytes(&ssz).unwrap();
    assert_eq!(md.seq_number, 1);
    assert_eq!(md.attnets().0, [0x80, 0, 0x02, 0, 0x2c, 0x40, 0x0a, 0]);
    assert_eq!(md.syncnets().subnets(), vec![0, 1, 2, 3]);
}

#[test]
fn fork_data_root_is_sha256_of_padded_fields() {
    use sha2::{Digest, Sha256};
    let fd = ForkData {
        current_version: [1, 2, 3, 4],
        genesis_validators_root: [7; 32],
    };
    let mut h = Sha256::new();
    h.update([1, 2, 3, 4]);
    h.update([0u8; 28]);
    h.update([7u8; 32]);
    assert_eq!(fd.root(), <[u8; 32]>::from(h.finalize()));
}
