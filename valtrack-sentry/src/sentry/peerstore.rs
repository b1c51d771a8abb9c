//! What the sentry knows of each peer, and when to visit it next.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use valtrack_core::{DiscoveredNode, EnrClass, EnrInfo, MetaData, PeerId, Status};

/// One known peer.
#[derive(Debug, Clone)]
pub struct PeerRecord {
    /// ENR text (highest seq seen).
    pub enr: String,
    /// Its decoded fields.
    pub info: EnrInfo,
    /// Our network, another, or no eth2.
    pub class: EnrClass,
    /// First sight.
    pub first_seen: Instant,
    /// Last sight on discv5 (or a successful handshake).
    pub last_seen: Instant,
    /// Last Status received.
    pub status: Option<Status>,
    /// Last MetaData received.
    pub metadata: Option<MetaData>,
    /// Consecutive failed handshakes.
    pub failures: u32,
    /// Successful handshakes so far.
    pub successes: u64,
    /// Not before this instant.
    pub next_attempt: Instant,
}

impl PeerRecord {
    /// Records a successful handshake at `now`: failures reset, next visit after `revisit`.
    pub(crate) fn visited(
        &mut self,
        info: &valtrack_core::PeerInfo,
        now: Instant,
        revisit: Duration,
    ) {
        self.failures = 0;
        self.successes += 1;
        self.last_seen = now;
        self.next_attempt = now + revisit;
        self.status = info.status.clone();
        self.metadata = info.metadata.clone();
    }
}

/// Exponential backoff `base * 2^(failures-1)`, capped; never overflows.
pub fn backoff(failures: u32, base: Duration, cap: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(31))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// Bounded map of peers by PeerId.
#[derive(Debug)]
pub(crate) struct PeerStore {
    peers: HashMap<PeerId, PeerRecord>,
    max_peers: usize,
}

/// What an upsert changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upsert {
    New,
    Updated,
    Unchanged,
    /// Refused: the store is full and the node is not ours to track.
    Full,
}

impl PeerStore {
    pub(crate) fn new(max_peers: usize) -> Self {
        Self {
            peers: HashMap::new(),
            max_peers,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    pub(crate) fn get_mut(&mut self, peer: &PeerId) -> Option<&mut PeerRecord> {
        self.peers.get_mut(peer)
    }

    pub(crate) fn remove(&mut self, peer: &PeerId) -> Option<PeerRecord> {
        self.peers.remove(peer)
    }

    /// Inserts or refreshes a node; a higher ENR seq replaces the record's ENR. When full,
    /// the peer seen longest ago is evicted to make room.
    pub(crate) fn upsert(&mut self, node: &DiscoveredNode, now: Instant) -> Upsert {
        let id = node.info.peer_id;
        if let Some(rec) = self.peers.get_mut(&id) {
            rec.last_seen = now;
            if node.info.seq > rec.info.seq {
                rec.enr = node.enr.clone();
                rec.info = node.info.clone();
                rec.class = node.class;
                return Upsert::Updated;
            }
            return Upsert::Unchanged;
        }
        if self.peers.len() >= self.max_peers {
            let oldest = self
                .peers
                .iter()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.peers.remove(&k);
                }
                None => return Upsert::Full,
            }
        }
        self.peers.insert(
            id,
            PeerRecord {
                enr: node.enr.clone(),
                info: node.info.clone(),
                class: node.class,
                first_seen: now,
                last_seen: now,
                status: None,
                metadata: None,
                failures: 0,
                successes: 0,
                next_attempt: now,
            },
        );
        Upsert::New
    }

    /// Peers due for a handshake (beacon nodes only: records without eth2 are discv5-only).
    pub(crate) fn due(&self, now: Instant) -> impl Iterator<Item = &PeerRecord> + '_ {
        self.peers
            .values()
            .filter(move |r| r.class != EnrClass::NoEth2 && r.next_attempt <= now)
    }

    /// Peers not seen since `cutoff`.
    pub(crate) fn stale(&self, cutoff: Instant) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(_, r)| r.last_seen < cutoff)
            .map(|(k, _)| *k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_never_overflows() {
        let (base, cap) = (Duration::from_secs(10), Duration::from_secs(3600));
        assert_eq!(backoff(0, base, cap), Duration::ZERO);
        assert_eq!(backoff(1, base, cap), Duration::from_secs(10));
        assert_eq!(backoff(2, base, cap), Duration::from_secs(20));
        assert_eq!(backoff(5, base, cap), Duration::from_secs(160));
        assert_eq!(backoff(12, base, cap), cap);
        assert_eq!(backoff(u32::MAX, base, cap), cap);
        assert_eq!(backoff(40, Duration::MAX, Duration::MAX), Duration::MAX);
    }
}
