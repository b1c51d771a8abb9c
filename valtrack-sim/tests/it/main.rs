//! Integration tests of the libp2p host and handshaker against simulated beacon nodes on
//! loopback (port 0 everywhere).

pub(crate) mod alloc;
mod attrib;
mod crawl;
mod flood;
mod handshake;
mod probe;
mod publishing;
mod scoring;
mod sentry;
mod simnet;

use std::sync::{Arc, Mutex};

use valtrack_core::{Event, EventSink, SinkError};

/// A sink that keeps every event, for the tests to read (clones share the list).
#[derive(Debug, Clone, Default)]
pub(crate) struct Collect(pub(crate) Arc<Mutex<Vec<Event>>>);

impl EventSink for Collect {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(event);
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
