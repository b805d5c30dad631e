-- Offers: the rule (kind + parameters, JSON text), validity instants, scope lists.
-- Keep this file in step with migrations/postgres/0003_offers.sql.

CREATE TABLE offers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,          -- JSON of offers::model::OfferKind
    valid_from   INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (valid_until > valid_from)
);

CREATE TABLE offer_cities (
    offer_id  TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    city_id   TEXT NOT NULL REFERENCES cities (id),
    PRIMARY KEY (offer_id, city_id)
);

CREATE TABLE offer_theatres (
    offer_id    TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    theatre_id  TEXT NOT NULL REFERENCES theatres (id),
    PRIMARY KEY (offer_id, theatre_id)
);
