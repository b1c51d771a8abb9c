-- The five event tables: the columns of the Parquet tables of the same names (see
-- valtrack-sink/src/parquet_sink/schema.rs), one typed column each. Unsigned 64-bit values
-- are bigint (a value past 2^63-1, which only a hostile peer sends, is stored as 2^63-1),
-- subnet lists smallint[], string lists text[]. The event id is the primary key: an event
-- delivered twice is one row.
--
-- Indexes: a BRIN index on the timestamp (tiny, and cheap to keep on a table that only
-- grows in time order) for time windows, and a b-tree on the peer for one peer's rows,
-- except on validator_attributions (thousands of rows a second: the primary key only).

CREATE TABLE discovery_events (
    event_id text PRIMARY KEY,
    crawler_id text NOT NULL,
    crawler_location text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    peer_id text NOT NULL,
    node_id text NOT NULL,
    enr text,
    reason text NOT NULL,
    seq bigint NOT NULL,
    ip text,
    ip6 text,
    tcp_port integer,
    udp_port integer,
    quic_port integer,
    fork_digest text,
    next_fork_version text,
    next_fork_epoch bigint,
    nfd text,
    attnets smallint[],
    syncnets smallint[],
    cgc bigint,
    class text NOT NULL,
    enr_issues text[] NOT NULL
);
CREATE INDEX discovery_events_time ON discovery_events USING brin ("timestamp");
CREATE INDEX discovery_events_peer ON discovery_events (peer_id);

CREATE TABLE metadata_events (
    event_id text PRIMARY KEY,
    crawler_id text NOT NULL,
    crawler_location text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    peer_id text NOT NULL,
    node_id text NOT NULL,
    enr text,
    multiaddr text,
    direction text NOT NULL,
    transport text,
    muxer text,
    status_version smallint,
    status_fork_digest text,
    status_finalized_root text,
    status_finalized_epoch bigint,
    status_head_root text,
    status_head_slot bigint,
    status_earliest_available_slot bigint,
    metadata_version smallint,
    metadata_seq_number bigint,
    metadata_attnets smallint[],
    metadata_syncnets smallint[],
    metadata_custody_group_count bigint,
    agent_version text,
    client_name text,
    client_version text,
    client_os text,
    client_arch text,
    subscribed_attnets smallint[],
    subscribed_syncnets smallint[],
    protocols text[] NOT NULL,
    connect_ms bigint,
    status_ms bigint,
    metadata_ms bigint,
    ping_ms bigint,
    total_ms bigint,
    error_kind text,
    goodbye_code bigint,
    error_message text
);
CREATE INDEX metadata_events_time ON metadata_events USING brin ("timestamp");
CREATE INDEX metadata_events_peer ON metadata_events (peer_id);

CREATE TABLE validator_metadata_events (
    event_id text PRIMARY KEY,
    crawler_id text NOT NULL,
    crawler_location text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    peer_id text NOT NULL,
    node_id text NOT NULL,
    enr text,
    epoch bigint NOT NULL,
    long_lived_subnets smallint[] NOT NULL,
    predicted_subnets smallint[] NOT NULL,
    matches_node_id_prediction boolean NOT NULL,
    short_lived_subnets smallint[] NOT NULL,
    all_subnets boolean NOT NULL,
    custody_group_count bigint,
    stake_min_eth bigint,
    stake_max_eth bigint,
    estimated_validators bigint NOT NULL,
    method text NOT NULL,
    confidence real NOT NULL
);
CREATE INDEX validator_metadata_events_time ON validator_metadata_events USING brin ("timestamp");
CREATE INDEX validator_metadata_events_peer ON validator_metadata_events (peer_id);

CREATE TABLE validator_attributions (
    event_id text PRIMARY KEY,
    crawler_id text NOT NULL,
    crawler_location text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    peer_id text NOT NULL,
    node_id text NOT NULL,
    enr text,
    form text NOT NULL,
    subnet bigint NOT NULL,
    slot bigint NOT NULL,
    committee_index bigint NOT NULL,
    attester_index bigint,
    aggregation_bit bigint,
    target_epoch bigint NOT NULL,
    beacon_block_root text NOT NULL,
    first_seen_delay_ms bigint NOT NULL,
    evidence text
);
CREATE INDEX validator_attributions_time ON validator_attributions USING brin ("timestamp");

CREATE TABLE peer_locations (
    event_id text PRIMARY KEY,
    crawler_id text NOT NULL,
    crawler_location text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    peer_id text NOT NULL,
    node_id text NOT NULL,
    enr text,
    ip text NOT NULL,
    address_kind text NOT NULL,
    country text,
    city text,
    latitude double precision,
    longitude double precision,
    asn bigint,
    as_org text,
    hosting boolean NOT NULL
);
CREATE INDEX peer_locations_time ON peer_locations USING brin ("timestamp");
CREATE INDEX peer_locations_peer ON peer_locations (peer_id);
