//! Prometheus metrics: series derived from the events a sentry emits ([`MetricsSink`]),
//! collectors over the sinks' and the consumer's counters, and the `/metrics` endpoint
//! ([`serve`]).
//!
//! Everything is registered in a [`Registry`] made by [`registry`] (prefix `valtrack`), so
//! every series is named `valtrack_…`; counters end in `_total`, durations are in seconds.
//! Collectors read the counters the components keep anyway at scrape time, so a scrape costs
//! nothing between scrapes. The endpoint serves the OpenMetrics text format, which
//! Prometheus ≥ 2.5 reads.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use valtrack_sink::metrics::{self, MetricsSink};
//! use valtrack_sink::StdoutSink;
//!
//! let mut registry = metrics::registry();
//! let events = metrics::EventMetrics::register(&mut registry);
//! let sink = MetricsSink::new(StdoutSink::new(), events); // give this sink to the sentry
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
//! tokio::spawn(metrics::serve(listener, Arc::new(registry), std::future::pending()));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
pub use prometheus_client;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use valtrack_core::events::{DiscoveryReason, Event};
use valtrack_core::{EventKind, EventSink, PeerId, SinkError};

#[cfg(feature = "nats")]
use crate::histogram::HistogramSnapshot;
use crate::histogram::LATENCY_BUCKETS;
use crate::parquet_sink::ParquetStats;

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Peers whose latest client and fork digest [`EventMetrics`] remembers (for the
/// `valtrack_peers` gauge); beyond, new peers are not counted there.
pub const MAX_TRACKED_PEERS: usize = 1 << 20;

/// A label set: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// A registry whose series are all named `valtrack_…`.
pub fn registry() -> Registry {
    Registry::with_prefix("valtrack")
}

/// The registry's series in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; a collector's error would leave the output cut.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(target: "valtrack::metrics", error = %e, "metrics encoding failed");
    }
    out
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves (the same accept loop as the
/// tracker API: bounded connections, header-read timeout).
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(target: "valtrack::metrics", %addr, "metrics listening (GET /metrics)");
    }
    let router = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = Arc::clone(&registry);
                async move {
                    // Encoding walks every collector: keep it off the async threads.
                    match tokio::task::spawn_blocking(move || encode(&registry)).await {
                        Ok(body) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
                        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    }
                }
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "metrics are at /metrics\n") });
    crate::http::serve_router(listener, router, shutdown, "valtrack::metrics").await
}

/// A serde enum's name (`first_seen`, `our_network`), for a label.
fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// Series derived from the events a sentry emits: discoveries, handshakes by result and
/// client, connected peers by client and fork digest, attributed attestations. Fed by
/// [`MetricsSink`].
#[derive(Debug)]
pub struct EventMetrics {
    discovery: Family<Labels, Counter>,
    dht_nodes: Family<Labels, Gauge>,
    handshakes: Family<Labels, Counter>,
    handshake_seconds: Histogram,
    peers: Family<Labels, Gauge>,
    attestations: Family<Labels, Counter>,
    first_seen_delay: Histogram,
    sink_events: Family<Labels, Counter>,
    sink_errors: Counter,
    /// Each peer's latest `(client, fork digest)` and node class, to move it between gauges.
    known: Mutex<HashMap<PeerId, Known>>,
}

#[derive(Debug, Default)]
struct Known {
    class: Option<String>,
    identity: Option<(String, String)>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS[..LATENCY_BUCKETS.len() - 1].iter().copied())
}

