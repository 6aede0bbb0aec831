-- Sample services (委托检测): service items, orders and their samples.
CREATE TABLE service_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    primary_instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    name TEXT NOT NULL,
    unit TEXT NOT NULL CHECK (unit IN ('sample', 'item')),
    turnaround_days INTEGER NOT NULL CHECK (turnaround_days BETWEEN 1 AND 90),
    sample_requirements TEXT NOT NULL,
    required_biosafety TEXT NOT NULL CHECK (required_biosafety IN ('none', 'BSL1', 'BSL2', 'BSL3')),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (institution_id, name)
);

CREATE TABLE service_item_instruments (
    service_item_id BIGINT NOT NULL REFERENCES service_items (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (service_item_id, instrument_id)
);

CREATE TABLE service_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    service_item_id BIGINT NOT NULL REFERENCES service_items (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    provider_institution_id BIGINT NOT NULL REFERENCES institutions (id),
    status TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'in_progress', 'completed', 'rejected', 'cancelled')),
    notes TEXT NOT NULL,
    reason TEXT,
    report_reference TEXT,
    sample_count INTEGER CHECK (sample_count IS NULL OR sample_count > 0),
    instrument_minutes INTEGER CHECK (instrument_minutes IS NULL OR instrument_minutes >= 0),
    decided_by BIGINT REFERENCES users (id),
    accepted_at TIMESTAMP,
    received_at TIMESTAMP,
    completed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (status <> 'completed' OR (report_reference IS NOT NULL AND received_at IS NOT NULL AND completed_at IS NOT NULL))
);
CREATE INDEX service_orders_user ON service_orders (user_id);
CREATE INDEX service_orders_provider ON service_orders (provider_institution_id, status);

CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id BIGINT NOT NULL REFERENCES service_orders (id),
    code TEXT NOT NULL,
    sample_type TEXT NOT NULL CHECK (sample_type IN ('blood', 'serum', 'plasma', 'urine', 'swab', 'tissue', 'culture', 'water', 'food', 'environmental', 'other')),
    risk_level TEXT NOT NULL CHECK (risk_level IN ('none', 'BSL1', 'BSL2', 'BSL3')),
    human BOOLEAN NOT NULL,
    ethics_approval TEXT,
    CHECK (NOT human OR ethics_approval IS NOT NULL),
    UNIQUE (order_id, code)
);
