//! Reviews in the database: writing (with the movie's rating in the same unit), reading,
//! votes, hiding.

use super::{ReviewError, ReviewOrder, ReviewView};
use crate::{
    app::AppState,
    db::{Sql, Tx},
    db_row,
    http::pagination::{Page, PageRequest},
    ids::ReviewId,
    integration::{events::Event, outbox},
    params,
    time::Timestamp,
};

db_row! {
    #[derive(Debug, Clone)]
    struct ReviewRow {
        id: String,
        movie_id: String,
        rating: i64,
        body: String,
        status: String,
        helpful_count: i64,
        created_at: i64,
        updated_at: i64,
        author: String,
    }
}

const SELECT: &str = "SELECT r.id, r.movie_id, r.rating, r.body, r.status, \
     r.helpful_count, r.created_at, r.updated_at, u.display_name AS author \
     FROM reviews r JOIN users u ON u.id = r.customer_id";

impl ReviewRow {
    fn view(self, with_status: bool) -> ReviewView {
        ReviewView {
            id: self.id,
            movie_id: self.movie_id,
            rating: self.rating,
            body: self.body,
            author: self.author,
            helpful_count: self.helpful_count,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            status: with_status.then_some(self.status),
        }
    }
}

/// The customer's review of the movie, locked on PostgreSQL (its rating is about to
/// change the movie's sum).
fn own_review_locked(
    tx: &mut Tx<'_>,
    movie_id: &str,
    customer_id: &str,
) -> sqlx::Result<Option<(String, i64, String)>> {
    const SQL: Sql = Sql {
        sqlite: "SELECT id, rating, status FROM reviews WHERE movie_id = $1 AND customer_id = $2",
        postgres: "SELECT id, rating, status FROM reviews WHERE movie_id = $1 \
                   AND customer_id = $2 FOR UPDATE",
    };
    tx.fetch_optional(SQL, params![movie_id, customer_id])
}

/// Adds to the movie's visible ratings (an UPDATE that adds, so concurrent units each
/// count: PostgreSQL queues them on the movie's row).
fn add_to_rating(tx: &mut Tx<'_>, movie_id: &str, count: i64, sum: i64) -> sqlx::Result<()> {
    tx.execute(
        "UPDATE movies SET rating_count = rating_count + $2, rating_sum = rating_sum + $3 \
         WHERE id = $1",
        params![movie_id, count, sum],
    )?;
    Ok(())
}

/// Writes or edits the customer's review of the movie. True when it was new.
pub async fn write(
    app: &AppState,
    customer_id: &str,
    movie_id: &str,
    rating: i64,
    body: String,
) -> Result<(bool, ReviewView), ReviewError> {
    let now = app.clock.now().as_millis();
    let (customer, movie) = (customer_id.to_owned(), movie_id.to_owned());
    let created = app
        .db
        .write(move |tx| {
            let known: Option<String> =
                tx.fetch_optional("SELECT id FROM movies WHERE id = $1", params![&movie])?;
            if known.is_none() {
                return Err(ReviewError::MovieNotFound(movie.clone()));
            }
            // Seen it: a confirmed booking of a show of the movie that has ended.
            let seen: Option<String> = tx.fetch_optional(
                "SELECT b.id FROM bookings b JOIN shows s ON s.id = b.show_id \
                 WHERE b.customer_id = $1 AND s.movie_id = $2 AND b.status = 'confirmed' \
                   AND s.ends_at <= $3 LIMIT 1",
                params![&customer, &movie, now],
            )?;
            if seen.is_none() {
                return Err(ReviewError::NotAllowed);
            }
            let id = ReviewId::generate().to_string();
            let inserted = tx.execute(
                "INSERT INTO reviews (id, movie_id, customer_id, rating, body, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (movie_id, customer_id) DO NOTHING",
                params![&id, &movie, &customer, rating, &body, now],
            )?;
            let created = inserted == 1;
            if created {
                add_to_rating(tx, &movie, 1, rating)?;
            } else {
                // An edit (or the same customer's other request got there first).
                let (id, old, status) = own_review_locked(tx, &movie, &customer)?
                    .ok_or_else(|| ReviewError::NotFound(movie.clone()))?;
                tx.execute(
                    "UPDATE reviews SET rating = $2, body = $3, updated_at = $4 WHERE id = $1",
                    params![&id, rating, &body, now],
                )?;
                if status == "visible" {
                    add_to_rating(tx, &movie, 0, rating - old)?;
                }
            }
            outbox::append(
                tx,
                &Event::MovieRated {
                    movie_id: movie.clone(),
                },
                now,
            )?;
            Ok(created)
        })
        .await?;
    app.cache.invalidate_catalog();
    let review = mine(app, customer_id, movie_id)
        .await?
        .ok_or_else(|| ReviewError::NotFound(movie_id.to_owned()))?;
    Ok((created, review))
}

/// The customer's own review of the movie, with its status.
pub async fn mine(
    app: &AppState,
    customer_id: &str,
    movie_id: &str,
) -> Result<Option<ReviewView>, ReviewError> {
    let row: Option<ReviewRow> = app
        .db
        .fetch_optional(
            &format!("{SELECT} WHERE r.movie_id = $1 AND r.customer_id = $2"),
            params![movie_id, customer_id],
        )
        .await?;
    Ok(row.map(|r| r.view(true)))
}

/// Keys of the two orders: (created_at, id) and (helpful_count, created_at, id).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ReviewCursor {
    Helpful(i64, i64, String),
    Newest(i64, String),
}

