//! The whole storage side in one call: what `valtrack run` and `valtrack consumer` write
//! through, for anyone embedding valtrack.
//!
//! [`Store::open`] puts together, under one data directory: a [`DeriveSink`] (validator
//! estimates and, with GeoIP databases, peer locations) in front of the Parquet tables
//! ([`ParquetSink`]) and the tracker store ([`TrackerSink`] over `tracker.redb`), counts the
//! rows each table was handed, and (feature `api`) serves the tracker's HTTP API; or, in a
//! fleet, one part of that (see [`StoreRole`]). It returns the [`StoreSink`] to send events to and the [`Store`]
//! handle that reports the counts and stops the API.
//!
//! ```no_run
//! use valtrack_core::{EventSink, Network};
//! use valtrack_sink::store::{Store, StoreConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = StoreConfig::builder("./data").network(Network::mainnet()).build()?;
//! let (store, sink) = Store::open(config).await?;
//! // … hand `sink` to a sentry or a consumer …
//! sink.flush().await?;
//! println!("{}", store.counts());
//! store.close().await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use valtrack_core::{Event, EventKind, EventSink, Network, SinkError};

use crate::derive::DeriveSink;
use crate::geoip::{GeoIp, GeoIpError};
use crate::parquet_sink::{DatasetIds, ParquetSink, ParquetSinkConfig, ParquetStats};
use crate::tracker::{TrackerSink, TrackerStore};

/// Default data directory of the tables and the tracker store.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default age at which a Parquet file is closed and published (short, so the tables on
/// disk stay close to what was received; `ParquetSinkConfig`'s own default is longer).
pub const DEFAULT_MAX_FILE_AGE: Duration = Duration::from_secs(60);
/// The tracker store's file in the data directory.
pub const TRACKER_FILE: &str = "tracker.redb";

/// What a [`Store`] writes: everything in one process, or one part of a fleet's consumers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreRole {
    /// Derived estimates and locations, every Parquet table and the tracker store.
    #[default]
    All,
    /// The events as received, in a [`shared`](crate::ParquetSinkConfigBuilder::shared)
    /// dataset, nothing derived, no tracker: any number of these share a durable consumer
    /// (events are split among them), since writing an event depends on no other event.
    Tables,
    /// Derived estimates and locations, the tracker store, and the derived tables
    /// (`validator_metadata_events`, `peer_locations`) in a shared dataset: one of these
    /// reads every event (its own durable), since what it derives depends on what came
    /// before. Derived rows whose id is already in the dataset are not written again, and
    /// the tables are flushed before the tracker, so a kill between the two repeats nothing.
    Tracker,
}

impl StoreRole {
    /// Whether this role writes the tracker store (and may serve the API).
    pub fn has_tracker(self) -> bool {
        matches!(self, Self::All | Self::Tracker)
    }
}

/// Settings of a [`Store`]. Build with [`StoreConfig::builder`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    data_dir: PathBuf,
    network: Option<Network>,
    geoip_city: Option<PathBuf>,
    geoip_asn: Option<PathBuf>,
    max_file_age: Duration,
    journal: bool,
    role: StoreRole,
    #[cfg(feature = "postgres")]
    database: Option<DatabaseUrl>,
    #[cfg(feature = "api")]
    api_listen: Option<std::net::SocketAddr>,
    #[cfg(feature = "api")]
    api_keys_file: Option<PathBuf>,
}

/// A database URL, which may hold a password: its `Debug` does not show it.
#[cfg(feature = "postgres")]
#[derive(Clone)]
struct DatabaseUrl(String);

#[cfg(feature = "postgres")]
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

