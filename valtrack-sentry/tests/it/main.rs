//! Integration tests of the libp2p host and handshaker against simulated beacon nodes on
//! loopback (port 0 everywhere).

pub(crate) mod alloc;
mod attrib;
mod crawl;
mod handshake;
mod probe;
mod sentry;
mod simnet;
