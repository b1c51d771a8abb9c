//! valtrack's [`EventSink`](valtrack_core::EventSink)s (Parquet datasets, JSON lines, an
//! in-process channel, a fan-out, the tracker store), GeoIP enrichment and the tracker's HTTP
//! API.
//!
//! # Architecture
//!
//! A sentry hands every [`Event`](valtrack_core::Event) to one `EventSink`; this crate holds
//! the implementations that store them. [`ParquetSink`] writes one Hive-partitioned Parquet
//! table per event kind (`<dir>/<table>/date=YYYY-MM-DD/part-….parquet`) from a dedicated
//! writer thread fed by a bounded queue, publishing each file by rename once it is complete.
//! [`JsonlSink`] appends the JSON wire form to a file; [`ChannelSink`] passes events to
//! in-process code through a bounded channel; [`FanoutSink`] sends each event to several
//! sinks chosen at run time (`Box<dyn DynEventSink>`). The crate knows nothing of libp2p or
//! discv5: it depends on `valtrack-core` and the storage crates only.
//!
//! Split deployment: sentries send to a `NatsSink`, which publishes each event to the
//! JetStream stream `valtrack` (subject `valtrack.<kind>`, `Nats-Msg-Id` = event id) and
//! spools to disk while NATS is unreachable; a `consumer::Consumer` reads the stream with
//! a durable pull consumer into a `ParquetSink`, acknowledging only durable rows.
//! [`DeriveSink`] derives validator estimates and peer locations in front of the stores.
//!
//! [`TrackerSink`] keeps a [`TrackerStore`] (an embedded `redb` file that survives restarts)
//! up to date: per peer its latest identity, [`Location`](valtrack_core::Location), latest validator estimate with a
//! bounded history, and attribution counts. [`GeoIp`] locates addresses from MaxMind-format
//! City and ASN databases (never an online API). [`serve`] answers HTTP queries over the store
//! (`/validators`, `/peers`, `/peers/{peer_id}`, `/stats`, `/healthz`, `/openapi.json`) with a
//! public view and an admin view unlocked by [`ApiKeys`].
//!
//! # Tables
//!
//! Every table starts with the common columns `event_id: Utf8`, `crawler_id: Utf8`,
//! `crawler_location: Utf8`, `timestamp: Timestamp(ms, "UTC")`, `peer_id: Utf8`
//! (`16Uiu2…`), `node_id: Utf8` (64 hex digits), `enr: Utf8?` (`?` marks nullable). Fork
//! digests and versions are `Utf8` of 8 lowercase hex digits (as in the JSON wire format, so
//! they compare equal across tables and with the NATS messages); roots are `Utf8`, `0x`-hex.
//! Subnet bitfields are `List<UInt8>` of subnet ids (a null list when the field was absent,
//! an empty list when no bit is set). Enums are `Utf8` in their snake-case wire names.
//!
//! * `discovery_events`: `reason`, `seq: UInt64`, `ip: Utf8?`, `ip6: Utf8?`,
//!   `tcp_port`/`udp_port`/`quic_port: UInt16?`, `fork_digest: Utf8?`,
//!   `next_fork_version: Utf8?`, `next_fork_epoch: UInt64?`, `nfd: Utf8?`,
//!   `attnets`/`syncnets: List<UInt8>?`, `cgc: UInt64?`, `class: Utf8`,
//!   `enr_issues: List<Utf8>`.
//! * `metadata_events`: `multiaddr: Utf8?`, `direction: Utf8`, `transport`/`muxer: Utf8?`,
//!   `status_version: UInt8?`, `status_fork_digest`, `status_finalized_root: Utf8?`,
//!   `status_finalized_epoch: UInt64?`, `status_head_root: Utf8?`, `status_head_slot`,
//!   `status_earliest_available_slot: UInt64?`, `metadata_version: UInt8?`,
//!   `metadata_seq_number: UInt64?`, `metadata_attnets`/`metadata_syncnets: List<UInt8>?`,
//!   `metadata_custody_group_count: UInt64?`, `agent_version`, `client_name`,
//!   `client_version`, `client_os`, `client_arch: Utf8?`,
//!   `subscribed_attnets`/`subscribed_syncnets: List<UInt8>?`, `protocols: List<Utf8>`,
//!   `connect_ms`, `status_ms`, `metadata_ms`, `ping_ms`, `total_ms: UInt64?`,
//!   `error_kind: Utf8?`, `goodbye_code: UInt64?`, `error_message: Utf8?`.
//! * `validator_metadata_events`: `epoch: UInt64`, `long_lived_subnets`,
//!   `predicted_subnets: List<UInt8>`, `matches_node_id_prediction: Boolean`,
//!   `short_lived_subnets: List<UInt8>`, `all_subnets: Boolean`,
//!   `custody_group_count`, `stake_min_eth`, `stake_max_eth: UInt64?`,
//!   `estimated_validators: UInt64`, `method: Utf8`, `confidence: Float32`.
//! * `validator_attributions` (the attestation events): `form: Utf8`, `subnet`, `slot`, `committee_index: UInt64`,
//!   `attester_index`, `aggregation_bit: UInt64?`, `target_epoch: UInt64`,
//!   `beacon_block_root: Utf8`, `first_seen_delay_ms: Int64`, `evidence: Utf8?`.
//! * `peer_locations`: `ip: Utf8`, `address_kind: Utf8` (`public`, `private`, `loopback`,
//!   …), `country`, `city: Utf8?`, `latitude`, `longitude: Float64?`, `asn: UInt32?`,
//!   `as_org: Utf8?`, `hosting: Boolean`.
//!
//! [`schema`] returns each table's Arrow schema.
//!
//! # Feature flags
//!
//! * `api` (default): the tracker's HTTP API ([`serve`], [`router`], [`ApiKeys`]) with axum.
//! * `nats` (default): `NatsSink` (JetStream publishing with an on-disk spool for outages)
//!   and the `consumer` (JetStream → Parquet, deduplicated, dead letters). Pulls in
//!   `async-nats`.
//! * `metrics` (default): Prometheus series ([`metrics`]): a sink that counts the events it
//!   passes on, collectors over the Parquet, NATS and consumer counters, and the `/metrics`
//!   endpoint. Pulls in `prometheus-client`.
//!
//! Every other sink, the tracker store and GeoIP are always built.
//!
//! # Example
//!
//! ```
//! use valtrack_core::{Event, EventSink};
//! use valtrack_sink::{ChannelSink, FanoutSink, JsonlSink};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let json = r#"{"kind":"discovery","event_id":"00","crawler_id":"c1","crawler_location":"eu",
//!   "timestamp":1,"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
//!   "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
//!   "reason":"first_seen","seq":1,"class":"no_eth2","attnets":[3,4]}"#;
//! let event = Event::from_json(json.as_bytes())?;
//!
//! let path = std::env::temp_dir().join(format!("valtrack-doc-{}.jsonl", std::process::id()));
//! let (channel, mut rx) = ChannelSink::new(16);
//! let sink = FanoutSink::default().with(channel).with(JsonlSink::open(&path)?);
//! sink.send(event.clone()).await?;
//! sink.flush().await?;
//!
//! assert_eq!(rx.recv().await, Some(event));
//! assert!(std::fs::read_to_string(&path)?.ends_with("}\n"));
//! # std::fs::remove_file(&path)?;
//! # Ok(())
//! # }
//! ```
//!
//! The tracker and its API:
//!
//! ```
//! use std::sync::Arc;
//! use valtrack_core::{Event, EventSink, PeerId};
//! use valtrack_sink::{serve, ApiKeys, TrackerSink, TrackerStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let json = r#"{"kind":"discovery","event_id":"00","crawler_id":"c1","crawler_location":"eu",
//! #   "timestamp":1,"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
//! #   "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
//! #   "reason":"first_seen","seq":1,"class":"no_eth2","attnets":[3,4]}"#;
//! let dir = std::env::temp_dir().join(format!("valtrack-tracker-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let store = Arc::new(TrackerStore::open(dir.join("tracker.redb"))?);
//! // Add `.with_geoip(Arc::new(GeoIp::open(Some(city), Some(asn))?))` to locate peers.
//! let sink = TrackerSink::new(Arc::clone(&store));
//! sink.send(Event::from_json(json.as_bytes())?).await?;
//! sink.flush().await?; // durable
//!
//! let peer: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW".parse()?;
//! let record = store.peer(&peer)?.expect("the peer is tracked");
//! assert_eq!(record.attnets.map(|a| a.subnets()), Some(vec![3, 4]));
//!
//! // The HTTP API, until `shutdown` resolves.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, shutdown) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, store, ApiKeys::none(), async {
//!     let _ = shutdown.await;
//! }));
//! let _ = stop.send(());
//! server.await??;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "api")]
mod api;
mod channel;
#[cfg(feature = "nats")]
pub mod consumer;
mod derive;
mod error;
mod event_key;
mod fanout;
#[doc(hidden)]
pub mod fuzz;
mod geoip;
pub mod histogram;
#[cfg(any(feature = "api", feature = "metrics"))]
mod http;
mod jsonl;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "nats")]
mod nats;
mod parquet_sink;
#[cfg(feature = "postgres")]
mod postgres;
mod stdout;
pub mod store;
mod tracker;

