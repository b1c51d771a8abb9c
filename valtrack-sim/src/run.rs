//! One sentry in attestation mode over a [`SimNet`], scored: what the accuracy harness and
//! the integration test run.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use std::collections::HashMap;

use valtrack_core::events::{AttestationEvent, MetadataEvent};
use valtrack_core::{Epoch, Event, EventSink, PeerId, SinkError};

use crate::score::{score_attributions, AttributionScore};
use crate::SimNet;
use valtrack_sentry::service::{GossipStrategy, SentryService, ServiceError};

/// Keeps the attestation events of a run (bounded) and each peer's last successful
/// handshake.
#[derive(Debug, Clone, Default)]
struct Collect(
    Arc<Mutex<Vec<AttestationEvent>>>,
    Arc<Mutex<HashMap<PeerId, MetadataEvent>>>,
);

/// Bound on attestation events kept by one run.
const MAX_EVENTS: usize = 4_000_000;

impl EventSink for Collect {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        match event {
            Event::Attestation(a) => {
                let mut events = self.0.lock().unwrap_or_else(|p| p.into_inner());
                if events.len() < MAX_EVENTS {
                    events.push(a);
                }
            }
            Event::Metadata(m) if m.error.is_none() => {
                let mut last = self.1.lock().unwrap_or_else(|p| p.into_inner());
                last.insert(m.meta.peer_id, m);
            }
            _ => {}
        }
        Ok(())
    }
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The scored epochs, the warm-up time, the handshakes by then, the traffic over the epochs
/// and the mesh links at their end.
type Window = (Range<Epoch>, Duration, u64, Traffic, u64);

/// What [`run_attribution`] measured.
#[derive(Debug, Clone)]
pub struct AttributionRun {
    /// The target epochs scored (whole epochs after the warm-up).
    pub epochs: Range<Epoch>,
    /// The score over those epochs.
    pub score: AttributionScore,
    /// Time until the sentry had handshaken every reachable node (or the warm-up bound).
    pub warmup: Duration,
    /// Successful handshakes when scoring started, and the reachable nodes.
    pub handshaken: (u64, usize),
    /// Attestation-subnet messages the sentry received over the whole run.
    pub messages: u64,
    /// Of those, undecodable.
    pub undecodable: u64,
    /// Attestation events emitted over the whole run (at most a few million).
    pub events: Vec<AttestationEvent>,
    /// Each peer's last successful handshake (for validator estimates).
    pub handshakes: HashMap<PeerId, MetadataEvent>,
    /// The sentry's libp2p traffic over the scored epochs: what its TCP sockets carried
    /// (GossipSub with the revisits' req/resp, framing included).
    pub traffic: Traffic,
    /// The sentry's GossipSub mesh links, summed over subnets, when the scored epochs ended
    /// ([`Host::gossip_mesh_links`](valtrack_sentry::host::Host::gossip_mesh_links)).
    pub mesh_links: u64,
}

/// Bytes a sentry's TCP sockets carried over a span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Bytes received.
    pub received: u64,
    /// Bytes sent.
    pub sent: u64,
    /// Attestation-subnet messages received meanwhile.
    pub messages: u64,
    /// How long.
    pub span: Duration,
}

impl Traffic {
    /// Received bytes per second.
    pub fn received_per_sec(&self) -> f64 {
        self.received as f64 / self.span.as_secs_f64().max(1e-9)
    }

    /// Sent bytes per second.
    pub fn sent_per_sec(&self) -> f64 {
        self.sent as f64 / self.span.as_secs_f64().max(1e-9)
    }

    /// Attestation messages received per second.
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.span.as_secs_f64().max(1e-9)
    }

    /// Received bytes per attestation message received (what a mainnet rate multiplies).
    pub fn received_per_message(&self) -> f64 {
        self.received as f64 / self.messages.max(1) as f64
    }
}

/// Runs a [`SentryService`] with attestations on (bootnode: `net`'s) until it has handshaken
/// every node that accepts handshakes (at most `warmup_bound`), then for `epochs` whole
/// epochs (plus one slot of grace), and scores the attributions of those epochs.
pub async fn run_attribution(
    net: &SimNet,
    epochs: u64,
    warmup_bound: Duration,
) -> Result<AttributionRun, ServiceError> {
    run_attribution_with(net, epochs, warmup_bound, GossipStrategy::default()).await
}

/// [`run_attribution`] with the sentry taking part in GossipSub as `strategy` says.
pub async fn run_attribution_with(
    net: &SimNet,
    epochs: u64,
    warmup_bound: Duration,
    strategy: GossipStrategy,
) -> Result<AttributionRun, ServiceError> {
    let network = net.network().clone();
    let sink = Collect::default();
    let boot = valtrack_core::parse_enr(&net.bootnode().to_base64())
        .map_err(|_| ServiceError::Host(valtrack_sentry::HostError::Config("bootnode ENR")))?;
    let service = SentryService::builder(network.clone())
        .bootnodes([boot])
        .listen_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .ports(0, 0, 0)
        .crawler("sim-attribution", "loopback")
        .attestations(true)
        .gossip_strategy(strategy)
        .build(sink.clone())
        .await?;
    let stats = service.stats();
    let traffic = service.host().traffic();
    let host = service.host().clone();
    let reachable = net
        .peers()
        .iter()
        .filter(|p| p.role().expected_failure().is_none())
        .count();
    let handshaken_seen =
        |stats: &valtrack_sentry::SentryStats| stats.handshakes_ok.load(Ordering::Relaxed);
    let window: Arc<Mutex<Option<Window>>> = Arc::default();
    let shutdown = {
        let stats = stats.clone();
        let window = window.clone();
        let network = network.clone();
        async move {
            let started = Instant::now();
            while (handshaken_seen(&stats) as usize) < reachable && started.elapsed() < warmup_bound
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let warmup = started.elapsed();
            let handshaken = handshaken_seen(&stats);
            let now = network.current_epoch(SystemTime::now()).unwrap_or(0);
            let range = now + 1..now + 1 + epochs;
            let end = network
                .epoch_start(range.end)
                .map(|t| t + network.slot_duration())
                .unwrap_or_default();
            let bytes = || {
                (
                    traffic.received.load(Ordering::Relaxed),
                    traffic.sent.load(Ordering::Relaxed),
                    stats.attestations.load(Ordering::Relaxed),
                )
            };
            let (received, sent, messages) = bytes();
            let since = Instant::now();
            *window.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((range.clone(), warmup, handshaken, Traffic::default(), 0));
            let wait = end.saturating_sub(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default(),
            );
            tokio::time::sleep(wait).await;
            let (received_end, sent_end, messages_end) = bytes();
            let used = Traffic {
                received: received_end - received,
                sent: sent_end - sent,
                messages: messages_end - messages,
                span: since.elapsed(),
            };
            let links = host.gossip_mesh_links();
            *window.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((range, warmup, handshaken, used, links));
        }
    };
    service
        .run(shutdown)
        .await
        .map_err(|_| ServiceError::Host(valtrack_sentry::HostError::Closed))?;
    let (range, warmup, handshaken, traffic, mesh_links) = window
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or((0..0, Duration::ZERO, 0, Traffic::default(), 0));
    let events = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let score = score_attributions(net, &events, range.clone());
    let handshakes = sink.1.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(AttributionRun {
        epochs: range,
        score,
        warmup,
        handshaken: (handshaken, reachable),
        messages: stats.attestations.load(Ordering::Relaxed),
        undecodable: stats.attestation_errors.load(Ordering::Relaxed),
        events,
        handshakes,
        traffic,
        mesh_links,
    })
}
