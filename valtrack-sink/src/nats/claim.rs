//! [`SentryClaim`]: one running sentry per crawler id on a stream.
//!
//! Every event carries its sentry's `crawler_id`; two sentries publishing under one id would
//! mix two vantage points into one, silently. So a sentry claims its id in a small JetStream
//! stream beside the event stream (`<stream>_sentries`, one message per id on subject
//! `valtrack-claims.<stream>.<id in hex>`, written with an expected last sequence, the
//! compare-and-set a key-value bucket does) and renews the claim every [`CLAIM_RENEW`]; the
//! stream forgets a claim not renewed for [`CLAIM_TTL`]. (Not a key-value bucket: its
//! `$KV.…` subjects do not cross a leaf node, the way a remote sentry site connects, while
//! these do, like the events.) A second sentry with the same id is refused while the first runs, unless
//! the claim's holder is a process of this host that no longer exists (a sentry killed and
//! restarted at once takes its claim over instead of waiting out the TTL).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::NatsConfig;
use crate::error::NatsError;

const TARGET: &str = "valtrack::sink::nats";
/// How long a claim lives without renewal.
pub const CLAIM_TTL: Duration = Duration::from_secs(15);
/// How often a running sentry renews its claim.
pub const CLAIM_RENEW: Duration = Duration::from_secs(5);

/// Who holds a claim: stored as the key's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimHolder {
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// Random, per process: tells two holders apart.
    pub instance: String,
}

