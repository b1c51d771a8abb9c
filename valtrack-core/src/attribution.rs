//! Attestation attribution as pure functions: what an attestation on gossip says, whether its
//! delivery is the first of its validator in its target epoch, and what the delivering peer's
//! subnets make of it.
//!
//! GossipSub never names a message's origin (messages are anonymous), only the peer that
//! relayed it to us. A peer can only relay on topics it subscribes to, so a delivery on a
//! subnet the peer neither subscribes to nor is backbone for means the peer published it
//! itself ([`AttributionEvidence::UnsubscribedSubnet`]). A first delivery on a subnet the
//! peer does subscribe to is weaker evidence: a flood-publishing origin reaches us first
//! because it sends to all of its peers on the topic at once, but a relay may win (a sentry
//! out of meshes gets no relayed copies, see `docs/gossip-publishing.md`).
//!
//! ```
//! use valtrack_core::attribution::attribute;
//! use valtrack_core::events::AttributionEvidence;
//! use valtrack_core::AttestationSubnets;
//!
//! let backbone = AttestationSubnets::from_subnets([4, 5]);
//! let subscribed = AttestationSubnets::from_subnets([4, 5, 9]);
//! assert_eq!(
//!     attribute(20, backbone, subscribed, true),
//!     Some(AttributionEvidence::UnsubscribedSubnet)
//! );
//! assert_eq!(
//!     attribute(9, backbone, subscribed, true),
//!     Some(AttributionEvidence::FirstOnShortLivedSubnet)
//! );
//! assert_eq!(attribute(9, backbone, subscribed, false), None);
//! ```

use std::collections::{BTreeMap, HashSet};

use crate::committees::EpochCommittees;
use crate::events::{AttestationForm, AttributionEvidence};
use crate::primitives::{Epoch, Root, Slot};
use crate::ssz::{Attestation, SingleAttestation, SszError, SszMessage};
use crate::subnets::AttestationSubnets;

/// What an unaggregated attestation on `beacon_attestation_{subnet}` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttestationFacts {
    /// Payload form.
    pub form: AttestationForm,
    /// The subnet it arrived on.
    pub subnet: u64,
    /// `data.slot`.
    pub slot: Slot,
    /// The committee: `committee_index` (Electra) or `data.index` (phase0).
    pub committee_index: u64,
    /// The validator (Electra `attester_index`; phase0 only once resolved).
    pub attester_index: Option<u64>,
    /// Position of the single aggregation bit (phase0).
    pub aggregation_bit: Option<u64>,
    /// `data.target.epoch`.
    pub target_epoch: Epoch,
    /// `data.beacon_block_root`.
    pub beacon_block_root: Root,
}

/// Why a gossip payload is not an unaggregated attestation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationDecodeError {
    /// The bytes are not the expected SSZ container.
    #[error("attestation payload: {0}")]
    Ssz(#[from] SszError),
    /// A phase0 attestation with other than exactly one aggregation bit set.
    #[error("phase0 attestation with {bits} aggregation bits set, expected 1")]
    NotSingleBit {
        /// Bits set.
        bits: usize,
    },
}

impl AttestationFacts {
    /// Whether the attestation is within the p2p spec's gossip window at `now_slot`, with its
    /// one slot of clock disparity: the slot is at most one slot ahead, its epoch is the
    /// current or the previous one, and the target is the slot's epoch. Outside it a peer's
    /// slot and epoch are not to be trusted (one far-future epoch would evict the real ones
    /// from an [`AttestationDedupe`]).
    pub fn in_gossip_window(&self, now_slot: Slot, slots_per_epoch: u64) -> bool {
        let per_epoch = slots_per_epoch.max(1);
        let slot_epoch = self.slot / per_epoch;
        self.target_epoch == slot_epoch
            && self.slot <= now_slot.saturating_add(1)
            && slot_epoch.saturating_add(1) >= now_slot / per_epoch
    }

