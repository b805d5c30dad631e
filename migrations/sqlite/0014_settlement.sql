-- Commission rates, settlement runs and their lines, and the mock gateway's ledger.
-- Keep this file in step with migrations/postgres/0014_settlement.sql.

-- What the platform keeps of a partner organisation's ticket sales, in basis points, from
-- one business date (inclusive) to another (exclusive; open-ended when NULL).
CREATE TABLE commission_rates (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES partner_orgs (id),
    basis_points   INTEGER NOT NULL CHECK (basis_points BETWEEN 0 AND 10000),
    valid_from     TEXT NOT NULL,
    valid_until    TEXT,
    created_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX commission_rates_by_org ON commission_rates (org_id, valid_from);

-- One settlement of one organisation for one business day (in its theatres' timezones).
-- Closed when written: re-running the day answers this row.
CREATE TABLE settlement_runs (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES partner_orgs (id),
    business_date  TEXT NOT NULL,
    payout_date    TEXT NOT NULL,
    totals         TEXT NOT NULL,        -- JSON: one object per currency
    line_count     INTEGER NOT NULL,
    created_by     TEXT NOT NULL,        -- 'scheduler' or the administrator's user id
    created_at     INTEGER NOT NULL,
    UNIQUE (org_id, business_date)
);
CREATE INDEX settlement_runs_by_org ON settlement_runs (org_id, business_date DESC);

-- One line per booking sale or refund, settled once: the UNIQUE (booking_id, kind) is what
-- makes a fact land in exactly one statement. Amounts are signed minor units: a sale adds,
-- a refund subtracts.
CREATE TABLE settlement_lines (
    run_id         TEXT NOT NULL REFERENCES settlement_runs (id),
    booking_id     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sale', 'refund')),
    occurred_at    INTEGER NOT NULL,
    business_date  TEXT NOT NULL,        -- the fact's own local date
    adjustment     BOOLEAN NOT NULL,     -- a refund of a sale settled in an earlier run
    theatre_id     TEXT NOT NULL,
    show_id        TEXT NOT NULL,
    currency       TEXT NOT NULL,
    customer_amount INTEGER NOT NULL,        -- paid (+) or refunded (-), fees included
    ticket_amount  INTEGER NOT NULL,
    fee_amount     INTEGER NOT NULL,
    commission     INTEGER NOT NULL,
    net            INTEGER NOT NULL,
    commission_bp  INTEGER NOT NULL,
    PRIMARY KEY (booking_id, kind)
);
CREATE INDEX settlement_lines_by_run ON settlement_lines (run_id);
CREATE INDEX settlement_lines_by_date ON settlement_lines (business_date);

-- The mock gateway's ledger: every capture and refund as the acquirer's settlement file
-- would list it, kept apart from its intents (which it forgets after a while).
CREATE TABLE mock_gateway_ledger (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('capture', 'refund')),
    intent_id    TEXT NOT NULL,
    payment_id   TEXT NOT NULL,        -- the merchant's reference
    amount       INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL           -- the application clock's ms
);
CREATE INDEX mock_gateway_ledger_by_time ON mock_gateway_ledger (occurred_at);
CREATE INDEX mock_gateway_ledger_by_payment ON mock_gateway_ledger (payment_id);
