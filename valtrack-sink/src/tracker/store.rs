//! [`TrackerStore`]: the per-peer state in an embedded `redb` database.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use tracing::warn;
use valtrack_core::events::{
    AttestationEvent, DiscoveryEvent, DiscoveryReason, MetadataEvent, ValidatorMetadataEvent,
};
use valtrack_core::{Event, PeerId};

use crate::error::TrackerError;
use valtrack_core::Location;

use crate::geoip::GeoIp;
use crate::tracker::record::{EstimateRecord, PeerPage, PeerRecord, Stats};

/// Default for [`TrackerConfig::history_per_peer`]: estimates kept per peer.
pub const DEFAULT_HISTORY_PER_PEER: u64 = 1_000;
/// Default for [`TrackerConfig::max_attributed_per_peer`]: distinct validators remembered per
/// peer (beyond it, attestations are still counted but new validators are not).
pub const DEFAULT_MAX_ATTRIBUTED_PER_PEER: u64 = 100_000;
/// Default for [`TrackerConfig::max_page`]: most rows one query returns.
pub const DEFAULT_MAX_PAGE: u64 = 10_000;
/// Default for [`TrackerConfig::sync_interval`]: the longest run of commits without fsync.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// peer id (text) → [`PeerRecord`] (JSON).
const PEERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("peers");
/// (timestamp ms, peer id, epoch) → [`EstimateRecord`] (JSON): the time index.
const ESTIMATES: TableDefinition<'_, (u64, &str, u64), &[u8]> = TableDefinition::new("estimates");
/// (peer id, epoch) → timestamp ms: a peer's history, pointing into [`ESTIMATES`].
const HISTORY: TableDefinition<'_, (&str, u64), u64> = TableDefinition::new("estimate_history");
/// (peer id, validator index) → attestations attributed.
const ATTRIBUTIONS: TableDefinition<'_, (&str, u64), u64> = TableDefinition::new("attributions");

/// Default for [`TrackerConfig::applied_ids`]: event ids remembered as applied (twice a
/// consumer's default unacknowledged window).
pub const DEFAULT_APPLIED_IDS: u64 = 250_000;

/// event id key (`u128`, as the consumer's dedupe keys it) → order applied.
const APPLIED: TableDefinition<'_, u128, u64> = TableDefinition::new("applied_ids");
/// order applied → event id key: the oldest go first past the bound.
const APPLIED_ORDER: TableDefinition<'_, u64, u128> = TableDefinition::new("applied_order");

/// Bounds of a [`TrackerStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerConfig {
    /// Estimates kept per peer; the oldest epochs are dropped. Default:
    /// [`DEFAULT_HISTORY_PER_PEER`].
    pub history_per_peer: u64,
    /// Distinct validators remembered per peer. Default: [`DEFAULT_MAX_ATTRIBUTED_PER_PEER`].
    pub max_attributed_per_peer: u64,
    /// Most rows one query returns. Default: [`DEFAULT_MAX_PAGE`].
    pub max_page: u64,
    /// Updates commit without fsync, but one commit at least this long after the last
    /// durable one is made durable: a crash loses at most this much, and redb (which frees
    /// pages only at durable commits) does not grow without bound between
    /// [`sync`](TrackerStore::sync)s. Default: [`DEFAULT_SYNC_INTERVAL`].
    pub sync_interval: Duration,
    /// Event ids remembered as applied, in the same transactions as the updates they made:
    /// an event whose id is among them is skipped (a message JetStream delivered again), and
    /// [`applied_event_ids`](TrackerStore::applied_event_ids) seeds a consumer's dedupe from
    /// them. 0: none remembered. Default: [`DEFAULT_APPLIED_IDS`].
    pub applied_ids: u64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            history_per_peer: DEFAULT_HISTORY_PER_PEER,
            max_attributed_per_peer: DEFAULT_MAX_ATTRIBUTED_PER_PEER,
            max_page: DEFAULT_MAX_PAGE,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            applied_ids: DEFAULT_APPLIED_IDS,
        }
    }
}

