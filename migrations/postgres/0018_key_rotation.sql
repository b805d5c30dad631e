-- Access-token signing keys rotate: rows `jwt:<kid>` besides the master `access-token`
-- (which also roots the ticket and admission keys, and never changes). The newest key not
-- retired signs; a retired one verifies only tokens it signed before (see
-- identity::tokens). Keep this file in step with the other engine's 0018_key_rotation.sql.
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
