//! Attestation attribution inside the sentry: decode each raw message the host reports on an
//! attestation subnet, keep the first delivery per (target epoch, validator), and judge the
//! delivering peer with [`valtrack_core::attribution::attribute`].

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tracing::debug;
use valtrack_core::attribution::{attribute, AttestationDedupe, AttestationFacts};
use valtrack_core::codec::GossipKind;
use valtrack_core::events::AttributionEvidence;
use valtrack_core::subnets::compute_subscribed_attnets;
use valtrack_core::{AttestationSubnets, Epoch, ForkName, Network, NodeId, PeerId, SszMessage};

use super::SentryStats;
use crate::probe::{SubscriptionTracker, SubscriptionsAsOf};
use valtrack_core::GossipMessage;

const LOG: &str = "valtrack::attestations";

/// One first delivery, judged.
#[derive(Debug)]
pub(super) struct Judged {
    pub(super) peer: PeerId,
    pub(super) node_id: NodeId,
    pub(super) facts: AttestationFacts,
    pub(super) delay_ms: i64,
    pub(super) evidence: Option<AttributionEvidence>,
}

/// The attribution state of a running sentry.
#[derive(Debug)]
pub(super) struct Attributor {
    network: Network,
    dedupe: AttestationDedupe,
    stats: Arc<SentryStats>,
    /// Each delivering peer's backbone subnets in the epoch named (a node id from its key and
    /// 180 SHA-256 rounds of shuffling: too dear for every message). At most
    /// [`BACKBONE_CACHE`] peers; emptied when full.
    backbones: HashMap<PeerId, (NodeId, Epoch, AttestationSubnets)>,
}

/// Bound on the peers whose backbone subnets an [`Attributor`] remembers.
const BACKBONE_CACHE: usize = 16_384;

impl Attributor {
    pub(super) fn new(network: Network, stats: Arc<SentryStats>) -> Self {
        Self {
            network,
            dedupe: AttestationDedupe::default(),
            stats,
            backbones: HashMap::new(),
        }
    }

    /// `peer`'s node id and backbone subnets in `epoch`.
    fn backbone(&mut self, peer: PeerId, epoch: Epoch) -> (NodeId, AttestationSubnets) {
        let node_id = match self.backbones.get(&peer) {
            Some((node_id, e, subnets)) if *e == epoch => return (*node_id, *subnets),
            Some((node_id, ..)) => *node_id,
            None => peer.node_id(),
        };
        let subnets = compute_subscribed_attnets(&node_id, epoch);
        if self.backbones.len() >= BACKBONE_CACHE && !self.backbones.contains_key(&peer) {
            self.backbones.clear();
        }
        self.backbones.insert(peer, (node_id, epoch, subnets));
        (node_id, subnets)
    }

