//! Configuration of the [`Discv5Crawler`](super::Discv5Crawler).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use valtrack_core::{AttestationSubnets, ForkDigest, Network};

use crate::error::CrawlerError;

/// Default UDP address the crawler binds: every IPv4 interface, a port chosen by the OS. The
/// crawler's ENR carries no address, so nobody adds it to their routing table.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
/// Default cap on FINDNODE requests in flight: 128. A node that never answers holds its slot
/// for the whole timeout, so the cap bounds how fast a crawl round gets through silent records
/// (and, on mainnet, round trips of 100 ms and more). On a 10,000-record simulated DHT with
/// 10 % silent, every node was asked within 130 s at 32, 38 s at 128 and 37 s at 256, with
/// the same requests; 256 lost more replies to the kernel's default UDP receive buffer.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 128;
/// Default cap on nodes being enumerated at once (each waits for its pacing slot, so this is
/// larger than [`DEFAULT_MAX_IN_FLIGHT`]).
pub const DEFAULT_MAX_ACTIVE_NODES: usize = 512;
/// Default pause between two requests to the same node: 150 ms, about 6.7 requests/s, which
/// keeps us under Lighthouse's packet filter (8 packets/s per node) even with the handshake's
/// extra packet.
pub const DEFAULT_PEER_REQUEST_INTERVAL: Duration = Duration::from_millis(150);
/// Default number of log-distances asked in one FINDNODE request. Replies are filled nearest
/// bucket first and stop at 16 records, so one distance per request sees the most of each
/// bucket.
pub const DEFAULT_DISTANCES_PER_REQUEST: usize = 1;
/// Default number of log-distances asked per node, from 256 downwards (256..=239). With fewer
/// than 2^17 nodes, the buckets below are empty.
pub const DEFAULT_MAX_DISTANCES: usize = 18;
/// Default number of consecutive empty replies (empty buckets) after which a node's
/// enumeration stops: below a few empty buckets, the rest are almost surely empty too.
pub const DEFAULT_STOP_AFTER_EMPTY: usize = 3;
/// Default for stopping a node after consecutive replies that bring nothing new: off. Replies
/// are cut to one packet, so "nothing new" from the big far buckets says little about the
/// small near ones, which is where the nodes that only a few others know sit; with this rule
/// on, re-crawls never reach them again.
pub const DEFAULT_STOP_AFTER_STALE: Option<usize> = None;
/// Default number of consecutive failed requests after which a node's enumeration stops.
pub const DEFAULT_MAX_FAILURES_PER_NODE: usize = 2;
/// Default pause before an enumeration cut short by failures resumes where it stopped (at most
/// three times per round).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Default interval after which every known node is enumerated again (and asked for its own
/// ENR, which is how a higher seq is noticed).
pub const DEFAULT_RECRAWL_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Default time without an answer after which a node is reported
/// [`Gone`](valtrack_core::NodeUpdate::Gone) and forgotten.
pub const DEFAULT_GONE_AFTER: Duration = Duration::from_secs(60 * 60);
/// Default interval between random lookups (`find_node(random id)`), which keep the seeds
/// fresh; the first ones run at start.
pub const DEFAULT_LOOKUP_INTERVAL: Duration = Duration::from_secs(60);
/// Default number of random lookups at start.
pub const DEFAULT_INITIAL_LOOKUPS: usize = 2;
/// Default capacity of the discovery broadcast channel.
pub const DEFAULT_EVENT_CAPACITY: usize = 4096;
/// Default cap on known nodes; reports of further nodes are dropped (and counted).
pub const DEFAULT_MAX_NODES: usize = 200_000;
/// Default discv5 session cache: at least the number of nodes crawled (Lighthouse uses 5,000).
pub const DEFAULT_SESSION_CACHE_CAPACITY: usize = 5_000;
/// Default discv5 request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Default discv5 lookup parallelism (the crate's default).
pub const DEFAULT_QUERY_PARALLELISM: usize = 3;

