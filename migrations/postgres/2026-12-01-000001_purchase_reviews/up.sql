-- Purchase reviews (新购查重评议, DESIGN.md §5). Money is BIGINT fen.

-- A unit's request to buy an instrument, the platform's recommendation and
-- the platform office's decision.
CREATE TABLE purchase_reviews (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE FUNCTION purchase_reviews_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'purchase_reviews' AND TG_OP = 'UPDATE' THEN
        IF OLD.status <> 'submitted'
            OR (NEW.institution_id, NEW.category_code, NEW.instrument_name, NEW.specs, NEW.price_fen, NEW.quantity,
                NEW.reason, NEW.usage_from, NEW.usage_to, NEW.share_instead_below_hours, NEW.recommendation,
                NEW.filed_by, NEW.filed_at)
            IS DISTINCT FROM
               (OLD.institution_id, OLD.category_code, OLD.instrument_name, OLD.specs, OLD.price_fen, OLD.quantity,
                OLD.reason, OLD.usage_from, OLD.usage_to, OLD.share_instead_below_hours, OLD.recommendation,
                OLD.filed_by, OLD.filed_at) THEN
            RAISE EXCEPTION 'purchase_reviews_frozen: a filed request and its answer never change';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'purchase_reviews_frozen: a filed request and its answer never change';
END;
$$;
CREATE TRIGGER purchase_reviews_frozen BEFORE UPDATE OR DELETE ON purchase_reviews
    FOR EACH ROW EXECUTE FUNCTION purchase_reviews_frozen();
CREATE TRIGGER purchase_review_instruments_frozen BEFORE UPDATE OR DELETE ON purchase_review_instruments
    FOR EACH ROW EXECUTE FUNCTION purchase_reviews_frozen();
