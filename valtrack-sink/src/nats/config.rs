//! [`NatsConfig`] (connection and stream) and [`NatsSinkConfig`] (publishing and spool).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::context::{CreateStreamErrorKind, GetStreamErrorKind};
use async_nats::jetstream::{self, stream, ErrorCode};

use crate::error::{NatsConfigError, NatsError};

/// Default server URL: `nats://localhost:4222`.
pub const DEFAULT_NATS_URL: &str = "nats://localhost:4222";
/// Default stream name: `valtrack` (subjects `valtrack.>`, i.e. `valtrack.<kind>`).
pub const DEFAULT_STREAM: &str = "valtrack";
/// Default directory of the NATS sink's spool (events kept while NATS is unreachable): its
/// own place, apart from the tables (`./data`) and the JetStream store.
pub const DEFAULT_SPOOL_DIR: &str = "./nats-spool";
/// The subjects of the event stream: every [`Event::subject`](valtrack_core::Event::subject).
pub const EVENT_SUBJECTS: &str = "valtrack.>";
/// Default max age of a message in the stream (limits retention): 7 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default duplicate window of the stream: 10 minutes. A publish retried (or replayed from
/// the spool) within this window of the first copy is dropped by the server.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(600);
/// Most replicas JetStream keeps of a stream.
pub const MAX_REPLICAS: usize = 5;
/// Default timeout of a JetStream request or publish ack: 5 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`NatsSinkConfigBuilder::max_in_flight`]: 1,024 unacknowledged publishes.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Default [`NatsSinkConfigBuilder::queue_capacity`]: 4,096 events.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Default [`NatsSinkConfigBuilder::spool_max_bytes`]: 1 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1 << 30;
/// Default [`NatsSinkConfigBuilder::spool_segment_bytes`]: 16 MiB.
pub const DEFAULT_SPOOL_SEGMENT_BYTES: u64 = 16 << 20;
/// Default [`NatsSinkConfigBuilder::retry_interval`]: 1 second.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How to reach NATS and which JetStream stream holds the events. Shared by the
/// [`NatsSink`](crate::NatsSink) and the [`Consumer`](crate::consumer::Consumer), which both
/// create or update the stream with these settings.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    pub(crate) url: String,
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) require_tls: bool,
    pub(crate) root_certificates: Vec<PathBuf>,
    pub(crate) client_certificate: Option<(PathBuf, PathBuf)>,
    pub(crate) client_name: String,
    pub(crate) stream: String,
    /// The stream settings below are `None` when not set: the default applies when the
    /// stream is created, and an existing stream keeps its own.
    pub(crate) max_age: Option<Duration>,
    pub(crate) duplicate_window: Option<Duration>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) replicas: Option<usize>,
    pub(crate) request_timeout: Duration,
}

impl NatsConfig {
    /// Starts a config for the server at `url` (`nats://host:port`, `tls://…`), or for a
    /// cluster: a comma-separated list of its servers (the client tries them in turn and
    /// learns the rest of the cluster from the server), every other setting at its default.
    pub fn builder(url: impl Into<String>) -> NatsConfigBuilder {
        NatsConfigBuilder {
            config: Self {
                url: url.into(),
                credentials_file: None,
                require_tls: false,
                root_certificates: Vec::new(),
                client_certificate: None,
                client_name: "valtrack".into(),
                stream: DEFAULT_STREAM.into(),
                max_age: None,
                duplicate_window: None,
                max_bytes: None,
                replicas: None,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
            },
        }
    }

