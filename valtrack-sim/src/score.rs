//! Scoring attestation attribution against a [`SimNet`]'s ground truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use valtrack_core::events::{AttestationEvent, AttributionEvidence};
use valtrack_core::{Epoch, PeerId};

use crate::{SimNet, SimRole};

/// Attributions made and truth found, for one slice of the results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributionCounts {
    /// Attestation events with evidence (claims "this validator is on this peer").
    pub claims: u64,
    /// Of those, claims naming the node that hosts the validator.
    pub correct: u64,
    /// (target epoch, validator) pairs actually published.
    pub truth: u64,
    /// Of those, pairs with a correct claim.
    pub found: u64,
}

impl AttributionCounts {
    /// `correct / claims` (1 when there is no claim).
    pub fn precision(&self) -> f64 {
        if self.claims == 0 {
            1.0
        } else {
            self.correct as f64 / self.claims as f64
        }
    }

    /// `found / truth` (1 when nothing was published).
    pub fn recall(&self) -> f64 {
        if self.truth == 0 {
            1.0
        } else {
            self.found as f64 / self.truth as f64
        }
    }
}

/// Attribution accuracy over some target epochs: overall, per evidence kind (precision
/// only: recall is not split by kind) and per node class (validators hosted by the node the
/// claim names, or that publishes the truth).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributionScore {
    /// Everything.
    pub overall: AttributionCounts,
    /// Per evidence kind, in the order UnsubscribedSubnet, FirstOnShortLivedSubnet,
    /// FirstOnBackboneSubnet.
    pub by_evidence: Vec<(AttributionEvidence, AttributionCounts)>,
    /// Per validators hosted, ascending.
    pub by_class: BTreeMap<u64, AttributionCounts>,
    /// Per role of the node that hosts the validator (claims counted under the true host's
    /// role, so a relay's wrong claim shows under the origin it missed).
    pub by_role: Vec<(SimRole, AttributionCounts)>,
    /// Per publishing behaviour of the true host and whether it was subscribed to the subnet
    /// when it published (claims counted under the truth they name, like `by_role`).
    pub by_case: BTreeMap<PublishCase, AttributionCounts>,
}

/// How the node that published an attestation sent it (see [`AttributionScore::by_case`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublishCase {
    /// The client, e.g. `Lighthouse`.
    pub client: String,
    /// Whether it flood-publishes (else mesh, topped up to D, or fanout).
    pub flood: bool,
    /// Whether it was subscribed to the subnet (backbone or aggregator duty).
    pub subscribed: bool,
}

fn role_entry(
    roles: &mut Vec<(SimRole, AttributionCounts)>,
    role: SimRole,
) -> &mut AttributionCounts {
    let i = match roles.iter().position(|(r, _)| *r == role) {
        Some(i) => i,
        None => {
            roles.push((role, AttributionCounts::default()));
            roles.len() - 1
        }
    };
    &mut roles[i].1
}

const KINDS: [AttributionEvidence; 3] = [
    AttributionEvidence::UnsubscribedSubnet,
    AttributionEvidence::FirstOnShortLivedSubnet,
    AttributionEvidence::FirstOnBackboneSubnet,
];

/// Scores `events` (any events; only attestation events of target epochs in `epochs`
/// count) against what `net`'s validators published in `epochs`.
pub fn score_attributions<'a>(
    net: &SimNet,
    events: impl IntoIterator<Item = &'a AttestationEvent>,
    epochs: Range<Epoch>,
) -> AttributionScore {
    let host_of = |v: u64| net.validator_node(v).map(|p| (p.peer_id(), p.role()));
    let role_of: HashMap<PeerId, SimRole> = net
        .peers()
        .iter()
        .map(|p| (p.peer_id(), p.role()))
        .collect();
    let publisher_of: HashMap<PeerId, (String, bool)> = net
        .peers()
        .iter()
        .map(|p| {
            let flood = p.node().config().gossip.flood_publish;
            (p.peer_id(), (format!("{:?}", p.client()), flood))
        })
        .collect();
    // (epoch, validator) -> how it was published (the first publication of the pair).
    let mut case_of: HashMap<(Epoch, u64), PublishCase> = HashMap::new();
    for a in net.published_attestations() {
        if !a.published || !epochs.contains(&a.epoch) {
            continue;
        }
        if let Some((client, flood)) = publisher_of.get(&a.peer_id) {
            case_of
                .entry((a.epoch, a.duty.validator))
                .or_insert_with(|| PublishCase {
                    client: client.clone(),
                    flood: *flood,
                    subscribed: a.subscribed,
                });
        }
    }
    let class_of: HashMap<PeerId, u64> = net
        .peers()
        .iter()
        .map(|p| (p.peer_id(), p.validators()))
        .collect();
    let mut score = AttributionScore {
        by_evidence: KINDS
            .iter()
            .map(|k| (*k, AttributionCounts::default()))
            .collect(),
        ..AttributionScore::default()
    };
    let mut found: HashSet<(Epoch, u64)> = HashSet::new();
    for e in events {
        let (Some(kind), Some(v)) = (e.evidence, e.attester_index) else {
            continue;
        };
        if !epochs.contains(&e.target_epoch) {
            continue;
        }
        let host = host_of(v);
        let correct = host.is_some_and(|(peer, _)| peer == e.meta.peer_id);
        let class = class_of.get(&e.meta.peer_id).copied().unwrap_or(0);
        let add = |c: &mut AttributionCounts| {
            c.claims += 1;
            c.correct += u64::from(correct);
        };
        add(&mut score.overall);
        add(score.by_class.entry(class).or_default());
        if let Some((_, c)) = score.by_evidence.iter_mut().find(|(k, _)| *k == kind) {
            add(c);
        }
        if let Some((_, role)) = host {
            add(role_entry(&mut score.by_role, role));
        }
        if let Some(case) = case_of.get(&(e.target_epoch, v)) {
            add(score.by_case.entry(case.clone()).or_default());
        }
        if correct {
            found.insert((e.target_epoch, v));
        }
    }
    let mut truth: HashSet<(Epoch, u64)> = HashSet::new();
    for a in net.published_attestations() {
        if !a.published || !epochs.contains(&a.epoch) || !truth.insert((a.epoch, a.duty.validator))
        {
            continue;
        }
        let class = class_of.get(&a.peer_id).copied().unwrap_or(0);
        let hit = found.contains(&(a.epoch, a.duty.validator));
        for c in [&mut score.overall, score.by_class.entry(class).or_default()] {
            c.truth += 1;
            c.found += u64::from(hit);
        }
        if let Some(role) = role_of.get(&a.peer_id) {
            let c = role_entry(&mut score.by_role, *role);
            c.truth += 1;
            c.found += u64::from(hit);
        }
        if let Some(case) = case_of.get(&(a.epoch, a.duty.validator)) {
            let c = score.by_case.entry(case.clone()).or_default();
            c.truth += 1;
            c.found += u64::from(hit);
        }
    }
    score
}
