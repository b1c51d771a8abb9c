//! The whole sentry over a simulated network: time until the crawler has found every node,
//! time until every reachable node has been handshaken, handshakes per second, CPU per
//! handshake, and the sentry's memory per tracked peer. Prints a table.
//!
//! `cargo bench --bench sentry` (release, 1,000 nodes; `VALTRACK_SIM_NODES` overrides).
//! Without `--bench` (as `cargo test` runs it) a 40-node network is used as a smoke test.
//!
//! `VALTRACK_SENTRY_DHT=1` puts a mainnet-shaped discv5 DHT of that many records
//! (`SimDht::mainnet_mix`) in its place: no libp2p hosts (every dial is refused), so the
//! figure of interest is the RSS per tracked peer at mainnet sizes (`VALTRACK_SIM_NODES=20000`).
//!
//! The simulated network runs in a child process (this binary again), so the RSS and CPU
//! measured here are the sentry's own.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use valtrack::core::events::DiscoveryReason;
use valtrack::core::{Event, EventSink, Network, PeerId, SinkError};
use valtrack::sentry::SentryService;
use valtrack_sim::{sim_network, SimDht, SimNet};

#[path = "common/mod.rs"]
mod common;
use common::{cpu, rss, Guard};

const CHILD: &str = "VALTRACK_BENCH_SIMNET_CHILD";

/// Until the parent closes our stdin.
async fn stdin_closed() {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await
    .ok();
}

/// The child: runs the simulated network until stdin closes.
fn child(nodes: usize) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let net = SimNet::builder(nodes)
            .seed(11)
            .spawn()
            .await
            .expect("simnet");
        let ok = net
            .peers()
            .iter()
            .filter(|p| p.role().expected_failure().is_none())
            .count();
        println!(
            "READY {} {} {} {}",
            net.network().genesis_time().as_secs(),
            net.bootnode().to_base64(),
            net.len(),
            ok
        );
        std::io::stdout().flush().ok();
        stdin_closed().await;
    });
}

/// The child with `VALTRACK_SENTRY_DHT=1`: a mainnet-shaped discv5 DHT of `nodes` records
/// (`SimDht::mainnet_mix`, no libp2p hosts: every dial is refused), for the sentry's memory
/// per tracked peer at mainnet sizes.
fn child_dht(nodes: usize) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let network = Network::mainnet();
        let dht = SimDht::mainnet_mix(&network, nodes, 7).await.expect("dht");
        println!(
            "READY {} {} {} 0",
            network.genesis_time().as_secs(),
            dht.nodes()[0].enr().to_base64(),
            dht.len() + dht.silent_enrs().len(),
        );
        std::io::stdout().flush().ok();
        stdin_closed().await;
    });
}

#[derive(Debug, Default)]
struct Progress {
    found: HashSet<PeerId>,
    handshaken: HashSet<PeerId>,
    failed: HashSet<PeerId>,
    /// Failure kinds, per peer.
    failures: Vec<(PeerId, String)>,
}

#[derive(Debug, Clone, Default)]
struct Watch(Arc<Mutex<Progress>>);