    /// The server URL, or the comma-separated list of servers, as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The servers of [`url`](Self::url), one per entry of its comma-separated list.
    pub fn servers(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The event stream's JetStream config when it is created: subjects
    /// [`EVENT_SUBJECTS`], file storage, limits retention, the configured max age, size,
    /// duplicate window and replicas (each at its default when not set).
    pub fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream.clone(),
            subjects: vec![EVENT_SUBJECTS.into()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: self.max_age.unwrap_or(DEFAULT_MAX_AGE),
            duplicate_window: self.duplicate_window.unwrap_or(DEFAULT_DUPLICATE_WINDOW),
            max_bytes: self.max_bytes.map_or(-1, bytes_limit),
            num_replicas: self.replicas.unwrap_or(1),
            description: Some("valtrack events (valtrack.<kind>)".into()),
            ..Default::default()
        }
    }

    /// The config an existing event stream is updated to: `existing` with the settings that
    /// were set here, and nothing that would lose messages. Fails when the stream cannot
    /// hold the events (other subjects, retention or storage) or a set limit is below the
    /// stream's (a lower limit deletes messages: lower it deliberately, e.g. with
    /// `nats stream edit`). Settings left unset keep the stream's own values, so a sentry
    /// started with defaults never changes what an operator configured.
    pub fn update_of(&self, existing: &stream::Config) -> Result<stream::Config, NatsError> {
        let refuse = |detail: String| NatsError::StreamRefused {
            stream: self.stream.clone(),
            detail,
        };
        if !existing.subjects.iter().any(|s| s == EVENT_SUBJECTS) {
            return Err(refuse(format!(
                "it exists with subjects {:?}, without `{EVENT_SUBJECTS}`: use another --stream, or add the subject",
                existing.subjects
            )));
        }
        if existing.retention != stream::RetentionPolicy::Limits {
            return Err(refuse(format!(
                "it exists with {:?} retention; the event stream needs limits retention (several durable consumers read it)",
                existing.retention
            )));
        }
        let mut updated = existing.clone();
        if let Some(age) = self.max_age {
            // 0 is "no limit"
            if !existing.max_age.is_zero() && age < existing.max_age {
                return Err(refuse(format!(
                    "max age {} is below the stream's {}: that would delete messages; lower it deliberately (nats stream edit)",
                    humantime::format_duration(age),
                    humantime::format_duration(existing.max_age)
                )));
            }
            if !existing.max_age.is_zero() {
                updated.max_age = age;
            }
        }
        if let Some(bytes) = self.max_bytes {
            let bytes = bytes_limit(bytes);
            if existing.max_bytes >= 0 && bytes < existing.max_bytes {
                return Err(refuse(format!(
                    "max bytes {bytes} is below the stream's {}: that would delete messages; lower it deliberately (nats stream edit)",
                    existing.max_bytes
                )));
            }
            if existing.max_bytes >= 0 {
                updated.max_bytes = bytes;
            }
        }
        if let Some(window) = self.duplicate_window {
            updated.duplicate_window = window;
        }
        if let Some(replicas) = self.replicas {
            updated.num_replicas = replicas;
        }
        Ok(updated)
    }

    /// Connects. The client connects (and reconnects) in the background, forever: this
    /// fails only for a config that can never work (a malformed URL, an unreadable
    /// credentials file), never because the server is down right now.
    pub async fn connect(&self) -> Result<async_nats::Client, NatsError> {
        let options = self
            .options()
            .await?
            .retry_on_initial_connect()
            .max_reconnects(None);
        self.connect_with(options).await
    }

    /// Connects once, with a client that does not reconnect by itself (one immediate
    /// attempt per server of the list after a break, then it closes; async-nats counts every
    /// server it tries as an attempt, so one attempt in all would leave the other servers of
    /// a cluster untried half the time). async-nats resends, after a reconnect, publishes
    /// that were queued when the connection broke, while the one being written was lost:
    /// that would put events out of order. The [`NatsSink`](crate::NatsSink) instead drops a
    /// broken client and replays from its spool over a new one.
    pub(crate) async fn connect_once(&self) -> Result<async_nats::Client, NatsError> {
        let attempts = self.servers().len().max(1);
        let options = self.options().await?.max_reconnects(Some(attempts));
        self.connect_with(options).await
    }

