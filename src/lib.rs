//! valtrack: map Ethereum's consensus-layer network and the validators behind it.
//!
//! This facade re-exports the member crates:
//! - [`core`] (`valtrack-core`): wire types, codecs, ENR, fork digests, subnet maths, events, traits;
//! - [`sentry`] (`valtrack-sentry`): crawler, handshaker, subnet probe, simulated network;
//! - [`sink`] (`valtrack-sink`): event sinks, the consumer, the tracker store and API.

pub use valtrack_core as core;
pub use valtrack_sentry as sentry;
pub use valtrack_sink as sink;
