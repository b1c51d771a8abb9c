//! valtrack: map Ethereum's consensus-layer network and the validators behind it.
//!
//! This facade re-exports the member crates:
//! - [`core`] (`valtrack-core`): wire types, codecs, ENR, fork digests, subnet maths, events, traits;
//! - [`sentry`] (`valtrack-sentry`): crawler, handshaker, subnet probe, simulated network;
//! - [`sink`] (`valtrack-sink`): event sinks, the consumer, the tracker store and API.

pub use valtrack_core as core;
pub use valtrack_sentry as sentry;
pub use valtrack_sink as sink;

// The README's code blocks are compiled and run as doctests, so they cannot drift.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
