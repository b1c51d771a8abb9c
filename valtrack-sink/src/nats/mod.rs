//! NATS JetStream: the [`NatsSink`], its spool, and the shared connection settings.

mod claim;
mod config;
mod pump;
mod sink;
pub(crate) mod spool;

pub use claim::{claims_stream, ClaimHolder, SentryClaim, CLAIM_RENEW, CLAIM_TTL};
pub(crate) use config::check_name;
pub use config::{
    NatsConfig, NatsConfigBuilder, NatsSinkConfig, NatsSinkConfigBuilder, DEFAULT_DUPLICATE_WINDOW,
    DEFAULT_MAX_AGE, DEFAULT_MAX_IN_FLIGHT, DEFAULT_NATS_URL, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_INTERVAL, DEFAULT_SPOOL_DIR, DEFAULT_SPOOL_MAX_BYTES,
    DEFAULT_SPOOL_SEGMENT_BYTES, DEFAULT_STREAM, EVENT_SUBJECTS, MAX_REPLICAS,
};
pub use sink::{NatsSink, NatsSinkStats, NatsSinkStatsReader};
