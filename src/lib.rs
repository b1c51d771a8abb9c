//! valtrack: map Ethereum's consensus-layer network and the validators behind it.
//!
//! This facade re-exports the member crates:
//! - [`core`] (`valtrack-core`): wire types, codecs, ENR, fork digests, subnet maths, events, traits;
//! - [`sentry`] (`valtrack-sentry`): crawler, handshaker, subnet probe, the sentry service;
//! - [`sink`] (`valtrack-sink`): event sinks, the [`Store`](sink::Store) (the whole storage
//!   side in one call), the consumer, the tracker store and API.
//!
//! The simulated network the `valtrack` binary runs for `--network sim` is the
//! `valtrack-sim` crate, built on these crates' public API.

pub use valtrack_core as core;
pub use valtrack_sentry as sentry;
pub use valtrack_sink as sink;

pub mod report;

// The README's code blocks are compiled and run as doctests, so they cannot drift.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
