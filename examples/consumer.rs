//! The consumer as a library user wires it: a durable JetStream pull consumer → derived
//! validator estimates → Parquet tables, acknowledging only what is durable.
//!
//! ```sh
//! nats-server --jetstream --config server/nats-server.conf
//! cargo run --example consumer                              # nats://localhost:4222 → ./data
//! cargo run --example consumer -- nats://host:4222 ./out 60 # … for 60 s
//! ```

use std::time::Duration;

use valtrack::core::Network;
use valtrack::sink::consumer::{Consumer, ConsumerConfig};
use valtrack::sink::{DeriveSink, NatsConfig, ParquetSink, ParquetSinkConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "nats://localhost:4222".to_owned());
    let dir = args.next().unwrap_or_else(|| "./data".to_owned());
    let secs: Option<u64> = args.next().map(|s| s.parse()).transpose()?;

    let config = ConsumerConfig::builder(NatsConfig::builder(&url).build()?)
        .name("example-consumer")
        .seed_from_parquet(&dir) // dedupe across restarts
        .build()?;
    let parquet = ParquetSink::open(ParquetSinkConfig::builder(&dir).build()?)?;
    // Estimates are dated by the network's clock (here mainnet's).
    let sink = DeriveSink::new(parquet).with_network(Network::mainnet());
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
        "received {}, written {}, duplicates {}, dead-lettered {}",
        stats.received, stats.written, stats.duplicates, stats.dead_lettered
    );
    Ok(())
}