impl EventMetrics {
    /// Registers the series in `registry`; feed the result to a [`MetricsSink`].
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = Arc::new(Self {
            discovery: Family::default(),
            dht_nodes: Family::default(),
            handshakes: Family::default(),
            handshake_seconds: latency_histogram(),
            peers: Family::default(),
            attestations: Family::default(),
            first_seen_delay: Histogram::new([
                0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0, 48.0,
            ]),
            sink_events: Family::default(),
            sink_errors: Counter::default(),
            known: Mutex::new(HashMap::new()),
        });
        registry.register(
            "discovery_events",
            "Discovery events emitted, by reason (first_seen, seq_changed, disappeared) and ENR class",
            m.discovery.clone(),
        );
        registry.register(
            "dht_nodes",
            "Nodes found on discv5 and not forgotten, by ENR class (our_network, other_network, no_eth2)",
            m.dht_nodes.clone(),
        );
        registry.register(
            "handshakes",
            "Handshakes (Status, MetaData, identify) by result (ok or the failure kind), client and direction",
            m.handshakes.clone(),
        );
        registry.register_with_unit(
            "handshake_duration",
            "Duration of successful handshakes, dial to the last answer",
            Unit::Seconds,
            m.handshake_seconds.clone(),
        );
        registry.register(
            "peers",
            "Peers whose latest handshake succeeded, by client and fork digest (forgotten peers leave)",
            m.peers.clone(),
        );
        registry.register(
            "attestation_events",
            "Attestations delivered first by a peer, by attribution evidence (none: not attributed)",
            m.attestations.clone(),
        );
        registry.register_with_unit(
            "attestation_first_seen_delay",
            "Delay of first-delivered attestations after the start of their slot",
            Unit::Seconds,
            m.first_seen_delay.clone(),
        );
        registry.register(
            "sink_events",
            "Events the sink accepted, by kind",
            m.sink_events.clone(),
        );
        registry.register(
            "sink_errors",
            "Events the sink refused",
            m.sink_errors.clone(),
        );
        m
    }

    /// Counts one event the sentry emitted.
    pub fn observe(&self, event: &Event) {
        match event {
            Event::Discovery(d) => {
                let reason = name_of(&d.reason);
                let class = name_of(&d.class);
                self.discovery
                    .get_or_create(&vec![("reason", reason), ("class", class.clone())])
                    .inc();
                let Ok(mut known) = self.known.lock() else {
                    return;
                };
                let peer = d.meta.peer_id;
                if d.reason == DiscoveryReason::Disappeared {
                    if let Some(k) = known.remove(&peer) {
                        self.forget(&k);
                    }
                    return;
                }
                if known.len() >= MAX_TRACKED_PEERS && !known.contains_key(&peer) {
                    return;
                }
                let k = known.entry(peer).or_default();
                if k.class.as_deref() != Some(class.as_str()) {
                    if let Some(old) = k.class.take() {
                        self.dht_nodes.get_or_create(&vec![("class", old)]).dec();
                    }
                    self.dht_nodes
                        .get_or_create(&vec![("class", class.clone())])
                        .inc();
                    k.class = Some(class);
                }
            }
            Event::Metadata(m) => {
                let client = m
                    .client
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |c| c.kind.to_string());
                let result = m
                    .error
                    .as_ref()
                    .map_or_else(|| "ok".to_owned(), |e| name_of(&e.kind));
                self.handshakes
                    .get_or_create(&vec![
                        ("result", result),
                        ("client", client.clone()),
                        ("direction", name_of(&m.direction)),
                    ])
                    .inc();
                if m.error.is_some() {
                    return;
                }
                if let Some(ms) = m.timings.total_ms {
                    self.handshake_seconds.observe(ms as f64 / 1000.0);
                }
                let digest = m
                    .status
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |s| format!("0x{}", s.fork_digest));
                let Ok(mut known) = self.known.lock() else {
                    return;
                };
                let peer = m.meta.peer_id;
                if known.len() >= MAX_TRACKED_PEERS && !known.contains_key(&peer) {
                    return;
                }
                let k = known.entry(peer).or_default();
                let identity = (client, digest);
                if k.identity.as_ref() != Some(&identity) {
                    if let Some((c, d)) = k.identity.take() {
                        self.peers
                            .get_or_create(&vec![("client", c), ("fork_digest", d)])
                            .dec();
                    }
                    self.peers
                        .get_or_create(&vec![
                            ("client", identity.0.clone()),
                            ("fork_digest", identity.1.clone()),
                        ])
                        .inc();
                    k.identity = Some(identity);
                }
            }
            Event::Attestation(a) => {
                let evidence = a
                    .evidence
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), name_of);
                self.attestations
                    .get_or_create(&vec![("evidence", evidence)])
                    .inc();
                if a.first_seen_delay_ms >= 0 {
                    self.first_seen_delay
                        .observe(a.first_seen_delay_ms as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }

    fn forget(&self, k: &Known) {
        if let Some(class) = &k.class {
            self.dht_nodes
                .get_or_create(&vec![("class", class.clone())])
                .dec();
        }
        if let Some((c, d)) = &k.identity {
            self.peers
                .get_or_create(&vec![("client", c.clone()), ("fork_digest", d.clone())])
                .dec();
        }
    }

    fn sent(&self, kind: EventKind, result: &Result<(), SinkError>) {
        match result {
            Ok(()) => {
                self.sink_events
                    .get_or_create(&vec![("kind", kind.as_str().to_owned())])
                    .inc();
            }
            Err(_) => {
                self.sink_errors.inc();
            }
        }
    }
}

/// A sink that counts every event into [`EventMetrics`] and passes it on to `inner`.
#[derive(Debug)]
pub struct MetricsSink<S> {
    inner: S,
    metrics: Arc<EventMetrics>,
}