    async fn options(&self) -> Result<async_nats::ConnectOptions, NatsError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(&self.client_name)
            .connection_timeout(self.request_timeout)
            .request_timeout(Some(self.request_timeout));
        if let Some(path) = &self.credentials_file {
            options =
                options
                    .credentials_file(path)
                    .await
                    .map_err(|source| NatsError::Credentials {
                        path: path.clone(),
                        source,
                    })?;
        }
        if self.require_tls {
            options = options.require_tls(true);
        }
        for ca in &self.root_certificates {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.client_certificate {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(options)
    }

    async fn connect_with(
        &self,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, NatsError> {
        options
            .connect(self.servers())
            .await
            .map_err(|source| NatsError::Connect {
                url: self.url.clone(),
                source,
            })
    }

    /// A JetStream context over `client` whose requests and acks time out after the
    /// configured request timeout, with at most `max_in_flight` unacknowledged publishes.
    pub(crate) fn jetstream(
        &self,
        client: async_nats::Client,
        max_in_flight: usize,
    ) -> jetstream::Context {
        jetstream::ContextBuilder::new()
            .timeout(self.request_timeout)
            .max_ack_inflight(max_in_flight.max(1))
            .backpressure_on_inflight(true)
            .build(client)
    }

    /// Creates the event stream, or updates an existing one with the settings that were set
    /// (see [`update_of`](Self::update_of)); an update is sent only when something changes.
    pub(crate) async fn ensure_stream(&self, js: &jetstream::Context) -> Result<(), NatsError> {
        self.ensure(js, self.stream_config(), |existing| {
            self.update_of(existing)
        })
        .await
    }

    /// Creates the stream `create` (its name) when missing; else updates it to what
    /// `update` makes of its config, when that differs.
    pub(crate) async fn ensure(
        &self,
        js: &jetstream::Context,
        create: stream::Config,
        update: impl FnOnce(&stream::Config) -> Result<stream::Config, NatsError>,
    ) -> Result<(), NatsError> {
        let name = create.name.clone();
        match js.get_stream(&name).await {
            Ok(stream) => {
                let existing = &stream.cached_info().config;
                let updated = update(existing)?;
                if updated != *existing {
                    tracing::info!(target: "valtrack::sink::nats", stream = %name,
                        replicas = updated.num_replicas, max_age = ?updated.max_age,
                        max_bytes = updated.max_bytes, duplicate_window = ?updated.duplicate_window,
                        "updating the stream's settings");
                    js.update_stream(&updated)
                        .await
                        .map_err(|e| stream_error(&name, e))?;
                }
                Ok(())
            }
            Err(e) if matches!(e.kind(), GetStreamErrorKind::JetStream(ref j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND) => {
                js.create_stream(create)
                    .await
                    .map(drop)
                    .map_err(|e| stream_error(&name, e))
            }
            Err(e) => Err(NatsError::Stream {
                stream: name,
                source: Box::new(e),
            }),
        }
    }
}

/// Builder of [`NatsConfig`].
#[derive(Debug, Clone)]
pub struct NatsConfigBuilder {
    config: NatsConfig,
}

impl NatsConfigBuilder {
    /// A NATS credentials file (`.creds`: user JWT and nkey seed). Default: none.
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.credentials_file = Some(path.into());
        self
    }

    /// Refuse to talk to the server without TLS. Default: false (TLS when the URL is
    /// `tls://` or the server asks for it).
    pub fn require_tls(mut self, require: bool) -> Self {
        self.config.require_tls = require;
        self
    }

    /// Trusts the CA certificates in this PEM file (may be called repeatedly). Default: the
    /// system roots only.
    pub fn root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.root_certificates.push(path.into());
        self
    }

    /// Authenticates with this client certificate and key (PEM files). Default: none.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.client_certificate = Some((cert.into(), key.into()));
        self
    }

