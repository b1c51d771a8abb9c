//! The [`Sentry`]: wires a [`Crawler`] and a [`Handshaker`] to an [`EventSink`].
//!
//! It keeps a bounded peerstore, emits a discovery event when a node is first seen, changes
//! its ENR seq or disappears, handshakes every beacon node with bounded concurrency, revisits
//! each peer once per `revisit_interval` (an epoch by default), backs failures off
//! exponentially with a cap (a failed *first* dial is retried too), and forgets peers not seen
//! for `forget_after`.
//!
//! With [`Sentry::with_attestations`] it also attributes attestations: each message the host
//! reports on an attestation subnet is decoded, and the first delivery of each (target epoch,
//! validator) becomes an [`AttestationEvent`] naming the delivering peer, the delay into the
//! slot and the attribution evidence. Later deliveries of the same pair (another message of
//! the same validator in the same epoch) produce no event; GossipSub itself already drops
//! copies of one message.

mod attestations;
mod peerstore;
mod resolver;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use tokio::task::JoinSet;
use tracing::{debug, warn};
use valtrack_core::events::{AttestationEvent, DiscoveryEvent, DiscoveryReason, MetadataEvent};
use valtrack_core::{
    Crawler, DiscoveredNode, EnrInfo, Event, EventKind, EventMeta, EventSink, HandshakeError,
    Handshaker, NodeUpdate, PeerId, PeerInfo, SinkError, SubnetObservation, SubnetProbe,
};

pub use peerstore::{backoff, PeerRecord};
use peerstore::{PeerStore, Upsert};

const LOG: &str = "valtrack::sentry";

/// Default handshakes in flight.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Default revisit interval: one mainnet epoch.
pub const DEFAULT_REVISIT_INTERVAL: Duration = Duration::from_secs(384);
/// Default first backoff after a failure.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Default longest backoff.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(3600);
/// Default time after which a peer not seen is forgotten.
pub const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(6 * 3600);
/// Default cap on tracked peers.
pub const DEFAULT_MAX_PEERS: usize = 200_000;
/// Default scheduler tick.
pub const DEFAULT_TICK: Duration = Duration::from_millis(100);

/// Sentry settings. Build with [`SentryConfig::builder`].
#[derive(Debug, Clone)]
pub struct SentryConfig {
    crawler_id: String,
    crawler_location: String,
    concurrency: usize,
    revisit_interval: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    forget_after: Duration,
    max_peers: usize,
    tick: Duration,
}

impl SentryConfig {
    /// Starts a configuration; `crawler_id` and `crawler_location` label every event.
    pub fn builder(
        crawler_id: impl Into<String>,
        crawler_location: impl Into<String>,
    ) -> SentryConfigBuilder {
        SentryConfigBuilder(Self {
            crawler_id: crawler_id.into(),
            crawler_location: crawler_location.into(),
            concurrency: DEFAULT_CONCURRENCY,
            revisit_interval: DEFAULT_REVISIT_INTERVAL,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            forget_after: DEFAULT_FORGET_AFTER,
            max_peers: DEFAULT_MAX_PEERS,
            tick: DEFAULT_TICK,
        })
    }
}

/// Builder of [`SentryConfig`].
#[derive(Debug, Clone)]
pub struct SentryConfigBuilder(SentryConfig);

