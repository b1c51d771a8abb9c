//! How many validators stand behind a beacon node, estimated from what the network shows: pure
//! functions over a peer's node id, its MetaData `attnets`, its GossipSub subscriptions, its
//! custody group count (`cgc`) and the validators attributed to it from attestations.
//!
//! # Signals
//!
//! * **Short-lived subnets** ([`EstimateMethod::ShortLivedSubnets`]). Since the v1.4.0 "attnet
//!   revamp" a node's long-lived ("backbone") subnets are fixed by its node id
//!   ([`compute_subscribed_attnets`]). A validator subscribes to its committee's subnet only when
//!   it is an aggregator for the slot, so every subscribed subnet beyond the backbone needs at
//!   least one aggregating validator behind the node: their number is a **lower bound**. Subnet 0
//!   counts like any other. A node subscribed to all 64 subnets (`--subscribe-all-subnets`) is
//!   flagged [`all_subnets`](ValidatorEstimate::all_subnets) and this signal is not used.
//! * **Custody group count** ([`EstimateMethod::CustodyGroupCount`], Fulu). A node with
//!   validators custodies `clamp(floor(total_effective_balance / 32 ETH), 8, 128)` groups
//!   (`VALIDATOR_CUSTODY_REQUIREMENT` 8, `BALANCE_PER_ADDITIONAL_CUSTODY_GROUP` 32 ETH,
//!   `NUMBER_OF_CUSTODY_GROUPS` 128); a node without validators custodies
//!   `CUSTODY_REQUIREMENT` 4. [`stake_bound`] inverts that, in whole ETH:
//!
//!   | `cgc` | stake (ETH) | validators at 32 ETH |
//!   |---|---|---|
//!   | `< 4` or `> 128` | not compliant: no bound | — |
//!   | `4..=7` | no validator custody: no bound (normally no validators) | — |
//!   | `8` | `0..=287` (balance `< 288`) | `1..=8` |
//!   | `c` in `9..=127` | `32c..=32c+31` (balance in `[32c, 32(c+1))`) | `c` |
//!   | `128` | `>= 4096`, unbounded above | `>= 128` |
//!
//!   The bound assumes the node advertises exactly its requirement. A node that custodies more
//!   voluntarily (a supernode advertises 128) makes the lower bound too high; the value never
//!   decreases, so a node that lost validators keeps its old, higher `cgc`. Validators with
//!   compounding credentials hold up to 2048 ETH, so "validators at 32 ETH" is an estimate.
//! * **Attribution** ([`EstimateMethod::Attribution`]): distinct validator indices attributed to
//!   the node from attestations it published first; a lower bound. Its confidence grows with
//!   the vantage points (sentries) whose first deliveries back it, `1 - (1 - 0.6)^k` for `k`
//!   of them (0.6, 0.84, 0.94, …), and shrinks by the share of the node's validators the
//!   vantage points disagreed on (at least 0.05, [`Attribution`]).
//! * **Legacy attnets** ([`EstimateMethod::LegacyAttnets`]). Clients from before the revamp
//!   (e.g. Lodestar 1.5.1) keep one random long-lived subnet per validator and advertise it in
//!   `attnets`: when the advertised subnets are not the node-id prediction (at this epoch or
//!   its neighbours, to allow for a node that rotated a moment early or late), their popcount
//!   estimates the validators (capped at 64).
//!
//! [`estimate_validators`] combines the signals into one count, the method that produced it
//! and a confidence in `[0, 1]`. The confidence is a documented heuristic, not a probability:
//! each signal has a base confidence ([`EstimateMethod`] docs below), independent signals
//! combine as `1 - Π(1 - cᵢ)` capped at 0.95, and a contradiction between a lower bound and
//! the custody upper bound halves it.
//!
//! # Example
//!
//! ```
//! use valtrack_core::estimate::{estimate_validators, EstimateInput};
//! use valtrack_core::events::EstimateMethod;
//! use valtrack_core::subnets::compute_subscribed_attnets;
//! use valtrack_core::{AttestationSubnets, NodeId};
//!
//! let node_id = NodeId([7; 32]);
//! let epoch = 300_000;
//! let backbone = compute_subscribed_attnets(&node_id, epoch);
//! // Subscribed to the backbone plus two more subnets (two aggregator duties); cgc 10.
//! let mut subscribed = backbone;
//! for s in (0..64).filter(|s| !backbone.contains(*s)).take(2) {
//!     subscribed.insert(s);
//! }
//! let input = EstimateInput {
//!     attnets: Some(backbone),
//!     subscribed: Some(subscribed),
//!     custody_group_count: Some(10),
//!     ..EstimateInput::new(node_id, epoch)
//! };
//! let estimate = estimate_validators(&input);
//! assert!(estimate.matches_node_id_prediction);
//! assert_eq!(estimate.short_lived_subnets.count(), 2);
//! assert_eq!(estimate.estimated_validators, 10); // 320..=351 ETH
//! assert_eq!(estimate.method, EstimateMethod::Combined);
//! assert!(estimate.confidence > 0.8 && estimate.confidence <= 1.0);
//! ```