    /// The client name the server shows in its monitoring. Default: `valtrack`.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.client_name = name.into();
        self
    }

    /// The stream's name. Default: [`DEFAULT_STREAM`].
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.config.stream = name.into();
        self
    }

    /// How long the stream keeps a message (limits retention). Default: [`DEFAULT_MAX_AGE`]
    /// for a new stream; an existing stream keeps its own unless this is set (and only
    /// raises it: see [`NatsConfig::update_of`]).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.config.max_age = Some(age);
        self
    }

    /// The stream's duplicate window (`Nats-Msg-Id` dedupe). Default:
    /// [`DEFAULT_DUPLICATE_WINDOW`] for a new stream; an existing stream keeps its own
    /// unless this is set.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.config.duplicate_window = Some(window);
        self
    }

    /// The stream's size bound in bytes (oldest messages go first). Default: unlimited for
    /// a new stream; an existing stream keeps its own unless this is set (and only raises
    /// it).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.config.max_bytes = Some(bytes);
        self
    }

    /// How many servers of a JetStream cluster keep a copy of the stream (1 to 5; 3 is
    /// the usual choice for a cluster: it survives one server down). Default: 1 for a new
    /// stream; an existing stream keeps its own unless this is set, and is scaled to it when
    /// set (the server refuses more replicas than it has servers).
    pub fn replicas(mut self, n: usize) -> Self {
        self.config.replicas = Some(n);
        self
    }

    /// Timeout of connects, JetStream requests and publish acks. Default:
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<NatsConfig, NatsConfigError> {
        let NatsConfig {
            stream,
            max_age,
            duplicate_window,
            max_bytes,
            replicas,
            request_timeout,
            ..
        } = &self.config;
        let (max_age, duplicate_window) = (
            max_age.unwrap_or(DEFAULT_MAX_AGE),
            duplicate_window.unwrap_or(DEFAULT_DUPLICATE_WINDOW),
        );
        check_name("stream", stream)?;
        if let Some(n) = *replicas {
            if !(1..=MAX_REPLICAS).contains(&n) {
                return Err(NatsConfigError::Replicas { replicas: n });
            }
        }
        for (field, value) in [
            ("max_age", max_age),
            ("duplicate_window", duplicate_window),
            ("request_timeout", *request_timeout),
        ] {
            if value.is_zero() {
                return Err(NatsConfigError::Zero { field });
            }
        }
        if *max_bytes == Some(0) {
            return Err(NatsConfigError::Zero { field: "max_bytes" });
        }
        if duplicate_window > max_age {
            return Err(NatsConfigError::DuplicateWindow {
                window: duplicate_window,
                max_age,
            });
        }
        Ok(self.config)
    }
}

/// A failed create or update: refused for good when JetStream answered with an error other
/// than "unavailable now" (503: no leader yet, too few servers up for the replicas).
fn stream_error(stream: &str, e: jetstream::context::CreateStreamError) -> NatsError {
    if let CreateStreamErrorKind::JetStream(j) = e.kind() {
        if j.code() != 503 {
            return NatsError::StreamRefused {
                stream: stream.to_owned(),
                detail: format!("JetStream refused its settings: {j}"),
            };
        }
    }
    NatsError::Stream {
        stream: stream.to_owned(),
        source: Box::new(e),
    }
}

/// A byte limit as JetStream takes it.
fn bytes_limit(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// JetStream names: non-empty, no whitespace, `.`, `*`, `>`, `/` or `\`.
pub(crate) fn check_name(field: &'static str, name: &str) -> Result<(), NatsConfigError> {
    let bad = |c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\');
    if name.is_empty() || name.chars().any(bad) {
        return Err(NatsConfigError::InvalidName {
            field,
            name: name.into(),
        });
    }
    Ok(())
}

/// How a [`NatsSink`](crate::NatsSink) publishes and where it spools during outages.
#[derive(Debug, Clone)]
pub struct NatsSinkConfig {
    pub(crate) nats: NatsConfig,
    pub(crate) spool_dir: PathBuf,
    pub(crate) spool_max_bytes: u64,
    pub(crate) spool_segment_bytes: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) retry_interval: Duration,
}

