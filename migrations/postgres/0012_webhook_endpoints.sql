-- Partners' webhook endpoints (Standard Webhooks). The secret signs deliveries, so it is
-- kept as is (like the token-signing key); after a rotation the previous secret also
-- signs until `previous_expires_at`.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES partner_orgs (id),
    url                  TEXT NOT NULL,
    event_types          TEXT NOT NULL,        -- JSON array
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_expires_at  BIGINT,
    status               TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_id, created_at);
