//! Attestation attribution end to end: simulated validators publish `SingleAttestation`s,
//! nodes relay among themselves, one sentry in attestation mode attributes them; scored
//! against the ground truth.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_core::AttributionEvidence;
use valtrack_sentry::sim::{run_attribution, sim_network_with_slot, SimNet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribution_over_a_30_node_simnet_is_precise() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    // 250 ms slots: 8-second epochs.
    let network = sim_network_with_slot(
        Duration::from_secs(now.as_secs()),
        Duration::from_millis(250),
    );
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
}

/// With `keep_connected`, successful handshakes leave the connection open up to the cap (a
/// revisit reuses it); beyond the cap, and without the option, peers get Goodbye.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_keep_connections_up_to_the_cap() {
    use valtrack_core::Handshaker;
    use valtrack_sentry::sim::{sim_secret_key, SimNode, SimNodeConfig};
    use valtrack_sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker};

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
        HandshakeConfig {
            keep_connected: 2,
            ..HandshakeConfig::default()
        },
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
