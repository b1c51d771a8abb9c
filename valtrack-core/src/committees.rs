//! The beacon committees of one epoch, as a beacon node's standard REST API returns them
//! (`GET /eth/v1/beacon/states/{state_id}/committees?epoch=E`): what names the validator
//! behind a phase0 attestation, whose single aggregation bit is a seat in a committee.
//!
//! ```
//! use valtrack_core::committees::EpochCommittees;
//!
//! let json = br#"{"execution_optimistic":false,"data":[
//!     {"index":"0","slot":"16","validators":["5","2"]},
//!     {"index":"1","slot":"16","validators":["7"]}]}"#;
//! let committees = EpochCommittees::from_json(json, 2, 8)?;
//! assert_eq!(committees.validator(16, 0, 1), Some(2));
//! assert_eq!(committees.validator(16, 1, 0), Some(7));
//! assert_eq!(committees.validator(16, 1, 1), None);
//! # Ok::<(), valtrack_core::committees::CommitteesError>(())
//! ```

use std::collections::HashMap;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::primitives::{Epoch, Slot};

/// Most committees accepted in one epoch: 64 per slot (`MAX_COMMITTEES_PER_SLOT`) over 32
/// slots, twice over for other presets.
pub const MAX_COMMITTEES_PER_EPOCH: usize = 4096;
/// Most validators in one committee (`MAX_VALIDATORS_PER_COMMITTEE`).
pub const MAX_VALIDATORS_PER_COMMITTEE: usize = 2048;

/// Why a committees response was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitteesError {
    /// Not the API's JSON shape.
    #[error("committees response: {0}")]
    Json(#[from] serde_json::Error),
    /// A committee of a slot outside the epoch asked for.
    #[error("committee for slot {slot} is not in epoch {epoch}")]
    OutOfEpoch {
        /// The committee's slot.
        slot: Slot,
        /// The epoch asked for.
        epoch: Epoch,
    },
    /// More committees, or a larger committee, than the protocol allows.
    #[error("committees response too large: {what}")]
    TooLarge {
        /// What exceeded its bound.
        what: &'static str,
    },
}

/// The committees of one epoch: validator indices by (slot, committee index), in seat order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochCommittees {
    epoch: Epoch,
    seats: HashMap<(Slot, u64), Vec<u64>>,
    flattened: bool,
}

impl EpochCommittees {
    /// Parses the REST API's response for `epoch` (numbers as the API's decimal strings, or
    /// plain numbers). Committees must lie in the epoch and within the protocol's sizes.
    ///
    /// Lodestar 1.5 answers an epoch query with its committees flattened: every committee
    /// says slot `0` and they are numbered `0..n` across the epoch, slot by slot. Every slot
    /// has at least one committee, so a response that puts `n` (a multiple of the epoch's
    /// slots) committees numbered `0..n` all in one slot cannot be right; it is read the way
    /// Lodestar means it (committee `i` is number `i % (n / slots)` of the epoch's slot
    /// `i / (n / slots)`; its attester duties agree, see the tests) and
    /// [`flattened`](Self::flattened) says so.
    pub fn from_json(
        bytes: &[u8],
        epoch: Epoch,
        slots_per_epoch: u64,
    ) -> Result<Self, CommitteesError> {
        let mut response: Response = serde_json::from_slice(bytes)?;
        let first = epoch.saturating_mul(slots_per_epoch);
        let end = first.saturating_add(slots_per_epoch);
        let flattened = is_flattened(&response.data, slots_per_epoch);
        if flattened {
            let per_slot = response.data.len() as u64 / slots_per_epoch;
            for c in &mut response.data {
                c.slot = first + c.index / per_slot;
                c.index %= per_slot;
            }
        }
        let mut seats = HashMap::with_capacity(response.data.len());
        for c in response.data {
            if !(first..end).contains(&c.slot) {
                return Err(CommitteesError::OutOfEpoch {
                    slot: c.slot,
                    epoch,
                });
            }
            seats.insert((c.slot, c.index), c.validators.0);
        }
        Ok(Self {
            epoch,
            seats,
            flattened,
        })
    }

    /// Whether the response was Lodestar 1.5's flattened form (see
    /// [`from_json`](Self::from_json)).
    pub fn flattened(&self) -> bool {
        self.flattened
    }