use crate::constants::{
    ATTESTATION_SUBNET_COUNT, CUSTODY_REQUIREMENT, NUMBER_OF_CUSTODY_GROUPS,
    VALIDATOR_CUSTODY_REQUIREMENT,
};
use crate::events::{EstimateMethod, EventKind, EventMeta, MetadataEvent, ValidatorMetadataEvent};
use crate::primitives::{Epoch, NodeId};
use crate::subnets::{compute_subscribed_attnets, AttestationSubnets};

/// `BALANCE_PER_ADDITIONAL_CUSTODY_GROUP` in whole ETH (32).
pub const ETH_PER_CUSTODY_GROUP: u64 = 32;
/// The stake a validator is counted with when turning stake into a validator count, in ETH
/// (`MIN_ACTIVATION_BALANCE`, the balance of a validator without compounding credentials).
pub const ETH_PER_VALIDATOR: u64 = 32;

/// Base confidence of a point estimate from a `cgc` in `9..=127`.
pub const CONFIDENCE_CGC_EXACT: f32 = 0.8;
/// Base confidence of a `cgc` of 8 (1 to 8 validators at 32 ETH).
pub const CONFIDENCE_CGC_MIN: f32 = 0.5;
/// Base confidence of a `cgc` of 128 (at least 128 validators, or a supernode).
pub const CONFIDENCE_CGC_MAX: f32 = 0.4;
/// Base confidence of a `cgc` in `4..=7` saying "no validators".
pub const CONFIDENCE_CGC_NONE: f32 = 0.3;
/// Base confidence of the attribution lower bound.
pub const CONFIDENCE_ATTRIBUTION: f32 = 0.6;
/// The least confidence of an attribution, however contested.
pub const CONFIDENCE_ATTRIBUTION_FLOOR: f32 = 0.05;
/// Vantage points counted at most in the attribution's confidence.
pub const MAX_VANTAGE_POINTS_COUNTED: u32 = 8;
/// Base confidence of the short-lived-subnet lower bound.
pub const CONFIDENCE_SHORT_LIVED: f32 = 0.3;
/// Base confidence of the legacy attnets popcount.
pub const CONFIDENCE_LEGACY: f32 = 0.5;
/// The highest confidence a combination reaches.
pub const CONFIDENCE_CAP: f32 = 0.95;

/// What one peer shows, as the estimate reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimateInput {
    /// The peer's discv5 node id.
    pub node_id: NodeId,
    /// The epoch the estimate is for.
    pub epoch: Epoch,
    /// Long-lived subnets from MetaData (or the ENR) `attnets`, when known.
    pub attnets: Option<AttestationSubnets>,
    /// Attestation subnets the peer is subscribed to on GossipSub, when observed.
    pub subscribed: Option<AttestationSubnets>,
    /// Custody group count (MetaData v3 or ENR `cgc`), when known.
    pub custody_group_count: Option<u64>,
    /// Distinct validators attributed to the peer from attestations.
    pub attributed_validators: u64,
    /// Vantage points (sentries) whose first deliveries back the attributed validators; `0`
    /// counts as one.
    pub attribution_vantage_points: u32,
    /// Validators the vantage points disagreed on: attributed to this peer by some and to
    /// another peer by others in the same epoch, and so not counted in
    /// `attributed_validators`.
    pub contested_validators: u64,
}

/// The attribution side of an estimate: what the consumer's attestation counting says
/// about one peer (see `valtrack_sink::derive`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Distinct validators attributed to the peer (counted).
    pub validators: u64,
    /// Vantage points (sentries) whose first deliveries back them.
    pub vantage_points: u32,
    /// Validators contested between vantage points, not counted.
    pub contested: u64,
}

