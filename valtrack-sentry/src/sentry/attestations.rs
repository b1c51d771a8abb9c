//! Attestation attribution inside the sentry: decode each raw message the host reports on an
//! attestation subnet, keep the first delivery per (target epoch, validator), and judge the
//! delivering peer with [`valtrack_core::attribute`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tracing::debug;
use valtrack_core::{
    attribute, compute_subscribed_attnets, AttestationDedupe, AttestationFacts, AttestationSubnets,
    AttributionEvidence, ForkName, GossipKind, Network, PeerId, SszMessage,
};

use super::SentryStats;
use crate::host::GossipMessage;
use crate::probe::SubscriptionTracker;

const LOG: &str = "valtrack::attestations";

/// One first delivery, judged.
#[derive(Debug)]
pub(super) struct Judged {
    pub(super) peer: PeerId,
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
}

impl Attributor {
    pub(super) fn new(network: Network, stats: Arc<SentryStats>) -> Self {
        Self {
            network,
            dedupe: AttestationDedupe::default(),
            stats,
        }
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
        if !self.dedupe.first_delivery(facts.target_epoch, facts.key()) {
            return None;
        }
        let received = message
            .received
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let epoch = self.network.epoch_at(received).unwrap_or(0);
        let peer = message.source;
        let backbone = compute_subscribed_attnets(&peer.node_id(), epoch);
        let subscribed = subscriptions
            .get(&peer, message.topic.fork_digest)
            .map(|s| s.attnets)
            .unwrap_or(AttestationSubnets::NONE);
        let evidence = attribute(subnet, backbone, subscribed, true);
        if evidence.is_some() {
            self.stats.attributions.fetch_add(1, Ordering::Relaxed);
        }
        let delay_ms = self
            .network
            .slot_start(facts.slot)
            .map(|start| received.as_millis() as i64 - start.as_millis() as i64)
            .unwrap_or(0);
        Some(Judged {
            peer,
            facts,
            delay_ms,
            evidence,
        })
    }
}