/// Configuration of a [`Discv5Crawler`](super::Discv5Crawler). Build with
/// [`CrawlerConfig::builder`].
#[derive(Debug, Clone)]
pub struct CrawlerConfig {
    pub(crate) digests: Vec<ForkDigest>,
    pub(crate) bootnodes: Vec<discv5::Enr>,
    pub(crate) listen: SocketAddr,
    pub(crate) secret_key: Option<[u8; 32]>,
    pub(crate) max_in_flight: usize,
    pub(crate) max_active_nodes: usize,
    pub(crate) peer_request_interval: Duration,
    pub(crate) distances_per_request: usize,
    pub(crate) max_distances: usize,
    pub(crate) stop_after_empty: usize,
    pub(crate) stop_after_stale: Option<usize>,
    pub(crate) max_failures_per_node: usize,
    pub(crate) retry_after: Duration,
    pub(crate) recrawl_interval: Duration,
    pub(crate) gone_after: Duration,
    pub(crate) lookup_interval: Duration,
    pub(crate) initial_lookups: usize,
    pub(crate) event_capacity: usize,
    pub(crate) max_nodes: usize,
    pub(crate) session_cache_capacity: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) query_parallelism: usize,
    pub(crate) packet_filter: bool,
    pub(crate) attnets: AttestationSubnets,
}

impl CrawlerConfig {
    /// Starts a configuration that classifies nodes against every digest of `network`, with
    /// every default and no bootnode.
    pub fn builder(network: &Network) -> CrawlerConfigBuilder {
        CrawlerConfigBuilder {
            digests: network.all_digests().iter().map(|d| d.digest).collect(),
            bootnodes: Vec::new(),
            listen: DEFAULT_LISTEN,
            secret_key: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_active_nodes: DEFAULT_MAX_ACTIVE_NODES,
            peer_request_interval: DEFAULT_PEER_REQUEST_INTERVAL,
            distances_per_request: DEFAULT_DISTANCES_PER_REQUEST,
            max_distances: DEFAULT_MAX_DISTANCES,
            stop_after_empty: DEFAULT_STOP_AFTER_EMPTY,
            stop_after_stale: DEFAULT_STOP_AFTER_STALE,
            max_failures_per_node: DEFAULT_MAX_FAILURES_PER_NODE,
            retry_after: DEFAULT_RETRY_AFTER,
            recrawl_interval: DEFAULT_RECRAWL_INTERVAL,
            gone_after: DEFAULT_GONE_AFTER,
            lookup_interval: DEFAULT_LOOKUP_INTERVAL,
            initial_lookups: DEFAULT_INITIAL_LOOKUPS,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            max_nodes: DEFAULT_MAX_NODES,
            session_cache_capacity: DEFAULT_SESSION_CACHE_CAPACITY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            query_parallelism: DEFAULT_QUERY_PARALLELISM,
            packet_filter: false,
            attnets: AttestationSubnets::NONE,
            bad_bootnodes: 0,
        }
    }

    /// The digests nodes are classified against.
    pub fn digests(&self) -> &[ForkDigest] {
        &self.digests
    }

    /// The bootnodes.
    pub fn bootnodes(&self) -> &[discv5::Enr] {
        &self.bootnodes
    }
}

/// Builder of [`CrawlerConfig`]; every setter documents its default.
#[derive(Debug, Clone)]
pub struct CrawlerConfigBuilder {
    digests: Vec<ForkDigest>,
    bootnodes: Vec<discv5::Enr>,
    listen: SocketAddr,
    secret_key: Option<[u8; 32]>,
    max_in_flight: usize,
    max_active_nodes: usize,
    peer_request_interval: Duration,
    distances_per_request: usize,
    max_distances: usize,
    stop_after_empty: usize,
    stop_after_stale: Option<usize>,
    max_failures_per_node: usize,
    retry_after: Duration,
    recrawl_interval: Duration,
    gone_after: Duration,
    lookup_interval: Duration,
    initial_lookups: usize,
    event_capacity: usize,
    max_nodes: usize,
    session_cache_capacity: usize,
    request_timeout: Duration,
    query_parallelism: usize,
    packet_filter: bool,
    attnets: AttestationSubnets,
    bad_bootnodes: usize,
}

impl CrawlerConfigBuilder {
    /// Adds bootnodes in text form (`enr:…`). They are never filtered on `eth2` (bootnodes
    /// carry stale digests). Default: none. A record that does not parse makes
    /// [`build`](Self::build) fail.
    pub fn bootnodes<S: AsRef<str>>(mut self, enrs: impl IntoIterator<Item = S>) -> Self {
        for text in enrs {
            let text = text.as_ref().trim();
            let body = text.strip_prefix("enr:").unwrap_or(text);
            match body.parse::<discv5::Enr>() {
                Ok(enr) => self.bootnodes.push(enr),
                Err(_) => self.bad_bootnodes += 1,
            }
        }
        self
    }

