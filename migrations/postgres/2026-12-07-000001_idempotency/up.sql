-- Idempotency keys of creating requests: the first answer to a key is kept
-- for a day so that a retry with the same key replays it instead of writing
-- twice. The unique key makes the first of concurrent duplicates win.
CREATE TABLE idempotency_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body_hash TEXT NOT NULL CHECK (length(body_hash) = 64),
    state TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status INTEGER CHECK (status BETWEEN 100 AND 599),
    content_type TEXT,
    headers TEXT,
    body TEXT,
    body_encoding TEXT CHECK (body_encoding IN ('utf8', 'base64')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    CONSTRAINT idempotency_keys_principal_key UNIQUE (principal, idempotency_key),
    CHECK (state = 'in_progress' OR (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL AND body_encoding IS NOT NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
