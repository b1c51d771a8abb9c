//! NATS JetStream throughput, against a real `nats-server -js` on loopback: the `NatsSink`'s
//! publish rate, the consumer's rate from JetStream into Parquet, and the raw rate of fetching
//! (and acknowledging each of) the same messages with async-nats alone, which bounds the
//! consumer. The consumer here commits every 200 ms (the default is every 5 s
//! or 50,000 events), so the fsyncs of its Parquet files are part of the measurement. The
//! fixtures name one peer in every event, which keeps the PeerId key-check cache warm; a real
//! stream repeats a few thousand peers, which the 16,384-entry cache also holds.
//!
//! `cargo bench -p valtrack-sink --bench nats` (release, 200,000 events;
//! `VALTRACK_NATS_BENCH_EVENTS` overrides). Without `--bench` (as `cargo test` runs it) it
//! runs 2,000 events as a smoke test. Needs `nats-server` (see `tests/it/nats_harness.rs`).

#[path = "../tests/it/fixtures.rs"]
#[allow(dead_code, unreachable_pub)]
mod fixtures;
#[path = "../tests/it/nats_harness.rs"]
mod nats_harness;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use futures::StreamExt;
use valtrack_core::{Event, EventSink};
use valtrack_sink::consumer::{Consumer, ConsumerConfig};
use valtrack_sink::{NatsConfig, NatsSink, NatsSinkConfig, ParquetSink, ParquetSinkConfig};

use nats_harness::NatsServer;

/// Accepts and drops every event.
#[derive(Debug)]
struct Null;

impl EventSink for Null {
    async fn send(&self, event: Event) -> Result<(), valtrack_core::SinkError> {
        std::hint::black_box(event);
        Ok(())
    }
    async fn flush(&self) -> Result<(), valtrack_core::SinkError> {
        Ok(())
    }
}

/// CPU seconds (user + system) process `pid` has used, from `/proc/<pid>/stat`; 0 where that
/// cannot be read (not Linux).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th, in clock ticks of 1/100 s (USER_HZ).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU used by this process and by nats-server between two points.
#[derive(Clone, Copy)]
struct Cpu {
    own: f64,
    server: f64,
}

impl Cpu {
    fn now(server: Option<u32>) -> Self {
        Self {
            own: cpu_secs("self"),
            server: server.map_or(0.0, |p| cpu_secs(&p.to_string())),
        }
    }

    /// `| µs of this process | µs of nats-server |` per event since `self`.
    fn per_event(self, server: Option<u32>, n: usize) -> String {
        let now = Self::now(server);
        let us = |d: f64| 1e6 * d / n.max(1) as f64;
        format!(
            "{:.2} | {:.2}",
            us(now.own - self.own),
            us(now.server - self.server)
        )
    }
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                Ok(_) => e.metadata().map_or(0, |m| m.len()),
                Err(_) => 0,
            })
            .sum()
    })
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// `n` events of the four kinds, each a distinct id.
fn events(n: usize) -> Vec<Event> {
    let quarter = n.div_ceil(4) as u64;
    let mut out = fixtures::all(quarter);
    out.truncate(n);
    out
}

