//! Events for the tracker's and the API's unit tests.

use valtrack_core::events::{
    AttestationEvent, AttestationForm, AttributionEvidence, Direction, DiscoveryEvent,
    DiscoveryReason, EstimateMethod, HandshakeErrorKind, HandshakeFailure, HandshakeTimingsMs,
    MetaDataInfo, MetadataEvent, StatusInfo, ValidatorMetadataEvent,
};
use valtrack_core::{
    AttestationSubnets, ClientInfo, EnrClass, Event, EventKind, EventMeta, ForkDigest, PeerId,
};

/// A valid peer id, different for each `n`.
pub(crate) fn peer(n: u8) -> PeerId {
    (0..=255u8)
        .find_map(|b| {
            let mut key = [7u8; 33];
            key[0] = 2;
            key[1] = n;
            key[2] = b;
            PeerId::from_secp256k1(&key).ok()
        })
        .expect("some x coordinate is on the curve")
}

pub(crate) fn meta(kind: EventKind, peer: PeerId, ts: u64, enr: Option<&str>) -> EventMeta {
    EventMeta::new(kind, "s1", "eu", ts, peer, enr.map(str::to_owned), b"t")
}

pub(crate) fn discovery(peer: PeerId, ts: u64, ip: &str, reason: DiscoveryReason) -> Event {
    Event::Discovery(DiscoveryEvent {
        meta: meta(EventKind::Discovery, peer, ts, Some("enr:-test")),
        reason,
        seq: 3,
        ip: ip.parse().ok(),
        ip6: None,
        tcp_port: Some(9000),
        udp_port: Some(9000),
        quic_port: None,
        fork_digest: Some(ForkDigest([0xaa, 0, 0, 1])),
        next_fork_version: None,
        next_fork_epoch: None,
        nfd: None,
        attnets: Some(AttestationSubnets::from_subnets([1, 2])),
        syncnets: None,
        cgc: Some(4),
        class: EnrClass::OurNetwork,
        enr_issues: Vec::new(),
    })
}

pub(crate) fn handshake(peer: PeerId, ts: u64, addr: &str, agent: &str, cgc: u64) -> Event {
    Event::Metadata(MetadataEvent {
        meta: meta(EventKind::Metadata, peer, ts, None),
        multiaddr: Some(addr.to_owned()),
        direction: Direction::Outbound,
        transport: None,
        muxer: None,
        status: Some(StatusInfo {
            version: 2,
            fork_digest: ForkDigest([0x8c, 0x9f, 0x62, 0xfe]),
            finalized_root: [0; 32],
            finalized_epoch: 1,
            head_root: [0; 32],
            head_slot: 64,
            earliest_available_slot: None,
        }),
        metadata: Some(MetaDataInfo {
            version: 3,
            seq_number: 1,
            attnets: AttestationSubnets::from_subnets([5, 6]),
            syncnets: None,
            custody_group_count: Some(cgc),
        }),
        agent_version: Some(agent.to_owned()),
        client: Some(ClientInfo::from_agent_version(agent)),
        subscribed_attnets: None,
        subscribed_syncnets: None,
        protocols: Vec::new(),
        timings: HandshakeTimingsMs::default(),
        error: None,
    })
}

pub(crate) fn failure(peer: PeerId, ts: u64) -> Event {
    let Event::Metadata(mut e) = handshake(peer, ts, "/ip4/88.198.1.1/tcp/9000", "", 4) else {
        unreachable!("handshake builds a metadata event")
    };
    e.status = None;
    e.metadata = None;
    e.client = None;
    e.agent_version = None;
    e.error = Some(HandshakeFailure {
        kind: HandshakeErrorKind::TooManyPeers,
        goodbye_code: Some(129),
        message: "too many peers".into(),
    });
    Event::Metadata(e)
}

pub(crate) fn estimate(peer: PeerId, ts: u64, epoch: u64, validators: u64) -> Event {
    Event::ValidatorMetadata(ValidatorMetadataEvent {
        meta: meta(EventKind::ValidatorMetadata, peer, ts, None),
        epoch,
        long_lived_subnets: AttestationSubnets::from_subnets([5, 6]),
        predicted_subnets: AttestationSubnets::from_subnets([5, 6]),
        matches_node_id_prediction: true,
        short_lived_subnets: AttestationSubnets::from_subnets([9]),
        all_subnets: false,
        custody_group_count: Some(validators.clamp(8, 128)),
        stake_min_eth: Some(0),
        stake_max_eth: Some(287),
        estimated_validators: validators,
        method: EstimateMethod::Combined,
        confidence: 0.7,
        attributed_validators: 5,
        vantage_points: 2,
        contested_validators: 1,
    })
}

pub(crate) fn attestation(peer: PeerId, ts: u64, validator: u64, attributed: bool) -> Event {
    Event::Attestation(AttestationEvent {
        meta: meta(EventKind::Attestation, peer, ts, None),
        form: AttestationForm::Single,
        subnet: 3,
        slot: 100,
        committee_index: 3,
        attester_index: Some(validator),
        aggregation_bit: None,
        target_epoch: 3,
        beacon_block_root: [1; 32],
        first_seen_delay_ms: 900,
        evidence: attributed.then_some(AttributionEvidence::UnsubscribedSubnet),
    })
}
