//! [`TrackerSink`]: an [`EventSink`] that updates a [`TrackerStore`].

use std::sync::Arc;

use valtrack_core::{Event, EventSink, SinkError};

use crate::error::TrackerError;
use crate::geoip::GeoIp;
use crate::tracker::store::TrackerStore;

/// Updates a [`TrackerStore`] from events, locating peers with a [`GeoIp`] when given one.
///
/// [`send`](EventSink::send) applies the event at once on a blocking thread (so the HTTP API
/// sees it), without fsync; [`flush`](EventSink::flush) makes every event sent so far durable.
/// Flush regularly (e.g. every few seconds, as the consumer does before acking): the database
/// reclaims space only at durable commits. Clone it freely: clones share the store.
#[derive(Debug, Clone)]
pub struct TrackerSink {
    store: Arc<TrackerStore>,
    geoip: Option<Arc<GeoIp>>,
}

impl TrackerSink {
    /// A sink over `store`.
    pub fn new(store: Arc<TrackerStore>) -> Self {
        Self { store, geoip: None }
    }

    /// Locates peers with `geoip`.
    pub fn with_geoip(mut self, geoip: Arc<GeoIp>) -> Self {
        self.geoip = Some(geoip);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<TrackerStore> {
        &self.store
    }
}

fn backend(e: TrackerError) -> SinkError {
    SinkError::Backend {
        backend: "tracker",
        source: Box::new(e),
    }
}

impl EventSink for TrackerSink {
    /// Not cancel-safe in the sense that a dropped future may still apply the event (the
    /// blocking task runs to completion).
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let store = Arc::clone(&self.store);
        let geoip = self.geoip.clone();
        tokio::task::spawn_blocking(move || store.apply(&event, geoip.as_deref()))
            .await
            .map_err(|e| backend(e.into()))?
            .map_err(backend)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| backend(e.into()))?
            .map_err(backend)
    }
}