impl ClaimHolder {
    /// This process.
    pub fn this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map_or_else(|_| "unknown".into(), |h| h.trim().to_owned());
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        // std's RandomState is keyed at random per process: no RNG crate needed
        let instance = {
            use std::hash::BuildHasher;
            std::hash::RandomState::new().hash_one((started_ms, std::process::id()))
        };
        Self {
            host,
            pid: std::process::id(),
            started_ms,
            instance: format!("{instance:016x}"),
        }
    }

    /// Whether this holder is a process of this host that is gone (Linux: no `/proc/<pid>`).
    fn is_dead_here(&self, here: &Self) -> bool {
        self.host == here.host
            && self.pid != here.pid
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// A claim on a crawler id; renewed in the background until [`release`](Self::release)d
/// or dropped.
#[derive(Debug)]
pub struct SentryClaim {
    task: JoinHandle<()>,
    lost: watch::Receiver<Option<String>>,
    claims: Option<stream::Stream>,
    subject: String,
}

/// The stream of an event stream's claims.
pub fn claims_stream(stream: &str) -> String {
    format!("{stream}_sentries")
}

/// The subjects of an event stream's claims.
fn claim_subjects(stream: &str) -> String {
    format!("valtrack-claims.{stream}.>")
}

impl SentryClaim {
    /// Claims `crawler_id` on the stream of `nats` for `holder`. Fails with
    /// [`NatsError::SentryIdTaken`] when another running sentry holds it. When NATS cannot
    /// be reached within the request timeout, the claim is made in the background as soon
    /// as it can be, and a conflict found then is reported by [`lost`](Self::lost).
    pub async fn claim(
        nats: &NatsConfig,
        crawler_id: &str,
        holder: ClaimHolder,
    ) -> Result<Self, NatsError> {
        let key = hex::encode(crawler_id.as_bytes());
        let (tx, lost) = watch::channel(None);
        let client = nats.connect().await?;
        let js = nats.jetstream(client, 16);
        let config = stream::Config {
            name: claims_stream(nats.stream()),
            description: Some("valtrack: which sentry runs under each crawler id".into()),
            subjects: vec![claim_subjects(nats.stream())],
            max_messages_per_subject: 1,
            max_age: CLAIM_TTL,
            duplicate_window: CLAIM_RENEW,
            storage: stream::StorageType::File,
            num_replicas: nats.replicas.unwrap_or(1),
            ..Default::default()
        };
        let subject = format!("valtrack-claims.{}.{key}", nats.stream());
        let mut claimer = Claimer {
            js,
            config,
            subject: subject.clone(),
            crawler_id: crawler_id.to_owned(),
            holder,
            stream: None,
            revision: None,
        };
        let first = tokio::time::timeout(nats.request_timeout * 2, claimer.renew()).await;
        match first {
            Ok(Err(e @ NatsError::SentryIdTaken { .. })) => return Err(e),
            Ok(Err(e)) => {
                let cause = std::error::Error::source(&e).map(ToString::to_string);
                tracing::warn!(target: TARGET, error = %e, cause, crawler_id, "cannot claim the crawler id yet; trying again in the background");
            }
            Err(_) => {
                tracing::warn!(target: TARGET, crawler_id, "NATS did not answer: the crawler id is claimed in the background as soon as it does");
            }
            Ok(Ok(())) => {}
        }
        let claims = claimer.stream.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CLAIM_RENEW);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match claimer.renew().await {
                    Ok(()) => {}
                    Err(e @ NatsError::SentryIdTaken { .. }) => {
                        tracing::error!(target: TARGET, error = %e, "the crawler id was claimed by another sentry");
                        let _ = tx.send(Some(e.to_string()));
                        return;
                    }
                    Err(e) => {
                        let cause = std::error::Error::source(&e).map(ToString::to_string);
                        tracing::debug!(target: TARGET, error = %e, cause, "cannot renew the crawler id claim; trying again");
                    }
                }
            }
        });
        Ok(Self {
            task,
            lost,
            claims,
            subject,
        })
    }

    /// Resolves with the reason if another sentry took the id (found only while NATS was
    /// unreachable at start, or after this claim expired during an outage); pending
    /// otherwise.
    pub async fn lost(&self) -> String {
        let mut lost = self.lost.clone();
        loop {
            if let Some(reason) = lost.borrow_and_update().clone() {
                return reason;
            }
            if lost.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Stops renewing and deletes the claim, so the id is free at once.
    pub async fn release(self) {
        self.task.abort();
        if let Some(claims) = &self.claims {
            let purge = claims.purge().filter(self.subject.as_str());
            let _ = tokio::time::timeout(Duration::from_secs(2), purge).await;
        }
    }
}

impl Drop for SentryClaim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Claimer {
    js: async_nats::jetstream::Context,
    config: stream::Config,
    subject: String,
    crawler_id: String,
    holder: ClaimHolder,
    stream: Option<stream::Stream>,
    /// The stream sequence of our claim, once made.
    revision: Option<u64>,
}

impl Claimer {
    fn error(&self, e: impl std::error::Error + Send + Sync + 'static) -> NatsError {
        NatsError::Stream {
            stream: self.config.name.clone(),
            source: Box::new(e),
        }
    }

    async fn stream(&mut self) -> Result<stream::Stream, NatsError> {
        if let Some(stream) = &self.stream {
            return Ok(stream.clone());
        }
        let stream = self
            .js
            .get_or_create_stream(self.config.clone())
            .await
            .map_err(|e| self.error(e))?;
        self.stream = Some(stream.clone());
        Ok(stream)
    }

    /// Writes our claim if the subject's last sequence is `expected` (0: no claim); the new
    /// sequence, or `None` when another write came first.
    async fn write(&self, expected: u64) -> Result<Option<u64>, NatsError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected.to_string().as_str(),
        );
        let value = Bytes::from(serde_json::to_vec(&self.holder).unwrap_or_default());
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, value)
            .await
            .map_err(|e| self.error(e))?;
        match ack.await {
            Ok(ack) => Ok(Some(ack.sequence)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Makes or renews the claim.
    async fn renew(&mut self) -> Result<(), NatsError> {
        let stream = self.stream().await?;
        if let Some(revision) = self.revision {
            if let Some(r) = self.write(revision).await? {
                self.revision = Some(r);
                return Ok(());
            }
            // expired during an outage, or taken: claim again below
            self.revision = None;
        }
        if let Some(r) = self.write(0).await? {
            self.revision = Some(r);
            return Ok(());
        }
        let current = match stream.get_last_raw_message_by_subject(&self.subject).await {
            Ok(m) => m,
            // gone meanwhile (expired): the next round claims it
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                return Err(self.error(std::io::Error::other("claim changed meanwhile")));
            }
            Err(e) => return Err(self.error(e)),
        };
        let other: Option<ClaimHolder> = serde_json::from_slice(&current.payload).ok();
        match other {
            Some(other) if other.instance == self.holder.instance => {
                self.revision = Some(current.sequence);
                Ok(())
            }
            Some(other) if other.is_dead_here(&self.holder) => {
                tracing::info!(target: TARGET, crawler_id = %self.crawler_id, dead_pid = other.pid, "taking over the crawler id of a sentry of this host that is gone");
                match self.write(current.sequence).await? {
                    Some(r) => {
                        self.revision = Some(r);
                        Ok(())
                    }
                    None => Err(self.error(std::io::Error::other("claim changed meanwhile"))),
                }
            }
            other => Err(NatsError::SentryIdTaken {
                crawler_id: self.crawler_id.clone(),
                holder: other.map_or_else(
                    || "an unknown holder".into(),
                    |o| format!("pid {} on host {}", o.pid, o.host),
                ),
                ttl: CLAIM_TTL,
            }),
        }
    }
}
