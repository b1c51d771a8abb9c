//! Attestation attribution accuracy: a simulated network whose validators publish
//! `SingleAttestation`s every epoch (relayed among nodes), one sentry in attestation mode,
//! and the attributions of K whole epochs scored against the ground truth. Prints tables:
//! overall, per evidence kind, per node class (validators hosted) and per node role; then
//! the consumer's validator estimates per node class, the nodes with >= 8 validators it misses
//! (with how many of their validators were credited to them, in one epoch or more and in two
//! or more), and how the estimates converge as the scored epochs accumulate (4, 8, 16, ...).
//!
//! `cargo bench --bench attribution` (release; 100 nodes, `DEFAULT_VALIDATOR_MIX`, default
//! roles, 4 epochs of 500 ms slots). Overrides: `VALTRACK_SIM_NODES`, `VALTRACK_EPOCHS`,
//! `VALTRACK_SLOT_MS`, `VALTRACK_SIM_SEED`, `VALTRACK_ALL_HONEST=1` (no full,
//! unreachable, other-fork or hostile nodes), `VALTRACK_SUBNET_PEERS` (nodes each links to on
//! each of its backbone subnets; how full subnet meshes get), `VALTRACK_MESH_DEGREE` (random
//! links per node), `VALTRACK_SENTRIES` (sentries at once, default 3: tables for the
//! first alone, then all combined, one vote each per epoch and validator),
//! `VALTRACK_DUTY_VALIDATORS` (the network size duties are drawn from:
//! committees, aggregator odds; default mainnet's 1,000,000) and `VALTRACK_STRATEGY` (`out`: the sentry keeps out of meshes, the
//! default; `in`: it joins them; `all`: it joins every mesh that takes it; `ihave`: out of
//! meshes, taking IHAVE from every peer; `floodsub`: out of meshes, a floodsub peer of the
//! nodes that speak floodsub, which Prysm and Caplin then do; a comma-separated list runs each
//! in turn). Each simulated client publishes as its own code does
//! (`docs/gossip-publishing.md`); the table "by publisher" splits accuracy by client, flood
//! publishing or not, and whether the node was subscribed to the subnet. Without `--bench`
//! (as `cargo test` runs it) a 20-node, 1-epoch smoke run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valtrack::core::events::{AttestationEvent, MetadataEvent, ValidatorMetadataEvent};
use valtrack::core::PeerId;
use valtrack::sentry::GossipStrategy;
use valtrack_sim::{
    combine_vantage_points, run_attribution_with, score_attributions, sim_network_with_slot,
    AttributionCounts, AttributionRun, AttributionScore, SimNet, Traffic, DEFAULT_MESH_DEGREE,
    DEFAULT_SUBNET_PEERS, DEFAULT_VALIDATOR_MIX,
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
    let subnet_peers: usize = env("VALTRACK_SUBNET_PEERS", DEFAULT_SUBNET_PEERS);
    let degree: usize = env("VALTRACK_MESH_DEGREE", DEFAULT_MESH_DEGREE);
    let duty_validators: u64 = env("VALTRACK_DUTY_VALIDATORS", 1_000_000);
    let subscribe_all: f64 = env("VALTRACK_SUBSCRIBE_ALL", 0.0);
    let sentries: usize = env("VALTRACK_SENTRIES", if bench { 3 } else { 2 });
    let strategies: Vec<GossipStrategy> = std::env::var("VALTRACK_STRATEGY")
        .unwrap_or_else(|_| if bench { "out,in" } else { "out" }.to_owned())
        .split(',')
        .map(|s| match s.trim() {
            "in" => GossipStrategy::InMeshes,
            "out" => GossipStrategy::OutOfMeshes,
            "all" => GossipStrategy::AllMeshes,
            "ihave" => GossipStrategy::OutOfMeshesAnyIhave,
            "floodsub" => GossipStrategy::OutOfMeshesFloodsubLinks,
            other => panic!(
                "VALTRACK_STRATEGY: `{other}`: expected `out`, `in`, `all`, `ihave` or `floodsub`"
            ),
        })
        .collect();
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
            .attestations(true)
            .mesh_degree(degree)
            .subnet_peers(subnet_peers)
            .duty_validators(duty_validators)
            .subscribe_all(subscribe_all);
        if all_honest {
            builder = builder.roles(0.0, 0.0, 0.0, 0.0);
        }
        if strategies.contains(&GossipStrategy::OutOfMeshesFloodsubLinks) {
            // Prysm and Caplin speak floodsub, as their library does (every strategy of the
            // run meets the same network).
            builder = builder.clients(valtrack_sim::floodsub_clients(&valtrack_sim::MAINNET_LIKE_MIX));
        }
        let net = builder.spawn().await.expect("simulated network");
        let mut summary = Vec::new();
        let mut bandwidth = Vec::new();
        for strategy in strategies {
            let runs: Vec<AttributionRun> =
                futures::future::join_all((0..sentries.max(1)).map(|_| {
                    run_attribution_with(&net, epochs, Duration::from_secs(120), strategy)
                }))
                .await
                .into_iter()
                .map(|r| r.expect("sentry"))
                .collect();
            let run = &runs[0];
            let s = &run.score;
            println!(
            "\nattribution: {nodes} nodes ({}), {} validators, slots {slot_ms} ms, epochs {:?} \
             scored, warm-up {:.1?} ({} handshakes / {} reachable nodes), {} messages \
             ({} undecodable), {} events; sentry {strategy:?}, links: {degree} random + \
             {subnet_peers} per backbone subnet, {:.0} % of nodes on all subnets; duties as \
             among {duty_validators} validators\n",
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
            100.0 * subscribe_all,
        );
            header("overall");
            row("all", &s.overall, true);
            for (name, c) in coverage(s) {
                row(&name, &c, true);
            }
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
            println!();
            header("by publisher (subscribed?)");
            for (case, c) in &s.by_case {
                let name = format!(
                    "{} {}",
                    case.client,
                    if case.subscribed { "sub" } else { "unsub" }
                );
                row(&name, c, true);
            }
            println!();
            header("by publishing (subscribed?)");
            for (name, c) in by_publishing(s) {
                row(&name, &c, true);
                summary.push((strategy, 1, name, c));
            }
            summary.extend(coverage(s).into_iter().map(|(n, c)| (strategy, 1, n, c)));
            println!(
                "\nsentry received {} attestation messages over the run, {:.2} per attestation \
             published",
                run.messages,
                run.messages as f64
                    / net
                        .published_attestations()
                        .iter()
                        .filter(|a| a.published)
                        .count()
                        .max(1) as f64
            );
            for (i, r) in runs.iter().enumerate() {
                let t = &r.traffic;
                println!(
                    "sentry {i} libp2p traffic over the scored epochs ({:.1?}): received {:.1} \
                     KiB/s, sent {:.1} KiB/s; {:.0} attestation messages/s, {:.0} bytes received \
                     per message; {} mesh links at the end",
                    t.span,
                    t.received_per_sec() / 1024.0,
                    t.sent_per_sec() / 1024.0,
                    t.messages_per_sec(),
                    t.received_per_message(),
                    r.mesh_links
                );
            }
            bandwidth.push((strategy, runs.iter().map(|r| r.traffic).collect::<Vec<_>>()));
            estimates(&net, &run.events, &run.handshakes).await;
            convergence(&net, &run.events, &run.handshakes, run.epochs.clone()).await;
            let met = |c: &AttributionCounts| {
                if c.precision() >= 0.995 && c.recall() >= 0.90 {
                    "met"
                } else {
                    "not met"
                }
            };
            println!(
                "\ngoal: precision >= 99.5%, recall >= 90% -> per attestation {}, per validator \
                 on reachable nodes {}",
                met(&s.overall),
                met(&s.validators_reachable)
            );
            if runs.len() > 1 {
                combined(&net, &runs, strategy, &mut summary).await;
            }
        }
        println!(
            "\n| sentry strategy | vantage points | publishing, subscribed? | precision | recall |"
        );
        println!("|---|---|---|---|---|");
        for (strategy, points, name, c) in summary {
            println!(
                "| {strategy:?} | {points} | {name} | {:.2} % ({}/{}) | {:.2} % ({}/{}) |",
                100.0 * c.precision(),
                c.correct,
                c.claims,
                100.0 * c.recall(),
                c.found,
                c.truth
            );
        }
        println!(
            "\nsentry libp2p traffic over the scored epochs (TCP sockets: GossipSub and the \
             revisits' req/resp, framing included), mean of {sentries} sentries"
        );
        println!(
            "| sentry strategy | received KiB/s | sent KiB/s | attestation messages/s | bytes received per message |"
        );
        println!("|---|---|---|---|---|");
        for (strategy, traffic) in bandwidth {
            let n = traffic.len().max(1) as f64;
            let mean = |f: &dyn Fn(&Traffic) -> f64| traffic.iter().map(f).sum::<f64>() / n;
            println!(
                "| {strategy:?} | {:.1} | {:.1} | {:.0} | {:.0} |",
                mean(&|t| t.received_per_sec()) / 1024.0,
                mean(&|t| t.sent_per_sec()) / 1024.0,
                mean(&|t| t.messages_per_sec()),
                mean(&|t| t.received_per_message()),
            );
        }
    });
}

