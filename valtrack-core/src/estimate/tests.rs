use proptest::prelude::*;

use super::*;
use crate::events::{Direction, HandshakeTimingsMs, MetaDataInfo};
use crate::peer_id::PeerId;

const EPOCH: Epoch = 300_000;

fn node(byte: u8) -> NodeId {
    NodeId([byte; 32])
}

/// A node whose backbone at `EPOCH` does not contain subnet 0.
fn node_without_subnet_0() -> NodeId {
    (0u8..=255)
        .map(node)
        .find(|n| !compute_subscribed_attnets(n, EPOCH).contains(0))
        .expect("some node id avoids subnet 0")
}

fn subscribed_with(backbone: AttestationSubnets, extra: &[u64]) -> AttestationSubnets {
    let mut s = backbone;
    for e in extra {
        s.insert(*e);
    }
    s
}

#[test]
fn stake_bound_table() {
    for cgc in [0, 3, 4, 7, 129, u64::MAX] {
        assert_eq!(stake_bound(cgc), None, "cgc {cgc}");
    }
    let b = stake_bound(8).unwrap();
    assert_eq!((b.stake_min_eth, b.stake_max_eth), (0, Some(287)));
    assert_eq!((b.validators_min(), b.validators_max()), (1, Some(8)));
    let b = stake_bound(9).unwrap();
    assert_eq!((b.stake_min_eth, b.stake_max_eth), (288, Some(319)));
    assert_eq!((b.validators_min(), b.validators_max()), (9, Some(9)));
    let b = stake_bound(127).unwrap();
    assert_eq!((b.stake_min_eth, b.stake_max_eth), (4064, Some(4095)));
    let b = stake_bound(128).unwrap();
    assert_eq!((b.stake_min_eth, b.stake_max_eth), (4096, None));
    assert_eq!((b.validators_min(), b.validators_max()), (128, None));
}

#[test]
fn custody_signal_classes() {
    assert_eq!(CustodySignal::from_cgc(None), CustodySignal::Absent);
    assert_eq!(CustodySignal::from_cgc(Some(3)), CustodySignal::Invalid(3));
    assert_eq!(
        CustodySignal::from_cgc(Some(129)),
        CustodySignal::Invalid(129)
    );
    assert_eq!(
        CustodySignal::from_cgc(Some(4)),
        CustodySignal::NoValidatorCustody(4)
    );
    assert_eq!(
        CustodySignal::from_cgc(Some(7)),
        CustodySignal::NoValidatorCustody(7)
    );
    assert_eq!(
        CustodySignal::from_cgc(Some(20)).stake_bound(),
        stake_bound(20)
    );
}

#[test]
fn no_signal_is_method_none() {
    let e = estimate_validators(&EstimateInput::new(node(1), EPOCH));
    assert_eq!(e.estimated_validators, 0);
    assert_eq!(e.method, EstimateMethod::None);
    assert_eq!(e.confidence, 0.0);
    assert!(!e.matches_node_id_prediction);
    assert!(!e.legacy_scheme, "unknown attnets are not legacy");
    assert_eq!(e.short_lived_lower_bound, None);
}

