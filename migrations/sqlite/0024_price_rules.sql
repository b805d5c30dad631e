-- Dynamic pricing: rules that move a seat's price before offers apply, and the holiday
-- calendars they read. Keep this file in step with the other engine's 0024_price_rules.sql.

-- A rule of one partner organisation (its shows, or only those at the listed theatres) or
-- of the platform (org_id NULL: every show, or those in the listed cities/theatres).
CREATE TABLE price_rules (
    id           TEXT PRIMARY KEY,
    org_id       TEXT REFERENCES partner_orgs (id),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,          -- JSON of pricing::model::RuleKind
    categories   TEXT NOT NULL,          -- JSON array of seat categories; [] = every one
    theatre_ids  TEXT NOT NULL,          -- JSON array; [] = every theatre in scope
    city_ids     TEXT NOT NULL,          -- JSON array (platform rules); [] = everywhere
    bounds       TEXT NOT NULL,          -- JSON object: category -> {floor, cap} minor units
    active       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX price_rules_by_org ON price_rules (org_id, created_at, id);

-- Public holidays per country (ISO 3166-1 alpha-2), read on the show's local date.
CREATE TABLE holidays (
    country_code TEXT NOT NULL CHECK (length(country_code) = 2),
    day          TEXT NOT NULL,
    name         TEXT NOT NULL,
    PRIMARY KEY (country_code, day)
);