async fn until_caught_up(js: &jetstream::Context, name: &str, last: u64) {
    loop {
        if let Ok(stream) = js.get_stream("valtrack").await {
            let consumer: Result<jetstream::consumer::PullConsumer, _> =
                stream.get_consumer(name).await;
            if let Ok(mut c) = consumer {
                if let Ok(info) = c.info().await {
                    if info.ack_floor.stream_sequence >= last && info.num_ack_pending == 0 {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fetches `n` messages with a new durable consumer in batches of 1000, acknowledging each;
/// the time it took.
async fn raw_fetch(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
    n: usize,
) -> Duration {
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("raw".into()),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 100_000,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .expect("messages");
    let mut seen = 0;
    while seen < n {
        let m = messages.next().await.expect("more").expect("message");
        seen += 1;
        m.ack().await.expect("ack");
    }
    js.client().flush().await.expect("flush");
    start.elapsed()
}

/// A NATS sink publishing with `nats`, spooling under `spool`.
async fn nats_sink(nats: &NatsConfig, spool: &std::path::Path) -> NatsSink {
    NatsSink::connect(
        NatsSinkConfig::builder(nats.clone(), spool)
            .build()
            .expect("config"),
    )
    .await
    .expect("sink")
}

/// A consumer of durable `name` into a shared dataset under `dir` (`--role tables`).
fn member(
    nats: &NatsConfig,
    name: &str,
    dir: &std::path::Path,
    commit_interval: Duration,
) -> Consumer<ParquetSink> {
    let config = ConsumerConfig::builder(nats.clone())
        .name(name)
        .commit_interval(commit_interval)
        .seed_from_parquet(dir)
        .build()
        .expect("config");
    let parquet = ParquetSink::open(
        ParquetSinkConfig::builder(dir)
            .shared(true)
            .build()
            .expect("config"),
    )
    .expect("parquet");
    Consumer::new(config, parquet)
}

/// Deletes the event stream: the next durable starts with nothing behind it.
async fn fresh(js: &jetstream::Context) {
    let _ = js.delete_stream("valtrack").await;
}

/// Mainnet's event rate into the stream: ~2,900 attestations/s plus the handshakes of
/// ~10,000 peers an epoch (~26/s); sent in bursts every 100 ms.
const MAINNET_RATE: usize = 3_000;

/// Peers of the mainnet-shaped stream.
const MAINNET_PEERS: u64 = 10_000;

/// Event `i` of a mainnet-shaped stream: 99 attestations for one metadata event, from
/// [`MAINNET_PEERS`] peers, ids apart from every other fixture of the run.
fn mainnet_event(i: u64, peers: &[valtrack_core::PeerId]) -> Event {
    let i = 10_000_000 + i;
    let mut e = if i.is_multiple_of(100) {
        fixtures::metadata(i)
    } else {
        fixtures::attestation(i)
    };
    let peer = peers[(i % peers.len() as u64) as usize];
    let meta = match &mut e {
        Event::Metadata(m) => &mut m.meta,
        Event::Attestation(a) => &mut a.meta,
        _ => unreachable!("only these two kinds"),
    };
    meta.peer_id = peer;
    meta.node_id = peer.node_id();
    e
}

/// Publishes `secs` seconds of the mainnet-shaped stream while `members` (consumers of one
/// durable `name`, made after the stream was emptied by `fresh`) write it; samples the
/// durable's lag every 250 ms. Returns (events, max messages not yet delivered, max
/// messages not yet committed: undelivered plus delivered-unacknowledged, seconds to drain
/// after the last publish).
#[allow(clippy::too_many_arguments)]
async fn lag_run<S: EventSink>(
    nats: &NatsConfig,
    js: &jetstream::Context,
    first: u64,
    secs: u64,
    name: &str,
    members: &[Consumer<S>],
    peers: &[valtrack_core::PeerId],
) -> (u64, u64, u64, Duration) {
    let spool = tempfile::tempdir().expect("tempdir");
    let sink = nats_sink(nats, spool.path()).await;
    let (done_tx, done_rx) = tokio::sync::watch::channel(None::<u64>);
    let publisher = async {
        let per_tick = MAINNET_RATE / 10;
        let start = tokio::time::Instant::now();
        let mut i = first;
        for tick in 0..secs * 10 {
            for _ in 0..per_tick {
                sink.send(mainnet_event(i, peers)).await.expect("send");
                i += 1;
            }
            tokio::time::sleep_until(start + Duration::from_millis(100 * (tick + 1))).await;
        }
        sink.flush().await.expect("flush");
        let last = js
            .get_stream("valtrack")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .last_sequence;
        let _ = done_tx.send(Some(last));
        (i - first, tokio::time::Instant::now())
    };
    let sampler = async {
        let (mut max_pending, mut max_uncommitted) = (0u64, 0u64);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let stream = js.get_stream("valtrack").await.expect("stream");
            let consumer: Result<jetstream::consumer::PullConsumer, _> =
                stream.get_consumer(name).await;
            if let Ok(mut c) = consumer {
                if let Ok(info) = c.info().await {
                    max_pending = max_pending.max(info.num_pending);
                    max_uncommitted =
                        max_uncommitted.max(info.num_pending + info.num_ack_pending as u64);
                    if let Some(last) = *done_rx.borrow() {
                        if info.ack_floor.stream_sequence >= last && info.num_ack_pending == 0 {
                            return (max_pending, max_uncommitted, tokio::time::Instant::now());
                        }
                    }
                }
            }
        }
    };
    let runs = futures::future::join_all(members.iter().map(|m| {
        let mut done = done_rx.clone();
        let stop = async move {
            let _ = done.wait_for(Option::is_some).await;
            let last = done.borrow().unwrap_or(0);
            until_caught_up(js, name, last).await;
        };
        m.run(stop)
    }));
    let ((sent, published_at), (max_pending, max_uncommitted, drained_at), results) =
        tokio::join!(publisher, sampler, runs);
    let written: u64 = results
        .into_iter()
        .map(|r| r.expect("consumer").written)
        .sum();
    assert_eq!(written, sent, "every event written");
    sink.close().await.expect("close");
    (
        sent,
        max_pending,
        max_uncommitted,
        drained_at.saturating_duration_since(published_at),
    )
}

async fn run(n: usize) {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let nats = NatsConfig::builder(server.url()).build().expect("config");
    let spool = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let events = events(n);
    let payloads: Vec<Vec<u8>> = events.iter().map(Event::to_json).collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();

    // 0. the consumer's own work, without NATS: decode the JSON (each event dropped, as the
    // consumer hands it on: collecting 200,000 events into memory would time page faults),
    // write Parquet
    let start = Instant::now();
    for p in &payloads {
        std::hint::black_box(Event::from_json(p).expect("decodes"));
    }
    let decode = start.elapsed();
    let decoded: Vec<Event> = payloads
        .iter()
        .map(|p| Event::from_json(p).expect("decodes"))
        .collect();
    let peer = decoded[0].meta().peer_id.to_string();
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(peer.parse::<valtrack_core::PeerId>().expect("parses"));
    }
    let peer_parse = start.elapsed();
    let alone = tempfile::tempdir().expect("tempdir");
    let parquet = ParquetSink::open(
        ParquetSinkConfig::builder(alone.path())
            .build()
            .expect("config"),
    )
    .expect("parquet");
    let start = Instant::now();
    for e in decoded {
        parquet.send(e).await.expect("send");
    }
    parquet.flush().await.expect("flush");
    let parquet_alone = start.elapsed();
    drop(parquet);
    let parquet_bytes = dir_bytes(alone.path());

    // 1. publish through the sink
    let sink = nats_sink(&nats, spool.path()).await;
    let start = Instant::now();
    for e in events {
        sink.send(e).await.expect("send");
    }
    sink.flush().await.expect("flush");
    let publish = start.elapsed();
    let stats = sink.stats();
    assert_eq!(stats.acked as usize, n, "{stats:?}");
    sink.close().await.expect("close");

    let js = jetstream::new(async_nats::connect(server.url()).await.expect("connect"));
    let mut stream = js.get_stream("valtrack").await.expect("stream");
    let last = stream.info().await.expect("info").state.last_sequence;

    // 2. raw fetch of the same messages, acknowledging each (what any correct consumer with
    // explicit acks does)
    let server_pid = server.pid();
    let cpu = Cpu::now(server_pid);
    let fetch = raw_fetch(&js, &stream, n).await;
    let fetch_cpu = cpu.per_event(server_pid, n);

    // 3. the consumer into a sink that drops everything: fetch, decode, dedupe, ack
    let config = ConsumerConfig::builder(nats.clone())
        .name("bench-null")
        .commit_interval(Duration::from_millis(200))
        .build()
        .expect("config");
    let consumer = Consumer::new(config, Null);
    let (start, cpu) = (Instant::now(), Cpu::now(server_pid));
    let stats = consumer
        .run(until_caught_up(&js, "bench-null", last))
        .await
        .expect("consumer");
    let consume_null = start.elapsed();
    let consume_null_cpu = cpu.per_event(server_pid, n);
    assert_eq!(stats.written as usize, n, "{stats:?}");

    // 4. the consumer into Parquet
    let config = ConsumerConfig::builder(nats.clone())
        .name("bench")
        // a commit every 200 ms: several during the run, each closing and fsyncing the files
        .commit_interval(Duration::from_millis(200))
        .seed_from_parquet(out.path())
        .build()
        .expect("config");
    let parquet = ParquetSink::open(
        ParquetSinkConfig::builder(out.path())
            .build()
            .expect("config"),
    )
    .expect("parquet");
    let consumer = Consumer::new(config, parquet);
    let (start, cpu) = (Instant::now(), Cpu::now(server_pid));
    let stats = consumer
        .run(until_caught_up(&js, "bench", last))
        .await
        .expect("consumer");
    let consume = start.elapsed();
    let consume_cpu = cpu.per_event(server_pid, n);
    assert_eq!(stats.written as usize, n, "{stats:?}");

    // 5. two consumers sharing one durable and one dataset (each its own writer slot), as
    // `valtrack consumer --role tables` twice
    let shared = tempfile::tempdir().expect("tempdir");
    let pair = || member(&nats, "bench-2", shared.path(), Duration::from_millis(200));
    let (a, b) = (pair(), pair());
    let (start, cpu) = (Instant::now(), Cpu::now(server_pid));
    let (sa, sb) = tokio::join!(
        a.run(until_caught_up(&js, "bench-2", last)),
        b.run(until_caught_up(&js, "bench-2", last))
    );
    let consume_two = start.elapsed();
    let consume_two_cpu = cpu.per_event(server_pid, n);
    let (sa, sb) = (sa.expect("consumer"), sb.expect("consumer"));
    assert_eq!((sa.written + sb.written) as usize, n, "{sa:?} {sb:?}");

    // 6. the lag at mainnet's rate: 1 and 2 table consumers, and the tracker consumer
    let lag_secs = if n >= 100_000 { 30 } else { 2 };
    let peers: Vec<_> = (0..MAINNET_PEERS).map(fixtures::mainnet_peer).collect();
    let commit = valtrack_sink::consumer::DEFAULT_COMMIT_INTERVAL;
    let mut lags = Vec::new();
    for (k, label) in [(1u64, "1 × --role tables"), (2, "2 × --role tables")] {
        fresh(&js).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let name = format!("lag-{k}");
        let members: Vec<_> = (0..k)
            .map(|_| member(&nats, &name, dir.path(), commit))
            .collect();
        let first = k << 30;
        lags.push((
            label,
            lag_run(&nats, &js, first, lag_secs, &name, &members, &peers).await,
        ));
    }
    fresh(&js).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, sink) = valtrack_sink::Store::open(
        valtrack_sink::StoreConfig::builder(dir.path())
            .role(valtrack_sink::StoreRole::Tracker)
            .build()
            .expect("config"),
    )
    .await
    .expect("store");
    let config = ConsumerConfig::builder(nats.clone())
        .name("lag-tracker")
        .build()
        .expect("config");
    let tracker = [Consumer::new(config, sink)];
    lags.push((
        "1 × --role tracker (tracker store, derived tables)",
        lag_run(
            &nats,
            &js,
            3 << 30,
            lag_secs,
            "lag-tracker",
            &tracker,
            &peers,
        )
        .await,
    ));
    drop(tracker);
    store.close().await;

    println!(
        "NATS JetStream, {n} events ({} bytes each on average), nats-server on loopback",
        bytes / n.max(1)
    );
    println!("| case | time | events/s | CPU µs per event: this process | nats-server |");
    println!("|---|---|---|---|---|");
    println!(
        "| NatsSink publish (send + flush, {} in flight) | {publish:.2?} | {:.0} | | |",
        valtrack_sink::DEFAULT_MAX_IN_FLIGHT,
        rate(n, publish)
    );
    println!(
        "| JSON decode alone (one thread) | {decode:.2?} | {:.0} | {:.2} | |",
        rate(n, decode),
        1e6 / rate(n, decode)
    );
    println!(
        "| of which PeerId text → key check | {peer_parse:.2?} | {:.0} | | |",
        rate(n, peer_parse)
    );
    println!(
        "| ParquetSink alone (send + flush; {:.1} bytes a row on disk) | {parquet_alone:.2?} | {:.0} | | |",
        parquet_bytes as f64 / n.max(1) as f64,
        rate(n, parquet_alone)
    );
    println!(
        "| raw async-nats fetch + ack each (batches of 1000) | {fetch:.2?} | {:.0} | {fetch_cpu} |",
        rate(n, fetch)
    );
    println!(
        "| consumer → a sink that drops events (fetch, decode, dedupe, ack) | {consume_null:.2?} | {:.0} | {consume_null_cpu} |",
        rate(n, consume_null)
    );
    println!(
        "| consumer → ParquetSink (decode, dedupe, write, flush, ack) | {consume:.2?} | {:.0} | {consume_cpu} |",
        rate(n, consume)
    );
    println!(
        "| 2 consumers, one durable → one shared dataset ({} + {} events) | {consume_two:.2?} | {:.0} | {consume_two_cpu} |",
        sa.written,
        sb.written,
        rate(n, consume_two)
    );
    println!();
    println!(
        "Lag at mainnet's rate: {MAINNET_RATE} events/s (99% attestations, 1% metadata) from {MAINNET_PEERS} peers in 100 ms bursts for {lag_secs} s, default commit interval ({:?})",
        valtrack_sink::consumer::DEFAULT_COMMIT_INTERVAL
    );
    println!("| consumers | events | max undelivered | max uncommitted (undelivered + unacked) | drained after the last publish |");
    println!("|---|---|---|---|---|");
    for (label, (sent, pending, uncommitted, drain)) in lags {
        println!("| {label} | {sent} | {pending} | {uncommitted} | {drain:.2?} |");
    }
    println!(
        "consumer → Parquet / raw fetch: {:.0}%; 2 consumers / 1: {:.2}×",
        100.0 * fetch.as_secs_f64() / consume.as_secs_f64(),
        consume.as_secs_f64() / consume_two.as_secs_f64()
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench {
        std::env::var("VALTRACK_NATS_BENCH_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000)
    } else {
        2_000
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(n));
}