#[cfg(feature = "api")]
pub use crate::api::request_counts as api_request_counts;
#[cfg(feature = "api")]
pub use crate::api::{
    openapi, router, serve, ApiKeys, TrackerSource, API_KEY_HEADER, DEFAULT_PEERS_LIMIT,
    DEFAULT_VALIDATORS_LIMIT, HEADER_READ_TIMEOUT, MAX_API_KEYS, MAX_CONCURRENT_REQUESTS,
    MAX_CONNECTIONS, MAX_PRESENTED_KEY_LEN, MIN_API_KEY_LEN, PEER_HISTORY_LIMIT,
};
pub use crate::channel::ChannelSink;
pub use crate::derive::{
    AttributedValidators, DeriveSink, MAX_ATTRIBUTED_PER_PEER, MAX_CLAIMED_VALIDATORS, MAX_PEERS,
    MAX_VANTAGE_POINTS, WEAK_EVIDENCE_EPOCHS,
};
#[cfg(feature = "api")]
pub use crate::error::ApiKeysError;
#[cfg(feature = "nats")]
pub use crate::error::{ConsumerError, NatsConfigError, NatsError};
pub use crate::error::{ParquetConfigError, ParquetWriteError, TrackerError};
pub use crate::fanout::FanoutSink;
pub use crate::geoip::{is_hosting_asn, GeoIp, GeoIpError, HOSTING_ASNS, MAX_GEO_STRING_LEN};
pub use crate::jsonl::{JsonlSink, DEFAULT_JSONL_BUFFER_BYTES};
#[cfg(feature = "nats")]
pub use crate::nats::{claims_stream, ClaimHolder, SentryClaim, CLAIM_RENEW, CLAIM_TTL};
#[cfg(feature = "nats")]
pub use crate::nats::{
    NatsConfig, NatsConfigBuilder, NatsSink, NatsSinkConfig, NatsSinkConfigBuilder, NatsSinkStats,
    NatsSinkStatsReader, DEFAULT_DUPLICATE_WINDOW, DEFAULT_MAX_AGE, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_NATS_URL, DEFAULT_QUEUE_CAPACITY, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_INTERVAL,
    DEFAULT_SPOOL_DIR, DEFAULT_SPOOL_MAX_BYTES, DEFAULT_SPOOL_SEGMENT_BYTES, DEFAULT_STREAM,
    EVENT_SUBJECTS, MAX_REPLICAS,
};
pub use crate::parquet_sink::{
    recent_event_ids, schema, ParquetSink, ParquetSinkConfig, ParquetSinkConfigBuilder,
    ParquetStats, DEFAULT_BATCH_ROWS, DEFAULT_CHANNEL_CAPACITY, DEFAULT_MAX_FILE_AGE,
    DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILE_ROWS, DEFAULT_MAX_HELD_ROWS, DEFAULT_MAX_OPEN_FILES,
    DEFAULT_ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL, MAX_WRITERS,
};
#[cfg(feature = "postgres")]
pub use crate::postgres::{
    PgError, PgSink, PgSinkStats, PgStore, PgStoreConfig, PgWrites, CONNECT_TIMEOUT,
    DEFAULT_APPLIED_RETENTION, DEFAULT_POOL_SIZE, WRITE_TIMEOUT,
};
pub use crate::stdout::StdoutSink;
pub use crate::store::{Store, StoreConfig, StoreError, StoreRole, StoreSink, TableCounts};
pub use crate::tracker::{
    EstimateRecord, PeerPage, PeerRecord, Stats, TrackerConfig, TrackerSink, TrackerStore,
    DEFAULT_APPLIED_IDS, DEFAULT_HISTORY_PER_PEER, DEFAULT_MAX_ATTRIBUTED_PER_PEER,
    DEFAULT_MAX_PAGE, DEFAULT_SYNC_INTERVAL,
};

/// A small discovery event for unit tests, at `timestamp`.
#[cfg(test)]
pub(crate) fn test_event(timestamp: u64) -> valtrack_core::Event {
    let json = format!(
        r#"{{"kind":"discovery","event_id":"{timestamp:02x}","crawler_id":"c1","crawler_location":"eu",
          "timestamp":{timestamp},"peer_id":"16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW",
          "node_id":"ef4cf7caa876063f4b8a8d1dad0f58fe9cd0ce945abba6b85dbf31c5fac98269","enr":null,
          "reason":"first_seen","seq":1,"class":"no_eth2","attnets":[3,4]}}"#
    );
    valtrack_core::Event::from_json(json.as_bytes()).expect("test event parses")
}