impl Attribution {
    /// `validators` attributed from one vantage point, none contested.
    pub fn from_one_vantage_point(validators: u64) -> Self {
        Self {
            validators,
            vantage_points: u32::from(validators > 0),
            contested: 0,
        }
    }

    /// The attribution lower bound's confidence: [`CONFIDENCE_ATTRIBUTION`] for one vantage
    /// point, `1 - (1 - c)^k` for `k` of them (at most [`MAX_VANTAGE_POINTS_COUNTED`]),
    /// times the share of the peer's validators no vantage point contested, and at least
    /// [`CONFIDENCE_ATTRIBUTION_FLOOR`] (the validators counted were each won by a majority).
    pub fn confidence(&self) -> f32 {
        if self.validators == 0 {
            return 0.0;
        }
        let k = self.vantage_points.clamp(1, MAX_VANTAGE_POINTS_COUNTED);
        let backed = 1.0 - (1.0 - CONFIDENCE_ATTRIBUTION).powi(k as i32);
        let agreed = self.validators as f64 / (self.validators as f64 + self.contested as f64);
        ((f64::from(backed) * agreed) as f32).max(CONFIDENCE_ATTRIBUTION_FLOOR)
    }
}

impl EstimateInput {
    /// An input with only the node id and epoch; set the other fields with struct update syntax.
    pub fn new(node_id: NodeId, epoch: Epoch) -> Self {
        Self {
            node_id,
            epoch,
            attnets: None,
            subscribed: None,
            custody_group_count: None,
            attributed_validators: 0,
            attribution_vantage_points: 0,
            contested_validators: 0,
        }
    }

    /// The attribution fields as one [`Attribution`].
    pub fn attribution(&self) -> Attribution {
        Attribution {
            validators: self.attributed_validators,
            vantage_points: self.attribution_vantage_points,
            contested: self.contested_validators,
        }
    }
}

/// The attached stake a custody group count implies (see the module docs' table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StakeBound {
    /// The custody group count.
    pub custody_group_count: u64,
    /// Least stake, in whole ETH.
    pub stake_min_eth: u64,
    /// Most stake, in whole ETH (rounded down); `None`: unbounded.
    pub stake_max_eth: Option<u64>,
}

impl StakeBound {
    /// Least validators, counting [`ETH_PER_VALIDATOR`] each (at least 1: validator custody is
    /// only advertised by nodes with validators).
    pub fn validators_min(&self) -> u64 {
        (self.stake_min_eth / ETH_PER_VALIDATOR).max(1)
    }

    /// Most validators, counting [`ETH_PER_VALIDATOR`] each; `None`: unbounded.
    pub fn validators_max(&self) -> Option<u64> {
        self.stake_max_eth
            .map(|max| (max / ETH_PER_VALIDATOR).max(self.validators_min()))
    }
}

/// What a custody group count says about validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustodySignal {
    /// No `cgc` known (before Fulu, or MetaData v1/v2 and no ENR field).
    Absent,
    /// Below `CUSTODY_REQUIREMENT` or above `NUMBER_OF_CUSTODY_GROUPS`: not a compliant value.
    Invalid(u64),
    /// `CUSTODY_REQUIREMENT..VALIDATOR_CUSTODY_REQUIREMENT`: no validator custody advertised,
    /// which a compliant node with validators would not do.
    NoValidatorCustody(u64),
    /// Validator custody: a stake bound.
    Validators(StakeBound),
}

impl CustodySignal {
    /// Classifies a custody group count.
    pub fn from_cgc(cgc: Option<u64>) -> Self {
        match cgc {
            None => Self::Absent,
            Some(c) if !(CUSTODY_REQUIREMENT..=NUMBER_OF_CUSTODY_GROUPS).contains(&c) => {
                Self::Invalid(c)
            }
            Some(c) if c < VALIDATOR_CUSTODY_REQUIREMENT => Self::NoValidatorCustody(c),
            Some(c) => stake_bound(c).map_or(Self::Invalid(c), Self::Validators),
        }
    }

    /// The stake bound, for [`CustodySignal::Validators`].
    pub fn stake_bound(&self) -> Option<StakeBound> {
        match self {
            Self::Validators(b) => Some(*b),
            _ => None,
        }
    }
}

