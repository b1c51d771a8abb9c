//! The Sentry over simulated nodes: discovery events, typed failures, revisits, backoff,
//! ENR updates and disappearance — checked against the nodes' configuration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::{self, Stream};
use tokio::sync::mpsc;
use valtrack_core::events::{DiscoveryReason, HandshakeErrorKind};
use valtrack_core::{
    Crawler, DiscoveredNode, EnrClass, Event, ForkDigest, Network, NodeUpdate, PeerId,
};
use valtrack_sentry::host::{MuxerOffer, PeerMode};
use valtrack_sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker, Sentry, SentryConfig};
use valtrack_sim::{sim_secret_key, Hostility, SimNode, SimNodeConfig};

/// A crawler fed by the test.
#[derive(Debug)]
struct TestCrawler(Mutex<Option<mpsc::Receiver<DiscoveredNode>>>);

impl Crawler for TestCrawler {
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
        let rx = self.0.lock().unwrap().take();
        stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let node = rx.recv().await?;
            Some((node, Some(rx)))
        })
    }
}

use crate::Collect;

fn network() -> Network {
    Network::mainnet()
}

fn digests() -> Vec<ForkDigest> {
    network().all_digests().iter().map(|d| d.digest).collect()
}

async fn sim(n: u64, f: impl FnOnce(&mut SimNodeConfig)) -> SimNode {
    let mut c = SimNodeConfig::new(network(), sim_secret_key(n));
    f(&mut c);
    SimNode::spawn(c).await.unwrap()
}

