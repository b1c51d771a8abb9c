//! Time to 50/90/99/100 % coverage of a simulated discv5 DHT: the enumeration crawler
//! ([`Discv5Crawler`]) against a random walk (`find_node(random id)`, one lookup at a time).
//! Prints a table, with requests sent and the DHT's RSS per node.
//!
//! `cargo bench --bench crawl` (release, 1,000 nodes; `VALTRACK_CRAWL_NODES` overrides).
//! Without `--bench` (as `cargo test` runs it) it crawls a small DHT as a smoke test.
//!
//! The DHT runs in this process, so each node's answers cost CPU here too.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use valtrack::core::{Crawler, Network, NodeUpdate};
use valtrack::sentry::{CrawlerConfig, Discv5Crawler};
use valtrack_sim::SimDht;

const MARKS: [f64; 4] = [0.5, 0.9, 0.99, 1.0];

/// Resident set size of this process, in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

struct Row {
    method: String,
    marks: [Option<Duration>; 4],
    coverage: usize,
    requests: String,
}

/// Records when coverage passes each mark.
fn mark(marks: &mut [Option<Duration>; 4], found: usize, n: usize, elapsed: Duration) {
    for (slot, share) in marks.iter_mut().zip(MARKS) {
        if slot.is_none() && found as f64 >= share * n as f64 {
            *slot = Some(elapsed);
        }
    }
}

async fn enumeration(
    network: &Network,
    dht: &SimDht,
    limit: Duration,
    distances: usize,
    in_flight: usize,
    pacing: Duration,
) -> Row {
    let truth: HashSet<_> = dht.enrs().iter().map(|e| e.node_id().raw()).collect();
    let config = CrawlerConfig::builder(network)
        .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .bootnode_enrs([dht.nodes()[0].enr()])
        .distances_per_request(distances)
        .max_in_flight(in_flight)
        .peer_request_interval(pacing)
        .build()
        .unwrap();
    let crawler = Discv5Crawler::bind(config).await.unwrap();
    let mut stream = Box::pin(crawler.discovered());
    let start = Instant::now();
    crawler.start();
    let mut seen = HashSet::new();
    let mut marks = [None; 4];
    let _ = tokio::time::timeout(limit, async {
        while let Some(node) = stream.next().await {
            if node.update == NodeUpdate::New && truth.contains(&node.info.node_id.0) {
                seen.insert(node.info.node_id.0);
                mark(&mut marks, seen.len(), truth.len(), start.elapsed());
                if seen.len() == truth.len() {
                    break;
                }
            }
        }
    })
    .await;
    let stats = crawler.stats();
    Row {
        method: format!(
            "enumeration, {distances} dist/request, {in_flight} in flight, {} ms/peer pacing",
            pacing.as_millis()
        ),
        marks,
        coverage: seen.len(),
        requests: format!("{} FINDNODE", stats.requests),
    }
}

async fn random_walk(dht: &SimDht, limit: Duration) -> Row {
    let truth: HashSet<_> = dht.enrs().iter().map(|e| e.node_id().raw()).collect();
    let key = enr::CombinedKey::generate_secp256k1();
    let local = discv5::Enr::builder().build(&key).unwrap();
    let mut config =
        discv5::ConfigBuilder::new(discv5::ListenConfig::from_ip(Ipv4Addr::LOCALHOST.into(), 0));
    config
        .session_cache_capacity(5_000)
        .disable_enr_update()
        .auto_nat_listen_duration(None);
    let mut discv5 = discv5::Discv5::new(local, key, config.build()).unwrap();
    discv5.start().await.unwrap();
    discv5.add_enr(dht.nodes()[0].enr()).unwrap();
    let start = Instant::now();
    let mut seen = HashSet::new();
    let mut marks = [None; 4];
    let mut lookups = 0u64;
    while start.elapsed() < limit && seen.len() < truth.len() {
        lookups += 1;
        let remaining = limit.saturating_sub(start.elapsed());
        let Ok(Ok(found)) =
            tokio::time::timeout(remaining, discv5.find_node(enr::NodeId::random())).await
        else {
            continue;
        };
        for enr in found {
            if truth.contains(&enr.node_id().raw()) {
                seen.insert(enr.node_id().raw());
            }
        }
        mark(&mut marks, seen.len(), truth.len(), start.elapsed());
    }
    Row {
        method: "random walk, 1 lookup at a time".into(),
        marks,
        coverage: seen.len(),
        requests: format!("{lookups} lookups"),
    }
}

/// A plain discv5 client (no table of its own to speak of) for designated FINDNODEs.
async fn client() -> discv5::Discv5 {
    let key = enr::CombinedKey::generate_secp256k1();
    let local = discv5::Enr::builder().build(&key).unwrap();
    let mut config =
        discv5::ConfigBuilder::new(discv5::ListenConfig::from_ip(Ipv4Addr::LOCALHOST.into(), 0));
    config
        .session_cache_capacity(5_000)
        .disable_enr_update()
        .auto_nat_listen_duration(None);
    let mut discv5 = discv5::Discv5::new(local, key, config.build()).unwrap();
    discv5.start().await.unwrap();
    discv5
}