    /// Adds decoded bootnodes. Default: none.
    pub fn bootnode_enrs(mut self, enrs: impl IntoIterator<Item = discv5::Enr>) -> Self {
        self.bootnodes.extend(enrs);
        self
    }

    /// Classifies nodes on `digest` as ours too (a devnet whose genesis data we lack).
    pub fn extra_digest(mut self, digest: ForkDigest) -> Self {
        if !self.digests.contains(&digest) {
            self.digests.push(digest);
        }
        self
    }

    /// The UDP address to bind. Default: [`DEFAULT_LISTEN`] (`0.0.0.0:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The secp256k1 secret key of the crawler's discv5 identity. Default: a fresh random key.
    pub fn secret_key(mut self, key: [u8; 32]) -> Self {
        self.secret_key = Some(key);
        self
    }

    /// Cap on FINDNODE requests in flight. Default: [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Cap on nodes enumerated at once. Default: [`DEFAULT_MAX_ACTIVE_NODES`].
    pub fn max_active_nodes(mut self, n: usize) -> Self {
        self.max_active_nodes = n;
        self
    }

    /// Pause between two requests to the same node (pacing). Default:
    /// [`DEFAULT_PEER_REQUEST_INTERVAL`]; zero turns pacing off.
    pub fn peer_request_interval(mut self, interval: Duration) -> Self {
        self.peer_request_interval = interval;
        self
    }

    /// Log-distances per FINDNODE request, 1 to 16. Default:
    /// [`DEFAULT_DISTANCES_PER_REQUEST`].
    pub fn distances_per_request(mut self, n: usize) -> Self {
        self.distances_per_request = n;
        self
    }

    /// Log-distances asked per node, from 256 downwards, 1 to 256. Default:
    /// [`DEFAULT_MAX_DISTANCES`].
    pub fn max_distances(mut self, n: usize) -> Self {
        self.max_distances = n;
        self
    }

    /// Consecutive empty replies after which a node's enumeration stops (at least 1).
    /// Default: [`DEFAULT_STOP_AFTER_EMPTY`].
    pub fn stop_after_empty(mut self, n: usize) -> Self {
        self.stop_after_empty = n;
        self
    }

    /// Consecutive replies bringing nothing new after which a node's enumeration stops
    /// (`None`: never; `Some(0)` is refused). Default: [`DEFAULT_STOP_AFTER_STALE`] (off; see
    /// there why).
    pub fn stop_after_stale(mut self, n: Option<usize>) -> Self {
        self.stop_after_stale = n;
        self
    }

    /// Consecutive failed requests after which a node's enumeration stops (at least 1); a
    /// node that never answered stops after one. Each request is sent twice by the crate.
    /// Default: [`DEFAULT_MAX_FAILURES_PER_NODE`].
    pub fn max_failures_per_node(mut self, n: usize) -> Self {
        self.max_failures_per_node = n;
        self
    }

    /// Pause before an enumeration cut short by failures resumes. Default:
    /// [`DEFAULT_RETRY_AFTER`].
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Interval between two enumerations of the same node. Default:
    /// [`DEFAULT_RECRAWL_INTERVAL`].
    pub fn recrawl_interval(mut self, interval: Duration) -> Self {
        self.recrawl_interval = interval;
        self
    }

    /// Time without an answer after which a node is reported gone. Default:
    /// [`DEFAULT_GONE_AFTER`].
    pub fn gone_after(mut self, after: Duration) -> Self {
        self.gone_after = after;
        self
    }

    /// Interval between random lookups. Default: [`DEFAULT_LOOKUP_INTERVAL`].
    pub fn lookup_interval(mut self, interval: Duration) -> Self {
        self.lookup_interval = interval;
        self
    }

    /// Random lookups at start. Default: [`DEFAULT_INITIAL_LOOKUPS`].
    pub fn initial_lookups(mut self, n: usize) -> Self {
        self.initial_lookups = n;
        self
    }