    /// The facts of an Electra `SingleAttestation` received on `subnet`.
    pub fn from_single(att: &SingleAttestation, subnet: u64) -> Self {
        Self {
            form: AttestationForm::Single,
            subnet,
            slot: att.data.slot,
            committee_index: att.committee_index,
            attester_index: Some(att.attester_index),
            aggregation_bit: None,
            target_epoch: att.data.target.epoch,
            beacon_block_root: att.data.beacon_block_root,
        }
    }

    /// The facts of a phase0 `Attestation` received on `subnet`; it must have exactly one
    /// aggregation bit. The validator stays unresolved (that needs the committee).
    pub fn from_phase0(att: &Attestation, subnet: u64) -> Result<Self, AttestationDecodeError> {
        let bits = att.set_bits();
        let [bit] = bits.as_slice() else {
            return Err(AttestationDecodeError::NotSingleBit { bits: bits.len() });
        };
        Ok(Self {
            form: AttestationForm::Phase0,
            subnet,
            slot: att.data.slot,
            committee_index: att.data.index,
            attester_index: None,
            aggregation_bit: Some(*bit as u64),
            target_epoch: att.data.target.epoch,
            beacon_block_root: att.data.beacon_block_root,
        })
    }

    /// Decodes the (decompressed) SSZ payload of a `beacon_attestation_{subnet}` message:
    /// a `SingleAttestation` when `electra` (the topic's fork is Electra or later), else a
    /// phase0 `Attestation`. Never panics.
    pub fn decode(ssz: &[u8], subnet: u64, electra: bool) -> Result<Self, AttestationDecodeError> {
        if electra {
            Ok(Self::from_single(
                &SingleAttestation::from_ssz_bytes(ssz)?,
                subnet,
            ))
        } else {
            Self::from_phase0(&Attestation::from_ssz_bytes(ssz)?, subnet)
        }
    }

    /// Names the validator of an unresolved phase0 attestation from the committees of its
    /// epoch; returns whether the attestation now names one. Facts that already do (Electra)
    /// are left as they are; a seat outside the committees (a lying peer, or committees of
    /// another epoch) leaves the validator unresolved.
    pub fn resolve(&mut self, committees: &EpochCommittees) -> bool {
        if self.attester_index.is_none() && committees.epoch() == self.target_epoch {
            if let Some(bit) = self.aggregation_bit {
                self.attester_index = committees.validator(self.slot, self.committee_index, bit);
            }
        }
        self.attester_index.is_some()
    }

    /// The key deduplicating deliveries: the validator when known, else its seat.
    pub fn key(&self) -> AttesterKey {
        match self.attester_index {
            Some(v) => AttesterKey::Validator(v),
            None => AttesterKey::Seat {
                slot: self.slot,
                committee_index: self.committee_index,
                bit: self.aggregation_bit.unwrap_or(u64::MAX),
            },
        }
    }
}

/// Who attested, as far as an attestation says: a validator index, or (phase0, unresolved)
/// its seat in a committee, which names one validator just as well within an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttesterKey {
    /// A validator index.
    Validator(u64),
    /// Slot, committee and aggregation-bit position.
    Seat {
        /// Slot.
        slot: Slot,
        /// Committee index.
        committee_index: u64,
        /// Aggregation-bit position.
        bit: u64,
    },
}

