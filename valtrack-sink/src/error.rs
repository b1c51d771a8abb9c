//! Error types of valtrack-sink.

use thiserror::Error;

/// A [`ParquetSinkConfig`](crate::ParquetSinkConfig) that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ParquetConfigError {
    /// A bound that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// The zstd level is outside the range zstd accepts.
    #[error("zstd level {level} is invalid")]
    ZstdLevel {
        /// The level given.
        level: i32,
        /// What parquet said.
        #[source]
        source: parquet::errors::ParquetError,
    },
}

/// A Parquet file, journal or directory the [`ParquetSink`](crate::ParquetSink) could not
/// write: what it was doing, the path and the cause (in the message itself, e.g. `writing
/// ./data/discovery_events/date=2026-12-03/.part-….parquet.tmp: No space left on device (os
/// error 28)`). The rows are kept and the write retried.
#[derive(Debug, Error)]
#[error("{action} {}: {cause}", path.display())]
pub struct ParquetWriteError {
    action: &'static str,
    path: std::path::PathBuf,
    cause: WriteCause,
}

/// What failed underneath a [`ParquetWriteError`].
#[derive(Debug, Error)]
enum WriteCause {
    #[error("{0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Parquet(parquet::errors::ParquetError),
}

impl ParquetWriteError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self {
            action,
            path: path.to_owned(),
            cause: WriteCause::Io(e),
        }
    }

    pub(crate) fn parquet(
        action: &'static str,
        path: &std::path::Path,
        e: parquet::errors::ParquetError,
    ) -> Self {
        Self {
            action,
            path: path.to_owned(),
            cause: WriteCause::Parquet(e),
        }
    }

    /// The file or directory.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The operating system's error, when there is one (e.g. `StorageFull`).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match &self.cause {
            WriteCause::Io(e) => Some(e),
            WriteCause::Parquet(parquet::errors::ParquetError::External(e)) => e.downcast_ref(),
            WriteCause::Parquet(_) => None,
        }
    }

    /// The same kind of failure, whatever the file or the action: the OS error (or the
    /// Parquet message). Repeats of one condition are reported once with a count.
    pub(crate) fn condition(&self) -> String {
        match self.io_error() {
            Some(e) => e
                .raw_os_error()
                .map_or_else(|| format!("{:?}", e.kind()), |c| c.to_string()),
            None => self.cause.to_string(),
        }
    }
}

