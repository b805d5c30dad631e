-- The theatre's own ids for what its system sends (`/api/v1/partner/sync/…`). Marquee's
-- ids for them are derived from the organisation and these ids, so a repeated or
-- concurrent create finds the row it made; the columns let the organisation read them back.
ALTER TABLE theatres ADD COLUMN external_id TEXT;
ALTER TABLE screens ADD COLUMN external_id TEXT;
ALTER TABLE shows ADD COLUMN external_id TEXT;
