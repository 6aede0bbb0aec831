-- The audit trail becomes a hash chain: every event carries the hash of its
-- predecessor and its own hash. Events written before this migration are
-- chained, in id order, by the migration runner right after it (the same code
-- as on SQLite), so the whole trail forms one chain from the genesis value of
-- 64 zeros. The columns stay nullable, as on SQLite; the verifier reports a
-- missing hash as a broken link.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_events_prev_hash ON audit_events (prev_hash);

-- The head of the chain: the last chained event and its hash. Writers lock it
-- (on PostgreSQL) so that two transactions never link to the same predecessor.
CREATE TABLE audit_chain_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id BIGINT,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_chain_head (singleton, last_id, last_hash)
VALUES (1, NULL, '0000000000000000000000000000000000000000000000000000000000000000');
