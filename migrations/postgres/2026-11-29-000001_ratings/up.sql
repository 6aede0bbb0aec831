-- Ratings (DESIGN.md §3): a user rates a completed booking or service order
-- of their own, 1 to 5 with a comment, once. "Once" is kept by the unique
-- keys below, whatever the application does.
CREATE TABLE ratings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('booking', 'order')),
    booking_id BIGINT REFERENCES bookings (id),
    order_id BIGINT REFERENCES service_orders (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- The instrument the rating is shown under (for an order: the first
    -- instrument of its service item).
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT ratings_once_per_booking UNIQUE (kind, booking_id),
    CONSTRAINT ratings_once_per_order UNIQUE (kind, order_id),
    CHECK ((kind = 'booking' AND booking_id IS NOT NULL AND order_id IS NULL)
        OR (kind = 'order' AND order_id IS NOT NULL AND booking_id IS NULL))
);
CREATE INDEX ratings_instrument ON ratings (instrument_id, id);