/// Inverts validator custody, `cgc = clamp(floor(stake / 32 ETH), 8, 128)`, into the stake
/// range in whole ETH. `None` when `cgc` is not a validator custody value (outside `8..=128`).
///
/// ```
/// use valtrack_core::estimate::stake_bound;
/// assert_eq!(stake_bound(4), None);
/// let b = stake_bound(8).unwrap();
/// assert_eq!((b.stake_min_eth, b.stake_max_eth), (0, Some(287)));
/// let b = stake_bound(10).unwrap();
/// assert_eq!((b.stake_min_eth, b.stake_max_eth), (320, Some(351)));
/// let b = stake_bound(128).unwrap();
/// assert_eq!((b.stake_min_eth, b.stake_max_eth), (4096, None));
/// ```
pub fn stake_bound(cgc: u64) -> Option<StakeBound> {
    if !(VALIDATOR_CUSTODY_REQUIREMENT..=NUMBER_OF_CUSTODY_GROUPS).contains(&cgc) {
        return None;
    }
    // floor(stake / 32) clamped to [8, 128] == cgc:
    //  cgc == 8:        floor(stake / 32) <= 8   ⇔ stake < 288
    //  8 < cgc < 128:   floor(stake / 32) == cgc ⇔ 32·cgc <= stake < 32·(cgc + 1)
    //  cgc == 128:      floor(stake / 32) >= 128 ⇔ stake >= 4096
    let stake_min_eth = if cgc == VALIDATOR_CUSTODY_REQUIREMENT {
        0
    } else {
        cgc * ETH_PER_CUSTODY_GROUP
    };
    let stake_max_eth =
        (cgc < NUMBER_OF_CUSTODY_GROUPS).then(|| (cgc + 1) * ETH_PER_CUSTODY_GROUP - 1);
    Some(StakeBound {
        custody_group_count: cgc,
        stake_min_eth,
        stake_max_eth,
    })
}

/// The subnets in `subscribed` that are not in `backbone`.
pub fn short_lived_subnets(
    subscribed: AttestationSubnets,
    backbone: AttestationSubnets,
) -> AttestationSubnets {
    let mut out = subscribed;
    for (o, b) in out.0.iter_mut().zip(backbone.0) {
        *o &= !b;
    }
    out
}

/// Whether `attnets` equals the node-id prediction at `epoch`, or at the epoch just before or
/// after it (a node rotates its backbone on its own clock).
pub fn matches_prediction_near(
    node_id: &NodeId,
    epoch: Epoch,
    attnets: AttestationSubnets,
) -> bool {
    [epoch.checked_sub(1), Some(epoch), epoch.checked_add(1)]
        .into_iter()
        .flatten()
        .any(|e| compute_subscribed_attnets(node_id, e) == attnets)
}

/// Every signal and the combined estimate for one peer at one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidatorEstimate {
    /// The backbone the node id predicts at the epoch.
    pub predicted_subnets: AttestationSubnets,
    /// The long-lived subnets used (MetaData `attnets`; none when unknown).
    pub long_lived_subnets: AttestationSubnets,
    /// Whether the long-lived subnets are exactly the prediction at the epoch.
    pub matches_node_id_prediction: bool,
    /// Whether the node looks like a pre-revamp client (its long-lived subnets are known, match
    /// no prediction near the epoch, and are not all 64).
    pub legacy_scheme: bool,
    /// Subscribed subnets beyond the predicted backbone (beyond the advertised long-lived
    /// subnets for a legacy node).
    pub short_lived_subnets: AttestationSubnets,
    /// The node advertises or subscribes to all 64 subnets.
    pub all_subnets: bool,
    /// Validators the short-lived subnets require (`None` when subscriptions are unknown or
    /// the node is on all subnets). For a legacy node the short-lived subnets are those beyond
    /// its own long-lived subnets rather than beyond the prediction.
    pub short_lived_lower_bound: Option<u64>,
    /// What the custody group count says.
    pub custody: CustodySignal,
    /// Distinct attributed validators.
    pub attributed_validators: u64,
    /// Vantage points backing them (`0`: none, or not known).
    pub attribution_vantage_points: u32,
    /// Validators the vantage points disagreed on (not counted).
    pub contested_validators: u64,
    /// The legacy popcount estimate (`None` unless [`legacy_scheme`](Self::legacy_scheme)).
    pub legacy_attnets_count: Option<u64>,
    /// The combined estimate.
    pub estimated_validators: u64,
    /// Which signals produced it ([`EstimateMethod::Combined`] for more than one,
    /// [`EstimateMethod::None`] for none).
    pub method: EstimateMethod,
    /// Confidence in `[0, 1]` (a heuristic; see the module docs).
    pub confidence: f32,
}

