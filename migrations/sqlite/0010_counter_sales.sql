-- Seats a theatre sold at its own box office, reported by its system. The sold seats are
-- `booked` in show_seats with `booking_id` = the sale's id (`cts_…`), so the online claim
-- can never take them; the theatre's own id for the sale makes reporting idempotent.
CREATE TABLE counter_sales (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES partner_orgs (id),
    show_id           TEXT NOT NULL REFERENCES shows (id),
    external_sale_id  TEXT NOT NULL,
    seats             TEXT NOT NULL,            -- JSON array of labels, as reported
    status            TEXT NOT NULL CHECK (status IN ('sold', 'voided')),
    created_at        INTEGER NOT NULL,
    voided_at         INTEGER,
    UNIQUE (org_id, external_sale_id)
);
CREATE INDEX counter_sales_by_show ON counter_sales (show_id, created_at);
