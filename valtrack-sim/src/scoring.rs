//! How real clients score GossipSub peers, for simulated nodes that judge a sentry the way
//! mainnet nodes do ([`SimNodeConfig::gossip_scoring`](crate::SimNodeConfig::gossip_scoring)).
//!
//! [`lighthouse_peer_score`] follows Lighthouse's parameters
//! (`beacon_node/lighthouse_network/src/service/gossipsub_scoring_parameters.rs`: thresholds
//! in `lighthouse_gossip_thresholds`, globals in `get_peer_score_params`, the attestation
//! subnet topics in `get_dynamic_topic_params` and `get_topic_params`) for a mainnet-sized
//! chain, with time compressed to the simulated network's slot: every duration Lighthouse
//! derives from mainnet's 12 s slot becomes the same number of simulated slots, so decays
//! per slot, thresholds and caps are Lighthouse's own and a simulated hour is 300 slots.
//! GossipSub ticks at least once a second (as Lighthouse's `max(1 s, slot)`): with shorter
//! slots a tick spans several and each decay is raised to that power, so a counter decays
//! by the same amount per slot.

use std::collections::HashMap;
use std::time::Duration;

use valtrack_core::codec::{GossipKind, GossipTopic};
use valtrack_core::constants::ATTESTATION_SUBNET_COUNT;
use valtrack_core::Network;
use valtrack_sentry::libp2p::gossipsub::{
    IdentTopic, PeerScoreParams, PeerScoreThresholds, TopicScoreParams,
};

/// Active validators the parameters are computed for (mainnet's order of magnitude).
pub const LIGHTHOUSE_SCORED_VALIDATORS: u64 = 1_000_000;

/// Mainnet's slot, the unit Lighthouse's durations are written in.
const MAINNET_SLOT_SECS: f64 = 12.0;
/// Mainnet's slots per epoch (Lighthouse's `E::slots_per_epoch()`).
const SLOTS_PER_EPOCH: f64 = 32.0;
/// Lighthouse's `MAX_IN_MESH_SCORE + MAX_FIRST_MESSAGE_DELIVERIES_SCORE` times the sum of its
/// topic weights (block 0.5, aggregate 0.5, 64 subnets × 1/64, three slashing/exit × 0.05).
const MAX_POSITIVE_SCORE: f64 = (10.0 + 40.0) * (0.5 + 0.5 + 1.0 + 0.05 * 3.0);
/// Seconds of Lighthouse's `MESH_MESSAGE_DELIVERIES_WINDOW`.
const MESH_WINDOW_SECS: f64 = 2.0;

