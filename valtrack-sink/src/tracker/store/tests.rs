use std::sync::Arc;

use super::*;
use crate::tracker::fixtures::*;
use valtrack_core::AddressKind;
use valtrack_core::{ClientKind, EventSink};

use crate::geoip::tests::{geoip, testdata};

#[test]
fn identity_handshakes_and_location() {
    let dir = tempfile::tempdir().unwrap();
    let store = TrackerStore::open(dir.path().join("t.redb")).unwrap();
    let g = geoip();
    let p = peer(1);
    store
        .apply(
            &discovery(p, 1_000, "88.198.1.1", DiscoveryReason::FirstSeen),
            Some(&g),
        )
        .unwrap();
    let rec = store.peer(&p).unwrap().unwrap();
    assert_eq!(rec.node_id, p.node_id());
    assert_eq!(rec.enr.as_deref(), Some("enr:-test"));
    assert_eq!(rec.ip, "88.198.1.1".parse().ok());
    assert_eq!(rec.cgc, Some(4));
    let loc = rec.location.unwrap();
    assert_eq!(loc.country.as_deref(), Some("DE"));
    assert_eq!(loc.asn, Some(24940));
    assert!(loc.hosting);

    let agent = "Lighthouse/v5.3.0-2e0eb6d/x86_64-linux";
    store
        .apply(
            &handshake(p, 2_000, "/ip4/81.2.69.160/tcp/9000", agent, 12),
            Some(&g),
        )
        .unwrap();
    store.apply(&failure(p, 3_000), Some(&g)).unwrap();
    let rec = store.peer(&p).unwrap().unwrap();
    assert_eq!((rec.first_seen_ms, rec.last_seen_ms), (1_000, 3_000));
    assert_eq!((rec.handshakes_ok, rec.handshakes_failed), (1, 1));
    assert_eq!(
        rec.last_error,
        Some(valtrack_core::events::HandshakeErrorKind::TooManyPeers)
    );
    assert_eq!(
        rec.client.as_ref().map(|c| c.kind),
        Some(ClientKind::Lighthouse)
    );
    assert_eq!(rec.agent_version.as_deref(), Some(agent));
    assert_eq!(rec.cgc, Some(12));
    assert_eq!(
        rec.fork_digest.map(|d| d.to_string()).as_deref(),
        Some("8c9f62fe")
    );
    // The failure's multiaddr moved it back to 88.198.1.1 (Hetzner).
    assert_eq!(rec.ip, "88.198.1.1".parse().ok());
    assert_eq!(rec.location.as_ref().and_then(|l| l.asn), Some(24940));

    // Without GeoIP, a private address is still labelled.
    let q = peer(2);
    store
        .apply(
            &discovery(q, 5, "192.168.1.7", DiscoveryReason::FirstSeen),
            None,
        )
        .unwrap();
    let rec = store.peer(&q).unwrap().unwrap();
    assert_eq!(rec.location.unwrap().kind, AddressKind::Private);
    store
        .apply(
            &discovery(q, 6, "192.168.1.7", DiscoveryReason::Disappeared),
            None,
        )
        .unwrap();
    assert!(store.peer(&q).unwrap().unwrap().disappeared);
    assert_eq!(store.peer(&peer(3)).unwrap(), None);

    // A peer_locations row sets the location as is, even with a GeoIP at hand.
    let source = meta(valtrack_core::EventKind::Metadata, q, 7, None);
    let located = GeoIp::open(Some(&testdata("test-city.mmdb")), None)
        .unwrap()
        .peer_location_event(&source, "3.17.5.5".parse().unwrap())
        .unwrap();
    store
        .apply(&valtrack_core::Event::PeerLocation(located), Some(&g))
        .unwrap();
    let rec = store.peer(&q).unwrap().unwrap();
    assert_eq!(rec.ip, "3.17.5.5".parse().ok());
    let loc = rec.location.unwrap();
    assert_eq!(loc.country.as_deref(), Some("US"));
    assert_eq!(loc.asn, None, "not re-located with the ASN database");
}

#[test]
fn estimates_history_is_bounded_and_windowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrackerConfig {
        history_per_peer: 3,
        ..TrackerConfig::default()
    };
    let store = TrackerStore::open_with(dir.path().join("t.redb"), config).unwrap();
    let (a, b) = (peer(1), peer(2));
    for epoch in 0..5u64 {
        store
            .apply(&estimate(a, 1_000 + epoch * 100, epoch, epoch + 10), None)
            .unwrap();
    }
    store.apply(&estimate(b, 1_250, 7, 1), None).unwrap();
    // Same (peer, epoch) again at another time replaces the row.
    store.apply(&estimate(a, 1_450, 4, 99), None).unwrap();

    let hist = store.history(&a, 100).unwrap();
    assert_eq!(
        hist.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![4, 3, 2]
    );
    assert_eq!(hist[0].estimated_validators, 99);
    let rec = store.peer(&a).unwrap().unwrap();
    assert_eq!(rec.estimates_stored, 3);
    assert_eq!(
        rec.estimate
            .as_ref()
            .map(|e| (e.epoch, e.estimated_validators)),
        Some((4, 99))
    );

    let window = store.estimates(1_200, 1_400, 100).unwrap();
    let got: Vec<_> = window
        .iter()
        .map(|e| (e.timestamp, e.peer_id, e.epoch))
        .collect();
    assert_eq!(got, vec![(1_200, a, 2), (1_250, b, 7), (1_300, a, 3)]);
    // Evicted epochs are gone from the time index too; limits apply.
    assert!(store.estimates(0, 1_199, 100).unwrap().is_empty());
    assert_eq!(store.estimates(0, u64::MAX, 2).unwrap().len(), 2);
    assert!(store.estimates(2_000, 1_000, 10).unwrap().is_empty());

    let stats = store.stats().unwrap();
    assert_eq!(stats.peers, 2);
    assert_eq!(stats.peers_with_validators, 2);
    assert_eq!(stats.estimated_validators, 100);
}

