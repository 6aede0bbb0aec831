-- The secret of each user's own calendar feed (/api/v1/calendar/{token}.ics).
-- Only its SHA-256 is kept; rotating replaces the row, so the old URL stops working.
CREATE TABLE calendar_tokens (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
