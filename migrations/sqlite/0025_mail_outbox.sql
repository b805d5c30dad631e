-- The mail outbox: `notifications` holds each composed message (both bodies) from the
-- moment the `notifications` consumer writes it until a mail server has accepted it. The
-- sender on every node claims due messages with a lease, retries failures with backoff and
-- gives up after `notify.max_attempts`. Keep this file in step with the other engine's
-- 0025_mail_outbox.sql.
--
-- Rows written before this migration were sent when they were recorded: `sent`.
ALTER TABLE notifications ADD COLUMN status TEXT NOT NULL DEFAULT 'sent'
    CHECK (status IN ('queued', 'sending', 'sent', 'failed'));
-- The addresses the message goes to (JSON array); `recipient` stays their display form.
ALTER TABLE notifications ADD COLUMN recipients TEXT NOT NULL DEFAULT '[]';
ALTER TABLE notifications ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
ALTER TABLE notifications ADD COLUMN text_body TEXT NOT NULL DEFAULT '';
-- Empty: a plain-text message (partner notices).
ALTER TABLE notifications ADD COLUMN html_body TEXT NOT NULL DEFAULT '';
-- Attempts started (a claim counts as one, so a message that crashes its sender is
-- eventually given up too).
ALTER TABLE notifications ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- When the message is due: queued, the next attempt; sending, when the lease lapses.
ALTER TABLE notifications ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN lease_until INTEGER;
ALTER TABLE notifications ADD COLUMN last_error TEXT;
ALTER TABLE notifications ADD COLUMN sent_at INTEGER;
ALTER TABLE notifications ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE notifications SET sent_at = created_at, updated_at = created_at;
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('queued', 'sending');
