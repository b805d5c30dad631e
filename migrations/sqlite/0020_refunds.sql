-- Refunds made by the platform's staff (full, by seat or by amount), several per booking;
-- the mock gateway's refunds, several per charge; settlement lines for each of them.
-- Keep this file in step with the other engine's 0020_refunds.sql.

-- One row per refund an administrator made. `pending` until the gateway has it; the
-- refunds of a payment never add up to more than it captured (checked, with the
-- booking's row locked, in the unit of work that inserts the row). The split into the
-- tickets' part and the fees' part is decided when the refund is made, so settlement
-- gives back exactly what the refund took.
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    booking_id         TEXT NOT NULL REFERENCES bookings (id),
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    currency           TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount > 0),
    ticket_amount      INTEGER NOT NULL CHECK (ticket_amount >= 0),
    fee_amount         INTEGER NOT NULL CHECK (fee_amount >= 0),
    seats              TEXT NOT NULL,          -- JSON array of the labels released
    reason             TEXT NOT NULL,
    requested_by       TEXT NOT NULL,          -- the administrator's user id
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded')),
    gateway_refund_id  TEXT,
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    CHECK (amount = ticket_amount + fee_amount)
);
CREATE INDEX refunds_by_booking ON refunds (booking_id, created_at);
CREATE INDEX refunds_by_time ON refunds (created_at);
CREATE INDEX refunds_pending ON refunds (created_at) WHERE status = 'pending';

-- The mock gateway's refunds: one per idempotency key, so a retried request refunds once,
-- and never more in all than the charge captured.
CREATE TABLE mock_gateway_refunds (
    key          TEXT PRIMARY KEY,
    refund_id    TEXT NOT NULL UNIQUE,
    intent_id    TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX mock_gateway_refunds_by_intent ON mock_gateway_refunds (intent_id);

-- A settlement line is one fact: a booking's sale, its cancellation's refund (fact_id ''),
-- a refund by the staff or a lost dispute (fact_id: the refund's or the dispute's id).
-- SQLite cannot change a primary key or a CHECK in place: the table is rebuilt.
CREATE TABLE settlement_lines_new (
    run_id         TEXT NOT NULL REFERENCES settlement_runs (id),
    booking_id     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'chargeback')),
    fact_id        TEXT NOT NULL DEFAULT '',
    occurred_at    INTEGER NOT NULL,
    business_date  TEXT NOT NULL,
    adjustment     BOOLEAN NOT NULL,
    theatre_id     TEXT NOT NULL,
    show_id        TEXT NOT NULL,
    currency       TEXT NOT NULL,
    customer_amount INTEGER NOT NULL,
    ticket_amount  INTEGER NOT NULL,
    fee_amount     INTEGER NOT NULL,
    commission     INTEGER NOT NULL,
    net            INTEGER NOT NULL,
    commission_bp  INTEGER NOT NULL,
    PRIMARY KEY (booking_id, kind, fact_id)
);
INSERT INTO settlement_lines_new (run_id, booking_id, kind, fact_id, occurred_at,
    business_date, adjustment, theatre_id, show_id, currency, customer_amount, ticket_amount,
    fee_amount, commission, net, commission_bp)
SELECT run_id, booking_id, kind, '', occurred_at, business_date, adjustment, theatre_id,
    show_id, currency, customer_amount, ticket_amount, fee_amount, commission, net,
    commission_bp
FROM settlement_lines;
DROP TABLE settlement_lines;
ALTER TABLE settlement_lines_new RENAME TO settlement_lines;
CREATE INDEX settlement_lines_by_run ON settlement_lines (run_id);
CREATE INDEX settlement_lines_by_date ON settlement_lines (business_date);
