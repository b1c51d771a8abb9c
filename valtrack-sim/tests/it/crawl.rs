//! The discv5 crawler against simulated DHTs on loopback.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use alloy_rlp::Bytes;
use discv5::Enr;
use enr::{CombinedKey, EnrKey, NodeId};
use futures::{Stream, StreamExt};
use valtrack_core::{AttestationSubnets, Crawler, DiscoveredNode, EnrClass, Network, NodeUpdate};
use valtrack_sentry::crawler::CrawlerConfigBuilder;
use valtrack_sentry::{CrawlerConfig, Discv5Crawler};
use valtrack_sim::{sim_node_id, sim_secret_key, SimDht, SimDiscv5, SimEnrFields};

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

fn config(network: &Network, boot: impl IntoIterator<Item = Enr>) -> CrawlerConfigBuilder {
    CrawlerConfig::builder(network)
        .listen(loopback())
        .bootnode_enrs(boot)
}

/// Reads `stream` until `done` says so or `limit` passes; returns everything read.
async fn collect_until(
    stream: &mut (impl Stream<Item = DiscoveredNode> + Unpin),
    limit: Duration,
    mut done: impl FnMut(&DiscoveredNode) -> bool,
) -> Vec<DiscoveredNode> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while let Some(node) = stream.next().await {
            let stop = done(&node);
            out.push(node);
            if stop {
                break;
            }
        }
    })
    .await;
    out
}

/// Waits until every id in `want` was reported new.
async fn until_all_new(
    stream: &mut (impl Stream<Item = DiscoveredNode> + Unpin),
    want: &HashSet<[u8; 32]>,
    limit: Duration,
) -> HashMap<[u8; 32], DiscoveredNode> {
    let mut seen = HashMap::new();
    collect_until(stream, limit, |node| {
        if node.update == NodeUpdate::New {
            seen.insert(node.info.node_id.0, node.clone());
        }
        want.iter().all(|id| seen.contains_key(id))
    })
    .await;
    seen
}