#[test]
fn short_lived_subnets_count_and_subnet_0_counts() {
    let n = node_without_subnet_0();
    let backbone = compute_subscribed_attnets(&n, EPOCH);
    let others: Vec<u64> = (1..64).filter(|s| !backbone.contains(*s)).take(2).collect();
    let mut extra = vec![0];
    extra.extend(&others);
    let input = EstimateInput {
        attnets: Some(backbone),
        subscribed: Some(subscribed_with(backbone, &extra)),
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert!(e.matches_node_id_prediction);
    assert!(!e.legacy_scheme);
    assert!(e.short_lived_subnets.contains(0));
    assert_eq!(e.short_lived_subnets.count(), 3);
    assert_eq!(e.short_lived_lower_bound, Some(3));
    assert_eq!(e.estimated_validators, 3);
    assert_eq!(e.method, EstimateMethod::ShortLivedSubnets);
    assert!((e.confidence - CONFIDENCE_SHORT_LIVED).abs() < 1e-6);
}

#[test]
fn backbone_only_subscriptions_give_zero() {
    let n = node(9);
    let backbone = compute_subscribed_attnets(&n, EPOCH);
    let input = EstimateInput {
        attnets: Some(backbone),
        subscribed: Some(backbone),
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert_eq!(e.short_lived_lower_bound, Some(0));
    assert_eq!(e.estimated_validators, 0);
    assert_eq!(e.method, EstimateMethod::ShortLivedSubnets);
}

#[test]
fn all_subnet_nodes_are_flagged_and_not_counted() {
    let n = node(3);
    let input = EstimateInput {
        attnets: Some(AttestationSubnets::ALL),
        subscribed: Some(AttestationSubnets::ALL),
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert!(e.all_subnets);
    assert!(
        !e.legacy_scheme,
        "all 64 is --subscribe-all-subnets, not legacy"
    );
    assert_eq!(e.short_lived_lower_bound, None);
    assert_eq!(e.estimated_validators, 0);
    assert_eq!(e.method, EstimateMethod::None);

    // Only subscribed to all, advertising the backbone: still flagged.
    let input = EstimateInput {
        attnets: Some(compute_subscribed_attnets(&n, EPOCH)),
        subscribed: Some(AttestationSubnets::ALL),
        custody_group_count: Some(12),
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert!(e.all_subnets);
    assert_eq!(e.short_lived_lower_bound, None);
    assert_eq!(e.estimated_validators, 12);
    assert_eq!(e.method, EstimateMethod::CustodyGroupCount);
}

#[test]
fn legacy_scheme_uses_popcount() {
    let n = node(5);
    // Five subnets no node-id prediction produces (a prediction is two consecutive subnets).
    let attnets = AttestationSubnets::from_subnets([1, 10, 20, 30, 40]);
    let input = EstimateInput {
        attnets: Some(attnets),
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert!(e.legacy_scheme);
    assert!(!e.matches_node_id_prediction);
    assert_eq!(e.legacy_attnets_count, Some(5));
    assert_eq!(e.estimated_validators, 5);
    assert_eq!(e.method, EstimateMethod::LegacyAttnets);

    // A legacy node's short-lived subnets are counted beyond its own long-lived ones.
    let input = EstimateInput {
        subscribed: Some(subscribed_with(attnets, &[2, 3])),
        ..input
    };
    let e = estimate_validators(&input);
    assert_eq!(
        e.short_lived_subnets,
        AttestationSubnets::from_subnets([2, 3])
    );
    assert_eq!(e.estimated_validators, 5);
    assert_eq!(e.method, EstimateMethod::Combined);
}

#[test]
fn a_node_one_epoch_off_is_not_legacy() {
    // Find a node and an epoch at which its backbone is about to rotate.
    let (n, epoch, advertised) = (0u8..=255)
        .map(node)
        .find_map(|n| {
            (EPOCH..EPOCH + 256).find_map(|e| {
                let next = compute_subscribed_attnets(&n, e + 1);
                (compute_subscribed_attnets(&n, e) != next).then_some((n, e, next))
            })
        })
        .expect("backbones rotate");
    let input = EstimateInput {
        attnets: Some(advertised),
        ..EstimateInput::new(n, epoch)
    };
    let e = estimate_validators(&input);
    assert!(!e.matches_node_id_prediction);
    assert!(!e.legacy_scheme);
    assert!(matches_prediction_near(&n, epoch, advertised));
}

#[test]
fn attribution_is_a_lower_bound() {
    let input = EstimateInput {
        attributed_validators: 17,
        ..EstimateInput::new(node(2), EPOCH)
    };
    let e = estimate_validators(&input);
    assert_eq!(e.estimated_validators, 17);
    assert_eq!(e.method, EstimateMethod::Attribution);
    assert!((e.confidence - CONFIDENCE_ATTRIBUTION).abs() < 1e-6);
}

#[test]
fn vantage_points_raise_and_contests_lower_the_attribution_confidence() {
    let conf = |validators, vantage_points, contested| {
        let e = estimate_validators(&EstimateInput {
            attributed_validators: validators,
            attribution_vantage_points: vantage_points,
            contested_validators: contested,
            ..EstimateInput::new(node(2), EPOCH)
        });
        assert_eq!(
            e.estimated_validators, validators,
            "contested ones are not counted"
        );
        assert_eq!(e.attribution_vantage_points, vantage_points);
        e.confidence
    };
    let one = conf(10, 1, 0);
    assert!((one - CONFIDENCE_ATTRIBUTION).abs() < 1e-6);
    assert!((conf(10, 0, 0) - one).abs() < 1e-6, "unknown counts as one");
    let two = conf(10, 2, 0);
    assert!((two - 0.84).abs() < 1e-6, "{two}");
    let three = conf(10, 3, 0);
    assert!((three - 0.936).abs() < 1e-6, "{three}");
    // capped like any combination
    assert!((conf(10, 50, 0) - CONFIDENCE_CAP).abs() < 1e-6);
    // 10 counted, 10 contested: half the confidence.
    assert!((conf(10, 2, 10) - 0.42).abs() < 1e-6);
    assert_eq!(Attribution::default().confidence(), 0.0);
    assert!((conf(1, 1, 1_000_000) - CONFIDENCE_ATTRIBUTION_FLOOR).abs() < 1e-6);
    assert_eq!(
        Attribution::from_one_vantage_point(4),
        Attribution {
            validators: 4,
            vantage_points: 1,
            contested: 0
        }
    );
}

#[test]
fn custody_range_is_refined_by_lower_bounds() {
    let n = node(4);
    // cgc 8: 1..=8 validators; 5 attributed → 5.
    let input = EstimateInput {
        custody_group_count: Some(8),
        attributed_validators: 5,
        ..EstimateInput::new(n, EPOCH)
    };
    let e = estimate_validators(&input);
    assert_eq!(e.estimated_validators, 5);
    assert_eq!(e.method, EstimateMethod::Combined);
    let expected = 1.0 - (1.0 - CONFIDENCE_CGC_MIN) * (1.0 - CONFIDENCE_ATTRIBUTION);
    assert!((e.confidence - expected).abs() < 1e-6);

    // cgc 128 alone: at least 128.
    let e = estimate_validators(&EstimateInput {
        custody_group_count: Some(128),
        ..EstimateInput::new(n, EPOCH)
    });
    assert_eq!(e.estimated_validators, 128);
    assert_eq!(e.method, EstimateMethod::CustodyGroupCount);
    assert!((e.confidence - CONFIDENCE_CGC_MAX).abs() < 1e-6);
    // … and more when attribution says so.
    let e = estimate_validators(&EstimateInput {
        custody_group_count: Some(128),
        attributed_validators: 500,
        ..EstimateInput::new(n, EPOCH)
    });
    assert_eq!(e.estimated_validators, 500);
}

#[test]
fn contradiction_halves_confidence() {
    let e = estimate_validators(&EstimateInput {
        custody_group_count: Some(8),
        attributed_validators: 20,
        ..EstimateInput::new(node(4), EPOCH)
    });
    assert_eq!(e.estimated_validators, 20, "hard evidence wins");
    let combined = 1.0 - (1.0 - CONFIDENCE_CGC_MIN) * (1.0 - CONFIDENCE_ATTRIBUTION);
    assert!((e.confidence - combined * 0.5).abs() < 1e-6);
}

#[test]
fn no_validator_custody_says_zero() {
    let e = estimate_validators(&EstimateInput {
        custody_group_count: Some(4),
        ..EstimateInput::new(node(4), EPOCH)
    });
    assert_eq!(e.estimated_validators, 0);
    assert_eq!(e.method, EstimateMethod::CustodyGroupCount);
    assert!(e.custody.stake_bound().is_none());
}

fn metadata_event(metadata: Option<MetaDataInfo>) -> MetadataEvent {
    let peer: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
        .parse()
        .unwrap();
    MetadataEvent {
        meta: EventMeta::new(EventKind::Metadata, "s1", "eu", 1_000, peer, None, b"m"),
        multiaddr: None,
        direction: Direction::Outbound,
        transport: None,
        muxer: None,
        status: None,
        metadata,
        agent_version: None,
        client: None,
        subscribed_attnets: None,
        subscribed_syncnets: None,
        protocols: Vec::new(),
        timings: HandshakeTimingsMs::default(),
        error: None,
    }
}

#[test]
fn validator_metadata_event_from_metadata_event() {
    assert!(ValidatorMetadataEvent::from_metadata_event(
        &metadata_event(None),
        EPOCH,
        None,
        Attribution::default(),
    )
    .is_none());

    let source = metadata_event(None);
    let backbone = compute_subscribed_attnets(&source.meta.node_id, EPOCH);
    let extra = (0..64).find(|s| !backbone.contains(*s)).unwrap();
    let source = metadata_event(Some(MetaDataInfo {
        version: 3,
        seq_number: 1,
        attnets: backbone,
        syncnets: None,
        custody_group_count: Some(40),
    }));
    let row = ValidatorMetadataEvent::from_metadata_event(
        &source,
        EPOCH,
        Some(subscribed_with(backbone, &[extra])),
        Attribution::default(),
    )
    .unwrap();
    assert_eq!(row.meta.peer_id, source.meta.peer_id);
    assert_eq!(row.meta.timestamp, source.meta.timestamp);
    assert_ne!(row.meta.event_id, source.meta.event_id);
    assert_eq!(row.epoch, EPOCH);
    assert!(row.matches_node_id_prediction);
    assert_eq!(row.predicted_subnets, backbone);
    assert_eq!(row.short_lived_subnets.subnets(), vec![extra]);
    assert_eq!(row.custody_group_count, Some(40));
    assert_eq!(
        (row.stake_min_eth, row.stake_max_eth),
        (Some(1280), Some(1311))
    );
    assert_eq!(row.estimated_validators, 40);
    assert_eq!(row.method, EstimateMethod::Combined);
    // Another epoch is another event.
    let other = ValidatorMetadataEvent::from_metadata_event(
        &source,
        EPOCH + 1,
        None,
        Attribution {
            validators: 3,
            vantage_points: 2,
            contested: 1,
        },
    )
    .unwrap();
    assert_ne!(other.meta.event_id, row.meta.event_id);
    assert_eq!(other.short_lived_subnets, AttestationSubnets::NONE);
    assert_eq!(other.estimated_validators, 40);
    assert_eq!(other.method, EstimateMethod::Combined);
    assert_eq!(
        (
            other.attributed_validators,
            other.vantage_points,
            other.contested_validators
        ),
        (3, 2, 1)
    );
    assert_eq!(
        (
            row.attributed_validators,
            row.vantage_points,
            row.contested_validators
        ),
        (0, 0, 0)
    );
}

fn subnets() -> impl Strategy<Value = Option<AttestationSubnets>> {
    proptest::option::of(any::<[u8; 8]>().prop_map(AttestationSubnets))
}

proptest! {
    #[test]
    fn estimates_never_panic_and_respect_bounds(
        id in any::<[u8; 32]>(),
        epoch in any::<u64>(),
        attnets in subnets(),
        subscribed in subnets(),
        cgc in proptest::option::of(prop_oneof![0u64..200, any::<u64>()]),
        attributed in prop_oneof![0u64..1000, any::<u64>()],
        vantage in prop_oneof![0u32..5, any::<u32>()],
        contested in prop_oneof![0u64..1000, any::<u64>()],
    ) {
        let input = EstimateInput {
            node_id: NodeId(id),
            epoch,
            attnets,
            subscribed,
            custody_group_count: cgc,
            attributed_validators: attributed,
            attribution_vantage_points: vantage,
            contested_validators: contested,
        };
        let e = estimate_validators(&input);
        prop_assert!((0.0..=1.0).contains(&e.confidence));
        prop_assert!(e.confidence <= CONFIDENCE_CAP);
        prop_assert!(e.estimated_validators >= attributed);
        if let Some(lb) = e.short_lived_lower_bound {
            prop_assert!(e.estimated_validators >= lb);
            prop_assert!(lb <= 64);
            prop_assert!(!e.all_subnets);
        }
        if let Some(b) = e.custody.stake_bound() {
            prop_assert!(b.stake_max_eth.is_none_or(|m| m >= b.stake_min_eth));
            prop_assert!(b.validators_max().is_none_or(|m| m >= b.validators_min()));
        }
        prop_assert_eq!(e.method == EstimateMethod::None, e.confidence == 0.0);
        // Short-lived subnets never include the backbone subtracted.
        let backbone = if e.legacy_scheme { e.long_lived_subnets } else { e.predicted_subnets };
        for s in e.short_lived_subnets.subnets() {
            prop_assert!(!backbone.contains(s));
        }
        prop_assert_eq!(e.matches_node_id_prediction && e.legacy_scheme, false);
    }

    #[test]
    fn stake_bound_inverts_validator_custody(stake in 0u64..10_000_000) {
        let cgc = (stake / ETH_PER_CUSTODY_GROUP)
            .clamp(VALIDATOR_CUSTODY_REQUIREMENT, NUMBER_OF_CUSTODY_GROUPS);
        let b = stake_bound(cgc).expect("a validator custody value");
        prop_assert!(b.stake_min_eth <= stake);
        prop_assert!(b.stake_max_eth.is_none_or(|max| stake <= max));
        // And the bound is tight: its ends map back to the same cgc.
        let back = |s: u64| (s / ETH_PER_CUSTODY_GROUP)
            .clamp(VALIDATOR_CUSTODY_REQUIREMENT, NUMBER_OF_CUSTODY_GROUPS);
        prop_assert_eq!(back(b.stake_min_eth), cgc);
        if let Some(max) = b.stake_max_eth {
            prop_assert_eq!(back(max), cgc);
            prop_assert_ne!(back(max + 1), cgc);
        }
        if b.stake_min_eth > 0 {
            prop_assert_ne!(back(b.stake_min_eth - 1), cgc);
        }
    }
}
