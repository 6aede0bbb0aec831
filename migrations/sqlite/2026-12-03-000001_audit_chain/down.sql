DROP TABLE audit_chain_head;
DROP INDEX audit_events_prev_hash;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