impl StoreConfig {
    /// Starts a configuration writing under `data_dir` (created when missing).
    pub fn builder(data_dir: impl Into<PathBuf>) -> StoreConfigBuilder {
        StoreConfigBuilder(Self {
            data_dir: data_dir.into(),
            network: None,
            geoip_city: None,
            geoip_asn: None,
            max_file_age: DEFAULT_MAX_FILE_AGE,
            journal: false,
            role: StoreRole::All,
            #[cfg(feature = "postgres")]
            database: None,
            #[cfg(feature = "api")]
            api_listen: None,
            #[cfg(feature = "api")]
            api_keys_file: None,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// Builder of [`StoreConfig`]; every setter documents its default.
#[derive(Debug, Clone)]
pub struct StoreConfigBuilder(StoreConfig);

impl StoreConfigBuilder {
    /// The network whose clock dates the derived estimates (see [`DeriveSink::with_network`]).
    /// Default: none (estimates dated by each peer's head slot).
    pub fn network(mut self, network: Network) -> Self {
        self.0.network = Some(network);
        self
    }

    /// A MaxMind-format City database (.mmdb) for peer locations. Default: none.
    pub fn geoip_city(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.geoip_city = Some(path.into());
        self
    }

    /// A MaxMind-format ASN database (.mmdb) for peer locations. Default: none.
    pub fn geoip_asn(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.geoip_asn = Some(path.into());
        self
    }

    /// Age at which a Parquet file is closed and published. Default:
    /// [`DEFAULT_MAX_FILE_AGE`].
    pub fn max_file_age(mut self, age: Duration) -> Self {
        self.0.max_file_age = age;
        self
    }

    /// Journal the open Parquet files (see [`ParquetSinkConfigBuilder::journal`]): a crash
    /// then loses about the last second of rows instead of up to
    /// [`max_file_age`](Self::max_file_age) of them. For a process that is the only copy of
    /// its events (`valtrack run`); a JetStream consumer has the stream instead. Default: off.
    ///
    /// [`ParquetSinkConfigBuilder::journal`]: crate::ParquetSinkConfigBuilder::journal
    pub fn journal(mut self, on: bool) -> Self {
        self.0.journal = on;
        self
    }

    /// What the store writes (see [`StoreRole`]). Default: [`StoreRole::All`].
    pub fn role(mut self, role: StoreRole) -> Self {
        self.0.role = role;
        self
    }

    /// Write to the PostgreSQL database at `url` (`postgres://user:password@host/db`) instead
    /// of Parquet files and `tracker.redb`: the event tables, and the tracker the API
    /// serves, in one database that several consumers share (see [`PgSink`](crate::PgSink)).
    /// Every role writes its part there; any role may then serve the API. Default: none.
    #[cfg(feature = "postgres")]
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.0.database = Some(DatabaseUrl(url.into()));
        self
    }

    /// Serve the tracker's HTTP API on this address (port 0: any free port, see
    /// [`Store::api_addr`]). Default: no API.
    #[cfg(feature = "api")]
    pub fn api_listen(mut self, addr: std::net::SocketAddr) -> Self {
        self.0.api_listen = Some(addr);
        self
    }

    /// A file of API keys that unlock the API's admin view (see
    /// [`ApiKeys::from_file`](crate::ApiKeys::from_file)); needs
    /// [`api_listen`](Self::api_listen). Default: none (public view only).
    #[cfg(feature = "api")]
    pub fn api_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.api_keys_file = Some(path.into());
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<StoreConfig, StoreError> {
        let StoreConfig {
            data_dir,
            network: _,
            geoip_city: _,
            geoip_asn: _,
            max_file_age,
            journal: _,
            role,
            #[cfg(feature = "postgres")]
            database,
            #[cfg(feature = "api")]
            api_listen,
            #[cfg(feature = "api")]
            api_keys_file,
        } = &self.0;
        #[cfg(feature = "postgres")]
        let shared_tracker = database.is_some();
        #[cfg(not(feature = "postgres"))]
        let shared_tracker = false;
        #[cfg(feature = "api")]
        if api_listen.is_some() && !role.has_tracker() && !shared_tracker {
            return Err(StoreError::ApiWithoutTracker);
        }
        #[cfg(not(feature = "api"))]
        let _ = shared_tracker;
        #[cfg(not(feature = "api"))]
        let _ = role;
        if data_dir.as_os_str().is_empty() {
            return Err(StoreError::EmptyDataDir);
        }
        if max_file_age.is_zero() {
            return Err(StoreError::ZeroFileAge);
        }
        #[cfg(feature = "api")]
        if api_keys_file.is_some() && api_listen.is_none() {
            return Err(StoreError::KeysWithoutApi);
        }
        Ok(self.0)
    }
}

/// Why a [`Store`] could not be configured or opened. Each names the file or address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory is an empty path.
    #[error("the data directory must not be empty")]
    EmptyDataDir,
    /// The Parquet file age is zero.
    #[error("the Parquet file age must be positive")]
    ZeroFileAge,
    /// API keys were given without an API to use them.
    #[error("API keys need an API listen address")]
    KeysWithoutApi,
    /// An API was asked of a store that keeps no tracker (the tables role).
    #[error("the API serves the tracker store, which the tables role does not keep")]
    ApiWithoutTracker,
    /// The data directory cannot be created.
    #[error("{}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet tables cannot be opened.
    #[error("{}", path.display())]
    Parquet {
        /// The data directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: SinkError,
    },
    /// The Parquet settings were refused.
    #[error(transparent)]
    ParquetConfig(#[from] crate::error::ParquetConfigError),
    /// The tracker store cannot be opened.
    #[error("{}", path.display())]
    Tracker {
        /// Its file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::error::TrackerError,
    },
    /// A GeoIP database cannot be opened.
    #[error(transparent)]
    GeoIp(#[from] GeoIpError),
    /// The PostgreSQL database cannot be used.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Database(#[from] crate::PgError),
    /// The API keys file cannot be read.
    #[cfg(feature = "api")]
    #[error(transparent)]
    ApiKeys(#[from] crate::error::ApiKeysError),
    /// The API cannot listen on its address.
    #[cfg(feature = "api")]
    #[error("API listen address {addr}")]
    ApiListen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Rows published in each Parquet table (in files renamed into place after an fsync).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableCounts {
    /// `discovery_events`.
    pub discovery_events: u64,
    /// `metadata_events`.
    pub metadata_events: u64,
    /// `validator_metadata_events`.
    pub validator_metadata_events: u64,
    /// `validator_attributions`.
    pub validator_attributions: u64,
    /// `peer_locations`.
    pub peer_locations: u64,
}

impl TableCounts {
    /// Rows in every table together.
    pub fn total(&self) -> u64 {
        self.discovery_events
            + self.metadata_events
            + self.validator_metadata_events
            + self.validator_attributions
            + self.peer_locations
    }
}

/// `discovery_events N, metadata_events N, …`.
impl fmt::Display for TableCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "discovery_events {}, metadata_events {}, validator_metadata_events {}, validator_attributions {}, peer_locations {}",
            self.discovery_events,
            self.metadata_events,
            self.validator_metadata_events,
            self.validator_attributions,
            self.peer_locations
        )
    }
}

impl TableCounts {
    fn of(stats: &ParquetStats) -> Self {
        Self {
            discovery_events: stats.published_in(EventKind::Discovery),
            metadata_events: stats.published_in(EventKind::Metadata),
            validator_metadata_events: stats.published_in(EventKind::ValidatorMetadata),
            validator_attributions: stats.published_in(EventKind::Attestation),
            peer_locations: stats.published_in(EventKind::PeerLocation),
        }
    }
}

/// What a [`Store`] writes through: derive estimates and locations, then the Parquet tables
/// and the tracker store. Sending is as durable as [`ParquetSink`]'s; [`flush`](EventSink::flush)
/// makes every accepted row durable.
#[derive(Debug)]
pub struct StoreSink(Inner);

#[derive(Debug)]
enum Inner {
    All(DeriveSink<TrackerThenTables>),
    Tables(ParquetSink),
    Tracker(DeriveSink<TablesThenTracker>),
    /// PostgreSQL, all roles but the tables one: derived rows in front.
    #[cfg(feature = "postgres")]
    Database(DeriveSink<crate::PgSink>),
    /// PostgreSQL, the tables role: the events as received.
    #[cfg(feature = "postgres")]
    DatabaseTables(crate::PgSink),
}

impl EventSink for StoreSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        match &self.0 {
            Inner::All(s) => s.send(event).await,
            Inner::Tables(s) => s.send(event).await,
            Inner::Tracker(s) => s.send(event).await,
            #[cfg(feature = "postgres")]
            Inner::Database(s) => s.send(event).await,
            #[cfg(feature = "postgres")]
            Inner::DatabaseTables(s) => s.send(event).await,
        }
    }

    async fn flush(&self) -> Result<(), SinkError> {
        match &self.0 {
            Inner::All(s) => s.flush().await,
            Inner::Tables(s) => s.flush().await,
            Inner::Tracker(s) => s.flush().await,
            #[cfg(feature = "postgres")]
            Inner::Database(s) => s.flush().await,
            #[cfg(feature = "postgres")]
            Inner::DatabaseTables(s) => s.flush().await,
        }
    }
}

/// The one-process store's sinks: every event to both; the tracker flushed before the
/// tables. The consumer's dedupe is seeded from the tables, so a kill between the two must
/// leave the tables behind: the events come back (not acknowledged), the tables write them,
/// and the tracker skips them (it remembers the ids it applied). The other order would lose
/// them from the tracker: the consumer would drop them as already written.
#[derive(Debug)]
struct TrackerThenTables {
    tracker: TrackerSink,
    tables: ParquetSink,
}

impl EventSink for TrackerThenTables {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        let (a, b) = futures::join!(self.tracker.send(event.clone()), self.tables.send(event));
        a.and(b)
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.tracker.flush().await?;
        self.tables.flush().await
    }
}

