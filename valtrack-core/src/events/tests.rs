use super::*;
use crate::client::ClientInfo;
use crate::enr_info::{EnrClass, EnrInfo};
use crate::location::Location;
use crate::ssz::{MetaData, MetaDataV2, Status, StatusV1};
use crate::subnets::{AttestationSubnets, SyncSubnets};

const BOOTNODE: &str = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";

fn meta(kind: EventKind, info: &EnrInfo) -> EventMeta {
    EventMeta::new(
        kind,
        "sentry-1",
        "eu-west",
        1_764_000_000_000,
        info.peer_id,
        Some(BOOTNODE.into()),
        b"x",
    )
}

fn all_events() -> Vec<Event> {
    let info: EnrInfo = BOOTNODE.parse().unwrap();
    let discovery = Event::Discovery(DiscoveryEvent::new(
        meta(EventKind::Discovery, &info),
        DiscoveryReason::FirstSeen,
        &info,
        EnrClass::OtherNetwork,
    ));
    let status = Status::V1(StatusV1 {
        fork_digest: [0xe9, 0x19, 0x5d, 0x94],
        head_slot: 62,
        finalized_epoch: 5,
        ..Default::default()
    });
    let md = MetaData::V2(MetaDataV2::new(
        1,
        AttestationSubnets::from_subnets([7, 17]),
        SyncSubnets(0xf),
    ));
    let metadata = Event::Metadata(MetadataEvent {
        meta: meta(EventKind::Metadata, &info),
        multiaddr: Some("/ip4/3.17.30.69/tcp/9000".into()),
        direction: Direction::Outbound,
        transport: Some(Transport::Tcp),
        muxer: Some(Muxer::Mplex),
        status: Some(StatusInfo::from(&status)),
        metadata: Some(MetaDataInfo::from(&md)),
        agent_version: Some("lodestar/v1.5.1".into()),
        client: Some(ClientInfo::from_agent_version("lodestar/v1.5.1")),
        subscribed_attnets: Some(AttestationSubnets::from_subnets([7, 17, 40])),
        subscribed_syncnets: None,
        protocols: vec!["/eth2/beacon_chain/req/status/1/ssz_snappy".into()],
        timings: HandshakeTimingsMs {
            connect_ms: Some(60),
            status_ms: Some(45),
            ..Default::default()
        },
        error: None,
    });
    let failed = Event::Metadata(MetadataEvent {
        meta: meta(EventKind::Metadata, &info),
        multiaddr: None,
        direction: Direction::Outbound,
        transport: None,
        muxer: None,
        status: None,
        metadata: None,
        agent_version: None,
        client: None,
        subscribed_attnets: None,
        subscribed_syncnets: None,
        protocols: vec![],
        timings: HandshakeTimingsMs::default(),
        error: Some(HandshakeFailure {
            kind: HandshakeErrorKind::TooManyPeers,
            goodbye_code: Some(129),
            message: "goodbye 129".into(),
        }),
    });
    let vm = Event::ValidatorMetadata(ValidatorMetadataEvent {
        meta: meta(EventKind::ValidatorMetadata, &info),
        epoch: 419_072,
        long_lived_subnets: AttestationSubnets::from_subnets([7, 8]),
        predicted_subnets: AttestationSubnets::from_subnets([7, 8]),
        matches_node_id_prediction: true,
        short_lived_subnets: AttestationSubnets::from_subnets([0]),
        all_subnets: false,
        custody_group_count: Some(8),
        stake_min_eth: Some(0),
        stake_max_eth: Some(287),
        estimated_validators: 1,
        method: EstimateMethod::ShortLivedSubnets,
        confidence: 0.5,
        attributed_validators: 1,
        vantage_points: 1,
        contested_validators: 0,
    });
    let att = Event::Attestation(AttestationEvent {
        meta: meta(EventKind::Attestation, &info),
        form: AttestationForm::Single,
        subnet: 12,
        slot: 100,
        committee_index: 12,
        attester_index: Some(4242),
        aggregation_bit: None,
        target_epoch: 3,
        beacon_block_root: [0xab; 32],
        first_seen_delay_ms: 4100,
        evidence: Some(AttributionEvidence::UnsubscribedSubnet),
    });
    let loc = Event::PeerLocation(PeerLocationEvent {
        meta: meta(EventKind::PeerLocation, &info),
        location: Location {
            country: Some("US".into()),
            city: Some("Columbus".into()),
            latitude: Some(39.9612),
            longitude: Some(-82.9988),
            asn: Some(16509),
            as_org: Some("AMAZON-02".into()),
            hosting: true,
            ..Location::unknown("3.17.30.69".parse().unwrap())
        },
    });
    vec![discovery, metadata, failed, vm, att, loc]
}

