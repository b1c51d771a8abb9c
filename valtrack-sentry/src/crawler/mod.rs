//! A discv5 crawler that enumerates routing tables rather than walking at random; see
//! [`Discv5Crawler`].
//!
//! # The `discv5` crate's multi-packet replies
//!
//! `Discv5::find_node_designated_peer` hands back only the first NODES packet of a reply: the
//! service takes the request's callback on the first packet and drops the request, so the
//! later packets are logged as "Received an RPC response which doesn't match a request"
//! (`service.rs`, `handle_rpc_response`, discv5 0.12.0). One packet holds about five ENRs of
//! 200 bytes. The crawler copes by asking one distance per request (small, near buckets fit
//! in one packet, and every node sits in the near buckets of its neighbours) and by asking
//! every node.
//!
//! # Slow subscribers
//!
//! Discoveries go out on a broadcast channel of
//! [`event_capacity`](CrawlerConfigBuilder::event_capacity) entries. A subscriber that falls
//! further behind misses the updates that overflowed, and is then replayed the whole table
//! (every known node as [`NodeUpdate::New`](valtrack_core::NodeUpdate::New), read one at a
//! time, with a warning), so no node is lost to it; only the `Gone` updates it missed are.
//! The crawler itself never waits for a subscriber.

mod config;
mod state;
mod task;

use std::net::SocketAddr;
use std::sync::Arc;

use discv5::{ConfigBuilder, Discv5, ListenConfig};
use enr::CombinedKey;
use futures::Stream;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use valtrack_core::{Crawler, DiscoveredNode};

pub use config::{
    CrawlerConfig, CrawlerConfigBuilder, DEFAULT_DISTANCES_PER_REQUEST, DEFAULT_EVENT_CAPACITY,
    DEFAULT_GONE_AFTER, DEFAULT_INITIAL_LOOKUPS, DEFAULT_LISTEN, DEFAULT_LOOKUP_INTERVAL,
    DEFAULT_MAX_ACTIVE_NODES, DEFAULT_MAX_DISTANCES, DEFAULT_MAX_FAILURES_PER_NODE,
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_NODES, DEFAULT_PEER_REQUEST_INTERVAL,
    DEFAULT_QUERY_PARALLELISM, DEFAULT_RECRAWL_INTERVAL, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_AFTER, DEFAULT_SESSION_CACHE_CAPACITY, DEFAULT_STOP_AFTER_EMPTY,
    DEFAULT_STOP_AFTER_STALE,
};

use crate::error::CrawlerError;
use task::Shared;

/// Counters of a [`Discv5Crawler`], since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrawlerStats {
    /// Nodes known now.
    pub known: u64,
    /// Nodes waiting to be enumerated.
    pub queued: u64,
    /// Nodes reported new.
    pub found: u64,
    /// ENR seq increases reported.
    pub seq_changed: u64,
    /// Nodes reported gone.
    pub gone: u64,
    /// FINDNODE requests sent.
    pub requests: u64,
    /// Requests that failed (timeout, no session, unreachable).
    pub failures: u64,
    /// Replies holding ENRs at distances we did not ask for (those ENRs are dropped).
    pub invalid_replies: u64,
    /// ENRs dropped: not secp256k1, or the node cap reached.
    pub dropped_enrs: u64,
    /// Random lookups run.
    pub lookups: u64,
    /// Node enumerations started.
    pub enumerations: u64,
}

