//! The full sentry as a library user wires it: discv5 crawler, libp2p handshaker (outbound
//! and inbound), GossipSub probe, events as JSON lines on stdout.
//!
//! ```sh
//! cargo run --example sentry                 # a 30-node simulated network, 20 s
//! cargo run --example sentry -- sim 60       # … for 60 s
//! cargo run --example sentry -- mainnet 600  # the real network (needs the internet)
//! ```

use std::time::Duration;

use valtrack::core::{parse_enr, Network, MAINNET_BOOTNODES};
use valtrack::sentry::SentryService;
use valtrack::sink::StdoutSink;
use valtrack_sim::SimNet;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "sim".to_owned());
    let secs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);

    let (_sim, builder) = match which.as_str() {
        "mainnet" => {
            let bootnodes = MAINNET_BOOTNODES
                .iter()
                .map(|s| parse_enr(s))
                .collect::<Result<Vec<_>, _>>()?;
            let builder = SentryService::builder(Network::mainnet()).bootnodes(bootnodes);
            (None, builder)
        }
        "sim" => {
            let sim = SimNet::builder(30).spawn().await?;
            let builder = SentryService::builder(sim.network().clone())
                .bootnodes([parse_enr(&sim.bootnode().to_base64())?])
                .listen_ip(std::net::Ipv4Addr::LOCALHOST.into())
                .ports(0, 0, 0)
                .revisit_interval(Duration::from_secs(5));
            (Some(sim), builder)
        }
        other => return Err(format!("unknown network `{other}`: use sim or mainnet").into()),
    };
    let service = builder.build(StdoutSink::new()).await?;
    let summary = service.summary();
    service
        .run(tokio::time::sleep(Duration::from_secs(secs)))
        .await?;
    eprintln!("{}", summary());
    Ok(())
}