async fn handshaker() -> Libp2pHandshaker {
    let host = Host::spawn(
        HostConfig::builder(network())
            .gossipsub(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    Libp2pHandshaker::new(
        host,
        HandshakeConfig::builder()
            .prefer_quic(false)
            .build()
            .unwrap(),
    )
}

/// A discv5-only node: a signed ENR with no eth2 field.
fn bootnode_without_eth2() -> DiscoveredNode {
    let key = enr::k256::ecdsa::SigningKey::from_slice(&sim_secret_key(999)).unwrap();
    let enr = valtrack_core::Enr::builder()
        .ip4(std::net::Ipv4Addr::LOCALHOST)
        .udp4(9)
        .build(&key)
        .unwrap();
    let info = valtrack_core::EnrInfo::from_enr(&enr).unwrap();
    DiscoveredNode {
        enr: enr.to_base64(),
        class: info.classify(&digests()),
        info,
        update: NodeUpdate::New,
    }
}

fn metadata_events(events: &[Event]) -> HashMap<PeerId, Vec<valtrack_core::events::MetadataEvent>> {
    let mut out: HashMap<PeerId, Vec<_>> = HashMap::new();
    for e in events {
        if let Event::Metadata(m) = e {
            out.entry(m.meta.peer_id).or_default().push(m.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_records_every_kind_of_node() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let honest = sim(201, |c| {
        c.attnets = valtrack_core::AttestationSubnets::from_subnets([11, 12]);
        c.agent_version = "teku/teku/v25.1.0/linux-x86_64/corretto-java-21".into();
    })
    .await;
    let mplex = sim(202, |c| c.muxers = MuxerOffer::MplexOnly).await;
    let full = sim(203, |c| c.mode = PeerMode::Full).await;
    let other = sim(204, |c| c.fork_digest = Some(ForkDigest([1, 2, 3, 4]))).await;
    let unreachable = sim(205, |c| c.unreachable = true).await;
    let hostile = sim(206, |c| c.hostility = Some(Hostility::Garbage)).await;
    let nodes = [&honest, &mplex, &full, &other, &unreachable, &hostile];
    let bootnode = bootnode_without_eth2();
    assert_eq!(bootnode.class, EnrClass::NoEth2);

    let (tx, rx) = mpsc::channel(64);
    let sink = Collect::default();
    let config = SentryConfig::builder("test-sentry", "loopback")
        .revisit_interval(Duration::from_millis(800))
        .backoff(Duration::from_secs(30), Duration::from_secs(60))
        .tick(Duration::from_millis(50))
        .build()
        .unwrap();
    let sentry = Sentry::new(
        TestCrawler(Mutex::new(Some(rx))),
        handshaker().await,
        sink.clone(),
        config,
    );
    let stats = sentry.stats();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(sentry.run(async move {
        let _ = stop_rx.await;
    }));
    for n in nodes {
        tx.send(n.discovered(&digests())).await.unwrap();
    }
    tx.send(bootnode.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;

    // A higher ENR seq is reported; a node the crawler lost disappears.
    let mut updated = honest.discovered(&digests());
    updated.info.seq += 1;
    tx.send(updated).await.unwrap();
    let mut gone = mplex.discovered(&digests());
    gone.update = NodeUpdate::Gone;
    tx.send(gone).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop_tx.send(()).unwrap();
    running.await.unwrap().unwrap();

    let events = sink.0.lock().unwrap().clone();
    let discoveries: Vec<_> = events
        .iter()
        .filter_map(|e| {
            if let Event::Discovery(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .collect();
    let first: Vec<_> = discoveries
        .iter()
        .filter(|d| d.reason == DiscoveryReason::FirstSeen)
        .collect();
    assert_eq!(first.len(), 7, "one first-seen event per node");
    assert!(discoveries
        .iter()
        .any(|d| d.reason == DiscoveryReason::SeqChanged
            && d.meta.peer_id == honest.enr_info().peer_id));
    assert!(discoveries
        .iter()
        .any(|d| d.reason == DiscoveryReason::Disappeared
            && d.meta.peer_id == mplex.enr_info().peer_id));

    let by_peer = metadata_events(&events);
    assert!(
        !by_peer.contains_key(&bootnode.info.peer_id),
        "discv5-only nodes are not dialed"
    );
    // Honest nodes: handshaken, then revisited every (short) epoch, with the true values.
    for n in [&honest, &mplex] {
        let ok: Vec<_> = by_peer[&n.enr_info().peer_id]
            .iter()
            .filter(|m| m.error.is_none())
            .collect();
        assert!(ok.len() >= 2, "revisited: {} handshakes", ok.len());
        let md = ok[0].metadata.as_ref().unwrap();
        assert_eq!(md.attnets, n.config().attnets);
        assert_eq!(
            ok[0].status.as_ref().unwrap().fork_digest,
            n.enr_info().fork_digest().unwrap()
        );
    }
    let teku = &by_peer[&honest.enr_info().peer_id][0];
    assert_eq!(
        teku.client.as_ref().unwrap().kind,
        valtrack_core::ClientKind::Teku
    );
    assert_eq!(teku.muxer, Some(valtrack_core::events::Muxer::Yamux));
    assert_eq!(
        by_peer[&mplex.enr_info().peer_id][0].muxer,
        Some(valtrack_core::events::Muxer::Mplex)
    );
    // Failures: typed, and backed off (one attempt each within the 30 s backoff).
    for (n, kind) in [
        (&full, HandshakeErrorKind::TooManyPeers),
        (&other, HandshakeErrorKind::IrrelevantNetwork),
        (&unreachable, HandshakeErrorKind::Refused),
        (&hostile, HandshakeErrorKind::ProtocolViolation),
    ] {
        let attempts = &by_peer[&n.enr_info().peer_id];
        assert_eq!(attempts.len(), 1, "{kind:?}: {attempts:?}");
        assert_eq!(attempts[0].error.as_ref().unwrap().kind, kind);
    }
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.discovered.load(Relaxed), 7);
    assert_eq!(stats.handshakes_failed.load(Relaxed), 4);
    assert_eq!(stats.sink_errors.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_first_dial_is_retried_with_growing_backoff() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let unreachable = sim(210, |c| c.unreachable = true).await;
    let (tx, rx) = mpsc::channel(4);
    let sink = Collect::default();
    let config = SentryConfig::builder("test-sentry", "loopback")
        .backoff(Duration::from_millis(200), Duration::from_secs(10))
        .tick(Duration::from_millis(20))
        .build()
        .unwrap();
    let sentry = Sentry::new(
        TestCrawler(Mutex::new(Some(rx))),
        handshaker().await,
        sink.clone(),
        config,
    );
    tx.send(unreachable.discovered(&digests())).await.unwrap();
    // Attempts at ~0, 0.2, 0.6, 1.4 s: four within 2 s, not more.
    sentry
        .run(tokio::time::sleep(Duration::from_millis(2000)))
        .await
        .unwrap();
    let attempts = metadata_events(&sink.0.lock().unwrap())[&unreachable.enr_info().peer_id].len();
    assert!((3..=4).contains(&attempts), "{attempts} attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_events_carry_gossip_subscriptions() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let attnets = valtrack_core::AttestationSubnets::from_subnets([20, 21]);
    let node = sim(220, |c| {
        c.attnets = attnets;
        c.gossipsub = true;
    })
    .await;
    let host = Host::spawn(HostConfig::builder(network()).build().unwrap())
        .await
        .unwrap();
    let probe = valtrack_sentry::GossipProbe::new(host.clone());
    let handshaker = Libp2pHandshaker::new(
        host,
        HandshakeConfig::builder()
            .prefer_quic(false)
            .build()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel(4);
    let sink = Collect::default();
    let config = SentryConfig::builder("test-sentry", "loopback")
        .revisit_interval(Duration::from_millis(400))
        .tick(Duration::from_millis(20))
        .build()
        .unwrap();
    let sentry = Sentry::new(
        TestCrawler(Mutex::new(Some(rx))),
        handshaker,
        sink.clone(),
        config,
    )
    .with_probe(&probe);
    tx.send(node.discovered(&digests())).await.unwrap();
    sentry
        .run(tokio::time::sleep(Duration::from_millis(2500)))
        .await
        .unwrap();
    let events = metadata_events(&sink.0.lock().unwrap())[&node.enr_info().peer_id].clone();
    assert!(events.len() >= 2, "{} visits", events.len());
    assert!(
        events.iter().any(|e| e.subscribed_attnets == Some(attnets)),
        "no event carried the node's subscriptions: {:?}",
        events
            .iter()
            .map(|e| e.subscribed_attnets)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_dial_us_become_inbound_metadata_events() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let host = Host::spawn(
        HostConfig::builder(network())
            .listen_on_loopback()
            .gossipsub(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let handshaker = Libp2pHandshaker::new(host.clone(), HandshakeConfig::default());
    let inbound = handshaker.inbound(4).unwrap();
    assert!(handshaker.inbound(4).is_none(), "the stream is taken once");
    let (_tx, rx) = mpsc::channel(1);
    let sink = Collect::default();
    let config = SentryConfig::builder("test-sentry", "loopback")
        .tick(Duration::from_millis(20))
        .build()
        .unwrap();
    let sentry = Sentry::new(
        TestCrawler(Mutex::new(Some(rx))),
        handshaker,
        sink.clone(),
        config,
    )
    .with_inbound(inbound);
    let stats = sentry.stats();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(sentry.run(async move {
        let _ = stop_rx.await;
    }));

    let dialers = [
        sim(230, |c| {
            c.attnets = valtrack_core::AttestationSubnets::from_subnets([5, 6]);
            c.agent_version = "nimbus".into();
            c.muxers = MuxerOffer::MplexOnly;
        })
        .await,
        sim(231, |c| {
            c.attnets = valtrack_core::AttestationSubnets::from_subnets([7, 8])
        })
        .await,
    ];
    let digest = network().fork_digest(
        network()
            .current_epoch(std::time::SystemTime::now())
            .unwrap(),
    );
    for n in &dialers {
        // Dial the sentry and send Status first, as a dialer must.
        n.host()
            .dial(host.peer_id(), vec![host.listen_addrs()[0].clone()])
            .await
            .unwrap();
        let status = n.host().status_for(digest).await.unwrap();
        n.host()
            .request(
                host.peer_id(),
                valtrack_sentry::rpc::RpcRequest::Status(status),
            )
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metadata_events(&sink.0.lock().unwrap()).len() < 2 && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
    let by_peer = metadata_events(&sink.0.lock().unwrap());
    for n in &dialers {
        let events = &by_peer[&n.enr_info().peer_id];
        assert_eq!(events.len(), 1, "{events:?}");
        let e = &events[0];
        assert!(e.error.is_none(), "{e:?}");
        assert_eq!(e.direction, valtrack_core::events::Direction::Inbound);
        assert_eq!(e.metadata.as_ref().unwrap().attnets, n.config().attnets);
        assert_eq!(
            e.agent_version.as_deref(),
            Some(n.config().agent_version.as_str())
        );
    }
    assert_eq!(
        by_peer[&dialers[0].enr_info().peer_id][0].muxer,
        Some(valtrack_core::events::Muxer::Mplex)
    );
    assert_eq!(stats.inbound.load(std::sync::atomic::Ordering::Relaxed), 2);
}