impl SentryConfigBuilder {
    /// Handshakes in flight. Default: [`DEFAULT_CONCURRENCY`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.0.concurrency = n;
        self
    }
    /// Revisit interval. Default: [`DEFAULT_REVISIT_INTERVAL`].
    pub fn revisit_interval(mut self, d: Duration) -> Self {
        self.0.revisit_interval = d;
        self
    }
    /// Backoff base and cap. Default: [`DEFAULT_BACKOFF_BASE`], [`DEFAULT_BACKOFF_CAP`].
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.0.backoff_base = base;
        self.0.backoff_cap = cap;
        self
    }
    /// Forget peers not seen for this long. Default: [`DEFAULT_FORGET_AFTER`].
    pub fn forget_after(mut self, d: Duration) -> Self {
        self.0.forget_after = d;
        self
    }
    /// Cap on tracked peers. Default: [`DEFAULT_MAX_PEERS`].
    pub fn max_peers(mut self, n: usize) -> Self {
        self.0.max_peers = n;
        self
    }
    /// Scheduler tick. Default: [`DEFAULT_TICK`].
    pub fn tick(mut self, d: Duration) -> Self {
        self.0.tick = d;
        self
    }
    /// Checks and returns the configuration.
    pub fn build(self) -> Result<SentryConfig, SentryConfigError> {
        let SentryConfig {
            crawler_id,
            crawler_location: _,
            concurrency,
            revisit_interval,
            backoff_base,
            backoff_cap,
            forget_after,
            max_peers,
            tick,
        } = &self.0;
        if crawler_id.is_empty() {
            return Err(SentryConfigError::EmptyCrawlerId);
        }
        for (name, value) in [("concurrency", *concurrency), ("max peers", *max_peers)] {
            if value == 0 {
                return Err(SentryConfigError::Zero { name });
            }
        }
        for (name, value) in [
            ("revisit interval", revisit_interval),
            ("tick", tick),
            ("forget-after", forget_after),
        ] {
            if value.is_zero() {
                return Err(SentryConfigError::Zero { name });
            }
        }
        if backoff_base > backoff_cap {
            return Err(SentryConfigError::BackoffAboveCap {
                base: *backoff_base,
                cap: *backoff_cap,
            });
        }
        Ok(self.0)
    }
}

/// A [`SentryConfig`] that [`SentryConfigBuilder::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SentryConfigError {
    /// The crawler id (which names this sentry in every event) is empty.
    #[error("crawler id must not be empty")]
    EmptyCrawlerId,
    /// A count or interval that must be positive is zero.
    #[error("{name} must be positive")]
    Zero {
        /// Which setting.
        name: &'static str,
    },
    /// The backoff base exceeds its cap.
    #[error("backoff base {base:?} exceeds its cap {cap:?}")]
    BackoffAboveCap {
        /// The base.
        base: Duration,
        /// The cap.
        cap: Duration,
    },
}

/// Live counters of a running sentry.
#[derive(Debug, Default)]
pub struct SentryStats {
    /// Distinct nodes discovered.
    pub discovered: AtomicU64,
    /// Successful handshakes.
    pub handshakes_ok: AtomicU64,
    /// Failed handshakes.
    pub handshakes_failed: AtomicU64,
    /// Events accepted by the sink.
    pub events: AtomicU64,
    /// Events the sink refused.
    pub sink_errors: AtomicU64,
    /// Peers currently tracked.
    pub peers: AtomicU64,
    /// Handshakes with peers that dialed us (successful or not).
    pub inbound: AtomicU64,
    /// Messages received on attestation subnets (attribution on).
    pub attestations: AtomicU64,
    /// Of those, payloads that did not decode.
    pub attestation_errors: AtomicU64,
    /// Of those, decoded ones outside the gossip window (a slot more than one slot ahead of
    /// the clock or before the previous epoch, or a target that is not the slot's epoch):
    /// dropped.
    pub attestations_untimely: AtomicU64,
    /// Attestation events carrying attribution evidence.
    pub attributions: AtomicU64,
    /// Phase0 attestations whose validator was named through the beacon API.
    pub resolved: AtomicU64,
    /// The last outbound handshake's error, for a diagnosis when none succeeds.
    pub last_handshake_error: std::sync::Mutex<Option<String>>,
}

type Observations = std::pin::Pin<Box<dyn futures::Stream<Item = SubnetObservation> + Send>>;
type Inbound = std::pin::Pin<Box<dyn futures::Stream<Item = InboundOutcome> + Send>>;
type Attestations =
    std::pin::Pin<Box<dyn futures::Stream<Item = valtrack_core::GossipMessage> + Send>>;

/// What a handshake with a peer that dialed us gave: the peer and its info or the failure
/// (see [`Libp2pHandshaker::inbound`](crate::Libp2pHandshaker::inbound)).
pub type InboundOutcome = (PeerId, Result<PeerInfo, HandshakeError>);

