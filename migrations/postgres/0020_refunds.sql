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
    amount             BIGINT NOT NULL CHECK (amount > 0),
    ticket_amount      BIGINT NOT NULL CHECK (ticket_amount >= 0),
    fee_amount         BIGINT NOT NULL CHECK (fee_amount >= 0),
    seats              TEXT NOT NULL,          -- JSON array of the labels released
    reason             TEXT NOT NULL,
    requested_by       TEXT NOT NULL,          -- the administrator's user id
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded')),
    gateway_refund_id  TEXT,
    created_at         BIGINT NOT NULL,
    completed_at       BIGINT,
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
    amount       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX mock_gateway_refunds_by_intent ON mock_gateway_refunds (intent_id);

-- A settlement line is one fact: a booking's sale, its cancellation's refund (fact_id ''),
-- a refund by the staff or a lost dispute (fact_id: the refund's or the dispute's id).
ALTER TABLE settlement_lines ADD COLUMN fact_id TEXT NOT NULL DEFAULT '';
ALTER TABLE settlement_lines DROP CONSTRAINT settlement_lines_pkey;
ALTER TABLE settlement_lines ADD PRIMARY KEY (booking_id, kind, fact_id);
ALTER TABLE settlement_lines DROP CONSTRAINT settlement_lines_kind_check;
ALTER TABLE settlement_lines ADD CONSTRAINT settlement_lines_kind_check
    CHECK (kind IN ('sale', 'refund', 'chargeback'));
