//! Floods against a live sentry over a simulated network (`valtrack_sim::flood`): the
//! hostile peer is dropped and banned, or its streams closed, and the sentry's honest work
//! goes on meanwhile. `scripts/flood.py` runs the same floods at full scale with figures.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use valtrack_core::Event;
use valtrack_sentry::SentryService;
use valtrack_sim::flood::{
    gossip_flood, inbound_churn, rpc_abuse, ChurnConfig, GossipFloodConfig, RpcAbuse,
    RpcAbuseConfig,
};
use valtrack_sim::SimNet;

use crate::Collect;

/// A sentry with attestations on over `net`, running until the returned sender is dropped
/// or fired.
async fn sentry(
    net: &SimNet,
    revisit: Duration,
) -> (
    valtrack_sentry::Host,
    std::sync::Arc<valtrack_sentry::SentryStats>,
    Collect,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let boot = valtrack_core::parse_enr(&net.bootnode().to_base64()).unwrap();
    let sink = Collect::default();
    let service = SentryService::builder(net.network().clone())
        .bootnodes([boot])
        .listen_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .ports(0, 0, 0)
        .crawler("flood-test", "loopback")
        .attestations(true)
        .revisit_interval(revisit)
        .build(sink.clone())
        .await
        .unwrap();
    let (host, stats) = (service.host().clone(), service.stats());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = service
            .run(async move {
                let _ = stopped.await;
            })
            .await;
    });
    (host, stats, sink, stop, task)
}

/// Waits until the sentry has handshaken `n` times (at most 60 s).
async fn until_handshakes(stats: &valtrack_sentry::SentryStats, n: u64) {
    let started = Instant::now();
    while stats.handshakes_ok.load(Relaxed) < n && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stats.handshakes_ok.load(Relaxed) >= n, "no handshakes");
}

fn tcp_addr(host: &valtrack_sentry::Host) -> libp2p::Multiaddr {
    host.listen_addrs()
        .iter()
        .find(|a| {
            a.iter()
                .any(|p| matches!(p, libp2p::multiaddr::Protocol::Tcp(_)))
        })
        .cloned()
        .unwrap()
}

/// (validator, slot) of every attestation event the sentry emitted.
fn attested(sink: &Collect) -> HashSet<(u64, u64)> {
    sink.0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Attestation(a) => Some((a.attester_index?, a.slot)),
            _ => None,
        })
        .collect()
}

/// Of the attestations the simulated validators of nodes that accept handshakes (the nodes
/// a sentry keeps connected) published in `slots`, the share the sentry recorded.
fn recall(net: &SimNet, sink: &Collect, slots: std::ops::Range<u64>) -> (f64, usize) {
    let seen = attested(sink);
    let kept: HashSet<_> = net
        .peers()
        .iter()
        .filter(|p| p.role().expected_failure().is_none())
        .map(|p| p.peer_id())
        .collect();
    let published: Vec<_> = net
        .published_attestations()
        .into_iter()
        .filter(|a| a.published && slots.contains(&a.duty.slot) && kept.contains(&a.peer_id))
        .collect();
    let got = published
        .iter()
        .filter(|a| seen.contains(&(a.duty.validator, a.duty.slot)))
        .count();
    (got as f64 / published.len().max(1) as f64, published.len())
}

/// Peers publishing malformed, not-snappy, oversized and far-future attestations at 2,000 a
/// second on all 64 subnets, one after another for 8 s, are each banned within seconds and
/// their redials closed at once; no honest peer is banned, and the honest validators'
/// attestations are recorded during the floods as well as before them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_flooders_are_banned_and_honest_attestations_go_on() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let net = SimNet::builder(16)
        .seed(7)
        .attestations(true)
        .spawn()
        .await
        .unwrap();
    let network = net.network().clone();
    let (host, stats, sink, stop, task) = sentry(&net, Duration::from_secs(30)).await;
    until_handshakes(&stats, 10).await;
    // a few slots of honest traffic first
    tokio::time::sleep(Duration::from_secs(4)).await;
    let slot = || network.current_slot(std::time::SystemTime::now()).unwrap();
    let before = slot();
    let defence = host.gossip_defence();
    // flooders from fresh identities in turn, each until dropped, for 8 s
    let started = Instant::now();
    let mut reports = Vec::new();
    while started.elapsed() < Duration::from_secs(8) {
        let report = gossip_flood(
            &network,
            host.peer_id(),
            vec![tcp_addr(&host)],
            &GossipFloodConfig {
                rate: 2_000,
                duration: Duration::from_secs(8),
                oversized_frames: false,
                seed: reports.len() as u64 + 3,
            },
        )
        .await
        .unwrap();
        reports.push(report);
    }
    let after = slot();
    // let the last slot's attestations arrive
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    let _ = task.await;

    for report in &reports {
        let banned_after = report
            .disconnected_after
            .unwrap_or_else(|| panic!("a flooder was not dropped: {report:?}, {defence:?}"));
        assert!(banned_after < Duration::from_secs(5), "{report:?}");
        assert_eq!(report.redials, (3, 3), "every redial closed: {report:?}");
        // Its junk got it banned. The ban comes at the first once-a-second sweep after the
        // score reaches -80. Message n goes to subnet n % 64 as kind n % 4, so 48 subnets get
        // invalid ones (P4: minus the squared count per subnet) and 16 the far-future kind
        // (P5: -0.1 each): the fewest messages that reach -80 are 78. A sweep right after
        // that leaves few more (seen: 90 and 100 published, then refused); a ban with fewer
        // would not be the flood's doing.
        assert!(report.total() >= 78, "{report:?}");
    }
    assert!(reports.len() >= 2, "{reports:?}");
    assert_eq!(
        defence.banned.load(Relaxed),
        reports.len() as u64,
        "only the flooders: {reports:?}"
    );
    assert_eq!(defence.banned_now.load(Relaxed), reports.len() as u64);
    assert!(
        defence.refused.load(Relaxed) >= 3 * reports.len() as u64,
        "{defence:?}"
    );
    // What reached the host's judgement before the ban (GossipSub drops and penalises
    // invalid snappy and oversized payloads itself).
    assert!(defence.rejected.load(Relaxed) > 0, "{defence:?}");
    assert!(defence.untimely.load(Relaxed) > 0, "{defence:?}");
    // none of it reached the attribution
    assert_eq!(stats.attestation_errors.load(Relaxed), 0);
    assert_eq!(stats.attestations_untimely.load(Relaxed), 0);
    let (during, n_during) = recall(&net, &sink, before + 1..after);
    let (earlier, n_earlier) = recall(&net, &sink, before.saturating_sub(4)..before);
    assert!(n_during > 20 && n_earlier > 15, "{n_during} {n_earlier}");
    assert!(
        during >= 0.95 && during >= earlier - 0.05,
        "recall during the flood {during:.3} ({n_during}), before {earlier:.3} ({n_earlier})"
    );
    // The sentry never took a junk attestation for a real one.
    assert_eq!(
        stats.attributions.load(Relaxed),
        attested(&sink).len() as u64
    );
}

