-- Service accounts: hospital information systems and other clients that
-- integrate unattended, authenticating with client credentials. Each one
-- acts through an account of its institution that can never sign in with
-- a password and holds the roles the platform office gave it.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));

CREATE TABLE service_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    user_id BIGINT NOT NULL UNIQUE REFERENCES users (id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL,
    -- Space-separated, as in an OAuth 2 scope parameter.
    scopes TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    -- SHA-256 of the secret, hex; the secret itself is never stored.
    secret_hash TEXT NOT NULL CHECK (length(secret_hash) = 64),
    -- Raised by every rotation: access tokens carry it and die with it.
    secret_generation BIGINT NOT NULL CHECK (secret_generation >= 1),
    secret_set_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX service_accounts_institution ON service_accounts (institution_id, id);
