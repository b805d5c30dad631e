-- Waiting rooms in front of on-sales, and the customers in them.
-- Keep this file in step with migrations/sqlite/0015_waiting_rooms.sql.

-- One room per show. `seed` orders the pre-queue at the on-sale; only its hash is shown
-- until then. `next_position` is the last position handed out, `admitted_through` the
-- last admitted; `admit_window` (buyers deciding at once) and `rate_per_min`
-- (admissions per minute, for estimates) are the admission's state.
CREATE TABLE waiting_rooms (
    show_id            TEXT PRIMARY KEY REFERENCES shows (id),
    on_sale_at         BIGINT NOT NULL,
    seed               TEXT NOT NULL,
    seed_hash          TEXT NOT NULL,
    seats_per_account  BIGINT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('waiting', 'selling', 'sold-out')),
    shuffled_at        BIGINT,
    next_position      BIGINT NOT NULL,
    admitted_through   BIGINT NOT NULL,
    admit_window       BIGINT NOT NULL,
    rate_per_min       BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX waiting_rooms_open ON waiting_rooms (on_sale_at) WHERE status <> 'sold-out';

-- One entry per account and room. `position` is NULL in the pre-queue until the on-sale
-- orders it. `expected_at` is the earliest admission time the customer was told (what
-- they are shown never moves later).
CREATE TABLE waiting_room_entries (
    id           TEXT PRIMARY KEY,
    show_id      TEXT NOT NULL REFERENCES waiting_rooms (show_id),
    customer_id  TEXT NOT NULL REFERENCES users (id),
    joined_at    BIGINT NOT NULL,
    position     BIGINT,
    expected_at  BIGINT,
    admitted_at  BIGINT,
    UNIQUE (show_id, customer_id),
    UNIQUE (show_id, position)
);