/// The evidence that the peer which delivered an attestation on `subnet` is its origin.
///
/// `backbone` is the peer's long-lived subnets (predicted from its node id with
/// [`compute_subscribed_attnets`](crate::subnets::compute_subscribed_attnets)), `subscribed` its
/// current gossip subscriptions, `first` whether this is the first delivery of the
/// attestation's (target epoch, validator).
///
/// - not subscribed and not backbone → [`AttributionEvidence::UnsubscribedSubnet`], first or
///   not (a peer cannot relay on a topic it is not on);
/// - else, on a first delivery: subscribed but not backbone →
///   [`AttributionEvidence::FirstOnShortLivedSubnet`], backbone →
///   [`AttributionEvidence::FirstOnBackboneSubnet`];
/// - else `None`.
pub fn attribute(
    subnet: u64,
    backbone: AttestationSubnets,
    subscribed: AttestationSubnets,
    first: bool,
) -> Option<AttributionEvidence> {
    let on_backbone = backbone.contains(subnet);
    let on_subscribed = subscribed.contains(subnet);
    match (on_backbone, on_subscribed, first) {
        (false, false, _) => Some(AttributionEvidence::UnsubscribedSubnet),
        (false, true, true) => Some(AttributionEvidence::FirstOnShortLivedSubnet),
        (true, _, true) => Some(AttributionEvidence::FirstOnBackboneSubnet),
        (_, _, false) => None,
    }
}

/// Default number of target epochs an [`AttestationDedupe`] remembers: the current and the
/// previous one, the window in which gossip carries attestations (EIP-7045).
pub const DEFAULT_DEDUPE_EPOCHS: usize = 2;
/// Default bound on remembered attesters per epoch that are not validator indices below
/// [`DEDUPE_BITMAP_VALIDATORS`] (unresolved phase0 seats, and the odd huge index a peer
/// makes up): about 40 bytes each.
pub const DEFAULT_DEDUPE_PER_EPOCH: usize = 2_000_000;

/// Validator indices below this are remembered in a bitmap of one bit each, grown to the
/// largest index seen (mainnet's ~2.2M indices: 270 KiB an epoch; at most 1 MiB an epoch,
/// whatever peers send). Larger ones are remembered in the bounded set.
pub const DEDUPE_BITMAP_VALIDATORS: u64 = 1 << 23;

/// The attesters of one target epoch.
#[derive(Debug, Clone, Default)]
struct EpochAttesters {
    /// Bit `v` set: validator `v` (below [`DEDUPE_BITMAP_VALIDATORS`]) was delivered.
    bits: Vec<u64>,
    /// Bits set in `bits`.
    in_bits: usize,
    /// Every other key.
    others: HashSet<AttesterKey>,
}

/// Remembers which (target epoch, attester) pairs were delivered, for the newest few target
/// epochs. Older epochs are evicted as newer ones arrive; attestations for epochs older than
/// everything kept count as not first (gossip only carries the current and previous epoch).
/// Bounded in epochs and in memory per epoch.
#[derive(Debug, Clone)]
pub struct AttestationDedupe {
    epochs: BTreeMap<Epoch, EpochAttesters>,
    max_epochs: usize,
    max_per_epoch: usize,
}

impl Default for AttestationDedupe {
    fn default() -> Self {
        Self::new(DEFAULT_DEDUPE_EPOCHS, DEFAULT_DEDUPE_PER_EPOCH)
    }
}

impl AttestationDedupe {
    /// A set keeping `max_epochs` target epochs (at least 1), each with at most
    /// `max_per_epoch` attesters beyond the validator bitmap (see [`DEDUPE_BITMAP_VALIDATORS`]).
    pub fn new(max_epochs: usize, max_per_epoch: usize) -> Self {
        Self {
            epochs: BTreeMap::new(),
            max_epochs: max_epochs.max(1),
            max_per_epoch,
        }
    }