impl<S> MetricsSink<S> {
    /// Counts the events sent to `inner`.
    pub fn new(inner: S, metrics: Arc<EventMetrics>) -> Self {
        Self { inner, metrics }
    }

    /// The wrapped sink.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: EventSink> EventSink for MetricsSink<S> {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.metrics.observe(&event);
        let kind = event.kind();
        let result = self.inner.send(event).await;
        self.metrics.sent(kind, &result);
        result
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.inner.flush().await
    }
}

/// Encodes one counter or gauge value under a new descriptor.
pub(crate) fn encode_const(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    counter: bool,
    value: u64,
) -> Result<(), std::fmt::Error> {
    if counter {
        let metric = ConstCounter::new(value);
        metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
    } else {
        let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
        metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
    }
}

/// The process's own gauges: resident memory, open file descriptors (Linux), threads, and the
/// live tasks of the tokio runtime it was registered on. What a soak watches for growth.
pub struct ProcessCollector {
    runtime: Option<tokio::runtime::Handle>,
}

impl ProcessCollector {
    /// Registers the collector; call it inside the runtime whose tasks are to be counted.
    pub fn register(registry: &mut Registry) {
        registry.register_collector(Box::new(Self {
            runtime: tokio::runtime::Handle::try_current().ok(),
        }));
    }
}

impl std::fmt::Debug for ProcessCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCollector").finish_non_exhaustive()
    }
}

/// `VmRSS` and `Threads` of `/proc/self/status`, in bytes and count (Linux).
fn proc_status() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?.saturating_mul(1024), field("Threads:")?))
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some((rss, threads)) = proc_status() {
            encode_const(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory of the process",
                false,
                rss,
            )?;
            encode_const(
                &mut encoder,
                "process_threads",
                "Threads of the process",
                false,
                threads,
            )?;
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            encode_const(
                &mut encoder,
                "process_open_fds",
                "Open file descriptors of the process (sockets included)",
                false,
                dir.count() as u64,
            )?;
        }
        if let Some(rt) = &self.runtime {
            encode_const(
                &mut encoder,
                "runtime_alive_tasks",
                "Tasks alive on the tokio runtime",
                false,
                rt.metrics().num_alive_tasks() as u64,
            )?;
        }
        Ok(())
    }
}

/// Encodes one labelled family of counters or gauges: `(label values, value)` rows.
pub(crate) fn encode_family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    counter: bool,
    rows: &[(Labels, u64)],
) -> Result<(), std::fmt::Error> {
    let kind = if counter {
        MetricType::Counter
    } else {
        MetricType::Gauge
    };
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let encoder = family.encode_family(labels)?;
        if counter {
            ConstCounter::new(*value).encode(encoder)?;
        } else {
            ConstGauge::new(i64::try_from(*value).unwrap_or(i64::MAX)).encode(encoder)?;
        }
    }
    Ok(())
}

/// Encodes a [`HistogramSnapshot`] as a histogram in seconds.
#[cfg(feature = "nats")]
pub(crate) fn encode_histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &HistogramSnapshot,
) -> Result<(), std::fmt::Error> {
    let mut metric =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        h.sum, h.count, &h.buckets, None,
    )
}

/// The Parquet tables' counters (rows and files published per table, rows held, write
/// errors) and the tracker API's requests by route and status.
pub struct StoreCollector {
    stats: Box<dyn Fn() -> ParquetStats + Send + Sync>,
}

impl StoreCollector {
    /// Registers the collector of `store`'s counters.
    pub fn register(registry: &mut Registry, store: &crate::Store) {
        registry.register_collector(Box::new(Self {
            stats: Box::new(store.stats_reader()),
        }));
    }
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector").finish_non_exhaustive()
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = (self.stats)();
        let per_table = |values: &[u64; 5]| -> Vec<(Labels, u64)> {
            EventKind::ALL
                .iter()
                .zip(values)
                .map(|(k, v)| (vec![("table", k.table().to_owned())], *v))
                .collect()
        };
        encode_family(
            &mut encoder,
            "parquet_rows",
            "Rows in published Parquet files, by table",
            true,
            &per_table(&s.published),
        )?;
        encode_family(
            &mut encoder,
            "parquet_files",
            "Parquet files published, by table",
            true,
            &per_table(&s.files),
        )?;
        encode_const(
            &mut encoder,
            "parquet_rows_held",
            "Rows accepted and not yet in a published file (queued, in open files, or retried)",
            false,
            s.held,
        )?;
        encode_const(
            &mut encoder,
            "parquet_rows_journaled",
            "Of the rows held, those synced to a journal",
            false,
            s.journaled,
        )?;
        encode_const(
            &mut encoder,
            "parquet_write_errors",
            "Failed attempts to write a Parquet file or journal",
            true,
            s.write_errors,
        )?;
        encode_const(
            &mut encoder,
            "parquet_failing",
            "1 while Parquet writes fail (the rows are held and retried), else 0",
            false,
            u64::from(s.fault.is_some()),
        )?;
        #[cfg(feature = "api")]
        {
            let rows: Vec<(Labels, u64)> = crate::api::request_counts()
                .into_iter()
                .map(|(route, status, n)| {
                    (
                        vec![("route", route.to_owned()), ("status", status.to_string())],
                        n,
                    )
                })
                .collect();
            encode_family(
                &mut encoder,
                "api_requests",
                "Tracker API requests answered, by route and status",
                true,
                &rows,
            )?;
        }
        Ok(())
    }
}

