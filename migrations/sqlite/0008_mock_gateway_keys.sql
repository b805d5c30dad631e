-- The mock gateway's intents are found by their id only. The UNIQUE constraints on
-- payment_id and event_id cost the committer two more b-tree inserts per confirmed
-- intent, and nothing reads by them. SQLite cannot drop a column constraint, so the table
-- is rebuilt without them.
CREATE TABLE mock_gateway_intents_new (
    id               TEXT PRIMARY KEY,
    payment_id       TEXT NOT NULL,
    amount           INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('processing', 'succeeded', 'failed', 'canceled')),
    failure_reason   TEXT,
    settles_at       INTEGER NOT NULL,      -- wall-clock ms: when processing ends
    event_id         TEXT NOT NULL,         -- the webhook it owes
    event_body       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,      -- wall-clock ms
    delivered_at     INTEGER,
    given_up_at      INTEGER,
    refund_id        TEXT,
    refunded_amount  INTEGER,
    created_at       INTEGER NOT NULL
);
INSERT INTO mock_gateway_intents_new SELECT
    id, payment_id, amount, currency, status, failure_reason, settles_at, event_id,
    event_body, attempts, next_attempt_at, delivered_at, given_up_at, refund_id,
    refunded_amount, created_at
FROM mock_gateway_intents;
DROP TABLE mock_gateway_intents;
ALTER TABLE mock_gateway_intents_new RENAME TO mock_gateway_intents;
CREATE INDEX mock_gateway_owed ON mock_gateway_intents (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