/// Derived ids of the dataset remembered by the tracker role, so a derived row made again
/// after a restart is not written twice.
const DERIVED_IDS_SEEN: usize = 1_000_000;

/// The tables the tracker role writes.
const DERIVED_KINDS: [EventKind; 2] = [EventKind::ValidatorMetadata, EventKind::PeerLocation];

fn derive<S: EventSink>(
    inner: S,
    network: Option<Network>,
    geoip: Option<Arc<GeoIp>>,
) -> DeriveSink<S> {
    let mut sink = DeriveSink::new(inner);
    if let Some(n) = network {
        sink = sink.with_network(n);
    }
    if let Some(g) = geoip {
        sink = sink.with_geoip(g);
    }
    sink
}

/// The tracker role's tables: only the derived kinds, each row once by id.
#[derive(Debug)]
struct DerivedTables {
    parquet: ParquetSink,
    seen: std::sync::Mutex<crate::event_key::RecentIds>,
}

impl DerivedTables {
    fn new(parquet: ParquetSink, ids: &[String]) -> Self {
        let mut seen = crate::event_key::RecentIds::new(DERIVED_IDS_SEEN);
        for id in ids.iter().rev() {
            seen.insert(crate::event_key::event_key(id));
        }
        Self {
            parquet,
            seen: std::sync::Mutex::new(seen),
        }
    }
}

