//! One batch of events into the database: the event rows and the tracker's update, in one
//! transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;
use valtrack_core::events::ValidatorMetadataEvent;
use valtrack_core::{Event, EventKind};

use super::rows::{self, scrub, scrub_json, MAX_TIMESTAMP_MS};
use super::{PgError, PgStore};
use crate::geoip::GeoIp;
use crate::tracker::store::{begin, delivered, finish, keep_latest, on_identity};
use crate::tracker::{EstimateRecord, PeerRecord};

/// What one batch did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Written {
    /// Rows inserted per table, in [`EventKind::ALL`] order.
    pub(crate) inserted: [u64; 5],
    /// Rows not inserted because their event id was there already, per table.
    pub(crate) present: [u64; 5],
    /// Events the tracker applied (not applied before).
    pub(crate) applied: u64,
}

fn index(kind: EventKind) -> usize {
    EventKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

/// The first key of the tracker's advisory locks (`vt`), apart from other users' locks.
const LOCK_CLASS: i32 = 0x7674;
/// Peers share this many locks: a batch takes at most this many (PostgreSQL's lock table
/// holds 64 per connection by default, shared), whatever its number of peers.
const LOCK_BUCKETS: u64 = 1024;

/// The advisory lock of a peer (its bucket): the tracker's writers serialize on it, so two
/// consumers never update one peer from stale copies.
fn lock_key(peer: &str) -> i32 {
    let digest = Sha256::digest(peer.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % LOCK_BUCKETS) as i32
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Writes `events` in one transaction: the rows of the tables in `tables`, and (when
    /// `tracker`) the tracker's update for the events it has not applied yet.
    pub(crate) async fn write(
        &self,
        events: &[Event],
        tables: &[EventKind],
        tracker: bool,
        geoip: Option<&GeoIp>,
    ) -> Result<Written, PgError> {
        let mut client = self.client().await?;
        let txn = client
            .transaction()
            .await
            .map_err(PgError::query("BEGIN"))?;
        // A writer that vanished mid-transaction (its host gone, no FIN) must not hold its
        // locks until the server's TCP keepalive notices, hours later.
        txn.batch_execute("SET LOCAL idle_in_transaction_session_timeout = '120s'")
            .await
            .map_err(PgError::query("SET LOCAL"))?;
        let mut written = Written::default();
        for kind in EventKind::ALL {
            if !tables.contains(&kind) {
                continue;
            }
            let rows = events.iter().filter(|e| e.kind() == kind).count() as u64;
            if rows == 0 {
                continue;
            }
            let inserted = rows::insert(&txn, kind, events).await?;
            written.inserted[index(kind)] = inserted;
            written.present[index(kind)] = rows - inserted.min(rows);
        }
        if tracker {
            written.applied = self.apply(&txn, events, geoip).await?;
        }
        txn.commit().await.map_err(PgError::query("COMMIT"))?;
        Ok(written)
    }

    /// The tracker's update for the events among `events` it has not applied before;
    /// returns how many it applied.
    async fn apply(
        &self,
        txn: &Transaction<'_>,
        events: &[Event],
        geoip: Option<&GeoIp>,
    ) -> Result<u64, PgError> {
        // Which are new: their ids go in now (a concurrent writer with the same ids waits
        // for this transaction, then finds them there).
        // (NUL-free, as the tables store them; in key order, as every writer inserts)
        let ids: Vec<String> = events.iter().map(|e| scrub(&e.meta().event_id)).collect();
        let fresh = txn
            .query(
                "INSERT INTO tracker_applied (event_id) SELECT id FROM unnest($1::text[]) AS t(id) \
                 ORDER BY id ON CONFLICT DO NOTHING RETURNING event_id",
                &[&ids],
            )
            .await
            .map_err(PgError::query("recording applied events"))?;
        let mut fresh: HashSet<String> = fresh.iter().map(|r| r.get(0)).collect();
        let events: Vec<&Event> = events
            .iter()
            .zip(&ids)
            .filter(|(_, id)| fresh.remove(*id))
            .map(|(e, _)| e)
            .collect();
        if events.is_empty() {
            return Ok(0);
        }
        // Lock the peers (in key order, so two writers cannot deadlock), then read them.
        let mut peers: BTreeMap<String, Option<PeerRecord>> = BTreeMap::new();
        for e in &events {
            peers.entry(e.meta().peer_id.to_string()).or_default();
        }
        let mut keys: Vec<i32> = peers.keys().map(|p| lock_key(p)).collect();
        keys.sort_unstable();
        keys.dedup();
        txn.query(
            "SELECT pg_advisory_xact_lock($1, k) FROM (SELECT k FROM unnest($2::int4[]) AS k ORDER BY k) AS s",
            &[&LOCK_CLASS, &keys],
        )
        .await
        .map_err(PgError::query("locking peers"))?;
        let names: Vec<&str> = peers.keys().map(String::as_str).collect();
        let stored = txn
            .query(
                "SELECT peer_id, record::text FROM tracker_peers WHERE peer_id = ANY($1::text[])",
                &[&names],
            )
            .await
            .map_err(PgError::query("reading peers"))?;
        for row in stored {
            let id: String = row.get(0);
            let json: String = row.get(1);
            peers.insert(id, Some(serde_json::from_str(&json)?));
        }
        let mut attributions = Attributions::load(txn, &events).await?;
        for event in &events {
            let meta = event.meta();
            let key = meta.peer_id.to_string();
            let rec = peers
                .entry(key.clone())
                .or_default()
                .get_or_insert_with(|| PeerRecord::new(meta.peer_id, meta.timestamp));
            let old_ip = begin(rec, event);
            let located = match event {
                Event::ValidatorMetadata(e) => {
                    self.on_estimate(txn, rec, e, &key).await?;
                    false
                }
                Event::Attestation(e) => {
                    if let Some(index) = delivered(rec, e) {
                        attributions.record(
                            rec,
                            &key,
                            index,
                            self.config.tracker.max_attributed_per_peer,
                        );
                    }
                    false
                }
                other => on_identity(rec, other),
            };
            finish(rec, old_ip, located, geoip);
        }
        attributions.store(txn).await?;
        save_peers(txn, peers.values().flatten()).await?;
        Ok(events.len() as u64)
    }

    /// The embedded store's `on_estimate`, on the estimates table.
    async fn on_estimate(
        &self,
        txn: &Transaction<'_>,
        rec: &mut PeerRecord,
        e: &ValidatorMetadataEvent,
        key: &str,
    ) -> Result<(), PgError> {
        let row = EstimateRecord::from(e);
        let json = scrub_json(serde_json::to_string(&row)?);
        // The same (peer, epoch) again (another sentry, a retry): replace it.
        let inserted: bool = txn
            .query_one(
                "INSERT INTO tracker_estimates (peer_id, epoch, timestamp_ms, estimated_validators, record) \
                 VALUES ($1, $2, $3, $4, $5::text::jsonb) \
                 ON CONFLICT (peer_id, epoch) DO UPDATE SET timestamp_ms = EXCLUDED.timestamp_ms, \
                 estimated_validators = EXCLUDED.estimated_validators, record = EXCLUDED.record \
                 RETURNING xmax = 0",
                &[
                    &key,
                    &clamp(row.epoch),
                    &clamp(row.timestamp),
                    &clamp(row.estimated_validators),
                    &json,
                ],
            )
            .await
            .map_err(PgError::query("storing an estimate"))?
            .get(0);
        if inserted {
            rec.estimates_stored = rec.estimates_stored.saturating_add(1);
        }
        let keep = self.config.tracker.history_per_peer;
        if rec.estimates_stored > keep {
            let excess = clamp(rec.estimates_stored - keep);
            let dropped = txn
                .execute(
                    "DELETE FROM tracker_estimates WHERE peer_id = $1 AND epoch IN \
                     (SELECT epoch FROM tracker_estimates WHERE peer_id = $1 ORDER BY epoch LIMIT $2)",
                    &[&key, &excess],
                )
                .await
                .map_err(PgError::query("dropping old estimates"))?;
            rec.estimates_stored = rec.estimates_stored.saturating_sub(dropped);
        }
        keep_latest(rec, row);
        Ok(())
    }
}

/// The attribution counts a batch changes: which (peer, validator) pairs exist, and what to
/// add to each.
struct Attributions {
    known: HashSet<(String, i64)>,
    add: HashMap<(String, i64), i64>,
}

impl Attributions {
    /// Reads which of the batch's attributed pairs are stored already.
    async fn load(txn: &Transaction<'_>, events: &[&Event]) -> Result<Self, PgError> {
        let mut peers = Vec::new();
        let mut validators = Vec::new();
        for e in events {
            if let Event::Attestation(a) = e {
                if let (Some(_), Some(index)) = (a.evidence, a.attester_index) {
                    peers.push(a.meta.peer_id.to_string());
                    validators.push(clamp(index));
                }
            }
        }
        let mut known = HashSet::new();
        if !peers.is_empty() {
            let rows = txn
                .query(
                    "SELECT a.peer_id, a.validator_index FROM tracker_attributions a \
                     JOIN unnest($1::text[], $2::bigint[]) AS b(peer_id, validator_index) \
                     ON a.peer_id = b.peer_id AND a.validator_index = b.validator_index",
                    &[&peers, &validators],
                )
                .await
                .map_err(PgError::query("reading attributions"))?;
            for r in rows {
                known.insert((r.get(0), r.get(1)));
            }
        }
        Ok(Self {
            known,
            add: HashMap::new(),
        })
    }

    /// The embedded store's `on_attestation`: a validator already attributed counts once
    /// more; a new one only while the peer has fewer than `max` of them.
    fn record(&mut self, rec: &mut PeerRecord, key: &str, index: u64, max: u64) {
        let pair = (key.to_owned(), clamp(index));
        if self.known.contains(&pair) {
            *self.add.entry(pair).or_default() += 1;
        } else if rec.attributed_validators < max {
            rec.attributed_validators += 1;
            self.known.insert(pair.clone());
            *self.add.entry(pair).or_default() += 1;
        }
    }

    async fn store(self, txn: &Transaction<'_>) -> Result<(), PgError> {
        if self.add.is_empty() {
            return Ok(());
        }
        let mut peers = Vec::with_capacity(self.add.len());
        let mut validators = Vec::with_capacity(self.add.len());
        let mut counts = Vec::with_capacity(self.add.len());
        for ((p, v), n) in self.add {
            peers.push(p);
            validators.push(v);
            counts.push(n);
        }
        txn.execute(
            "INSERT INTO tracker_attributions (peer_id, validator_index, attestations) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) \
             ON CONFLICT (peer_id, validator_index) \
             DO UPDATE SET attestations = tracker_attributions.attestations + EXCLUDED.attestations",
            &[&peers, &validators, &counts],
        )
        .await
        .map_err(PgError::query("storing attributions"))?;
        Ok(())
    }
}

/// Writes peer records with the typed columns `/stats` groups by.
async fn save_peers<'a>(
    txn: &Transaction<'_>,
    records: impl Iterator<Item = &'a PeerRecord>,
) -> Result<(), PgError> {
    let mut ids = Vec::new();
    let mut json = Vec::new();
    let mut first = Vec::new();
    let mut last = Vec::new();
    let mut client = Vec::new();
    let mut country = Vec::new();
    let mut asn = Vec::new();
    let mut hosting = Vec::new();
    let mut digest = Vec::new();
    let mut ok = Vec::new();
    let mut est = Vec::new();
    let mut est_max = Vec::new();
    let mut unbounded = Vec::new();
    for rec in records {
        ids.push(rec.peer_id.to_string());
        // every string a peer or a message chose may hold a NUL
        json.push(scrub_json(serde_json::to_string(rec)?));
        first.push(clamp(rec.first_seen_ms).min(MAX_TIMESTAMP_MS));
        last.push(clamp(rec.last_seen_ms).min(MAX_TIMESTAMP_MS));
        client.push(rec.client.as_ref().map(|c| c.kind.to_string()));
        let loc = rec.location.as_ref();
        country.push(loc.and_then(|l| l.country.as_deref().map(scrub)));
        asn.push(loc.and_then(|l| l.asn).map(i64::from));
        hosting.push(loc.is_some_and(|l| l.hosting));
        digest.push(rec.fork_digest.map(|d| d.to_string()));
        ok.push(clamp(rec.handshakes_ok));
        let (e, max, unb) = match &rec.estimate {
            Some(e) => {
                let max = e
                    .stake_max_eth
                    .map(|eth| (eth / 32).max(e.estimated_validators));
                (
                    Some(clamp(e.estimated_validators)),
                    Some(clamp(max.unwrap_or(e.estimated_validators))),
                    max.is_none() && e.estimated_validators > 0,
                )
            }
            None => (None, None, false),
        };
        est.push(e);
        est_max.push(max);
        unbounded.push(unb);
    }
    if ids.is_empty() {
        return Ok(());
    }
    txn.execute(
        "INSERT INTO tracker_peers (peer_id, record, first_seen, last_seen, client, country, asn, \
         hosting, fork_digest, handshakes_ok, estimated_validators, estimated_validators_max, unbounded) \
         SELECT p, r::jsonb, to_timestamp(f / 1000.0), to_timestamp(l / 1000.0), c, co, a, h, d, o, e, m, u \
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], \
         $7::bigint[], $8::bool[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bool[]) \
         AS t(p, r, f, l, c, co, a, h, d, o, e, m, u) \
         ON CONFLICT (peer_id) DO UPDATE SET record = EXCLUDED.record, first_seen = EXCLUDED.first_seen, \
         last_seen = EXCLUDED.last_seen, client = EXCLUDED.client, country = EXCLUDED.country, \
         asn = EXCLUDED.asn, hosting = EXCLUDED.hosting, fork_digest = EXCLUDED.fork_digest, \
         handshakes_ok = EXCLUDED.handshakes_ok, estimated_validators = EXCLUDED.estimated_validators, \
         estimated_validators_max = EXCLUDED.estimated_validators_max, unbounded = EXCLUDED.unbounded",
        &[
            &ids, &json, &first, &last, &client, &country, &asn, &hosting, &digest, &ok, &est,
            &est_max, &unbounded,
        ],
    )
    .await
    .map_err(PgError::query("storing peers"))?;
    Ok(())
}