/// A tracker store operation that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The embedded database failed (open, transaction, table, storage or commit).
    #[error("tracker database failed")]
    Db(#[source] Box<redb::Error>),
    /// A stored row does not decode, or a row does not encode.
    #[error("tracker row does not (de)serialize")]
    Row(#[from] serde_json::Error),
    /// A bound in the [`TrackerConfig`](crate::TrackerConfig) is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// A blocking store task was cancelled or panicked.
    #[error("tracker task failed")]
    Task(#[from] tokio::task::JoinError),
    /// An I/O error closed the database and reopening it failed; it is tried again at the
    /// next operation.
    #[error("tracker database is closed after an I/O error")]
    Closed,
}

impl TrackerError {
    /// Whether redb failed on I/O (it then refuses everything until reopened).
    pub fn is_io(&self) -> bool {
        // DatabaseAlreadyOpen: a reopen while a reader still holds the old file open.
        matches!(self, Self::Db(e) if matches!(**e,
            redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseAlreadyOpen))
            || matches!(self, Self::Closed)
    }

    pub(crate) fn needs_reopen(&self) -> bool {
        self.is_io()
    }
}

/// An error and its sources, `a: b: c`, for one log line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for TrackerError {
            fn from(e: $t) -> Self {
                Self::Db(Box::new(redb::Error::from(e)))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// API keys that cannot be loaded.
#[cfg(feature = "api")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiKeysError {
    /// The key file cannot be read.
    #[error("cannot read API key file {path}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set or not Unicode.
    #[error("environment variable {var} is not set or not Unicode")]
    Env {
        /// The variable.
        var: String,
        /// Why.
        #[source]
        source: std::env::VarError,
    },
    /// A key is shorter than [`MIN_API_KEY_LEN`](crate::MIN_API_KEY_LEN).
    #[error("API key {line} is {len} bytes long; keys need at least {min}")]
    TooShort {
        /// 1-based position of the key (line of the file, or entry of the variable).
        line: usize,
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// The key file holds no key (an empty file would silently leave the admin view shut).
    #[error("API key file {path} holds no key")]
    Empty {
        /// The file.
        path: std::path::PathBuf,
    },
    /// More keys than [`MAX_API_KEYS`](crate::MAX_API_KEYS).
    #[error("more than {max} API keys")]
    TooMany {
        /// The maximum.
        max: usize,
    },
}

/// A [`NatsConfig`](crate::NatsConfig), [`NatsSinkConfig`](crate::NatsSinkConfig) or
/// [`ConsumerConfig`](crate::consumer::ConsumerConfig) that cannot be used.
#[cfg(feature = "nats")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NatsConfigError {
    /// A bound that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The setting.
        field: &'static str,
    },
    /// A stream or consumer name JetStream would refuse.
    #[error("{field} {name:?} is not a valid JetStream name (non-empty, no spaces, `.`, `*`, `>`, `/` or `\\`)")]
    InvalidName {
        /// The setting.
        field: &'static str,
        /// The name given.
        name: String,
    },
    /// The duplicate window is longer than the stream's max age (the server refuses that).
    #[error("duplicate window {window:?} is longer than the stream's max age {max_age:?}")]
    DuplicateWindow {
        /// The duplicate window.
        window: std::time::Duration,
        /// The max age.
        max_age: std::time::Duration,
    },
    /// A stream's replica count is outside 1 to 5.
    #[error("stream replicas must be 1 to 5 (3 for a 3-server cluster), not {replicas}")]
    Replicas {
        /// The count asked for.
        replicas: usize,
    },
    /// The consumer's ack wait does not leave room for a commit.
    #[error("ack wait {ack_wait:?} must be longer than the commit interval {commit_interval:?}")]
    AckWait {
        /// The ack wait.
        ack_wait: std::time::Duration,
        /// The commit interval.
        commit_interval: std::time::Duration,
    },
}

/// What went wrong talking to NATS JetStream (the source of
/// [`SinkError::Backend`](valtrack_core::SinkError::Backend) with backend `"nats"`, and of
/// [`ConsumerError`]).
#[cfg(feature = "nats")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The connection could not be set up (bad URL, credentials file, TLS files, …).
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The server URL.
        url: String,
        /// What async-nats said.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The credentials file could not be read.
    #[error("cannot read NATS credentials file {path}")]
    Credentials {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Creating or updating a stream failed, for now: the server is unreachable, or has no
    /// leader for it yet.
    #[error("cannot create or update JetStream stream {stream}")]
    Stream {
        /// The stream.
        stream: String,
        /// What the server said.
        #[source]
        source: async_nats::Error,
    },
    /// The stream cannot be created or updated as configured, and retrying will not help:
    /// JetStream refused the settings, or the existing stream cannot hold the events or
    /// would lose messages by the change.
    #[error("JetStream stream {stream}: {detail}")]
    StreamRefused {
        /// The stream.
        stream: String,
        /// What is wrong, and what to do.
        detail: String,
    },
    /// Creating or binding the durable consumer failed.
    #[error("cannot create durable consumer {consumer} on stream {stream}")]
    Consumer {
        /// The stream.
        stream: String,
        /// The consumer.
        consumer: String,
        /// What the server said.
        #[source]
        source: async_nats::Error,
    },
    /// A publish was not acknowledged.
    #[error("publish to {subject} failed")]
    Publish {
        /// The subject.
        subject: String,
        /// What async-nats said.
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    /// Pulling messages failed.
    #[error("pulling from consumer {consumer} failed")]
    Pull {
        /// The consumer.
        consumer: String,
        /// What async-nats said.
        #[source]
        source: async_nats::Error,
    },
    /// Another running sentry publishes under this crawler id (see
    /// [`SentryClaim`](crate::SentryClaim)).
    #[error("crawler id `{crawler_id}` is in use by another running sentry ({holder}) on this stream: give each sentry its own --crawler-id (a stopped sentry's claim lapses {} after it stopped)", humantime::format_duration(*ttl))]
    SentryIdTaken {
        /// The id.
        crawler_id: String,
        /// Who holds it.
        holder: String,
        /// How long a claim outlives its sentry.
        ttl: std::time::Duration,
    },
    /// The on-disk spool has no room for another event.
    #[error("NATS spool {dir} is full ({bytes} of {max_bytes} bytes): events are being dropped")]
    SpoolFull {
        /// The spool directory.
        dir: std::path::PathBuf,
        /// Bytes on disk.
        bytes: u64,
        /// The bound.
        max_bytes: u64,
    },
    /// Reading or writing the spool failed.
    #[error("NATS spool {dir} failed")]
    Spool {
        /// The spool directory.
        dir: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(feature = "nats")]
impl NatsError {
    /// Whether trying again later may succeed (the server was unreachable or slow), as
    /// opposed to a configuration or data problem.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Stream { .. } | Self::Consumer { .. } | Self::Publish { .. } | Self::Pull { .. }
        )
    }
}

#[cfg(feature = "nats")]
impl From<NatsError> for valtrack_core::SinkError {
    fn from(e: NatsError) -> Self {
        Self::Backend {
            backend: "nats",
            source: Box::new(e),
        }
    }
}

/// Why a [`Consumer`](crate::consumer::Consumer) stopped.
#[cfg(feature = "nats")]
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// NATS failed in a way retrying does not fix.
    #[error("NATS failed")]
    Nats(#[from] NatsError),
    /// The sink failed to write or flush; the unacknowledged messages will be redelivered.
    #[error("the consumer's sink failed")]
    Sink(#[from] valtrack_core::SinkError),
    /// Reading back recent event ids for deduplication failed.
    #[error("cannot read recent event ids from {dir}")]
    Seed {
        /// The dataset directory.
        dir: std::path::PathBuf,
        /// Why.
        #[source]
        source: valtrack_core::SinkError,
    },
}
