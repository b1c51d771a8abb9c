//! The consumer as a library user wires it — the same as `valtrack consumer`: a durable
//! JetStream pull consumer → derived validator estimates and locations → Parquet tables and
//! the tracker store (and, given a fourth argument, the tracker's HTTP API), acknowledging
//! only what is durable.
//!
//! ```sh
//! nats-server --jetstream --config server/nats-server.conf
//! cargo run --example consumer                                   # nats://localhost:4222 → ./data
//! cargo run --example consumer -- nats://host:4222 ./out 60      # … for 60 s
//! cargo run --example consumer -- nats://host:4222 ./out 60 127.0.0.1:8080   # … with the API
//! ```

use std::time::Duration;

use valtrack::core::Network;
use valtrack::sink::consumer::{Consumer, ConsumerConfig};
use valtrack::sink::{NatsConfig, Store, StoreConfig, DEFAULT_NATS_URL};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| DEFAULT_NATS_URL.to_owned());
    let dir = args.next().unwrap_or_else(|| "./data".to_owned());
    let secs: Option<u64> = args.next().map(|s| s.parse()).transpose()?;
    let api: Option<std::net::SocketAddr> = args.next().map(|s| s.parse()).transpose()?;

    // Parquet tables, tracker store and (optionally) the API, with estimates dated by
    // mainnet's clock; add `.geoip_city(…)`/`.geoip_asn(…)` for peer locations.
    let mut store = StoreConfig::builder(&dir).network(Network::mainnet());
    if let Some(addr) = api {
        store = store.api_listen(addr);
    }
    let (store, sink) = Store::open(store.build()?).await?;

    let config = ConsumerConfig::builder(NatsConfig::builder(&url).build()?)
        .name("example-consumer")
        .seed_from_parquet(&dir) // dedupe across restarts
        .build()?;
    let stop = async move {
        match secs {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let stats = Consumer::new(config, sink).run(stop).await?;
    println!(
        "received {}, written {}, duplicates {}, dead-lettered {}; {}",
        stats.received,
        stats.written,
        stats.duplicates,
        stats.dead_lettered,
        store.counts()
    );
    store.close().await;
    Ok(())
}