/// Accuracy over attestations of reachable nodes (what any strategy could see first-hand),
/// then per validator over the epochs (what an estimate counts), all and on reachable nodes.
fn coverage(s: &AttributionScore) -> Vec<(String, AttributionCounts)> {
    vec![
        ("all, reachable nodes".to_owned(), s.reachable),
        ("validators".to_owned(), s.validators),
        (
            "validators, reachable nodes".to_owned(),
            s.validators_reachable,
        ),
    ]
}

/// Accuracy per (flood publishing or not, subscribed or not), then overall.
fn by_publishing(s: &AttributionScore) -> Vec<(String, AttributionCounts)> {
    let mut by_flood: std::collections::BTreeMap<(bool, bool), AttributionCounts> =
        Default::default();
    for (case, c) in &s.by_case {
        let f = by_flood.entry((case.flood, case.subscribed)).or_default();
        f.claims += c.claims;
        f.correct += c.correct;
        f.truth += c.truth;
        f.found += c.found;
    }
    let mut rows: Vec<_> = by_flood
        .into_iter()
        .map(|((flood, subscribed), c)| {
            let name = format!(
                "{} {}",
                if flood { "flood" } else { "mesh/fanout" },
                if subscribed { "sub" } else { "unsub" }
            );
            (name, c)
        })
        .collect();
    rows.push(("all".to_owned(), s.overall));
    rows
}

