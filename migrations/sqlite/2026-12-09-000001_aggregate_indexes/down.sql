DROP INDEX charges_instrument;

DROP INDEX ratings_instrument;
CREATE INDEX ratings_instrument ON ratings (instrument_id, id);

DROP INDEX bookings_instrument_time;
CREATE INDEX bookings_instrument_time ON bookings (instrument_id, starts_at);

DROP INDEX usage_records_instrument_time;
CREATE INDEX usage_records_instrument_time ON usage_records (instrument_id, started_at);
