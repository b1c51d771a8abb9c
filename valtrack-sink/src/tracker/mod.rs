//! The tracker: per-peer state (identity, location, validator estimates and their history,
//! attribution counts) in an embedded database that survives restarts, and the
//! [`TrackerSink`] that keeps it up to date from events.

#[cfg(test)]
pub(crate) mod fixtures;
mod record;
mod sink;
pub(crate) mod store;

pub use record::{EstimateRecord, PeerPage, PeerRecord, Stats};
pub use sink::TrackerSink;
pub use store::{
    TrackerConfig, TrackerStore, DEFAULT_APPLIED_IDS, DEFAULT_HISTORY_PER_PEER,
    DEFAULT_MAX_ATTRIBUTED_PER_PEER, DEFAULT_MAX_PAGE, DEFAULT_SYNC_INTERVAL,
};
