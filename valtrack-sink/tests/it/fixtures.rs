//! Events of every kind, built in code around the real mainnet bootnode ENR.

use valtrack_core::events::{
    AttestationEvent, AttestationForm, AttributionEvidence, Direction, DiscoveryEvent,
    DiscoveryReason, EstimateMethod, HandshakeErrorKind, HandshakeFailure, HandshakeTimingsMs,
    MetaDataInfo, MetadataEvent, Muxer, PeerLocationEvent, StatusInfo, Transport,
    ValidatorMetadataEvent,
};
use valtrack_core::{
    AttestationSubnets, ClientInfo, EnrClass, EnrInfo, Event, EventKind, EventMeta, ForkDigest,
    Location, SyncSubnets, Version,
};

/// A valid peer id, different for each `n` (the benches' mainnet-sized peer sets).
#[allow(dead_code)] // used by the benches, which include this file
pub(crate) fn mainnet_peer(n: u64) -> valtrack_core::PeerId {
    (0..=255u8)
        .find_map(|b| {
            let mut key = [7u8; 33];
            key[0] = 2;
            key[1..9].copy_from_slice(&n.to_le_bytes());
            key[9] = b;
            valtrack_core::PeerId::from_secp256k1(&key).ok()
        })
        .expect("some x coordinate is on the curve")
}

/// A Lighthouse mainnet bootnode (from the consensus-specs bootnode list).
pub(crate) const BOOTNODE: &str = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";

/// 2025-11-24T16:00:00Z.
pub(crate) const T0: u64 = 1_764_000_000_000;

pub(crate) fn info() -> EnrInfo {
    BOOTNODE.parse().expect("the bootnode ENR parses")
}

pub(crate) fn meta(kind: EventKind, i: u64, timestamp: u64) -> EventMeta {
    let info = info();
    EventMeta::new(
        kind,
        "sentry-1",
        "eu-west",
        timestamp,
        info.peer_id,
        Some(BOOTNODE.into()),
        &i.to_le_bytes(),
    )
}

/// The `i`th discovery event: the bootnode's ENR, with attnets `{i % 64, (i + 1) % 64}`.
pub(crate) fn discovery_at(i: u64, timestamp: u64) -> Event {
    let info = info();
    let mut e = DiscoveryEvent::new(
        meta(EventKind::Discovery, i, timestamp),
        DiscoveryReason::FirstSeen,
        &info,
        EnrClass::OtherNetwork,
    );
    e.attnets = Some(AttestationSubnets::from_subnets([i % 64, (i + 1) % 64]));
    e.syncnets = Some(SyncSubnets::from_subnets([i % 4]));
    e.cgc = Some(4 + i % 4);
    e.seq = i;
    Event::Discovery(e)
}

pub(crate) fn discovery(i: u64) -> Event {
    discovery_at(i, T0 + i)
}