#[test]
fn every_event_round_trips_through_json() {
    for event in all_events() {
        let bytes = event.to_json();
        let back = Event::from_json(&bytes).unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn the_fast_path_and_serdes_general_path_agree() {
    for event in all_events() {
        let bytes = event.to_json();
        assert!(
            bytes.starts_with(b"{\"kind\":\""),
            "to_json writes the tag first"
        );
        let general: Event = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(Event::from_json(&bytes).unwrap(), general);
        // the tag last: not the fast path, the same event
        let serde_json::Value::Object(mut fields) = serde_json::from_slice(&bytes).unwrap() else {
            panic!("an object");
        };
        let kind = fields.remove("kind").unwrap();
        fields.insert("kind".into(), kind);
        let reordered = serde_json::to_vec(&fields).unwrap();
        assert!(!reordered.starts_with(b"{\"kind\""));
        assert_eq!(Event::from_json(&reordered).unwrap(), event);
        // a key a newer version may add is ignored on both paths; a common field missing is
        // an error naming it
        fields.insert("added_later".into(), serde_json::json!({"x": [1, 2]}));
        let newer = serde_json::to_vec(&fields).unwrap();
        assert_eq!(Event::from_json(&newer).unwrap(), event);
        let tagged_first = [&bytes[..bytes.len() - 1], &b",\"added_later\":1}"[..]].concat();
        assert_eq!(Event::from_json(&tagged_first).unwrap(), event);
        fields.remove("peer_id");
        let err = Event::from_json(&serde_json::to_vec(&fields).unwrap()).unwrap_err();
        assert!(err.to_string().contains("missing field `peer_id`"), "{err}");
    }
    // a known tag in front of another kind's fields is refused, not misread
    let discovery = all_events()[0].to_json();
    let lying = [&b"{\"kind\":\"attestation\","[..], &discovery[1..]].concat();
    assert!(Event::from_json(&lying).is_err());
}

#[test]
fn wire_format_is_documented_shape() {
    let events = all_events();
    let v: serde_json::Value = serde_json::from_slice(&events[1].to_json()).unwrap();
    assert_eq!(v["kind"], "metadata");
    assert_eq!(
        v["peer_id"],
        "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
    );
    assert_eq!(
        v["node_id"],
        "ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269"
    );
    assert_eq!(v["metadata"]["attnets"], serde_json::json!([7, 17]));
    assert_eq!(v["metadata"]["syncnets"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(v["status"]["fork_digest"], "e9195d94");
    assert_eq!(
        v["status"]["finalized_root"],
        format!("0x{}", "00".repeat(32))
    );
    assert_eq!(v["client"]["kind"], "lodestar");
    assert_eq!(v["muxer"], "mplex");
    let d: serde_json::Value = serde_json::from_slice(&events[0].to_json()).unwrap();
    assert_eq!(d["fork_digest"], "b5303f2a");
    assert_eq!(d["ip"], "3.17.30.69");
    assert_eq!(d["udp_port"], 9000);
    assert_eq!(d["attnets"], serde_json::json!([]));
    assert_eq!(d["next_fork_epoch"], u64::MAX);
    assert_eq!(events[3].subject(), "valtrack.validator_metadata");
    assert_eq!(events[3].kind().table(), "validator_metadata_events");
    let l: serde_json::Value = serde_json::from_slice(&events[5].to_json()).unwrap();
    assert_eq!(l["kind"], "peer_location");
    assert_eq!(l["ip"], "3.17.30.69");
    assert_eq!(l["kind"], "peer_location", "the tag, not the address kind");
    assert_eq!(l["address_kind"], "public");
    assert_eq!(l["asn"], 16509);
    assert_eq!(events[5].subject(), "valtrack.peer_location");
    assert_eq!(events[5].kind().table(), "peer_locations");
}

#[test]
fn event_ids_are_deterministic_and_distinct() {
    let info: EnrInfo = BOOTNODE.parse().unwrap();
    let a = meta(EventKind::Discovery, &info);
    let b = meta(EventKind::Discovery, &info);
    assert_eq!(a.event_id, b.event_id);
    assert_eq!(a.event_id.len(), 32);
    let c = meta(EventKind::Metadata, &info);
    assert_ne!(a.event_id, c.event_id);
    let d = EventMeta::new(
        EventKind::Discovery,
        "sentry-2",
        "eu-west",
        a.timestamp,
        info.peer_id,
        None,
        b"x",
    );
    assert_ne!(a.event_id, d.event_id);
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    assert!(Event::from_json(b"{}").is_err());
    assert!(Event::from_json(b"{\"kind\":\"nope\"}").is_err());
    assert!(Event::from_json(&[0xff, 0x00]).is_err());
}
