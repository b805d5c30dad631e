-- Deliveries of events to partners' webhook endpoints, and every attempt at one.
-- Keep this file in step with migrations/postgres/0013_webhook_deliveries.sql.

-- Since when an endpoint's deliveries have been failing without a success in between
-- (cleared by a success): what disables it after sustained failure.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since INTEGER;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;

-- One row per (endpoint, event). `seq` is the event's outbox position and `show_id` its
-- ordering key: of one endpoint's pending deliveries for one show, only the earliest (the
-- `head`) is sent, so a receiver sees a show's events in the order they happened. `head`
-- is kept by the writers (under the endpoint row's lock) so that finding what is due reads
-- only the heads, however long a slow endpoint's backlog. The body is frozen when the
-- delivery is made, so retries and replays send the same bytes.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    show_id          TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    head             BOOLEAN NOT NULL DEFAULT FALSE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- A node sending it now holds it until then; past it, another may send it again.
    claimed_until    INTEGER,
    first_attempt_at INTEGER,
    last_status_code INTEGER,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending' AND head;
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, show_id, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at, id);

CREATE TABLE webhook_attempts (
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    attempted_at      INTEGER NOT NULL,
    outcome           TEXT NOT NULL,        -- delivered, retry, rejected, gave_up
    status_code       INTEGER,
    latency_ms        INTEGER NOT NULL,
    error             TEXT,
    response_excerpt  TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
