-- Waiting rooms in front of on-sales, and the customers in them.
-- Keep this file in step with migrations/postgres/0015_waiting_rooms.sql.

-- One room per show. `seed` orders the pre-queue at the on-sale; only its hash is shown
-- until then. `next_position` is the last position handed out, `admitted_through` the
-- last admitted; `admit_window` (buyers deciding at once) and `rate_per_min`
-- (admissions per minute, for estimates) are the admission's state.
CREATE TABLE waiting_rooms (
    show_id            TEXT PRIMARY KEY REFERENCES shows (id),
    on_sale_at         INTEGER NOT NULL,
    seed               TEXT NOT NULL,
    seed_hash          TEXT NOT NULL,
    seats_per_account  INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('waiting', 'selling', 'sold-out')),
    shuffled_at        INTEGER,
    next_position      INTEGER NOT NULL,
    admitted_through   INTEGER NOT NULL,
    admit_window       INTEGER NOT NULL,
    rate_per_min       INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX waiting_rooms_open ON waiting_rooms (on_sale_at) WHERE status <> 'sold-out';

-- One entry per account and room. `position` is NULL in the pre-queue until the on-sale
-- orders it. `expected_at` is the earliest admission time the customer was told (what
-- they are shown never moves later).
CREATE TABLE waiting_room_entries (
    id           TEXT PRIMARY KEY,
    show_id      TEXT NOT NULL REFERENCES waiting_rooms (show_id),
    customer_id  TEXT NOT NULL REFERENCES users (id),
    joined_at    INTEGER NOT NULL,
    position     INTEGER,
    expected_at  INTEGER,
    admitted_at  INTEGER,
    UNIQUE (show_id, customer_id),
    UNIQUE (show_id, position)
);