/// Lighthouse's peer-score parameters on every attestation subnet topic of `network`'s
/// digests, and its thresholds (gossip −4000, publish −8000, graylist −16000), with time in
/// `network`'s slots. `mesh_n` is the judging node's D (Lighthouse's is 5 at network load 3,
/// [`LIGHTHOUSE_GOSSIP`](crate::LIGHTHOUSE_GOSSIP)). Only the attestation subnets are scored
/// (the blocks and other topics a simulated node does not carry are left out); the
/// mesh-delivery terms are on, as on a chain past its first 128 slots. IP colocation is
/// Lighthouse's too (8 peers an address), and every simulated node is on 127.0.0.1: give a
/// judge at most 8 peers, or whitelist the address (`ip_colocation_factor_whitelist`).
pub fn lighthouse_peer_score(
    network: &Network,
    mesh_n: usize,
) -> (PeerScoreParams, PeerScoreThresholds) {
    let slot = network.slot_duration().max(Duration::from_millis(1));
    // `slots` mainnet slots of time, as a duration on this network.
    let slots = |n: f64| slot.mul_f64(n);
    let epoch = SLOTS_PER_EPOCH;
    // Lighthouse's decay interval is one slot, at least 1 s (GossipSub's minimum).
    let interval = slot.max(Duration::from_secs(1));
    let slots_per_tick = interval.as_secs_f64() / slot.as_secs_f64();
    // The decay per slot to 1 % over `n_slots` (Lighthouse's `score_parameter_decay`), and
    // the same per tick.
    let decay = |n_slots: f64| 0.01f64.powf(1.0 / n_slots);
    let per_tick = |decay: f64| decay.powf(slots_per_tick);
    let convergence = |decay: f64, rate: f64| rate / (1.0 - decay);

    let behaviour_penalty_decay = decay(epoch * 10.0);
    let target = convergence(behaviour_penalty_decay, 10.0 / epoch) - 6.0;
    let thresholds = PeerScoreThresholds {
        gossip_threshold: -4000.0,
        publish_threshold: -8000.0,
        graylist_threshold: -16000.0,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 5.0,
    };

    // Attestation subnets, 1M validators: 64 committees a slot, so several bursts a subnet
    // an epoch (Lighthouse's `multiple_bursts_per_subnet_per_epoch`).
    let rate = LIGHTHOUSE_SCORED_VALIDATORS as f64 / ATTESTATION_SUBNET_COUNT as f64 / epoch;
    let topic_weight = 1.0 / ATTESTATION_SUBNET_COUNT as f64;
    let first_decay = decay(epoch);
    let first_cap = convergence(first_decay, 2.0 * rate / mesh_n as f64);
    let mesh_decay = decay(epoch * 4.0);
    let mesh_threshold = convergence(mesh_decay, rate / 50.0) * mesh_decay;
    let time_in_mesh_cap = 3600.0 / MAINNET_SLOT_SECS;
    let topic = TopicScoreParams {
        topic_weight,
        time_in_mesh_weight: 10.0 / time_in_mesh_cap,
        time_in_mesh_quantum: slot,
        time_in_mesh_cap,
        first_message_deliveries_weight: 40.0 / first_cap,
        first_message_deliveries_decay: per_tick(first_decay),
        first_message_deliveries_cap: first_cap,
        mesh_message_deliveries_weight: -topic_weight,
        mesh_message_deliveries_decay: per_tick(mesh_decay),
        mesh_message_deliveries_cap: (16.0 * mesh_threshold).max(2.0),
        mesh_message_deliveries_threshold: mesh_threshold,
        mesh_message_deliveries_window: slots(MESH_WINDOW_SECS / MAINNET_SLOT_SECS),
        mesh_message_deliveries_activation: slots(epoch / 2.0 + 1.0),
        mesh_failure_penalty_weight: -topic_weight,
        mesh_failure_penalty_decay: per_tick(mesh_decay),
        invalid_message_deliveries_weight: -MAX_POSITIVE_SCORE / topic_weight,
        invalid_message_deliveries_decay: per_tick(decay(epoch * 50.0)),
    };
    let topics: HashMap<_, _> = network
        .all_digests()
        .iter()
        .flat_map(|d| {
            (0..ATTESTATION_SUBNET_COUNT).map(move |subnet| {
                GossipTopic::new(d.digest, GossipKind::BeaconAttestation(subnet)).to_string()
            })
        })
        .map(|t| (IdentTopic::new(t).hash(), topic.clone()))
        .collect();
    let params = PeerScoreParams {
        topics,
        topic_score_cap: MAX_POSITIVE_SCORE * 0.5,
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: -MAX_POSITIVE_SCORE * 0.5,
        ip_colocation_factor_threshold: 8.0,
        behaviour_penalty_weight: thresholds.gossip_threshold / target.powi(2),
        behaviour_penalty_threshold: 6.0,
        behaviour_penalty_decay: per_tick(behaviour_penalty_decay),
        decay_interval: interval,
        decay_to_zero: 0.01,
        retain_score: slots(epoch * 100.0),
        slow_peer_weight: -10.0,
        slow_peer_threshold: 0.0,
        slow_peer_decay: 0.1,
        ..Default::default()
    };
    (params, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lighthouse_values_at_mainnet_scale() {
        let network = crate::sim_network(Duration::from_secs(0));
        let (p, t) = lighthouse_peer_score(&network, 5);
        assert_eq!(t.gossip_threshold, -4000.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3 * b.abs().max(1.0);
        // The figures in docs/gossip-publishing.md, from Lighthouse's formulas.
        assert!(close(p.topic_score_cap, 53.75));
        assert!(
            close(p.behaviour_penalty_decay, 0.985712),
            "{}",
            p.behaviour_penalty_decay
        );
        assert!(
            close(p.behaviour_penalty_weight, -15.879),
            "{}",
            p.behaviour_penalty_weight
        );
        let topic = p.topics.values().next().unwrap();
        assert_eq!(p.topics.len(), 64 * network.all_digests().len());
        assert!(
            close(topic.first_message_deliveries_cap, 1457.2),
            "{}",
            topic.first_message_deliveries_cap
        );
        assert!(close(topic.first_message_deliveries_decay, 0.865964));
        assert!(
            close(topic.mesh_message_deliveries_threshold, 266.58),
            "{}",
            topic.mesh_message_deliveries_threshold
        );
        assert!(close(topic.mesh_message_deliveries_cap, 4265.3));
        assert!(close(topic.mesh_message_deliveries_decay, 0.964662));
        assert!(close(topic.invalid_message_deliveries_weight, -6880.0));
        // A silent mesh member: −17.35 a subnet once the deficit counts.
        let silent = topic.topic_weight
            * topic.mesh_message_deliveries_weight
            * topic.mesh_message_deliveries_threshold.powi(2);
        assert!(close(silent, -17.35), "{silent}");
        // Time in simulated slots: 204 s of mainnet is 17 slots.
        assert_eq!(
            topic.mesh_message_deliveries_activation,
            network.slot_duration() * 17
        );
        assert_eq!(p.decay_interval, network.slot_duration());
        // Half-second slots: a tick is two slots, each decay squared; the rest the same.
        let fast = crate::sim_network_with_slot(Duration::from_secs(0), Duration::from_millis(500));
        let (q, _) = lighthouse_peer_score(&fast, 5);
        let fast_topic = q.topics.values().next().unwrap();
        assert_eq!(q.decay_interval, Duration::from_secs(1));
        assert!(close(
            fast_topic.mesh_message_deliveries_decay,
            0.964662f64.powi(2)
        ));
        assert!(close(fast_topic.mesh_message_deliveries_threshold, 266.58));
        assert_eq!(
            fast_topic.mesh_message_deliveries_activation,
            Duration::from_millis(8500)
        );
        assert!(q.validate().is_ok() && p.validate().is_ok());
    }
}
