-- The platform policy as the platform office last set it: one row.
CREATE TABLE platform_policy (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);

-- Performance assessments (DESIGN.md §5): computed as a draft, published
-- by the commission and then frozen, with the policy values they used.
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    policy_json TEXT NOT NULL,
    reward_pool_fen BIGINT NOT NULL CHECK (reward_pool_fen >= 0),
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    published_by BIGINT REFERENCES users (id),
    published_at TIMESTAMP,
    CHECK (period_from <= period_to),
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);

-- One row per instrument assessed; the figures as exact decimal text in result_json.
CREATE TABLE assessment_instruments (
    assessment_id BIGINT NOT NULL REFERENCES assessments (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    original_value_fen BIGINT NOT NULL,
    total TEXT NOT NULL,
    grade TEXT NOT NULL CHECK (grade IN ('excellent', 'good', 'pass', 'fail')),
    idle BOOLEAN NOT NULL,
    low_sharing BOOLEAN NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (assessment_id, instrument_id)
);
CREATE INDEX assessment_instruments_unit ON assessment_instruments (assessment_id, institution_id);

-- One row per unit: the assessor's management score and the unit's result.
CREATE TABLE assessment_units (
    assessment_id BIGINT NOT NULL REFERENCES assessments (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    management_points TEXT,
    management_note TEXT,
    entered_by BIGINT REFERENCES users (id),
    entered_at TIMESTAMP,
    score TEXT,
    grade TEXT CHECK (grade IN ('excellent', 'good', 'pass', 'fail')),
    reward_fen BIGINT NOT NULL CHECK (reward_fen >= 0),
    rectification_required BOOLEAN NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (assessment_id, institution_id)
);

-- A published assessment never changes.
CREATE TRIGGER assessments_frozen_update BEFORE UPDATE ON assessments WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessments_frozen_delete BEFORE DELETE ON assessments WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_instruments_frozen_insert BEFORE INSERT ON assessment_instruments
WHEN (SELECT status FROM assessments WHERE id = NEW.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_instruments_frozen_update BEFORE UPDATE ON assessment_instruments
WHEN (SELECT status FROM assessments WHERE id = OLD.assessment_id) = 'published'
    OR (SELECT status FROM assessments WHERE id = NEW.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_instruments_frozen_delete BEFORE DELETE ON assessment_instruments
WHEN (SELECT status FROM assessments WHERE id = OLD.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_units_frozen_insert BEFORE INSERT ON assessment_units
WHEN (SELECT status FROM assessments WHERE id = NEW.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_units_frozen_update BEFORE UPDATE ON assessment_units
WHEN (SELECT status FROM assessments WHERE id = OLD.assessment_id) = 'published'
    OR (SELECT status FROM assessments WHERE id = NEW.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
CREATE TRIGGER assessment_units_frozen_delete BEFORE DELETE ON assessment_units
WHEN (SELECT status FROM assessments WHERE id = OLD.assessment_id) = 'published'
BEGIN
    SELECT RAISE(ABORT, 'assessments_frozen: a published assessment never changes');
END;
