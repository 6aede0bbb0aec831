-- Purchase reviews (新购查重评议, DESIGN.md §5). Money is BIGINT fen.

-- A unit's request to buy an instrument, the platform's recommendation and
-- the platform office's decision.
CREATE TABLE purchase_reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    category_code TEXT NOT NULL CHECK (length(category_code) = 6),
    instrument_name TEXT NOT NULL CHECK (length(instrument_name) BETWEEN 1 AND 100),
    specs TEXT NOT NULL CHECK (length(specs) <= 500),
    price_fen BIGINT NOT NULL CHECK (price_fen > 0),
    quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    -- The use weighed: effective hours of similar instruments started in [usage_from, usage_to).
    usage_from TIMESTAMP NOT NULL,
    usage_to TIMESTAMP NOT NULL,
    -- The policy's hours below which a similar instrument is a candidate for sharing.
    share_instead_below_hours INTEGER NOT NULL CHECK (share_instead_below_hours >= 0),
    recommendation TEXT NOT NULL CHECK (recommendation IN ('share_instead', 'purchase')),
    status TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'withdrawn')),
    filed_by BIGINT NOT NULL REFERENCES users (id),
    filed_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    decision_reason TEXT CHECK (length(decision_reason) BETWEEN 1 AND 500),
    withdrawn_by BIGINT REFERENCES users (id),
    withdrawn_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    CHECK (usage_from < usage_to),
    CHECK ((status IN ('approved', 'rejected'))
        = (decided_by IS NOT NULL AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)),
    CHECK (status IN ('approved', 'rejected') OR (decided_by IS NULL AND decided_at IS NULL AND decision_reason IS NULL)),
    CHECK ((status = 'withdrawn') = (withdrawn_by IS NOT NULL AND withdrawn_at IS NOT NULL)),
    CHECK (status = 'withdrawn' OR (withdrawn_by IS NULL AND withdrawn_at IS NULL))
);
CREATE INDEX purchase_reviews_institution ON purchase_reviews (institution_id, id);
CREATE INDEX purchase_reviews_status ON purchase_reviews (status, id);
CREATE INDEX purchase_reviews_category ON purchase_reviews (category_code, id);

-- The similar instruments as the platform saw them at filing: the answer a
-- unit got, kept as it was whatever use is recorded later.
CREATE TABLE purchase_review_instruments (
    review_id BIGINT NOT NULL REFERENCES purchase_reviews (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    institution_name TEXT NOT NULL,
    instrument_name TEXT NOT NULL,
    original_value_fen BIGINT NOT NULL CHECK (original_value_fen >= 0),
    status TEXT NOT NULL CHECK (status IN ('normal', 'standby', 'faulty', 'under_repair', 'retired')),
    sharing_scope TEXT NOT NULL CHECK (sharing_scope IN ('none', 'internal', 'system', 'public')),
    listing_status TEXT NOT NULL CHECK (listing_status IN ('unlisted', 'submitted', 'approved', 'rejected')),
    effective_minutes BIGINT NOT NULL CHECK (effective_minutes >= 0),
    candidate BOOLEAN NOT NULL,
    PRIMARY KEY (review_id, instrument_id)
);

-- The request and the answer never change; a decision or withdrawal is final.
CREATE TRIGGER purchase_reviews_frozen BEFORE UPDATE ON purchase_reviews
WHEN OLD.status <> 'submitted'
    OR NEW.institution_id IS NOT OLD.institution_id OR NEW.category_code IS NOT OLD.category_code
    OR NEW.instrument_name IS NOT OLD.instrument_name OR NEW.specs IS NOT OLD.specs
    OR NEW.price_fen IS NOT OLD.price_fen OR NEW.quantity IS NOT OLD.quantity OR NEW.reason IS NOT OLD.reason
    OR NEW.usage_from IS NOT OLD.usage_from OR NEW.usage_to IS NOT OLD.usage_to
    OR NEW.share_instead_below_hours IS NOT OLD.share_instead_below_hours
    OR NEW.recommendation IS NOT OLD.recommendation
    OR NEW.filed_by IS NOT OLD.filed_by OR NEW.filed_at IS NOT OLD.filed_at
BEGIN
    SELECT RAISE(ABORT, 'purchase_reviews_frozen: a filed request and its answer never change');
END;
CREATE TRIGGER purchase_reviews_frozen_delete BEFORE DELETE ON purchase_reviews
BEGIN
    SELECT RAISE(ABORT, 'purchase_reviews_frozen: a filed request and its answer never change');
END;
CREATE TRIGGER purchase_review_instruments_frozen_update BEFORE UPDATE ON purchase_review_instruments
BEGIN
    SELECT RAISE(ABORT, 'purchase_reviews_frozen: a filed request and its answer never change');
END;
CREATE TRIGGER purchase_review_instruments_frozen_delete BEFORE DELETE ON purchase_review_instruments
BEGIN
    SELECT RAISE(ABORT, 'purchase_reviews_frozen: a filed request and its answer never change');
END;
