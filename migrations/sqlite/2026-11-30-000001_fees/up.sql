-- Fees, subsidies and statements (DESIGN.md §4). Money is BIGINT fen.

-- Tags on user accounts that subsidy programmes select on (high_level_talent).
CREATE TABLE user_tags (
    user_id BIGINT NOT NULL REFERENCES users (id),
    tag TEXT NOT NULL CHECK (length(tag) BETWEEN 2 AND 40),
    PRIMARY KEY (user_id, tag)
);

-- Fee standards (收费标准), versioned per subject (an instrument in one mode,
-- or a service item). A charge records the version it used.
CREATE TABLE fee_standards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    subject TEXT NOT NULL,
    instrument_id BIGINT REFERENCES instruments (id),
    mode TEXT CHECK (mode IN ('self_operated', 'assisted', 'remote')),
    service_item_id BIGINT REFERENCES service_items (id),
    version INTEGER NOT NULL CHECK (version > 0),
    unit TEXT NOT NULL CHECK (unit IN ('hour', 'sample', 'item')),
    price_internal_fen BIGINT NOT NULL CHECK (price_internal_fen >= 0),
    price_member_fen BIGINT NOT NULL CHECK (price_member_fen >= 0),
    price_external_fen BIGINT NOT NULL CHECK (price_external_fen >= 0),
    startup_fee_fen BIGINT NOT NULL CHECK (startup_fee_fen >= 0),
    assisted_surcharge_fen BIGINT NOT NULL CHECK (assisted_surcharge_fen >= 0),
    minimum_charge_fen BIGINT NOT NULL CHECK (minimum_charge_fen >= 0),
    effective_from DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    note TEXT NOT NULL,
    reason TEXT,
    proposed_by BIGINT NOT NULL REFERENCES users (id),
    proposed_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    CONSTRAINT fee_standards_version_unique UNIQUE (subject, version),
    CHECK ((instrument_id IS NOT NULL AND mode IS NOT NULL AND service_item_id IS NULL)
        OR (service_item_id IS NOT NULL AND instrument_id IS NULL AND mode IS NULL))
);
CREATE INDEX fee_standards_in_force ON fee_standards (subject, status, effective_from);
CREATE INDEX fee_standards_institution ON fee_standards (institution_id, id);

-- Subsidy programmes (专项资助). spent_fen is what charges drew; the CHECK
-- keeps it within the budget whatever races the application loses.
CREATE TABLE subsidy_programmes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    funder TEXT NOT NULL,
    budget_fen BIGINT NOT NULL CHECK (budget_fen > 0),
    spent_fen BIGINT NOT NULL DEFAULT 0 CHECK (spent_fen >= 0),
    valid_from DATE NOT NULL,
    valid_until DATE NOT NULL,
    ratio_bp INTEGER NOT NULL CHECK (ratio_bp BETWEEN 1 AND 10000),
    cap_per_beneficiary_fen BIGINT CHECK (cap_per_beneficiary_fen > 0),
    cap_per_charge_fen BIGINT CHECK (cap_per_charge_fen > 0),
    memberships TEXT NOT NULL,
    user_tags TEXT NOT NULL,
    without_mature_lab_only BOOLEAN NOT NULL,
    cross_unit_only BOOLEAN NOT NULL,
    category_prefixes TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'active', 'closed')),
    created_by BIGINT NOT NULL REFERENCES users (id),
    approved_by BIGINT REFERENCES users (id),
    approved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT subsidy_programmes_within_budget CHECK (spent_fen <= budget_fen),
    CHECK (valid_from <= valid_until)
);

-- Grants: a beneficiary's share of a programme, approved with an amount.
CREATE TABLE subsidy_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    programme_id BIGINT NOT NULL REFERENCES subsidy_programmes (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    requested_fen BIGINT NOT NULL CHECK (requested_fen > 0),
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    amount_fen BIGINT CHECK (amount_fen > 0),
    used_fen BIGINT NOT NULL DEFAULT 0 CHECK (used_fen >= 0),
    reason TEXT,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT subsidy_grants_within_amount CHECK (used_fen <= COALESCE(amount_fen, 0)),
    CHECK ((status = 'approved') = (amount_fen IS NOT NULL))
);
CREATE UNIQUE INDEX subsidy_grants_one_open ON subsidy_grants (programme_id, user_id)
    WHERE status IN ('pending', 'approved');
