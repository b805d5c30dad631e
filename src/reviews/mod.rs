//! Reviews and ratings: a customer who saw a movie (a confirmed booking of a show of it
//! that has ended) rates it 1 to 5 and may write a few words, once per movie, editable;
//! anyone reads the visible ones, newest or most helpful first; customers mark others'
//! reviews helpful, once each; administrators hide a review (the audit log records who).
//! A movie's rating count and sum live on its row and change in the unit of work of every
//! review written, edited or hidden, so concurrent reviews all count and listings read the
//! average without reading reviews.

pub mod routes;
pub mod service;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{db::WriteError, time::Timestamp};

/// Longest review text, in characters.
pub const MAX_BODY_CHARS: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Invalid(String),
    #[error("you can review a movie once a show of it you booked (and did not cancel) has ended")]
    NotAllowed,
    #[error("movie {0} not found")]
    MovieNotFound(String),
    #[error("review {0} not found")]
    NotFound(String),
    #[error("you cannot vote for your own review")]
    OwnReview,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl WriteError for ReviewError {
    fn retryable(&self) -> bool {
        matches!(self, ReviewError::Database(e) if crate::db::is_retryable(e))
    }
}

/// What a customer writes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1 to 5 stars.
    pub rating: i64,
    /// Plain text, up to 2,000 characters (may be empty: a rating alone). Stored and
    /// returned as written; clients show it as text.
    #[serde(default)]
    pub body: String,
}

/// The request checked: (rating, body trimmed). Pure.
pub fn validate(request: &ReviewRequest) -> Result<(i64, String), ReviewError> {
    if !(1..=5).contains(&request.rating) {
        return Err(ReviewError::Invalid(format!(
            "rating must be 1 to 5, not {}",
            request.rating
        )));
    }
    let body = request.body.trim();
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(ReviewError::Invalid(format!(
            "a review is at most {MAX_BODY_CHARS} characters, this one {chars}"
        )));
    }
    Ok((request.rating, body.to_owned()))
}

/// A movie's rating as listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Rating {
    /// Visible ratings.
    pub count: i64,
    /// Their mean, to two decimals; absent without ratings.
    pub average: Option<f64>,
}

impl Rating {
    /// From the stored count and sum. Pure.
    pub fn of(count: i64, sum: i64) -> Self {
        let average = (count > 0).then(|| {
            // Rounded half up at the second decimal, in integers.
            let hundredths = (sum * 100 * 2 + count) / (count * 2);
            hundredths as f64 / 100.0
        });
        Rating { count, average }
    }
}

/// Orders of the review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOrder {
    #[default]
    Newest,
    MostHelpful,
}

/// A review as anyone reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: String,
    pub movie_id: String,
    pub rating: i64,
    pub body: String,
    /// The reviewer's display name (empty once the account is erased).
    pub author: String,
    pub helpful_count: i64,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// Present on your own review and to administrators: `visible` or `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_and_bodies_are_checked() {
        let ok = ReviewRequest {
            rating: 4,
            body: "  Loved it  ".into(),
        };
        assert_eq!(validate(&ok).ok(), Some((4, "Loved it".to_owned())));
        for rating in [0, 6, -1] {
            let bad = ReviewRequest {
                rating,
                body: String::new(),
            };
            assert!(matches!(validate(&bad), Err(ReviewError::Invalid(_))));
        }
        let long = ReviewRequest {
            rating: 3,
            body: "é".repeat(MAX_BODY_CHARS + 1),
        };
        assert!(matches!(validate(&long), Err(ReviewError::Invalid(_))));
        let exact = ReviewRequest {
            rating: 3,
            body: "é".repeat(MAX_BODY_CHARS),
        };
        assert!(validate(&exact).is_ok());
    }

    #[test]
    fn the_average_is_rounded_half_up_to_two_decimals() {
        assert_eq!(Rating::of(0, 0).average, None);
        assert_eq!(Rating::of(3, 13).average, Some(4.33));
        assert_eq!(Rating::of(3, 14).average, Some(4.67));
        assert_eq!(Rating::of(8, 36).average, Some(4.5));
        assert_eq!(Rating::of(200, 801).average, Some(4.01));
        assert_eq!(Rating::of(400, 1_602).average, Some(4.01)); // 4.005 → 4.01
    }
}
