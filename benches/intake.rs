//! Attestation intake of one sentry in `--attestations` mode: hundreds of libp2p peers
//! publish Electra `SingleAttestation`s on the 64 subnets at a mainnet rate, each message from
//! several peers at once (GossipSub duplicates), and the sentry's own CPU, memory, losses and
//! first-delivery timestamps are measured. Prints a table.
//!
//! `cargo bench --bench intake` (release): 200 peers, 12 s slots, phases of 24 s at
//! `3000b,3000,6000,10000,15000` messages/s. A rate with a `b` suffix is mainnet's shape:
//! half of each slot's messages spread over the slot, the other half in the sixth of the slot
//! that starts a third of the way in (peak 3.5× the average); without it, the rate is flat.
//! Overrides: `VALTRACK_INTAKE_PEERS`, `VALTRACK_INTAKE_RATES`, `VALTRACK_INTAKE_SECS` (per
//! phase), `VALTRACK_INTAKE_DUP` (most peers publishing one message; each message goes out
//! from 1 to that many, evenly), `VALTRACK_INTAKE_SUBSCRIBE_ALL=1` (the peers subscribe to
//! every attestation subnet, as `--subscribe-all-subnets` nodes do: the sentry keeps each
//! peer's topics), `VALTRACK_SLOT_MS`. Without `--bench` (as `cargo test` runs
//! it) a small smoke run.
//!
//! The publishing peers run in a child process (this binary again), so the CPU and RSS
//! measured are the sentry's own. Each message carries its publish time (the first 8 bytes
//! of its block root, stamped just before its first copy is handed to a publishing host), so
//! the sentry's first-delivery timestamp is compared with when the first copy was sent: the
//! delay includes the publishing host's own stack and the loopback hop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt};
use valtrack::core::codec::GossipKind;
use valtrack::core::{Event, EventSink, Network, SinkError, SszMessage};
use valtrack::sentry::host::LatenessSnapshot;
use valtrack::sentry::{Host, HostConfig, SentryService};
use valtrack_sim::{sim_attestation, sim_network_with_slot, SimDuty};

#[path = "common/mod.rs"]
mod common;
use common::{cpu, rss, Guard};

const CHILD: &str = "VALTRACK_BENCH_INTAKE_CHILD";

/// Validator indices the publishers attest with, in turn (mainnet has ~2.1M): an epoch of
/// fewer messages names each at most once.
const VALIDATORS: u64 = 1 << 21;

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// One phase: an average rate and whether it comes in mainnet's per-slot bursts.
#[derive(Debug, Clone, Copy)]
struct Phase {
    rate: u32,
    bursty: bool,
}

impl std::str::FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (n, bursty) = match s.strip_suffix('b') {
            Some(n) => (n, true),
            None => (s, false),
        };
        let rate = n.trim().parse().map_err(|_| format!("bad rate {s:?}"))?;
        Ok(Self { rate, bursty })
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}",
            self.rate,
            if self.bursty { " bursty" } else { "" }
        )
    }
}

/// Messages due by `t` into a slot of length `slot`, at an average of `rate` per second.
fn due_in_slot(phase: Phase, slot: Duration, t: Duration) -> f64 {
    let r = f64::from(phase.rate);
    let (s, t) = (slot.as_secs_f64(), t.as_secs_f64().min(slot.as_secs_f64()));
    if !phase.bursty {
        return r * t;
    }
    // Half spread over the slot, half in [s/3, s/2).
    let burst = (t - s / 3.0).clamp(0.0, s / 6.0) / (s / 6.0);
    0.5 * r * t + 0.5 * r * s * burst
}

