-- Customers told of what changes under their booking (issue 17).
-- Keep this file in step with the other engine's 0027_hold_reminders.sql.

-- When the reminder that the hold lapses soon was written (booking.hold_expiring): at
-- most once per booking, set in the unit that appends the event.
ALTER TABLE bookings ADD COLUMN reminded_at INTEGER;

-- When the booking's show was moved while the booking was live (held or confirmed): its
-- customer may then cancel for a full refund whatever the cancellation cutoff.
ALTER TABLE bookings ADD COLUMN show_moved_at INTEGER;

-- The reminder timer's scan: unpaid holds not yet reminded, by expiry.
CREATE INDEX bookings_to_remind ON bookings (expires_at)
    WHERE status = 'pending_payment' AND reminded_at IS NULL;
