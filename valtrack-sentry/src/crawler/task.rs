//! The crawl loop: enumerates each node's routing table, runs random lookups, re-crawls and
//! expires nodes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use discv5::{Discv5, Enr};
use enr::NodeId;
use tokio::sync::{broadcast, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, trace};
use valtrack_core::{DiscoveredNode, NodeUpdate};

use super::config::CrawlerConfig;
use super::state::{DropReason, Observed, Table};
use super::CrawlerStats;

/// Most random lookups running at once.
const MAX_LOOKUPS: usize = 2;

/// Counters behind [`CrawlerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) invalid_replies: AtomicU64,
    pub(crate) dropped_enrs: AtomicU64,
    pub(crate) lookups: AtomicU64,
    pub(crate) new: AtomicU64,
    pub(crate) seq_changed: AtomicU64,
    pub(crate) gone: AtomicU64,
    pub(crate) enumerations: AtomicU64,
}

/// What the crawl loop and its jobs share.
pub(crate) struct Shared {
    pub(crate) discv5: Discv5,
    pub(crate) table: Mutex<Table>,
    pub(crate) events: broadcast::Sender<DiscoveredNode>,
    pub(crate) counters: Counters,
    pub(crate) config: CrawlerConfig,
    in_flight: Semaphore,
    wake: Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("local_enr", &self.discv5.local_enr().to_base64())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(discv5: Discv5, config: CrawlerConfig) -> Self {
        let (events, _) = broadcast::channel(config.event_capacity);
        Self {
            table: Mutex::new(Table::new(config.digests.clone(), config.max_nodes)),
            in_flight: Semaphore::new(config.max_in_flight),
            wake: Notify::new(),
            counters: Counters::default(),
            discv5,
            events,
            config,
        }
    }

