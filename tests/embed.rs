//! valtrack embedded as a user outside the workspace would: a `Sentry` over a crawler, a
//! handshaker, a subnet probe and a sink of the user's own, with no libp2p or other
//! sentry-internal type. The probe feeds attestations (core's `GossipMessage`) and
//! subscriptions; the sink receives the attestation events.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::Stream;
use valtrack::core::codec::{GossipKind, GossipTopic};
use valtrack::core::events::AttributionEvidence;
use valtrack::core::ssz::{AttestationData, Checkpoint, SingleAttestation};
use valtrack::core::{
    Crawler, DiscoveredNode, EnrInfo, Event, EventSink, GossipMessage, HandshakeError, Handshaker,
    Network, PeerId, PeerInfo, SinkError, SszMessage, Subnet, SubnetObservation, SubnetProbe,
    MAINNET_BOOTNODES,
};
use valtrack::sentry::{Sentry, SentryConfig};

/// Finds nothing.
struct NoCrawler;

impl Crawler for NoCrawler {
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
        futures::stream::pending()
    }
}

/// Never asked: nothing is discovered.
struct NoHandshaker;

impl Handshaker for NoHandshaker {
    async fn handshake(&self, _node: &DiscoveredNode) -> Result<PeerInfo, HandshakeError> {
        Err(HandshakeError::NoAddress)
    }
}

/// A probe of the user's own: one peer subscribed to one subnet, and that peer's
/// attestations on it.
struct ScriptedProbe {
    observations: Vec<SubnetObservation>,
    attestations: Vec<GossipMessage>,
}

impl SubnetProbe for ScriptedProbe {
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
        futures::stream::iter(self.observations.clone())
    }

    fn attestations(&self) -> impl Stream<Item = GossipMessage> + Send + 'static {
        futures::stream::iter(self.attestations.clone())
    }
}

/// Keeps every event (clones share them).
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<Event>>>);

impl EventSink for Keep {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn peer() -> PeerId {
    let info: EnrInfo = MAINNET_BOOTNODES[0].parse().unwrap();
    info.peer_id
}

#[tokio::test]
async fn a_custom_probe_feeds_attestations_to_a_custom_sink() {
    let network = Network::mainnet();
    let peer = peer();
    let slot = network.current_slot(SystemTime::now()).unwrap();
    let epoch = slot / 32;
    let digest = network.fork_digest(epoch);
    let subnet = 17u8;
    let received = UNIX_EPOCH + network.slot_start(slot).unwrap() + Duration::from_millis(800);
    let attestation = |validator: u64| GossipMessage {
        topic: GossipTopic::new(digest, GossipKind::BeaconAttestation(u64::from(subnet))),
        source: peer,
        received,
        data: SingleAttestation {
            committee_index: 2,
            attester_index: validator,
            data: AttestationData {
                slot,
                index: 0,
                beacon_block_root: [5; 32],
                source: Checkpoint::default(),
                target: Checkpoint {
                    epoch,
                    root: [6; 32],
                },
            },
            ..SingleAttestation::default()
        }
        .to_ssz_bytes(),
    };
    let probe = ScriptedProbe {
        observations: vec![SubnetObservation::Subscribed {
            peer_id: peer,
            fork_digest: digest,
            subnet: Subnet::Attestation(subnet),
            at_ms: 0,
        }],
        // validator 41 twice (one event: the first delivery), then 42
        attestations: vec![attestation(41), attestation(41), attestation(42)],
    };
    let sink = Keep::default();
    let config = SentryConfig::builder("embedded", "test").build().unwrap();
    let sentry = Sentry::new(NoCrawler, NoHandshaker, sink.clone(), config)
        .with_probe(&probe)
        .with_attestations(network.clone(), probe.attestations());
    let stats = sentry.stats();
    let seen = sink.clone();
    let done = async move {
        for _ in 0..200 {
            if seen.0.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    sentry.run(done).await.unwrap();

    assert_eq!(
        stats
            .attestations
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    let events = sink.0.lock().unwrap().clone();
    let attested: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Attestation(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(attested.len(), 2, "{events:?}");
    for (a, validator) in attested.iter().zip([41, 42]) {
        assert_eq!(a.attester_index, Some(validator));
        assert_eq!(a.meta.peer_id, peer);
        assert_eq!(a.subnet, u64::from(subnet));
        assert_eq!((a.slot, a.target_epoch), (slot, epoch));
        assert_eq!(a.first_seen_delay_ms, 800);
        assert!(a.evidence.is_some(), "{a:?}");
    }
    // The probe's subscription is the evidence: the peer said it is on that subnet.
    assert_ne!(
        attested[0].evidence,
        Some(AttributionEvidence::UnsubscribedSubnet)
    );
}
