//! Handshakes per second against simulated beacon nodes on loopback, and CPU time per
//! handshake. Prints a table.
//!
//! `cargo bench --bench handshake` (release; 200 simulated hosts per muxer set,
//! `VALTRACK_HANDSHAKE_NODES` overrides, and the start-up, CPU and idle RSS of each simulated
//! host are printed too). Without `--bench` (as `cargo test` runs it) it does one small round
//! as a smoke test.
//!
//! The simulated nodes run in this process, so the CPU time per handshake includes the
//! serving side (noise, muxer, req/resp) as well as ours: it is an upper bound on what the
//! sentry alone spends.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use valtrack::core::{ForkDigest, Handshaker, Network};
use valtrack::sentry::host::MuxerOffer;
use valtrack::sentry::{HandshakeConfig, Host, HostConfig, Libp2pHandshaker};
use valtrack_sim::{sim_secret_key, SimNode, SimNodeConfig};

#[path = "common/mod.rs"]
mod common;
use common::{cpu, rss, Guard};

struct Row {
    transport: &'static str,
    muxers: &'static str,
    concurrency: usize,
    handshakes: usize,
    wall: Duration,
    cpu: Duration,
    failed: usize,
}

async fn round(
    nodes: &[SimNode],
    digests: &[ForkDigest],
    prefer_quic: bool,
    concurrency: usize,
) -> (Duration, Duration, usize) {
    let network = Network::mainnet();
    let host = Host::spawn(
        HostConfig::builder(network)
            .gossipsub(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let handshaker = Libp2pHandshaker::new(
        host,
        HandshakeConfig::builder()
            .prefer_quic(prefer_quic)
            .build()
            .unwrap(),
    );
    let cpu0 = cpu();
    let t0 = Instant::now();
    let failed = stream::iter(nodes)
        .map(|n| {
            let h = &handshaker;
            async move { h.handshake(&n.discovered(digests)).await.is_err() }
        })
        .buffer_unordered(concurrency)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    (t0.elapsed(), cpu().saturating_sub(cpu0), failed)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let count: u64 = match std::env::var("VALTRACK_HANDSHAKE_NODES") {
        Ok(v) => v
            .parse()
            .expect("VALTRACK_HANDSHAKE_NODES: a number of simulated hosts"),
        Err(_) if full => 200,
        Err(_) => 4,
    };
    let concurrencies: &[usize] = if full { &[1, 8, 32] } else { &[2] };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let network = Network::mainnet();
        let digests: Vec<ForkDigest> = network.all_digests().iter().map(|d| d.digest).collect();
        let mut rows = Vec::new();
        let mut hosts = Vec::new();
        for (muxers, muxer_name) in [(MuxerOffer::YamuxAndMplex, "yamux"), (MuxerOffer::MplexOnly, "mplex")] {
            let mut nodes = Vec::new();
            let (rss0, cpu0, t0) = (rss(), cpu(), Instant::now());
            for i in 0..count {
                let mut c = SimNodeConfig::new(network.clone(), sim_secret_key(10_000 + i));
                c.muxers = muxers;
                nodes.push(SimNode::spawn(c).await.unwrap());
            }
            hosts.push((
                muxer_name,
                count,
                t0.elapsed(),
                cpu().saturating_sub(cpu0),
                rss().saturating_sub(rss0),
            ));
            // QUIC has its own muxer: one set of QUIC rows is enough.
            let variants: &[(bool, &str)] =
                if muxer_name == "yamux" { &[(false, "tcp"), (true, "quic")] } else { &[(false, "tcp")] };
            for &(prefer_quic, transport) in variants {
                for &c in concurrencies {
                    let (wall, cpu, failed) = round(&nodes, &digests, prefer_quic, c).await;
                    rows.push(Row {
                        transport,
                        muxers: if prefer_quic { "-" } else { muxer_name },
                        concurrency: c,
                        handshakes: nodes.len(),
                        wall,
                        cpu,
                        failed,
                    });
                }
            }
        }
        println!(
            "\n| transport | muxer | concurrency | handshakes | failed | wall (s) | handshakes/s | CPU ms/handshake (both sides) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for r in &rows {
            let ok = (r.handshakes - r.failed).max(1) as f64;
            println!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.2} |",
                r.transport,
                r.muxers,
                r.concurrency,
                r.handshakes,
                r.failed,
                r.wall.as_secs_f64(),
                ok / r.wall.as_secs_f64(),
                r.cpu.as_secs_f64() * 1000.0 / ok
            );
        }
        println!("\n| simulated hosts | muxers | start-up | CPU per host | RSS per host (idle) |");
        println!("|---|---|---|---|---|");
        for (muxers, n, took, cpu, rss) in &hosts {
            println!(
                "| {n} | {muxers} | {:.2} s | {:.2} ms | {:.0} KB |",
                took.as_secs_f64(),
                cpu.as_secs_f64() * 1000.0 / *n as f64,
                *rss as f64 / 1e3 / *n as f64
            );
        }
        assert!(rows.iter().all(|r| r.failed == 0), "some handshakes failed");
        let mut guard = Guard::from_env("handshake");
        for r in &rows {
            let ok = (r.handshakes - r.failed).max(1) as f64;
            guard.figure(
                format!(
                    "CPU ms per handshake, {} {} ×{} @{}",
                    r.transport, r.muxers, r.concurrency, r.handshakes
                ),
                r.cpu.as_secs_f64() * 1000.0 / ok,
                1.5,
            );
        }
        guard.finish();
    });
}
