//! Time to 50/90/99/100 % coverage of a mainnet-shaped simulated discv5 DHT
//! ([`SimDht::mainnet_mix`]: 60 % beacon nodes, 30 % other networks or no `eth2`, 10 % silent)
//! by the enumeration crawler ([`Discv5Crawler`]) with the crate's defaults, for each DHT size;
//! at the first size also other settings, a random walk (`find_node(random id)`, one lookup at
//! a time) and how much of each bucket one designated FINDNODE returns. Prints tables with
//! requests, CPU time, when every node known had been asked (a crawl round's length) and the
//! DHT's RSS per node.
//!
//! `cargo bench --bench crawl` (release, 1,000 nodes; `VALTRACK_CRAWL_NODES=1000,2000,5000`
//! for a curve, `scripts/crawl-chart.py` draws it). `VALTRACK_CRAWL_VARIANTS=1` runs the other
//! settings at any first size, `VALTRACK_CRAWL_TAIL=1` says which records came in the last 1 %,
//! `VALTRACK_BENCH_GUARD=check` compares with `benches/baseline.json` (see `common/mod.rs`).
//! `VALTRACK_CRAWL_CHURN=3` also crawls the first size while 3 % of the DHT a minute leaves,
//! as many nodes join and as many bump their seq, for 60 s (then it runs on until every record
//! alive is found, or twice the size's time limit; `VALTRACK_CRAWL_CHURN_SECS` sets that
//! limit) and prints how long joiners took to be reported (freshness);
//! `VALTRACK_CRAWL_RECRAWL` (seconds) sets the crawler's recrawl interval for that run.
//! Without `--bench` (as `cargo test` runs it) it crawls a small DHT as a smoke test.
//!
//! The DHT runs in this process, so each node's answers cost CPU here too: the CPU column is
//! the whole process's (crawler and DHT).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use valtrack::core::{Crawler, Network, NodeUpdate};
use valtrack::sentry::crawler::CrawlerConfigBuilder;
use valtrack::sentry::{CrawlerConfig, Discv5Crawler};
use valtrack_sim::SimDht;

#[path = "common/mod.rs"]
mod common;
use common::{cpu, rss, Guard};

const MARKS: [f64; 4] = [0.5, 0.9, 0.99, 1.0];

struct Row {
    method: String,
    marks: [Option<Duration>; 4],
    /// When every node known had been asked at least once (enumeration only).
    all_asked: Option<Duration>,
    coverage: usize,
    /// FINDNODE requests, or lookups for the random walk.
    requests: u64,
    cpu: Duration,
}

/// Records when coverage passes each mark.
fn mark(marks: &mut [Option<Duration>; 4], found: usize, n: usize, elapsed: Duration) {
    for (slot, share) in marks.iter_mut().zip(MARKS) {
        if slot.is_none() && found as f64 >= share * n as f64 {
            *slot = Some(elapsed);
        }
    }
}

/// Every record of the DHT, live or silent.
fn truth(dht: &SimDht) -> HashSet<[u8; 32]> {
    dht.enrs()
        .iter()
        .chain(dht.silent_enrs())
        .map(|e| e.node_id().raw())
        .collect()
}

