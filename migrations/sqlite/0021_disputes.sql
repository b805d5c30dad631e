-- Disputes (chargebacks): a customer's bank takes a payment back, the platform answers
-- with evidence, the bank decides. Marquee's record of each, and the mock gateway's own.
-- Keep this file in step with the other engine's 0021_disputes.sql.

-- One row per dispute the gateway told us of (by signed webhook). The status only moves
-- forward: open -> evidence_submitted -> won | lost. The split of the disputed amount into
-- the tickets' and the fees' part is decided when it opens (the tickets first, of what is
-- not refunded yet), so a lost dispute is settled exactly like a refund of that much.
CREATE TABLE disputes (
    id                     TEXT PRIMARY KEY,
    provider               TEXT NOT NULL,
    gateway_dispute_id     TEXT NOT NULL,
    payment_id             TEXT NOT NULL REFERENCES payments (id),
    booking_id             TEXT NOT NULL REFERENCES bookings (id),
    currency               TEXT NOT NULL,
    amount                 INTEGER NOT NULL CHECK (amount > 0),
    ticket_amount          INTEGER NOT NULL CHECK (ticket_amount >= 0),
    fee_amount             INTEGER NOT NULL CHECK (fee_amount >= 0),
    reason                 TEXT NOT NULL,
    status                 TEXT NOT NULL
                           CHECK (status IN ('open', 'evidence_submitted', 'won', 'lost')),
    evidence_due_at        INTEGER NOT NULL,
    evidence               TEXT,              -- JSON: what was sent to the gateway
    evidence_submitted_at  INTEGER,
    evidence_submitted_by  TEXT,
    opened_at              INTEGER NOT NULL,
    closed_at              INTEGER,
    updated_at             INTEGER NOT NULL,
    UNIQUE (provider, gateway_dispute_id),
    CHECK (amount = ticket_amount + fee_amount)
);
CREATE INDEX disputes_by_status ON disputes (status, opened_at);
CREATE INDEX disputes_by_booking ON disputes (booking_id);
CREATE INDEX disputes_closed ON disputes (closed_at) WHERE status = 'lost';

-- The mock gateway's disputes, each with the webhook it owes for its latest change
-- (delivered by its background task, retried until acknowledged).
CREATE TABLE mock_gateway_disputes (
    id               TEXT PRIMARY KEY,
    intent_id        TEXT NOT NULL,
    payment_id       TEXT NOT NULL,
    amount           INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('needs_response', 'under_review', 'won', 'lost')),
    evidence         TEXT,
    evidence_due_at  INTEGER NOT NULL,          -- the application clock's ms
    event_id         TEXT NOT NULL,
    event_body       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,          -- wall-clock ms
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX mock_gateway_disputes_owed ON mock_gateway_disputes (next_attempt_at)
    WHERE delivered_at IS NULL;
