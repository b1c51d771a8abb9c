//! An `EventSink` written as a user outside the workspace would: it counts events by kind
//! and remembers every client it saw. Run over a small simulated network:
//! `cargo run --example custom_sink`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use valtrack::core::{Event, EventSink, SinkError};

/// Counts events per kind and handshakes per client (clones share the counts).
#[derive(Debug, Default, Clone)]
struct Tally {
    kinds: Arc<Mutex<BTreeMap<String, u64>>>,
    clients: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl EventSink for Tally {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        *self
            .kinds
            .lock()
            .unwrap()
            .entry(format!("{:?}", event.kind()))
            .or_default() += 1;
        if let Event::Metadata(m) = &event {
            if let Some(client) = &m.client {
                *self
                    .clients
                    .lock()
                    .unwrap()
                    .entry(client.kind.to_string())
                    .or_default() += 1;
            }
        }
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = valtrack_sim::SimNet::builder(20).spawn().await?;
    let tally = Tally::default();
    valtrack::sentry::SentryService::builder(sim.network().clone())
        .bootnodes([valtrack::core::parse_enr(&sim.bootnode().to_base64())?])
        .listen_ip(std::net::Ipv4Addr::LOCALHOST.into())
        .ports(0, 0, 0)
        .build(tally.clone())
        .await?
        .run(tokio::time::sleep(Duration::from_secs(8)))
        .await?;
    println!("events by kind: {:?}", tally.kinds.lock().unwrap());
    println!("handshakes by client: {:?}", tally.clients.lock().unwrap());
    Ok(())
}
