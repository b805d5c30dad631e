-- Live seat maps read a show's events from the outbox in order (resuming a stream after
-- a reconnect), so each event names the show it concerns.
ALTER TABLE outbox ADD COLUMN show_id TEXT;
UPDATE outbox SET show_id = payload::jsonb ->> 'show_id';
CREATE INDEX outbox_by_show ON outbox (show_id, seq) WHERE show_id IS NOT NULL;
