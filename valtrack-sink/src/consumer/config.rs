//! [`ConsumerConfig`] and its builder.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::NatsConfigError;
use crate::nats::{check_name, NatsConfig};

/// Default [`ConsumerConfigBuilder::name`]: `valtrack-consumer`.
pub const DEFAULT_CONSUMER_NAME: &str = "valtrack-consumer";
/// Default [`ConsumerConfigBuilder::batch_size`]: 1,000 messages per pull request.
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// Default [`ConsumerConfigBuilder::max_wait`]: 1 second.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);
/// Default [`ConsumerConfigBuilder::commit_events`]: 50,000 events.
pub const DEFAULT_COMMIT_EVENTS: usize = 50_000;
/// Default [`ConsumerConfigBuilder::commit_interval`]: 5 seconds.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// Default [`ConsumerConfigBuilder::ack_wait`]: 60 seconds.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(60);
/// Default [`ConsumerConfigBuilder::dedupe_capacity`]: 1,000,000 event ids (about 50 MB).
pub const DEFAULT_DEDUPE_CAPACITY: usize = 1_000_000;
/// Default dead-letter stream: `valtrack_dead_letter`.
pub const DEFAULT_DEAD_LETTER_STREAM: &str = "valtrack_dead_letter";
/// Subject prefix of dead letters: a message from `valtrack.discovery` that cannot be
/// decoded goes to `valtrack-dlq.valtrack.discovery`, outside the event stream's
/// `valtrack.>`.
pub const DEAD_LETTER_PREFIX: &str = "valtrack-dlq";

/// How a [`Consumer`](super::Consumer) reads the stream.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub(crate) nats: NatsConfig,
    pub(crate) name: String,
    pub(crate) batch_size: usize,
    pub(crate) max_wait: Duration,
    pub(crate) commit_events: usize,
    pub(crate) commit_interval: Duration,
    pub(crate) ack_wait: Duration,
    pub(crate) dedupe_capacity: usize,
    pub(crate) seed_from_parquet: Option<PathBuf>,
    pub(crate) dead_letter_stream: String,
}

impl ConsumerConfig {
    /// Starts a config reading the stream of `nats`, every other setting at its default.
    pub fn builder(nats: NatsConfig) -> ConsumerConfigBuilder {
        ConsumerConfigBuilder {
            config: Self {
                nats,
                name: DEFAULT_CONSUMER_NAME.into(),
                batch_size: DEFAULT_BATCH_SIZE,
                max_wait: DEFAULT_MAX_WAIT,
                commit_events: DEFAULT_COMMIT_EVENTS,
                commit_interval: DEFAULT_COMMIT_INTERVAL,
                ack_wait: DEFAULT_ACK_WAIT,
                dedupe_capacity: DEFAULT_DEDUPE_CAPACITY,
                seed_from_parquet: None,
                dead_letter_stream: DEFAULT_DEAD_LETTER_STREAM.into(),
            },
        }
    }

    /// The durable consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection and stream settings.
    pub fn nats(&self) -> &NatsConfig {
        &self.nats
    }
}

/// Builder of [`ConsumerConfig`].
#[derive(Debug, Clone)]
pub struct ConsumerConfigBuilder {
    config: ConsumerConfig,
}

impl ConsumerConfigBuilder {
    /// The durable consumer's name: stable, so a restarted consumer resumes where it stopped
    /// (and no orphan consumers pile up). Default: [`DEFAULT_CONSUMER_NAME`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Messages asked for per pull request. Default: [`DEFAULT_BATCH_SIZE`].
    pub fn batch_size(mut self, n: usize) -> Self {
        self.config.batch_size = n;
        self
    }

    /// How long a pull request waits for messages before it expires (an idle consumer
    /// sends one request per this interval: no busy spin). Default: [`DEFAULT_MAX_WAIT`].
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.config.max_wait = wait;
        self
    }

    /// Events after which the sink is flushed and their messages acknowledged.
    /// Default: [`DEFAULT_COMMIT_EVENTS`].
    pub fn commit_events(mut self, n: usize) -> Self {
        self.config.commit_events = n;
        self
    }

    /// Longest time an event waits before the sink is flushed and its message acknowledged.
    /// Default: [`DEFAULT_COMMIT_INTERVAL`].
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.config.commit_interval = interval;
        self
    }

    /// How long the server waits for an ack before redelivering; must be longer than the
    /// commit interval (plus a flush). Default: [`DEFAULT_ACK_WAIT`].
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.config.ack_wait = wait;
        self
    }

    /// Event ids remembered for deduplication (the window: the last this many distinct ids
    /// written). Default: [`DEFAULT_DEDUPE_CAPACITY`].
    pub fn dedupe_capacity(mut self, n: usize) -> Self {
        self.config.dedupe_capacity = n;
        self
    }

    /// At start, read the event ids of the newest Parquet files under `dir` (up to the
    /// dedupe capacity) into the dedupe set, so dedupe holds across restarts. Set it to the
    /// [`ParquetSink`](crate::ParquetSink)'s directory. Default: not set.
    pub fn seed_from_parquet(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.seed_from_parquet = Some(dir.into());
        self
    }

    /// The stream for dead letters (subjects `valtrack-dlq.>`). Default:
    /// [`DEFAULT_DEAD_LETTER_STREAM`].
    pub fn dead_letter_stream(mut self, name: impl Into<String>) -> Self {
        self.config.dead_letter_stream = name.into();
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<ConsumerConfig, NatsConfigError> {
        let c = &self.config;
        check_name("consumer name", &c.name)?;
        check_name("dead-letter stream", &c.dead_letter_stream)?;
        for (field, value) in [
            ("batch_size", c.batch_size as u64),
            ("max_wait", c.max_wait.as_millis() as u64),
            ("commit_events", c.commit_events as u64),
            ("commit_interval", c.commit_interval.as_millis() as u64),
            ("ack_wait", c.ack_wait.as_millis() as u64),
            ("dedupe_capacity", c.dedupe_capacity as u64),
        ] {
            if value == 0 {
                return Err(NatsConfigError::Zero { field });
            }
        }
        if c.ack_wait <= c.commit_interval {
            return Err(NatsConfigError::AckWait {
                ack_wait: c.ack_wait,
                commit_interval: c.commit_interval,
            });
        }
        Ok(self.config)
    }
}
