-- Erasure (GDPR): an erased account keeps its id (bookings and payments, which accounting
-- needs, still point at it) and loses everything personal; `erased_at` says when.
-- Keep this file in step with the other engine's 0017_privacy.sql.
ALTER TABLE users ADD COLUMN erased_at INTEGER;