/// A discv5 crawler on the `discv5` crate that enumerates routing tables rather than walking
/// at random.
///
/// Seeded by bootnodes (never filtered on `eth2`) and random lookups, it asks every node it
/// finds (and every node whose ENR seq rises) FINDNODE at log-distances 256, 255, … downwards,
/// one distance per request by default, and stops a node after
/// [`stop_after_empty`](CrawlerConfigBuilder::stop_after_empty) empty buckets in a row (or,
/// if set, [`stop_after_stale`](CrawlerConfigBuilder::stop_after_stale) replies bringing
/// nothing new), or after [`max_failures_per_node`](CrawlerConfigBuilder::max_failures_per_node)
/// failed requests (one, for a node that never answered; it is tried again later). Every
/// packet of a multi-packet NODES reply is taken (`vendor/discv5`). Requests in flight are
/// capped, and requests to one node are paced. Each
/// (node, seq) is decoded once; the highest-seq ENR of each node is kept. Every known node is
/// enumerated again after [`recrawl_interval`](CrawlerConfigBuilder::recrawl_interval) (first asking for its own
/// record, so a higher seq is seen), and a node that has not answered for
/// [`gone_after`](CrawlerConfigBuilder::gone_after) is reported gone.
///
/// [`bind`](Self::bind) opens the socket; [`start`](Self::start) starts crawling, so a
/// subscriber taken in between misses nothing. Dropping the crawler stops it.
///
/// # Example
///
/// ```no_run
/// use futures::StreamExt;
/// use valtrack_core::{Crawler, Network};
/// use valtrack_sentry::{CrawlerConfig, Discv5Crawler};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let network = Network::mainnet();
/// let ef = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";
/// let config = CrawlerConfig::builder(&network).bootnodes([ef]).build()?;
/// let crawler = Discv5Crawler::bind(config).await?;
/// let mut found = Box::pin(crawler.discovered());
/// crawler.start();
/// while let Some(node) = found.next().await {
///     println!("{:?} {} {:?}", node.update, node.info.node_id, node.class);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Discv5Crawler {
    shared: Arc<Shared>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Discv5Crawler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discv5Crawler")
            .field("local_addr", &self.local_addr)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Discv5Crawler {
    /// Binds the UDP socket and starts the discv5 service, without crawling yet. Must be
    /// called within a tokio runtime.
    pub async fn bind(config: CrawlerConfig) -> Result<Self, CrawlerError> {
        let key = match config.secret_key {
            Some(secret) => {
                let mut bytes = secret;
                CombinedKey::secp256k1_from_bytes(&mut bytes)
                    .map_err(|_| CrawlerError::SecretKey)?
            }
            None => CombinedKey::generate_secp256k1(),
        };
        // No address in our record: nobody should add the crawler to a routing table.
        let mut local_enr = discv5::Enr::builder();
        if config.attnets != valtrack_core::AttestationSubnets::NONE {
            // Advertise what the host subscribes to (attribution: all 64), honestly.
            local_enr.add_value(
                "attnets",
                &alloy_rlp::Bytes::copy_from_slice(&config.attnets.0),
            );
        }
        let local_enr = local_enr
            .build(&key)
            .map_err(|e| CrawlerError::LocalEnr(e.to_string().into()))?;
        // The crate does not report the port it bound for port 0: take a free one from the
        // OS first, so that the address we report is the real one.
        let listen = match config.listen.port() {
            0 => std::net::UdpSocket::bind(config.listen)
                .and_then(|s| s.local_addr())
                .unwrap_or(config.listen),
            _ => config.listen,
        };
        let mut builder = ConfigBuilder::new(ListenConfig::from_ip(listen.ip(), listen.port()));
        builder
            .request_timeout(config.request_timeout)
            .session_cache_capacity(config.session_cache_capacity)
            .query_parallelism(config.query_parallelism)
            .disable_enr_update()
            .auto_nat_listen_duration(None)
            .disable_report_discovered_peers();
        if config.packet_filter {
            builder.enable_packet_filter();
        }
        let mut discv5 = Discv5::new(local_enr, key, builder.build())
            .map_err(|reason| CrawlerError::Discv5 { reason })?;
        discv5.start().await.map_err(|e| CrawlerError::Start {
            addr: listen,
            reason: format!("{e:?}"),
        })?;
        info!(target: "valtrack::crawler", %listen, node_id = %discv5.local_enr().node_id(), "discv5 crawler bound");
        Ok(Self {
            shared: Arc::new(Shared::new(discv5, config)),
            task: std::sync::Mutex::new(None),
            local_addr: listen,
        })
    }

    /// Starts crawling (idempotent).
    pub fn start(&self) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_none() {
            *task = Some(tokio::spawn(task::run(self.shared.clone())));
        }
    }

    /// [`bind`](Self::bind), then [`start`](Self::start).
    pub async fn spawn(config: CrawlerConfig) -> Result<Self, CrawlerError> {
        let crawler = Self::bind(config).await?;
        crawler.start();
        Ok(crawler)
    }

    /// Every node known now, each with the highest-seq ENR seen (their `update` is `New`).
    pub fn known_nodes(&self) -> Vec<DiscoveredNode> {
        self.shared.table().all()
    }

    /// Number of nodes known now.
    pub fn known_count(&self) -> usize {
        self.shared.table().len()
    }

    /// Counters since start.
    pub fn stats(&self) -> CrawlerStats {
        self.shared.stats()
    }

    /// The crawler's own ENR (no address in it).
    pub fn local_enr(&self) -> discv5::Enr {
        self.shared.discv5.local_enr()
    }

    /// The address bound (for port 0, the free port chosen then).
    pub fn listen_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration.
    pub fn config(&self) -> &CrawlerConfig {
        &self.shared.config
    }
}

impl Drop for Discv5Crawler {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl Crawler for Discv5Crawler {
    /// Subscribes to new nodes, seq changes and nodes gone; a subscriber that falls behind
    /// is replayed the table (see [`Discv5Crawler`]). The stream ends when the crawler is
    /// dropped.
    fn discovered(&self) -> impl Stream<Item = DiscoveredNode> + Send + 'static {
        let rx = self.shared.events.subscribe();
        // Weak: the stream must still end when the crawler is dropped.
        let shared = Arc::downgrade(&self.shared);
        let replay: std::collections::VecDeque<enr::NodeId> = std::collections::VecDeque::new();
        futures::stream::unfold(
            (rx, shared, replay),
            |(mut rx, shared, mut replay)| async move {
                loop {
                    if let Some(id) = replay.pop_front() {
                        match shared.upgrade() {
                            Some(s) => {
                                if let Some(node) = s.table().get(&id) {
                                    return Some((node, (rx, shared, replay)));
                                }
                                continue;
                            }
                            None => replay.clear(),
                        }
                    }
                    match rx.recv().await {
                        Ok(node) => return Some((node, (rx, shared, replay))),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            if let Some(s) = shared.upgrade() {
                                replay = s.table().node_ids().into();
                            }
                            warn!(target: "valtrack::crawler", missed, replay = replay.len(),
                            "slow subscriber missed discoveries: replaying the table");
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}
