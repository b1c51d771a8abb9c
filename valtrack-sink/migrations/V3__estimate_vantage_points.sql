-- What the attestations attributed to the peer, beside each estimate: the validators counted,
-- the vantage points (sentries) backing them and the validators they disagreed on. Rows
-- written before this migration read 0 for all three.
ALTER TABLE validator_metadata_events
    ADD COLUMN attributed_validators bigint NOT NULL DEFAULT 0,
    ADD COLUMN vantage_points bigint NOT NULL DEFAULT 0,
    ADD COLUMN contested_validators bigint NOT NULL DEFAULT 0;
