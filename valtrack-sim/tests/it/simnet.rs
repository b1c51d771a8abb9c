//! The whole sentry (discv5 crawler, libp2p handshaker, GossipSub probe) over a 200-node
//! simulated network, checked node by node against the network's ground truth.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use valtrack_core::events::{DiscoveryReason, MetadataEvent, Muxer};
use valtrack_core::{Event, PeerId};
use valtrack_sentry::host::MuxerOffer;
use valtrack_sentry::{
    CrawlerConfig, Discv5Crawler, GossipProbe, HandshakeConfig, Host, HostConfig, Libp2pHandshaker,
    Sentry, SentryConfig,
};
use valtrack_sim::{SimNet, SimRole};

use crate::Collect;

#[derive(Default)]
struct Seen {
    found: HashSet<PeerId>,
    ok: HashMap<PeerId, Vec<(Instant, MetadataEvent)>>,
    failed: HashMap<PeerId, Vec<MetadataEvent>>,
}

fn tally(events: &[Event], at: &HashMap<String, Instant>) -> Seen {
    let mut seen = Seen::default();
    for e in events {
        match e {
            Event::Discovery(d) if d.reason == DiscoveryReason::FirstSeen => {
                seen.found.insert(d.meta.peer_id);
            }
            Event::Metadata(m) if m.error.is_none() => {
                let t = at
                    .get(&m.meta.event_id)
                    .copied()
                    .unwrap_or_else(Instant::now);
                seen.ok
                    .entry(m.meta.peer_id)
                    .or_default()
                    .push((t, m.clone()));
            }
            Event::Metadata(m) => {
                seen.failed
                    .entry(m.meta.peer_id)
                    .or_default()
                    .push(m.clone());
            }
            _ => {}
        }
    }
    seen
}