    /// The table; a panic elsewhere while holding the lock does not poison the crawler.
    pub(crate) fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stats(&self) -> CrawlerStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (known, queued) = {
            let table = self.table();
            (table.len() as u64, table.queued() as u64)
        };
        CrawlerStats {
            known,
            queued,
            found: load(&c.new),
            seq_changed: load(&c.seq_changed),
            gone: load(&c.gone),
            requests: load(&c.requests),
            failures: load(&c.failures),
            invalid_replies: load(&c.invalid_replies),
            dropped_enrs: load(&c.dropped_enrs),
            lookups: load(&c.lookups),
            enumerations: load(&c.enumerations),
        }
    }

    /// Takes in ENRs; returns how many were new or had a higher seq.
    fn ingest(&self, enrs: impl IntoIterator<Item = Enr>, from_itself: bool) -> usize {
        let now = std::time::Instant::now();
        let mut reports = Vec::new();
        {
            let mut table = self.table();
            for enr in enrs {
                match table.observe(&enr, from_itself, now) {
                    (Observed::Reported(update), Some(report)) => {
                        let counter = match update {
                            NodeUpdate::SeqChanged { .. } => &self.counters.seq_changed,
                            _ => &self.counters.new,
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        reports.push(report);
                    }
                    (Observed::Dropped(reason), _) if reason != DropReason::Tombstone => {
                        self.counters.dropped_enrs.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }
        let n = reports.len();
        for report in reports {
            trace!(target: "valtrack::crawler", node_id = %report.info.node_id, update = ?report.update, class = ?report.class, "discovered");
            // No subscriber is not an error: the table keeps everything.
            let _ = self.events.send(report);
        }
        if n > 0 {
            self.wake.notify_one();
        }
        n
    }

    /// One FINDNODE to `enr`, paced and bounded; `None` on failure.
    async fn request(
        &self,
        enr: &Enr,
        distances: Vec<u64>,
        next_at: &mut Instant,
    ) -> Option<Vec<Enr>> {
        tokio::time::sleep_until(*next_at).await;
        let permit = self.in_flight.acquire().await.ok()?;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        // discv5 times out by itself (timeout × retries); this guard only bounds a stuck service.
        let guard = self.config.request_timeout * 4 + Duration::from_secs(1);
        let fut = self
            .discv5
            .find_node_designated_peer(enr.clone(), distances);
        let result = tokio::time::timeout(guard, fut).await;
        drop(permit);
        *next_at = Instant::now() + self.config.peer_request_interval;
        match result {
            Ok(Ok(enrs)) => Some(enrs),
            Ok(Err(error)) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                debug!(target: "valtrack::crawler", node_id = %enr.node_id(), ?error, "FINDNODE failed");
                None
            }
            Err(_) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                debug!(target: "valtrack::crawler", node_id = %enr.node_id(), "FINDNODE stuck");
                None
            }
        }
    }
}

/// Whether we can send to the node at all (IPv4 UDP, not unspecified, not port 0). Others
/// (IPv6-only records among them) are recorded and reported but not enumerated.
fn contactable(enr: &Enr) -> bool {
    enr.udp4_socket()
        .is_some_and(|s| !s.ip().is_unspecified() && !s.ip().is_broadcast() && s.port() != 0)
}

/// Enumerates one node's routing table from log-distance 256 downwards.
async fn enumerate(shared: Arc<Shared>, enr: Enr, recrawl: bool, resume: Option<u64>) {
    let id = enr.node_id();
    let config = &shared.config;
    let mut answered = false;
    let mut unfinished = None;
    if contactable(&enr) {
        shared.counters.enumerations.fetch_add(1, Ordering::Relaxed);
        let peer: discv5::Key<NodeId> = id.into();
        let mut next_at = Instant::now();
        let mut failures = 0;
        // A node that never answered gets one request per attempt (the crate already sent it
        // twice): silent records are common on mainnet, and each failure holds a slot of
        // `max_in_flight` for the whole timeout.
        let max_failures = if shared.table().verified(&id) {
            config.max_failures_per_node
        } else {
            1
        };
        if recrawl && resume.is_none() {
            // Its own record: liveness, and how a higher seq is noticed.
            match shared.request(&enr, vec![0], &mut next_at).await {
                Some(enrs) => {
                    answered = true;
                    let own: Vec<Enr> = enrs.into_iter().filter(|e| e.node_id() == id).collect();
                    shared.ingest(own, true);
                }
                None => failures += 1,
            }
        }
        let lowest = 257 - config.max_distances as u64;
        let mut distance = resume.unwrap_or(256).clamp(lowest, 256);
        let (mut stale, mut empty) = (0, 0);
        // Empty distances only end an enumeration once the table has shown something: a node
        // that knows few others (a small devnet) can have nothing at the top distances.
        let mut seen_any = false;
        while distance >= lowest && failures < max_failures {
            let n = (config.distances_per_request as u64).min(distance - lowest + 1);
            let distances: Vec<u64> = (0..n).map(|i| distance - i).collect();
            let Some(enrs) = shared.request(&enr, distances.clone(), &mut next_at).await else {
                failures += 1;
                continue;
            };
            answered = true;
            failures = 0;
            // The crate does not check distances for a designated request: we do.
            let before = enrs.len();
            let valid: Vec<Enr> = enrs
                .into_iter()
                .filter(|e| {
                    peer.log2_distance(&e.node_id().into())
                        .is_some_and(|d| distances.contains(&d))
                })
                .collect();
            if valid.len() < before {
                shared
                    .counters
                    .invalid_replies
                    .fetch_add(1, Ordering::Relaxed);
                debug!(target: "valtrack::crawler", node_id = %id, dropped = before - valid.len(), "ENRs at unrequested distances");
            }
            seen_any |= !valid.is_empty();
            empty = if valid.is_empty() && seen_any {
                empty + 1
            } else {
                0
            };
            stale = if shared.ingest(valid, false) == 0 {
                stale + 1
            } else {
                0
            };
            if empty >= config.stop_after_empty
                || config.stop_after_stale.is_some_and(|n| stale >= n)
            {
                break;
            }
            distance -= n;
        }
        if failures >= max_failures {
            // A timeout must not end the node's enumeration for good: resume later.
            unfinished = Some(distance);
        }
    }
    shared.table().job_done(
        &id,
        answered,
        unfinished,
        config.retry_after,
        std::time::Instant::now(),
    );
}

/// One random lookup; its results are taken in (the event stream would drop some).
async fn lookup(shared: Arc<Shared>) {
    shared.counters.lookups.fetch_add(1, Ordering::Relaxed);
    let target = NodeId::random();
    let guard = Duration::from_secs(120);
    match tokio::time::timeout(guard, shared.discv5.find_node(target)).await {
        Ok(Ok(enrs)) => {
            let new = shared.ingest(enrs, false);
            debug!(target: "valtrack::crawler", new, "random lookup done");
        }
        Ok(Err(error)) => debug!(target: "valtrack::crawler", ?error, "random lookup failed"),
        Err(_) => debug!(target: "valtrack::crawler", "random lookup stuck"),
    }
}

/// The crawl loop. Runs until aborted; aborting it aborts every job.
pub(crate) async fn run(shared: Arc<Shared>) {
    let config = shared.config.clone();
    for boot in &config.bootnodes {
        if let Err(reason) = shared.discv5.add_enr(boot.clone()) {
            debug!(target: "valtrack::crawler", node_id = %boot.node_id(), reason, "bootnode not added to the table");
        }
    }
    shared.ingest(config.bootnodes.iter().cloned(), false);
    let mut jobs = JoinSet::new();
    let mut lookups = JoinSet::new();
    for _ in 0..config.initial_lookups.min(MAX_LOOKUPS) {
        lookups.spawn(lookup(shared.clone()));
    }
    let tick = (config.recrawl_interval.min(config.gone_after) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(5));
    let mut maintain = tokio::time::interval(tick);
    maintain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lookup_tick = tokio::time::interval_at(
        Instant::now() + config.lookup_interval,
        config.lookup_interval,
    );
    lookup_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while jobs.len() < config.max_active_nodes {
            let Some((enr, recrawl, resume)) = shared.table().next_job(std::time::Instant::now())
            else {
                break;
            };
            jobs.spawn(enumerate(shared.clone(), enr, recrawl, resume));
        }
        tokio::select! {
            Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
            Some(_) = lookups.join_next(), if !lookups.is_empty() => {}
            () = shared.wake.notified() => {}
            _ = maintain.tick() => {
                let gone = shared.table().maintain(
                    std::time::Instant::now(),
                    config.recrawl_interval,
                    config.gone_after,
                );
                for report in gone {
                    shared.counters.gone.fetch_add(1, Ordering::Relaxed);
                    debug!(target: "valtrack::crawler", node_id = %report.info.node_id, "gone");
                    let _ = shared.events.send(report);
                }
            }
            _ = lookup_tick.tick() => {
                if lookups.len() < MAX_LOOKUPS {
                    lookups.spawn(lookup(shared.clone()));
                }
            }
        }
    }
}
