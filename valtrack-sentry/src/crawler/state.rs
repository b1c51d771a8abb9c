//! The crawler's table of known nodes: the highest-seq ENR of each, when it last answered,
//! which nodes wait to be enumerated, and tombstones of nodes reported gone.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use enr::NodeId;
use valtrack_core::{DiscoveredNode, EnrClass, EnrInfo, ForkDigest, NodeUpdate};

/// Retries of an enumeration cut short by failures, per round.
pub(crate) const MAX_RETRIES: u32 = 3;

/// One known node.
#[derive(Debug)]
pub(crate) struct Known {
    /// The record's RLP bytes: ~220 bytes on mainnet, where a decoded `discv5::Enr` (a map
    /// of separately allocated keys and values) takes ~1.5 KB, at tens of thousands of nodes.
    /// Decoded again when the node is enumerated.
    pub(crate) rlp: Box<[u8]>,
    pub(crate) info: EnrInfo,
    pub(crate) class: EnrClass,
    /// Last answer to one of our requests (or first sight, before any answer).
    pub(crate) last_seen: Instant,
    /// Last time its enumeration started.
    pub(crate) last_crawled: Option<Instant>,
    /// In the queue or being enumerated.
    pub(crate) busy: bool,
    /// An enumeration cut short by failures: where to resume, when, and how many retries so
    /// far in this round.
    pub(crate) resume: Option<(u64, Instant)>,
    pub(crate) retries: u32,
    /// Heard from itself (it answered, or sent its own record), not only named by others.
    pub(crate) verified: bool,
}

/// What [`Table::observe`] made of an ENR.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// First sight or a higher seq: the node is reported and queued.
    Reported(NodeUpdate),
    /// Known at this seq or higher (the usual case; nothing is decoded).
    Known,
    /// Dropped: undecodable, table full, or a recent tombstone.
    Dropped(DropReason),
}

/// Why an ENR was dropped.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum DropReason {
    /// No secp256k1 key, so no PeerId.
    Undecodable,
    /// [`max_nodes`](super::CrawlerConfigBuilder::max_nodes) reached.
    Full,
    /// Reported gone recently at this seq; only a higher seq revives it.
    Tombstone,
}

/// The table, behind one mutex in the crawler.
#[derive(Debug)]
pub(crate) struct Table {
    digests: Vec<ForkDigest>,
    nodes: HashMap<NodeId, Known>,
    queue: VecDeque<NodeId>,
    /// Gone nodes: the seq they had and when they went.
    tombstones: HashMap<NodeId, (u64, Instant)>,
    max_nodes: usize,
    /// Known nodes not heard from themselves yet: at most half the table, so that one
    /// discv5 node answering with made-up records cannot fill it.
    unverified: usize,
}

impl Table {
    pub(crate) fn new(digests: Vec<ForkDigest>, max_nodes: usize) -> Self {
        Self {
            digests,
            nodes: HashMap::new(),
            queue: VecDeque::new(),
            tombstones: HashMap::new(),
            max_nodes,
            unverified: 0,
        }
    }

