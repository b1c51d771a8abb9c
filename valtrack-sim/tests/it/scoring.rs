//! How a Lighthouse node scores a sentry out of meshes (real rust-libp2p GossipSub scoring
//! with Lighthouse's parameters, `lighthouse_peer_score`, time compressed to the simulated
//! slot): over a simulated hour the sentry's score never goes below 0, while a peer that sits
//! in the mesh and forwards nothing (a control) is scored below 0 once mesh deliveries count,
//! and relays that deliver their share are not. `VALTRACK_SCORE_SLOTS` (default 300, half a
//! second each; at least 30 for the control) sets the length.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_core::codec::GossipKind;
use valtrack_core::AttestationSubnets;
use valtrack_sentry::host::{GossipParams, Host};
use valtrack_sim::{
    lighthouse_peer_score, sim_network_with_slot, SimNode, SimNodeConfig, LIGHTHOUSE_GOSSIP,
};

const SUBNET: u64 = 9;
const RELAYS: u64 = 4;
/// Attestations each relay publishes a slot: enough that an honest relay's own deliveries
/// reach Lighthouse's mesh-delivery threshold (266.6 in the decayed counter, ~9.4 a slot, set
/// for mainnet's traffic), so the relays are the honest comparison.
const PER_RELAY: u64 = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lighthouse_node_never_scores_the_sentry_below_zero() {
    // ~100 messages a second for 150 s: kept away from the timing-sensitive tests.
    let _serial = crate::handshake::SERIAL.lock().await;
    let slot = Duration::from_millis(500);
    // Mainnet's hour is 300 slots.
    let slots: u64 = std::env::var("VALTRACK_SCORE_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let network = sim_network_with_slot(Duration::from_secs(now.as_secs()), slot);
    let subnet = AttestationSubnets::from_subnets([SUBNET]);
    let node = |key: u64, gossip: GossipParams, relay: bool, judge: bool| {
        let mut c = SimNodeConfig::new(network.clone(), valtrack_sim::sim_secret_key(key));
        c.gossipsub = true;
        c.relay = relay;
        c.attnets = subnet;
        c.gossip = gossip;
        if judge {
            c.gossip_scoring = Some(lighthouse_peer_score(&network, gossip.mesh_n));
        }
        SimNode::spawn(c)
    };
    let judge = node(2_000, LIGHTHOUSE_GOSSIP, true, true).await.unwrap();
    let mut relays = Vec::new();
    for k in 0..RELAYS {
        relays.push(
            node(2_001 + k, GossipParams::default(), true, false)
                .await
                .unwrap(),
        );
    }
    // In the mesh, forwarding nothing (IGNOREs every message).
    let silent = node(2_100, GossipParams::default(), false, false)
        .await
        .unwrap();
    let sentry = crate::gossip_sentry(&network, subnet, false).await;
    let target = judge.host();
    for peer in relays.iter().map(SimNode::host).chain([silent.host()]) {
        peer.dial(target.peer_id(), target.listen_addrs().to_vec())
            .await
            .unwrap();
    }
    sentry
        .dial(target.peer_id(), target.listen_addrs().to_vec())
        .await
        .unwrap();

    let attestation = |v: u64| crate::attestation_now(&network, v, SUBNET);
    let (mut sentry_min, mut sentry_samples, mut silent_min) = (f64::MAX, 0, f64::MAX);
    let mut v = 0;
    for s in 0..slots {
        let publish = |host: &Host, v: u64| {
            let ssz = attestation(v);
            let host = host.clone();
            async move {
                let _ = host
                    .publish(GossipKind::BeaconAttestation(SUBNET), ssz)
                    .await;
            }
        };
        publish(judge.host(), v).await;
        v += 1;
        for relay in &relays {
            for _ in 0..PER_RELAY {
                publish(relay.host(), v).await;
                v += 1;
            }
        }
        if s % 4 == 0 {
            if let Some(score) = judge.host().gossip_score(sentry.peer_id()).await {
                sentry_min = sentry_min.min(score);
                sentry_samples += 1;
            }
            if let Some(score) = judge.host().gossip_score(silent.host().peer_id()).await {
                silent_min = silent_min.min(score);
            }
        }
        tokio::time::sleep(slot).await;
    }
    let mut relay_scores = Vec::new();
    for relay in &relays {
        relay_scores.push(judge.host().gossip_score(relay.host().peer_id()).await);
    }
    eprintln!(
        "{slots} slots: the judge scored the sentry min {sentry_min} ({sentry_samples} samples), \
         the silent mesh member min {silent_min}, the relays at the end {relay_scores:?}"
    );
    assert!(
        judge.host().is_connected(sentry.peer_id()).await,
        "the judge kept the sentry"
    );
    assert!(
        sentry_samples >= (slots / 4).saturating_sub(2),
        "{sentry_samples} samples"
    );
    assert!(sentry_min >= 0.0, "the sentry was scored {sentry_min}");
    // The scoring is live: it caught the mesh member that forwards nothing (−17.35 at
    // Lighthouse's figures, before decay), and scored the relays that deliver their share
    // well above it (not always at 0: GossipSub's slow-peer term, −10 a send that failed,
    // and short deliveries count when a loaded machine delays the judge's sends).
    assert!(
        silent_min < -5.0,
        "the silent mesh member was scored {silent_min}"
    );
    for score in &relay_scores {
        assert!(
            score.is_some_and(|s| s > silent_min + 5.0),
            "relays {relay_scores:?}, silent {silent_min}"
        );
    }
}