/// Computes every signal and combines them. Never panics; `estimated_validators` is at least
/// every lower bound that contributed.
pub fn estimate_validators(input: &EstimateInput) -> ValidatorEstimate {
    let predicted = compute_subscribed_attnets(&input.node_id, input.epoch);
    let long_lived = input.attnets.unwrap_or(AttestationSubnets::NONE);
    let matches = input.attnets == Some(predicted);
    let all_subnets = long_lived.is_all() || input.subscribed.is_some_and(|s| s.is_all());
    let legacy = input.attnets.is_some_and(|a| {
        !a.is_all() && !matches && !matches_prediction_near(&input.node_id, input.epoch, a)
    });
    // Legacy nodes keep long-lived subnets of their own; subtract those, not the prediction.
    let backbone = if legacy { long_lived } else { predicted };
    let short_lived = input
        .subscribed
        .map(|s| short_lived_subnets(s, backbone))
        .unwrap_or(AttestationSubnets::NONE);
    let short_lived_lower_bound = match input.subscribed {
        Some(_) if !all_subnets => Some(u64::from(short_lived.count())),
        _ => None,
    };
    let legacy_attnets_count = legacy.then(|| u64::from(long_lived.count()));
    let custody = CustodySignal::from_cgc(input.custody_group_count);

    let mut c = Combiner::default();
    if input.attributed_validators > 0 {
        c.lower(
            EstimateMethod::Attribution,
            input.attributed_validators,
            input.attribution().confidence(),
        );
    }
    if let Some(lb) = short_lived_lower_bound {
        c.lower(
            EstimateMethod::ShortLivedSubnets,
            lb,
            CONFIDENCE_SHORT_LIVED,
        );
    }
    if let Some(n) = legacy_attnets_count {
        c.point(EstimateMethod::LegacyAttnets, n, CONFIDENCE_LEGACY);
    }
    match custody {
        CustodySignal::Validators(b) => {
            let conf = match b.stake_max_eth {
                None => CONFIDENCE_CGC_MAX,
                Some(_) if b.stake_min_eth == 0 => CONFIDENCE_CGC_MIN,
                Some(_) => CONFIDENCE_CGC_EXACT,
            };
            c.range(
                EstimateMethod::CustodyGroupCount,
                b.validators_min(),
                b.validators_max(),
                conf,
            );
        }
        CustodySignal::NoValidatorCustody(_) => {
            c.range(
                EstimateMethod::CustodyGroupCount,
                0,
                Some(0),
                CONFIDENCE_CGC_NONE,
            );
        }
        CustodySignal::Absent | CustodySignal::Invalid(_) => {}
    }
    let (estimated_validators, method, confidence) = c.finish();

    ValidatorEstimate {
        predicted_subnets: predicted,
        long_lived_subnets: long_lived,
        matches_node_id_prediction: matches,
        legacy_scheme: legacy,
        short_lived_subnets: short_lived,
        all_subnets,
        short_lived_lower_bound,
        custody,
        attributed_validators: input.attributed_validators,
        attribution_vantage_points: input.attribution_vantage_points,
        contested_validators: input.contested_validators,
        legacy_attnets_count,
        estimated_validators,
        method,
        confidence,
    }
}

/// Accumulates signals: lower bounds, point estimates and custody ranges.
#[derive(Debug, Default)]
struct Combiner {
    methods: Vec<EstimateMethod>,
    lower: u64,
    point: Option<u64>,
    range: Option<(u64, Option<u64>)>,
    miss: f32,
    any: bool,
}

impl Combiner {
    fn note(&mut self, method: EstimateMethod, confidence: f32) {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
        if !self.any {
            self.miss = 1.0;
            self.any = true;
        }
        self.miss *= 1.0 - confidence.clamp(0.0, 1.0);
    }

    fn lower(&mut self, method: EstimateMethod, n: u64, confidence: f32) {
        self.lower = self.lower.max(n);
        self.note(method, confidence);
    }

    fn point(&mut self, method: EstimateMethod, n: u64, confidence: f32) {
        self.point = Some(self.point.map_or(n, |p| p.max(n)));
        self.note(method, confidence);
    }