/// The enumeration crawler with the crate's defaults, changed by `tweak`.
async fn enumeration(
    network: &Network,
    dht: &SimDht,
    limit: Duration,
    label: &str,
    tweak: impl FnOnce(CrawlerConfigBuilder) -> CrawlerConfigBuilder,
) -> Row {
    let truth = truth(dht);
    let config = tweak(
        CrawlerConfig::builder(network)
            .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .bootnode_enrs([dht.nodes()[0].enr()]),
    )
    .build()
    .unwrap();
    let crawler = Discv5Crawler::bind(config).await.unwrap();
    let mut stream = Box::pin(crawler.discovered());
    let start = Instant::now();
    let cpu_start = cpu();
    crawler.start();
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut marks = [None; 4];
    let _ = tokio::time::timeout(limit, async {
        while let Some(node) = stream.next().await {
            if node.update == NodeUpdate::New && truth.contains(&node.info.node_id.0) {
                if seen.insert(node.info.node_id.0) {
                    order.push((node.info.node_id.0, start.elapsed()));
                }
                mark(&mut marks, seen.len(), truth.len(), start.elapsed());
                if seen.len() == truth.len() {
                    break;
                }
            }
        }
    })
    .await;
    let stats = crawler.stats();
    let cpu_used = cpu() - cpu_start;
    // Then until every node known has been asked at least once (the queue drained, retries
    // included): the length of a crawl round, which bounds how fresh a recrawl keeps the view.
    let drained = Instant::now();
    while crawler.stats().queued > 0 && drained.elapsed() < 5 * limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_asked = (crawler.stats().queued == 0).then(|| start.elapsed());
    if std::env::var_os("VALTRACK_CRAWL_TAIL").is_some() {
        // Which records came last: silent ones, or live ones found late?
        let silent: HashSet<[u8; 32]> = dht
            .silent_enrs()
            .iter()
            .map(|e| e.node_id().raw())
            .collect();
        let tail: Vec<_> = order.iter().skip(order.len() * 99 / 100).collect();
        let silent_in_tail = tail.iter().filter(|(id, _)| silent.contains(id)).count();
        eprintln!(
            "{label}: last 1 % ({} records, {:.1}–{:.1} s): {silent_in_tail} silent; stats {stats:?}",
            tail.len(),
            tail.first().map_or(0.0, |t| t.1.as_secs_f64()),
            tail.last().map_or(0.0, |t| t.1.as_secs_f64()),
        );
    }
    Row {
        method: label.to_string(),
        marks,
        all_asked,
        coverage: seen.len(),
        requests: stats.requests,
        cpu: cpu_used,
    }
}

/// What a crawl under churn saw.
struct Churned {
    n: usize,
    per_minute: f64,
    churn_for: Duration,
    /// Records alive at the end (live, joined, silent) and how many were found.
    alive: usize,
    alive_found: usize,
    /// Time until every record alive at the end was found.
    all_found: Option<Duration>,
    joined: usize,
    joined_found: usize,
    left: usize,
    bumped: usize,
    /// Bumps reported (`SeqChanged` to the new seq or later).
    bumped_seen: usize,
    /// Each found joiner's time from joining to being reported, sorted.
    join_to_found: Vec<Duration>,
    /// The crawler's recrawl interval.
    recrawl: Duration,
    /// FINDNODE requests sent after the churn stopped (the first crawl long over), and over
    /// how long.
    requests: u64,
    ran_for: Duration,
    steady_for: Duration,
}