/// The NATS sink's counters: publishes, spool, outages and publish latency.
#[cfg(feature = "nats")]
#[derive(Debug)]
pub struct NatsSinkCollector(crate::NatsSinkStatsReader);

#[cfg(feature = "nats")]
impl NatsSinkCollector {
    /// Registers the collector of a NATS sink's counters.
    pub fn register(registry: &mut Registry, sink: &crate::NatsSink) {
        registry.register_collector(Box::new(Self(sink.stats_reader())));
    }
}

#[cfg(feature = "nats")]
impl Collector for NatsSinkCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let e = &mut encoder;
        encode_const(
            e,
            "nats_published",
            "Events JetStream acknowledged (replays included)",
            true,
            s.acked,
        )?;
        encode_const(
            e,
            "nats_duplicates",
            "Publishes JetStream reported as duplicates",
            true,
            s.duplicates,
        )?;
        encode_const(
            e,
            "nats_spooled",
            "Events written to the spool during outages",
            true,
            s.spooled,
        )?;
        encode_const(
            e,
            "nats_replayed",
            "Events replayed from the spool and acknowledged",
            true,
            s.replayed,
        )?;
        encode_const(
            e,
            "nats_dropped",
            "Events dropped because the spool was full",
            true,
            s.dropped,
        )?;
        encode_const(
            e,
            "nats_outages",
            "Periods with NATS unreachable",
            true,
            s.outages,
        )?;
        encode_const(
            e,
            "nats_spool_events",
            "Events in the spool now",
            false,
            s.spool_events,
        )?;
        encode_const(
            e,
            "nats_spool_bytes",
            "Bytes of the spool on disk now",
            false,
            s.spool_bytes,
        )?;
        encode_const(
            e,
            "nats_in_outage",
            "1 while NATS is unreachable (events go to the spool)",
            false,
            u64::from(s.in_outage),
        )?;
        encode_histogram(
            e,
            "nats_publish_latency",
            "Time from a publish to its JetStream ack",
            &self.0.publish_latency(),
        )
    }
}

/// A consumer's counters: messages fetched, events written, duplicates, dead letters, lag.
#[cfg(feature = "nats")]
#[derive(Debug)]
pub struct ConsumerCollector(crate::consumer::ConsumerStatsReader);

#[cfg(feature = "nats")]
impl ConsumerCollector {
    /// Registers the collector of a consumer's counters.
    pub fn register<S: EventSink>(
        registry: &mut Registry,
        consumer: &crate::consumer::Consumer<S>,
    ) {
        registry.register_collector(Box::new(Self(consumer.stats_reader())));
    }
}

#[cfg(feature = "nats")]
impl Collector for ConsumerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let e = &mut encoder;
        encode_const(
            e,
            "consumer_fetched",
            "Messages received from JetStream (redeliveries included)",
            true,
            s.received,
        )?;
        encode_const(
            e,
            "consumer_written",
            "Events written and committed (flushed, then acknowledged)",
            true,
            s.written,
        )?;
        encode_const(
            e,
            "consumer_duplicates",
            "Messages dropped as duplicates of an event already written",
            true,
            s.duplicates,
        )?;
        encode_const(
            e,
            "consumer_dead_lettered",
            "Malformed messages sent to the dead-letter stream",
            true,
            s.dead_lettered,
        )?;
        encode_const(
            e,
            "consumer_commits",
            "Commits (sink flush, then acks)",
            true,
            s.commits,
        )?;
        encode_const(
            e,
            "consumer_lag",
            "Messages of the stream not yet delivered to this consumer",
            false,
            s.pending,
        )
    }
}

#[cfg(test)]
mod tests;
