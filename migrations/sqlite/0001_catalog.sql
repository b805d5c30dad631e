-- Catalog, layouts, shows and per-show seat inventory.
-- Instants are INTEGER milliseconds since the Unix epoch (UTC); calendar dates are ISO text.
-- Keep this file in step with migrations/postgres/0001_catalog.sql.

CREATE TABLE cities (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    country_code  TEXT NOT NULL CHECK (length(country_code) = 2),
    timezone      TEXT NOT NULL,
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    created_at    INTEGER NOT NULL,
    UNIQUE (country_code, name)
);
CREATE INDEX cities_by_name ON cities (name, id);

CREATE TABLE movies (
    id                 TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    original_language  TEXT NOT NULL,
    synopsis           TEXT NOT NULL DEFAULT '',
    duration_minutes   INTEGER NOT NULL CHECK (duration_minutes > 0),
    certification      TEXT NOT NULL,
    release_date       TEXT NOT NULL,
    -- Lower-cased titles (all locales), kept by the writer for free-text search.
    search_text        TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX movies_by_release ON movies (release_date DESC, id);

CREATE TABLE movie_genres (
    movie_id  TEXT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    genre     TEXT NOT NULL,
    PRIMARY KEY (movie_id, genre)
);
CREATE INDEX movie_genres_by_genre ON movie_genres (genre, movie_id);

-- Languages a movie can be shown in (original and dubbed).
CREATE TABLE movie_languages (
    movie_id  TEXT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    language  TEXT NOT NULL,
    PRIMARY KEY (movie_id, language)
);

CREATE TABLE movie_localizations (
    movie_id  TEXT NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    locale    TEXT NOT NULL,        -- lower-case BCP 47 tag: 'hi', 'de', 'pt-br'
    title     TEXT NOT NULL,
    synopsis  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (movie_id, locale)
);

CREATE TABLE partner_orgs (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'suspended')),
    created_at   INTEGER NOT NULL,
    approved_at  INTEGER
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,   -- stored lower-cased
    display_name   TEXT NOT NULL,
    password_hash  TEXT NOT NULL,          -- Argon2id PHC string
    role           TEXT NOT NULL CHECK (role IN ('customer', 'partner', 'admin')),
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at     INTEGER NOT NULL
);

CREATE TABLE partner_members (
    org_id   TEXT NOT NULL REFERENCES partner_orgs (id),
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX partner_members_by_user ON partner_members (user_id);

CREATE TABLE theatres (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES partner_orgs (id),
    city_id      TEXT NOT NULL REFERENCES cities (id),
    name         TEXT NOT NULL,
    address      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX theatres_by_city ON theatres (city_id, name, id);
CREATE INDEX theatres_by_org ON theatres (org_id);

CREATE TABLE screens (
    id          TEXT PRIMARY KEY,
    theatre_id  TEXT NOT NULL REFERENCES theatres (id),
    name        TEXT NOT NULL,
    -- The layout new shows are allocated from; older shows keep the layout they were made with.
    layout_id   TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (theatre_id, name)
);

-- Layouts are immutable versions: changing a screen's seats makes a new layout.
CREATE TABLE seat_layouts (
    id          TEXT PRIMARY KEY,
    screen_id   TEXT NOT NULL REFERENCES screens (id),
    row_count   INTEGER NOT NULL,
    col_count   INTEGER NOT NULL,
    seat_count  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE layout_seats (
    layout_id   TEXT NOT NULL REFERENCES seat_layouts (id),
    label       TEXT NOT NULL,          -- 'A1'
    row_label   TEXT NOT NULL,          -- 'A'
    row_index   INTEGER NOT NULL,       -- 0-based grid row
    col_index   INTEGER NOT NULL,       -- 0-based grid column; gaps/aisles are missing columns
    category    TEXT NOT NULL CHECK (category IN ('regular', 'premium', 'recliner')),
    accessible  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (layout_id, label),
    UNIQUE (layout_id, row_index, col_index)
);

CREATE TABLE shows (
    id          TEXT PRIMARY KEY,
    movie_id    TEXT NOT NULL REFERENCES movies (id),
    screen_id   TEXT NOT NULL REFERENCES screens (id),
    layout_id   TEXT NOT NULL REFERENCES seat_layouts (id),
    theatre_id  TEXT NOT NULL REFERENCES theatres (id),   -- denormalised from screen
    city_id     TEXT NOT NULL REFERENCES cities (id),     -- denormalised from theatre
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,                         -- start + running time
    language    TEXT NOT NULL,
    format      TEXT NOT NULL CHECK (format IN ('2D', '3D', 'IMAX', 'IMAX 3D', '4DX')),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    status      TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX shows_by_city_start ON shows (city_id, starts_at);
CREATE INDEX shows_by_movie_city_start ON shows (movie_id, city_id, starts_at);
CREATE INDEX shows_by_theatre_start ON shows (theatre_id, starts_at);
CREATE INDEX shows_by_screen_start ON shows (screen_id, starts_at);

CREATE TABLE show_prices (
    show_id   TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    category  TEXT NOT NULL CHECK (category IN ('regular', 'premium', 'recliner')),
    amount    INTEGER NOT NULL CHECK (amount >= 0),       -- minor units of shows.currency
    PRIMARY KEY (show_id, category)
);

-- One row per seat per show: the unit that is sold. Counts are derived, never stored.
CREATE TABLE show_seats (
    show_id     TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    seat_label  TEXT NOT NULL,
    category    TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'available'
                CHECK (state IN ('available', 'held', 'booked', 'blocked', 'withheld')),
    booking_id  TEXT,
    held_until  INTEGER,
    PRIMARY KEY (show_id, seat_label)
) WITHOUT ROWID;
CREATE INDEX show_seats_by_booking ON show_seats (booking_id) WHERE booking_id IS NOT NULL;
