//! The Status we send: learned from peers, so that it is one they accept.
//!
//! A checkpoint is adopted for a digest once [`QUORUM`] distinct peers gave it in answer to
//! our own Status requests (a Status a peer sends us unasked costs it nothing, nor does a
//! fresh peer id), and only when it is plausible against the wall clock: finalized at least
//! two epochs back, a head no later than the next slot. Until then we send an all-zero
//! Status, which clients accept (they skip the finalized-root check for a zero root).
//!
//! We serve no blocks, so we claim none: only the checkpoint is taken from peers, never a
//! peer's head or `earliest_available_slot` (a peer may claim an earliest slot above its own
//! head). Our head is the finalized checkpoint's block and our earliest available slot the
//! slot after it. When we answer a peer's Status we are never ahead of it (its checkpoint
//! if it is older than ours, its head if it is later than ours): clients sync from peers
//! ahead of them and drop those that then serve nothing, and Teku asks a peer whose
//! finalized epoch is later than its own for that block. No client checks the earliest
//! available slot against the head; Lighthouse, Lodestar, Grandine and Nimbus use it only to
//! skip peers for range sync, which is what we want.

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

    /// The Status to send on `digest` when we speak first: the adopted checkpoint (or an
    /// all-zero one; clients skip the finalized-root check when a root is zero) with its
    /// block as our head.
    pub(crate) fn status_for(&self, digest: ForkDigest, slots_per_epoch: u64) -> Status {
        let (epoch, root) = self
            .adopted
            .get(&digest)
            .map_or((0, [0; 32]), Status::finalized);
        claim(
            digest,
            (epoch, root),
            (epoch.saturating_mul(slots_per_epoch), root),
        )
    }

    /// The Status to answer `theirs` with on `digest`: never ahead of the asking peer.
    pub(crate) fn answer(
        &self,
        digest: ForkDigest,
        theirs: &Status,
        slots_per_epoch: u64,
    ) -> Status {
        let ours = self.status_for(digest, slots_per_epoch);
        let checkpoint = if theirs.finalized().0 < ours.finalized().0 {
            theirs.finalized()
        } else {
            ours.finalized()
        };
        let head = if theirs.head().0 > ours.head().0 {
            theirs.head()
        } else {
            let (slot, root) = (checkpoint.0.saturating_mul(slots_per_epoch), checkpoint.1);
            (slot, root)
        };
        claim(digest, checkpoint, head)
    }
}

/// A Status claiming `finalized` and `head`, and no block at or before the head.
fn claim(digest: ForkDigest, finalized: (Epoch, Root), head: (Slot, Root)) -> Status {
    Status::V2(StatusV2 {
        fork_digest: digest.0,
        finalized_epoch: finalized.0,
        finalized_root: finalized.1,
        head_slot: head.0,
        head_root: head.1,
        earliest_available_slot: head.0.saturating_add(1),
    })
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
        assert_eq!(t.status_for(ForkDigest(d), 32).finalized().0, 0);
        t.observe(a, &status(d, 10, 7, 330), now);
        t.observe(a, &status(d, 10, 7, 330), now);
        t.observe(b, &status(d, 10, 7, 331), now);
        assert_eq!(
            t.status_for(ForkDigest(d), 32).finalized().0,
            0,
            "two peers (one of them twice) are not enough"
        );
        t.observe(c, &status(d, 10, 7, 332), now);
        assert_eq!(t.status_for(ForkDigest(d), 32).finalized(), (10, [7; 32]));
        // Our head is the checkpoint's block, not a peer's head; we claim no block.
        let ours = t.status_for(ForkDigest(d), 32);
        assert_eq!(ours.head(), (320, [7; 32]));
        let Status::V2(v2) = &ours else {
            panic!("{ours:?}")
        };
        assert_eq!(v2.earliest_available_slot, 321);
        // Implausible checkpoints are ignored even when everyone claims them: finalized in
        // the future or in the last two epochs, a head beyond the next slot.
        for (fin, head) in [(99, 340), (11, 380), (12, 385), (10, 392)] {
            for p in [a, b, c] {
                t.observe(p, &status(d, fin, 9, head), now);
            }
            assert_eq!(t.status_for(ForkDigest(d), 32).finalized(), (10, [7; 32]));
        }
        // Before genesis (no clock) nothing is learned.
        let mut fresh = StatusTracker::default();
        for p in [a, b, c] {
            fresh.observe(p, &status(d, 10, 7, 330), None);
        }
        assert_eq!(fresh.status_for(ForkDigest(d), 32).finalized().0, 0);
        // Other digests are separate.
        assert_eq!(
            t.status_for(ForkDigest([9; 4]), 32).fork_digest(),
            ForkDigest([9; 4])
        );
    }

    #[test]
    fn an_answer_is_never_ahead_of_the_asking_peer() {
        let d = [1, 2, 3, 4];
        let now = Some((12, 390));
        let mut t = StatusTracker::default();
        for p in [PeerId::random(), PeerId::random(), PeerId::random()] {
            t.observe(p, &status(d, 10, 7, 330), now);
        }
        let digest = ForkDigest(d);
        // A peer further on: its head, our checkpoint.
        let answer = t.answer(digest, &status(d, 10, 7, 389), 32);
        assert_eq!(
            (answer.finalized(), answer.head()),
            ((10, [7; 32]), (389, [133; 32]))
        );
        // A peer behind our checkpoint: its checkpoint, and that block as head.
        let answer = t.answer(digest, &status(d, 8, 5, 270), 32);
        assert_eq!(answer.finalized(), (8, [5; 32]));
        assert_eq!(answer.head(), (256, [5; 32]));
        let Status::V2(v2) = answer else { panic!() };
        assert_eq!(v2.earliest_available_slot, 257);
        // Before anything is adopted: the all-zero checkpoint, their head.
        let fresh = StatusTracker::default();
        let answer = fresh.answer(digest, &status(d, 10, 7, 330), 32);
        assert_eq!((answer.finalized().0, answer.head().0), (0, 330));
    }
}
