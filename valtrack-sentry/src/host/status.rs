//! The Status we send: learned from peers, so that it is one they accept.
//!
//! A checkpoint is adopted for a digest once [`QUORUM`] distinct peers gave it in answer to
//! our own Status requests (a Status a peer sends us unasked costs it nothing, nor does a
//! fresh peer id), and only when it is plausible against the wall clock: finalized at least
//! two epochs back, a head no later than the next slot. Until then we send an all-zero
//! Status, which clients accept (they skip the finalized-root check for a zero root).

use std::collections::HashMap;

use libp2p::PeerId;
use valtrack_core::ssz::StatusV2;
use valtrack_core::{Epoch, ForkDigest, Root, Slot, Status};

/// Distinct peers that must report a checkpoint before it is adopted.
pub(crate) const QUORUM: usize = 3;
/// Bound on pending (unconfirmed) checkpoint votes.
const MAX_VOTES: usize = 1024;
/// Bound on digests we keep a status for.
const MAX_DIGESTS: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct StatusTracker {
    adopted: HashMap<ForkDigest, Status>,
    votes: HashMap<(ForkDigest, Epoch, Root), Vec<PeerId>>,
}

impl StatusTracker {
    /// Learns from a peer's answer to our Status request. `now` is the wall-clock (epoch,
    /// slot), if after genesis; without it nothing is adopted.
    pub(crate) fn observe(&mut self, peer: PeerId, status: &Status, now: Option<(Epoch, Slot)>) {
        let (fin_epoch, fin_root) = status.finalized();
        let (head_slot, _) = status.head();
        let Some((epoch, slot)) = now else {
            return;
        };
        if fin_epoch.saturating_add(2) > epoch || head_slot > slot.saturating_add(1) {
            return;
        }
        let digest = status.fork_digest();
        let key = (digest, fin_epoch, fin_root);
        if !self.votes.contains_key(&key) && self.votes.len() >= MAX_VOTES {
            self.votes.clear();
        }
        let voters = self.votes.entry(key).or_default();
        if !voters.contains(&peer) && voters.len() < QUORUM {
            voters.push(peer);
        }
        if voters.len() < QUORUM {
            return;
        }
        let better = self
            .adopted
            .get(&digest)
            .is_none_or(|cur| cur.finalized().0 <= fin_epoch && cur.head().0 <= head_slot);
        if better && (self.adopted.len() < MAX_DIGESTS || self.adopted.contains_key(&digest)) {
            self.adopted.insert(digest, status.clone());
        }
    }

    /// The Status to send on `digest`: the adopted one, or an all-zero one (clients skip the
    /// finalized-root check when a root is zero).
    pub(crate) fn status_for(&self, digest: ForkDigest) -> Status {
        self.adopted.get(&digest).cloned().unwrap_or_else(|| {
            Status::V2(StatusV2 {
                fork_digest: digest.0,
                ..Default::default()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valtrack_core::ssz::StatusV1;

    fn status(digest: [u8; 4], epoch: u64, root: u8, head: u64) -> Status {
        Status::V1(StatusV1 {
            fork_digest: digest,
            finalized_root: [root; 32],
            finalized_epoch: epoch,
            head_root: [head as u8; 32],
            head_slot: head,
        })
    }

    #[test]
    fn adopts_only_confirmed_plausible_checkpoints() {
        let d = [1, 2, 3, 4];
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let now = Some((12, 390));
        let mut t = StatusTracker::default();
        assert_eq!(t.status_for(ForkDigest(d)).finalized().0, 0);
        t.observe(a, &status(d, 10, 7, 330), now);
        t.observe(a, &status(d, 10, 7, 330), now);
        t.observe(b, &status(d, 10, 7, 331), now);
        assert_eq!(
            t.status_for(ForkDigest(d)).finalized().0,
            0,
            "two peers (one of them twice) are not enough"
        );
        t.observe(c, &status(d, 10, 7, 332), now);
        assert_eq!(t.status_for(ForkDigest(d)).finalized(), (10, [7; 32]));
        assert_eq!(t.status_for(ForkDigest(d)).head().0, 332);
        // Implausible checkpoints are ignored even when everyone claims them: finalized in
        // the future or in the last two epochs, a head beyond the next slot.
        for (fin, head) in [(99, 340), (11, 380), (12, 385), (10, 392)] {
            for p in [a, b, c] {
                t.observe(p, &status(d, fin, 9, head), now);
            }
            assert_eq!(t.status_for(ForkDigest(d)).finalized(), (10, [7; 32]));
        }
        // Before genesis (no clock) nothing is learned.
        let mut fresh = StatusTracker::default();
        for p in [a, b, c] {
            fresh.observe(p, &status(d, 10, 7, 330), None);
        }
        assert_eq!(fresh.status_for(ForkDigest(d)).finalized().0, 0);
        // Other digests are separate.
        assert_eq!(
            t.status_for(ForkDigest([9; 4])).fork_digest(),
            ForkDigest([9; 4])
        );
    }
}