/// Even `i`: a full handshake; odd `i`: a failed one (Goodbye 129).
pub(crate) fn metadata(i: u64) -> Event {
    let ok = i.is_multiple_of(2);
    Event::Metadata(MetadataEvent {
        meta: meta(EventKind::Metadata, i, T0 + i),
        multiaddr: Some("/ip4/3.17.30.69/tcp/9000".into()),
        direction: Direction::Outbound,
        transport: Some(Transport::Tcp),
        muxer: Some(Muxer::Mplex),
        status: ok.then(|| StatusInfo {
            version: 2,
            fork_digest: ForkDigest([0xb5, 0x30, 0x3f, 0x2a]),
            finalized_root: [0x11; 32],
            finalized_epoch: 100 + i,
            head_root: [0x22; 32],
            head_slot: 3_200 + i,
            earliest_available_slot: Some(7),
        }),
        metadata: ok.then(|| MetaDataInfo {
            version: 3,
            seq_number: i,
            attnets: AttestationSubnets::from_subnets([7, 17]),
            syncnets: Some(SyncSubnets::from_subnets([1])),
            custody_group_count: Some(8),
        }),
        agent_version: ok.then(|| "Lighthouse/v5.3.0-2e0eb6d/x86_64-linux".into()),
        client: ok
            .then(|| ClientInfo::from_agent_version("Lighthouse/v5.3.0-2e0eb6d/x86_64-linux")),
        subscribed_attnets: ok.then(|| AttestationSubnets::from_subnets([7, 17, 40])),
        subscribed_syncnets: None,
        protocols: if ok {
            vec![
                "/eth2/beacon_chain/req/status/2/ssz_snappy".into(),
                "/eth2/beacon_chain/req/metadata/3/ssz_snappy".into(),
            ]
        } else {
            vec![]
        },
        timings: HandshakeTimingsMs {
            connect_ms: Some(60),
            status_ms: ok.then_some(45),
            metadata_ms: ok.then_some(40),
            ping_ms: ok.then_some(30),
            total_ms: Some(200 + i),
        },
        error: (!ok).then(|| HandshakeFailure {
            kind: HandshakeErrorKind::TooManyPeers,
            goodbye_code: Some(129),
            message: "goodbye 129: too many peers".into(),
        }),
    })
}

pub(crate) fn validator_metadata(i: u64) -> Event {
    Event::ValidatorMetadata(ValidatorMetadataEvent {
        meta: meta(EventKind::ValidatorMetadata, i, T0 + i),
        epoch: 300_000 + i,
        long_lived_subnets: AttestationSubnets::from_subnets([7, 17]),
        predicted_subnets: AttestationSubnets::from_subnets([7, 17]),
        matches_node_id_prediction: true,
        short_lived_subnets: AttestationSubnets::from_subnets([40, 41, 42]),
        all_subnets: false,
        custody_group_count: Some(8),
        stake_min_eth: Some(0),
        stake_max_eth: Some(4096),
        estimated_validators: 3,
        method: EstimateMethod::ShortLivedSubnets,
        confidence: 0.5,
        attributed_validators: 3,
        vantage_points: 2,
        contested_validators: 1,
    })
}

pub(crate) fn attestation(i: u64) -> Event {
    Event::Attestation(AttestationEvent {
        meta: meta(EventKind::Attestation, i, T0 + i),
        form: AttestationForm::Single,
        subnet: i % 64,
        slot: 9_600_000 + i,
        committee_index: 3,
        attester_index: Some(1_000_000 + i),
        aggregation_bit: None,
        target_epoch: 300_000,
        beacon_block_root: [0xab; 32],
        first_seen_delay_ms: -5 + i as i64,
        evidence: Some(AttributionEvidence::UnsubscribedSubnet),
    })
}

/// Even `i`: a located public address (AWS, US); odd `i`: a private one.
pub(crate) fn peer_location(i: u64) -> Event {
    let location = if i.is_multiple_of(2) {
        Location {
            country: Some("US".into()),
            city: Some("Columbus".into()),
            latitude: Some(39.9612),
            longitude: Some(-82.9988),
            asn: Some(16509),
            as_org: Some("AMAZON-02".into()),
            hosting: true,
            ..Location::unknown("3.17.30.69".parse().expect("an IP"))
        }
    } else {
        Location::unknown("192.168.0.1".parse().expect("an IP"))
    };
    Event::PeerLocation(PeerLocationEvent {
        meta: meta(EventKind::PeerLocation, i, T0 + i),
        location,
    })
}

/// `n` events of each kind, interleaved.
pub(crate) fn all(n: u64) -> Vec<Event> {
    (0..n)
        .flat_map(|i| {
            [
                discovery(i),
                metadata(i),
                validator_metadata(i),
                attestation(i),
                peer_location(i),
            ]
        })
        .collect()
}

/// The next fork version the bootnode announces (its `eth2` field).
pub(crate) fn bootnode_next_fork_version() -> Option<Version> {
    info().eth2.map(|e| e.next_fork_version)
}
