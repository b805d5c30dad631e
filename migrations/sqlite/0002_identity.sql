-- Identity: refresh tokens (rotating, hashed), partner API keys (hashed), and the server's
-- token-signing secret (generated once, shared by every node through the database).
-- Keep this file in step with migrations/postgres/0002_identity.sql.

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    -- Every rotation stays in its login's family; reusing a rotated token revokes the family.
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,      -- SHA-256 of the secret, hex
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER,                   -- set when exchanged for a new token
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES partner_orgs (id),
    name          TEXT NOT NULL,
    key_prefix    TEXT NOT NULL,           -- first characters, shown in listings
    key_hash      TEXT NOT NULL UNIQUE,    -- SHA-256 of the whole key, hex
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys (org_id);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    secret      TEXT NOT NULL,             -- base64 of 32 random bytes; never logged
    created_at  INTEGER NOT NULL
);
