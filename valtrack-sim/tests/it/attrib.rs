//! Attestation attribution end to end: simulated validators publish `SingleAttestation`s,
//! nodes relay among themselves, one sentry in attestation mode attributes them; scored
//! against the ground truth.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_core::events::AttributionEvidence;
use valtrack_sim::{run_attribution, sim_network_with_slot, SimNet};

/// A simulated network starting now with 250 ms slots: 8-second epochs.
fn fast_network() -> valtrack_core::Network {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    sim_network_with_slot(
        Duration::from_secs(now.as_secs()),
        Duration::from_millis(250),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribution_over_a_30_node_simnet_is_precise() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = fast_network();
    let net = SimNet::builder(30)
        .seed(7)
        .network(network)
        .attestations(true)
        .mesh_degree(4)
        .validators([(0, 30), (8, 30), (64, 25), (500, 15)])
        .spawn()
        .await
        .unwrap();
    assert!(net.total_validators() > 0);
    // Disjoint validator ranges.
    let mut ranges: Vec<_> = net.peers().iter().map(|p| p.validator_indices()).collect();
    ranges.sort_by_key(|r| r.start);
    for w in ranges.windows(2) {
        assert!(w[0].end <= w[1].start);
    }
    let run = run_attribution(&net, 2, Duration::from_secs(40))
        .await
        .unwrap();
    let s = &run.score;
    let kind = |k: AttributionEvidence| {
        s.by_evidence
            .iter()
            .find(|(e, _)| *e == k)
            .map(|(_, c)| *c)
            .unwrap()
    };
    let unsub = kind(AttributionEvidence::UnsubscribedSubnet);
    eprintln!(
        "attribution: epochs {:?}, warm-up {:?}, handshaken {:?}, messages {}, events {}, \
         overall precision {:.4} recall {:.4} ({:?}); unsubscribed {:?}; by kind {:?}",
        run.epochs,
        run.warmup,
        run.handshaken,
        run.messages,
        run.events.len(),
        s.overall.precision(),
        s.overall.recall(),
        s.overall,
        unsub,
        s.by_evidence
    );
    {
        let mut right = Vec::new();
        let mut wrong = Vec::new();
        for e in &run.events {
            let Some(v) = e.attester_index else { continue };
            if !run.epochs.contains(&e.target_epoch) {
                continue;
            }
            let host = net.validator_node(v).unwrap();
            if host.peer_id() == e.meta.peer_id {
                right.push(e.first_seen_delay_ms)
            } else {
                wrong.push(e.first_seen_delay_ms)
            }
        }
        right.sort();
        wrong.sort();
        let q = |v: &Vec<i64>, f: f64| v.get(((v.len() as f64) * f) as usize).copied();
        eprintln!(
            "delays right {:?} {:?} {:?} wrong {:?} {:?} {:?}",
            q(&right, 0.1),
            q(&right, 0.5),
            q(&right, 0.9),
            q(&wrong, 0.1),
            q(&wrong, 0.5),
            q(&wrong, 0.9)
        );
    }
    eprintln!("by role {:?}\nby class {:?}", s.by_role, s.by_class);
    assert_eq!(run.undecodable, 0);
    assert!(
        s.overall.truth > 100,
        "too few attestations published: {:?}",
        s.overall
    );
    assert!(
        unsub.claims > 50,
        "too few UnsubscribedSubnet claims: {unsub:?}"
    );
    assert!(
        unsub.precision() >= 0.99,
        "UnsubscribedSubnet precision {unsub:?}"
    );
    assert!(
        s.overall.precision() >= 0.95,
        "overall precision {:?}",
        s.overall
    );
    assert!(s.overall.recall() >= 0.7, "overall recall {:?}", s.overall);
    // Reachable nodes: the same attestations as the by-role split counts under the roles a
    // sentry can handshake. Every correct claim is theirs, or from a node whose handshake
    // fails after connecting (a stalling one's gossip flows until the handshake times out):
    // an unreachable origin is never met.
    let reachable = s
        .by_role
        .iter()
        .filter(|(r, _)| r.expected_failure().is_none())
        .fold((0, 0), |(t, f), (_, c)| (t + c.truth, f + c.found));
    assert_eq!((s.reachable.truth, s.reachable.found), reachable);
    let met_unshaken: u64 = s
        .by_role
        .iter()
        .filter(|(r, _)| r.expected_failure().is_some())
        .map(|(_, c)| c.found)
        .sum();
    assert_eq!(s.reachable.found + met_unshaken, s.overall.found);
    for (role, c) in &s.by_role {
        if *role == valtrack_sim::SimRole::Unreachable {
            assert_eq!(c.found, 0, "an unreachable origin credited: {c:?}");
        }
    }
    assert!(s.reachable.truth < s.overall.truth, "{:?}", s.reachable);
    // Per validator: 2 epochs publish each validator about twice; found at least as often
    // (as a share) as per attestation, and a pair claim per distinct (validator, peer).
    let v = s.validators;
    eprintln!("validators {v:?}, reachable {:?}", s.validators_reachable);
    assert!(v.truth * 3 / 2 < s.overall.truth && v.truth <= s.overall.truth);
    assert!(v.recall() >= s.overall.recall(), "{v:?} vs {:?}", s.overall);
    assert!(v.claims <= s.overall.claims && v.correct == v.found);
    assert!(s.validators_reachable.truth < v.truth);
    // Validators found on nodes not handshaken: on ones met before their handshake failed,
    // never on an unreachable one.
    let mut unshaken = std::collections::HashSet::new();
    for e in &run.events {
        let Some(v) = e.attester_index else { continue };
        if !run.epochs.contains(&e.target_epoch) {
            continue;
        }
        let host = net.validator_node(v).unwrap();
        if host.peer_id() == e.meta.peer_id && host.role().expected_failure().is_some() {
            assert_ne!(host.role(), valtrack_sim::SimRole::Unreachable);
            unshaken.insert(v);
        }
    }
    assert_eq!(
        s.validators_reachable.found + unshaken.len() as u64,
        v.found
    );
    // Out of meshes, although nodes on the sentry's subnets graft it.
    assert_eq!(run.mesh_links, 0);
}

/// How many mesh links the mesh strategies hold with 16 nodes on every subnet (out of meshes
/// holds none: `attribution_over_a_30_node_simnet_is_precise`): in every mesh more than
/// joining like a peer, which grafts D = 8 and trims above D_hi = 12 per subnet at its
/// heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_hold_the_mesh_links_they_promise() {
    use valtrack_sentry::service::GossipStrategy;
    use valtrack_sim::run_attribution_with;

    let _serial = crate::handshake::SERIAL.lock().await;
    let network = fast_network();
    let nodes = 16;
    let net = SimNet::builder(nodes)
        .seed(11)
        .network(network)
        .roles(0.0, 0.0, 0.0, 0.0)
        .attestations(true)
        .subscribe_all(1.0)
        .validators([(8, 1)])
        .spawn()
        .await
        .unwrap();
    let mut links = Vec::new();
    for strategy in [GossipStrategy::InMeshes, GossipStrategy::AllMeshes] {
        let run = run_attribution_with(&net, 1, Duration::from_secs(40), strategy)
            .await
            .unwrap();
        assert_eq!(run.handshaken.0 as usize, nodes, "{strategy:?}");
        links.push(run.mesh_links);
    }
    eprintln!("mesh links in / all: {links:?}");
    let subnets = valtrack_core::constants::ATTESTATION_SUBNET_COUNT;
    assert!(links[0] > 0 && links[0] <= subnets * 12, "{links:?}");
    // Most nodes took our GRAFTs: more links than D_hi per subnet allows.
    assert!(links[1] > subnets * 12, "{links:?}");
    assert!(links[1] <= subnets * nodes as u64, "{links:?}");
}