    /// Records a delivery; true if it is the first of `key` in `target_epoch`. When an epoch's
    /// set is full, further attesters beyond the bitmap count as first (no memory left to say
    /// otherwise).
    pub fn first_delivery(&mut self, target_epoch: Epoch, key: AttesterKey) -> bool {
        if !self.epochs.contains_key(&target_epoch) {
            let oldest = self.epochs.keys().next().copied();
            if self.epochs.len() >= self.max_epochs && oldest.is_some_and(|o| target_epoch < o) {
                return false; // older than anything kept: long gone
            }
            self.epochs.insert(target_epoch, EpochAttesters::default());
            while self.epochs.len() > self.max_epochs {
                self.epochs.pop_first();
            }
        }
        let Some(set) = self.epochs.get_mut(&target_epoch) else {
            return false;
        };
        if let AttesterKey::Validator(v) = key {
            if v < DEDUPE_BITMAP_VALIDATORS {
                let (word, bit) = ((v / 64) as usize, 1u64 << (v % 64));
                if set.bits.len() <= word {
                    // Whole powers of two, allocated exactly: the bound holds for capacity too.
                    let words = (word + 1)
                        .next_power_of_two()
                        .min((DEDUPE_BITMAP_VALIDATORS / 64) as usize);
                    set.bits.reserve_exact(words - set.bits.len());
                    set.bits.resize(words, 0);
                }
                if set.bits[word] & bit != 0 {
                    return false;
                }
                set.bits[word] |= bit;
                set.in_bits += 1;
                return true;
            }
        }
        if set.others.contains(&key) {
            return false;
        }
        if set.others.len() < self.max_per_epoch {
            set.others.insert(key);
        }
        true
    }

