//! First deliveries held for a moment, so a copy that arrived earlier but was handed on later
//! can still take the credit.
//!
//! GossipSub delivers the first copy of a message its connections hand on and drops the
//! rest as duplicates. Under load that is not always the copy that arrived first; the
//! vendored GossipSub then reports the earlier copy (`Event::EarlierCopy`), right after the
//! first delivery in the cases measured (`cargo bench --bench intake`). Each first delivery
//! waits here [`HOLD`] (to [`BATCH`] more); an earlier copy reported meanwhile replaces its source and its
//! stamp, so a [`GossipMessage`] names the peer whose copy arrived first.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use libp2p::gossipsub::MessageId;
use valtrack_core::GossipMessage;

/// How long a first delivery waits for an earlier copy. Earlier copies are reported when
/// GossipSub reaches them, which under load trails the first delivery by about as long as
/// the copies' stamps differ (p99 5 ms at mainnet's bursty rate, 10 ms at 10,000/s).
pub(crate) const HOLD: Duration = Duration::from_millis(25);
/// Held messages leave in batches: the oldest one's release waits this much more, and takes
/// those due by then along (at most ~200 releases a second, each held 25–30 ms).
pub(crate) const BATCH: Duration = Duration::from_millis(5);
/// Bound on first deliveries held at once (~1.7 s of mainnet's attestations at their peak
/// rate; ~2 MiB). Past it the oldest is handed on at once.
pub(crate) const MAX_HELD: usize = 4096;

/// What an earlier copy did to its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Earlier {
    /// The held message now names the earlier copy's peer and stamp.
    Recredited,
    /// The held message already had a stamp at least as early (another earlier copy).
    Kept,
    /// The message is not held: handed on already (the copy came too late), or never held
    /// (not an attestation the host judged sound).
    NotHeld,
}

/// First deliveries waiting for [`HOLD`], oldest first.
#[derive(Debug, Default)]
pub(crate) struct Held {
    order: VecDeque<(Instant, MessageId)>,
    /// Each held message, with its first delivery's stamp (which earlier copies are
    /// reported against).
    messages: HashMap<MessageId, (GossipMessage, SystemTime)>,
}

impl Held {
    /// Holds `message` (GossipSub's id `id`) until `now` + [`HOLD`]; returns the oldest one
    /// when [`MAX_HELD`] are already held, to be handed on now.
    pub(crate) fn push(
        &mut self,
        id: MessageId,
        message: GossipMessage,
        now: Instant,
    ) -> Option<GossipMessage> {
        let evicted = if self.messages.len() >= MAX_HELD {
            self.pop()
        } else {
            None
        };
        // GossipSub delivers a message id once (its duplicate cache outlives the hold), so
        // the id is not held already; should it be, the newer entry takes the older one's
        // place and time.
        let first = message.received;
        if self.messages.insert(id.clone(), (message, first)).is_none() {
            self.order.push_back((now + HOLD, id));
        }
        evicted
    }

    /// A copy of message `id` from `source` that arrived `earlier_by` before the held one's
    /// stamp.
    pub(crate) fn earlier(
        &mut self,
        id: &MessageId,
        source: valtrack_core::PeerId,
        earlier_by: Duration,
    ) -> Earlier {
        let Some((held, first)) = self.messages.get_mut(id) else {
            return Earlier::NotHeld;
        };
        // `earlier_by` is against the first delivery's stamp, which `received` was until
        // an earlier copy replaced it.
        let Some(stamp) = first.checked_sub(earlier_by) else {
            return Earlier::Kept;
        };
        if stamp >= held.received {
            return Earlier::Kept;
        }
        held.received = stamp;
        held.source = source;
        Earlier::Recredited
    }