fn ids(enrs: &[Enr]) -> HashSet<[u8; 32]> {
    enrs.iter().map(|e| e.node_id().raw()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_every_node_of_a_200_node_dht() {
    // One test at a time in this binary: the handshake tests measure process-wide heap.
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let dht = SimDht::beacon_nodes(&network, 200, 1_000).await.unwrap();
    let truth = dht.enrs();
    // Re-crawls are part of the design: a node whose enumeration timed out (debug builds on
    // a loaded machine) is asked again in the next round.
    let crawler = Discv5Crawler::bind(
        config(&network, [truth[0].clone()])
            .recrawl_interval(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    let started = std::time::Instant::now();
    crawler.start();
    let want = ids(&truth);
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(120)).await;
    eprintln!("full coverage after {:?} (debug build)", started.elapsed());
    let found = want.iter().filter(|id| seen.contains_key(*id)).count();
    let stats = crawler.stats();
    eprintln!("coverage {found}/200, {stats:?}");
    assert_eq!(found, 200, "coverage {found}/200");
    for enr in &truth {
        let node = &seen[&enr.node_id().raw()];
        assert_eq!(node.class, EnrClass::OurNetwork);
        assert_eq!(node.info.seq, enr.seq());
        assert!(node.info.issues.is_empty());
        let attnets = node.info.attnets.unwrap();
        assert_eq!(attnets.count(), 2, "spec attnets: two subnets");
    }
    assert_eq!(crawler.known_count(), 200);
    assert_eq!(crawler.known_nodes().len(), 200);
    assert!(stats.requests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classifies_other_networks_and_nodes_without_eth2() {
    // One test at a time in this binary: the handshake tests measure process-wide heap.
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let mut specs = SimDht::beacon_specs(&network, 40, 2_000).unwrap();
    let mut expected = HashMap::new();
    for (i, spec) in specs.iter_mut().enumerate() {
        let class = match i % 4 {
            0 => {
                let eth2 = spec.fields.eth2.as_mut().unwrap();
                eth2.fork_digest = [0xde, 0xad, 0xbe, 0xef];
                EnrClass::OtherNetwork
            }
            1 => {
                spec.fields.eth2 = None;
                EnrClass::NoEth2
            }
            _ => EnrClass::OurNetwork,
        };
        expected.insert(sim_node_id(spec.secret_key).unwrap().raw(), class);
    }
    let dht = SimDht::spawn(specs, 7).await.unwrap();
    // Seeded by a node without eth2: bootnodes are never filtered.
    let boot = dht.nodes()[1].enr();
    let crawler = Discv5Crawler::bind(config(&network, [boot]).build().unwrap())
        .await
        .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let want = ids(&dht.enrs());
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(60)).await;
    assert_eq!(seen.len(), 40);
    for (id, class) in &expected {
        assert_eq!(seen[id].class, *class);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_seq_is_reported_as_seq_changed() {
    // One test at a time in this binary: the handshake tests measure process-wide heap.
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let dht = SimDht::beacon_nodes(&network, 30, 3_000).await.unwrap();
    let crawler = Discv5Crawler::bind(
        config(&network, [dht.nodes()[0].enr()])
            .recrawl_interval(Duration::from_millis(300))
            .peer_request_interval(Duration::from_millis(20))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let want = ids(&dht.enrs());
    assert_eq!(
        until_all_new(&mut stream, &want, Duration::from_secs(60))
            .await
            .len(),
        30
    );

    let node = &dht.nodes()[7];
    let before = node.enr().seq();
    let attnets = AttestationSubnets::from_subnets([1, 2, 3]);
    assert!(node.set_attnets(attnets));
    let target = node.node_id().raw();
    let got = collect_until(&mut stream, Duration::from_secs(30), |n| {
        n.info.node_id.0 == target && matches!(n.update, NodeUpdate::SeqChanged { .. })
    })
    .await;
    let last = got.last().expect("a report");
    assert_eq!(last.info.node_id.0, target);
    assert_eq!(last.update, NodeUpdate::SeqChanged { previous: before });
    assert_eq!(last.info.seq, before + 1);
    assert_eq!(last.info.attnets, Some(attnets));
    assert!(crawler.stats().seq_changed >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_reported_gone() {
    // One test at a time in this binary: the handshake tests measure process-wide heap.
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let mut dht = SimDht::beacon_nodes(&network, 30, 4_000).await.unwrap();
    let crawler = Discv5Crawler::bind(
        config(&network, [dht.nodes()[0].enr()])
            .recrawl_interval(Duration::from_millis(200))
            .gone_after(Duration::from_secs(5))
            .retry_after(Duration::from_millis(500))
            .peer_request_interval(Duration::from_millis(20))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let want = ids(&dht.enrs());
    assert_eq!(
        until_all_new(&mut stream, &want, Duration::from_secs(60))
            .await
            .len(),
        30
    );

    let stopped = dht.remove(12).unwrap();
    let target = stopped.node_id().raw();
    drop(stopped);
    let got = collect_until(&mut stream, Duration::from_secs(30), |n| {
        n.info.node_id.0 == target && n.update == NodeUpdate::Gone
    })
    .await;
    let gone: Vec<_> = got
        .iter()
        .filter(|n| n.update == NodeUpdate::Gone)
        .collect();
    assert_eq!(gone.len(), 1, "only the stopped node goes: {gone:?}");
    assert_eq!(gone[0].info.node_id.0, target);
    // Other nodes still list it, but a third party's stale record does not revive it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(crawler.known_count(), 29);
    assert!(!crawler
        .known_nodes()
        .iter()
        .any(|n| n.info.node_id.0 == target));
}

/// A UDP port on 127.0.0.1 that nothing listens on (bound, then freed).
fn closed_port() -> u16 {
    std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A key whose node id is at log-distance `distance` from `from`.
fn secp_key_at(from: NodeId, distance: u64, seed: &mut u64) -> CombinedKey {
    let from = discv5::Key::from(from);
    loop {
        *seed += 1;
        let secret = sim_secret_key(*seed);
        let id = sim_node_id(secret).unwrap();
        if from.log2_distance(&discv5::Key::from(id)) == Some(distance) {
            let mut bytes = secret;
            return CombinedKey::secp256k1_from_bytes(&mut bytes).unwrap();
        }
    }
}

fn ed25519_key_at(from: NodeId, distance: u64) -> CombinedKey {
    let from = discv5::Key::from(from);
    loop {
        let key = CombinedKey::generate_ed25519();
        let id = NodeId::from(key.public());
        if from.log2_distance(&discv5::Key::from(id)) == Some(distance) {
            return key;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_in_a_table_do_not_stop_the_crawl() {
    // One test at a time in this binary: the handshake tests measure process-wide heap.
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let dht = SimDht::beacon_nodes(&network, 30, 5_000).await.unwrap();
    // A server whose table holds only odd records, one per bucket from 256 down, so each is
    // the whole answer to one distance.
    let hostile = SimDiscv5::start(sim_secret_key(5_999), &SimEnrFields::default())
        .await
        .unwrap();
    let from = hostile.node_id();
    let mut seed = 6_000u64;
    let mut build = |distance: u64, f: &dyn Fn(&mut enr::Builder<CombinedKey>)| {
        let key = secp_key_at(from, distance, &mut seed);
        let mut b = Enr::builder();
        f(&mut b);
        b.build(&key).unwrap()
    };
    let closed = closed_port();
    let odd = [
        build(256, &|b| {
            b.ip4(Ipv4Addr::LOCALHOST).udp4(closed);
            b.add_value("eth2", &Bytes::from_static(&[1, 2, 3]));
            b.add_value("attnets", &Bytes::from(vec![0xff; 100]));
        }),
        build(255, &|b| {
            b.ip4(Ipv4Addr::LOCALHOST).udp4(closed);
            b.add_value("cgc", &Bytes::from(vec![0xff; 9]));
            b.add_value("syncnets", &Bytes::from_static(&[0xff, 0xff]));
            b.add_value("quic", &Bytes::new());
        }),
        build(254, &|b| {
            b.ip4(Ipv4Addr::LOCALHOST);
        }),
        build(253, &|b| {
            b.ip4(Ipv4Addr::UNSPECIFIED).udp4(0);
        }),
        build(252, &|b| {
            b.ip4(Ipv4Addr::LOCALHOST).udp4(closed).seq(u64::MAX);
        }),
        build(250, &|b| {
            b.ip6(Ipv6Addr::LOCALHOST).udp6(9000);
        }),
    ];
    let ed = ed25519_key_at(from, 251);
    let mut b = Enr::builder();
    b.ip4(Ipv4Addr::LOCALHOST).udp4(closed);
    let ed_enr = b.build(&ed).unwrap();
    for enr in odd.iter().chain([&ed_enr]) {
        assert!(hostile.insert_enr(enr.clone()));
    }

    let crawler = Discv5Crawler::bind(
        config(&network, [hostile.enr(), dht.nodes()[0].enr()])
            .retry_after(Duration::from_millis(500))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let mut want = ids(&dht.enrs());
    want.extend(odd.iter().map(|e| e.node_id().raw()));
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(60)).await;
    for (i, enr) in odd.iter().enumerate() {
        assert!(
            seen.contains_key(&enr.node_id().raw()),
            "odd record {i} missing"
        );
    }
    for id in &want {
        assert!(seen.contains_key(id), "missing {}", hex::encode(id));
    }
    let broken = &seen[&odd[0].node_id().raw()];
    assert!(broken.info.eth2.is_none());
    assert!(!broken.info.issues.is_empty());
    assert_eq!(broken.class, EnrClass::NoEth2);
    assert!(!seen[&odd[1].node_id().raw()].info.issues.is_empty());
    assert_eq!(seen[&odd[4].node_id().raw()].info.seq, u64::MAX);
    // The ed25519 record has no PeerId: dropped, counted, not reported.
    assert!(!seen.contains_key(&ed_enr.node_id().raw()));
    let stats = crawler.stats();
    assert!(stats.dropped_enrs >= 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_with_empty_top_buckets_is_still_enumerated() {
    // A two-node devnet: the bootnode knows one node, and it may sit at any distance. (CI once
    // missed a Lodestar node at distance 253 because three empty replies ended the walk.)
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let boot = SimDiscv5::start(sim_secret_key(7_999), &SimEnrFields::default())
        .await
        .unwrap();
    let mut seed = 8_000u64;
    let key = secp_key_at(boot.node_id(), 250, &mut seed);
    let closed = closed_port();
    let mut b = Enr::builder();
    b.ip4(Ipv4Addr::LOCALHOST).udp4(closed);
    let deep = b.build(&key).unwrap();
    assert!(boot.insert_enr(deep.clone()));

    let crawler = Discv5Crawler::bind(config(&network, [boot.enr()]).build().unwrap())
        .await
        .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let want = ids(&[boot.enr(), deep]);
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(20)).await;
    for id in &want {
        assert!(seen.contains_key(id), "missing {}", hex::encode(id));
    }
}

/// A subscriber that does not keep up (an event queue of 4, nobody reading while 60 nodes
/// are found) still gets every node: after the lag the table is replayed to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_fell_behind_gets_every_node_again() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let dht = SimDht::beacon_nodes(&network, 60, 1_000).await.unwrap();
    let truth = dht.enrs();
    let crawler = Discv5Crawler::bind(
        config(&network, [truth[0].clone()])
            .event_capacity(4)
            .recrawl_interval(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while crawler.known_count() < truth.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "crawler found {} of {}",
            crawler.known_count(),
            truth.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let want = ids(&truth);
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(20)).await;
    let found = want.iter().filter(|id| seen.contains_key(*id)).count();
    assert_eq!(found, truth.len(), "the lagging subscriber got {found}");
}

/// A full bucket of mainnet-size records (16 of ~260 bytes: four NODES packets) is seen
/// whole. The `discv5` crate used to hand a designated FINDNODE only the first packet of its
/// reply (4 records); `vendor/discv5` gathers every packet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_of_mainnet_size_records_is_seen_whole() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let network = Network::mainnet();
    let boot = SimDiscv5::start(sim_secret_key(9_999), &SimEnrFields::default())
        .await
        .unwrap();
    let from = discv5::Key::from(boot.node_id());
    let closed = closed_port();
    let mut records = Vec::new();
    let mut seed = 10_000u64;
    while records.len() < 16 {
        seed += 1;
        let secret = sim_secret_key(seed);
        let id = sim_node_id(secret).unwrap();
        if from.log2_distance(&discv5::Key::from(id)) != Some(256) {
            continue;
        }
        let mut fields = SimEnrFields::beacon(&network, id, 0, 9000, 9001);
        fields.ip6 = Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, seed as u16));
        let enr = valtrack_sim::sim_enr(secret, closed, &fields).unwrap();
        assert!(boot.insert_enr(enr.clone()));
        records.push(enr);
    }
    let bytes: usize = records.iter().map(|e| alloy_rlp::encode(e).len()).sum();
    // More than fits in one 1,280-byte packet (with its ~104 bytes of overhead) thrice over.
    assert!(
        bytes > 3 * 1176,
        "records too small to need several packets: {bytes} bytes"
    );

    let crawler = Discv5Crawler::bind(config(&network, [boot.enr()]).build().unwrap())
        .await
        .unwrap();
    let mut stream = Box::pin(crawler.discovered());
    crawler.start();
    let want = ids(&records);
    let seen = until_all_new(&mut stream, &want, Duration::from_secs(20)).await;
    let missing = want.iter().filter(|id| !seen.contains_key(*id)).count();
    assert_eq!(missing, 0, "{missing} of 16 records of the bucket not seen");
}

/// A record's signature is checked once per exact bytes: `vendor/discv5` keeps the SHA-256
/// of records that verified and decodes those bytes again without the check. A copy that
/// differs in any byte is still checked: after the genuine record has been seen (twice, the
/// second time from the cache), a copy with one signature byte changed and a copy with the
/// genuine signature over another IP are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_seen_before_does_not_vouch_for_a_forged_copy() {
    let _serial = crate::handshake::SERIAL.lock().await;
    let fields = SimEnrFields::default();
    let start = |seed| SimDiscv5::start(sim_secret_key(seed), &fields);
    let client = start(20_000).await.unwrap();
    let honest = start(20_001).await.unwrap();
    let genuine = valtrack_sim::sim_enr(sim_secret_key(20_002), closed_port(), &fields).unwrap();
    let bytes = alloy_rlp::encode(&genuine);
    let distance = |server: &SimDiscv5| {
        discv5::Key::from(server.node_id())
            .log2_distance(&discv5::Key::from(genuine.node_id()))
            .unwrap()
    };
    assert!(honest.insert_enr(genuine.clone()));
    for _ in 0..2 {
        let got = client
            .discv5()
            .find_node_designated_peer(honest.enr(), vec![distance(&honest)])
            .await
            .unwrap();
        assert_eq!(got, vec![genuine.clone()]);
    }

    let at = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let mut bad_signature = bytes.clone();
    bad_signature[at(genuine.signature()) + 10] ^= 1;
    let mut other_ip = bytes.clone();
    other_ip[at(&[0x84, 127, 0, 0, 1]) + 4] = 2;
    for (what, forged) in [("signature", bad_signature), ("content", other_ip)] {
        let forged = Enr::decode_unverified(&mut &forged[..]).unwrap();
        assert!(!forged.verify(), "{what}: the copy must not verify");
        assert_eq!(forged.node_id(), genuine.node_id());
        let forger = start(20_003).await.unwrap();
        assert!(forger.insert_enr(forged));
        let got = client
            .discv5()
            .find_node_designated_peer(forger.enr(), vec![distance(&forger)])
            .await;
        assert!(
            !matches!(&got, Ok(records) if !records.is_empty()),
            "{what}: a forged copy was accepted: {got:?}"
        );
    }
}