/// A crawl of `n` records with the crate's defaults while, every second for `churn_for`,
/// `per_minute` % of the DHT a minute leaves, as many new nodes join (their records put in
/// the tables of their 16 XOR-closest live nodes, theirs seeded with those 16) and as many
/// bump their seq (new `attnets`). Then it runs on until `limit`.
async fn churn(
    network: &Network,
    n: usize,
    per_minute: f64,
    churn_for: Duration,
    limit: Duration,
    recrawl: Option<Duration>,
) -> Churned {
    use std::collections::HashMap;
    use valtrack::core::AttestationSubnets;
    use valtrack_sim::{sim_node_id, sim_secret_key, SimDiscv5, SimEnrFields};
    let mut dht = SimDht::mainnet_mix(network, n, 7_000_000).await.unwrap();
    let mut config = CrawlerConfig::builder(network)
        .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .bootnode_enrs([dht.nodes()[0].enr()]);
    if let Some(interval) = recrawl {
        config = config.recrawl_interval(interval);
    }
    let config = config.build().unwrap();
    let recrawl = recrawl.unwrap_or(valtrack::sentry::crawler::DEFAULT_RECRAWL_INTERVAL);
    let crawler = Discv5Crawler::bind(config).await.unwrap();
    let mut stream = Box::pin(crawler.discovered());
    let epoch = network
        .current_epoch(std::time::SystemTime::now())
        .unwrap_or(0);
    let per_tick = ((n as f64 * per_minute / 100.0 / 60.0).round() as usize).max(1);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |below: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % below.max(1) as u64) as usize
    };
    let mut joined: Vec<SimDiscv5> = Vec::new();
    let (mut left, mut bumped) = (HashSet::new(), HashMap::new());
    let mut found = HashSet::new();
    let mut seqs: HashMap<[u8; 32], u64> = HashMap::new();
    let mut joined_at: HashMap<[u8; 32], Instant> = HashMap::new();
    let mut join_to_found = Vec::new();
    let start = Instant::now();
    crawler.start();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut key = 0u64;
    let mut all_found = None;
    let mut steady_from: Option<(Instant, u64)> = None;
    while start.elapsed() < limit {
        if steady_from.is_none() && start.elapsed() >= churn_for {
            steady_from = Some((Instant::now(), crawler.stats().requests));
        }
        tokio::select! {
            node = stream.next() => {
                let Some(node) = node else { break };
                let id = node.info.node_id.0;
                if found.insert(id) {
                    if let Some(t) = joined_at.get(&id) {
                        join_to_found.push(t.elapsed());
                    }
                }
                let seq = seqs.entry(id).or_default();
                *seq = (*seq).max(node.info.seq);
            }
            _ = tick.tick(), if start.elapsed() < churn_for => {
                for _ in 0..per_tick {
                    // Leave (never the bootnode).
                    if dht.len() > 2 {
                        let i = 1 + next(dht.len() - 1);
                        if let Some(node) = dht.remove(i) {
                            left.insert(node.node_id().raw());
                        }
                    }
                    // Join: a new beacon node in the tables of its XOR-closest live nodes.
                    key += 1;
                    let secret = sim_secret_key(900_000_000 + key);
                    let id = sim_node_id(secret).unwrap();
                    let fields = SimEnrFields::beacon(network, id, epoch, 9000, 9001);
                    let node = SimDiscv5::start(secret, &fields).await.unwrap();
                    let raw = id.raw();
                    let mut by_distance: Vec<(u64, usize)> = dht
                        .nodes()
                        .iter()
                        .enumerate()
                        .map(|(i, other)| {
                            let o = other.node_id().raw();
                            let d = u64::from_be_bytes(std::array::from_fn(|b| o[b] ^ raw[b]));
                            (d, i)
                        })
                        .collect();
                    let k = 16.min(by_distance.len() - 1);
                    by_distance.select_nth_unstable(k);
                    for &(_, i) in &by_distance[..k] {
                        dht.nodes()[i].add_enr(node.enr());
                        node.add_enr(dht.nodes()[i].enr());
                    }
                    joined_at.insert(raw, Instant::now());
                    joined.push(node);
                    // Seq bump.
                    let i = next(dht.len());
                    let target = &dht.nodes()[i];
                    if target.set_attnets(AttestationSubnets(
                        (next(usize::MAX) as u64).to_le_bytes(),
                    )) {
                        bumped.insert(target.node_id().raw(), target.enr().seq());
                    }
                }
            }
        }
        if start.elapsed() >= churn_for && all_found.is_none() {
            let alive = dht
                .enrs()
                .iter()
                .chain(dht.silent_enrs())
                .map(|e| e.node_id().raw())
                .chain(joined.iter().map(|j| j.node_id().raw()))
                .all(|id| found.contains(&id));
            if alive {
                all_found = Some(start.elapsed());
                break;
            }
        }
    }
    let alive: Vec<[u8; 32]> = dht
        .enrs()
        .iter()
        .chain(dht.silent_enrs())
        .map(|e| e.node_id().raw())
        .chain(joined.iter().map(|j| j.node_id().raw()))
        .collect();
    let bumped_seen = bumped
        .iter()
        .filter(|(id, seq)| seqs.get(*id).is_some_and(|s| s >= *seq))
        .count();
    join_to_found.sort();
    Churned {
        join_to_found,
        recrawl,
        requests: crawler.stats().requests - steady_from.map_or(0, |s| s.1),
        steady_for: steady_from.map_or(Duration::ZERO, |s| s.0.elapsed()),
        ran_for: start.elapsed(),
        n,
        per_minute,
        churn_for,
        alive: alive.len(),
        alive_found: alive.iter().filter(|id| found.contains(*id)).count(),
        all_found,
        joined: joined.len(),
        joined_found: joined
            .iter()
            .filter(|j| found.contains(&j.node_id().raw()))
            .count(),
        left: left.len(),
        bumped: bumped.len(),
        bumped_seen,
    }
}