const REVISIT: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_over_a_200_node_simnet_matches_the_ground_truth() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let net = SimNet::builder(200).seed(42).spawn().await.unwrap();
    let network = net.network().clone();
    let host = Host::spawn(
        HostConfig::builder(network.clone())
            .listen_on_loopback()
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let crawler = Arc::new(
        // Bound, not started: it starts once the sentry listens (below), so the bootnode's
        // discovery event, sent as the crawl starts, cannot go out before anyone subscribes.
        Discv5Crawler::bind(
            CrawlerConfig::builder(&network)
                .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .bootnode_enrs([net.bootnode()])
                .build()
                .unwrap(),
        )
        .await
        .unwrap(),
    );
    let probe = GossipProbe::new(host.clone());
    let handshaker = Libp2pHandshaker::new(host, HandshakeConfig::default());
    let sink = Collect::default();
    let config = SentryConfig::builder("simnet-test", "loopback")
        .revisit_interval(REVISIT)
        .backoff(Duration::from_secs(60), Duration::from_secs(120))
        .tick(Duration::from_millis(50))
        .build()
        .unwrap();
    let sentry = Sentry::new(crawler.clone(), handshaker, sink.clone(), config).with_probe(&probe);

    // When each event arrived (for the revisit check), read while the sentry runs.
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let done = {
        let crawler = crawler.clone();
        let sink = sink.clone();
        let arrivals = arrivals.clone();
        let truth: Vec<(PeerId, SimRole)> = net
            .peers()
            .iter()
            .map(|p| (p.peer_id(), p.role()))
            .collect();
        async move {
            // First polled inside `Sentry::run`, after it subscribed to the crawler.
            crawler.start();
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let events = sink.0.lock().unwrap().clone();
                let mut at = arrivals.lock().unwrap();
                for e in &events {
                    at.entry(e.meta().event_id.clone())
                        .or_insert_with(Instant::now);
                }
                let seen = tally(&events, &at);
                let complete = truth.iter().all(|(peer, role)| {
                    seen.found.contains(peer)
                        && match role.expected_failure() {
                            None => seen.ok.get(peer).is_some_and(|v| v.len() >= 3),
                            Some(_) => seen.failed.contains_key(peer),
                        }
                });
                if complete || Instant::now() > deadline {
                    break;
                }
            }
        }
    };
    let started = Instant::now();
    sentry.run(done).await.unwrap();
    let took = started.elapsed();
    let events = sink.0.lock().unwrap().clone();
    let seen = tally(&events, &arrivals.lock().unwrap());
    eprintln!("200-node simnet: {} events in {took:?}", events.len());

    // Every node found, the bootnode too (it has no eth2 field and is not dialed).
    let boot = valtrack_core::EnrInfo::from_enr(&net.bootnode())
        .unwrap()
        .peer_id;
    assert!(seen.found.contains(&boot), "bootnode not reported");
    assert!(!seen.ok.contains_key(&boot) && !seen.failed.contains_key(&boot));
    let mut problems = Vec::new();
    let mut with_subscriptions = 0;
    let honest = net
        .peers()
        .iter()
        .filter(|p| p.role().expected_failure().is_none())
        .count();
    for p in net.peers() {
        let id = p.peer_id();
        if !seen.found.contains(&id) {
            problems.push(format!("{id} ({:?}): not discovered", p.role()));
            continue;
        }
        match p.role().expected_failure() {
            None => {
                let ok = seen.ok.get(&id).map(Vec::as_slice).unwrap_or_default();
                if ok.len() < 3 {
                    problems.push(format!("{id} ({:?}): {} handshakes", p.role(), ok.len()));
                    continue;
                }
                // Revisited once per (shortened) epoch, not more often.
                for w in ok.windows(2) {
                    let gap = w[1].0.duration_since(w[0].0);
                    if gap < REVISIT - Duration::from_millis(300) {
                        problems.push(format!("{id}: revisited after {gap:?}"));
                    }
                }
                let config = p.node().config();
                for (_, m) in ok {
                    let md = m.metadata.as_ref().unwrap();
                    let status = m.status.as_ref().unwrap();
                    if md.attnets != config.attnets
                        || md.custody_group_count != Some(config.custody_group_count)
                        || status.fork_digest != net.fork_digest()
                        || m.client.as_ref().map(|c| c.kind) != Some(p.client())
                        || m.agent_version.as_deref() != Some(config.agent_version.as_str())
                    {
                        problems.push(format!("{id}: recorded {m:?}, truth {config:?}"));
                    }
                    if config.muxers == MuxerOffer::MplexOnly
                        && m.transport == Some(valtrack_core::events::Transport::Tcp)
                        && m.muxer != Some(Muxer::Mplex)
                    {
                        problems.push(format!("{id}: mplex-only node, muxer {:?}", m.muxer));
                    }
                    if let Some(subs) = m.subscribed_attnets {
                        if subs != config.attnets {
                            problems.push(format!(
                                "{id}: subscribed {subs:?}, truth {:?}",
                                config.attnets
                            ));
                        }
                    }
                }
                if ok.iter().any(|(_, m)| m.subscribed_attnets.is_some()) {
                    with_subscriptions += 1;
                }
                if let Some(f) = seen.failed.get(&id) {
                    problems.push(format!("{id}: honest node failed {f:?}"));
                }
            }
            Some(kind) => {
                let failed = seen.failed.get(&id).map(Vec::as_slice).unwrap_or_default();
                if failed.is_empty() {
                    problems.push(format!("{id} ({:?}): no failure recorded", p.role()));
                }
                for f in failed {
                    let got = f.error.as_ref().map(|e| e.kind);
                    if got != Some(kind) {
                        problems.push(format!("{id} ({:?}): {got:?}, want {kind:?}", p.role()));
                    }
                }
                // Backed off (60 s): one attempt within the test.
                if failed.len() > 1 {
                    problems.push(format!("{id}: {} attempts despite backoff", failed.len()));
                }
                if seen.ok.contains_key(&id) {
                    problems.push(format!("{id} ({:?}): handshake succeeded", p.role()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Subscriptions arrive over GossipSub while connected; most visits see them.
    eprintln!("{with_subscriptions}/{honest} honest nodes with gossip subscriptions recorded");
    assert!(
        with_subscriptions * 10 >= honest * 9,
        "{with_subscriptions}/{honest} honest nodes with subscriptions"
    );
}
