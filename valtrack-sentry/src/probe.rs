//! [`GossipProbe`], the GossipSub [`SubnetProbe`], and [`SubscriptionTracker`], which folds
//! observations into each peer's current subnet subscriptions.

use std::collections::HashMap;

use futures::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use valtrack_core::{
    AttestationSubnets, ForkDigest, PeerId, Subnet, SubnetObservation, SubnetProbe, SyncSubnets,
};

use crate::host::Host;

/// Watches a [`Host`]'s GossipSub: peers' subnet (un)subscriptions and first deliveries of
/// attestations on the subnets the host subscribes to.
#[derive(Debug, Clone)]
pub struct GossipProbe {
    host: Host,
}

impl GossipProbe {
    /// A probe on `host`.
    pub fn new(host: Host) -> Self {
        Self { host }
    }
}

impl GossipProbe {
    /// The raw messages the host receives on attestation subnets (for
    /// [`Sentry::with_attestations`](crate::Sentry::with_attestations)). Each call subscribes
    /// anew; a reader more than [`GOSSIP_QUEUE`](crate::GOSSIP_QUEUE) messages behind skips
    /// the oldest (counted in a `debug` log line), never blocks the host.
    pub fn attestation_messages(
        &self,
    ) -> impl Stream<Item = crate::host::GossipMessage> + Send + 'static {
        stream::unfold(self.host.gossip_messages(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(message) => return Some((message, rx)),
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(target: "valtrack::probe", skipped = n, "attestation reader lagged");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
    }
}

impl SubnetProbe for GossipProbe {
    /// Each call subscribes anew. A reader more than `OBSERVATION_QUEUE` observations behind
    /// skips the oldest (counted in a `debug` log line), never blocks the host.
    fn observations(&self) -> impl Stream<Item = SubnetObservation> + Send + 'static {
        stream::unfold(self.host.observations(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(obs) => return Some((obs, rx)),
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(target: "valtrack::probe", skipped = n, "probe lagged");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// Subnets a peer is subscribed to on one fork digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// Attestation subnets (all of 0..63 counted).
    pub attnets: AttestationSubnets,
    /// Sync-committee subnets.
    pub syncnets: SyncSubnets,
}

/// Bound on peers tracked by a [`SubscriptionTracker`].
pub const DEFAULT_TRACKED_PEERS: usize = 100_000;
/// Bound on digests tracked per peer (current and next fork are two).
const MAX_DIGESTS_PER_PEER: usize = 4;

/// Each peer's subscriptions per fork digest, from subscribe *and* unsubscribe observations;
/// the current fork and the next one are kept apart by their digests.
#[derive(Debug)]
pub struct SubscriptionTracker {
    peers: HashMap<PeerId, Vec<(ForkDigest, Subscriptions)>>,
    max_peers: usize,
}

impl Default for SubscriptionTracker {
    fn default() -> Self {
        Self::new(DEFAULT_TRACKED_PEERS)
    }
}

impl SubscriptionTracker {
    /// A tracker of at most `max_peers` peers (new peers beyond it are ignored).
    pub fn new(max_peers: usize) -> Self {
        Self {
            peers: HashMap::new(),
            max_peers,
        }
    }

    /// Applies one observation (attestations are ignored here).
    pub fn apply(&mut self, obs: &SubnetObservation) {
        let (peer, digest, subnet, on) = match obs {
            SubnetObservation::Subscribed {
                peer_id,
                fork_digest,
                subnet,
                ..
            } => (*peer_id, *fork_digest, *subnet, true),
            SubnetObservation::Unsubscribed {
                peer_id,
                fork_digest,
                subnet,
                ..
            } => (*peer_id, *fork_digest, *subnet, false),
            _ => return,
        };
        if !self.peers.contains_key(&peer) && self.peers.len() >= self.max_peers {
            return;
        }
        let entries = self.peers.entry(peer).or_default();
        let idx = match entries.iter().position(|(d, _)| *d == digest) {
            Some(i) => i,
            None if entries.len() < MAX_DIGESTS_PER_PEER => {
                entries.push((digest, Subscriptions::default()));
                entries.len() - 1
            }
            None => return,
        };
        let subs = &mut entries[idx].1;
        match subnet {
            Subnet::Attestation(n) if on => subs.attnets.insert(u64::from(n)),
            Subnet::Attestation(n) => subs.attnets.remove(u64::from(n)),
            Subnet::SyncCommittee(n) => {
                let mut ids = subs.syncnets.subnets();
                ids.retain(|i| *i != u64::from(n));
                if on {
                    ids.push(u64::from(n));
                }
                subs.syncnets = SyncSubnets::from_subnets(ids);
            }
        }
    }

    /// A peer's subscriptions on `digest`.
    pub fn get(&self, peer: &PeerId, digest: ForkDigest) -> Option<Subscriptions> {
        self.peers
            .get(peer)?
            .iter()
            .find(|(d, _)| *d == digest)
            .map(|(_, s)| *s)
    }

    /// Forgets a peer.
    pub fn remove(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Peers tracked.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        let key = hex::decode("028b55714e869dae5fa8de4f40efbc3a4f714f0558c8d0751e3032e391321a57db")
            .unwrap();
        PeerId::from_secp256k1(&key).unwrap()
    }

    fn obs(on: bool, digest: [u8; 4], subnet: Subnet) -> SubnetObservation {
        SubnetObservation::subscription(on, peer(), ForkDigest(digest), subnet, 0)
    }

    #[test]
    fn subscribe_and_unsubscribe_per_digest() {
        let mut t = SubscriptionTracker::default();
        let (cur, next) = ([1; 4], [2; 4]);
        for n in [0u8, 5, 63] {
            t.apply(&obs(true, cur, Subnet::Attestation(n)));
        }
        t.apply(&obs(true, next, Subnet::Attestation(7)));
        t.apply(&obs(true, cur, Subnet::SyncCommittee(2)));
        t.apply(&obs(false, cur, Subnet::Attestation(5)));
        let s = t.get(&peer(), ForkDigest(cur)).unwrap();
        assert_eq!(
            s.attnets.subnets(),
            vec![0, 63],
            "subnet 0 and 63 count; 5 was left"
        );
        assert_eq!(s.syncnets.subnets(), vec![2]);
        assert_eq!(
            t.get(&peer(), ForkDigest(next)).unwrap().attnets.subnets(),
            vec![7]
        );
        t.apply(&obs(false, cur, Subnet::SyncCommittee(2)));
        assert!(t
            .get(&peer(), ForkDigest(cur))
            .unwrap()
            .syncnets
            .subnets()
            .is_empty());
        // Bounded: digests per peer.
        for d in 10..20u8 {
            t.apply(&obs(true, [d; 4], Subnet::Attestation(1)));
        }
        assert!(t.peers[&peer()].len() <= MAX_DIGESTS_PER_PEER);
    }
}