    /// Attesters remembered, over all kept epochs.
    pub fn len(&self) -> usize {
        self.epochs
            .values()
            .map(|e| e.in_bits + e.others.len())
            .sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ssz::{AttestationData, Checkpoint};

    fn data(slot: u64, index: u64, epoch: u64) -> AttestationData {
        AttestationData {
            slot,
            index,
            beacon_block_root: [7; 32],
            source: Checkpoint::default(),
            target: Checkpoint {
                epoch,
                root: [9; 32],
            },
        }
    }

    #[test]
    fn evidence_follows_subnets_and_first_delivery() {
        let backbone = AttestationSubnets::from_subnets([0, 1]);
        let subs = AttestationSubnets::from_subnets([0, 1, 30]);
        use AttributionEvidence as E;
        assert_eq!(
            attribute(2, backbone, subs, true),
            Some(E::UnsubscribedSubnet)
        );
        assert_eq!(
            attribute(2, backbone, subs, false),
            Some(E::UnsubscribedSubnet)
        );
        assert_eq!(
            attribute(30, backbone, subs, true),
            Some(E::FirstOnShortLivedSubnet)
        );
        assert_eq!(
            attribute(0, backbone, subs, true),
            Some(E::FirstOnBackboneSubnet)
        );
        // Subnet 0 counts; backbone without a recorded subscription is still backbone.
        assert_eq!(
            attribute(1, backbone, AttestationSubnets::NONE, true),
            Some(E::FirstOnBackboneSubnet)
        );
        assert_eq!(attribute(30, backbone, subs, false), None);
        assert_eq!(attribute(0, backbone, subs, false), None);
    }

    #[test]
    fn decodes_single_and_phase0() {
        let single = SingleAttestation {
            committee_index: 3,
            attester_index: 12345,
            data: data(100, 0, 3),
            ..SingleAttestation::default()
        };
        let facts = AttestationFacts::decode(&single.to_ssz_bytes(), 5, true).unwrap();
        assert_eq!(facts.attester_index, Some(12345));
        assert_eq!(facts.committee_index, 3);
        assert_eq!((facts.slot, facts.target_epoch, facts.subnet), (100, 3, 5));
        assert_eq!(facts.key(), AttesterKey::Validator(12345));

        let mut att = Attestation {
            data: data(101, 2, 3),
            ..Attestation::default()
        };
        for _ in 0..10 {
            att.aggregation_bits.push(false);
        }
        att.aggregation_bits.set(6, true);
        let facts = AttestationFacts::decode(&att.to_ssz_bytes(), 7, false).unwrap();
        assert_eq!(facts.form, AttestationForm::Phase0);
        assert_eq!(facts.attester_index, None);
        assert_eq!(facts.aggregation_bit, Some(6));
        assert_eq!(facts.committee_index, 2);
        assert_eq!(
            facts.key(),
            AttesterKey::Seat {
                slot: 101,
                committee_index: 2,
                bit: 6
            }
        );
        att.aggregation_bits.set(7, true);
        assert!(matches!(
            AttestationFacts::decode(&att.to_ssz_bytes(), 7, false),
            Err(AttestationDecodeError::NotSingleBit { bits: 2 })
        ));
        // The wrong form for the fork is an error, not a panic.
        assert!(AttestationFacts::decode(&single.to_ssz_bytes(), 5, false).is_err());
        assert!(AttestationFacts::decode(&[0; 3], 5, true).is_err());
    }

    #[test]
    fn dedupe_is_per_epoch_and_evicts_old_epochs() {
        let mut d = AttestationDedupe::new(2, 100);
        let v = AttesterKey::Validator(1);
        assert!(d.first_delivery(10, v));
        assert!(!d.first_delivery(10, v));
        assert!(d.first_delivery(11, v));
        assert!(d.first_delivery(12, v)); // evicts 10
        assert_eq!(d.epochs.len(), 2);
        assert!(!d.first_delivery(9, v), "older than everything kept");
        assert!(!d.first_delivery(11, v));
        assert!(!d.first_delivery(12, v));
    }

    #[test]
    fn dedupe_is_bounded_per_epoch() {
        let mut d = AttestationDedupe::new(1, 3);
        for i in 0..10 {
            assert!(d.first_delivery(1, AttesterKey::Validator(u64::MAX - i)));
        }
        assert_eq!(d.len(), 3);
        // The bitmap is bounded by its range, not by the set's bound.
        for v in [0, 1, 64, DEDUPE_BITMAP_VALIDATORS - 1] {
            assert!(d.first_delivery(1, AttesterKey::Validator(v)));
            assert!(!d.first_delivery(1, AttesterKey::Validator(v)));
        }
        assert_eq!(d.len(), 7);
        let bits = &d.epochs[&1].bits;
        assert!(bits.capacity() * 8 <= (DEDUPE_BITMAP_VALIDATORS / 8) as usize);
        assert_eq!(
            bits.len() * 8,
            (DEDUPE_BITMAP_VALIDATORS / 8) as usize,
            "1 MiB at most"
        );
        // Seats go to the set, which is full: counted as first every time.
        let seat = AttesterKey::Seat {
            slot: 1,
            committee_index: 2,
            bit: 3,
        };
        assert!(d.first_delivery(1, seat));
        assert!(d.first_delivery(1, seat));
    }

    proptest! {
        #[test]
        fn unsubscribed_iff_neither_set(
            subnet in 0u64..64,
            backbone in any::<[u8; 8]>(),
            subs in any::<[u8; 8]>(),
            first in any::<bool>(),
        ) {
            let (b, s) = (AttestationSubnets(backbone), AttestationSubnets(subs));
            let e = attribute(subnet, b, s, first);
            let outside = !b.contains(subnet) && !s.contains(subnet);
            prop_assert_eq!(e == Some(AttributionEvidence::UnsubscribedSubnet), outside);
            // Only first deliveries carry the weaker kinds.
            if !first {
                prop_assert!(e.is_none() || outside);
            } else {
                prop_assert!(e.is_some());
            }
        }

        #[test]
        fn dedupe_matches_a_model(
            ops in proptest::collection::vec((0u64..6, prop_oneof![
                0u64..5,
                60u64..70,
                DEDUPE_BITMAP_VALIDATORS - 2..DEDUPE_BITMAP_VALIDATORS + 3,
            ]), 0..200),
        ) {
            // Epochs only move forward here, as on a live network: the model is a plain set.
            let mut d = AttestationDedupe::new(8, 1000);
            let mut model = HashSet::new();
            let mut sorted = ops;
            sorted.sort_by_key(|(e, _)| *e);
            for (epoch, v) in sorted {
                let first = d.first_delivery(epoch, AttesterKey::Validator(v));
                prop_assert_eq!(first, model.insert((epoch, v)));
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                               electra in any::<bool>()) {
            let _ = AttestationFacts::decode(&bytes, 0, electra);
        }
    }
}
