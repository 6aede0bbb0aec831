-- The yearly sums per instrument (the assessment and the usage report) on
-- SQLite. SQLite has no hash aggregation: a GROUP BY over rows in any other
-- order sorts them all, in runs the size of its page cache, and a row found
-- through an index that lacks a column it needs is fetched from the table
-- out of the table's order. Both grow faster than the data once a year of
-- a large pool no longer fits in memory. Each index below starts with the
-- instrument and holds every column its aggregate reads: the aggregate
-- reads each instrument's entries of the period in turn, and the groups
-- stream out with no sort and no table access. The indexes keep their
-- leading columns, so every earlier use of them reads them as before.
-- PostgreSQL hashes the groups and keeps its indexes as they are.
DROP INDEX usage_records_instrument_time;
CREATE INDEX usage_records_instrument_time
    ON usage_records (instrument_id, started_at, institution_id, effective_minutes, user_id, ended_at, recorded_at);

DROP INDEX bookings_instrument_time;
CREATE INDEX bookings_instrument_time ON bookings (instrument_id, starts_at, status);

DROP INDEX ratings_instrument;
CREATE INDEX ratings_instrument ON ratings (instrument_id, id, created_at, score);

CREATE INDEX charges_instrument ON charges (instrument_id, used_at, tier, gross_fen, subsidy_fen);
