//! The PostgreSQL store at mainnet size, against a real server: the write path's rows/s
//! into PostgreSQL beside the same path into Parquet and `tracker.redb`, then the latencies
//! (p50/p99) of the queries behind the API's routes, on both stores.
//!
//! The events are a mainnet-shaped stream: 99 `SingleAttestation`s for each handshake, from
//! 10,000 peers, each peer the node of 100 of 1,000,000 validators (so attestations update
//! existing attribution rows once every validator has been seen), at 3,000 events a second
//! of event time. They go through the store's whole write path (`Store` with role `all`:
//! derived estimates, the five tables, the tracker) with a flush every 50,000 events, as the
//! consumer commits.
//!
//! `cargo bench -p valtrack-sink --bench postgres` (release, 10,000,000 events into
//! PostgreSQL, 2,000,000 into Parquet; `VALTRACK_PG_BENCH_EVENTS` and
//! `VALTRACK_PG_BENCH_PARQUET_EVENTS` override). Without `--bench` (as `cargo test` runs it)
//! 20,000 events as a smoke test. Needs a server: `VALTRACK_BENCH_DATABASE_URL`, else
//! `VALTRACK_TEST_DATABASE_URL` (`scripts/pg-cluster start DIR` prints one); it creates and
//! drops its own database there.

#[path = "../tests/it/fixtures.rs"]
#[allow(dead_code, unreachable_pub)]
mod fixtures;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;
use valtrack_core::{Event, EventSink, PeerId};
use valtrack_sink::store::{Store, StoreConfig, StoreSink};
use valtrack_sink::{PgStore, TrackerStore};

const PEERS: u64 = 10_000;
const VALIDATORS: u64 = 1_000_000;
/// Events between two flushes (the consumer's default commit size).
const COMMIT: u64 = 50_000;

/// Event `i` of the stream, made from the two templates.
fn event(i: u64, peers: &[PeerId], att: &Event, md: &Event) -> Event {
    let mut e = if i.is_multiple_of(100) {
        md.clone()
    } else {
        att.clone()
    };
    let validator = (i * 7_919) % VALIDATORS;
    let slot = 9_600_000 + i / 36_000;
    let p = match &mut e {
        Event::Attestation(a) => {
            a.attester_index = Some(validator);
            a.subnet = validator % 64;
            a.slot = slot;
            a.target_epoch = slot / 32;
            peers[(validator % PEERS) as usize]
        }
        _ => peers[((i / 100) % PEERS) as usize],
    };
    let meta = match &mut e {
        Event::Attestation(a) => &mut a.meta,
        Event::Metadata(m) => &mut m.meta,
        _ => unreachable!("two kinds"),
    };
    meta.event_id = format!("{:032x}", 0x5000_0000_0000u64 + i);
    meta.timestamp = fixtures::T0 + i / 3;
    meta.peer_id = p;
    meta.node_id = p.node_id();
    meta.enr = None;
    e
}

/// Writes events `0..n` through `sink`, flushing every [`COMMIT`]; the time taken, and the
/// time of the last `tail` events.
async fn load(sink: &StoreSink, n: u64, tail: u64, peers: &[PeerId]) -> (Duration, Duration) {
    let att = fixtures::attestation(0);
    let md = fixtures::metadata(0);
    let start = Instant::now();
    let mut tail_start = start;
    for i in 0..n {
        if i == n.saturating_sub(tail) {
            tail_start = Instant::now();
        }
        sink.send(event(i, peers, &att, &md)).await.expect("send");
        if (i + 1).is_multiple_of(COMMIT) {
            sink.flush().await.expect("flush");
            if (i + 1).is_multiple_of(1_000_000) {
                eprintln!("  {} events, {:.0} s", i + 1, start.elapsed().as_secs_f64());
            }
        }
    }
    sink.flush().await.expect("flush");
    (start.elapsed(), tail_start.elapsed())
}

/// p50 and p99 of `samples`, in ms.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

/// The queries behind the routes, `k` times each with varied arguments: (route, p50, p99).
enum Reads {
    Pg(Arc<PgStore>),
    Redb(Arc<TrackerStore>),
}

impl Reads {
    async fn time(&self, route: usize, r: u64, peers: &[PeerId], window: (u64, u64)) -> Duration {
        let start = Instant::now();
        let (from, to) = window;
        let span = (to - from).max(1);
        let at = from + r % span;
        let p = peers[(r % PEERS) as usize];
        match (self, route) {
            (Self::Pg(s), 0) => drop(s.estimates(at, to, 1_000).await.expect("estimates")),
            (Self::Pg(s), 1) => drop(s.peers(100, r % PEERS).await.expect("peers")),
            (Self::Pg(s), 2) => {
                drop(s.peer(&p).await.expect("peer"));
                drop(s.history(&p, 100).await.expect("history"));
            }
            (Self::Pg(s), _) => drop(s.stats().await.expect("stats")),
            (Self::Redb(s), 0) => drop(s.estimates(at, to, 1_000).expect("estimates")),
            (Self::Redb(s), 1) => drop(s.peers(100, r % PEERS).expect("peers")),
            (Self::Redb(s), 2) => {
                drop(s.peer(&p).expect("peer"));
                drop(s.history(&p, 100).expect("history"));
            }
            (Self::Redb(s), _) => drop(s.stats().expect("stats")),
        }
        start.elapsed()
    }
}

