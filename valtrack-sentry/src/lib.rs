//! valtrack-sentry: the active side of valtrack — a libp2p host that speaks the eth2 wire
//! protocols, a [`Handshaker`](valtrack_core::Handshaker) built on it, a discv5 crawler and
//! the [`Sentry`] that drives them.
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
//! attestation event with attribution evidence ([`valtrack_core::attribution::attribute`]).
//!
//! # Modules
//!
//! The root re-exports the main types; each public module holds the rest of its part with
//! its `DEFAULT_*` constants ([`crawler`], [`host`], [`handshaker`], [`probe`], [`sentry`],
//! [`service`], [`rpc`], [`beacon_api`]). A [`host::Responder`] lets a host answer requests
//! its own way (raw bytes included, [`rpc::RawResponse`]): the simulated and hostile beacon
//! nodes of the `valtrack-sim` crate are built on it. [`libp2p`] and [`discv5`] are
//! re-exported, as their types appear in this crate's API.
//!
//! # Feature flags
//!
//! - `quic` (default): dial and listen on QUIC besides TCP.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use valtrack_core::{parse_enr, Event, EventSink, Network, SinkError, MAINNET_BOOTNODES};
//! use valtrack_sentry::SentryService;
//!
//! /// Prints each event as a JSON line.
//! struct Print;
//! impl EventSink for Print {
//!     async fn send(&self, event: Event) -> Result<(), SinkError> {
//!         println!("{}", String::from_utf8_lossy(&event.to_json()));
//!         Ok(())
//!     }
//!     async fn flush(&self) -> Result<(), SinkError> { Ok(()) }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let bootnodes = MAINNET_BOOTNODES.iter().map(|e| parse_enr(e)).collect::<Result<Vec<_>, _>>()?;
//! let service = SentryService::builder(Network::mainnet())
//!     .bootnodes(bootnodes)
//!     .build(Print)
//!     .await?;
//! service.run(tokio::time::sleep(Duration::from_secs(600))).await?;
//! # Ok(())
//! # }
//! ```

pub mod beacon_api;
pub mod crawler;
mod error;
pub mod handshaker;
pub mod host;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod probe;
pub mod rpc;
pub mod sentry;
pub mod service;

pub use discv5;
pub use libp2p;

pub use beacon_api::{BeaconApi, BeaconApiError};
pub use crawler::{CrawlerConfig, CrawlerStats, Discv5Crawler};
pub use error::{CrawlerError, HostError, RequestError};
pub use handshaker::{HandshakeConfig, Libp2pHandshaker};
pub use host::{Host, HostConfig, Responder};
pub use probe::{GossipProbe, SubscriptionTracker, SubscriptionsAsOf};
pub use sentry::{Sentry, SentryConfig, SentryConfigError, SentryStats};
pub use service::{GossipStrategy, SentryService, SentryServiceBuilder, ServiceError};
