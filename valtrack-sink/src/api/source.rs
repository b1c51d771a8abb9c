//! [`TrackerSource`]: the store the API reads, embedded or PostgreSQL.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use valtrack_core::PeerId;

use crate::error::TrackerError;
use crate::tracker::{EstimateRecord, PeerPage, PeerRecord, Stats, TrackerStore};

/// Where the API reads the tracker from: the embedded store (`tracker.redb`) or, with the
/// `postgres` feature, a PostgreSQL database. Both answer every route the same way.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TrackerSource {
    /// The embedded store.
    Embedded(Arc<TrackerStore>),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(Arc<crate::PgStore>),
}

impl From<Arc<TrackerStore>> for TrackerSource {
    fn from(store: Arc<TrackerStore>) -> Self {
        Self::Embedded(store)
    }
}

#[cfg(feature = "postgres")]
impl From<Arc<crate::PgStore>> for TrackerSource {
    fn from(store: Arc<crate::PgStore>) -> Self {
        Self::Postgres(store)
    }
}

/// A store query that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error(transparent)]
    Embedded(#[from] TrackerError),
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Postgres(#[from] crate::PgError),
}

/// Runs a blocking query on the embedded store; `slot` goes into the blocking thread, so a
/// client that disconnects cannot start more scans than there are slots.
async fn blocking<T: Send + 'static>(
    store: &Arc<TrackerStore>,
    slot: OwnedSemaphorePermit,
    f: impl FnOnce(&TrackerStore) -> Result<T, TrackerError> + Send + 'static,
) -> Result<T, SourceError> {
    let store = Arc::clone(store);
    Ok(tokio::task::spawn_blocking(move || {
        let _slot = slot;
        f(&store)
    })
    .await
    .map_err(TrackerError::from)??)
}

impl TrackerSource {
    /// Most rows one query returns.
    pub(crate) fn max_page(&self) -> u64 {
        match self {
            Self::Embedded(s) => s.config().max_page,
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => p.config().tracker.max_page,
        }
    }

    pub(crate) async fn estimates(
        &self,
        slot: OwnedSemaphorePermit,
        from: u64,
        to: u64,
        limit: u64,
    ) -> Result<Vec<EstimateRecord>, SourceError> {
        match self {
            Self::Embedded(s) => blocking(s, slot, move |s| s.estimates(from, to, limit)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.estimates(from, to, limit).await?),
        }
    }

    pub(crate) async fn peers(
        &self,
        slot: OwnedSemaphorePermit,
        limit: u64,
        offset: u64,
    ) -> Result<PeerPage, SourceError> {
        match self {
            Self::Embedded(s) => blocking(s, slot, move |s| s.peers(limit, offset)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.peers(limit, offset).await?),
        }
    }

    /// A peer and its latest `history` estimates.
    pub(crate) async fn peer(
        &self,
        slot: OwnedSemaphorePermit,
        peer_id: PeerId,
        history: u64,
    ) -> Result<Option<(PeerRecord, Vec<EstimateRecord>)>, SourceError> {
        match self {
            Self::Embedded(s) => {
                blocking(s, slot, move |s| {
                    Ok(match s.peer(&peer_id)? {
                        Some(rec) => Some((rec, s.history(&peer_id, history)?)),
                        None => None,
                    })
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(match p.peer(&peer_id).await? {
                Some(rec) => Some((rec, p.history(&peer_id, history).await?)),
                None => None,
            }),
        }
    }

    pub(crate) async fn stats(&self, slot: OwnedSemaphorePermit) -> Result<Stats, SourceError> {
        match self {
            Self::Embedded(s) => blocking(s, slot, TrackerStore::stats).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(p) => Ok(p.stats().await?),
        }
    }
}