/// With `keep_connected`, successful handshakes leave the connection open up to the cap (a
/// revisit reuses it); beyond the cap, and without the option, peers get Goodbye.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_keep_connections_up_to_the_cap() {
    use valtrack_core::Handshaker;
    use valtrack_sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker};
    use valtrack_sim::{sim_secret_key, SimNode, SimNodeConfig};

    let _serial = crate::handshake::SERIAL.lock().await;
    let network = valtrack_core::Network::mainnet();
    let digests: Vec<_> = network.all_digests().iter().map(|d| d.digest).collect();
    let host = Host::spawn(
        HostConfig::builder(network.clone())
            .listen_on_loopback()
            .subscribe_all_subnets()
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let keep = Libp2pHandshaker::new(
        host.clone(),
        HandshakeConfig::builder()
            .keep_connected(2)
            .build()
            .unwrap(),
    );
    let mut nodes = Vec::new();
    for i in 0..3 {
        let node = SimNode::spawn(SimNodeConfig::new(network.clone(), sim_secret_key(900 + i)))
            .await
            .unwrap();
        keep.handshake(&node.discovered(&digests)).await.unwrap();
        nodes.push(node);
    }
    // Closing takes a moment after the handshake returns.
    let gone = |peer| {
        let host = host.clone();
        async move {
            for _ in 0..50 {
                if !host.is_connected(peer).await {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(
        gone(nodes[2].peer_id()).await,
        "beyond the cap: goodbye and disconnect"
    );
    let connected = |i: usize| host.is_connected(nodes[i].peer_id());
    assert!(
        connected(0).await && connected(1).await,
        "kept peers stay connected"
    );
    assert_eq!(keep.kept_peers(), 2);
    // A revisit of a kept peer reuses the connection and keeps it.
    let info = keep
        .handshake(&nodes[0].discovered(&digests))
        .await
        .unwrap();
    assert!(info.metadata.is_some() && info.status.is_some());
    assert!(connected(0).await);

    // Off (the default): every handshake ends the connection.
    let plain = Libp2pHandshaker::new(host.clone(), HandshakeConfig::default());
    let other = SimNode::spawn(SimNodeConfig::new(network.clone(), sim_secret_key(950)))
        .await
        .unwrap();
    plain.handshake(&other.discovered(&digests)).await.unwrap();
    assert!(gone(other.peer_id()).await);
}

/// The sentry's attestation pipeline on hand-made messages: one event per first (target
/// epoch, validator), evidence from the delivering peer's backbone, delay from the slot
/// clock, and undecodable or untimely payloads counted, never fatal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_turns_first_deliveries_into_attestation_events() {
    use std::sync::atomic::Ordering;

    use valtrack_core::codec::{GossipKind, GossipTopic};
    use valtrack_core::events::AttestationForm;
    use valtrack_core::ssz::{AttestationData, Checkpoint, SingleAttestation};
    use valtrack_core::subnets::compute_subscribed_attnets;
    use valtrack_core::GossipMessage;
    use valtrack_core::{Crawler, DiscoveredNode, Event, SszMessage};
    use valtrack_sentry::host::to_core_peer_id;
    use valtrack_sentry::{
        HandshakeConfig, Host, HostConfig, Libp2pHandshaker, Sentry, SentryConfig,
    };

    #[derive(Debug)]
    struct NoCrawler;
    impl Crawler for NoCrawler {
        fn discovered(&self) -> impl futures::Stream<Item = DiscoveredNode> + Send + 'static {
            futures::stream::pending()
        }
    }
    use crate::Collect;

    let _serial = crate::handshake::SERIAL.lock().await;
    let network = valtrack_core::Network::mainnet();
    let host = Host::spawn(
        HostConfig::builder(network.clone())
            .gossipsub(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let handshaker = Libp2pHandshaker::new(host, HandshakeConfig::default());
    let key = libp2p::identity::Keypair::generate_secp256k1();
    let peer = to_core_peer_id(&key.public().to_peer_id()).unwrap();
    let slot = network.current_slot(SystemTime::now()).unwrap();
    let epoch = slot / 32;
    let received = UNIX_EPOCH + network.slot_start(slot).unwrap() + Duration::from_millis(1500);
    let backbone = compute_subscribed_attnets(&peer.node_id(), epoch);
    let on_backbone = backbone.subnets()[0];
    let off_backbone = (0..64).find(|s| !backbone.contains(*s)).unwrap();
    let digest = network.fork_digest(epoch);
    let single = |validator: u64, root: u8| {
        SingleAttestation {
            committee_index: 3,
            attester_index: validator,
            data: AttestationData {
                slot,
                index: 0,
                beacon_block_root: [root; 32],
                source: Checkpoint::default(),
                target: Checkpoint {
                    epoch,
                    root: [1; 32],
                },
            },
            ..SingleAttestation::default()
        }
        .to_ssz_bytes()
    };
    // validator 7 at any slot and target, another block root
    let at = |slot: u64, target: u64| {
        SingleAttestation {
            committee_index: 3,
            attester_index: 7,
            data: AttestationData {
                slot,
                index: 0,
                beacon_block_root: [9; 32],
                source: Checkpoint::default(),
                target: Checkpoint {
                    epoch: target,
                    root: [1; 32],
                },
            },
            ..SingleAttestation::default()
        }
        .to_ssz_bytes()
    };
    let message = |subnet: u64, data: Vec<u8>| GossipMessage {
        topic: GossipTopic::new(digest, GossipKind::BeaconAttestation(subnet)),
        source: peer,
        received,
        data,
    };
    let far = 768_614_202_502_563; // its start in ms overflows an i64
    let messages = vec![
        // outside the gossip window: dropped before dedupe, so none of them can evict the
        // real epoch or take validator 7's first delivery
        message(off_backbone, at(far, far / 32)),
        message(off_backbone, at(u64::MAX - 1, (u64::MAX - 1) / 32)),
        message(off_backbone, at(slot, epoch + 1)), // target is not the slot's epoch
        message(off_backbone, at(slot - 64, (slot - 64) / 32)), // two epochs old
        message(off_backbone, single(7, 1)),
        message(off_backbone, single(7, 2)), // same validator, same epoch: no event
        message(off_backbone, vec![0xff; 17]), // garbage
        message(off_backbone, vec![0; 300]), // not a SingleAttestation
        message(on_backbone, single(8, 1)),
    ];
    let n = messages.len() as u64;
    let sink = Collect::default();
    let config = SentryConfig::builder("attrib-test", "here")
        .build()
        .unwrap();
    let sentry = Sentry::new(NoCrawler, handshaker, sink.clone(), config)
        .with_attestations(network.clone(), futures::stream::iter(messages));
    let stats = sentry.stats();
    let done = {
        let stats = stats.clone();
        let sink = sink.clone();
        async move {
            for _ in 0..100 {
                if stats.attestations.load(Ordering::Relaxed) == n
                    && sink.0.lock().unwrap().len() == 2
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    sentry.run(done).await.unwrap();
    assert_eq!(stats.attestations.load(Ordering::Relaxed), n);
    assert_eq!(stats.attestation_errors.load(Ordering::Relaxed), 2);
    assert_eq!(stats.attestations_untimely.load(Ordering::Relaxed), 4);
    let events: Vec<_> = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Attestation(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let (a, b) = (&events[0], &events[1]);
    assert_eq!(a.attester_index, Some(7));
    assert_eq!(a.beacon_block_root, [1; 32], "the first delivery wins");
    assert_eq!(a.form, AttestationForm::Single);
    assert_eq!(
        (a.slot, a.target_epoch, a.committee_index),
        (slot, epoch, 3)
    );
    assert_eq!(a.subnet, off_backbone);
    assert_eq!(a.first_seen_delay_ms, 1500);
    assert_eq!(a.meta.peer_id, peer);
    assert_eq!(
        a.evidence,
        Some(AttributionEvidence::UnsubscribedSubnet),
        "no subscription known, off the backbone"
    );
    assert_eq!(b.attester_index, Some(8));
    assert_eq!(b.evidence, Some(AttributionEvidence::FirstOnBackboneSubnet));
}
