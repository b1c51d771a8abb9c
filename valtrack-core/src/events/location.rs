//! [`PeerLocationEvent`]: where a peer's address is, from GeoIP databases.
//!
//! The location is enrichment added by the consumer, not something the peer told us, so it is
//! an event of its own (the `peer_locations` table) rather than fields of the others.

use serde::{Deserialize, Serialize};

use super::EventMeta;
use crate::location::Location;

/// Where a peer's address is, from GeoIP databases (the `peer_locations` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerLocationEvent {
    /// Common fields (the located peer).
    #[serde(flatten)]
    pub meta: EventMeta,
    /// The location.
    #[serde(flatten)]
    pub location: Location,
}
