//! Phase0 attestations name a seat (slot, committee, aggregation bit), not a validator; with a
//! beacon API configured the sentry looks the seat up in its epoch's committees before
//! emitting the event.
//!
//! Committees are fetched once per epoch, only for the epochs gossip carries (the current and
//! the previous one by the network clock: a peer cannot make the sentry fetch arbitrary
//! epochs), and kept for [`CACHED_EPOCHS`]. Attestations wait for their epoch's fetch in a
//! bounded queue; when it fails, or the queue is full, they are emitted unresolved (never
//! dropped). A failed epoch is retried after [`RETRY_AFTER`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;
use tracing::{info, warn};
use valtrack_core::committees::EpochCommittees;
use valtrack_core::{Epoch, Network};

use super::attestations::Judged;
use super::SentryStats;
use crate::beacon_api::{BeaconApi, BeaconApiError};

const LOG: &str = "valtrack::attestations";
/// Epochs of committees kept.
pub(super) const CACHED_EPOCHS: usize = 3;
/// Attestations waiting for committees at most.
pub(super) const MAX_WAITING: usize = 8192;
/// How long after a failed fetch an epoch is tried again.
pub(super) const RETRY_AFTER: Duration = Duration::from_secs(12);

type Fetched = (Epoch, Result<EpochCommittees, BeaconApiError>);

/// Resolves phase0 attestations through a [`BeaconApi`].
pub(super) struct Resolver {
    api: BeaconApi,
    network: Network,
    stats: Arc<SentryStats>,
    cache: VecDeque<Arc<EpochCommittees>>,
    failed: HashMap<Epoch, Instant>,
    waiting: VecDeque<Judged>,
    fetches: JoinSet<Fetched>,
    /// Epochs being fetched, by task.
    in_flight: HashMap<tokio::task::Id, Epoch>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("api", &self.api.url())
            .field(
                "cached",
                &self.cache.iter().map(|c| c.epoch()).collect::<Vec<_>>(),
            )
            .field("waiting", &self.waiting.len())
            .field("in_flight", &self.in_flight.values().collect::<Vec<_>>())
            .finish()
    }
}

impl Resolver {
    pub(super) fn new(api: BeaconApi, network: Network, stats: Arc<SentryStats>) -> Self {
        Self {
            api,
            network,
            stats,
            cache: VecDeque::new(),
            failed: HashMap::new(),
            waiting: VecDeque::new(),
            fetches: JoinSet::new(),
            in_flight: HashMap::new(),
        }
    }

    /// Takes a judged attestation; returns those to emit now (this one when it names its
    /// validator or cannot, and the oldest waiting one when the queue overflows).
    pub(super) fn offer(&mut self, mut judged: Judged) -> Vec<Judged> {
        if judged.facts.attester_index.is_some() || judged.facts.aggregation_bit.is_none() {
            return vec![judged];
        }
        let epoch = judged.facts.target_epoch;
        if let Some(committees) = self.cached(epoch) {
            self.resolve(&mut judged, &committees);
            return vec![judged];
        }
        if !self.fetchable(epoch) {
            return vec![judged];
        }
        if !self.in_flight.values().any(|&e| e == epoch) {
            self.start(epoch);
        }
        self.waiting.push_back(judged);
        if self.waiting.len() > MAX_WAITING {
            return self.waiting.pop_front().into_iter().collect();
        }
        Vec::new()
    }

    /// Whether a fetch is under way ([`fetched`](Self::fetched) then completes).
    pub(super) fn fetching(&self) -> bool {
        !self.fetches.is_empty()
    }

    /// The next finished fetch; pending forever when none is under way.
    pub(super) async fn fetched(&mut self) -> Fetched {
        match self.fetches.join_next_with_id().await {
            Some(Ok((id, fetched))) => {
                self.in_flight.remove(&id);
                fetched
            }
            Some(Err(e)) => {
                let epoch = self.in_flight.remove(&e.id()).unwrap_or_default();
                (
                    epoch,
                    Err(BeaconApiError::Url {
                        url: self.api.url().to_owned(),
                        reason: format!("the fetch task failed: {e}"),
                    }),
                )
            }
            None => std::future::pending().await,
        }
    }

