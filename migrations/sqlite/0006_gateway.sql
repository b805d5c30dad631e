-- What payment gateways told us that did not fit, and the built-in mock gateway's own
-- records. Keep this file in step with migrations/postgres/0006_gateway.sql.

-- A verified gateway message (webhook or status answer) whose contents did not match the
-- payment it names: refused, never applied, kept for reconciliation. One row per message.
CREATE TABLE payment_anomalies (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    message_id  TEXT NOT NULL,             -- the webhook's event id, or status:<intent>
    payment_id  TEXT NOT NULL,             -- as the message named it; may be unknown to us
    kind        TEXT NOT NULL,             -- intent_mismatch, amount_mismatch, currency_mismatch
    expected    TEXT NOT NULL,
    received    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (provider, message_id)
);
CREATE INDEX payment_anomalies_by_payment ON payment_anomalies (payment_id);

-- Payments still awaiting the gateway's verdict, oldest first: what reconciliation asks
-- the gateway about.
CREATE INDEX payments_pending ON payments (created_at) WHERE status = 'pending';

-- The mock gateway stands for another company's system, which keeps its records: an
-- intent is recorded here when it is confirmed (before the confirmation is acknowledged),
-- with the webhook it owes, until that webhook is delivered.
CREATE TABLE mock_gateway_intents (
    id               TEXT PRIMARY KEY,
    payment_id       TEXT NOT NULL UNIQUE,
    amount           INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('processing', 'succeeded', 'failed', 'canceled')),
    failure_reason   TEXT,
    settles_at       INTEGER NOT NULL,      -- wall-clock ms: when processing ends
    event_id         TEXT NOT NULL UNIQUE, -- the webhook it owes
    event_body       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,      -- wall-clock ms
    delivered_at     INTEGER,
    given_up_at      INTEGER,
    refund_id        TEXT,
    refunded_amount  INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX mock_gateway_owed ON mock_gateway_intents (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
