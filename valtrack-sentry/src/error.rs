//! Errors of valtrack-sentry.

use thiserror::Error;
use valtrack_core::BoxError;

/// The libp2p host could not start or is gone.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HostError {
    /// The transport could not be built.
    #[error("could not build the libp2p transport")]
    Transport(#[source] BoxError),
    /// A behaviour could not be built (e.g. an invalid GossipSub configuration).
    #[error("could not build the {behaviour} behaviour: {reason}")]
    Behaviour {
        /// Which behaviour.
        behaviour: &'static str,
        /// What libp2p said (it reports these as static strings).
        reason: &'static str,
    },
    /// Listening on an address failed.
    #[error("could not listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The configuration is invalid.
    #[error("invalid host configuration: {0}")]
    Config(&'static str),
    /// The host task has stopped.
    #[error("the libp2p host has stopped")]
    Closed,
}

/// Why one request to a peer failed (the handshaker adds the stage).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The peer said Goodbye (before or while we asked).
    #[error("peer said goodbye ({0})")]
    Goodbye(u64),
    /// No or incomplete answer in time.
    #[error("request timed out")]
    Timeout(#[source] Option<BoxError>),
    /// The peer sent bytes that break the protocol, or an error response.
    #[error("protocol violation")]
    Violation(#[source] BoxError),
    /// The peer supports none of the protocol versions we offered.
    #[error("peer supports none of the offered protocols")]
    Unsupported,
    /// The connection closed.
    #[error("connection closed")]
    Closed(#[source] Option<BoxError>),
    /// The host stopped.
    #[error("host stopped")]
    HostClosed,
}

/// The discv5 crawler (or a simulated discv5 node) could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CrawlerError {
    /// The configuration is invalid.
    #[error("invalid crawler configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// The secret key is not a valid secp256k1 scalar.
    #[error("the secret key is not a valid secp256k1 scalar")]
    SecretKey,
    /// Our own ENR could not be built or signed.
    #[error("could not build the local ENR")]
    LocalEnr(#[source] BoxError),
    /// The discv5 service refused the configuration (the crate reports a static string).
    #[error("discv5 refused to start: {reason}")]
    Discv5 {
        /// What discv5 said.
        reason: &'static str,
    },
    /// The UDP socket could not be bound or the service could not start.
    #[error("could not start discv5 on {addr}: {reason}")]
    Start {
        /// The address.
        addr: std::net::SocketAddr,
        /// What discv5 said (its error type implements neither `Display` nor `Error`).
        reason: String,
    },
}