/// A movie's visible reviews in `order`, a page at a time.
pub async fn list(
    app: &AppState,
    movie_id: &str,
    order: ReviewOrder,
    page: PageRequest<ReviewCursor>,
) -> Result<Page<ReviewView>, ReviewError> {
    let known: Option<String> = app
        .db
        .fetch_optional("SELECT id FROM movies WHERE id = $1", params![movie_id])
        .await?;
    if known.is_none() {
        return Err(ReviewError::MovieNotFound(movie_id.to_owned()));
    }
    let fetch = i64::from(page.limit) + 1;
    let base = format!("{SELECT} WHERE r.movie_id = $1 AND r.status = 'visible'");
    let rows: Vec<ReviewRow> = match (order, page.after) {
        (ReviewOrder::Newest, None) => {
            app.db
                .fetch_all(
                    &format!("{base} ORDER BY r.created_at DESC, r.id DESC LIMIT $2"),
                    params![movie_id, fetch],
                )
                .await?
        }
        (ReviewOrder::Newest, Some(ReviewCursor::Newest(at, id))) => {
            app.db
                .fetch_all(
                    &format!(
                        "{base} AND (r.created_at < $2 OR (r.created_at = $2 AND r.id < $3)) \
                         ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
                    ),
                    params![movie_id, at, &id, fetch],
                )
                .await?
        }
        (ReviewOrder::MostHelpful, None) => {
            app.db
                .fetch_all(
                    &format!(
                        "{base} ORDER BY r.helpful_count DESC, r.created_at DESC, r.id DESC \
                         LIMIT $2"
                    ),
                    params![movie_id, fetch],
                )
                .await?
        }
        (ReviewOrder::MostHelpful, Some(ReviewCursor::Helpful(votes, at, id))) => {
            app.db
                .fetch_all(
                    &format!(
                        "{base} AND (r.helpful_count < $2 OR (r.helpful_count = $2 AND \
                         (r.created_at < $3 OR (r.created_at = $3 AND r.id < $4)))) \
                         ORDER BY r.helpful_count DESC, r.created_at DESC, r.id DESC LIMIT $5"
                    ),
                    params![movie_id, votes, at, &id, fetch],
                )
                .await?
        }
        _ => {
            return Err(ReviewError::Invalid(
                "the cursor is for the other order".into(),
            ));
        }
    };
    let page = match order {
        ReviewOrder::Newest => Page::from_rows(rows, page.limit, |r| {
            ReviewCursor::Newest(r.created_at, r.id.clone())
        }),
        ReviewOrder::MostHelpful => Page::from_rows(rows, page.limit, |r| {
            ReviewCursor::Helpful(r.helpful_count, r.created_at, r.id.clone())
        }),
    };
    Ok(page.map(|r| r.view(false)))
}

/// Marks a visible review helpful on behalf of a customer, once; returns its count.
pub async fn vote(app: &AppState, customer_id: &str, review_id: &str) -> Result<i64, ReviewError> {
    let now = app.clock.now().as_millis();
    let (customer, review) = (customer_id.to_owned(), review_id.to_owned());
    app.db
        .write(move |tx| {
            let author: Option<String> = tx.fetch_optional(
                "SELECT customer_id FROM reviews WHERE id = $1 AND status = 'visible'",
                params![&review],
            )?;
            match author {
                None => return Err(ReviewError::NotFound(review.clone())),
                Some(author) if author == customer => return Err(ReviewError::OwnReview),
                Some(_) => {}
            }
            let voted = tx.execute(
                "INSERT INTO review_votes (review_id, customer_id, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                params![&review, &customer, now],
            )?;
            if voted == 1 {
                tx.execute(
                    "UPDATE reviews SET helpful_count = helpful_count + 1 WHERE id = $1",
                    params![&review],
                )?;
            }
            let count: Option<i64> = tx.fetch_optional(
                "SELECT helpful_count FROM reviews WHERE id = $1",
                params![&review],
            )?;
            Ok(count.unwrap_or(0))
        })
        .await
}

/// Hides a review (administrators): it leaves the lists and the movie's rating.
pub async fn hide(
    app: &AppState,
    admin_id: &str,
    review_id: &str,
    reason: &str,
) -> Result<ReviewView, ReviewError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ReviewError::Invalid(
            "give a reason of 1 to 500 characters".into(),
        ));
    }
    let now = app.clock.now().as_millis();
    let (admin, review, reason) = (admin_id.to_owned(), review_id.to_owned(), reason.to_owned());
    app.db
        .write(move |tx| {
            const LOCK: Sql = Sql {
                sqlite: "SELECT movie_id, rating, status FROM reviews WHERE id = $1",
                postgres: "SELECT movie_id, rating, status FROM reviews WHERE id = $1 FOR UPDATE",
            };
            let found: Option<(String, i64, String)> = tx.fetch_optional(LOCK, params![&review])?;
            let (movie, rating, status) =
                found.ok_or_else(|| ReviewError::NotFound(review.clone()))?;
            if status == "visible" {
                tx.execute(
                    "UPDATE reviews SET status = 'hidden', hidden_reason = $2, hidden_by = $3, \
                     updated_at = $4 WHERE id = $1",
                    params![&review, &reason, &admin, now],
                )?;
                add_to_rating(tx, &movie, -1, -rating)?;
                outbox::append(tx, &Event::MovieRated { movie_id: movie }, now)?;
            }
            Ok::<_, ReviewError>(())
        })
        .await?;
    app.cache.invalidate_catalog();
    let row: ReviewRow = app
        .db
        .fetch_optional(&format!("{SELECT} WHERE r.id = $1"), params![review_id])
        .await?
        .ok_or_else(|| ReviewError::NotFound(review_id.to_owned()))?;
    Ok(row.view(true))
}
