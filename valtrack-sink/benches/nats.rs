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

    // 0. the consumer's own work, without NATS: decode the JSON, write Parquet
    let start = Instant::now();
    let decoded: Vec<Event> = payloads
        .iter()
        .map(|p| Event::from_json(p).expect("decodes"))
        .collect();
    let decode = start.elapsed();
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

    // 1. publish through the sink
    let sink = NatsSink::connect(
        NatsSinkConfig::builder(nats.clone(), spool.path())
            .build()
            .expect("config"),
    )
    .await
    .expect("sink");
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
    let fetch = raw_fetch(&js, &stream, n).await;

    // 3. the consumer into a sink that drops everything: fetch, decode, dedupe, ack
    let config = ConsumerConfig::builder(nats.clone())
        .name("bench-null")
        .commit_interval(Duration::from_millis(200))
        .build()
        .expect("config");
    let consumer = Consumer::new(config, Null);
    let start = Instant::now();
    let stats = consumer
        .run(until_caught_up(&js, "bench-null", last))
        .await
        .expect("consumer");
    let consume_null = start.elapsed();
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
    let start = Instant::now();
    let stats = consumer
        .run(until_caught_up(&js, "bench", last))
        .await
        .expect("consumer");
    let consume = start.elapsed();
    assert_eq!(stats.written as usize, n, "{stats:?}");

    // 5. two consumers sharing one durable and one dataset (each its own writer slot), as
    // `valtrack consumer --role tables` twice
    let shared = tempfile::tempdir().expect("tempdir");
    let member = || {
        let config = ConsumerConfig::builder(nats.clone())
            .name("bench-2")
            .commit_interval(Duration::from_millis(200))
            .seed_from_parquet(shared.path())
            .build()
            .expect("config");
        let parquet = ParquetSink::open(
            ParquetSinkConfig::builder(shared.path())
                .shared(true)
                .build()
                .expect("config"),
        )
        .expect("parquet");
        Consumer::new(config, parquet)
    };
    let (a, b) = (member(), member());
    let start = Instant::now();
    let (sa, sb) = tokio::join!(
        a.run(until_caught_up(&js, "bench-2", last)),
        b.run(until_caught_up(&js, "bench-2", last))
    );
    let consume_two = start.elapsed();
    let (sa, sb) = (sa.expect("consumer"), sb.expect("consumer"));
    assert_eq!((sa.written + sb.written) as usize, n, "{sa:?} {sb:?}");

    println!(
        "NATS JetStream, {n} events ({} bytes each on average), nats-server on loopback",
        bytes / n.max(1)
    );
    println!("| case | time | events/s |");
    println!("|---|---|---|");
    println!(
        "| NatsSink publish (send + flush, {} in flight) | {publish:.2?} | {:.0} |",
        valtrack_sink::DEFAULT_MAX_IN_FLIGHT,
        rate(n, publish)
    );
    println!(
        "| JSON decode alone (one thread) | {decode:.2?} | {:.0} |",
        rate(n, decode)
    );
    println!(
        "| of which PeerId text → key check | {peer_parse:.2?} | {:.0} |",
        rate(n, peer_parse)
    );
    println!(
        "| ParquetSink alone (send + flush) | {parquet_alone:.2?} | {:.0} |",
        rate(n, parquet_alone)
    );
    println!(
        "| raw async-nats fetch + ack each (batches of 1000) | {fetch:.2?} | {:.0} |",
        rate(n, fetch)
    );
    println!(
        "| consumer → a sink that drops events (fetch, decode, dedupe, ack) | {consume_null:.2?} | {:.0} |",
        rate(n, consume_null)
    );
    println!(
        "| consumer → ParquetSink (decode, dedupe, write, flush, ack) | {consume:.2?} | {:.0} |",
        rate(n, consume)
    );
    println!(
        "| 2 consumers, one durable → one shared dataset ({} + {} events) | {consume_two:.2?} | {:.0} |",
        sa.written,
        sb.written,
        rate(n, consume_two)
    );
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