/// Sends to the derived tables and the tracker; flushes the tables first, then the tracker.
/// A kill between the two leaves the tracker behind the tables: the events come back (not
/// acknowledged), the tracker applies them, and their derived rows, made with the same ids,
/// are found in [`DerivedTables::seen`] and not written again.
#[derive(Debug)]
struct TablesThenTracker {
    tables: DerivedTables,
    tracker: TrackerSink,
}

impl EventSink for TablesThenTracker {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        if DERIVED_KINDS.contains(&event.kind()) {
            let first = self
                .tables
                .seen
                .lock()
                .map(|mut seen| {
                    seen.insert_new(crate::event_key::event_key(&event.meta().event_id))
                })
                .unwrap_or(true);
            if first {
                self.tables.parquet.send(event.clone()).await?;
            }
        }
        self.tracker.send(event).await
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.tables.parquet.flush().await?;
        self.tracker.flush().await
    }
}

/// A database writer's counts in the shape of the Parquet tables' (for the CLI's lines and
/// the metrics): rows committed (inserted, or found there already) as published, one
/// commit as one file.
#[cfg(feature = "postgres")]
fn database_stats(s: &crate::PgSinkStats) -> ParquetStats {
    let mut published = [0u64; 5];
    for (i, p) in published.iter_mut().enumerate() {
        *p = s.inserted[i] + s.present[i];
    }
    ParquetStats {
        published,
        files: [s.commits, 0, 0, 0, 0],
        held: s.held,
        journaled: 0,
        write_errors: s.write_errors,
        fault: s.fault.clone(),
    }
}

