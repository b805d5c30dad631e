-- Per-account caps on held seats: the live holds of one customer, found without reading
-- the customer's whole booking history.
CREATE INDEX bookings_live_by_customer ON bookings (customer_id, show_id)
    WHERE status = 'pending_payment';
