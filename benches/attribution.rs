//! Attestation attribution accuracy: a simulated network whose validators publish
//! `SingleAttestation`s every epoch (relayed among nodes), one sentry in attestation mode,
//! and the attributions of K whole epochs scored against the ground truth. Prints tables:
//! overall, per evidence kind, per node class (validators hosted) and per node role.
//!
//! `cargo bench --bench attribution` (release; 100 nodes, `DEFAULT_VALIDATOR_MIX`, default
//! roles, 4 epochs of 500 ms slots). Overrides: `VALTRACK_SIM_NODES`, `VALTRACK_EPOCHS`,
//! `VALTRACK_SLOT_MS`, `VALTRACK_SIM_SEED`, and `VALTRACK_ALL_HONEST=1` (no full,
//! unreachable, other-fork or hostile nodes). Without `--bench` (as `cargo test` runs it) a
//! 20-node, 1-epoch smoke run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack_sim::{
    run_attribution, sim_network_with_slot, AttributionCounts, SimNet, DEFAULT_VALIDATOR_MIX,
};

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn row(name: &str, c: &AttributionCounts, with_recall: bool) {
    let recall = if with_recall {
        format!("{:>8.2}%", 100.0 * c.recall())
    } else {
        format!("{:>9}", "-")
    };
    let truth = if with_recall {
        format!("{:>7}/{:<7}", c.found, c.truth)
    } else {
        format!("{:>15}", "-")
    };
    println!(
        "{name:<28} {:>7}/{:<7} {:>8.2}% {truth} {recall}",
        c.correct,
        c.claims,
        100.0 * c.precision()
    );
}

fn header(first: &str) {
    println!(
        "{first:<28} {:>15} {:>9} {:>15} {:>9}",
        "correct/claims", "precision", "found/truth", "recall"
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let nodes: usize = env("VALTRACK_SIM_NODES", if bench { 100 } else { 20 });
    let epochs: u64 = env("VALTRACK_EPOCHS", if bench { 4 } else { 1 });
    let slot_ms: u64 = env("VALTRACK_SLOT_MS", 500);
    let seed: u64 = env("VALTRACK_SIM_SEED", 3);
    let all_honest = env("VALTRACK_ALL_HONEST", 0u8) == 1;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let network = sim_network_with_slot(
            Duration::from_secs(now.as_secs()),
            Duration::from_millis(slot_ms),
        );
        let mut builder = SimNet::builder(nodes)
            .seed(seed)
            .network(network)
            .validators(DEFAULT_VALIDATOR_MIX)
            .attestations(true);
        if all_honest {
            builder = builder.roles(0.0, 0.0, 0.0, 0.0);
        }
        let net = builder.spawn().await.expect("simulated network");
        let run = run_attribution(&net, epochs, Duration::from_secs(120))
            .await
            .expect("sentry");
        let s = &run.score;
        println!(
            "\nattribution: {nodes} nodes ({}), {} validators, slots {slot_ms} ms, epochs {:?} \
             scored, warm-up {:.1?} ({} handshakes / {} reachable nodes), {} messages \
             ({} undecodable), {} events\n",
            if all_honest {
                "all honest"
            } else {
                "default roles: 5% each full, unreachable, other-fork, hostile"
            },
            net.total_validators(),
            run.epochs,
            run.warmup,
            run.handshaken.0,
            run.handshaken.1,
            run.messages,
            run.undecodable,
            run.events.len(),
        );
        header("overall");
        row("all", &s.overall, true);
        println!();
        header("by evidence kind");
        for (kind, c) in &s.by_evidence {
            row(&format!("{kind:?}"), c, false);
        }
        println!();
        header("by node class (validators)");
        for (class, c) in &s.by_class {
            row(&format!("{class} validators"), c, true);
        }
        println!();
        header("by role of the true host");
        for (role, c) in &s.by_role {
            row(&format!("{role:?}"), c, true);
        }
        estimates(&net, &run, net.network().clone()).await;
        println!(
            "\ngoal: precision >= 99%, recall >= 90% -> {}",
            if s.overall.precision() >= 0.99 && s.overall.recall() >= 0.90 {
                "met"
            } else {
                "not met"
            }
        );
    });
}

/// Validator estimates per node, as the consumer derives them: the run's attestation events,
/// then each node's last handshake, go through a [`DeriveSink`] (which counts the validators
/// attributed with the strongest evidence, and combines them with the short-lived subnets, the
/// cgc and legacy attnets); its `validator_metadata` rows are compared with the truth.
async fn estimates(
    net: &SimNet,
    run: &valtrack_sim::AttributionRun,
    network: valtrack::core::Network,
) {
    use std::collections::{BTreeMap, HashMap};
    use valtrack::core::{Event, EventSink};
    use valtrack::sink::{ChannelSink, DeriveSink};
    let (inner, mut rx) = ChannelSink::new(run.events.len() + 2 * run.handshakes.len() + 16);
    let derive = DeriveSink::new(inner).with_network(network);
    for e in &run.events {
        derive
            .send(Event::Attestation(e.clone()))
            .await
            .expect("send");
    }
    for p in net.peers() {
        if let Some(m) = run.handshakes.get(&p.peer_id()) {
            derive.send(Event::Metadata(m.clone())).await.expect("send");
        }
    }
    drop(derive);
    let mut rows = HashMap::new();
    while let Some(e) = rx.recv().await {
        if let Event::ValidatorMetadata(row) = e {
            rows.insert(row.meta.peer_id, row);
        }
    }
    // class -> (nodes, within ±10 %, sum of |error| / truth, sum of estimates, sum of truth)
    let mut by_class: BTreeMap<u64, (u64, u64, f64, u64, u64)> = BTreeMap::new();
    for p in net.peers() {
        let Some(row) = rows.get(&p.peer_id()) else {
            continue;
        };
        let truth = p.validators();
        let est = row.estimated_validators;
        let c = by_class.entry(truth).or_default();
        c.0 += 1;
        let err = est.abs_diff(truth) as f64 / truth.max(1) as f64;
        if (truth == 0 && est == 0) || (truth > 0 && err <= 0.10) {
            c.1 += 1;
        }
        c.2 += if truth == 0 { est as f64 } else { err };
        c.3 += est;
        c.4 += truth;
    }
    println!("\nvalidator estimates per handshaken node (goal: within ±10 % for nodes with >= 8)");
    println!(
        "| validators hosted | nodes | within ±10 % | mean |error| | total estimated / true |"
    );
    println!("|---|---|---|---|---|");
    for (class, (nodes, ok, err, est, truth)) in by_class {
        println!(
            "| {class} | {nodes} | {ok} ({:.0} %) | {} | {est} / {truth} |",
            100.0 * ok as f64 / nodes.max(1) as f64,
            if class == 0 {
                format!("{:.2} validators", err / nodes.max(1) as f64)
            } else {
                format!("{:.1} %", 100.0 * err / nodes.max(1) as f64)
            },
        );
    }
}
