-- Events, notifications and the waitlist.

-- Transactional outbox: every state change appends its event in its own transaction.
-- `seq` orders events (per aggregate, the order of its changes); `published_at` is set by
-- whichever publisher drains the outbox (the in-process dispatcher or `marquee relay`).
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    version        INTEGER NOT NULL,
    payload        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    published_at   INTEGER
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- The events each consumer has handled, so a redelivered event changes nothing.
CREATE TABLE processed_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Named leases: one holder at a time (the outbox publisher), taken over once expired.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Notifications sent, one per (event, kind): the record that makes sending idempotent.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    sink       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (event_id, kind)
);

-- First-come-first-served waitlist of a show (or one category of it).
CREATE TABLE waitlist_entries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    show_id      TEXT NOT NULL REFERENCES shows (id),
    customer_id  TEXT NOT NULL REFERENCES users (id),
    seats_wanted INTEGER NOT NULL CHECK (seats_wanted > 0),
    category     TEXT CHECK (category IN ('regular', 'premium', 'recliner')),
    status       TEXT NOT NULL DEFAULT 'waiting'
                 CHECK (status IN ('waiting', 'offered', 'fulfilled', 'lapsed', 'cancelled')),
    booking_id   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX waitlist_waiting ON waitlist_entries (show_id, seq) WHERE status = 'waiting';
CREATE INDEX waitlist_by_booking ON waitlist_entries (booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX waitlist_by_customer ON waitlist_entries (customer_id, seq);
