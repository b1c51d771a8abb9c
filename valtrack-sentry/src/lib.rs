//! valtrack-sentry: the active side of valtrack — a libp2p host that speaks the eth2 wire
//! protocols, a [`Handshaker`](valtrack_core::Handshaker) built on it, and (feature `sim`)
//! simulated beacon nodes.
//!
//! # Architecture
//!
//! A [`Host`] owns one libp2p swarm (TCP with noise and yamux/mplex, QUIC, identify,
//! GossipSub, and one request/response behaviour per eth2 protocol family) in a task of its
//! own; handles talk to it over a bounded queue. It answers peers honestly from its
//! configuration. [`Libp2pHandshaker`] drives one handshake per node on top of it: dial, Status,
//! MetaData (v3, then v2, then v1), Ping, identify, Goodbye.
//!
//! [`Discv5Crawler`] (a [`Crawler`](valtrack_core::Crawler)) maps the discv5 DHT with the
//! `discv5` crate by enumerating routing tables: FINDNODE at log-distances 256 downwards to
//! every node found, paced per node and bounded in flight; it reports new nodes, ENR seq
//! changes and nodes gone on a bounded broadcast channel.
//!
//! With attestation attribution on ([`SentryServiceBuilder::attestations`]) the host
//! subscribes to all 64 attestation subnets (and says so), keeps out of GossipSub meshes so
//! peers push it only what they publish themselves, the handshaker keeps peers connected,
//! and the [`Sentry`] turns the first delivery of each (target epoch, validator) into an
//! attestation event with attribution evidence ([`valtrack_core::attribute`]).
//!
//! # Feature flags
//!
//! - `quic` (default): dial and listen on QUIC besides TCP.
//! - `sim`: simulated beacon nodes, including hostile ones, and a simulated discv5 DHT, for
//!   tests and benches.

mod beacon_api;
mod crawler;
mod error;
mod handshaker;
mod host;
mod probe;
pub mod rpc;
mod sentry;
mod service;
#[cfg(feature = "sim")]
pub mod sim;

pub use beacon_api::{BeaconApi, BeaconApiError, MAX_RESPONSE_BYTES, REQUEST_TIMEOUT};
pub use crawler::{
    CrawlerConfig, CrawlerConfigBuilder, CrawlerStats, Discv5Crawler,
    DEFAULT_DISTANCES_PER_REQUEST, DEFAULT_EVENT_CAPACITY, DEFAULT_GONE_AFTER,
    DEFAULT_INITIAL_LOOKUPS, DEFAULT_LISTEN, DEFAULT_LOOKUP_INTERVAL, DEFAULT_MAX_ACTIVE_NODES,
    DEFAULT_MAX_DISTANCES, DEFAULT_MAX_FAILURES_PER_NODE, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_NODES,
    DEFAULT_PEER_REQUEST_INTERVAL, DEFAULT_QUERY_PARALLELISM, DEFAULT_RECRAWL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_AFTER, DEFAULT_SESSION_CACHE_CAPACITY,
    DEFAULT_STOP_AFTER_EMPTY, DEFAULT_STOP_AFTER_STALE,
};
pub use error::{CrawlerError, HostError, RequestError};
pub use handshaker::{
    HandshakeConfig, Libp2pHandshaker, DEFAULT_GOODBYE_TIMEOUT, DEFAULT_IDENTIFY_TIMEOUT,
    DEFAULT_KEPT_PEERS,
};
pub use host::{
    generate_secret_key, to_core_peer_id, to_libp2p_peer_id, Connected, GossipMessage, Host,
    HostConfig, HostConfigBuilder, MuxerOffer, PeerMode, DEFAULT_AGENT_VERSION,
    DEFAULT_COMMAND_QUEUE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_CONNECTION_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING, GOSSIP_QUEUE, IDENTIFY_PROTOCOL_VERSION,
    INBOUND_QUEUE, OBSERVATION_QUEUE,
};
pub use probe::{GossipProbe, SubscriptionTracker, Subscriptions, DEFAULT_TRACKED_PEERS};
pub use sentry::{
    backoff, InboundOutcome, PeerRecord, Sentry, SentryConfig, SentryConfigBuilder, SentryStats,
    DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP, DEFAULT_CONCURRENCY, DEFAULT_FORGET_AFTER,
    DEFAULT_MAX_PEERS, DEFAULT_REVISIT_INTERVAL, DEFAULT_TICK,
};
pub use service::{SentryService, SentryServiceBuilder, ServiceError, ATTESTATION_IDLE_TIMEOUT};