/// A peer abusing req/resp (silent streams, a Status request dripped a byte a second,
/// 2^30-byte length prefixes; oversize prefixes in answer to the sentry's own requests) has
/// every stream closed by the sentry's timeouts and limits, and the sentry's handshakes with
/// honest peers go on meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn req_resp_abuse_is_bounded_and_handshakes_go_on() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let net = SimNet::builder(12).seed(8).spawn().await.unwrap();
    let (host, stats, _sink, stop, task) = sentry(&net, Duration::from_secs(2)).await;
    until_handshakes(&stats, 5).await;
    let ok_before = stats.handshakes_ok.load(Relaxed);
    let started = Instant::now();
    let report = rpc_abuse(
        host.peer_id(),
        tcp_addr(&host),
        &RpcAbuseConfig {
            streams: 90,
            concurrency: 45,
            hold: Duration::from_secs(40),
        },
    )
    .await
    .unwrap();
    let took = started.elapsed();
    let ok_during = stats.handshakes_ok.load(Relaxed) - ok_before;
    let _ = stop.send(());
    let _ = task.await;

    for (i, abuse) in RpcAbuse::ALL.iter().enumerate() {
        let settled = report.closed_by_target[i] + report.refused[i];
        assert_eq!(
            settled, 30,
            "{abuse:?}: every stream closed or refused: {report:?}"
        );
        assert!(
            report.longest[i] < Duration::from_secs(30),
            "{abuse:?} held {:?}: {report:?}",
            report.longest[i]
        );
    }
    assert!(report.opened.iter().sum::<u64>() > 0, "{report:?}");
    let i = RpcAbuse::ALL
        .iter()
        .position(|a| *a == RpcAbuse::OversizePrefix)
        .unwrap();
    assert!(report.longest[i] < Duration::from_secs(5), "{report:?}");
    assert!(
        ok_during >= 5,
        "handshakes during the abuse ({took:?}): {ok_during}"
    );
}

/// A thousand inbound connections from fresh identities that complete noise and yamux and
/// close at once: the sentry accepts them, forgets them (no peer added, none of them
/// connected after), and goes on handshaking its peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_churn_leaves_nothing_behind() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let net = SimNet::builder(12).seed(9).spawn().await.unwrap();
    let (host, stats, _sink, stop, task) = sentry(&net, Duration::from_secs(2)).await;
    until_handshakes(&stats, 5).await;
    // the sentry's own peers: at most every simulated node
    let sim_nodes = net.len() as u64;
    let peers_before = stats.peers.load(Relaxed);
    let ok_before = stats.handshakes_ok.load(Relaxed);
    let report = inbound_churn(
        host.peer_id(),
        tcp_addr(&host),
        &ChurnConfig {
            connections: 1_000,
            concurrency: 40,
        },
    )
    .await;
    let ok_during = stats.handshakes_ok.load(Relaxed) - ok_before;
    // the sentry notices the closes within moments
    let started = Instant::now();
    while host.connected_peers() > sim_nodes && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connected_after = host.connected_peers();
    let _ = stop.send(());
    let _ = task.await;

    assert!(report.completed >= 950, "{report:?}");
    assert!(
        connected_after <= sim_nodes,
        "{connected_after} connected, {sim_nodes} nodes"
    );
    // what the crawl found meanwhile, never a churned identity
    let peers_after = stats.peers.load(Relaxed);
    assert!(
        peers_after >= peers_before && peers_after <= sim_nodes + 1,
        "peers {peers_before} -> {peers_after}, {sim_nodes} nodes and the bootnode"
    );
    assert!(
        ok_during >= 3,
        "handshakes during the churn: {ok_during} ({report:?})"
    );
}
