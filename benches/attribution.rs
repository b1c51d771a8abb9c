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

use valtrack::sentry::sim::{
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
