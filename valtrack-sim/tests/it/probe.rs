//! GossipSub observation over live connections: a simulated node's subscriptions, its
//! unsubscription, and an attestation it publishes, seen by the sentry's probe.

use std::time::Duration;

use futures::StreamExt;
use valtrack_core::codec::GossipKind;
use valtrack_core::ssz::{AttestationData, Checkpoint, SingleAttestation};
use valtrack_core::{
    AttestationSubnets, Network, SszMessage, Subnet, SubnetObservation, SubnetProbe,
};
use valtrack_sentry::{GossipProbe, Host, HostConfig, SubscriptionTracker};
use valtrack_sim::{sim_secret_key, SimNode, SimNodeConfig};

async fn next_matching(
    stream: &mut (impl futures::Stream<Item = SubnetObservation> + Unpin),
    tracker: &mut SubscriptionTracker,
    pred: impl Fn(&SubnetObservation) -> bool,
) -> SubnetObservation {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let obs = stream.next().await.expect("probe stream ended");
            tracker.apply(&obs);
            if pred(&obs) {
                return obs;
            }
        }
    })
    .await
    .expect("observation did not come")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_sees_subscriptions_unsubscriptions_and_attestations() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let digest = network.fork_digest(network.current_epoch(std::time::SystemTime::now()).unwrap());
    // The sentry listens on subnet 3 (and says so in its MetaData).
    let sentry = Host::spawn(
        HostConfig::builder(network.clone())
            .attnets(AttestationSubnets::from_subnets([3]))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let probe = GossipProbe::new(sentry.clone());
    let mut stream = Box::pin(probe.observations());
    let mut tracker = SubscriptionTracker::default();

    let mut c = SimNodeConfig::new(network.clone(), sim_secret_key(300));
    c.attnets = AttestationSubnets::from_subnets([3, 63]);
    c.gossipsub = true;
    let node = SimNode::spawn(c).await.unwrap();
    let peer = node.enr_info().peer_id;
    sentry
        .dial(node.peer_id(), node.host().listen_addrs().to_vec())
        .await
        .unwrap();

    // Subscriptions come in any order: wait until both are applied.
    while tracker.get(&peer, digest).map(|s| s.attnets.subnets()) != Some(vec![3, 63]) {
        next_matching(&mut stream, &mut tracker, |o| {
            matches!(o, SubnetObservation::Subscribed { peer_id, fork_digest, .. }
                if *peer_id == peer && *fork_digest == digest)
        })
        .await;
    }
    assert_eq!(
        tracker.get(&peer, digest).unwrap().attnets.subnets(),
        vec![3, 63]
    );

    // The node drops subnet 63: unsubscribe is applied too.
    node.host()
        .set_attnets(AttestationSubnets::from_subnets([3]))
        .await
        .unwrap();
    next_matching(&mut stream, &mut tracker, |o| {
        matches!(o, SubnetObservation::Unsubscribed { peer_id, subnet: Subnet::Attestation(63), .. } if *peer_id == peer)
    })
    .await;
    assert_eq!(
        tracker.get(&peer, digest).unwrap().attnets.subnets(),
        vec![3]
    );

    // An attestation published on subnet 3 reaches the sentry through the probe's
    // attestation stream, from the node that delivered it first (in the gossip window: the
    // host keeps others out of the stream).
    let mut attestations = Box::pin(probe.attestations());
    let slot = network.current_slot(std::time::SystemTime::now()).unwrap();
    let att = SingleAttestation {
        committee_index: 3,
        attester_index: 424_242,
        data: AttestationData {
            slot,
            index: 0,
            beacon_block_root: [7; 32],
            source: Checkpoint {
                epoch: slot / 32 - 1,
                root: [1; 32],
            },
            target: Checkpoint {
                epoch: slot / 32,
                root: [2; 32],
            },
        },
        signature: vec![9u8; 96].try_into().unwrap(),
    };
    // Gossip is best-effort while the peers' views settle: publish (distinct payloads)
    // every 300 ms until one arrives.
    let publisher = node.host().clone();
    let mut to_send = att.clone();
    let publishing = tokio::spawn(async move {
        for i in 0..30u64 {
            to_send.attester_index = 424_242 + i;
            let _ = publisher
                .publish(GossipKind::BeaconAttestation(3), to_send.to_ssz_bytes())
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let message = tokio::time::timeout(Duration::from_secs(10), attestations.next())
        .await
        .expect("attestation did not come")
        .expect("attestation stream ended");
    publishing.abort();
    assert_eq!(message.source, peer);
    assert_eq!(message.topic.kind, GossipKind::BeaconAttestation(3));
    assert_eq!(message.topic.fork_digest, digest);
    let a = SingleAttestation::from_ssz_bytes(&message.data).unwrap();
    assert_eq!(
        (a.committee_index, a.data.clone()),
        (att.committee_index, att.data.clone())
    );
    assert!((424_242..424_272).contains(&a.attester_index));
}