#[test]
fn attributions_are_counted_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrackerConfig {
        max_attributed_per_peer: 2,
        ..TrackerConfig::default()
    };
    let store = TrackerStore::open_with(dir.path().join("t.redb"), config).unwrap();
    let p = peer(4);
    // (distinct times: distinct events, each with its own id)
    for (ts, (v, attributed)) in [(10, true), (10, true), (11, false), (12, true), (13, true)]
        .into_iter()
        .enumerate()
    {
        store
            .apply(&attestation(p, ts as u64, v, attributed), None)
            .unwrap();
    }
    let rec = store.peer(&p).unwrap().unwrap();
    assert_eq!(rec.attestations_delivered, 5);
    assert_eq!(rec.attributed_validators, 2);
    assert_eq!(
        store.attributed_validators(&p, 10).unwrap(),
        vec![(10, 2), (12, 1)]
    );
}

#[test]
fn pages_stats_and_zero_bounds() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        TrackerStore::open_with(
            dir.path().join("z.redb"),
            TrackerConfig {
                max_page: 0,
                ..TrackerConfig::default()
            }
        ),
        Err(TrackerError::Zero { field: "max_page" })
    ));
    let store = TrackerStore::open(dir.path().join("t.redb")).unwrap();
    let g = geoip();
    for n in 0..5u8 {
        store
            .apply(
                &handshake(
                    peer(n),
                    10,
                    "/ip4/3.17.30.69/tcp/9000",
                    "Prysm/v5.0.0/abc",
                    8,
                ),
                Some(&g),
            )
            .unwrap();
    }
    store
        .apply(
            &discovery(peer(9), 10, "81.2.69.1", DiscoveryReason::FirstSeen),
            Some(&g),
        )
        .unwrap();
    let page = store.peers(2, 1).unwrap();
    assert_eq!((page.total, page.offset, page.peers.len()), (6, 1, 2));
    let all = store.peers(100, 0).unwrap();
    let mut ids: Vec<_> = all.peers.iter().map(|p| p.peer_id.to_string()).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted, "ordered by peer id");
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert!(store.peers(10, 6).unwrap().peers.is_empty());

    let stats = store.stats().unwrap();
    assert_eq!(stats.peers, 6);
    assert_eq!(stats.peers_handshaked, 5);
    assert_eq!(stats.hosting, 5);
    assert_eq!(stats.clients.get("prysm"), Some(&5));
    assert_eq!(stats.clients.get("unknown"), Some(&1));
    assert_eq!(stats.countries.get("US"), Some(&5));
    assert_eq!(stats.countries.get("GB"), Some(&1));
    assert_eq!(stats.asns.get("AS16509"), Some(&5));
    assert_eq!(stats.fork_digests.get("8c9f62fe"), Some(&5));
    assert_eq!(stats.fork_digests.get("aa000001"), Some(&1));
}

#[tokio::test]
async fn sink_is_durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.redb");
    {
        let store = Arc::new(TrackerStore::open(&path).unwrap());
        let sink = crate::TrackerSink::new(Arc::clone(&store)).with_geoip(Arc::new(geoip()));
        sink.send(discovery(
            peer(1),
            1,
            "3.17.0.9",
            DiscoveryReason::FirstSeen,
        ))
        .await
        .unwrap();
        sink.send(estimate(peer(1), 2, 10, 33)).await.unwrap();
        sink.flush().await.unwrap();
    }
    let store = TrackerStore::open(&path).unwrap();
    let rec = store.peer(&peer(1)).unwrap().unwrap();
    assert_eq!(rec.location.and_then(|l| l.country).as_deref(), Some("US"));
    assert_eq!(rec.estimate.map(|e| e.estimated_validators), Some(33));
    assert_eq!(store.history(&peer(1), 10).unwrap().len(), 1);
}

