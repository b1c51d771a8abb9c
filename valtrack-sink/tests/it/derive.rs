//! DeriveSink: validator estimates and peer locations derived from the events it passes on.

use std::sync::Arc;

use valtrack_core::{Event, EventKind, EventSink};
use valtrack_sink::{ChannelSink, DeriveSink, GeoIp};

use crate::fixtures;

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

#[tokio::test]
async fn handshakes_become_estimates_and_new_addresses_locations() {
    let (inner, mut rx) = ChannelSink::new(64);
    let geoip = GeoIp::open(
        Some(&testdata("test-city.mmdb")),
        Some(&testdata("test-asn.mmdb")),
    )
    .unwrap();
    let sink = DeriveSink::new(inner)
        .with_network(valtrack_core::Network::mainnet())
        .with_geoip(Arc::new(geoip));
    // A successful handshake (even i), an attribution, the same peer again, a failure.
    sink.send(fixtures::metadata(0)).await.unwrap();
    sink.send(fixtures::attestation(0)).await.unwrap();
    sink.send(fixtures::metadata(2)).await.unwrap();
    sink.send(fixtures::metadata(1)).await.unwrap();
    sink.flush().await.unwrap();
    drop(sink);
    let mut got = Vec::new();
    while let Some(e) = rx.recv().await {
        got.push(e);
    }
    let kinds: Vec<EventKind> = got.iter().map(Event::kind).collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        [
            Metadata,
            PeerLocation,
            ValidatorMetadata,
            Attestation,
            Metadata,
            ValidatorMetadata,
            Metadata
        ],
        "one location per new address, one estimate per successful handshake"
    );
    let Event::PeerLocation(loc) = &got[1] else {
        unreachable!()
    };
    assert_eq!(loc.location.country.as_deref(), Some("US"));
    assert_eq!(loc.location.asn, Some(16509));
    let estimates: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            Event::ValidatorMetadata(v) => Some(v),
            _ => None,
        })
        .collect();
    // cgc 8 bounds the stake; the attribution in between raises the second estimate's floor.
    assert_eq!(estimates[0].custody_group_count, Some(8));
    assert!(estimates[1].estimated_validators >= 1, "{:?}", estimates[1]);
    assert_ne!(estimates[0].meta.event_id, estimates[1].meta.event_id);
}

#[tokio::test]
async fn estimates_of_peers_on_another_network_are_dated_by_their_head_slot() {
    let (inner, mut rx) = ChannelSink::new(8);
    let sink = DeriveSink::new(inner).with_network(valtrack_core::Network::mainnet());
    let mut ours = fixtures::metadata(0);
    let mut theirs = fixtures::metadata(2);
    if let Event::Metadata(m) = &mut theirs {
        m.status.as_mut().unwrap().fork_digest = valtrack_core::ForkDigest([1, 2, 3, 4]);
    }
    for e in [&mut ours, &mut theirs] {
        sink.send(e.clone()).await.unwrap();
    }
    drop(sink);
    let mut epochs = Vec::new();
    while let Some(e) = rx.recv().await {
        if let Event::ValidatorMetadata(v) = e {
            epochs.push(v.epoch);
        }
    }
    // Ours: mainnet's clock at the event time (late 2025); theirs: head slot 3202 / 32.
    assert_eq!(epochs.len(), 2);
    assert!(epochs[0] > 300_000, "{epochs:?}");
    assert_eq!(epochs[1], 3_202 / 32);
}
