-- Check-in at the theatre's door (src/checkin): every scan of a ticket code that Marquee
-- recorded, online or reported later by a scanner that was offline. Kept in step with
-- migrations/sqlite/0019_check_ins.sql: the same columns, constraints and indexes, so both
-- engines decide the same way; only the integer type is spelled for the engine (BIGINT
-- here, INTEGER there: both 64-bit).
--
-- `outcome` is what the scan is now: `admitted` (the admission of record: one per booking,
-- the earliest admitting scan), `conflict` (another scanner admitted the same ticket too;
-- both scans are kept), `duplicate` (the same scanner read it again) or `refused` (an
-- online scan turned away because the ticket was already in). `reported` is what the
-- scanner was told when the scan was recorded: a re-sent batch gets the same answer.
CREATE TABLE ticket_scans (
    id           TEXT PRIMARY KEY,                       -- scn_…
    booking_id   TEXT NOT NULL REFERENCES bookings (id),
    show_id      TEXT NOT NULL REFERENCES shows (id),
    scanner_id   TEXT NOT NULL,                          -- the device, named by the theatre
    scanned_at   BIGINT NOT NULL,                        -- when the scanner read the code
    recorded_at  BIGINT NOT NULL,                        -- when Marquee received the scan
    source       TEXT NOT NULL CHECK (source IN ('online', 'offline')),
    outcome      TEXT NOT NULL
                 CHECK (outcome IN ('admitted', 'conflict', 'duplicate', 'refused')),
    reported     TEXT NOT NULL
                 CHECK (reported IN ('admitted', 'conflict', 'duplicate', 'refused')),
    seats        TEXT NOT NULL,                          -- JSON array: the booking's seats then
    seat_count   BIGINT NOT NULL CHECK (seat_count >= 0),
    -- A scanner re-sending a batch (it never saw the answer) records nothing twice.
    UNIQUE (booking_id, scanner_id, scanned_at)
);
-- One admission per booking: when two scanners read one ticket at the same instant, this
-- index (not a read before the write) decides which one admits.
CREATE UNIQUE INDEX ticket_scans_one_admission ON ticket_scans (booking_id)
    WHERE outcome = 'admitted';
-- A show's admissions and conflicts in scan order (keyset pages).
CREATE INDEX ticket_scans_by_show ON ticket_scans (show_id, scanned_at, id);
