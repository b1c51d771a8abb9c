//! [`GossipProbe`], the GossipSub [`SubnetProbe`], and [`SubscriptionTracker`], which folds
//! observations into each peer's current subnet subscriptions.

use std::collections::HashMap;

use futures::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use valtrack_core::{
    AttestationSubnets, ForkDigest, GossipMessage, PeerId, Subnet, SubnetObservation, SubnetProbe,
    SyncSubnets,
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

impl SubnetProbe for GossipProbe {
    /// The raw messages the host receives on attestation subnets (for
    /// [`Sentry::with_attestations`](crate::Sentry::with_attestations)). Each call subscribes
    /// anew; a reader more than [`GOSSIP_QUEUE`](crate::host::GOSSIP_QUEUE) messages behind
    /// skips the oldest (counted in [`GossipDefenceStats::lagged`](crate::host::GossipDefenceStats::lagged)
    /// and a `debug` log line), never blocks the host.
    fn attestations(&self) -> impl Stream<Item = GossipMessage> + Send + 'static {
        let lost = self.host.gossip_defence();
        stream::unfold(self.host.gossip_messages(), move |mut rx| {
            let lost = lost.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(message) => return Some((message, rx)),
                        Err(RecvError::Lagged(n)) => {
                            lost.lagged
                                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                            tracing::debug!(target: "valtrack::probe", skipped = n, "attestation reader lagged");
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        })
    }

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

/// How long a disconnected peer's subscriptions are kept: its last messages may still be
/// queued for judging, and a quick reconnection picks the record up again.
const GONE_GRACE_MS: u64 = 60_000;
/// Attestation-subnet changes kept per peer and digest, to judge a message by the
/// subscriptions of its arrival ([`SubscriptionTracker::as_of`]).
const MAX_CHANGES: usize = 8;
/// Changes older than this before a peer's newest one are dropped: messages are judged
/// within milliseconds of their arrival (the host holds them 25–30 ms).
const CHANGE_WINDOW_MS: u64 = 2_000;

/// A peer's subscriptions when a message arrived ([`SubscriptionTracker::as_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionsAsOf {
    /// What they were then.
    Known(Subscriptions),
    /// The peer has no record on the digest.
    NoRecord,
    /// They changed since, more than the tracker remembers.
    Unknown,
}

/// Recent attestation-subnet changes of one peer on one digest.
#[derive(Debug, Clone, Default)]
struct Changes {
    /// (unix ms, subnet, subscribed), oldest first.
    log: Vec<(u64, u8, bool)>,
    /// When the newest change no longer in `log` happened (unix ms): before it, the past
    /// is not known.
    dropped_at: u64,
}

impl Changes {
    fn record(&mut self, at_ms: u64, subnet: u8, on: bool) {
        let horizon = at_ms.saturating_sub(CHANGE_WINDOW_MS);
        let stale = self.log.iter().take_while(|(t, ..)| *t < horizon).count();
        let over = (self.log.len() - stale + 1).saturating_sub(MAX_CHANGES);
        let drop = stale + over;
        if drop > 0 {
            self.dropped_at = self.dropped_at.max(self.log[drop - 1].0);
            self.log.drain(..drop);
        }
        self.log.push((at_ms, subnet, on));
    }
}

/// Each peer's subscriptions per fork digest, from subscribe *and* unsubscribe observations;
/// the current fork and the next one are kept apart by their digests. Peers whose last
/// connection closed are forgotten a minute later, when room is needed.
#[derive(Debug)]
pub struct SubscriptionTracker {
    peers: HashMap<PeerId, Vec<(ForkDigest, Subscriptions, Changes)>>,
    max_peers: usize,
    /// Tracked peers disconnected, and when (unix ms).
    gone: HashMap<PeerId, u64>,
}

impl Default for SubscriptionTracker {
    fn default() -> Self {
        Self::new(DEFAULT_TRACKED_PEERS)
    }
}

impl SubscriptionTracker {
    /// A tracker of at most `max_peers` peers (new peers beyond it are ignored, unless
    /// disconnected peers can make room).
    pub fn new(max_peers: usize) -> Self {
        Self {
            peers: HashMap::new(),
            max_peers,
            gone: HashMap::new(),
        }
    }

    /// Applies one observation (attestations are ignored here).
    pub fn apply(&mut self, obs: &SubnetObservation) {
        let (peer, digest, subnet, on, at_ms) = match obs {
            SubnetObservation::Subscribed {
                peer_id,
                fork_digest,
                subnet,
                at_ms,
            } => (*peer_id, *fork_digest, *subnet, true, *at_ms),
            SubnetObservation::Unsubscribed {
                peer_id,
                fork_digest,
                subnet,
                at_ms,
            } => (*peer_id, *fork_digest, *subnet, false, *at_ms),
            SubnetObservation::Disconnected { peer_id, at_ms } => {
                if self.peers.contains_key(peer_id) {
                    self.gone.insert(*peer_id, *at_ms);
                }
                return;
            }
            _ => return,
        };
        self.gone.remove(&peer);
        if !self.peers.contains_key(&peer) && self.peers.len() >= self.max_peers {
            self.forget_gone(at_ms);
            if self.peers.len() >= self.max_peers {
                return;
            }
        }
        let entries = self.peers.entry(peer).or_default();
        let idx = match entries.iter().position(|(d, ..)| *d == digest) {
            Some(i) => i,
            None if entries.len() < MAX_DIGESTS_PER_PEER => {
                entries.push((digest, Subscriptions::default(), Changes::default()));
                entries.len() - 1
            }
            None => return,
        };
        let (_, subs, changes) = &mut entries[idx];
        if let Subnet::Attestation(n) = subnet {
            changes.record(at_ms, n, on);
        }
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

    /// Forgets the peers disconnected for longer than the grace period before `now_ms`.
    fn forget_gone(&mut self, now_ms: u64) {
        let peers = &mut self.peers;
        self.gone.retain(|peer, at| {
            let keep = at.saturating_add(GONE_GRACE_MS) > now_ms;
            if !keep {
                peers.remove(peer);
            }
            keep
        });
    }

    /// A peer's subscriptions on `digest`.
    pub fn get(&self, peer: &PeerId, digest: ForkDigest) -> Option<Subscriptions> {
        self.peers
            .get(peer)?
            .iter()
            .find(|(d, ..)| *d == digest)
            .map(|(_, s, _)| *s)
    }

    /// A peer's subscriptions on `digest` at `at_ms` (unix ms), e.g. when a message
    /// arrived: attestation-subnet changes observed after it are undone, so a message is
    /// judged by what its peer was subscribed to when it came, whatever was observed
    /// between its arrival and its judging. Changes are observed when the host handles them
    /// (same-millisecond ones count as before), and a peer's last few within two seconds are
    /// remembered; beyond that the answer is [`SubscriptionsAsOf::Unknown`]. Sync-committee
    /// subnets are as now.
    pub fn as_of(&self, peer: &PeerId, digest: ForkDigest, at_ms: u64) -> SubscriptionsAsOf {
        let Some((_, now, changes)) = self
            .peers
            .get(peer)
            .and_then(|e| e.iter().find(|(d, ..)| *d == digest))
        else {
            return SubscriptionsAsOf::NoRecord;
        };
        if changes.dropped_at > at_ms {
            return SubscriptionsAsOf::Unknown;
        }
        let mut then = *now;
        for (_, subnet, on) in changes.log.iter().rev().take_while(|(t, ..)| *t > at_ms) {
            if *on {
                then.attnets.remove(u64::from(*subnet));
            } else {
                then.attnets.insert(u64::from(*subnet));
            }
        }
        SubscriptionsAsOf::Known(then)
    }

    /// Forgets a peer.
    pub fn remove(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
        self.gone.remove(peer);
    }

    /// Whether the bound is reached: peers not tracked yet are then ignored, so a peer
    /// without a record may have subscriptions nobody recorded.
    pub fn is_full(&self) -> bool {
        self.peers.len() >= self.max_peers
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

    fn at(on: bool, subnet: u8, at_ms: u64) -> SubnetObservation {
        SubnetObservation::subscription(
            on,
            peer(),
            ForkDigest([1; 4]),
            Subnet::Attestation(subnet),
            at_ms,
        )
    }

    fn attnets_as_of(t: &SubscriptionTracker, at_ms: u64) -> Option<Vec<u64>> {
        match t.as_of(&peer(), ForkDigest([1; 4]), at_ms) {
            SubscriptionsAsOf::Known(s) => Some(s.attnets.subnets()),
            SubscriptionsAsOf::NoRecord => Some(Vec::new()),
            SubscriptionsAsOf::Unknown => None,
        }
    }

    #[test]
    fn a_message_is_judged_by_the_subscriptions_of_its_arrival() {
        let mut t = SubscriptionTracker::default();
        assert_eq!(
            t.as_of(&peer(), ForkDigest([1; 4]), 0),
            SubscriptionsAsOf::NoRecord
        );
        t.apply(&at(true, 5, 1_000));
        t.apply(&at(true, 9, 1_000));
        // A relay's message at 1,010 ms, its unsubscription at 1,020 applied before the
        // message is judged: it was subscribed then.
        t.apply(&at(false, 5, 1_020));
        assert_eq!(
            t.get(&peer(), ForkDigest([1; 4]))
                .unwrap()
                .attnets
                .subnets(),
            [9]
        );
        assert_eq!(attnets_as_of(&t, 1_010), Some(vec![5, 9]));
        assert_eq!(attnets_as_of(&t, 1_020), Some(vec![9]), "same ms: before");
        assert_eq!(attnets_as_of(&t, 999), Some(vec![]), "before it subscribed");
        // Resubscribed: undone in order.
        t.apply(&at(true, 5, 1_030));
        assert_eq!(attnets_as_of(&t, 1_025), Some(vec![9]));
        assert_eq!(attnets_as_of(&t, 1_010), Some(vec![5, 9]));
        // More changes than kept after a moment: that moment is unknown, later ones not.
        for (i, ms) in (2_000..2_000 + super::MAX_CHANGES as u64).enumerate() {
            t.apply(&at(true, 20 + i as u8, ms));
        }
        assert_eq!(attnets_as_of(&t, 1_010), None, "forgotten changes since");
        assert_eq!(
            attnets_as_of(&t, 2_000).map(|s| s.len()),
            Some(3),
            "5, 9 and the first new subnet"
        );
        // Changes far older than the newest are dropped: the moments among them are
        // unknown, the ones after them still known.
        t.apply(&at(false, 9, 10_000));
        assert_eq!(attnets_as_of(&t, 2_003), None);
        assert_eq!(attnets_as_of(&t, 2_500).map(|s| s.len()), Some(10));
        assert_eq!(attnets_as_of(&t, 9_999).map(|s| s.contains(&9)), Some(true));
        assert_eq!(
            attnets_as_of(&t, 10_000).map(|s| s.contains(&9)),
            Some(false)
        );
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

    #[test]
    fn disconnected_peers_make_room_after_a_grace_period() {
        let other = || {
            let key = libp2p::identity::Keypair::generate_secp256k1();
            crate::host::to_core_peer_id(&key.public().to_peer_id())
        };
        let sub = |peer: PeerId, at_ms: u64| SubnetObservation::Subscribed {
            peer_id: peer,
            fork_digest: ForkDigest([1; 4]),
            subnet: Subnet::Attestation(3),
            at_ms,
        };
        let gone = |peer: PeerId, at_ms: u64| SubnetObservation::Disconnected {
            peer_id: peer,
            at_ms,
        };
        let mut t = SubscriptionTracker::new(2);
        let (a, b, c) = (peer(), other().unwrap(), other().unwrap());
        t.apply(&sub(a, 0));
        t.apply(&sub(b, 0));
        assert!(t.is_full());
        t.apply(&sub(c, 10));
        assert!(t.get(&c, ForkDigest([1; 4])).is_none(), "full: c ignored");
        // a leaves; its record stays through the grace period (queued messages still see it)
        t.apply(&gone(a, 1_000));
        t.apply(&sub(c, 30_000));
        assert!(t.get(&a, ForkDigest([1; 4])).is_some());
        assert!(t.get(&c, ForkDigest([1; 4])).is_none());
        // b leaves and comes back (a new subscription): it is not forgotten
        t.apply(&gone(b, 2_000));
        t.apply(&sub(b, 3_000));
        // after the grace period a's room goes to c
        t.apply(&sub(c, 61_001));
        assert!(t.get(&a, ForkDigest([1; 4])).is_none());
        assert!(t.get(&b, ForkDigest([1; 4])).is_some());
        assert!(t.get(&c, ForkDigest([1; 4])).is_some());
        assert_eq!(t.len(), 2);
    }
}