    /// Takes in an ENR someone reported (or the node itself, if `from_itself`). Each
    /// (node, seq) is decoded once: a record at a seq we have is not looked at again.
    pub(crate) fn observe(
        &mut self,
        enr: &discv5::Enr,
        from_itself: bool,
        now: Instant,
    ) -> (Observed, Option<DiscoveredNode>) {
        let id = enr.node_id();
        let seq = enr.seq();
        if let Some(known) = self.nodes.get_mut(&id) {
            if from_itself {
                known.last_seen = now;
                if !known.verified {
                    known.verified = true;
                    self.unverified -= 1;
                }
            }
            if seq <= known.info.seq {
                return (Observed::Known, None);
            }
            let Ok(info) = EnrInfo::from_enr(enr) else {
                return (Observed::Dropped(DropReason::Undecodable), None);
            };
            let previous = known.info.seq;
            known.class = info.classify(&self.digests);
            known.info = info;
            known.rlp = rlp(enr);
            let update = NodeUpdate::SeqChanged { previous };
            let report = report(known, update.clone());
            if !known.busy {
                known.busy = true;
                self.queue.push_back(id);
            }
            return (Observed::Reported(update), Some(report));
        }
        if let Some((tomb_seq, _)) = self.tombstones.get(&id) {
            if seq <= *tomb_seq && !from_itself {
                return (Observed::Dropped(DropReason::Tombstone), None);
            }
            self.tombstones.remove(&id);
        }
        if self.nodes.len() >= self.max_nodes
            || (!from_itself && self.unverified >= self.max_unverified())
        {
            return (Observed::Dropped(DropReason::Full), None);
        }
        let Ok(info) = EnrInfo::from_enr(enr) else {
            return (Observed::Dropped(DropReason::Undecodable), None);
        };
        let known = Known {
            rlp: rlp(enr),
            class: info.classify(&self.digests),
            info,
            last_seen: now,
            last_crawled: None,
            busy: true,
            resume: None,
            retries: 0,
            verified: from_itself,
        };
        if !from_itself {
            self.unverified += 1;
        }
        let report = report(&known, NodeUpdate::New);
        self.nodes.insert(id, known);
        self.queue.push_back(id);
        (Observed::Reported(NodeUpdate::New), Some(report))
    }

    /// The next node to enumerate: its ENR, whether it was enumerated before, and the
    /// distance to resume from after an enumeration cut short.
    pub(crate) fn next_job(&mut self, now: Instant) -> Option<(discv5::Enr, bool, Option<u64>)> {
        while let Some(id) = self.queue.pop_front() {
            if let Some(known) = self.nodes.get_mut(&id) {
                // Our own encoding of a record that decoded: cannot fail.
                let Ok(enr) = alloy_rlp::Decodable::decode(&mut &known.rlp[..]) else {
                    continue;
                };
                let recrawl = known.last_crawled.is_some();
                let resume = known.resume.take().map(|(d, _)| d);
                if resume.is_none() {
                    known.last_crawled = Some(now);
                }
                return Some((enr, recrawl, resume));
            }
        }
        None
    }

    /// Whether the node has ever answered us (or sent its own record).
    pub(crate) fn verified(&self, id: &NodeId) -> bool {
        self.nodes.get(id).is_some_and(|k| k.verified)
    }

    /// A node's enumeration ended; `answered` if it answered at least once, `unfinished` the
    /// distance where failures cut it short (retried after `retry_after`, at most
    /// [`MAX_RETRIES`] times per round).
    pub(crate) fn job_done(
        &mut self,
        id: &NodeId,
        answered: bool,
        unfinished: Option<u64>,
        retry_after: Duration,
        now: Instant,
    ) {
        if let Some(known) = self.nodes.get_mut(id) {
            known.busy = false;
            if answered {
                known.last_seen = now;
                if !known.verified {
                    known.verified = true;
                    self.unverified -= 1;
                }
            }
            match unfinished {
                Some(distance) if known.retries < MAX_RETRIES => {
                    known.retries += 1;
                    known.resume = Some((distance, now + retry_after));
                }
                Some(_) => known.resume = None,
                None => {
                    known.retries = 0;
                    known.resume = None;
                }
            }
        }
    }