/// The sentry. Generic over its parts so any crawler, handshaker and sink can be combined.
pub struct Sentry<C, H, S> {
    crawler: C,
    handshaker: Arc<H>,
    sink: S,
    config: SentryConfig,
    stats: Arc<SentryStats>,
    observations: Option<Observations>,
    inbound: Option<Inbound>,
    attestations: Option<(valtrack_core::Network, Attestations)>,
    beacon_api: Option<crate::BeaconApi>,
}

impl<C: std::fmt::Debug, H: std::fmt::Debug, S: std::fmt::Debug> std::fmt::Debug
    for Sentry<C, H, S>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentry")
            .field("crawler", &self.crawler)
            .field("handshaker", &self.handshaker)
            .field("sink", &self.sink)
            .field("config", &self.config)
            .field("probe", &self.observations.is_some())
            .field("inbound", &self.inbound.is_some())
            .field("attestations", &self.attestations.is_some())
            .field("beacon_api", &self.beacon_api.as_ref().map(|a| a.url()))
            .finish()
    }
}

type Outcome = (PeerId, Option<String>, Result<PeerInfo, HandshakeError>);

impl<C: Crawler, H: Handshaker, S: EventSink> Sentry<C, H, S> {
    /// Wires the parts.
    pub fn new(crawler: C, handshaker: H, sink: S, config: SentryConfig) -> Self {
        Self {
            crawler,
            handshaker: Arc::new(handshaker),
            sink,
            config,
            stats: Arc::default(),
            observations: None,
            inbound: None,
            attestations: None,
            beacon_api: None,
        }
    }

    /// Turns attestation attribution on: `messages` are the raw attestation-subnet messages
    /// a probe delivers ([`SubnetProbe::attestations`]; the sentry's own
    /// [`GossipProbe`](crate::GossipProbe) reads its host's), `network`
    /// gives the slot clock and which digests carry Electra `SingleAttestation`s. Needs
    /// [`with_probe`](Self::with_probe) too, for the peers' subscriptions; the host should
    /// subscribe to all 64 subnets and the handshaker keep connections
    /// ([`HandshakeConfig::keep_connected`](crate::HandshakeConfig)).
    ///
    /// Each first delivery of a (target epoch, validator) becomes an
    /// [`Event::Attestation`]; undecodable payloads are counted
    /// ([`SentryStats::attestation_errors`]) and logged with the peer at `debug`.
    pub fn with_attestations(
        mut self,
        network: valtrack_core::Network,
        messages: impl futures::Stream<Item = valtrack_core::GossipMessage> + Send + 'static,
    ) -> Self {
        self.attestations = Some((network, Box::pin(messages)));
        self
    }

    /// With attestations on: names the validators of phase0 attestations (which carry only a
    /// committee seat) from their epoch's committees, fetched from `api` once per epoch.
    /// Attestations wait (boundedly) for their epoch's committees; when the API fails they
    /// are emitted unresolved. Electra `SingleAttestation`s name their validator themselves.
    pub fn with_beacon_api(mut self, api: crate::BeaconApi) -> Self {
        self.beacon_api = Some(api);
        self
    }

    /// Adds the outcomes of handshakes with peers that dialed us: each becomes a metadata
    /// event (direction `inbound`), and a peer we know counts as visited.
    pub fn with_inbound(
        mut self,
        inbound: impl futures::Stream<Item = InboundOutcome> + Send + 'static,
    ) -> Self {
        self.inbound = Some(Box::pin(inbound));
        self
    }

    /// Adds a [`SubnetProbe`]: each peer's gossip subscriptions (on the digest of its last
    /// Status) then go into its metadata events as `subscribed_attnets`/`subscribed_syncnets`.
    /// Subscriptions arrive while connected, so an event carries what was known when its
    /// handshake ended (at worst the previous visit's).
    pub fn with_probe(mut self, probe: &impl SubnetProbe) -> Self {
        self.observations = Some(Box::pin(probe.observations()));
        self
    }