impl TrackerConfig {
    pub(crate) fn validate(&self) -> Result<(), TrackerError> {
        let Self {
            history_per_peer,
            max_attributed_per_peer,
            max_page,
            sync_interval: _,
            applied_ids: _,
        } = *self;
        for (field, v) in [
            ("history_per_peer", history_per_peer),
            ("max_attributed_per_peer", max_attributed_per_peer),
            ("max_page", max_page),
        ] {
            if v == 0 {
                return Err(TrackerError::Zero { field });
            }
        }
        Ok(())
    }
}

/// Per-peer state in one `redb` file that survives restarts.
///
/// Every method is synchronous and may block on disk: call it from
/// `tokio::task::spawn_blocking` in async code (as [`TrackerSink`](crate::TrackerSink) and the
/// HTTP API do). Updates ([`apply`](Self::apply)) commit without fsync; [`sync`](Self::sync)
/// makes everything before it durable. Reads see every committed update.
#[derive(Debug)]
pub struct TrackerStore {
    /// `None` after an I/O error closed it and reopening failed (tried again at next use).
    db: RwLock<Option<Database>>,
    path: PathBuf,
    /// Closes after I/O errors so far, and when a reopen was last logged.
    closes: std::sync::atomic::AtomicU64,
    /// Durable commits so far.
    durable_commits: std::sync::atomic::AtomicU64,
    last_reopen_report: Mutex<Option<Instant>>,
    config: TrackerConfig,
    /// When the last durable commit was.
    last_sync: Mutex<Instant>,
}

