//! The tracker's reads, answered as the embedded store answers them.

use std::collections::BTreeMap;

use valtrack_core::PeerId;

use super::{PgError, PgStore};
use crate::tracker::{EstimateRecord, PeerPage, PeerRecord, Stats};

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

impl PgStore {
    fn limit(&self, limit: u64) -> i64 {
        clamp(limit.min(self.config.tracker.max_page))
    }

    /// One peer.
    pub async fn peer(&self, peer_id: &PeerId) -> Result<Option<PeerRecord>, PgError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT record::text FROM tracker_peers WHERE peer_id = $1",
                &[&peer_id.to_string()],
            )
            .await
            .map_err(PgError::query("reading a peer"))?;
        Ok(match row {
            Some(r) => Some(serde_json::from_str(r.get::<_, &str>(0))?),
            None => None,
        })
    }

    /// Peers ordered by peer id (bytewise): `limit` (at most `max_page`) from `offset`.
    pub async fn peers(&self, limit: u64, offset: u64) -> Result<PeerPage, PgError> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one("SELECT count(*) FROM tracker_peers", &[])
            .await
            .map_err(PgError::query("counting peers"))?
            .get(0);
        let rows = client
            .query(
                // The page's ids first (the primary key's order; no record read for the
                // rows skipped), then their records.
                "SELECT p.record::text FROM (SELECT peer_id FROM tracker_peers ORDER BY peer_id \
                 LIMIT $1 OFFSET $2) AS page JOIN tracker_peers p USING (peer_id) ORDER BY p.peer_id",
                &[&self.limit(limit), &clamp(offset)],
            )
            .await
            .map_err(PgError::query("reading peers"))?;
        let mut peers = Vec::with_capacity(rows.len());
        for r in rows {
            peers.push(serde_json::from_str(r.get::<_, &str>(0))?);
        }
        Ok(PeerPage {
            total: unsigned(total),
            offset,
            peers,
        })
    }

    /// Estimates with `from_ms <= timestamp <= to_ms`, oldest first (then by peer id and
    /// epoch), at most `limit` (and at most `max_page`).
    pub async fn estimates(
        &self,
        from_ms: u64,
        to_ms: u64,
        limit: u64,
    ) -> Result<Vec<EstimateRecord>, PgError> {
        if from_ms > to_ms || limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record::text FROM tracker_estimates WHERE timestamp_ms BETWEEN $1 AND $2 \
                 ORDER BY timestamp_ms, peer_id, epoch LIMIT $3",
                &[&clamp(from_ms), &clamp(to_ms), &self.limit(limit)],
            )
            .await
            .map_err(PgError::query("reading estimates"))?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?))
            .collect()
    }

    /// A peer's estimate history, newest epoch first, at most `limit`.
    pub async fn history(
        &self,
        peer_id: &PeerId,
        limit: u64,
    ) -> Result<Vec<EstimateRecord>, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record::text FROM tracker_estimates WHERE peer_id = $1 \
                 ORDER BY epoch DESC LIMIT $2",
                &[&peer_id.to_string(), &self.limit(limit)],
            )
            .await
            .map_err(PgError::query("reading a peer's estimates"))?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?))
            .collect()
    }

    /// Distinct validators attributed to a peer, ascending, with their attestation counts,
    /// at most `limit`.
    pub async fn attributed_validators(
        &self,
        peer_id: &PeerId,
        limit: u64,
    ) -> Result<Vec<(u64, u64)>, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT validator_index, attestations FROM tracker_attributions WHERE peer_id = $1 \
                 ORDER BY validator_index LIMIT $2",
                &[&peer_id.to_string(), &self.limit(limit)],
            )
            .await
            .map_err(PgError::query("reading attributions"))?;
        Ok(rows
            .iter()
            .map(|r| (unsigned(r.get(0)), unsigned(r.get(1))))
            .collect())
    }

    /// Aggregates over every peer: one pass over `tracker_peers`, grouped by client,
    /// country, ASN and fork digest at once.
    pub async fn stats(&self) -> Result<Stats, PgError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT GROUPING(client, country, asn, fork_digest)::int4, \
                   coalesce(client, 'unknown'), coalesce(country, 'unknown'), \
                   coalesce('AS' || asn, 'unknown'), coalesce(fork_digest, 'unknown'), \
                   count(*), \
                   count(*) FILTER (WHERE handshakes_ok > 0), \
                   count(*) FILTER (WHERE estimated_validators > 0), \
                   least(coalesce(sum(estimated_validators), 0), 9223372036854775807)::int8, \
                   least(coalesce(sum(estimated_validators_max), 0), 9223372036854775807)::int8, \
                   count(*) FILTER (WHERE unbounded), \
                   count(*) FILTER (WHERE hosting) \
                 FROM tracker_peers \
                 GROUP BY GROUPING SETS ((), (client), (country), (asn), (fork_digest))",
                &[],
            )
            .await
            .map_err(PgError::query("aggregating peers"))?;
        let mut stats = Stats::default();
        let mut groups: [BTreeMap<String, u64>; 4] = Default::default();
        for r in rows {
            let grouping: i32 = r.get(0);
            let count = unsigned(r.get(5));
            // GROUPING's bits, most significant first: client, country, asn, fork_digest;
            // a set's own column is the one bit that is 0.
            match grouping {
                0b1111 => {
                    stats.peers = count;
                    stats.peers_handshaked = unsigned(r.get(6));
                    stats.peers_with_validators = unsigned(r.get(7));
                    stats.estimated_validators = unsigned(r.get(8));
                    stats.estimated_validators_max = unsigned(r.get(9));
                    stats.peers_unbounded = unsigned(r.get(10));
                    stats.hosting = unsigned(r.get(11));
                }
                0b0111 => *groups[0].entry(r.get(1)).or_default() += count,
                0b1011 => *groups[1].entry(r.get(2)).or_default() += count,
                0b1101 => *groups[2].entry(r.get(3)).or_default() += count,
                0b1110 => *groups[3].entry(r.get(4)).or_default() += count,
                _ => {}
            }
        }
        let [clients, countries, asns, fork_digests] = groups;
        stats.clients = clients;
        stats.countries = countries;
        stats.asns = asns;
        stats.fork_digests = fork_digests;
        Ok(stats)
    }

    /// Rows in each event table, in [`EventKind::ALL`](valtrack_core::EventKind::ALL) order
    /// (an exact count: a scan of each table).
    pub async fn table_rows(&self) -> Result<[u64; 5], PgError> {
        let client = self.client().await?;
        let mut out = [0u64; 5];
        for (i, kind) in valtrack_core::EventKind::ALL.iter().enumerate() {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {}", kind.table()), &[])
                .await
                .map_err(PgError::query("counting rows"))?
                .get(0);
            out[i] = unsigned(n);
        }
        Ok(out)
    }
}
