-- The language an account's messages are written in (`en`, `fr`). Keep this file in
-- step with the other engine's 0026_account_locale.sql.
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
