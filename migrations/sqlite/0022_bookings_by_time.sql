-- Bookings by creation time: the platform report's conversion (holds made in a period)
-- and the back office's booking search by date read them in this order.
-- Keep this file in step with the other engine's 0022_bookings_by_time.sql.
CREATE INDEX bookings_by_created ON bookings (created_at, id);