async fn random_walk(dht: &SimDht, limit: Duration) -> Row {
    let truth = truth(dht);
    let cpu_start = cpu();
    let discv5 = client().await;
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
        method: "random walk, 1 lookup at a time (requests: lookups)".into(),
        marks,
        all_asked: None,
        coverage: seen.len(),
        requests: lookups,
        cpu: cpu() - cpu_start,
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

/// One DHT size's rows.
struct Size {
    n: usize,
    startup: Duration,
    rss_per_node: u64,
    rows: Vec<Row>,
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("VALTRACK_CRAWL_NODES") {
        Ok(v) => v
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("VALTRACK_CRAWL_NODES: sizes like 1000,2000")
            })
            .collect(),
        Err(_) => vec![if bench { 1_000 } else { 40 }],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let network = Network::mainnet();
    let mut results = Vec::new();
    let mut buckets = Vec::new();
    let mut record_bytes = 0;
    let churn_rate: Option<f64> = std::env::var("VALTRACK_CRAWL_CHURN").ok().map(|v| {
        v.parse()
            .expect("VALTRACK_CRAWL_CHURN: % of the DHT a minute, like 3")
    });
    let mut churned = None;
    runtime.block_on(async {
        for (k, &n) in sizes.iter().enumerate() {
            // Generous for the largest sizes: the rows show when each mark was passed.
            let limit = Duration::from_secs(if bench { 60.max(n as u64 / 150) } else { 30 });
            let seed = 100_000 * (k as u64 + 1);
            let before = rss();
            let t = Instant::now();
            let dht = SimDht::mainnet_mix(&network, n, seed).await.unwrap();
            let startup = t.elapsed();
            // Only the first DHT's figure is clean: later ones reuse memory the allocator kept.
            let rss_per_node = rss().saturating_sub(before) / n as u64;
            if bench && k == 0 {
                // Before any crawl: the servers have seen no one yet.
                record_bytes = dht
                    .enrs()
                    .iter()
                    .map(|e| alloy_rlp::encode(e).len())
                    .sum::<usize>()
                    / dht.len().max(1);
                buckets = bucket_coverage(&dht, 200).await;
            }
            let mut rows =
                vec![enumeration(&network, &dht, limit, "enumeration, defaults", |b| b).await];
            // Other settings at the first size (up to 2,000 records, or any size with
            // VALTRACK_CRAWL_VARIANTS=1); the random walk only up to 2,000.
            let variants = std::env::var_os("VALTRACK_CRAWL_VARIANTS").is_some() || n <= 2_000;
            if bench && k == 0 && variants {
                drop(dht);
                let paced = valtrack::sentry::crawler::DEFAULT_PEER_REQUEST_INTERVAL;
                let variants: [(usize, usize, usize, Duration); 4] = [
                    (3, 32, 512, paced),
                    (1, 32, 2048, paced),
                    (3, 64, 2048, paced),
                    (1, 64, 512, Duration::ZERO),
                ];
                for (i, (distances, in_flight, active, pacing)) in
                    variants.into_iter().enumerate()
                {
                    let dht = SimDht::mainnet_mix(&network, n, seed + 10_000 * (i as u64 + 1))
                        .await
                        .unwrap();
                    let label = format!(
                        "enumeration, {distances} dist/request, {in_flight} in flight, {active} nodes at once, {} ms/peer pacing",
                        pacing.as_millis()
                    );
                    rows.push(
                        enumeration(&network, &dht, limit, &label, |b| {
                            b.distances_per_request(distances)
                                .max_in_flight(in_flight)
                                .max_active_nodes(active)
                                .peer_request_interval(pacing)
                        })
                        .await,
                    );
                }
                if n <= 2_000 {
                    let dht = SimDht::mainnet_mix(&network, n, seed + 90_000).await.unwrap();
                    rows.push(random_walk(&dht, limit).await);
                }
            }
            results.push(Size {
                n,
                startup,
                rss_per_node,
                rows,
            });
            if let (Some(rate), 0) = (churn_rate, k) {
                let churn_for = Duration::from_secs(if bench { 60 } else { 5 });
                let run_for = std::env::var("VALTRACK_CRAWL_CHURN_SECS")
                    .ok()
                    .map_or(limit * 2, |v| {
                        Duration::from_secs(v.parse().expect("VALTRACK_CRAWL_CHURN_SECS: seconds"))
                    });
                let recrawl = std::env::var("VALTRACK_CRAWL_RECRAWL").ok().map(|v| {
                    Duration::from_secs(v.parse().expect("VALTRACK_CRAWL_RECRAWL: seconds"))
                });
                churned = Some(churn(&network, n, rate, churn_for, run_for, recrawl).await);
            }
        }
    });
    println!("\nCoverage of mainnet-shaped simulated DHTs (60 % beacon, 30 % other or no eth2, 10 % silent)\n");
    println!("| records | method | 50 % | 90 % | 99 % | 100 % | every node asked | found | requests | per record | CPU | start-up | DHT RSS/record |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for size in &results {
        for row in &size.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {:.1} | {:.1} s | {:.1} s | {:.2} MB |",
                size.n,
                row.method,
                fmt(row.marks[0]),
                fmt(row.marks[1]),
                fmt(row.marks[2]),
                fmt(row.marks[3]),
                fmt(row.all_asked),
                row.coverage,
                size.n,
                row.requests,
                row.requests as f64 / size.n as f64,
                row.cpu.as_secs_f64(),
                size.startup.as_secs_f64(),
                size.rss_per_node as f64 / 1e6,
            );
        }
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
    if let Some(c) = &churned {
        println!(
            "\nUnder churn: {} records, {:.1} % a minute leaving, as many joining and as many bumping their seq, for {} s\n",
            c.n,
            c.per_minute,
            c.churn_for.as_secs()
        );
        println!("| alive at the end found | all found after | joined found | left | seq bumps reported |");
        println!("|---|---|---|---|---|");
        println!(
            "| {}/{} | {} | {}/{} | {} | {}/{} |",
            c.alive_found,
            c.alive,
            fmt(c.all_found),
            c.joined_found,
            c.joined,
            c.left,
            c.bumped_seen,
            c.bumped
        );
        let q = |p: f64| {
            let v = &c.join_to_found;
            v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .map_or("-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
        };
        println!(
            "\nFreshness (recrawl interval {} s, lookups every {} s): joined -> reported p50 {}, \
             p90 {}, max {} over {} of {} joiners ({} not reported within the {:.0} s run); \
             {:.0} FINDNODE/s after the churn stopped",
            c.recrawl.as_secs(),
            valtrack::sentry::crawler::DEFAULT_LOOKUP_INTERVAL.as_secs(),
            q(0.5),
            q(0.9),
            q(1.0),
            c.join_to_found.len(),
            c.joined,
            c.joined - c.join_to_found.len(),
            c.ran_for.as_secs_f64(),
            c.requests as f64 / c.steady_for.as_secs_f64().max(1e-9)
        );
    }
    let mut guard = Guard::from_env("crawl");
    for size in &results {
        let row = &size.rows[0];
        let n = size.n;
        let to_all = row.marks[3].map_or(f64::INFINITY, |d| d.as_secs_f64());
        guard.figure(format!("seconds to 100 % @{n}"), to_all, 1.5);
        guard.figure(
            format!("seconds until every node asked @{n}"),
            row.all_asked.map_or(f64::INFINITY, |d| d.as_secs_f64()),
            1.5,
        );
        guard.figure(
            format!("CPU seconds to 100 % @{n}"),
            row.cpu.as_secs_f64(),
            1.5,
        );
        guard.figure(
            format!("requests per record @{n}"),
            row.requests as f64 / n as f64,
            1.5,
        );
    }
    if !buckets.is_empty() {
        let (truth, got) = buckets
            .iter()
            .fold((0, 0), |(t, g), (_, _, truth, got)| (t + truth, g + got));
        guard.figure(
            "records of a bucket not returned, %",
            100.0 * (truth - got) as f64 / truth.max(1) as f64,
            1.0,
        );
    }
    guard.finish();
    if !bench {
        for size in &results {
            assert_eq!(
                size.rows[0].coverage, size.n,
                "smoke: the crawler finds every record"
            );
        }
    }
}
