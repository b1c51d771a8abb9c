-- The tracker: what the HTTP API serves, kept up to date from the events in the same
-- transactions as their rows. Peer ids sort bytewise (COLLATE "C"), as the embedded store
-- sorts them, so pages and orders are the same whichever store answers.

-- One row per peer: the whole record (the API's JSON) and, as typed columns, what /stats
-- groups by and what an analyst filters on.
CREATE TABLE tracker_peers (
    peer_id text COLLATE "C" PRIMARY KEY,
    record jsonb NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    -- client name (`lighthouse`, …), country code, ASN, fork digest: NULL when not known
    client text,
    country text,
    asn bigint,
    hosting boolean NOT NULL,
    fork_digest text,
    handshakes_ok bigint NOT NULL,
    -- the latest estimate (NULL: none yet), and the upper bound /stats counts for it
    estimated_validators bigint,
    estimated_validators_max bigint,
    -- an estimate above zero without an upper bound (custody group count 128)
    unbounded boolean NOT NULL
)
-- Every batch rewrites the rows of the peers it touches: room on each page for the new
-- versions (HOT updates, pruned without a vacuum), and a vacuum after every 2,000 dead rows
-- rather than after 20% of the table, so the visibility map stays current and /peers pages
-- by an index-only scan of the primary key.
WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
      autovacuum_analyze_scale_factor = 0.05);

-- Each peer's estimates, one per epoch, at most `history_per_peer` (the oldest go).
CREATE TABLE tracker_estimates (
    peer_id text COLLATE "C" NOT NULL,
    epoch bigint NOT NULL,
    timestamp_ms bigint NOT NULL,
    estimated_validators bigint NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (peer_id, epoch)
);
CREATE INDEX tracker_estimates_time ON tracker_estimates (timestamp_ms, peer_id, epoch);

-- Attestations attributed to a peer, per validator.
CREATE TABLE tracker_attributions (
    peer_id text COLLATE "C" NOT NULL,
    validator_index bigint NOT NULL,
    attestations bigint NOT NULL,
    PRIMARY KEY (peer_id, validator_index)
);

-- The events the tracker applied: one delivered again (JetStream redelivery, a second
-- consumer) is applied once. Rows older than the retention the writers are given are
-- deleted.
CREATE TABLE tracker_applied (
    event_id text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracker_applied_at ON tracker_applied USING brin (applied_at);