/// The sentries' claims combined (one vote each per epoch and validator, see
/// [`combine_vantage_points`]) over the epochs every one of them scored, with estimates
/// from the combined claims.
async fn combined(
    net: &SimNet,
    runs: &[AttributionRun],
    strategy: GossipStrategy,
    summary: &mut Vec<(GossipStrategy, usize, String, AttributionCounts)>,
) {
    let start = runs.iter().map(|r| r.epochs.start).max().unwrap_or(0);
    let end = runs.iter().map(|r| r.epochs.end).min().unwrap_or(0);
    println!(
        "\n{} sentries {strategy:?}, each alone over its epochs (precision / recall):",
        runs.len()
    );
    for (i, r) in runs.iter().enumerate() {
        println!(
            "  sentry {i}: epochs {:?}, {:.2} % / {:.2} %",
            r.epochs,
            100.0 * r.score.overall.precision(),
            100.0 * r.score.overall.recall()
        );
    }
    let events: Vec<&[AttestationEvent]> = runs.iter().map(|r| r.events.as_slice()).collect();
    let (claims, agreement) = combine_vantage_points(&events);
    let score = score_attributions(net, &claims, start..end);
    println!(
        "combined over epochs {:?}: {agreement:?} (pairs: one vantage point, all agreeing, a \
         majority, tied and dropped)",
        start..end
    );
    header("combined, by publishing");
    for (name, c) in by_publishing(&score).into_iter().chain(coverage(&score)) {
        row(&name, &c, true);
        summary.push((strategy, runs.len(), name, c));
    }
    let mut handshakes = runs[0].handshakes.clone();
    for r in &runs[1..] {
        for (peer, m) in &r.handshakes {
            handshakes.entry(*peer).or_insert_with(|| m.clone());
        }
    }
    // The consumer combines the sentries itself (one vote each, see `DeriveSink`): their raw
    // events, each under its own crawler id, in the order a stream would hold them.
    let mut raw: Vec<AttestationEvent> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.events.iter().cloned().map(move |mut e| {
                e.meta.crawler_id = format!("sentry-{i}");
                e
            })
        })
        .collect();
    raw.sort_by_key(|e| e.meta.timestamp);
    estimates(net, &raw, &handshakes).await;
    convergence(net, &raw, &handshakes, start..end).await;
}