    /// Decodes and judges one message; `None` for undecodable messages (counted and logged)
    /// and for repeated (target epoch, validator) deliveries.
    pub(super) fn judge(
        &mut self,
        message: &GossipMessage,
        subscriptions: &SubscriptionTracker,
    ) -> Option<Judged> {
        self.stats.attestations.fetch_add(1, Ordering::Relaxed);
        let GossipKind::BeaconAttestation(subnet) = message.topic.kind else {
            return None;
        };
        let electra = self
            .network
            .find_digest(message.topic.fork_digest)
            .map(|d| d.fork >= ForkName::Electra)
            .unwrap_or(message.data.len() == valtrack_core::ssz::SingleAttestation::SSZ_MAX_LEN);
        let facts = match AttestationFacts::decode(&message.data, subnet, electra) {
            Ok(f) => f,
            Err(error) => {
                self.stats
                    .attestation_errors
                    .fetch_add(1, Ordering::Relaxed);
                debug!(target: LOG, peer = %message.source, topic = %message.topic, %error,
                    "undecodable attestation");
                return None;
            }
        };
        let received = message
            .received
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now_slot = self.network.slot_at(received).unwrap_or(0);
        if !facts.in_gossip_window(now_slot, self.network.slots_per_epoch()) {
            // A peer's slot and epoch are never trusted: one far-future epoch would evict the
            // real ones from the dedupe set.
            self.stats
                .attestations_untimely
                .fetch_add(1, Ordering::Relaxed);
            debug!(target: LOG, peer = %message.source, slot = facts.slot, target_epoch = facts.target_epoch,
                now_slot, "attestation outside the gossip window: dropped");
            return None;
        }
        if !self.dedupe.first_delivery(facts.target_epoch, facts.key()) {
            return None;
        }
        let epoch = self.network.epoch_at(received).unwrap_or(0);
        let peer = message.source;
        let (node_id, backbone) = self.backbone(peer, epoch);
        // What the peer was subscribed to when the message arrived: a relay that unsubscribes
        // just after must not look like an origin. No record means no subscription
        // (GossipSub announces them on connecting), unless the tracker is full and ignored
        // the peer; with changes since that the tracker forgot, nothing is claimed.
        let received_ms = u64::try_from(received.as_millis()).unwrap_or(u64::MAX);
        let subscribed = match subscriptions.as_of(&peer, message.topic.fork_digest, received_ms) {
            SubscriptionsAsOf::Known(s) => Some(s.attnets),
            SubscriptionsAsOf::NoRecord if subscriptions.is_full() => None,
            SubscriptionsAsOf::NoRecord => Some(AttestationSubnets::NONE),
            SubscriptionsAsOf::Unknown => None,
        };
        let evidence =
            subscribed.and_then(|subscribed| attribute(subnet, backbone, subscribed, true));
        if evidence.is_some() {
            self.stats.attributions.fetch_add(1, Ordering::Relaxed);
        }
        let delay_ms = self
            .network
            .slot_start(facts.slot)
            .map(|start| {
                let ms = received.as_millis() as i128 - start.as_millis() as i128;
                i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
            })
            .unwrap_or(0);
        Some(Judged {
            peer,
            node_id,
            facts,
            delay_ms,
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use valtrack_core::codec::{GossipKind, GossipTopic};
    use valtrack_core::events::AttributionEvidence;
    use valtrack_core::ssz::{AttestationData, Checkpoint, SingleAttestation};
    use valtrack_core::subnets::compute_subscribed_attnets;
    use valtrack_core::{GossipMessage, Network, PeerId, SszMessage, Subnet, SubnetObservation};

    use super::Attributor;
    use crate::probe::SubscriptionTracker;

    /// A relay subscribed to a subnet, whose unsubscription is observed after its message
    /// arrived but before the message is judged (the host holds first deliveries 25–30 ms),
    /// is judged as subscribed: weak evidence, not the origin's
    /// `UnsubscribedSubnet`. A message that arrives after the unsubscription is.
    #[test]
    fn a_message_is_judged_by_the_subscriptions_of_its_arrival() {
        let network = Network::mainnet();
        let key = hex::decode("028b55714e869dae5fa8de4f40efbc3a4f714f0558c8d0751e3032e391321a57db")
            .unwrap();
        let peer = PeerId::from_secp256k1(&key).unwrap();
        let now = SystemTime::now();
        let received = now - Duration::from_millis(20);
        // The slot of the earlier arrival: the later one is then never before it.
        let slot = network
            .slot_at(received.duration_since(UNIX_EPOCH).unwrap())
            .unwrap();
        let epoch = slot / network.slots_per_epoch();
        let digest = network.fork_digest(epoch);
        // Off the peer's backbone in the epoch of either message (the later may be the next).
        let backbone = |e: u64| compute_subscribed_attnets(&peer.node_id(), e);
        let subnet = (0..64u64)
            .find(|s| !backbone(epoch).contains(*s) && !backbone(epoch + 1).contains(*s))
            .unwrap();
        let message = |validator: u64, received: SystemTime| GossipMessage {
            topic: GossipTopic::new(digest, GossipKind::BeaconAttestation(subnet)),
            source: peer,
            received,
            data: SingleAttestation {
                committee_index: 0,
                attester_index: validator,
                data: AttestationData {
                    slot,
                    target: Checkpoint {
                        epoch,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            }
            .to_ssz_bytes(),
        };
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let mut tracker = SubscriptionTracker::default();
        let sub = |on: bool, at: SystemTime| {
            SubnetObservation::subscription(
                on,
                peer,
                digest,
                Subnet::Attestation(subnet as u8),
                ms(at),
            )
        };
        tracker.apply(&sub(true, received - Duration::from_secs(1)));
        tracker.apply(&sub(false, received + Duration::from_millis(10)));

        let mut attributor = Attributor::new(network, Arc::default());
        let judged = attributor
            .judge(&message(7, received), &tracker)
            .expect("judged");
        assert_eq!(
            judged.evidence,
            Some(AttributionEvidence::FirstOnShortLivedSubnet),
            "subscribed when it arrived"
        );
        let judged = attributor
            .judge(&message(8, now), &tracker)
            .expect("judged");
        assert_eq!(
            judged.evidence,
            Some(AttributionEvidence::UnsubscribedSubnet),
            "unsubscribed when it arrived"
        );
    }
}