impl NatsSinkConfig {
    /// Starts a config publishing with `nats`, spooling under `spool_dir` (created when
    /// missing; one sink per directory), every other setting at its default.
    pub fn builder(nats: NatsConfig, spool_dir: impl Into<PathBuf>) -> NatsSinkConfigBuilder {
        NatsSinkConfigBuilder {
            config: Self {
                nats,
                spool_dir: spool_dir.into(),
                spool_max_bytes: DEFAULT_SPOOL_MAX_BYTES,
                spool_segment_bytes: DEFAULT_SPOOL_SEGMENT_BYTES,
                max_in_flight: DEFAULT_MAX_IN_FLIGHT,
                queue_capacity: DEFAULT_QUEUE_CAPACITY,
                retry_interval: DEFAULT_RETRY_INTERVAL,
            },
        }
    }

    /// The connection and stream settings.
    pub fn nats(&self) -> &NatsConfig {
        &self.nats
    }

    /// The spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }
}

/// Builder of [`NatsSinkConfig`].
#[derive(Debug, Clone)]
pub struct NatsSinkConfigBuilder {
    config: NatsSinkConfig,
}

impl NatsSinkConfigBuilder {
    /// Bytes the spool may hold on disk; past that, events are dropped with an error.
    /// Default: [`DEFAULT_SPOOL_MAX_BYTES`].
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.config.spool_max_bytes = bytes;
        self
    }

    /// Size at which the spool starts a new segment file (replayed segments are deleted).
    /// Default: [`DEFAULT_SPOOL_SEGMENT_BYTES`].
    pub fn spool_segment_bytes(mut self, bytes: u64) -> Self {
        self.config.spool_segment_bytes = bytes;
        self
    }

    /// Publishes awaiting their ack at once. Default: [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.config.max_in_flight = n;
        self
    }

    /// Events queued between [`send`](valtrack_core::EventSink::send) and the publishing
    /// task; `send` waits when it is full. Default: [`DEFAULT_QUEUE_CAPACITY`].
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.config.queue_capacity = n;
        self
    }

    /// How often, during an outage, the sink tries to reach NATS and replay the spool.
    /// Default: [`DEFAULT_RETRY_INTERVAL`].
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.config.retry_interval = interval;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<NatsSinkConfig, NatsConfigError> {
        let c = &self.config;
        for (field, value) in [
            ("spool_max_bytes", c.spool_max_bytes),
            ("spool_segment_bytes", c.spool_segment_bytes),
            ("max_in_flight", c.max_in_flight as u64),
            ("queue_capacity", c.queue_capacity as u64),
            ("retry_interval", c.retry_interval.as_millis() as u64),
        ] {
            if value == 0 {
                return Err(NatsConfigError::Zero { field });
            }
        }
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_windows_and_bounds_are_checked() {
        let ok = NatsConfig::builder(DEFAULT_NATS_URL).build().unwrap();
        assert_eq!(ok.stream(), DEFAULT_STREAM);
        assert_eq!(ok.stream_config().subjects, vec!["valtrack.>".to_string()]);
        assert!(matches!(
            NatsConfig::builder("x").stream("a.b").build(),
            Err(NatsConfigError::InvalidName { .. })
        ));
        assert!(matches!(
            NatsConfig::builder("x")
                .max_age(Duration::from_secs(1))
                .build(),
            Err(NatsConfigError::DuplicateWindow { .. })
        ));
        assert!(matches!(
            NatsSinkConfig::builder(ok, "/tmp/s")
                .max_in_flight(0)
                .build(),
            Err(NatsConfigError::Zero {
                field: "max_in_flight"
            })
        ));
    }
}
