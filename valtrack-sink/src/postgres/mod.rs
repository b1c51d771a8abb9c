//! PostgreSQL as a shared store (feature `postgres`): the five event tables and the
//! tracker in one database that any number of consumers write and any process reads.
//!
//! * [`PgStore::connect`] opens a connection pool and applies the schema migrations
//!   (`valtrack-sink/migrations/V*.sql`, run by `refinery` under an advisory lock, so two
//!   processes starting at once apply each migration once).
//! * [`PgSink`] writes events: each batch in one transaction, its rows copied in (`COPY …
//!   BINARY` into a staging table, then `INSERT … ON CONFLICT (event_id) DO NOTHING`), and,
//!   in the same transaction, the tracker's update for the events it had not applied
//!   before. [`flush`](valtrack_core::EventSink::flush) returns once every event sent before
//!   it is committed, so a consumer that acknowledges after a flush acknowledges only
//!   committed rows; an event delivered again is neither a second row nor a second update.
//! * [`PgStore`]'s reads ([`peer`](PgStore::peer), [`peers`](PgStore::peers),
//!   [`estimates`](PgStore::estimates), [`history`](PgStore::history),
//!   [`stats`](PgStore::stats)) answer as the embedded [`TrackerStore`](crate::TrackerStore)
//!   does, so the HTTP API serves the same responses from either.

mod read;
mod rows;
mod sink;
#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;
mod tls;
mod write;

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use thiserror::Error;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tracker::TrackerConfig;

pub use sink::{PgSink, PgSinkStats, PgWrites};

