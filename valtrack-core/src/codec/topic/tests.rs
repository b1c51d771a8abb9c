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