    fn range(&mut self, method: EstimateMethod, min: u64, max: Option<u64>, confidence: f32) {
        self.range = Some((min, max));
        self.note(method, confidence);
    }

    fn finish(self) -> (u64, EstimateMethod, f32) {
        if !self.any {
            return (0, EstimateMethod::None, 0.0);
        }
        let mut conflict = false;
        let estimate = match (self.range, self.point) {
            (Some((min, max)), point) => {
                // Inside the custody range, as close to the other signals as it allows.
                let want = point.unwrap_or(min).max(self.lower).max(min);
                match max {
                    Some(max) if want > max => {
                        conflict = true;
                        want
                    }
                    _ => want,
                }
            }
            (None, Some(point)) => point.max(self.lower),
            (None, None) => self.lower,
        };
        let method = match self.methods.as_slice() {
            [one] => *one,
            _ => EstimateMethod::Combined,
        };
        let mut confidence = (1.0 - self.miss).clamp(0.0, CONFIDENCE_CAP);
        if conflict {
            confidence *= 0.5;
        }
        (estimate, method, confidence)
    }
}

impl ValidatorMetadataEvent {
    /// Derives the validator-estimate row for the peer of a handshake, at `epoch`.
    ///
    /// `subscribed` overrides the event's own `subscribed_attnets` (pass what the GossipSub
    /// probe saw); `attribution` is what the attestations attributed to the peer (distinct
    /// validators, the vantage points behind them, those contested). The custody group count is MetaData v3's. The new event keeps the source's
    /// crawler, peer, ENR and timestamp, with an `event_id` derived from the source's and the
    /// epoch. Returns `None` when the handshake got no MetaData (a failed handshake).
    pub fn from_metadata_event(
        source: &MetadataEvent,
        epoch: Epoch,
        subscribed: Option<AttestationSubnets>,
        attribution: Attribution,
    ) -> Option<Self> {
        let md = source.metadata.as_ref()?;
        let input = EstimateInput {
            node_id: source.meta.node_id,
            epoch,
            attnets: Some(md.attnets),
            subscribed: subscribed.or(source.subscribed_attnets),
            custody_group_count: md.custody_group_count,
            attributed_validators: attribution.validators,
            attribution_vantage_points: attribution.vantage_points,
            contested_validators: attribution.contested,
        };
        let est = estimate_validators(&input);
        let mut discriminator = Vec::with_capacity(source.meta.event_id.len() + 8);
        discriminator.extend_from_slice(source.meta.event_id.as_bytes());
        discriminator.extend_from_slice(&epoch.to_le_bytes());
        let meta = EventMeta::new(
            EventKind::ValidatorMetadata,
            &source.meta.crawler_id,
            &source.meta.crawler_location,
            source.meta.timestamp,
            source.meta.peer_id,
            source.meta.enr.clone(),
            &discriminator,
        );
        Some(Self::from_estimate(meta, epoch, &est))
    }

    /// Builds the row from an estimate.
    pub fn from_estimate(meta: EventMeta, epoch: Epoch, est: &ValidatorEstimate) -> Self {
        let bound = est.custody.stake_bound();
        let custody_group_count = match est.custody {
            CustodySignal::Absent => None,
            CustodySignal::Invalid(c) | CustodySignal::NoValidatorCustody(c) => Some(c),
            CustodySignal::Validators(b) => Some(b.custody_group_count),
        };
        Self {
            meta,
            epoch,
            long_lived_subnets: est.long_lived_subnets,
            predicted_subnets: est.predicted_subnets,
            matches_node_id_prediction: est.matches_node_id_prediction,
            short_lived_subnets: est.short_lived_subnets,
            all_subnets: est.all_subnets,
            custody_group_count,
            stake_min_eth: bound.map(|b| b.stake_min_eth),
            stake_max_eth: bound.and_then(|b| b.stake_max_eth),
            estimated_validators: est.estimated_validators,
            method: est.method,
            confidence: est.confidence,
            attributed_validators: est.attributed_validators,
            vantage_points: est.attribution_vantage_points,
            contested_validators: est.contested_validators,
        }
    }
}

// The subnet count is what `AttestationSubnets` holds.
const _: () = assert!(ATTESTATION_SUBNET_COUNT == 64);

#[cfg(test)]
mod tests;