/// Each handshaken node's `validator_metadata` row, as the consumer derives it: the
/// attestation events of target epochs before `until`, then each node's last handshake, go
/// through a [`DeriveSink`] (which counts the validators attributed with the strongest
/// evidence, combines vantage points when there are several, and combines all that with the
/// short-lived subnets, the cgc and legacy attnets).
async fn derive_rows(
    net: &SimNet,
    events: &[AttestationEvent],
    handshakes: &std::collections::HashMap<PeerId, MetadataEvent>,
    until: u64,
) -> std::collections::HashMap<PeerId, ValidatorMetadataEvent> {
    use valtrack::core::{Event, EventSink};
    use valtrack::sink::{ChannelSink, DeriveSink};
    let (inner, mut rx) = ChannelSink::new(events.len() + 2 * handshakes.len() + 16);
    let derive = DeriveSink::new(inner).with_network(net.network().clone());
    for e in events.iter().filter(|e| e.target_epoch < until) {
        derive
            .send(Event::Attestation(e.clone()))
            .await
            .expect("send");
    }
    for p in net.peers() {
        if let Some(m) = handshakes.get(&p.peer_id()) {
            derive.send(Event::Metadata(m.clone())).await.expect("send");
        }
    }
    drop(derive);
    let mut rows = std::collections::HashMap::new();
    while let Some(e) = rx.recv().await {
        if let Event::ValidatorMetadata(row) = e {
            rows.insert(row.meta.peer_id, row);
        }
    }
    rows
}

/// Whether an estimate is right: within ±10 % of a node's validators, or 0 for none.
fn within_tenth(estimate: u64, truth: u64) -> bool {
    if truth == 0 {
        estimate == 0
    } else {
        estimate.abs_diff(truth) as f64 / truth as f64 <= 0.10
    }
}

