-- Institutions, labs, instruments, accounts, sessions and the audit trail.
CREATE TABLE institutions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    credit_code TEXT NOT NULL UNIQUE CHECK (char_length(credit_code) = 18),
    kind TEXT NOT NULL CHECK (kind IN ('commission', 'hospital', 'cdc', 'blood_center', 'other')),
    membership TEXT NOT NULL CHECK (membership IN ('member', 'external')),
    has_mature_lab BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('commission', 'platform_admin', 'unit_admin', 'instrument_manager', 'researcher', 'regulator')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE labs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    biosafety_level TEXT NOT NULL CHECK (biosafety_level IN ('none', 'BSL1', 'BSL2', 'BSL3')),
    accreditation TEXT NOT NULL CHECK (accreditation IN ('none', 'cnas', 'provincial')),
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    contact_email TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (institution_id, name),
    UNIQUE (id, institution_id)
);

CREATE TABLE instruments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_id BIGINT NOT NULL,
    institution_id BIGINT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT,
    category_code TEXT NOT NULL CHECK (char_length(category_code) = 6),
    model TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    country_of_origin TEXT NOT NULL,
    asset_number TEXT NOT NULL,
    original_value_fen BIGINT NOT NULL CHECK (original_value_fen >= 0),
    purchase_date DATE NOT NULL,
    commissioning_date DATE,
    technical_specs TEXT NOT NULL,
    functions TEXT NOT NULL,
    service_content TEXT NOT NULL,
    disciplines TEXT NOT NULL,
    photo_url TEXT,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    contact_email TEXT,
    status TEXT NOT NULL CHECK (status IN ('normal', 'standby', 'faulty', 'under_repair', 'retired')),
    sharing_scope TEXT NOT NULL CHECK (sharing_scope IN ('none', 'internal', 'system', 'public')),
    mode_self_operated BOOLEAN NOT NULL,
    mode_assisted BOOLEAN NOT NULL,
    mode_sample BOOLEAN NOT NULL,
    mode_remote BOOLEAN NOT NULL,
    rated_annual_hours INTEGER NOT NULL CHECK (rated_annual_hours BETWEEN 1 AND 8784),
    listing_status TEXT NOT NULL CHECK (listing_status IN ('unlisted', 'submitted', 'approved', 'rejected')),
    listing_note TEXT,
    listing_submitted_at TIMESTAMP,
    listing_decided_at TIMESTAMP,
    listing_decided_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    FOREIGN KEY (lab_id, institution_id) REFERENCES labs (id, institution_id),
    UNIQUE (institution_id, asset_number),
    CHECK (commissioning_date IS NULL OR commissioning_date >= purchase_date)
);
CREATE INDEX instruments_category ON instruments (category_code);
CREATE INDEX instruments_lab ON instruments (lab_id);

CREATE TABLE instrument_managers (
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (instrument_id, user_id)
);
CREATE INDEX instrument_managers_user ON instrument_managers (user_id);

CREATE TABLE sessions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT CHECK (revoked_reason IN ('logout', 'token_reuse', 'account_change'))
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE audit_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id BIGINT REFERENCES users (id),
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
