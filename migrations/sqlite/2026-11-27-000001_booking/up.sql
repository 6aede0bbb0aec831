-- Booking: per-instrument rules, opening hours, blackouts, qualifications, bookings.
CREATE TABLE booking_rules (
    instrument_id BIGINT PRIMARY KEY REFERENCES instruments (id),
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
    min_minutes INTEGER NOT NULL CHECK (min_minutes > 0),
    max_minutes INTEGER NOT NULL CHECK (max_minutes >= min_minutes AND max_minutes <= 1440),
    lead_minutes INTEGER CHECK (lead_minutes IS NULL OR lead_minutes BETWEEN 0 AND 43200),
    horizon_days INTEGER NOT NULL CHECK (horizon_days BETWEEN 1 AND 365),
    auto_approve BOOLEAN NOT NULL
);

CREATE TABLE opening_hours (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens_minute INTEGER NOT NULL CHECK (opens_minute BETWEEN 0 AND 1439),
    closes_minute INTEGER NOT NULL CHECK (closes_minute BETWEEN 1 AND 1440),
    CHECK (opens_minute < closes_minute)
);
CREATE INDEX opening_hours_instrument ON opening_hours (instrument_id);

CREATE TABLE blackouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    kind TEXT NOT NULL CHECK (kind IN ('maintenance', 'calibration', 'repair')),
    reason TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP,
    CHECK (ends_at > starts_at)
);
CREATE INDEX blackouts_instrument ON blackouts (instrument_id, starts_at);

CREATE TABLE qualifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('instrument', 'biosafety')),
    instrument_id BIGINT REFERENCES instruments (id),
    biosafety_level TEXT CHECK (biosafety_level IN ('BSL1', 'BSL2', 'BSL3')),
    certified_by BIGINT NOT NULL REFERENCES users (id),
    certified_at TIMESTAMP NOT NULL,
    expires_on DATE NOT NULL,
    note TEXT NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by BIGINT REFERENCES users (id),
    CHECK ((kind = 'instrument' AND instrument_id IS NOT NULL AND biosafety_level IS NULL)
        OR (kind = 'biosafety' AND instrument_id IS NULL AND biosafety_level IS NOT NULL))
);
CREATE INDEX qualifications_user ON qualifications (user_id);

CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    mode TEXT NOT NULL CHECK (mode IN ('self_operated', 'assisted', 'sample', 'remote')),
    purpose TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'in_use', 'completed', 'rejected', 'cancelled', 'no_show', 'expired')),
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    reason TEXT,
    late_cancellation BOOLEAN NOT NULL,
    checked_in_at TIMESTAMP,
    checked_out_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX bookings_instrument_time ON bookings (instrument_id, starts_at);
CREATE INDEX bookings_user ON bookings (user_id, starts_at);
CREATE INDEX bookings_status ON bookings (status, starts_at);

-- No two bookings that hold a slot overlap on one instrument, whatever the
-- application does (PostgreSQL enforces the same with an exclusion constraint).
CREATE TRIGGER bookings_no_overlap_insert BEFORE INSERT ON bookings
WHEN NEW.status IN ('pending', 'approved', 'in_use')
BEGIN
    SELECT RAISE(ABORT, 'bookings_no_overlap')
    WHERE EXISTS (
        SELECT 1 FROM bookings b
        WHERE b.instrument_id = NEW.instrument_id
          AND b.status IN ('pending', 'approved', 'in_use')
          AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at
    );
END;

CREATE TRIGGER bookings_no_overlap_update BEFORE UPDATE OF status, starts_at, ends_at, instrument_id ON bookings
WHEN NEW.status IN ('pending', 'approved', 'in_use')
BEGIN
    SELECT RAISE(ABORT, 'bookings_no_overlap')
    WHERE EXISTS (
        SELECT 1 FROM bookings b
        WHERE b.id <> NEW.id
          AND b.instrument_id = NEW.instrument_id
          AND b.status IN ('pending', 'approved', 'in_use')
          AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at
    );
END;