/// How estimates converge as epochs accumulate: for the first 4, 8, 16, ... of the scored
/// `epochs` (events of the warm-up included, as a consumer has them), the handshaken nodes
/// of each class with ≥ 8 validators whose estimate is within ±10 %.
async fn convergence(
    net: &SimNet,
    events: &[AttestationEvent],
    handshakes: &std::collections::HashMap<PeerId, MetadataEvent>,
    epochs: std::ops::Range<u64>,
) {
    use std::collections::BTreeMap;
    let len = epochs.end.saturating_sub(epochs.start);
    let mut horizons: Vec<u64> = std::iter::successors(Some(4u64), |h| Some(h * 2))
        .take_while(|h| *h < len)
        .collect();
    horizons.push(len);
    // (epochs, class -> (nodes, within ±10 %))
    type Within = BTreeMap<u64, (u64, u64)>;
    let mut table: Vec<(u64, Within)> = Vec::new();
    for &h in &horizons {
        let rows = derive_rows(net, events, handshakes, epochs.start + h).await;
        let mut by_class = Within::new();
        for p in net.peers().iter().filter(|p| p.validators() >= 8) {
            if let Some(row) = rows.get(&p.peer_id()) {
                let c = by_class.entry(p.validators()).or_default();
                c.0 += 1;
                c.1 += u64::from(within_tenth(row.estimated_validators, p.validators()));
            }
        }
        table.push((h, by_class));
    }
    let classes: Vec<u64> = table
        .last()
        .map(|(_, c)| c.keys().copied().collect())
        .unwrap_or_default();
    println!(
        "
estimates within ±10 % as the scored epochs accumulate (handshaken nodes)"
    );
    println!(
        "| epochs | {} |",
        classes
            .iter()
            .map(|c| format!("{c} validators"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(classes.len()));
    for (h, by_class) in &table {
        let cells: Vec<String> = classes
            .iter()
            .map(|c| {
                let (n, ok) = by_class.get(c).copied().unwrap_or_default();
                format!("{ok} / {n}")
            })
            .collect();
        println!("| {h} | {} |", cells.join(" | "));
    }
}

/// Validator estimates per node, as the consumer derives them ([`derive_rows`] over every
/// event), compared with the truth.
async fn estimates(
    net: &SimNet,
    events: &[AttestationEvent],
    handshakes: &std::collections::HashMap<PeerId, MetadataEvent>,
) {
    use std::collections::BTreeMap;
    let rows = derive_rows(net, events, handshakes, u64::MAX).await;
    let attributed: Vec<_> = rows
        .values()
        .filter(|r| r.attributed_validators > 0)
        .collect();
    let mut by_vantage: BTreeMap<u32, u64> = BTreeMap::new();
    for r in &attributed {
        *by_vantage.entry(r.vantage_points).or_default() += 1;
    }
    println!(
        "\nconsumer: {} nodes with attributions, by vantage points backing them {by_vantage:?}; \
         contested validators {} (on {} nodes)",
        attributed.len(),
        attributed
            .iter()
            .map(|r| r.contested_validators)
            .sum::<u64>(),
        attributed
            .iter()
            .filter(|r| r.contested_validators > 0)
            .count(),
    );
    // class -> (nodes, within ±10 %, sum of |error| / truth, sum of estimates, sum of truth)
    let mut by_class: BTreeMap<u64, (u64, u64, f64, u64, u64)> = BTreeMap::new();
    let mut misses = Vec::new();
    for p in net.peers() {
        let Some(row) = rows.get(&p.peer_id()) else {
            continue;
        };
        let truth = p.validators();
        let est = row.estimated_validators;
        let c = by_class.entry(truth).or_default();
        c.0 += 1;
        let err = est.abs_diff(truth) as f64 / truth.max(1) as f64;
        if within_tenth(est, truth) {
            c.1 += 1;
        } else if truth >= 8 {
            let config = p.node().config();
            // Epochs in which each of the node's validators was credited to it.
            let mut credited: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new();
            for e in events.iter().filter(|e| e.meta.peer_id == p.peer_id()) {
                if let Some(v) = e
                    .attester_index
                    .filter(|v| p.validator_indices().contains(v))
                {
                    credited.entry(v).or_default().insert(e.target_epoch);
                }
            }
            misses.push(format!(
                "{:?} ({}, {} subnets) {est}/{truth} (credited in 1+ epochs {}, 2+ {})",
                p.client(),
                if config.gossip.flood_publish {
                    "floods"
                } else {
                    "no flood"
                },
                config.attnets.subnets().len(),
                credited.len(),
                credited.values().filter(|e| e.len() >= 2).count(),
            ));
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
    if !misses.is_empty() {
        println!(
            "nodes with >= 8 validators outside ±10 % (client, publishing, subnets, estimate/truth, validators credited to it): {}",
            misses.join("; ")
        );
    }
}