/// Binds the API's address and starts serving `source`.
#[cfg(feature = "api")]
async fn start_api(
    addr: Option<std::net::SocketAddr>,
    keys_file: Option<&Path>,
    source: crate::TrackerSource,
) -> Result<Option<Api>, StoreError> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let keys = match keys_file {
        Some(path) => crate::ApiKeys::from_file(path)?,
        None => crate::ApiKeys::none(),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StoreError::ApiListen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StoreError::ApiListen { addr, source })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crate::serve(listener, source, keys, async {
        let _ = stopped.await;
    }));
    Ok(Some((served, stop, bound)))
}

#[cfg(feature = "api")]
type Api = (
    tokio::task::JoinHandle<std::io::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
    std::net::SocketAddr,
);

/// The storage side, opened: row counts, the tracker store and the API server.
pub struct Store {
    stats: Arc<dyn Fn() -> ParquetStats + Send + Sync>,
    data_dir: PathBuf,
    tracker: Option<Arc<TrackerStore>>,
    #[cfg(feature = "postgres")]
    database: Option<Arc<crate::PgStore>>,
    #[cfg(feature = "api")]
    api: Option<Api>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .field("stats", &(self.stats)())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the tables and the tracker store under the data directory, the GeoIP
    /// databases and (when configured) the API; returns the handle and the sink to write
    /// through. The API is serving when this returns.
    pub async fn open(config: StoreConfig) -> Result<(Self, StoreSink), StoreError> {
        let StoreConfig {
            data_dir,
            network,
            geoip_city,
            geoip_asn,
            max_file_age,
            journal,
            role,
            #[cfg(feature = "postgres")]
            database,
            #[cfg(feature = "api")]
            api_listen,
            #[cfg(feature = "api")]
            api_keys_file,
        } = config;
        let geoip = if geoip_city.is_some() || geoip_asn.is_some() {
            Some(Arc::new(GeoIp::open(
                geoip_city.as_deref(),
                geoip_asn.as_deref(),
            )?))
        } else {
            None
        };
        #[cfg(feature = "postgres")]
        if let Some(url) = database {
            let pg = Arc::new(crate::PgStore::connect(&url.0).await?);
            let (writes, derived) = match role {
                StoreRole::All => (crate::PgWrites::all(), true),
                StoreRole::Tables => (crate::PgWrites::tables(), false),
                StoreRole::Tracker => (
                    crate::PgWrites {
                        tables: DERIVED_KINDS.to_vec(),
                        tracker: true,
                    },
                    true,
                ),
            };
            let sink = crate::PgSink::new(pg.clone(), writes, geoip.clone());
            let stats = {
                let read = sink.stats_reader();
                Arc::new(move || database_stats(&read()))
            };
            #[cfg(feature = "api")]
            let api = start_api(
                api_listen,
                api_keys_file.as_deref(),
                crate::TrackerSource::from(pg.clone()),
            )
            .await?;
            let inner = if derived {
                Inner::Database(derive(sink, network, geoip))
            } else {
                Inner::DatabaseTables(sink)
            };
            let store = Self {
                stats,
                data_dir,
                tracker: None,
                database: Some(pg),
                #[cfg(feature = "api")]
                api,
            };
            return Ok((store, StoreSink(inner)));
        }
        std::fs::create_dir_all(&data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let parquet_config = ParquetSinkConfig::builder(&data_dir)
            .max_file_age(max_file_age)
            .journal(journal)
            .shared(role != StoreRole::All)
            .build()?;
        let parquet = ParquetSink::open(parquet_config).map_err(|source| StoreError::Parquet {
            path: data_dir.clone(),
            source,
        })?;
        let stats = Arc::new(parquet.stats_reader());
        if role == StoreRole::Tables {
            let store = Self {
                stats,
                data_dir,
                tracker: None,
                #[cfg(feature = "postgres")]
                database: None,
                #[cfg(feature = "api")]
                api: None,
            };
            return Ok((store, StoreSink(Inner::Tables(parquet))));
        }
        let db = data_dir.join(TRACKER_FILE);
        let tracker = Arc::new(
            TrackerStore::open(&db).map_err(|source| StoreError::Tracker { path: db, source })?,
        );
        let mut tracker_sink = TrackerSink::new(tracker.clone());
        if let Some(g) = &geoip {
            tracker_sink = tracker_sink.with_geoip(g.clone());
        }
        #[cfg(feature = "api")]
        let api = start_api(
            api_listen,
            api_keys_file.as_deref(),
            crate::TrackerSource::from(tracker.clone()),
        )
        .await?;
        let inner = if role == StoreRole::Tracker {
            let dir = data_dir.clone();
            // the derived tables only: the rows this role writes
            let (_, ids) = tokio::task::spawn_blocking(move || {
                let mut ids = Vec::new();
                for kind in DERIVED_KINDS {
                    ids.extend(DatasetIds::seed(&dir.join(kind.table()), DERIVED_IDS_SEEN)?.1);
                }
                Ok::<_, SinkError>(((), ids))
            })
            .await
            .map_err(|e| StoreError::Parquet {
                path: data_dir.clone(),
                source: SinkError::Backend {
                    backend: "parquet",
                    source: Box::new(e),
                },
            })?
            .map_err(|source| StoreError::Parquet {
                path: data_dir.clone(),
                source,
            })?;
            let tables = DerivedTables::new(parquet, &ids);
            Inner::Tracker(derive(
                TablesThenTracker {
                    tables,
                    tracker: tracker_sink,
                },
                network,
                geoip,
            ))
        } else {
            let both = TrackerThenTables {
                tracker: tracker_sink,
                tables: parquet,
            };
            Inner::All(derive(both, network, geoip))
        };
        let store = Self {
            stats,
            data_dir,
            tracker: Some(tracker),
            #[cfg(feature = "postgres")]
            database: None,
            #[cfg(feature = "api")]
            api,
        };
        Ok((store, StoreSink(inner)))
    }

    /// Rows published in each table so far.
    pub fn counts(&self) -> TableCounts {
        TableCounts::of(&(self.stats)())
    }

    /// What the Parquet tables did with the rows they accepted: published, held, journaled,
    /// write errors and the failure going on.
    pub fn stats(&self) -> ParquetStats {
        (self.stats)()
    }

    /// A cheap reader of [`stats`](Self::stats) that outlives borrows (for a reporter task).
    pub fn stats_reader(&self) -> impl Fn() -> ParquetStats + Send + Sync + 'static {
        let stats = self.stats.clone();
        move || stats()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The embedded tracker store (shared with the API); `None` for [`StoreRole::Tables`]
    /// and with a database.
    pub fn tracker(&self) -> Option<&Arc<TrackerStore>> {
        self.tracker.as_ref()
    }

    /// The PostgreSQL database written to, if one was configured.
    #[cfg(feature = "postgres")]
    pub fn database(&self) -> Option<&Arc<crate::PgStore>> {
        self.database.as_ref()
    }

    /// Where the rows go, for logs: the data directory, or the database's
    /// `postgres://host:port/db` (no credentials).
    pub fn location(&self) -> String {
        #[cfg(feature = "postgres")]
        if let Some(pg) = &self.database {
            return pg.target().to_owned();
        }
        self.data_dir.display().to_string()
    }

    /// The address the API listens on, if it was asked for.
    #[cfg(feature = "api")]
    pub fn api_addr(&self) -> Option<std::net::SocketAddr> {
        self.api.as_ref().map(|(_, _, addr)| *addr)
    }

    /// Stops the API server (if any) and waits for it. The tables are closed by flushing
    /// and dropping the [`StoreSink`].
    pub async fn close(self) {
        #[cfg(feature = "api")]
        if let Some((served, stop, _)) = self.api {
            let _ = stop.send(());
            let _ = served.await;
        }
    }
}