impl TrackerStore {
    /// Opens (or creates) the store at `path` with default bounds.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TrackerError> {
        Self::open_with(path, TrackerConfig::default())
    }

    /// Opens (or creates) the store at `path`.
    pub fn open_with(path: impl AsRef<Path>, config: TrackerConfig) -> Result<Self, TrackerError> {
        config.validate()?;
        let db = Database::create(path.as_ref())?;
        // Create the tables so that readers never meet a missing one.
        let txn = db.begin_write()?;
        {
            txn.open_table(PEERS)?;
            txn.open_table(ESTIMATES)?;
            txn.open_table(HISTORY)?;
            txn.open_table(ATTRIBUTIONS)?;
            txn.open_table(APPLIED)?;
            txn.open_table(APPLIED_ORDER)?;
        }
        txn.commit()?;
        Ok(Self {
            db: RwLock::new(Some(db)),
            path: path.as_ref().to_owned(),
            closes: std::sync::atomic::AtomicU64::new(0),
            durable_commits: std::sync::atomic::AtomicU64::new(0),
            last_reopen_report: Mutex::new(None),
            config,
            last_sync: Mutex::new(Instant::now()),
        })
    }

    /// Runs `op` on the database. redb refuses every operation after an I/O error (disk
    /// full, say) until it is reopened: on such an error the database is reopened (which
    /// also repairs it), so the store recovers once the cause clears, without a restart.
    /// A read is then run once more. A write is not: reopening rolls the database back to
    /// its last durable commit (see [`closes`](Self::closes)), so the writer must apply
    /// again, in order, what it applied since.
    fn with_db<T>(
        &self,
        retry: bool,
        op: impl Fn(&Database) -> Result<T, TrackerError>,
    ) -> Result<T, TrackerError> {
        let first = {
            let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
            match db.as_ref() {
                Some(db) => op(db),
                None => Err(TrackerError::Closed),
            }
        };
        match first {
            Err(e) if e.needs_reopen() => {
                self.reopen(&e)?;
                if !retry {
                    return Err(e);
                }
                let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
                db.as_ref().map_or(Err(TrackerError::Closed), op)
            }
            other => other,
        }
    }

    fn reopen(&self, cause: &TrackerError) -> Result<(), TrackerError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // Close first: redb holds a lock on its file. Commits made without fsync since the
        // last durable one are gone from here on.
        if db.take().is_some() {
            self.closes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let reopened = Database::create(&self.path)?;
        *db = Some(reopened);
        // Once per 30 s at most: a disk that stays full makes this happen every retry.
        let mut last = self
            .last_reopen_report
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let reopens = self.closes();
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
            warn!(target: "valtrack::tracker", path = %self.path.display(), cause = %crate::error::chain(cause), reopens,
                "tracker store reopened after an I/O error");
            *last = Some(Instant::now());
        }
        Ok(())
    }

    fn read_txn(&self) -> Result<ReadTransaction, TrackerError> {
        self.with_db(true, |db| Ok(db.begin_read()?))
    }

    /// How many times the database was closed after an I/O error. Each close rolls it back
    /// to its last durable commit: a writer that sees this change must apply again what it
    /// applied since the last durable commit ([`durable_commits`](Self::durable_commits)
    /// tells when that was). [`TrackerSink`](crate::TrackerSink) does.
    pub fn closes(&self) -> u64 {
        self.closes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many durable (fsynced) commits were made.
    pub fn durable_commits(&self) -> u64 {
        self.durable_commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Commits `txn` with the durability it was given; counts and times durable ones.
    fn commit(&self, txn: WriteTransaction, durable: bool) -> Result<(), TrackerError> {
        txn.commit()?;
        if durable {
            *self
                .last_sync
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Instant::now();
            self.durable_commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// `Immediate` once `sync_interval` has passed since the last durable commit (which
    /// this one then is), else `None`.
    fn durability(&self) -> Durability {
        let last = self
            .last_sync
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.elapsed() >= self.config.sync_interval {
            Durability::Immediate
        } else {
            Durability::None
        }
    }

    /// The bounds in use.
    pub fn config(&self) -> TrackerConfig {
        self.config
    }

    /// Updates the store from one event; `geoip`, when given, locates a peer whose IP is new
    /// (a [`PeerLocationEvent`](valtrack_core::events::PeerLocationEvent) sets the location as is).
    /// Event kinds the tracker does not use are ignored.
    pub fn apply(&self, event: &Event, geoip: Option<&GeoIp>) -> Result<(), TrackerError> {
        self.apply_all(std::slice::from_ref(event), geoip)
    }

    /// Updates the store from several events in one transaction: one commit for all of
    /// them instead of one each (not benchmarked). All or none are applied.
    pub fn apply_all(&self, events: &[Event], geoip: Option<&GeoIp>) -> Result<(), TrackerError> {
        self.with_db(false, |db| {
            let mut txn = db.begin_write()?;
            let durability = self.durability();
            txn.set_durability(durability);
            for event in events {
                if self.first_application(&txn, event)? {
                    self.apply_in(&txn, event, geoip)?;
                }
            }
            self.commit(txn, matches!(durability, Durability::Immediate))
        })
    }

    /// Remembers `event`'s id as applied; `false` when it already was (skip it). Past
    /// [`TrackerConfig::applied_ids`] ids, the oldest are forgotten.
    fn first_application(
        &self,
        txn: &WriteTransaction,
        event: &Event,
    ) -> Result<bool, TrackerError> {
        let bound = self.config.applied_ids;
        if bound == 0 {
            return Ok(true);
        }
        let k = crate::event_key::event_key(&event.meta().event_id);
        let mut applied = txn.open_table(APPLIED)?;
        if applied.get(k)?.is_some() {
            return Ok(false);
        }
        let mut order = txn.open_table(APPLIED_ORDER)?;
        let next = order.last()?.map_or(0, |(n, _)| n.value() + 1);
        applied.insert(k, next)?;
        order.insert(next, k)?;
        while order.len()? > bound {
            match order.pop_first()? {
                Some((_, old)) => {
                    applied.remove(old.value())?;
                }
                None => break,
            }
        }
        Ok(true)
    }

    /// The ids of the events applied last (at most [`TrackerConfig::applied_ids`]), newest
    /// first, as 32 hex digits (the form of the ids `EventMeta::new` makes; other ids are
    /// kept as a 128-bit hash, which a consumer's dedupe keys the same way).
    pub fn applied_event_ids(&self) -> Result<Vec<String>, TrackerError> {
        let txn = self.read_txn()?;
        let order = txn.open_table(APPLIED_ORDER)?;
        let mut out = Vec::new();
        for row in order.iter()?.rev() {
            let (_, k) = row?;
            out.push(format!("{:032x}", k.value()));
        }
        Ok(out)
    }

    fn apply_in(
        &self,
        txn: &WriteTransaction,
        event: &Event,
        geoip: Option<&GeoIp>,
    ) -> Result<(), TrackerError> {
        {
            let mut peers = txn.open_table(PEERS)?;
            let meta = event.meta();
            let key = meta.peer_id.to_string();
            let mut rec = match peers.get(key.as_str())? {
                Some(v) => serde_json::from_slice(v.value())?,
                None => PeerRecord::new(meta.peer_id, meta.timestamp),
            };
            let old_ip = begin(&mut rec, event);
            let located = match event {
                Event::ValidatorMetadata(e) => {
                    let mut estimates = txn.open_table(ESTIMATES)?;
                    let mut history = txn.open_table(HISTORY)?;
                    self.on_estimate(&mut rec, e, &key, &mut estimates, &mut history)?;
                    false
                }
                Event::Attestation(e) => {
                    let mut attributions = txn.open_table(ATTRIBUTIONS)?;
                    self.on_attestation(&mut rec, e, &key, &mut attributions)?;
                    false
                }
                other => on_identity(&mut rec, other),
            };
            finish(&mut rec, old_ip, located, geoip);
            peers.insert(key.as_str(), serde_json::to_vec(&rec)?.as_slice())?;
        }
        Ok(())
    }

    /// Sets a peer's location (e.g. from a consumer that located it elsewhere); creates the
    /// peer if unknown.
    pub fn set_location(
        &self,
        peer_id: &PeerId,
        timestamp: u64,
        location: Location,
    ) -> Result<(), TrackerError> {
        self.with_db(false, |db| {
            let mut txn = db.begin_write()?;
            let durability = self.durability();
            txn.set_durability(durability);
            {
                let mut peers = txn.open_table(PEERS)?;
                let key = peer_id.to_string();
                let mut rec = match peers.get(key.as_str())? {
                    Some(v) => serde_json::from_slice(v.value())?,
                    None => PeerRecord::new(*peer_id, timestamp),
                };
                rec.ip = Some(location.ip);
                rec.location = Some(location.clone());
                peers.insert(key.as_str(), serde_json::to_vec(&rec)?.as_slice())?;
            }
            self.commit(txn, matches!(durability, Durability::Immediate))
        })
    }

    /// Makes every update so far durable (an fsync'd commit).
    pub fn sync(&self) -> Result<(), TrackerError> {
        self.with_db(false, |db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate);
            self.commit(txn, true)
        })
    }

    /// One peer.
    pub fn peer(&self, peer_id: &PeerId) -> Result<Option<PeerRecord>, TrackerError> {
        let txn = self.read_txn()?;
        let peers = txn.open_table(PEERS)?;
        let key = peer_id.to_string();
        Ok(match peers.get(key.as_str())? {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// Peers ordered by peer id: `limit` (at most [`TrackerConfig::max_page`]) from `offset`.
    pub fn peers(&self, limit: u64, offset: u64) -> Result<PeerPage, TrackerError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(PEERS)?;
        let total = table.len()?;
        let limit = usize::try_from(limit.min(self.config.max_page)).unwrap_or(usize::MAX);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut peers = Vec::new();
        if offset >= total {
            // past the end: nothing to walk through
            return Ok(PeerPage {
                total,
                offset,
                peers,
            });
        }
        for row in table.iter()?.skip(skip).take(limit) {
            let (_, v) = row?;
            peers.push(serde_json::from_slice(v.value())?);
        }
        Ok(PeerPage {
            total,
            offset,
            peers,
        })
    }

    /// Estimates with `from_ms <= timestamp <= to_ms`, oldest first, at most `limit` (and at
    /// most [`TrackerConfig::max_page`]).
    pub fn estimates(
        &self,
        from_ms: u64,
        to_ms: u64,
        limit: u64,
    ) -> Result<Vec<EstimateRecord>, TrackerError> {
        let limit = usize::try_from(limit.min(self.config.max_page)).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if from_ms > to_ms || limit == 0 {
            return Ok(out);
        }
        let txn = self.read_txn()?;
        let table = txn.open_table(ESTIMATES)?;
        for row in table.range((from_ms, "", 0)..)? {
            let (k, v) = row?;
            if k.value().0 > to_ms || out.len() >= limit {
                break;
            }
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// A peer's estimate history, newest epoch first, at most `limit`.
    pub fn history(
        &self,
        peer_id: &PeerId,
        limit: u64,
    ) -> Result<Vec<EstimateRecord>, TrackerError> {
        let limit = usize::try_from(limit.min(self.config.max_page)).unwrap_or(usize::MAX);
        let key = peer_id.to_string();
        let txn = self.read_txn()?;
        let history = txn.open_table(HISTORY)?;
        let estimates = txn.open_table(ESTIMATES)?;
        let mut out = Vec::new();
        for row in history
            .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
            .rev()
            .take(limit)
        {
            let (k, ts) = row?;
            let epoch = k.value().1;
            if let Some(v) = estimates.get((ts.value(), key.as_str(), epoch))? {
                out.push(serde_json::from_slice(v.value())?);
            }
        }
        Ok(out)
    }

    /// Aggregates over every peer.
    pub fn stats(&self) -> Result<Stats, TrackerError> {
        let txn = self.read_txn()?;
        let table = txn.open_table(PEERS)?;
        let mut stats = Stats::default();
        for row in table.iter()? {
            let (_, v) = row?;
            stats.add(&serde_json::from_slice(v.value())?);
        }
        Ok(stats)
    }

    /// Distinct validators attributed to a peer, ascending, at most `limit`.
    pub fn attributed_validators(
        &self,
        peer_id: &PeerId,
        limit: u64,
    ) -> Result<Vec<(u64, u64)>, TrackerError> {
        let limit = usize::try_from(limit.min(self.config.max_page)).unwrap_or(usize::MAX);
        let key = peer_id.to_string();
        let txn = self.read_txn()?;
        let table = txn.open_table(ATTRIBUTIONS)?;
        let mut out = Vec::new();
        for row in table
            .range((key.as_str(), 0)..=(key.as_str(), u64::MAX))?
            .take(limit)
        {
            let (k, v) = row?;
            out.push((k.value().1, v.value()));
        }
        Ok(out)
    }

    fn on_estimate(
        &self,
        rec: &mut PeerRecord,
        e: &ValidatorMetadataEvent,
        key: &str,
        estimates: &mut redb::Table<'_, (u64, &'static str, u64), &'static [u8]>,
        history: &mut redb::Table<'_, (&'static str, u64), u64>,
    ) -> Result<(), TrackerError> {
        let row = EstimateRecord::from(e);
        // The same (peer, epoch) again (another sentry, a retry): replace it.
        if let Some(old_ts) = history.insert((key, e.epoch), row.timestamp)? {
            estimates.remove((old_ts.value(), key, e.epoch))?;
        } else {
            rec.estimates_stored = rec.estimates_stored.saturating_add(1);
        }
        estimates.insert(
            (row.timestamp, key, e.epoch),
            serde_json::to_vec(&row)?.as_slice(),
        )?;
        while rec.estimates_stored > self.config.history_per_peer {
            let oldest = history
                .range((key, 0)..=(key, u64::MAX))?
                .next()
                .transpose()?
                .map(|(k, ts)| (k.value().1, ts.value()));
            let Some((epoch, ts)) = oldest else {
                break;
            };
            history.remove((key, epoch))?;
            estimates.remove((ts, key, epoch))?;
            rec.estimates_stored -= 1;
        }
        keep_latest(rec, row);
        Ok(())
    }

    fn on_attestation(
        &self,
        rec: &mut PeerRecord,
        e: &AttestationEvent,
        key: &str,
        attributions: &mut redb::Table<'_, (&'static str, u64), u64>,
    ) -> Result<(), TrackerError> {
        let Some(index) = delivered(rec, e) else {
            return Ok(());
        };
        let count = attributions.get((key, index))?.map(|v| v.value());
        match count {
            Some(n) => {
                attributions.insert((key, index), n.saturating_add(1))?;
            }
            None if rec.attributed_validators < self.config.max_attributed_per_peer => {
                attributions.insert((key, index), 1)?;
                rec.attributed_validators += 1;
            }
            None => {}
        }
        Ok(())
    }
}

/// The part of applying an event every store shares, before the event's own update:
/// first and last seen, the ENR. Returns the IP the record had.
pub(crate) fn begin(rec: &mut PeerRecord, event: &Event) -> Option<IpAddr> {
    let meta = event.meta();
    rec.first_seen_ms = rec.first_seen_ms.min(meta.timestamp);
    rec.last_seen_ms = rec.last_seen_ms.max(meta.timestamp);
    if meta.enr.is_some() {
        rec.enr.clone_from(&meta.enr);
    }
    rec.ip
}

/// The identity part of an event (discovery, handshake, location): the whole update of
/// those kinds; other kinds change nothing here. Returns whether it set the location.
pub(crate) fn on_identity(rec: &mut PeerRecord, event: &Event) -> bool {
    match event {
        Event::Discovery(e) => on_discovery(rec, e),
        Event::Metadata(e) => on_metadata(rec, e),
        Event::PeerLocation(e) => {
            rec.ip = Some(e.location.ip);
            rec.location = Some(e.location.clone());
            return true;
        }
        _ => {}
    }
    false
}

/// After the event's update: locates a peer whose IP is new (or never located), unless the
/// event set the location itself.
pub(crate) fn finish(
    rec: &mut PeerRecord,
    old_ip: Option<IpAddr>,
    located: bool,
    geoip: Option<&GeoIp>,
) {
    if let (Some(ip), false) = (rec.ip, located) {
        if old_ip != Some(ip) || rec.location.is_none() {
            rec.location = Some(locate(geoip, ip));
        }
    }
}

/// Makes `row` the peer's current estimate unless it has a later one (by epoch, then time).
pub(crate) fn keep_latest(rec: &mut PeerRecord, row: EstimateRecord) {
    if rec
        .estimate
        .as_ref()
        .is_none_or(|cur| (row.epoch, row.timestamp) >= (cur.epoch, cur.timestamp))
    {
        rec.estimate = Some(row);
    }
}

/// Counts an attestation the peer delivered first; the validator to attribute to it, when
/// the event carries evidence and an attester index.
pub(crate) fn delivered(rec: &mut PeerRecord, e: &AttestationEvent) -> Option<u64> {
    rec.attestations_delivered = rec.attestations_delivered.saturating_add(1);
    match (e.evidence, e.attester_index) {
        (Some(_), Some(index)) => Some(index),
        _ => None,
    }
}

fn on_discovery(rec: &mut PeerRecord, e: &DiscoveryEvent) {
    if e.reason == DiscoveryReason::Disappeared {
        rec.disappeared = true;
        return;
    }
    rec.disappeared = false;
    rec.enr_seq = Some(e.seq);
    if let Some(ip) = e.ip.map(IpAddr::V4).or(e.ip6.map(IpAddr::V6)) {
        rec.ip = Some(ip);
    }
    if e.fork_digest.is_some() && rec.handshakes_ok == 0 {
        // Status is the better source once a handshake succeeded.
        rec.fork_digest = e.fork_digest;
    }
    if e.attnets.is_some() {
        rec.attnets = e.attnets;
    }
    if e.cgc.is_some() {
        rec.cgc = e.cgc;
    }
}

fn on_metadata(rec: &mut PeerRecord, e: &MetadataEvent) {
    if let Some(addr) = &e.multiaddr {
        rec.multiaddr = Some(addr.chars().take(256).collect());
        if let Some(ip) = multiaddr_ip(addr) {
            rec.ip = Some(ip);
        }
    }
    if let Some(err) = &e.error {
        rec.handshakes_failed = rec.handshakes_failed.saturating_add(1);
        rec.last_error = Some(err.kind);
        return;
    }
    rec.handshakes_ok = rec.handshakes_ok.saturating_add(1);
    rec.disappeared = false;
    if let Some(agent) = &e.agent_version {
        rec.agent_version = Some(agent.chars().take(256).collect());
    }
    if e.client.is_some() {
        rec.client.clone_from(&e.client);
    }
    if let Some(s) = &e.status {
        rec.fork_digest = Some(s.fork_digest);
    }
    if let Some(md) = &e.metadata {
        rec.attnets = Some(md.attnets);
        if md.custody_group_count.is_some() {
            rec.cgc = md.custody_group_count;
        }
    }
}

/// The IP of a `/ip4/…` or `/ip6/…` multiaddr.
fn multiaddr_ip(addr: &str) -> Option<IpAddr> {
    let mut parts = addr.split('/').skip(1);
    match (parts.next()?, parts.next()?) {
        ("ip4", ip) => ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        ("ip6", ip) => ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

fn locate(geoip: Option<&GeoIp>, ip: IpAddr) -> Location {
    match geoip.map(|g| g.lookup(ip)) {
        Some(Ok(loc)) => loc,
        Some(Err(error)) => {
            warn!(target: "valtrack::tracker", %ip, %error, "GeoIP lookup failed");
            Location::unknown(ip)
        }
        None => Location::unknown(ip),
    }
}

#[cfg(test)]
mod tests;