    /// Handles a finished fetch; returns the attestations it releases (resolved when it
    /// succeeded).
    pub(super) fn on_fetched(&mut self, (epoch, result): Fetched) -> Vec<Judged> {
        let committees = match result {
            Ok(c) => {
                info!(target: LOG, epoch, committees = c.len(), lodestar_flattened = c.flattened(), "committees fetched from the beacon API");
                let c = Arc::new(c);
                self.cache.push_back(c.clone());
                while self.cache.len() > CACHED_EPOCHS {
                    self.cache.pop_front();
                }
                self.failed.remove(&epoch);
                Some(c)
            }
            Err(e) => {
                warn!(target: LOG, epoch, error = %error_chain(&e), "cannot fetch committees; phase0 attestations of this epoch stay unresolved for now");
                self.failed.insert(epoch, Instant::now());
                None
            }
        };
        let (mut ready, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|j| j.facts.target_epoch == epoch);
        self.waiting = rest.into();
        if let Some(c) = committees {
            for j in &mut ready {
                self.resolve(j, &c);
            }
        }
        ready
    }

    /// Everything still waiting, unresolved (at shutdown).
    pub(super) fn drain(&mut self) -> Vec<Judged> {
        // dropping the set aborts its tasks
        self.fetches = JoinSet::new();
        self.in_flight.clear();
        self.waiting.drain(..).collect()
    }

    fn cached(&self, epoch: Epoch) -> Option<Arc<EpochCommittees>> {
        self.cache.iter().find(|c| c.epoch() == epoch).cloned()
    }

    /// Gossip carries attestations of the current and the previous epoch only; an epoch
    /// that failed lately is not tried again yet.
    fn fetchable(&mut self, epoch: Epoch) -> bool {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let Some(current) = self.network.epoch_at(now) else {
            return false;
        };
        if epoch > current || epoch + 1 < current {
            return false;
        }
        self.failed.retain(|&e, _| e + 1 >= current);
        self.failed
            .get(&epoch)
            .is_none_or(|at| at.elapsed() >= RETRY_AFTER)
    }

    fn start(&mut self, epoch: Epoch) {
        let api = self.api.clone();
        let slots_per_epoch = self.network.slots_per_epoch();
        let task = self
            .fetches
            .spawn(async move { (epoch, api.committees(epoch, slots_per_epoch).await) });
        self.in_flight.insert(task.id(), epoch);
    }