    /// The epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Number of committees.
    pub fn len(&self) -> usize {
        self.seats.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// The validator in seat `bit` of committee `committee_index` at `slot`.
    pub fn validator(&self, slot: Slot, committee_index: u64, bit: u64) -> Option<u64> {
        let committee = self.seats.get(&(slot, committee_index))?;
        committee.get(usize::try_from(bit).ok()?).copied()
    }
}

/// Whether `committees` are `0..n` all in one slot, `n` a multiple of the epoch's slots.
fn is_flattened(committees: &[Committee], slots_per_epoch: u64) -> bool {
    let n = committees.len() as u64;
    if slots_per_epoch < 2 || n < slots_per_epoch || !n.is_multiple_of(slots_per_epoch) {
        return false;
    }
    let slot = committees[0].slot;
    let mut seen = vec![false; committees.len()];
    committees.iter().all(|c| {
        c.slot == slot
            && usize::try_from(c.index)
                .ok()
                .and_then(|i| seen.get_mut(i))
                .is_some_and(|s| !std::mem::replace(s, true))
    })
}

#[derive(Deserialize)]
struct Response {
    #[serde(deserialize_with = "bounded_committees")]
    data: Vec<Committee>,
}

#[derive(Deserialize)]
struct Committee {
    #[serde(deserialize_with = "quoted")]
    index: u64,
    #[serde(deserialize_with = "quoted")]
    slot: Slot,
    validators: Validators,
}

/// A committee's validator indices, at most [`MAX_VALIDATORS_PER_COMMITTEE`].
struct Validators(Vec<u64>);

impl<'de> Deserialize<'de> for Validators {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> de::Visitor<'de> for Visit {
            type Value = Validators;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of validator indices")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Validators, A::Error> {
                let mut out = Vec::new();
                while let Some(Quoted(v)) = seq.next_element()? {
                    if out.len() == MAX_VALIDATORS_PER_COMMITTEE {
                        return Err(de::Error::custom(format!(
                            "a committee of more than {MAX_VALIDATORS_PER_COMMITTEE} validators"
                        )));
                    }
                    out.push(v);
                }
                Ok(Validators(out))
            }
        }
        d.deserialize_seq(Visit)
    }
}

fn bounded_committees<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Committee>, D::Error> {
    struct Visit;
    impl<'de> de::Visitor<'de> for Visit {
        type Value = Vec<Committee>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of committees")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Committee>, A::Error> {
            let mut out = Vec::new();
            while let Some(c) = seq.next_element()? {
                if out.len() == MAX_COMMITTEES_PER_EPOCH {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_COMMITTEES_PER_EPOCH} committees in an epoch"
                    )));
                }
                out.push(c);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Visit)
}

/// A `u64` given as the API's decimal string or as a number.
struct Quoted(u64);

impl<'de> Deserialize<'de> for Quoted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        quoted(d).map(Quoted)
    }
}