CREATE INDEX subsidy_grants_user ON subsidy_grants (user_id, id);

-- Charges: immutable; a correction is a new charge of kind 'adjustment'.
CREATE TABLE charges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('usage', 'late_cancellation', 'no_show', 'walk_in', 'service_order', 'adjustment')),
    user_id BIGINT NOT NULL REFERENCES users (id),
    payer_institution_id BIGINT NOT NULL REFERENCES institutions (id),
    provider_institution_id BIGINT NOT NULL REFERENCES institutions (id),
    instrument_id BIGINT REFERENCES instruments (id),
    service_item_id BIGINT REFERENCES service_items (id),
    booking_id BIGINT REFERENCES bookings (id),
    usage_record_id BIGINT REFERENCES usage_records (id),
    service_order_id BIGINT REFERENCES service_orders (id),
    adjusts_charge_id BIGINT REFERENCES charges (id),
    fee_standard_id BIGINT REFERENCES fee_standards (id),
    fee_standard_version INTEGER,
    tier TEXT NOT NULL CHECK (tier IN ('internal', 'member', 'external')),
    mode TEXT CHECK (mode IN ('self_operated', 'assisted', 'sample', 'remote')),
    unit TEXT NOT NULL CHECK (unit IN ('hour', 'sample', 'item')),
    quantity BIGINT NOT NULL CHECK (quantity >= 0),
    unit_price_fen BIGINT NOT NULL CHECK (unit_price_fen >= 0),
    usage_fen BIGINT NOT NULL CHECK (usage_fen >= 0),
    startup_fee_fen BIGINT NOT NULL CHECK (startup_fee_fen >= 0),
    assisted_surcharge_fen BIGINT NOT NULL CHECK (assisted_surcharge_fen >= 0),
    minimum_top_up_fen BIGINT NOT NULL CHECK (minimum_top_up_fen >= 0),
    fee_percent INTEGER NOT NULL CHECK (fee_percent BETWEEN 0 AND 1000),
    gross_fen BIGINT NOT NULL,
    subsidy_fen BIGINT NOT NULL,
    payable_fen BIGINT NOT NULL,
    programme_id BIGINT REFERENCES subsidy_programmes (id),
    grant_id BIGINT REFERENCES subsidy_grants (id),
    reason TEXT NOT NULL,
    used_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT charges_once_per_booking UNIQUE (kind, booking_id),
    CONSTRAINT charges_once_per_usage UNIQUE (kind, usage_record_id),
    CONSTRAINT charges_once_per_order UNIQUE (kind, service_order_id),
    CHECK (payable_fen = gross_fen - subsidy_fen),
    CHECK (kind = 'adjustment' OR (gross_fen >= 0 AND subsidy_fen >= 0 AND subsidy_fen <= gross_fen)),
    CHECK ((kind = 'adjustment') = (adjusts_charge_id IS NOT NULL)),
    CHECK (kind = 'adjustment' OR fee_standard_id IS NOT NULL),
    CHECK ((programme_id IS NULL) = (grant_id IS NULL)),
    CHECK (subsidy_fen = 0 OR programme_id IS NOT NULL)
);
CREATE INDEX charges_user ON charges (user_id, id);
CREATE INDEX charges_payer ON charges (payer_institution_id, id);
CREATE INDEX charges_provider ON charges (provider_institution_id, id);
CREATE INDEX charges_created ON charges (created_at);
CREATE INDEX charges_programme ON charges (programme_id);
CREATE INDEX charges_adjusts ON charges (adjusts_charge_id);