const ROUTES: [&str; 4] = [
    "/validators?from=…&limit=1000",
    "/peers?limit=100&offset=…",
    "/peers/{id} (peer + history)",
    "/stats (uncached)",
];

async fn latencies(reads: &Reads, k: u64, peers: &[PeerId], window: (u64, u64)) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for route in 0..ROUTES.len() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut samples = Vec::new();
        for _ in 0..k {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push(reads.time(route, x, peers, window).await);
        }
        out.push(percentiles(samples));
    }
    out
}

async fn psql(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("the bench server answers");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = driver.await;
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench {
        env_u64("VALTRACK_PG_BENCH_EVENTS", 10_000_000)
    } else {
        20_000
    };
    let n_parquet = if bench {
        env_u64("VALTRACK_PG_BENCH_PARQUET_EVENTS", 2_000_000).min(n)
    } else {
        n
    };
    let admin = std::env::var("VALTRACK_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("VALTRACK_TEST_DATABASE_URL"))
        .expect(
            "VALTRACK_BENCH_DATABASE_URL or VALTRACK_TEST_DATABASE_URL names a PostgreSQL server",
        );
    let name = format!("vt_bench_{}", std::process::id());
    psql(&admin, &format!("CREATE DATABASE {name}")).await;
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    );
    let peers: Vec<PeerId> = (0..PEERS).map(fixtures::mainnet_peer).collect();
    let tail = (n / 10).max(1);

    // PostgreSQL.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig::builder(dir.path().join("unused"))
        .database(&url)
        .build()
        .expect("config");
    let (store, sink) = Store::open(config).await.expect("the database opens");
    eprintln!("PostgreSQL: {n} events into {}", store.location());
    let (pg_all, pg_tail) = load(&sink, n, tail, &peers).await;
    let pg_first = if n_parquet < n { None } else { Some(pg_all) };
    let pg = store.database().expect("a database").clone();
    let rows = pg.table_rows().await.expect("row counts");
    drop(sink);

    // Parquet and tracker.redb, same events.
    let config = StoreConfig::builder(dir.path().join("data"))
        .build()
        .expect("config");
    let (pstore, psink) = Store::open(config).await.expect("the data dir opens");
    eprintln!("Parquet + tracker.redb: {n_parquet} events");
    let (pq_all, _) = load(&psink, n_parquet, 1, &peers).await;
    drop(psink);
    let redb = pstore.tracker().expect("a tracker").clone();

    // PostgreSQL again on a fresh database for the first n_parquet events alone, when the
    // big load was bigger: the same-size comparison.
    let pg_same = match pg_first {
        Some(d) => d,
        None => {
            let name2 = format!("{name}_same");
            psql(&admin, &format!("CREATE DATABASE {name2}")).await;
            let url2 = format!(
                "{}/{name2}",
                url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b)
            );
            let config = StoreConfig::builder(dir.path().join("unused"))
                .database(&url2)
                .build()
                .expect("config");
            let (s2, sink2) = Store::open(config).await.expect("opens");
            let (d, _) = load(&sink2, n_parquet, 1, &peers).await;
            drop(sink2);
            s2.close().await;
            psql(&admin, &format!("DROP DATABASE {name2} WITH (FORCE)")).await;
            d
        }
    };

    let k = if bench { 200 } else { 20 };
    let window = (fixtures::T0, fixtures::T0 + n / 3);
    let pg_lat = latencies(&Reads::Pg(pg.clone()), k, &peers, window).await;
    let window_pq = (fixtures::T0, fixtures::T0 + n_parquet / 3);
    let redb_lat = latencies(&Reads::Redb(redb), k, &peers, window_pq).await;

    let rate = |events: u64, d: Duration| events as f64 / d.as_secs_f64();
    println!();
    println!("Write path (derive, the five tables, the tracker; flush every {COMMIT}), mainnet-shaped events from {PEERS} peers:");
    println!("| store | events | time s | events/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| Parquet + tracker.redb | {n_parquet} | {:.1} | {:.0} |",
        pq_all.as_secs_f64(),
        rate(n_parquet, pq_all)
    );
    println!(
        "| PostgreSQL, same events | {n_parquet} | {:.1} | {:.0} |",
        pg_same.as_secs_f64(),
        rate(n_parquet, pg_same)
    );
    if n_parquet < n {
        println!(
            "| PostgreSQL, all | {n} | {:.1} | {:.0} |",
            pg_all.as_secs_f64(),
            rate(n, pg_all)
        );
    }
    println!(
        "| PostgreSQL, last {tail} (tables already {} rows) | {tail} | {:.1} | {:.0} |",
        n - tail,
        pg_tail.as_secs_f64(),
        rate(tail, pg_tail)
    );
    println!();
    println!(
        "Rows in PostgreSQL: {} ({:?} by table, EventKind::ALL order)",
        rows.iter().sum::<u64>(),
        rows
    );
    println!();
    println!("Queries behind the API's routes, {k} each (ms); PostgreSQL at {n} events, redb at {n_parquet}:");
    println!("| route | PostgreSQL p50 | p99 | redb p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (i, route) in ROUTES.iter().enumerate() {
        let (a, b) = pg_lat[i];
        let (c, d) = redb_lat[i];
        println!("| {route} | {a:.2} | {b:.2} | {c:.2} | {d:.2} |");
    }
    store.close().await;
    pstore.close().await;
    drop(pg);
    if std::env::var_os("VALTRACK_BENCH_KEEP").is_none() {
        psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
    } else {
        println!("kept database {url}");
    }
}
