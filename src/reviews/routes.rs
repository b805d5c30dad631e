//! `/api/v1/movies/{movie_id}/reviews…`, `/api/v1/reviews/{review_id}/helpful`,
//! `/api/v1/admin/reviews/{review_id}/hide`.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ReviewError, ReviewOrder, ReviewRequest, ReviewView, service, validate};
use crate::{
    app::AppState,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageParams},
    },
    identity::extract::{Admin, Customer},
    limits::Limit,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews))
        .routes(routes!(my_review, write_review))
        .routes(routes!(mark_helpful))
        .routes(routes!(hide_review))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `newest` (default) or `most_helpful`.
    #[param(inline)]
    pub order: Option<ReviewOrder>,
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page (of the same order).
    pub cursor: Option<String>,
}

/// A movie's reviews, newest or most helpful first, in pages (anyone).
#[utoipa::path(get, path = "/api/v1/movies/{movie_id}/reviews", tag = "catalog",
    params(("movie_id" = String, Path), ReviewQuery),
    responses((status = 200, body = Page<ReviewView>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn list_reviews(
    State(app): State<AppState>,
    ApiPath(movie_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ReviewQuery>,
) -> Result<Json<Page<ReviewView>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let order = query.order.unwrap_or_default();
    Ok(Json(service::list(&app, &movie_id, order, page).await?))
}

/// Your review of the movie (customers).
#[utoipa::path(get, path = "/api/v1/movies/{movie_id}/reviews/me", tag = "catalog",
    security(("bearer" = [])),
    params(("movie_id" = String, Path)),
    responses((status = 200, body = ReviewView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn my_review(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(movie_id): ApiPath<String>,
) -> Result<Json<ReviewView>, ApiError> {
    service::mine(&app, customer.user_id.as_str(), &movie_id)
        .await?
        .map(Json)
        .ok_or_else(|| ReviewError::NotFound(movie_id).into())
}

/// Rate the movie 1 to 5 and, if you like, say why (customers who saw it: a confirmed
/// booking of a show of it that has ended; 403 `review-not-allowed` otherwise). One review
/// per movie: writing again edits it (200; 201 the first time). The movie's rating counts
/// it at once.
#[utoipa::path(put, path = "/api/v1/movies/{movie_id}/reviews/me", tag = "catalog",
    security(("bearer" = [])),
    params(("movie_id" = String, Path)),
    request_body = ReviewRequest,
    responses((status = 200, body = ReviewView),
              (status = 201, body = ReviewView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn write_review(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(movie_id): ApiPath<String>,
    ApiJson(request): ApiJson<ReviewRequest>,
) -> Result<(StatusCode, Json<ReviewView>), ApiError> {
    app.limits
        .check(Limit::ReviewWrite, customer.user_id.as_str())
        .await?;
    let (rating, body) = validate(&request)?;
    let (created, review) =
        service::write(&app, customer.user_id.as_str(), &movie_id, rating, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(review)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HelpfulVote {
    pub review_id: String,
    pub helpful_count: i64,
}

/// Mark someone else's review helpful (customers); voting again changes nothing.
#[utoipa::path(post, path = "/api/v1/reviews/{review_id}/helpful", tag = "catalog",
    security(("bearer" = [])),
    params(("review_id" = String, Path)),
    responses((status = 200, body = HelpfulVote),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "your own review",
               body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn mark_helpful(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(review_id): ApiPath<String>,
) -> Result<Json<HelpfulVote>, ApiError> {
    app.limits
        .check(Limit::ReviewWrite, customer.user_id.as_str())
        .await?;
    let helpful_count = service::vote(&app, customer.user_id.as_str(), &review_id).await?;
    Ok(Json(HelpfulVote {
        review_id,
        helpful_count,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideRequest {
    /// Why (1 to 500 characters; kept with the review, and the request in the audit log).
    pub reason: String,
}

/// Hide a review (administrators): it leaves the lists and the movie's rating.
#[utoipa::path(post, path = "/api/v1/admin/reviews/{review_id}/hide", tag = "admin",
    security(("bearer" = [])),
    params(("review_id" = String, Path)),
    request_body = HideRequest,
    responses((status = 200, body = ReviewView),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn hide_review(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(review_id): ApiPath<String>,
    ApiJson(request): ApiJson<HideRequest>,
) -> Result<Json<ReviewView>, ApiError> {
    let view = service::hide(&app, admin.user_id.as_str(), &review_id, &request.reason).await?;
    Ok(Json(view))
}