fn quoted<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Visit;
    impl de::Visitor<'_> for Visit {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an unsigned integer, or one in a decimal string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse()
                .map_err(|_| E::custom(format!("not a u64: {v:?}")))
        }
    }
    d.deserialize_any(Visit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_responses_are_typed_errors() {
        let out_of_epoch = br#"{"data":[{"index":"0","slot":"24","validators":["1"]}]}"#;
        assert!(matches!(
            EpochCommittees::from_json(out_of_epoch, 2, 8),
            Err(CommitteesError::OutOfEpoch { slot: 24, epoch: 2 })
        ));
        for bad in [
            &br#"{"data":[{"index":"x","slot":"16","validators":[]}]}"#[..],
            br#"{"data":[{"index":"-1","slot":"16","validators":[]}]}"#,
            br#"{"data":{}}"#,
            br#"{"code":500,"message":"oops"}"#,
            b"not json",
        ] {
            assert!(
                matches!(
                    EpochCommittees::from_json(bad, 2, 8),
                    Err(CommitteesError::Json(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big: Vec<String> = (0..=MAX_VALIDATORS_PER_COMMITTEE)
            .map(|i| i.to_string())
            .collect();
        let json = serde_json::json!({"data": [{"index": "0", "slot": "16", "validators": big}]});
        assert!(EpochCommittees::from_json(json.to_string().as_bytes(), 2, 8).is_err());
        let many: Vec<_> = (0..=MAX_COMMITTEES_PER_EPOCH)
            .map(|i| serde_json::json!({"index": i.to_string(), "slot": "16", "validators": []}))
            .collect();
        let json = serde_json::json!({ "data": many });
        assert!(EpochCommittees::from_json(json.to_string().as_bytes(), 2, 8).is_err());
    }

    /// Captured from a Lodestar 1.5.1 dev-mode node (8 validators, minimal preset: 8 slots
    /// an epoch, one committee a slot): `GET /eth/v1/beacon/states/head/committees?epoch=E`.
    const LODESTAR_COMMITTEES: [&str; 2] = [
        r#"{"data":[{"index":"0","slot":"0","validators":["2"]},{"index":"1","slot":"0","validators":["3"]},{"index":"2","slot":"0","validators":["5"]},{"index":"3","slot":"0","validators":["4"]},{"index":"4","slot":"0","validators":["7"]},{"index":"5","slot":"0","validators":["0"]},{"index":"6","slot":"0","validators":["1"]},{"index":"7","slot":"0","validators":["6"]}],"execution_optimistic":false}"#,
        r#"{"data":[{"index":"0","slot":"0","validators":["5"]},{"index":"1","slot":"0","validators":["3"]},{"index":"2","slot":"0","validators":["6"]},{"index":"3","slot":"0","validators":["2"]},{"index":"4","slot":"0","validators":["0"]},{"index":"5","slot":"0","validators":["7"]},{"index":"6","slot":"0","validators":["1"]},{"index":"7","slot":"0","validators":["4"]}],"execution_optimistic":false}"#,
    ];
    /// The same node's attester duties (`POST /eth/v1/validator/duties/attester/E` for
    /// validators 0..7): (slot, committee index, seat, validator).
    const LODESTAR_DUTIES: [[(u64, u64, u64, u64); 8]; 2] = [
        [
            (0, 0, 0, 2),
            (1, 0, 0, 3),
            (2, 0, 0, 5),
            (3, 0, 0, 4),
            (4, 0, 0, 7),
            (5, 0, 0, 0),
            (6, 0, 0, 1),
            (7, 0, 0, 6),
        ],
        [
            (8, 0, 0, 5),
            (9, 0, 0, 3),
            (10, 0, 0, 6),
            (11, 0, 0, 2),
            (12, 0, 0, 0),
            (13, 0, 0, 7),
            (14, 0, 0, 1),
            (15, 0, 0, 4),
        ],
    ];

    #[test]
    fn lodestars_flattened_committees_agree_with_its_attester_duties() {
        for (epoch, (json, duties)) in LODESTAR_COMMITTEES.iter().zip(LODESTAR_DUTIES).enumerate() {
            let c = EpochCommittees::from_json(json.as_bytes(), epoch as u64, 8).unwrap();
            assert!(c.flattened());
            assert_eq!(c.len(), 8);
            for (slot, index, seat, validator) in duties {
                assert_eq!(
                    c.validator(slot, index, seat),
                    Some(validator),
                    "slot {slot}"
                );
            }
        }
    }

    #[test]
    fn a_correct_response_is_not_mistaken_for_a_flattened_one() {
        // 2 slots an epoch, 2 committees a slot, as the API spec has it
        let json = br#"{"data":[
            {"index":"0","slot":"4","validators":["1"]},{"index":"1","slot":"4","validators":["2"]},
            {"index":"0","slot":"5","validators":["3"]},{"index":"1","slot":"5","validators":["4"]}]}"#;
        let c = EpochCommittees::from_json(json, 2, 2).unwrap();
        assert!(!c.flattened());
        assert_eq!(c.validator(5, 1, 0), Some(4));
    }

    #[test]
    fn seats_outside_a_committee_are_none() {
        let json = br#"{"data":[{"index":0,"slot":16,"validators":[3,4]}]}"#;
        let c = EpochCommittees::from_json(json, 2, 8).unwrap();
        assert_eq!((c.epoch(), c.len(), c.is_empty()), (2, 1, false));
        assert_eq!(c.validator(16, 0, 0), Some(3));
        assert_eq!(c.validator(16, 0, 2), None);
        assert_eq!(c.validator(17, 0, 0), None);
        assert_eq!(c.validator(16, 0, u64::MAX), None);
    }
}