CREATE TRIGGER charges_immutable_update BEFORE UPDATE ON charges
BEGIN
    SELECT RAISE(ABORT, 'charges_immutable: a charge is corrected by an adjustment, never changed');
END;
CREATE TRIGGER charges_immutable_delete BEFORE DELETE ON charges
BEGIN
    SELECT RAISE(ABORT, 'charges_immutable: a charge is corrected by an adjustment, never changed');
END;

-- Statements (结算单): per month, per payer institution (or programme) and provider.
CREATE TABLE statements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('settlement', 'subsidy')),
    month TEXT NOT NULL CHECK (length(month) = 7),
    payer_institution_id BIGINT REFERENCES institutions (id),
    programme_id BIGINT REFERENCES subsidy_programmes (id),
    -- The payer institution of a settlement, the programme of a subsidy statement.
    counterparty_id BIGINT NOT NULL,
    provider_institution_id BIGINT NOT NULL REFERENCES institutions (id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'issued', 'paid', 'disputed')),
    charge_count INTEGER NOT NULL CHECK (charge_count >= 0),
    gross_fen BIGINT NOT NULL,
    subsidy_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    issued_by BIGINT REFERENCES users (id),
    issued_at TIMESTAMP,
    paid_at TIMESTAMP,
    dispute_reason TEXT,
    resolution_note TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT statements_one_per_month UNIQUE (kind, month, counterparty_id, provider_institution_id),
    CHECK ((kind = 'settlement' AND payer_institution_id IS NOT NULL AND programme_id IS NULL
            AND counterparty_id = payer_institution_id)
        OR (kind = 'subsidy' AND programme_id IS NOT NULL AND payer_institution_id IS NULL
            AND counterparty_id = programme_id))
);
CREATE INDEX statements_provider ON statements (provider_institution_id, id);
CREATE INDEX statements_payer ON statements (payer_institution_id, id);

-- Which charges a statement settles: each charge once per kind of statement.
CREATE TABLE statement_charges (
    statement_id BIGINT NOT NULL REFERENCES statements (id),
    charge_id BIGINT NOT NULL REFERENCES charges (id),
    kind TEXT NOT NULL CHECK (kind IN ('settlement', 'subsidy')),
    PRIMARY KEY (statement_id, charge_id),
    CONSTRAINT statement_charges_once UNIQUE (charge_id, kind)
);

-- An issued statement never changes: neither its totals, its parties nor
-- its charges, and it never becomes a draft again.
CREATE TRIGGER statements_frozen BEFORE UPDATE ON statements
WHEN OLD.status <> 'draft' AND (NEW.status = 'draft'
    OR NEW.kind IS NOT OLD.kind OR NEW.month IS NOT OLD.month
    OR NEW.payer_institution_id IS NOT OLD.payer_institution_id OR NEW.programme_id IS NOT OLD.programme_id
    OR NEW.counterparty_id IS NOT OLD.counterparty_id OR NEW.provider_institution_id IS NOT OLD.provider_institution_id
    OR NEW.charge_count IS NOT OLD.charge_count OR NEW.gross_fen IS NOT OLD.gross_fen
    OR NEW.subsidy_fen IS NOT OLD.subsidy_fen OR NEW.net_fen IS NOT OLD.net_fen)
BEGIN
    SELECT RAISE(ABORT, 'statements_frozen: an issued statement never changes');
END;
CREATE TRIGGER statement_charges_frozen_insert BEFORE INSERT ON statement_charges
WHEN (SELECT status FROM statements WHERE id = NEW.statement_id) <> 'draft'
BEGIN
    SELECT RAISE(ABORT, 'statements_frozen: an issued statement never changes');
END;
CREATE TRIGGER statement_charges_frozen_update BEFORE UPDATE ON statement_charges
BEGIN
    SELECT RAISE(ABORT, 'statements_frozen: an issued statement never changes');
END;
CREATE TRIGGER statement_charges_frozen_delete BEFORE DELETE ON statement_charges
BEGIN
    SELECT RAISE(ABORT, 'statements_frozen: an issued statement never changes');
END;
