//! [`ValidatorMetadataEvent`]: how many validators stand behind a peer at one epoch, and how
//! that was estimated ([`EstimateMethod`]).
//!
//! The estimate comes from [`estimate_validators`](crate::estimate::estimate_validators); the event keeps
//! its inputs (long-lived, predicted and short-lived subnets, custody group count and its stake
//! bound) beside the result, so a stored estimate can be re-derived or questioned later.

use serde::{Deserialize, Serialize};

use super::EventMeta;
use crate::primitives::Epoch;
use crate::subnets::AttestationSubnets;

/// How a validator count was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EstimateMethod {
    /// Short-lived (aggregator) subscriptions beyond the node-id backbone.
    ShortLivedSubnets,
    /// The custody group count's stake bound.
    CustodyGroupCount,
    /// Distinct validators attributed from attestations.
    Attribution,
    /// Pre-2023 clients: one random long-lived subnet per validator.
    LegacyAttnets,
    /// A combination of the above.
    Combined,
    /// No signal.
    None,
}

event_struct! {
    /// Validator estimates for one peer at one epoch.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ValidatorMetadataEvent {
        /// Common fields.
        #[serde(flatten)]
        pub meta: EventMeta,
        /// Epoch the estimate is for.
        pub epoch: Epoch,
        /// Long-lived subnets (MetaData/ENR `attnets`).
        pub long_lived_subnets: AttestationSubnets,
        /// The two subnets the node id predicts.
        pub predicted_subnets: AttestationSubnets,
        /// Whether the long-lived subnets are exactly the prediction.
        pub matches_node_id_prediction: bool,
        /// Subscribed subnets beyond the backbone (aggregator duties).
        pub short_lived_subnets: AttestationSubnets,
        /// Subscribed to all 64 subnets (estimates from subscriptions are then meaningless).
        pub all_subnets: bool,
        /// Custody group count.
        #[serde(default)]
        pub custody_group_count: Option<u64>,
        /// Lower bound on attached stake implied by `cgc`, in ETH.
        #[serde(default)]
        pub stake_min_eth: Option<u64>,
        /// Upper bound on attached stake implied by `cgc`, in ETH (`None`: unbounded).
        #[serde(default)]
        pub stake_max_eth: Option<u64>,
        /// Estimated validators behind the node.
        pub estimated_validators: u64,
        /// How.
        pub method: EstimateMethod,
        /// Confidence in `[0, 1]`.
        pub confidence: f32,
        /// Distinct validators attributed to the peer from attestations it delivered first
        /// (part of the estimate: a lower bound).
        #[serde(default)]
        pub attributed_validators: u64,
        /// Vantage points (sentries, by `crawler_id`) whose first deliveries back those
        /// attributions; `0` when none are attributed.
        #[serde(default)]
        pub vantage_points: u32,
        /// Validators the vantage points disagreed on (named this peer and another in the same
        /// epoch); not counted in `attributed_validators`, they lower the confidence.
        #[serde(default)]
        pub contested_validators: u64,
    }
}