    /// Capacity of the discovery broadcast channel (at least 1). Default:
    /// [`DEFAULT_EVENT_CAPACITY`].
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n;
        self
    }

    /// Cap on known nodes, of which at most half may be nodes only named by others (not yet
    /// heard from themselves). Default: [`DEFAULT_MAX_NODES`].
    pub fn max_nodes(mut self, n: usize) -> Self {
        self.max_nodes = n;
        self
    }

    /// discv5 session cache capacity. Default: [`DEFAULT_SESSION_CACHE_CAPACITY`].
    pub fn session_cache_capacity(mut self, n: usize) -> Self {
        self.session_cache_capacity = n;
        self
    }

    /// discv5 request timeout. Default: [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// discv5 lookup parallelism. Default: [`DEFAULT_QUERY_PARALLELISM`].
    pub fn query_parallelism(mut self, n: usize) -> Self {
        self.query_parallelism = n;
        self
    }

    /// The `attnets` our own ENR advertises: what the libp2p host subscribes to (all 64 with
    /// attestation attribution). Default: none (the field is left out).
    pub fn attnets(mut self, attnets: AttestationSubnets) -> Self {
        self.attnets = attnets;
        self
    }

    /// Turns on the crate's inbound packet filter (rate limits and bans). Default: off, as a
    /// loopback simulation sends everything from one IP.
    pub fn packet_filter(mut self, on: bool) -> Self {
        self.packet_filter = on;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<CrawlerConfig, CrawlerError> {
        let Self {
            digests,
            bootnodes,
            listen,
            secret_key,
            max_in_flight,
            max_active_nodes,
            peer_request_interval,
            distances_per_request,
            max_distances,
            stop_after_empty,
            stop_after_stale,
            max_failures_per_node,
            retry_after,
            recrawl_interval,
            gone_after,
            lookup_interval,
            initial_lookups,
            event_capacity,
            max_nodes,
            session_cache_capacity,
            request_timeout,
            query_parallelism,
            packet_filter,
            attnets,
            bad_bootnodes,
        } = self;
        let invalid = |reason| Err(CrawlerError::Config { reason });
        if bad_bootnodes > 0 {
            return invalid("a bootnode ENR does not parse");
        }
        if max_in_flight == 0 || max_active_nodes == 0 {
            return invalid("max_in_flight and max_active_nodes must be at least 1");
        }
        if !(1..=16).contains(&distances_per_request) {
            return invalid("distances_per_request must be 1 to 16");
        }
        if !(1..=256).contains(&max_distances) {
            return invalid("max_distances must be 1 to 256");
        }
        if stop_after_empty == 0 || stop_after_stale == Some(0) || max_failures_per_node == 0 {
            return invalid(
                "stop_after_empty, stop_after_stale and max_failures_per_node must be at least 1",
            );
        }
        if event_capacity == 0 || max_nodes == 0 || query_parallelism == 0 {
            return invalid("event_capacity, max_nodes and query_parallelism must be at least 1");
        }
        if recrawl_interval.is_zero() || gone_after.is_zero() || lookup_interval.is_zero() {
            return invalid("recrawl_interval, gone_after and lookup_interval must be non-zero");
        }
        if request_timeout.is_zero() {
            return invalid("request_timeout must be non-zero");
        }
        Ok(CrawlerConfig {
            digests,
            bootnodes,
            listen,
            secret_key,
            max_in_flight,
            max_active_nodes,
            peer_request_interval,
            distances_per_request,
            max_distances,
            stop_after_empty,
            stop_after_stale,
            max_failures_per_node,
            retry_after,
            recrawl_interval,
            gone_after,
            lookup_interval,
            initial_lookups,
            event_capacity,
            max_nodes,
            session_cache_capacity,
            request_timeout,
            query_parallelism,
            packet_filter,
            attnets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_bad_values_fail() {
        let net = Network::mainnet();
        let config = CrawlerConfig::builder(&net).build().unwrap();
        assert!(!config.digests().is_empty());
        assert!(CrawlerConfig::builder(&net)
            .distances_per_request(0)
            .build()
            .is_err());
        assert!(CrawlerConfig::builder(&net)
            .max_distances(257)
            .build()
            .is_err());
        assert!(CrawlerConfig::builder(&net)
            .bootnodes(["enr:garbage"])
            .build()
            .is_err());
        let boot = "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg";
        let config = CrawlerConfig::builder(&net)
            .bootnodes([boot])
            .build()
            .unwrap();
        assert_eq!(config.bootnodes().len(), 1);
    }
}