/// Connections a [`PgStore`] keeps open at most.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// How long the tracker remembers the id of an event it applied (so that one delivered
/// again is not applied twice): a week, far longer than any redelivery after a crash.
pub const DEFAULT_APPLIED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest a batch's transaction may take before it is abandoned and tried again (a server
/// that stopped answering without closing the connection).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a new connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory lock the migrations run under (`valtrack` in ASCII).
const MIGRATION_LOCK: i64 = 0x0076_616c_7472_6163;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A database operation that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgError {
    /// The URL (or key=value string) does not parse.
    #[error("invalid database URL: {0}")]
    Url(String),
    /// No connection could be made.
    #[error("cannot connect to the database {target}")]
    Connect {
        /// Host, port and database (never the password).
        target: String,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A connection could not be taken from the pool.
    #[error("no database connection: {0}")]
    Pool(String),
    /// The schema migrations failed.
    #[error("database migrations failed on {target}")]
    Migrate {
        /// Host, port and database.
        target: String,
        /// Why.
        #[source]
        source: Box<refinery::Error>,
    },
    /// A statement failed.
    #[error("database {what} failed")]
    Query {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A batch of rows could not be encoded (a bug: every event encodes).
    #[error("encoding {table} rows")]
    Encode {
        /// The table.
        table: &'static str,
        /// Why.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A stored tracker row does not decode, or a row does not encode.
    #[error("tracker row does not (de)serialize")]
    Row(#[from] serde_json::Error),
    /// A bound in the [`TrackerConfig`] is zero.
    #[error(transparent)]
    Config(#[from] crate::TrackerError),
    /// The TLS settings (`sslmode`, `sslrootcert`) cannot be met: an unreadable root file,
    /// no trusted roots.
    #[error("database TLS: {0}")]
    Tls(String),
    /// A batch took longer than [`WRITE_TIMEOUT`].
    #[error("database write timed out after {0:?}")]
    Timeout(Duration),
}

impl PgError {
    pub(crate) fn query(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Query { what, source }
    }

    /// Whether trying again later may succeed: the server is away, restarting, read-only
    /// for a failover, out of resources, or chose this transaction as a deadlock,
    /// serialization, lock-wait or statement-timeout victim. Other failures (a wrong
    /// password, no such database, a missing table, no permission) need a person.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Timeout(_) => true,
            Self::Connect { source, .. } | Self::Query { source, .. } => transient(source),
            _ => false,
        }
    }
}

fn transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let Some(code) = e.code() else {
        // I/O, or the connection's own failure: not an answer from the server; but a
        // certificate refused stays refused.
        return !tls_refused(e);
    };
    let c = code.code();
    // 08: connection exception; 53: insufficient resources (disk full, too many
    // connections); 57P01-57P03: the server shutting down, crashed or starting (57P04, the
    // database dropped, is not); 57014: statement timeout or cancel; 25006: read-only (a
    // standby just promoted or about to be); 55P03: lock not available; 40001/40P01:
    // serialization failure or deadlock victim.
    c.starts_with("08")
        || c.starts_with("53")
        || matches!(c, "57P01" | "57P02" | "57P03" | "57014" | "25006" | "55P03")
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
}

/// Whether `e` is TLS refusing the server (its certificate, its protocol).
fn tls_refused(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// Settings of a [`PgStore`] beyond its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreConfig {
    /// The tracker's bounds (history per peer, validators per peer, page size); as for the
    /// embedded store. `sync_interval` and `applied_ids` do not apply (every commit is
    /// durable; applied ids are kept for `applied_retention`).
    pub tracker: TrackerConfig,
    /// Connections kept open at most. Default: [`DEFAULT_POOL_SIZE`].
    pub pool_size: usize,
    /// How long applied event ids are remembered. Default: [`DEFAULT_APPLIED_RETENTION`].
    pub applied_retention: Duration,
}

impl Default for PgStoreConfig {
    fn default() -> Self {
        Self {
            tracker: TrackerConfig::default(),
            pool_size: DEFAULT_POOL_SIZE,
            applied_retention: DEFAULT_APPLIED_RETENTION,
        }
    }
}

/// A PostgreSQL database holding the event tables and the tracker: a connection pool, and
/// the reads the HTTP API makes. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: Pool,
    config: PgStoreConfig,
    target: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// `host:port/dbname` of a configuration: what logs and errors name (never the password).
fn target_of(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("postgres://{host}:{port}/{db}")
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`, or
    /// libpq's `key=value` form), with default settings, and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        Self::connect_with(url, PgStoreConfig::default()).await
    }

    /// As [`connect`](Self::connect), with `config`.
    pub async fn connect_with(url: &str, config: PgStoreConfig) -> Result<Self, PgError> {
        config.tracker.validate()?;
        if config.pool_size == 0 {
            return Err(crate::TrackerError::Zero { field: "pool_size" }.into());
        }
        let (mut pg, tls) = tls::split(url)?;
        let connector = tls.connector()?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("valtrack");
        }
        // A peer that vanished without closing: notice within about a minute.
        pg.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let target = target_of(&pg);
        migrate(&pg, connector.clone(), &target).await?;
        let manager = Manager::from_config(
            pg,
            connector,
            ManagerConfig {
                // a connection whose transaction was abandoned (timeout) is checked before reuse
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(WRITE_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| PgError::Pool(e.to_string()))?;
        Ok(Self {
            pool,
            config,
            target,
        })
    }

    /// `postgres://host:port/dbname` (no user, no password): for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The settings in use.
    pub fn config(&self) -> PgStoreConfig {
        self.config
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(source) => PgError::Connect {
                target: self.target.clone(),
                source,
            },
            other => PgError::Pool(other.to_string()),
        })
    }
}

/// Applies the migrations not yet applied, one process at a time.
async fn migrate(
    config: &tokio_postgres::Config,
    connector: MakeRustlsConnect,
    target: &str,
) -> Result<(), PgError> {
    let connect = |source| PgError::Connect {
        target: target.to_owned(),
        source,
    };
    let (mut client, connection) = config.connect(connector).await.map_err(connect)?;
    let driver = tokio::spawn(connection);
    let result = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(PgError::query("migration lock"))?;
        let report = embedded::migrations::runner()
            .run_async(&mut client)
            .await
            .map_err(|e| PgError::Migrate {
                target: target.to_owned(),
                source: Box::new(e),
            });
        // The lock also goes with the session; unlocking lets a waiting process go at once.
        let _ = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        report
    }
    .await;
    drop(client);
    let _ = driver.await;
    let report = result?;
    for m in report.applied_migrations() {
        tracing::info!(target: "valtrack::postgres", %target, migration = %m, "schema migration applied");
    }
    Ok(())
}