#[tokio::test]
async fn derived_estimates_flow_from_a_handshake_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(TrackerStore::open(dir.path().join("t.redb")).unwrap());
    let sink = crate::TrackerSink::new(Arc::clone(&store));
    let p = peer(6);
    let agent = "teku/teku/v24.1.0/linux-x86_64/jdk";
    let valtrack_core::Event::Metadata(mut hs) =
        handshake(p, 50, "/ip4/81.2.69.3/tcp/9000", agent, 20)
    else {
        unreachable!("handshake builds a metadata event")
    };
    // The peer advertises its node-id backbone and subscribes to three more subnets.
    let epoch = 400_000;
    let backbone = valtrack_core::subnets::compute_subscribed_attnets(&p.node_id(), epoch);
    let mut subscribed = backbone;
    for s in (0..64).filter(|s| !backbone.contains(*s)).take(3) {
        subscribed.insert(s);
    }
    hs.metadata.as_mut().unwrap().attnets = backbone;
    let row = valtrack_core::events::ValidatorMetadataEvent::from_metadata_event(
        &hs,
        epoch,
        Some(subscribed),
        valtrack_core::estimate::Attribution::default(),
    )
    .unwrap();
    sink.send(valtrack_core::Event::Metadata(hs)).await.unwrap();
    sink.send(valtrack_core::Event::ValidatorMetadata(row))
        .await
        .unwrap();
    sink.flush().await.unwrap();

    let rec = store.peer(&p).unwrap().unwrap();
    assert_eq!(rec.client.map(|c| c.kind), Some(ClientKind::Teku));
    let est = rec.estimate.unwrap();
    assert_eq!(est.epoch, epoch);
    // cgc 20: 640..=671 ETH → 20 validators at 32 ETH; 3 short-lived subnets agree.
    assert_eq!(est.estimated_validators, 20);
    assert_eq!(est.short_lived_subnets, 3);
    assert!(est.matches_node_id_prediction);
    assert_eq!(
        (est.stake_min_eth, est.stake_max_eth),
        (Some(640), Some(671))
    );
    assert_eq!(est.method, valtrack_core::events::EstimateMethod::Combined);
    assert_eq!(store.estimates(0, u64::MAX, 10).unwrap(), vec![est]);
}

/// Updates become durable without any `sync` once `sync_interval` has passed: a store that
/// "crashes" (never dropped, its file copied as it is on disk) keeps them; with a long
/// interval the same updates are lost, which shows the check can fail.
#[test]
fn updates_become_durable_every_sync_interval_without_a_flush() {
    let crash_copy = |interval: Duration| {
        let dir = tempfile::tempdir().unwrap();
        let config = TrackerConfig {
            sync_interval: interval,
            ..TrackerConfig::default()
        };
        let store = TrackerStore::open_with(dir.path().join("t.redb"), config).unwrap();
        let (a, b) = (peer(1), peer(2));
        store
            .apply(
                &discovery(a, 1_000, "88.198.1.1", DiscoveryReason::FirstSeen),
                None,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(60));
        store
            .apply(
                &discovery(b, 1_100, "88.198.1.2", DiscoveryReason::FirstSeen),
                None,
            )
            .unwrap();
        // a crash: no drop, no final commit; the file as the disk has it
        std::mem::forget(store);
        std::fs::copy(dir.path().join("t.redb"), dir.path().join("after.redb")).unwrap();
        let after = TrackerStore::open(dir.path().join("after.redb")).unwrap();
        let found = (
            after.peer(&a).unwrap().is_some(),
            after.peer(&b).unwrap().is_some(),
        );
        (found, dir)
    };
    let (found, _dir) = crash_copy(Duration::from_millis(50));
    assert_eq!(
        found,
        (true, true),
        "the second update's commit was durable"
    );
    let (found, _dir) = crash_copy(Duration::from_secs(3600));
    assert_eq!(
        found,
        (false, false),
        "without a durable commit nothing survives"
    );
}

#[test]
fn an_event_applied_again_changes_nothing_within_the_remembered_ids() {
    let dir = tempfile::tempdir().unwrap();
    let config = TrackerConfig {
        applied_ids: 3,
        ..TrackerConfig::default()
    };
    let store = TrackerStore::open_with(dir.path().join("t.redb"), config).unwrap();
    let p = peer(5);
    let events: Vec<Event> = (0..5)
        .map(|v| attestation(p, 1 + v, 20 + v, true))
        .collect();
    store.apply_all(&events, None).unwrap();
    // the last three again (a redelivery): skipped
    store.apply_all(&events[2..], None).unwrap();
    assert_eq!(store.peer(&p).unwrap().unwrap().attestations_delivered, 5);
    let ids = store.applied_event_ids().unwrap();
    let newest: Vec<String> = events[2..]
        .iter()
        .rev()
        .map(|e| e.meta().event_id.clone())
        .collect();
    assert_eq!(ids, newest, "newest first, bounded");
    // the oldest was forgotten: applied again
    store.apply(&events[0], None).unwrap();
    assert_eq!(store.peer(&p).unwrap().unwrap().attestations_delivered, 6);
    // and with none remembered, every application counts
    let store = TrackerStore::open_with(
        dir.path().join("u.redb"),
        TrackerConfig {
            applied_ids: 0,
            ..TrackerConfig::default()
        },
    )
    .unwrap();
    store.apply(&events[0], None).unwrap();
    store.apply(&events[0], None).unwrap();
    assert_eq!(store.peer(&p).unwrap().unwrap().attestations_delivered, 2);
    assert!(store.applied_event_ids().unwrap().is_empty());
}