/// Records a designated FINDNODE brings back against what the node's table holds, by bucket
/// size: one distance per request, and three (the nearest of them first, at most 16 nodes).
/// Returns rows `(bucket size class, distances per request, in the tables, returned)`.
async fn bucket_coverage(dht: &SimDht, sample: usize) -> Vec<(String, usize, usize, usize)> {
    let discv5 = client().await;
    let classes = ["1–3", "4–7", "8–11", "12–16"];
    let class = |n: usize| match n {
        0..=3 => 0,
        4..=7 => 1,
        8..=11 => 2,
        _ => 3,
    };
    // [distances per request][class] = (truth, returned)
    let mut sums = [[(0usize, 0usize); 4]; 2];
    let step = (dht.len() / sample.max(1)).max(1);
    for node in dht.nodes().iter().step_by(step).take(sample) {
        let me: discv5::Key<enr::NodeId> = node.node_id().into();
        let mut by_distance = std::collections::BTreeMap::<u64, usize>::new();
        for enr in node.discv5().table_entries_enr() {
            if let Some(d) = me.log2_distance(&enr.node_id().into()) {
                *by_distance.entry(d).or_default() += 1;
            }
        }
        let asks: Vec<(usize, Vec<u64>)> = by_distance
            .keys()
            .map(|&d| (0, vec![d]))
            .chain(
                by_distance
                    .keys()
                    .filter(|&&d| d >= 3)
                    .map(|&d| (1, vec![d, d - 1, d - 2])),
            )
            .collect();
        for (kind, distances) in asks {
            let truth: usize = distances
                .iter()
                .map(|d| by_distance.get(d).copied().unwrap_or(0))
                .sum::<usize>()
                .min(16);
            if truth == 0 {
                continue;
            }
            let Ok(Ok(got)) = tokio::time::timeout(
                Duration::from_secs(5),
                discv5.find_node_designated_peer(node.enr(), distances.clone()),
            )
            .await
            else {
                continue;
            };
            let got = got
                .iter()
                .filter(|e| {
                    me.log2_distance(&e.node_id().into())
                        .is_some_and(|d| distances.contains(&d))
                })
                .count();
            let slot = &mut sums[kind][class(truth)];
            slot.0 += truth;
            slot.1 += got.min(truth);
        }
    }
    let mut rows = Vec::new();
    for (kind, per) in sums.iter().enumerate() {
        for (c, &(truth, got)) in per.iter().enumerate() {
            if truth > 0 {
                rows.push((classes[c].to_string(), [1, 3][kind], truth, got));
            }
        }
    }
    rows
}

fn fmt(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("VALTRACK_CRAWL_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 1_000 } else { 40 });
    let limit = Duration::from_secs(if bench { 60 } else { 30 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let network = Network::mainnet();
    let mut rows = Vec::new();
    let mut rss_per_node = 0;
    let mut startup = Duration::ZERO;
    let mut buckets = Vec::new();
    let mut record_bytes = 0;
    runtime.block_on(async {
        let paced = valtrack::sentry::crawler::DEFAULT_PEER_REQUEST_INTERVAL;
        let cases: &[(usize, usize, Duration)] = if bench {
            &[
                (1, 32, paced),
                (3, 32, paced),
                (1, 32, Duration::ZERO),
                (1, 64, Duration::ZERO),
            ]
        } else {
            &[(1, 32, paced)]
        };
        for (i, &(distances, in_flight, pacing)) in cases.iter().enumerate() {
            let before = rss();
            let t = Instant::now();
            let dht = SimDht::beacon_nodes(&network, n, 100_000 * (i as u64 + 1))
                .await
                .unwrap();
            if i == 0 {
                // Later DHTs reuse the memory the allocator kept from earlier ones.
                startup = t.elapsed();
                rss_per_node = rss().saturating_sub(before) / n as u64;
                record_bytes = dht
                    .enrs()
                    .iter()
                    .map(|e| alloy_rlp::encode(e).len())
                    .sum::<usize>()
                    / n.max(1);
                if bench {
                    buckets = bucket_coverage(&dht, 200).await;
                }
            }
            rows.push(enumeration(&network, &dht, limit, distances, in_flight, pacing).await);
        }
        let dht = SimDht::beacon_nodes(&network, n, 900_000).await.unwrap();
        rows.push(random_walk(&dht, limit).await);
    });
    println!(
        "\nCoverage of a {n}-node simulated DHT (start-up {:.2} s, RSS {:.2} MB per node), limit {} s\n",
        startup.as_secs_f64(),
        rss_per_node as f64 / 1e6,
        limit.as_secs()
    );
    println!("| method | 50 % | 90 % | 99 % | 100 % | found | requests |");
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {}/{n} | {} |",
            row.method,
            fmt(row.marks[0]),
            fmt(row.marks[1]),
            fmt(row.marks[2]),
            fmt(row.marks[3]),
            row.coverage,
            row.requests
        );
    }
    if !buckets.is_empty() {
        println!("\nRecords one designated FINDNODE returns vs the node's table ({record_bytes}-byte records, 200 nodes sampled)\n");
        println!("| bucket size | distances per request | in the tables | returned | share |");
        println!("|---|---|---|---|---|");
        for (class, distances, truth, got) in &buckets {
            println!(
                "| {class} | {distances} | {truth} | {got} | {:.1} % |",
                100.0 * *got as f64 / *truth as f64
            );
        }
    }
    if !bench {
        let enumerated = &rows[0];
        assert_eq!(
            enumerated.coverage, n,
            "smoke: the crawler finds every node"
        );
    }
}