    /// When the oldest held message is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.order.front().map(|(due, _)| *due)
    }

    /// The messages due by `now`, oldest first.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<GossipMessage> {
        let mut out = Vec::new();
        while self.next_due().is_some_and(|due| due <= now) {
            if let Some(m) = self.pop() {
                out.push(m);
            }
        }
        out
    }

    /// Every held message, oldest first (when the host stops).
    pub(crate) fn drain(&mut self) -> Vec<GossipMessage> {
        let mut out = Vec::with_capacity(self.messages.len());
        while !self.order.is_empty() {
            if let Some(m) = self.pop() {
                out.push(m);
            }
        }
        out
    }

    fn pop(&mut self) -> Option<GossipMessage> {
        let (_, id) = self.order.pop_front()?;
        self.messages.remove(&id).map(|(m, _)| m)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, UNIX_EPOCH};

    use libp2p::gossipsub::MessageId;
    use valtrack_core::codec::{GossipKind, GossipTopic};
    use valtrack_core::{ForkDigest, GossipMessage, PeerId};

    use super::{Earlier, Held, HOLD, MAX_HELD};

    fn peer(seed: u8) -> PeerId {
        use libp2p::identity::{secp256k1, Keypair};
        let secret = secp256k1::SecretKey::try_from_bytes([seed; 32]).unwrap();
        let key = Keypair::from(secp256k1::Keypair::from(secret));
        crate::host::to_core_peer_id(&key.public().to_peer_id()).unwrap()
    }

    fn message(source: PeerId, at_ms: u64) -> GossipMessage {
        GossipMessage {
            topic: GossipTopic::new(ForkDigest([0; 4]), GossipKind::BeaconAttestation(3)),
            source,
            received: UNIX_EPOCH + Duration::from_millis(at_ms),
            data: vec![1, 2, 3],
        }
    }

    fn id(n: u32) -> MessageId {
        MessageId::new(&n.to_be_bytes())
    }

    #[test]
    fn an_earlier_copy_takes_the_credit_and_the_earliest_stamp_wins() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let mut held = Held::default();
        let now = Instant::now();
        assert!(held.push(id(1), message(a, 1_000), now).is_none());
        assert_eq!(
            held.earlier(&id(1), b, Duration::from_millis(4)),
            Earlier::Recredited
        );
        // Against the first delivery's stamp: 2 ms earlier than it is later than b's.
        assert_eq!(
            held.earlier(&id(1), c, Duration::from_millis(2)),
            Earlier::Kept
        );
        assert_eq!(
            held.earlier(&id(1), c, Duration::from_millis(4)),
            Earlier::Kept
        );
        assert!(held.due(now + HOLD - Duration::from_millis(1)).is_empty());
        let out = held.due(now + HOLD);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].source, b);
        assert_eq!(out[0].received, UNIX_EPOCH + Duration::from_millis(996));
        assert_eq!(
            held.earlier(&id(1), c, Duration::from_millis(9)),
            Earlier::NotHeld,
            "handed on: too late"
        );
        assert!(held.next_due().is_none());
    }

    #[test]
    fn messages_leave_in_order_and_the_bound_hands_the_oldest_on() {
        let a = peer(1);
        let mut held = Held::default();
        let now = Instant::now();
        for n in 0..MAX_HELD as u32 {
            let at = now + Duration::from_micros(u64::from(n));
            assert!(held.push(id(n), message(a, u64::from(n)), at).is_none());
        }
        let evicted = held.push(id(u32::MAX), message(a, 99_999), now).unwrap();
        assert_eq!(evicted.received, UNIX_EPOCH);
        assert_eq!(held.next_due(), Some(now + HOLD + Duration::from_micros(1)));
        let due = held.due(now + HOLD + Duration::from_micros(10));
        let stamps: Vec<u64> = due
            .iter()
            .map(|m| m.received.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64)
            .collect();
        assert_eq!(stamps, (1..=10).collect::<Vec<_>>());
        let rest = held.drain();
        assert_eq!(rest.len(), MAX_HELD - 10);
        assert_eq!(
            rest.last().map(|m| m.received),
            Some(UNIX_EPOCH + Duration::from_millis(99_999))
        );
        assert!(held.next_due().is_none() && held.drain().is_empty());
    }
}