    fn resolve(&self, judged: &mut Judged, committees: &EpochCommittees) {
        if judged.facts.resolve(committees) {
            self.stats.resolved.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use valtrack_core::attribution::AttestationFacts;
    use valtrack_core::events::AttestationForm;
    use valtrack_core::PeerId;

    use super::*;

    /// A beacon API on loopback answering every request with `status` and `body`; counts
    /// requests and keeps the last request line.
    async fn api(status: u16, body: String) -> (BeaconApi, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&request);
                    assert!(head.starts_with("GET /eth/v1/beacon/states/head/committees?epoch="));
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        (BeaconApi::new(&format!("http://{addr}")).unwrap(), requests)
    }

    fn network() -> Network {
        Network::mainnet()
    }

    fn current_epoch() -> Epoch {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        network().epoch_at(now).unwrap()
    }

    /// A phase0 attestation of `epoch`'s first slot, committee 3, seat `bit`.
    fn judged(epoch: Epoch, bit: u64) -> Judged {
        let peer = PeerId::from_secp256k1(
            &hex::decode("028b55714e869dae5fa8de4f40efbc3a4f714f0558c8d0751e3032e391321a57db")
                .unwrap(),
        )
        .unwrap();
        Judged {
            peer,
            node_id: peer.node_id(),
            facts: AttestationFacts {
                form: AttestationForm::Phase0,
                subnet: 3,
                slot: epoch * 32,
                committee_index: 3,
                attester_index: None,
                aggregation_bit: Some(bit),
                target_epoch: epoch,
                beacon_block_root: [1; 32],
            },
            delay_ms: 100,
            evidence: None,
        }
    }

    fn committees(epoch: Epoch) -> String {
        format!(
            r#"{{"execution_optimistic":false,"finalized":false,"data":[{{"index":"3","slot":"{}","validators":["40","41","42"]}}]}}"#,
            epoch * 32
        )
    }

    #[tokio::test]
    async fn phase0_attestations_wait_for_their_epochs_committees_once() {
        let epoch = current_epoch();
        let (api, requests) = api(200, committees(epoch)).await;
        let stats = Arc::new(SentryStats::default());
        let mut r = Resolver::new(api, network(), stats.clone());
        assert!(r.offer(judged(epoch, 1)).is_empty(), "waits for the fetch");
        assert!(r.offer(judged(epoch, 2)).is_empty());
        assert!(r.fetching());
        let fetched = r.fetched().await;
        let released = r.on_fetched(fetched);
        let names: Vec<_> = released.iter().map(|j| j.facts.attester_index).collect();
        assert_eq!(names, [Some(41), Some(42)]);
        // cached: resolved at once, no second request
        let now = r.offer(judged(epoch, 0));
        assert_eq!(now[0].facts.attester_index, Some(40));
        // a seat outside the committee stays unresolved, and is still emitted
        let now = r.offer(judged(epoch, 9));
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].facts.attester_index, None);
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        assert_eq!(stats.resolved.load(Ordering::Relaxed), 3);
        assert!(!r.fetching());
    }

    #[tokio::test]
    async fn epochs_gossip_cannot_carry_are_not_fetched() {
        let epoch = current_epoch();
        let (api, requests) = api(200, committees(epoch)).await;
        let mut r = Resolver::new(api, network(), Arc::default());
        for e in [epoch + 1, epoch - 2, 0, u64::MAX / 64] {
            let now = r.offer(judged(e, 0));
            assert_eq!(now.len(), 1, "epoch {e} is emitted at once");
            assert_eq!(now[0].facts.attester_index, None);
        }
        assert!(!r.fetching());
        assert_eq!(requests.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failing_api_releases_attestations_unresolved_and_is_not_hammered() {
        let epoch = current_epoch();
        let (api, requests) = api(500, r#"{"code":500,"message":"no state"}"#.to_owned()).await;
        let mut r = Resolver::new(api, network(), Arc::default());
        assert!(r.offer(judged(epoch, 0)).is_empty());
        let fetched = r.fetched().await;
        assert!(
            matches!(&fetched.1, Err(BeaconApiError::Status { status: 500, body, .. }) if body.contains("no state"))
        );
        let released = r.on_fetched(fetched);
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].facts.attester_index, None);
        // within RETRY_AFTER: emitted at once, no new request
        assert_eq!(r.offer(judged(epoch, 1)).len(), 1);
        assert!(!r.fetching());
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_waiting_queue_is_bounded_and_drained_at_shutdown() {
        let epoch = current_epoch();
        // an API that never answers
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = BeaconApi::new(&format!("http://{addr}")).unwrap();
        let mut r = Resolver::new(api, network(), Arc::default());
        let mut released = 0;
        for i in 0..=MAX_WAITING as u64 {
            released += r.offer(judged(epoch, i)).len();
        }
        assert_eq!(
            released, 1,
            "the oldest is emitted when the queue overflows"
        );
        assert_eq!(r.drain().len(), MAX_WAITING);
        assert!(!r.fetching());
        drop(listener);
    }
}