    /// Queues nodes due for a new enumeration and removes those not seen for `gone_after`,
    /// returning their Gone reports. Tombstones older than `gone_after` are dropped.
    pub(crate) fn maintain(
        &mut self,
        now: Instant,
        recrawl: Duration,
        gone_after: Duration,
    ) -> Vec<DiscoveredNode> {
        let mut gone = Vec::new();
        let mut requeue = Vec::new();
        for (id, known) in &self.nodes {
            if known.busy {
                continue;
            }
            if now.saturating_duration_since(known.last_seen) >= gone_after {
                gone.push(*id);
            } else if known.resume.is_some_and(|(_, at)| at <= now)
                || known
                    .last_crawled
                    .is_none_or(|t| now.saturating_duration_since(t) >= recrawl)
            {
                requeue.push(*id);
            }
        }
        for id in requeue {
            if let Some(known) = self.nodes.get_mut(&id) {
                known.busy = true;
                self.queue.push_back(id);
            }
        }
        let mut reports = Vec::with_capacity(gone.len());
        for id in gone {
            if let Some(known) = self.nodes.remove(&id) {
                if !known.verified {
                    self.unverified -= 1;
                }
                self.tombstones.insert(id, (known.info.seq, now));
                reports.push(report(&known, NodeUpdate::Gone));
            }
        }
        self.tombstones
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < gone_after);
        // Bound the tombstones like the nodes.
        if self.tombstones.len() > self.max_nodes {
            self.tombstones.clear();
        }
        reports
    }

    /// Every known node (its update is [`NodeUpdate::New`]).
    pub(crate) fn all(&self) -> Vec<DiscoveredNode> {
        self.nodes
            .values()
            .map(|k| report(k, NodeUpdate::New))
            .collect()
    }

    /// The ids of every known node.
    pub(crate) fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// One known node (its update is [`NodeUpdate::New`]).
    pub(crate) fn get(&self, id: &NodeId) -> Option<DiscoveredNode> {
        self.nodes.get(id).map(|k| report(k, NodeUpdate::New))
    }

    /// Most nodes kept that were only named by others.
    fn max_unverified(&self) -> usize {
        (self.max_nodes / 2).max(1)
    }

    /// Number of known nodes.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Number of nodes waiting to be enumerated.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }
}

fn rlp(enr: &discv5::Enr) -> Box<[u8]> {
    alloy_rlp::encode(enr).into_boxed_slice()
}

fn report(known: &Known, update: NodeUpdate) -> DiscoveredNode {
    use base64::Engine;
    DiscoveredNode {
        // `Enr::to_base64`'s form, from the bytes.
        enr: format!(
            "enr:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&known.rlp)
        ),
        info: known.info.clone(),
        class: known.class,
        update,
    }
}

#[cfg(test)]
mod tests {
    use enr::CombinedKey;

    use super::*;

    fn enr(key: &CombinedKey, seq: u64) -> discv5::Enr {
        let mut builder = discv5::Enr::builder();
        builder
            .ip4(std::net::Ipv4Addr::LOCALHOST)
            .udp4(9000)
            .seq(seq);
        builder.build(key).unwrap()
    }

    #[test]
    fn nodes_only_named_by_others_take_at_most_half_the_table() {
        let mut table = Table::new(vec![], 10);
        let t0 = Instant::now();
        let named: Vec<CombinedKey> = (0..6).map(|_| CombinedKey::generate_secp256k1()).collect();
        for key in &named[..5] {
            assert_eq!(
                table.observe(&enr(key, 1), false, t0).0,
                Observed::Reported(NodeUpdate::New)
            );
        }
        assert_eq!(
            table.observe(&enr(&named[5], 1), false, t0).0,
            Observed::Dropped(DropReason::Full),
            "half the table is only hearsay"
        );
        // a node that speaks for itself still gets in
        let own = CombinedKey::generate_secp256k1();
        assert_eq!(
            table.observe(&enr(&own, 1), true, t0).0,
            Observed::Reported(NodeUpdate::New)
        );
        // one named node answers: room for another named one
        let first = enr(&named[0], 1).node_id();
        table.job_done(&first, true, None, Duration::from_secs(1), t0);
        assert_eq!(
            table.observe(&enr(&named[5], 1), false, t0).0,
            Observed::Reported(NodeUpdate::New)
        );
        // hearsay that never answers goes, and frees its room
        while let Some((job, _, _)) = table.next_job(t0) {
            table.job_done(&job.node_id(), false, None, Duration::from_secs(1), t0);
        }
        let later = t0 + Duration::from_secs(10);
        let gone = table.maintain(later, Duration::from_secs(100), Duration::from_secs(5));
        assert!(!gone.is_empty());
        assert_eq!(table.unverified, 0);
    }