/// SplitMix64's output function: a well-spread number from a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The child: `peers` hosts connected to the sentry, publishing on command.
fn child() {
    let genesis = Duration::from_secs(env(CHILD, 0u64));
    let slot = Duration::from_millis(env("VALTRACK_SLOT_MS", 12_000u64));
    let peers: usize = env("VALTRACK_INTAKE_PEERS", 200);
    let dup: u64 = env("VALTRACK_INTAKE_DUP", 4u64).max(1);
    let subscribe_all = env("VALTRACK_INTAKE_SUBSCRIBE_ALL", 0u8) == 1;
    let target: valtrack::sentry::libp2p::PeerId = std::env::var("VALTRACK_INTAKE_TARGET")
        .expect("target")
        .parse()
        .expect("target peer id");
    let addr: valtrack::sentry::libp2p::Multiaddr = std::env::var("VALTRACK_INTAKE_ADDR")
        .expect("addr")
        .parse()
        .expect("target address");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let network = sim_network_with_slot(genesis, slot);
        let t0 = Instant::now();
        let hosts: Vec<Host> = stream::iter(0..peers)
            .map(|i| {
                let (network, addr) = (network.clone(), addr.clone());
                async move {
                    let mut config = HostConfig::builder(network)
                        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
                        .agent_version(format!("valtrack-bench/intake-{i}"))
                        .gossip_mesh(false);
                    if subscribe_all {
                        config = config.subscribe_all_subnets();
                    }
                    let host = Host::spawn(config.build().expect("host config"))
                        .await
                        .expect("host");
                    host.dial(target, vec![addr])
                        .await
                        .expect("dial the sentry");
                    host
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        // GossipSub learns the sentry's subscriptions in its first RPC.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut connected = 0;
        for h in &hosts {
            connected += usize::from(h.is_connected(target).await);
        }
        println!("READY {connected} {:.1}", t0.elapsed().as_secs_f64());
        std::io::stdout().flush().ok();

        let mut next_index = 0u64;
        loop {
            let line = tokio::task::block_in_place(|| {
                let mut l = String::new();
                std::io::stdin()
                    .read_line(&mut l)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|_| l)
            });
            let Some(line) = line else { break };
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [_, phase, secs, tag] = parts[..] else {
                break;
            };
            let phase: Phase = phase.parse().expect("phase");
            let secs: f64 = secs.parse().expect("secs");
            let tag: u8 = tag.parse().expect("tag");
            let (mut unique, mut sends, mut refused, mut peak) = (0u64, 0u64, 0u64, 0u64);
            let started = Instant::now();
            let cpu0 = cpu();
            let mut per_second = (Instant::now(), 0u64);
            // Messages due are counted from the phase's start, slot by slot.
            let start_at = now();
            let due_at = |t: Duration| -> f64 {
                let since_genesis = |x: Duration| x.saturating_sub(genesis);
                let (a, b) = (since_genesis(start_at), since_genesis(t));
                let s = slot.as_nanos();
                let count = |x: Duration| {
                    let n = x.as_nanos() / s;
                    let into = Duration::from_nanos((x.as_nanos() % s) as u64);
                    n as f64 * f64::from(phase.rate) * slot.as_secs_f64()
                        + due_in_slot(phase, slot, into)
                };
                count(b) - count(a)
            };
            while started.elapsed().as_secs_f64() < secs {
                let due = due_at(now()) as u64;
                let mut batch = Vec::new();
                while unique < due {
                    let copies = 1 + mix(2 * next_index) % dup;
                    let first = mix(2 * next_index + 1) as usize % hosts.len();
                    let to: Vec<Host> = (0..(copies as usize).min(hosts.len()))
                        .map(|c| hosts[(first + c) % hosts.len()].clone())
                        .collect();
                    batch.push((next_index, to));
                    next_index += 1;
                    unique += 1;
                }
                let n: u64 = batch.iter().map(|(_, to)| to.len() as u64).sum();
                let network = &network;
                // Each message is stamped just before its first copy goes out; the other
                // copies follow from other peers, as relayed copies would.
                let results: Vec<u64> = stream::iter(batch)
                    .map(|(index, to)| async move {
                        let ssz = attestation(network, index, tag, now());
                        let subnet = index % 64;
                        let mut refused = 0;
                        for h in to {
                            let kind = GossipKind::BeaconAttestation(subnet);
                            refused += u64::from(h.publish(kind, ssz.clone()).await.is_err());
                        }
                        refused
                    })
                    .buffer_unordered(256)
                    .collect()
                    .await;
                sends += n;
                refused += results.iter().sum::<u64>();
                if per_second.0.elapsed() >= Duration::from_secs(1) {
                    peak = peak.max(unique - per_second.1);
                    per_second = (Instant::now(), unique);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let cpu_pct =
                100.0 * cpu().saturating_sub(cpu0).as_secs_f64() / started.elapsed().as_secs_f64();
            println!("DONE {unique} {sends} {refused} {peak} {cpu_pct:.1}");
            std::io::stdout().flush().ok();
        }
        drop(hosts);
    });
}

/// Message `index` of the run, stamped with `sent` and the phase `tag` in its block root.
fn attestation(network: &Network, index: u64, tag: u8, sent: Duration) -> Vec<u8> {
    let duty = SimDuty {
        // Mainnet's ~2.1M indices; each attests once an epoch.
        validator: index % VALIDATORS,
        slot: network.slot_at(sent).unwrap_or(0),
        committee_index: index % 64,
        subnet: index % 64,
        aggregator: false,
    };
    let mut att = sim_attestation(&duty, network.slots_per_epoch());
    att.data.beacon_block_root[..8].copy_from_slice(&(sent.as_nanos() as u64).to_le_bytes());
    att.data.beacon_block_root[8] = tag;
    att.to_ssz_bytes()
}

/// What the sentry's sink saw in one phase.
#[derive(Debug, Default)]
struct Seen {
    /// Attestation events per phase tag.
    events: HashMap<u8, u64>,
    /// First-delivery timestamp minus first publish time, in microseconds, per phase tag.
    delays: HashMap<u8, Vec<i64>>,
    /// Time the event reached the sink minus first publish time, in microseconds.
    to_sink: HashMap<u8, Vec<i64>>,
}

#[derive(Debug, Clone)]
struct Watch {
    seen: Arc<Mutex<Seen>>,
    network: Network,
}

impl EventSink for Watch {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        if let Event::Attestation(a) = event {
            let sent = u64::from_le_bytes(a.beacon_block_root[..8].try_into().unwrap());
            let tag = a.beacon_block_root[8];
            let start = self.network.slot_start(a.slot).unwrap_or_default();
            let received_us = start.as_micros() as i64 + a.first_seen_delay_ms * 1000;
            let at_sink = now().as_micros() as i64;
            let mut seen = self.seen.lock().unwrap();
            *seen.events.entry(tag).or_default() += 1;
            seen.to_sink
                .entry(tag)
                .or_default()
                .push(at_sink - (sent / 1000) as i64);
            seen.delays
                .entry(tag)
                .or_default()
                .push(received_us - (sent / 1000) as i64);
        }
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let peers: usize = env("VALTRACK_INTAKE_PEERS", if bench { 200 } else { 8 });
    let secs: f64 = env("VALTRACK_INTAKE_SECS", if bench { 24.0 } else { 3.0 });
    let slot_ms: u64 = env("VALTRACK_SLOT_MS", if bench { 12_000 } else { 2_000 });
    let dup: u64 = env("VALTRACK_INTAKE_DUP", 4);
    let phases: Vec<Phase> = std::env::var("VALTRACK_INTAKE_RATES")
        .unwrap_or_else(|_| {
            if bench {
                "3000b,3000,6000,10000,15000"
            } else {
                "300b"
            }
            .to_owned()
        })
        .split(',')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|e| panic!("VALTRACK_INTAKE_RATES: {e}"))
        })
        .collect();
    let slot = Duration::from_millis(slot_ms);
    // Ten epochs in, on a slot boundary.
    let genesis = Duration::from_secs(now().as_secs() - 10 * 32 * slot.as_secs().max(1));
    let network = sim_network_with_slot(genesis, slot);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut guard = Guard::from_env("intake");
    rt.block_on(async {
        let watch = Watch {
            seen: Arc::default(),
            network: network.clone(),
        };
        let service = SentryService::builder(network.clone())
            .listen_ip(std::net::Ipv4Addr::LOCALHOST.into())
            .ports(0, 0, 0)
            .attestations(true)
            .build(watch.clone())
            .await
            .expect("sentry");
        let host = service.host().clone();
        let stats = service.stats();
        let defence = host.gossip_defence();
        let traffic = host.traffic();
        let addr = host
            .listen_addrs()
            .iter()
            .find(|a| a.to_string().contains("/tcp/"))
            .expect("a TCP listen address")
            .clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(service.run(async move {
            let _ = stop_rx.await;
        }));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_idle = rss();

        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(CHILD, genesis.as_secs().to_string())
            .env("VALTRACK_SLOT_MS", slot_ms.to_string())
            .env("VALTRACK_INTAKE_PEERS", peers.to_string())
            .env("VALTRACK_INTAKE_DUP", dup.to_string())
            .env("VALTRACK_INTAKE_TARGET", host.peer_id().to_string())
            .env("VALTRACK_INTAKE_ADDR", addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the publishers");
        let mut to_child = child.stdin.take().expect("stdin");
        let mut from_child = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        tokio::task::block_in_place(|| from_child.read_line(&mut line)).expect("READY");
        let ready: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(ready.first(), Some(&"READY"), "child said {line:?}");
        let connected: usize = ready[1].parse().unwrap();
        // Every peer handshaken (the sentry dials none: all are inbound) and idle.
        let t = Instant::now();
        while (stats.inbound.load(Relaxed) as usize) < connected
            && t.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kept = host.connected_peers();
        let rss_kept = rss();
        let per_conn = rss_kept.saturating_sub(rss_idle) as f64 / kept.max(1) as f64;
        println!(
            "\n{connected} of {peers} publishing peers connected (setup {} s); the sentry keeps {kept} \
             connections, {} inbound handshakes",
            ready[2],
            stats.inbound.load(Relaxed)
        );
        println!(
            "sentry RSS: {:.1} MiB idle, {:.1} MiB with {kept} kept connections: {:.1} KiB per connection\n",
            rss_idle as f64 / 1048576.0,
            rss_kept as f64 / 1048576.0,
            per_conn / 1024.0
        );
        guard.figure(format!("rss_kib_per_kept_connection@{peers}"), per_conn / 1024.0, 1.3);

        println!(
            "{:<14} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "phase (msg/s)", "unique", "peak/s", "copies", "refused", "events", "missing", "lagged",
            "CPU %", "p50 ms", "p99 ms", "max ms", "sink p99", "read p99", "read max", "earlier", "earl >5ms", "earl p99", "earl max", "recred", "unheld", "RSS MiB", "pub CPU %"
        );
        let mut worst_missing = 0u64;
        for (i, phase) in phases.iter().enumerate() {
            let tag = (i % 255) as u8 + 1;
            let lagged0 = defence.lagged.load(Relaxed);
            let lateness0 = traffic.read_lateness.snapshot();
            let earlier0 = traffic.earlier_copies.snapshot();
            let recredited0 = traffic.recredited.load(Relaxed);
            let unheld0 = traffic.earlier_unheld.load(Relaxed);
            let cpu0 = cpu();
            let t0 = Instant::now();
            writeln!(to_child, "RUN {}{} {secs} {tag}", phase.rate, if phase.bursty { "b" } else { "" })
                .expect("to child");
            to_child.flush().ok();
            line.clear();
            tokio::task::block_in_place(|| from_child.read_line(&mut line)).expect("DONE");
            let done: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .take(5)
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            assert_eq!(done.len(), 5, "child said {line:?}");
            let [unique, sends, refused, peak] = [done[0], done[1], done[2], done[3]].map(|v| v as u64);
            let publishers_cpu = done[4];
            // The last messages in flight, at most 5 s.
            let settle = Instant::now();
            while settle.elapsed() < Duration::from_secs(5) {
                let got = watch.seen.lock().unwrap().events.get(&tag).copied().unwrap_or(0);
                if got >= unique {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let wall = t0.elapsed();
            let used = cpu().saturating_sub(cpu0);
            let (events, mut delays, mut to_sink) = {
                let mut seen = watch.seen.lock().unwrap();
                let events = seen.events.remove(&tag).unwrap_or(0);
                (
                    events,
                    seen.delays.remove(&tag).unwrap_or_default(),
                    seen.to_sink.remove(&tag).unwrap_or_default(),
                )
            };
            delays.sort_unstable();
            to_sink.sort_unstable();
            let missing = unique.saturating_sub(events);
            worst_missing = worst_missing.max(missing);
            let cpu_pct = 100.0 * used.as_secs_f64() / wall.as_secs_f64();
            let lateness = traffic.read_lateness.snapshot().since(&lateness0);
            let earlier = traffic.earlier_copies.snapshot().since(&earlier0);
            // Bucket upper bounds (0.25 ms steps to 20 ms); "-" past 1 s or with no counts.
            let ms = |h: &LatenessSnapshot, q: f64| {
                h.quantile(q)
                    .map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1e3))
            };
            let late = |q: f64| ms(&lateness, q);
            println!(
                "{:<14} {unique:>9} {peak:>8} {sends:>9} {refused:>8} {events:>8} {missing:>8} {:>8} {cpu_pct:>7.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8.1} {publishers_cpu:>9.1}",
                phase.to_string(),
                defence.lagged.load(Relaxed) - lagged0,
                percentile(&delays, 0.5),
                percentile(&delays, 0.99),
                percentile(&delays, 1.0),
                percentile(&to_sink, 0.99),
                late(0.99),
                late(1.0),
                earlier.reads(),
                // Buckets past 5 ms: copies earlier by more than that.
                earlier
                    .buckets()
                    .iter()
                    .filter(|(le, _)| *le > 0.005)
                    .map(|(_, c)| c)
                    .sum::<u64>(),
                ms(&earlier, 0.99),
                ms(&earlier, 1.0),
                traffic.recredited.load(Relaxed) - recredited0,
                traffic.earlier_unheld.load(Relaxed) - unheld0,
                rss() as f64 / 1048576.0
            );
            guard.figure(format!("cpu_pct@{phase}"), cpu_pct, 1.3);
        }
        println!(
            "\nCPU % is the sentry process's user+system time over the phase's wall time (100 = one core; \
             pub CPU %: the publishing peers' process, on the same two cores); \
             copies are the publishes (each message from 1 to {dup} peers); ms columns: first-delivery \
             timestamp minus first publish (the timestamp has 1 ms resolution, so -1 to 0 ms means \
             within the same millisecond), and the event reaching the sink; read p99 / max: how long \
             bytes waited in the kernel before the sentry read them (the read's time minus the kernel's \
             receive timestamp; upper bounds of 0.25 ms buckets, \"-\" past 1 s); earlier, earl >5ms, earl p99 / max: \
             copies stamped before the copy of their message delivered first, those by more than \
             5 ms, and by how much (same buckets); recred: of those, the copies that took their \
             message's credit while its first delivery was held (25-30 ms), unheld: those reported \
             after it was handed on (every message here is a sound attestation, so all held); untimely {} undecodable {}",
            stats.attestations_untimely.load(Relaxed),
            stats.attestation_errors.load(Relaxed)
        );
        drop(to_child);
        let _ = child.wait();
        let _ = stop_tx.send(());
        let _ = run.await;
        assert_eq!(worst_missing, 0, "the sentry lost attestations");
    });
    guard.finish();
}