    /// Its counters (shared; readable while it runs).
    pub fn stats(&self) -> Arc<SentryStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` completes, then aborts handshakes in flight and flushes the sink.
    /// Returns the sink's flush error, if any; sink errors while running are counted and
    /// logged, not fatal.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), SinkError> {
        let Self {
            crawler,
            handshaker,
            sink,
            config,
            stats,
            mut observations,
            mut inbound,
            attestations,
            beacon_api,
        } = self;
        let mut resolver = None;
        let (mut attributor, mut attestations) = match attestations {
            Some((network, stream)) => {
                resolver = beacon_api
                    .map(|api| resolver::Resolver::new(api, network.clone(), stats.clone()));
                (
                    Some(attestations::Attributor::new(network, stats.clone())),
                    Some(stream),
                )
            }
            None => (None, None),
        };
        let mut run = Run {
            sink,
            config,
            stats,
            store: PeerStore::new(0),
            in_flight: std::collections::HashSet::new(),
            counter: 0,
            subscriptions: crate::probe::SubscriptionTracker::default(),
        };
        run.store = PeerStore::new(run.config.max_peers);
        let mut discovered = std::pin::pin!(crawler.discovered());
        let mut crawler_done = false;
        let mut handshakes: JoinSet<Outcome> = JoinSet::new();
        let mut tick = tokio::time::interval(run.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                node = discovered.next(), if !crawler_done => match node {
                    Some(node) => run.on_discovered(node).await,
                    None => crawler_done = true,
                },
                obs = next_observation(&mut observations), if observations.is_some() => match obs {
                    Some(obs) => run.subscriptions.apply(&obs),
                    None => observations = None,
                },
                message = next_attestation(&mut attestations), if attestations.is_some() => match message {
                    Some(message) => {
                        // Subscriptions the host reported before this message are queued
                        // already: apply them first, so the judgement sees them.
                        drain_observations(&mut observations, &mut run.subscriptions);
                        if let Some(a) = attributor.as_mut() {
                            if let Some(judged) = a.judge(&message, &run.subscriptions) {
                                match resolver.as_mut() {
                                    Some(r) => {
                                        for judged in r.offer(judged) {
                                            run.on_attestation(judged).await;
                                        }
                                    }
                                    None => run.on_attestation(judged).await,
                                }
                            }
                        }
                    }
                    None => attestations = None,
                },
                fetched = next_fetched(&mut resolver), if resolver.as_ref().is_some_and(resolver::Resolver::fetching) => {
                    if let Some(r) = resolver.as_mut() {
                        for judged in r.on_fetched(fetched) {
                            run.on_attestation(judged).await;
                        }
                    }
                }
                outcome = next_inbound(&mut inbound), if inbound.is_some() => match outcome {
                    Some(outcome) => run.on_inbound(outcome).await,
                    None => inbound = None,
                },
                Some(joined) = handshakes.join_next(), if !handshakes.is_empty() => {
                    match joined {
                        Ok(outcome) => run.on_outcome(outcome).await,
                        Err(e) => warn!(target: LOG, %e, "handshake task failed"),
                    }
                }
                _ = tick.tick() => {
                    run.forget_stale().await;
                    run.schedule(&mut handshakes, &handshaker);
                }
            }
        }
        handshakes.abort_all();
        if let Some(r) = resolver.as_mut() {
            for judged in r.drain() {
                run.on_attestation(judged).await;
            }
        }
        run.sink.flush().await
    }
}

struct Run<S> {
    sink: S,
    config: SentryConfig,
    stats: Arc<SentryStats>,
    store: PeerStore,
    in_flight: std::collections::HashSet<PeerId>,
    counter: u64,
    subscriptions: crate::probe::SubscriptionTracker,
}

async fn next_observation(obs: &mut Option<Observations>) -> Option<SubnetObservation> {
    match obs {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

async fn next_attestation(
    messages: &mut Option<Attestations>,
) -> Option<valtrack_core::GossipMessage> {
    match messages {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

fn drain_observations(
    observations: &mut Option<Observations>,
    subscriptions: &mut crate::probe::SubscriptionTracker,
) {
    use futures::FutureExt;
    let Some(stream) = observations.as_mut() else {
        return;
    };
    // Bounded: at most one observation queue's worth.
    for _ in 0..crate::host::OBSERVATION_QUEUE {
        match stream.next().now_or_never() {
            Some(Some(obs)) => subscriptions.apply(&obs),
            _ => break,
        }
    }
}

async fn next_fetched(
    resolver: &mut Option<resolver::Resolver>,
) -> (
    valtrack_core::Epoch,
    Result<valtrack_core::committees::EpochCommittees, crate::BeaconApiError>,
) {
    match resolver {
        Some(r) => r.fetched().await,
        None => std::future::pending().await,
    }
}

async fn next_inbound(inbound: &mut Option<Inbound>) -> Option<InboundOutcome> {
    match inbound {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn first_addr(info: &EnrInfo) -> Option<String> {
    match (info.ip4, info.tcp4) {
        (Some(ip), Some(port)) => Some(format!("/ip4/{ip}/tcp/{port}")),
        _ => None,
    }
}

impl<S: EventSink> Run<S> {
    fn meta(&mut self, kind: EventKind, peer: PeerId, enr: Option<String>) -> EventMeta {
        self.counter += 1;
        EventMeta::new(
            kind,
            &self.config.crawler_id,
            &self.config.crawler_location,
            now_ms(),
            peer,
            enr,
            &self.counter.to_le_bytes(),
        )
    }

    async fn emit(&mut self, event: Event) {
        match self.sink.send(event).await {
            Ok(()) => self.stats.events.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                warn!(target: LOG, error = %e, "sink refused an event");
                self.stats.sink_errors.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    async fn on_attestation(&mut self, judged: attestations::Judged) {
        let attestations::Judged {
            peer,
            node_id,
            facts,
            delay_ms,
            evidence,
        } = judged;
        let enr = self.store.get_mut(&peer).map(|rec| rec.enr.clone());
        self.counter += 1;
        let meta = EventMeta::with_node_id(
            EventKind::Attestation,
            &self.config.crawler_id,
            &self.config.crawler_location,
            now_ms(),
            (peer, node_id),
            enr,
            &self.counter.to_le_bytes(),
        );
        self.emit(Event::Attestation(AttestationEvent {
            meta,
            form: facts.form,
            subnet: facts.subnet,
            slot: facts.slot,
            committee_index: facts.committee_index,
            attester_index: facts.attester_index,
            aggregation_bit: facts.aggregation_bit,
            target_epoch: facts.target_epoch,
            beacon_block_root: facts.beacon_block_root,
            first_seen_delay_ms: delay_ms,
            evidence,
        }))
        .await;
    }

    async fn on_discovered(&mut self, node: DiscoveredNode) {
        let peer = node.info.peer_id;
        if node.update == NodeUpdate::Gone {
            if let Some(rec) = self.store.remove(&peer) {
                self.disappeared(peer, rec).await;
            }
            return;
        }
        let reason = match self.store.upsert(&node, Instant::now()) {
            Upsert::New => {
                self.stats.discovered.fetch_add(1, Ordering::Relaxed);
                DiscoveryReason::FirstSeen
            }
            Upsert::Updated => DiscoveryReason::SeqChanged,
            Upsert::Unchanged | Upsert::Full => return,
        };
        self.stats
            .peers
            .store(self.store.len() as u64, Ordering::Relaxed);
        let meta = self.meta(EventKind::Discovery, peer, Some(node.enr.clone()));
        self.emit(Event::Discovery(DiscoveryEvent::new(
            meta, reason, &node.info, node.class,
        )))
        .await;
    }

    async fn disappeared(&mut self, peer: PeerId, rec: PeerRecord) {
        let meta = self.meta(EventKind::Discovery, peer, Some(rec.enr.clone()));
        let event = DiscoveryEvent::new(meta, DiscoveryReason::Disappeared, &rec.info, rec.class);
        self.emit(Event::Discovery(event)).await;
        self.stats
            .peers
            .store(self.store.len() as u64, Ordering::Relaxed);
    }

    async fn forget_stale(&mut self) {
        let Some(cutoff) = Instant::now().checked_sub(self.config.forget_after) else {
            return;
        };
        for peer in self.store.stale(cutoff) {
            if self.in_flight.contains(&peer) {
                continue;
            }
            if let Some(rec) = self.store.remove(&peer) {
                debug!(target: LOG, %peer, "forgotten");
                self.disappeared(peer, rec).await;
            }
        }
    }

    fn schedule<H: Handshaker>(&mut self, set: &mut JoinSet<Outcome>, handshaker: &Arc<H>) {
        let free = self.config.concurrency.saturating_sub(self.in_flight.len());
        if free == 0 {
            return;
        }
        let now = Instant::now();
        let due: Vec<DiscoveredNode> = self
            .store
            .due(now)
            .filter(|r| !self.in_flight.contains(&r.info.peer_id))
            .take(free)
            .map(|r| DiscoveredNode {
                enr: r.enr.clone(),
                info: r.info.clone(),
                class: r.class,
                update: NodeUpdate::New,
            })
            .collect();
        for node in due {
            let peer = node.info.peer_id;
            self.in_flight.insert(peer);
            let h = handshaker.clone();
            set.spawn(async move {
                let addr = first_addr(&node.info);
                let result = h.handshake(&node).await;
                (peer, addr, result)
            });
        }
    }

    async fn on_inbound(&mut self, (peer, result): InboundOutcome) {
        self.stats.inbound.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let revisit = self.config.revisit_interval;
        let enr = self.store.get_mut(&peer).map(|rec| {
            if let Ok(info) = &result {
                // Just seen: no need to dial it again before the next revisit.
                rec.visited(info, now, revisit);
            }
            rec.enr.clone()
        });
        let meta = self.meta(EventKind::Metadata, peer, enr);
        let event = match result {
            Ok(info) => {
                self.stats.handshakes_ok.fetch_add(1, Ordering::Relaxed);
                self.metadata_event(meta, peer, &info)
            }
            Err(error) => {
                debug!(target: LOG, %peer, %error, "inbound handshake failed");
                self.stats.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                let mut event = MetadataEvent::from_failure(meta, None, &error);
                event.direction = valtrack_core::events::Direction::Inbound;
                event
            }
        };
        self.emit(Event::Metadata(event)).await;
    }

    /// The metadata event of a successful handshake, with the subscriptions seen so far.
    fn metadata_event(&self, meta: EventMeta, peer: PeerId, info: &PeerInfo) -> MetadataEvent {
        let mut event = MetadataEvent::from_peer_info(meta, info);
        let digest = info.status.as_ref().map(|s| s.fork_digest());
        if let Some(subs) = digest.and_then(|d| self.subscriptions.get(&peer, d)) {
            event.subscribed_attnets = Some(subs.attnets);
            event.subscribed_syncnets = Some(subs.syncnets);
        }
        event
    }

    async fn on_outcome(&mut self, (peer, addr, result): Outcome) {
        self.in_flight.remove(&peer);
        let now = Instant::now();
        let revisit = self.config.revisit_interval;
        let (base, cap) = (self.config.backoff_base, self.config.backoff_cap);
        let Some(rec) = self.store.get_mut(&peer) else {
            return;
        }; // forgotten meanwhile
        let enr = Some(rec.enr.clone());
        let event = match result {
            Ok(info) => {
                rec.visited(&info, now, revisit);
                self.stats.handshakes_ok.fetch_add(1, Ordering::Relaxed);
                let meta = self.meta(EventKind::Metadata, peer, enr);
                self.metadata_event(meta, peer, &info)
            }
            Err(error) => {
                rec.failures = rec.failures.saturating_add(1);
                rec.next_attempt =
                    now + backoff(rec.failures, base, cap).max(Duration::from_millis(1));
                debug!(target: LOG, %peer, failures = rec.failures, %error, "handshake failed");
                self.stats.handshakes_failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.stats.last_handshake_error.lock() {
                    *last = Some(error.to_string());
                }
                let meta = self.meta(EventKind::Metadata, peer, enr);
                MetadataEvent::from_failure(meta, addr, &error)
            }
        };
        self.emit(Event::Metadata(event)).await;
    }
}
