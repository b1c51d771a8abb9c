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
    /// Attestations of validators whose node a sentry can handshake (its role expects no
    /// failure): what any strategy could credit first-hand. An unreachable node's copies
    /// reach us only through relays; a node whose handshake fails after connecting (stalling,
    /// garbage) may still send some first-hand before the connection closes.
    pub reachable: AttributionCounts,
    /// Per validator over all the epochs, what an estimate counts: `claims` the distinct
    /// (validator, claimed peer) pairs, `correct` those naming the host, `truth` the
    /// validators that published, `found` those credited to their host at least once.
    pub validators: AttributionCounts,
    /// [`validators`](Self::validators) restricted to validators on reachable nodes (see
    /// [`reachable`](Self::reachable)).
    pub validators_reachable: AttributionCounts,
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
    let reachable = |role: Option<SimRole>| role.is_some_and(|r| r.expected_failure().is_none());
    let mut found: HashSet<(Epoch, u64)> = HashSet::new();
    let mut pairs: HashSet<(u64, PeerId)> = HashSet::new();
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
        if reachable(host.map(|(_, role)| role)) {
            add(&mut score.reachable);
        }
        if pairs.insert((v, e.meta.peer_id)) {
            add(&mut score.validators);
            if reachable(host.map(|(_, role)| role)) {
                add(&mut score.validators_reachable);
            }
        }
        if correct {
            found.insert((e.target_epoch, v));
        }
    }
    let found_validators: HashSet<u64> = found.iter().map(|(_, v)| *v).collect();
    let mut truth: HashSet<(Epoch, u64)> = HashSet::new();
    let mut truth_validators: HashSet<u64> = HashSet::new();
    for a in net.published_attestations() {
        if !a.published || !epochs.contains(&a.epoch) || !truth.insert((a.epoch, a.duty.validator))
        {
            continue;
        }
        let on_reachable = reachable(role_of.get(&a.peer_id).copied());
        if truth_validators.insert(a.duty.validator) {
            let hit = found_validators.contains(&a.duty.validator);
            score.validators.truth += 1;
            score.validators.found += u64::from(hit);
            if on_reachable {
                score.validators_reachable.truth += 1;
                score.validators_reachable.found += u64::from(hit);
            }
        }
        let class = class_of.get(&a.peer_id).copied().unwrap_or(0);
        let hit = found.contains(&(a.epoch, a.duty.validator));
        if on_reachable {
            score.reachable.truth += 1;
            score.reachable.found += u64::from(hit);
        }
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

/// How the vantage points' claims about one (target epoch, validator) compared (see
/// [`combine_vantage_points`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VantageAgreement {
    /// Pairs claimed by one vantage point only.
    pub single: u64,
    /// Pairs claimed by several, all naming the same peer.
    pub agreed: u64,
    /// Pairs where they named different peers and one had the most votes (kept).
    pub majority: u64,
    /// Pairs where the most-named peers tied (dropped).
    pub tied: u64,
}

/// Combines the attestation events of several vantage points (sentries) into one claim per
/// (target epoch, validator): the peer named by the most of them; a tie between different
/// peers makes no claim. Each vantage point's own first delivery is what counts, never its
/// timestamps (clocks differ between machines). Events without evidence are ignored.
pub fn combine_vantage_points(
    points: &[&[AttestationEvent]],
) -> (Vec<AttestationEvent>, VantageAgreement) {
    // (epoch, validator) -> each claimed peer, its votes and an event naming it
    type Votes<'a> = Vec<(PeerId, u64, &'a AttestationEvent)>;
    let mut claims: HashMap<(Epoch, u64), Votes<'_>> = HashMap::new();
    for events in points {
        let mut seen: HashSet<(Epoch, u64)> = HashSet::new();
        for e in events.iter() {
            let (Some(_), Some(v)) = (e.evidence, e.attester_index) else {
                continue;
            };
            // One vote per vantage point and pair.
            if !seen.insert((e.target_epoch, v)) {
                continue;
            }
            let peers = claims.entry((e.target_epoch, v)).or_default();
            match peers.iter_mut().find(|(p, _, _)| *p == e.meta.peer_id) {
                Some(c) => c.1 += 1,
                None => peers.push((e.meta.peer_id, 1, e)),
            }
        }
    }
    let mut agreement = VantageAgreement::default();
    let mut out = Vec::with_capacity(claims.len());
    for peers in claims.values() {
        let votes: u64 = peers.iter().map(|c| c.1).sum();
        let top = peers.iter().map(|c| c.1).max().unwrap_or(0);
        let leaders: Vec<_> = peers.iter().filter(|c| c.1 == top).collect();
        if leaders.len() > 1 {
            agreement.tied += 1;
            continue;
        }
        match (peers.len(), votes) {
            (1, 1) => agreement.single += 1,
            (1, _) => agreement.agreed += 1,
            _ => agreement.majority += 1,
        }
        out.push(leaders[0].2.clone());
    }
    out.sort_by_key(|e| (e.target_epoch, e.attester_index));
    (out, agreement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use valtrack_core::events::{AttestationForm, EventKind, EventMeta};

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n)
            .map(|_| {
                let key = valtrack_sentry::libp2p::identity::Keypair::generate_secp256k1();
                valtrack_sentry::host::to_core_peer_id(&key.public().to_peer_id()).unwrap()
            })
            .collect()
    }

    fn claim(peer: PeerId, epoch: Epoch, validator: u64) -> AttestationEvent {
        AttestationEvent {
            meta: EventMeta::new(EventKind::Attestation, "s", "l", 0, peer, None, &[]),
            form: AttestationForm::Single,
            subnet: 0,
            slot: 0,
            committee_index: 0,
            attester_index: Some(validator),
            aggregation_bit: None,
            target_epoch: epoch,
            beacon_block_root: [0; 32],
            first_seen_delay_ms: 0,
            evidence: Some(AttributionEvidence::UnsubscribedSubnet),
        }
    }

    #[test]
    fn vantage_points_vote_per_validator_and_ties_make_no_claim() {
        let p = peers(3);
        let a = vec![claim(p[0], 1, 10), claim(p[0], 1, 11), claim(p[1], 1, 12)];
        let b = vec![claim(p[0], 1, 10), claim(p[1], 1, 11), claim(p[2], 1, 12)];
        let c = vec![claim(p[0], 1, 10), claim(p[0], 1, 11), claim(p[0], 1, 13)];
        let (out, agreement) = combine_vantage_points(&[&a, &b, &c]);
        let named = |v: u64| {
            out.iter()
                .find(|e| e.attester_index == Some(v))
                .map(|e| e.meta.peer_id)
        };
        // 3 of 3 agree; 2 of 3 win; 1-1 (and one abstaining) ties; one vantage point alone.
        assert_eq!(named(10), Some(p[0]));
        assert_eq!(named(11), Some(p[0]));
        assert_eq!(named(12), None);
        assert_eq!(named(13), Some(p[0]));
        assert_eq!(out.len(), 3);
        assert_eq!(
            agreement,
            VantageAgreement {
                single: 1,
                agreed: 1,
                majority: 1,
                tied: 1
            }
        );
        // A vantage point repeating itself has one vote; events without evidence none.
        let mut unproven = claim(p[1], 1, 10);
        unproven.evidence = None;
        let d = vec![claim(p[1], 1, 10), claim(p[1], 1, 10), unproven];
        let (out, agreement) = combine_vantage_points(&[&a, &d]);
        assert_eq!(
            out.iter().filter(|e| e.attester_index == Some(10)).count(),
            0
        );
        assert_eq!(agreement.tied, 1);
    }
}
