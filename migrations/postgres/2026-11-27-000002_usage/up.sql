-- Usage records (机时记录): actual use, written at check-out or for a walk-in.
CREATE TABLE usage_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    booking_id BIGINT UNIQUE REFERENCES bookings (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    operator_id BIGINT NOT NULL REFERENCES users (id),
    mode TEXT NOT NULL CHECK (mode IN ('self_operated', 'assisted', 'sample', 'remote')),
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    effective_minutes INTEGER NOT NULL CHECK (effective_minutes > 0),
    billed_minutes INTEGER NOT NULL CHECK (billed_minutes >= effective_minutes OR booking_id IS NOT NULL),
    walk_in BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    CHECK (ended_at > started_at),
    CHECK (walk_in = (booking_id IS NULL))
);
CREATE INDEX usage_records_instrument_time ON usage_records (instrument_id, started_at);
CREATE INDEX usage_records_user ON usage_records (user_id, started_at);