    #[test]
    fn records_kept_as_bytes_come_back_whole() {
        let key = CombinedKey::generate_secp256k1();
        let record = enr(&key, 7);
        let mut table = Table::new(vec![], 10);
        let t0 = Instant::now();
        let (_, report) = table.observe(&record, false, t0);
        assert_eq!(report.unwrap().enr, record.to_base64());
        let (job, _, _) = table.next_job(t0).unwrap();
        assert_eq!(job, record);
        assert_eq!(job.signature(), record.signature());
    }

    #[test]
    fn new_seq_changed_known_gone_and_tombstone() {
        let key = CombinedKey::generate_secp256k1();
        let mut table = Table::new(vec![], 10);
        let t0 = Instant::now();
        let (o, r) = table.observe(&enr(&key, 1), false, t0);
        assert_eq!(o, Observed::Reported(NodeUpdate::New));
        assert_eq!(r.unwrap().class, EnrClass::NoEth2);
        assert_eq!(table.observe(&enr(&key, 1), false, t0).0, Observed::Known);
        let (o, _) = table.observe(&enr(&key, 3), false, t0);
        assert_eq!(
            o,
            Observed::Reported(NodeUpdate::SeqChanged { previous: 1 })
        );
        assert_eq!(table.observe(&enr(&key, 2), false, t0).0, Observed::Known);
        // Queued once although reported twice.
        assert_eq!(table.queued(), 1);
        let (job, recrawl, resume) = table.next_job(t0).unwrap();
        assert_eq!(resume, None);
        assert_eq!(job.seq(), 3);
        assert!(!recrawl);
        table.job_done(&job.node_id(), false, None, Duration::from_secs(1), t0);
        let later = t0 + Duration::from_secs(10);
        let gone = table.maintain(later, Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].update, NodeUpdate::Gone);
        assert_eq!(table.len(), 0);
        // A third party's stale report does not revive it; a higher seq does.
        assert_eq!(
            table.observe(&enr(&key, 3), false, later).0,
            Observed::Dropped(DropReason::Tombstone)
        );
        assert_eq!(
            table.observe(&enr(&key, 4), false, later).0,
            Observed::Reported(NodeUpdate::New)
        );
    }

    #[test]
    fn an_enumeration_cut_short_resumes_where_it_stopped() {
        let key = CombinedKey::generate_secp256k1();
        let mut table = Table::new(vec![], 10);
        let t0 = Instant::now();
        table.observe(&enr(&key, 1), false, t0);
        let (job, _, _) = table.next_job(t0).unwrap();
        let id = job.node_id();
        let (recrawl, gone) = (Duration::from_secs(600), Duration::from_secs(3600));
        let retry = Duration::from_secs(5);
        for round in 0..=MAX_RETRIES {
            table.job_done(&id, true, Some(250), retry, t0);
            let at = t0 + retry * (round + 1);
            assert!(table.maintain(at, recrawl, gone).is_empty());
            match table.next_job(at) {
                Some((_, recrawled, resume)) if round < MAX_RETRIES => {
                    assert!(recrawled);
                    assert_eq!(resume, Some(250));
                }
                None if round == MAX_RETRIES => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
    }

    #[test]
    fn full_table_drops() {
        let mut table = Table::new(vec![], 1);
        let now = Instant::now();
        let a = CombinedKey::generate_secp256k1();
        let b = CombinedKey::generate_secp256k1();
        assert!(matches!(
            table.observe(&enr(&a, 1), false, now).0,
            Observed::Reported(_)
        ));
        assert_eq!(
            table.observe(&enr(&b, 1), false, now).0,
            Observed::Dropped(DropReason::Full)
        );
    }

    #[test]
    fn ed25519_records_are_dropped_not_panicking() {
        let key = CombinedKey::generate_ed25519();
        let mut table = Table::new(vec![], 10);
        assert_eq!(
            table.observe(&enr(&key, 1), false, Instant::now()).0,
            Observed::Dropped(DropReason::Undecodable)
        );
    }
}