impl EventSink for Watch {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let mut p = self.0.lock().unwrap();
        match &event {
            Event::Discovery(d) if d.reason == DiscoveryReason::FirstSeen => {
                p.found.insert(d.meta.peer_id);
            }
            Event::Metadata(m) if m.error.is_none() => {
                p.handshaken.insert(m.meta.peer_id);
            }
            Event::Metadata(m) => {
                p.failed.insert(m.meta.peer_id);
                if let Some(e) = &m.error {
                    p.failures.push((m.meta.peer_id, format!("{:?}", e.kind)));
                }
            }
            _ => {}
        }
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let nodes: usize = std::env::var("VALTRACK_SIM_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 1_000 } else { 40 });
    let dht_mode = std::env::var("VALTRACK_SENTRY_DHT").as_deref() == Ok("1");
    if std::env::var_os(CHILD).is_some() {
        return if dht_mode {
            child_dht(nodes)
        } else {
            child(nodes)
        };
    }
    let mut sim = Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, "1")
        .env("VALTRACK_SIM_NODES", nodes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the simulated network");
    let started_sim = Instant::now();
    let mut ready = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("READY line");
    let parts: Vec<&str> = ready.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"READY"), "child said {ready:?}");
    let genesis: u64 = parts[1].parse().unwrap();
    let bootnode = valtrack::core::parse_enr(parts[2]).unwrap();
    let total: usize = parts[3].parse().unwrap();
    let reachable: usize = parts[4].parse().unwrap();
    eprintln!(
        "simulated network of {total} nodes ({reachable} answer handshakes) up in {:?}",
        started_sim.elapsed()
    );

    // The simulated network's bootnode is not one of its nodes; the DHT's is.
    let everyone = if dht_mode { total } else { total + 1 };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let row = rt.block_on(async {
        let network = if dht_mode {
            Network::mainnet()
        } else {
            sim_network(Duration::from_secs(genesis))
        };
        let watch = Watch::default();
        let service = SentryService::builder(network)
            .bootnodes([bootnode])
            .listen_ip(std::net::Ipv4Addr::LOCALHOST.into())
            .ports(0, 0, 0)
            .concurrency(64)
            .build(watch.clone())
            .await
            .expect("sentry");
        let rss_base = rss();
        let cpu_base = cpu();
        let start = Instant::now();
        let limit = Duration::from_secs(if dht_mode { 240 } else { 120 });
        let (mut t_found, mut t_done) = (None, None);
        let stop = async {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let p = watch.0.lock().unwrap();
                if t_found.is_none() && p.found.len() >= everyone {
                    t_found = Some(start.elapsed());
                }
                if t_done.is_none() && p.handshaken.len() >= reachable {
                    t_done = Some(start.elapsed());
                }
                // Over the DHT, dials are refused at once: let them all be tried (and the
                // peers put in backoff) before measuring.
                let settled = !dht_mode
                    || t_found.is_some_and(|t| start.elapsed() > t + Duration::from_secs(30));
                if (t_found.is_some() && t_done.is_some() && settled) || start.elapsed() > limit {
                    break;
                }
            }
        };
        let stats = service.stats();
        service.run(stop).await.expect("flush");
        let used = cpu().saturating_sub(cpu_base);
        let p = watch.0.lock().unwrap();
        let ok = stats
            .handshakes_ok
            .load(std::sync::atomic::Ordering::Relaxed);
        let failed = stats
            .handshakes_failed
            .load(std::sync::atomic::Ordering::Relaxed);
        let rss_end = rss();
        // Failures of nodes that answered another time: transient (load, timeouts).
        let mut transient: std::collections::BTreeMap<&str, u64> = Default::default();
        for (peer, kind) in &p.failures {
            if p.handshaken.contains(peer) {
                *transient.entry(kind.as_str()).or_default() += 1;
            }
        }
        eprintln!("transient failures of reachable nodes: {transient:?}");
        (
            t_found,
            t_done,
            p.found.len(),
            p.handshaken.len(),
            ok + failed,
            used,
            rss_base,
            rss_end,
            start.elapsed(),
        )
    });
    drop(sim.stdin.take());
    let _ = sim.wait();
    let (t_found, t_done, found, handshaken, attempts, used, rss_base, rss_end, took) = row;
    let show = |d: Option<Duration>| {
        d.map_or("not reached".to_owned(), |d| {
            format!("{:.2} s", d.as_secs_f64())
        })
    };
    println!();
    println!("| nodes | found 100% | handshaken 100% of reachable | handshakes/s | CPU / handshake | RSS before | RSS after | RSS / tracked peer |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {total} ({reachable} reachable) | {} ({found}/{}) | {} ({handshaken}/{reachable}) | {:.0} | {:.2} ms | {:.1} MB | {:.1} MB | {:.1} KB |",
        show(t_found),
        everyone,
        show(t_done),
        attempts as f64 / took.as_secs_f64(),
        used.as_secs_f64() * 1000.0 / attempts.max(1) as f64,
        rss_base as f64 / 1e6,
        rss_end as f64 / 1e6,
        rss_end.saturating_sub(rss_base) as f64 / 1e3 / found.max(1) as f64,
    );
    assert!(t_found.is_some() && t_done.is_some(), "did not reach 100%");
    let mut guard = Guard::from_env("sentry");
    if !dht_mode {
        // Over the DHT every dial is refused: no handshake to price.
        guard.figure(
            format!("CPU ms per handshake @{total}"),
            used.as_secs_f64() * 1000.0 / attempts.max(1) as f64,
            1.5,
        );
    }
    guard.figure(
        format!(
            "RSS KB per tracked peer @{total}{}",
            if dht_mode { " (DHT only)" } else { "" }
        ),
        rss_end.saturating_sub(rss_base) as f64 / 1e3 / found.max(1) as f64,
        1.25,
    );
    guard.finish();
}
