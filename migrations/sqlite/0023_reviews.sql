-- Reviews and ratings of movies by customers who saw them.
-- Keep this file in step with the other engine's 0023_reviews.sql.

-- A movie's visible ratings, kept in the same unit of work as every review written,
-- edited or hidden (an UPDATE that adds to them, so concurrent reviews all count): the
-- listings show the average without reading the reviews.
ALTER TABLE movies ADD COLUMN rating_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE movies ADD COLUMN rating_sum INTEGER NOT NULL DEFAULT 0;

-- One review per customer and movie (edited in place).
CREATE TABLE reviews (
    id             TEXT PRIMARY KEY,
    movie_id       TEXT NOT NULL REFERENCES movies (id),
    customer_id    TEXT NOT NULL REFERENCES users (id),
    rating         INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body           TEXT NOT NULL,             -- plain text, stored as written
    status         TEXT NOT NULL DEFAULT 'visible' CHECK (status IN ('visible', 'hidden')),
    helpful_count  INTEGER NOT NULL DEFAULT 0,
    hidden_reason  TEXT,
    hidden_by      TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (movie_id, customer_id)
);
CREATE INDEX reviews_newest ON reviews (movie_id, created_at DESC, id DESC)
    WHERE status = 'visible';
CREATE INDEX reviews_most_helpful ON reviews (movie_id, helpful_count DESC, created_at DESC, id DESC)
    WHERE status = 'visible';

-- "Helpful" votes: one per customer and review.
CREATE TABLE review_votes (
    review_id    TEXT NOT NULL REFERENCES reviews (id),
    customer_id  TEXT NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);
