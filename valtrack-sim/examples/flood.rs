//! Runs one of valtrack-sim's floods against a sentry and prints what it saw as one JSON
//! line (for `scripts/flood.py`).
//!
//! ```text
//! cargo run --release -p valtrack-sim --example flood -- KIND --network DIR --genesis-time T \
//!     --peer-id PEER --addr /ip4/127.0.0.1/tcp/PORT [--rate N] [--seconds S] [--count N] \
//!     [--concurrency C] [--identities K]
//! ```
//!
//! KIND: `gossip` (junk attestations at --rate a second for --seconds or until dropped,
//! from each of --identities fresh identities in turn), `frames` (a 13 MB
//! GossipSub frame a second for --seconds), `rpc` (--count abusive req/resp streams,
//! --concurrency at once), `churn` (--count inbound connections from fresh identities,
//! --concurrency at once). The network directory is the one `valtrack sim` writes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use valtrack_sim::flood::{
    gossip_flood, inbound_churn, rpc_abuse, ChurnConfig, GossipFloodConfig, RpcAbuseConfig,
};

struct Args {
    kind: String,
    network: PathBuf,
    genesis_time: u64,
    peer_id: libp2p::PeerId,
    addr: libp2p::Multiaddr,
    rate: u32,
    seconds: u64,
    count: u32,
    concurrency: u32,
    identities: u32,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let kind = it
        .next()
        .ok_or("missing KIND: gossip, frames, rpc or churn")?;
    if !["gossip", "frames", "rpc", "churn"].contains(&kind.as_str()) {
        return Err(format!(
            "unknown KIND `{kind}`: gossip, frames, rpc or churn"
        ));
    }
    let (mut network, mut genesis_time, mut peer_id, mut addr) = (None, None, None, None);
    let (mut rate, mut seconds, mut count, mut concurrency) = (2_000, 10, 1_000, 50);
    let mut identities = 1;
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--network" => network = Some(PathBuf::from(&value)),
            "--genesis-time" => genesis_time = Some(value.parse().map_err(|e| bad(&e))?),
            "--peer-id" => peer_id = Some(value.parse().map_err(|e| bad(&e))?),
            "--addr" => addr = Some(value.parse().map_err(|e| bad(&e))?),
            "--rate" => rate = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => seconds = value.parse().map_err(|e| bad(&e))?,
            "--count" => count = value.parse().map_err(|e| bad(&e))?,
            "--concurrency" => concurrency = value.parse().map_err(|e| bad(&e))?,
            "--identities" => identities = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        kind,
        network: network.ok_or("missing --network DIR")?,
        genesis_time: genesis_time.ok_or("missing --genesis-time SECS")?,
        peer_id: peer_id.ok_or("missing --peer-id")?,
        addr: addr.ok_or("missing --addr")?,
        rate,
        seconds: seconds.min(3_600),
        count: count.min(1_000_000),
        concurrency: concurrency.clamp(1, 1_000),
        identities: identities.clamp(1, 10_000),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let network = match valtrack_core::NetworkDir::network(
        &args.network,
        Some(Duration::from_secs(args.genesis_time)),
    ) {
        Ok((n, _)) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let json = match args.kind.as_str() {
        "gossip" | "frames" => {
            let frames = args.kind == "frames";
            let config = GossipFloodConfig {
                rate: if frames { 0 } else { args.rate },
                duration: Duration::from_secs(args.seconds),
                oversized_frames: frames,
                seed: 1,
            };
            // each identity in turn, until dropped; the figures summed, the drop times listed
            let (mut published, mut by_kind, mut frames_sent, mut refused) = (0, [0u64; 4], 0, 0);
            let (mut dropped, mut redials, mut closed) = (Vec::new(), 0, 0);
            for i in 0..args.identities {
                let config = GossipFloodConfig {
                    seed: u64::from(i) + 1,
                    ..config.clone()
                };
                match gossip_flood(&network, args.peer_id, vec![args.addr.clone()], &config).await {
                    Ok(r) => {
                        published += r.total();
                        for (k, n) in by_kind.iter_mut().zip(r.published) {
                            *k += n;
                        }
                        frames_sent += r.oversized_frames;
                        refused += r.refused;
                        dropped.push(r.disconnected_after.map(|d| d.as_secs_f64()));
                        redials += r.redials.0;
                        closed += r.redials.1;
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let times: Vec<String> = dropped
                .iter()
                .map(|d| d.map_or("null".into(), |s| format!("{s:.2}")))
                .collect();
            format!(
                r#"{{"published":{published},"by_kind":{by_kind:?},"frames":{frames_sent},"refused":{refused},"dropped_after_s":[{}],"redials":{redials},"redials_closed":{closed}}}"#,
                times.join(",")
            )
        }
        "rpc" => {
            let config = RpcAbuseConfig {
                streams: args.count,
                concurrency: args.concurrency,
                hold: Duration::from_secs(args.seconds.max(1)),
            };
            match rpc_abuse(args.peer_id, args.addr, &config).await {
                Ok(r) => format!(
                    r#"{{"opened":{:?},"refused":{:?},"closed_by_target":{:?},"longest_s":{:?},"hostile_answers":{},"connected_at_end":{}}}"#,
                    r.opened,
                    r.refused,
                    r.closed_by_target,
                    r.longest.map(|d| (d.as_secs_f64() * 100.0).round() / 100.0),
                    r.hostile_answers,
                    r.connected_at_end
                ),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            let config = ChurnConfig {
                connections: args.count,
                concurrency: args.concurrency,
            };
            let r = inbound_churn(args.peer_id, args.addr, &config).await;
            format!(
                r#"{{"completed":{},"failed":{},"elapsed_s":{:.2}}}"#,
                r.completed,
                r.failed,
                r.elapsed.as_secs_f64()
            )
        }
    };
    println!("{json}");
    ExitCode::SUCCESS
}
