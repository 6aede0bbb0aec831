-- Webhooks: subscriptions, the transactional outbox of events, one delivery
-- per (subscription, event) and every attempt to deliver it.
CREATE TABLE webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: platform-wide (all events); otherwise the events concerning this institution.
    institution_id BIGINT REFERENCES institutions (id),
    url TEXT NOT NULL CHECK (char_length(url) BETWEEN 8 AND 2000),
    -- JSON array of event types.
    event_types TEXT NOT NULL,
    -- Needed to sign each delivery, so kept; shown only at creation and rotation.
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    description TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX webhooks_institution ON webhooks (institution_id);

CREATE TABLE outbox_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    payload_json TEXT NOT NULL,
    -- JSON array of the institutions the event concerns.
    institution_ids TEXT NOT NULL
);
CREATE INDEX outbox_events_object ON outbox_events (object_type, object_id);

CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
    event_id BIGINT NOT NULL REFERENCES outbox_events (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at TIMESTAMP NOT NULL,
    -- A dispatcher's lease: nobody else sends this delivery before then.
    locked_until TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id),
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    attempted_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
    status_code INTEGER,
    error TEXT,
    response_excerpt TEXT CHECK (response_excerpt IS NULL OR char_length(response_excerpt) <= 500)
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
