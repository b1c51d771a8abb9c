//! The Status we send: learned from peers, so that it is one they accept.
//!
//! A checkpoint is adopted for a digest once two distinct peers report it, and only when it
//! is plausible against the wall clock: one lying peer cannot poison what we tell others.

use std::collections::HashMap;

use libp2p::PeerId;
use valtrack_core::ssz::StatusV2;
use valtrack_core::{Epoch, ForkDigest, Root, Slot, Status};

/// Bound on pending (unconfirmed) checkpoint votes.
const MAX_VOTES: usize = 1024;
/// Bound on digests we keep a status for.
const MAX_DIGESTS: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct StatusTracker {
    adopted: HashMap<ForkDigest, Status>,
    votes: HashMap<(ForkDigest, Epoch, Root), PeerId>,
}

impl StatusTracker {
    /// Learns from a peer's Status. `now` is the wall-clock (epoch, slot), if after genesis.
    pub(crate) fn observe(&mut self, peer: PeerId, status: &Status, now: Option<(Epoch, Slot)>) {
        let (fin_epoch, fin_root) = status.finalized();
        let (head_slot, _) = status.head();
        if let Some((epoch, slot)) = now {
            if fin_epoch > epoch || head_slot > slot.saturating_add(1) {
                return;
            }
        }
        let digest = status.fork_digest();
        let key = (digest, fin_epoch, fin_root);
        match self.votes.get(&key) {
            Some(first) if *first != peer => {
                let better = self
                    .adopted
                    .get(&digest)
                    .is_none_or(|cur| cur.finalized().0 <= fin_epoch && cur.head().0 <= head_slot);
                if better
                    && (self.adopted.len() < MAX_DIGESTS || self.adopted.contains_key(&digest))
                {
                    self.adopted.insert(digest, status.clone());
                }
            }
            Some(_) => {}
            None => {
                if self.votes.len() >= MAX_VOTES {
                    self.votes.clear();
                }
                self.votes.insert(key, peer);
            }
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
        let (a, b) = (PeerId::random(), PeerId::random());
        let mut t = StatusTracker::default();
        assert_eq!(t.status_for(ForkDigest(d)).finalized().0, 0);
        t.observe(a, &status(d, 10, 7, 330), Some((11, 360)));
        t.observe(a, &status(d, 10, 7, 330), Some((11, 360)));
        assert_eq!(
            t.status_for(ForkDigest(d)).finalized().0,
            0,
            "one peer is not enough"
        );
        t.observe(b, &status(d, 10, 7, 331), Some((11, 360)));
        assert_eq!(t.status_for(ForkDigest(d)).finalized(), (10, [7; 32]));
        assert_eq!(t.status_for(ForkDigest(d)).head().0, 331);
        // A future checkpoint is ignored even when two peers claim it.
        t.observe(a, &status(d, 99, 9, 340), Some((11, 360)));
        t.observe(b, &status(d, 99, 9, 340), Some((11, 360)));
        assert_eq!(t.status_for(ForkDigest(d)).finalized().0, 10);
        // Other digests are separate.
        assert_eq!(
            t.status_for(ForkDigest([9; 4])).fork_digest(),
            ForkDigest([9; 4])
        );
    }
}
