-- Bookings, payments and idempotency keys.
-- Keep this file in step with migrations/sqlite/0004_booking.sql.

CREATE TABLE bookings (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES users (id),
    show_id       TEXT NOT NULL REFERENCES shows (id),
    group_id      TEXT,                                  -- bulk bookings share one
    status        TEXT NOT NULL
                  CHECK (status IN ('pending_payment', 'confirmed', 'expired', 'cancelled')),
    seats         TEXT NOT NULL,                         -- JSON array of labels, quote order
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    total         BIGINT NOT NULL CHECK (total >= 0),    -- minor units, fees included
    fee_total     BIGINT NOT NULL CHECK (fee_total >= 0),
    quote         TEXT NOT NULL,                         -- JSON of offers::quote::Quote
    refund        BIGINT,                                -- set when cancelled with a refund
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    cancelled_at  BIGINT
);
CREATE INDEX bookings_by_customer ON bookings (customer_id, created_at DESC, id DESC);
CREATE INDEX bookings_by_show ON bookings (show_id, created_at DESC, id DESC);
CREATE INDEX bookings_due ON bookings (expires_at) WHERE status = 'pending_payment';

-- One row per attempt to pay. At most one attempt per booking is pending or succeeded at a
-- time: the partial unique index is what makes "one successful payment per booking" hold
-- under concurrent requests.
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    booking_id      TEXT NOT NULL REFERENCES bookings (id),
    provider        TEXT NOT NULL,
    intent_id       TEXT,                                -- the gateway's id, once known
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'succeeded', 'failed', 'refunding', 'refunded')),
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    currency        TEXT NOT NULL,
    refund_amount   BIGINT,
    failure_reason  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX payments_by_booking ON payments (booking_id);
CREATE UNIQUE INDEX payments_one_live ON payments (booking_id) WHERE status IN ('pending', 'succeeded');
CREATE INDEX payments_refunding ON payments (updated_at) WHERE status = 'refunding';

-- Idempotency keys, written in the transaction of the effect they guard. The row is
-- inserted first (so a concurrent duplicate waits on it or collides) and completed with the
-- response before commit.
CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
