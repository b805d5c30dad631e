//! Paying for a booking, and the gateway's webhooks.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::service::{self, PaymentCreated};
use crate::{
    app::AppState,
    booking::routes::respond_idempotently,
    http::{
        error::{ApiError, Problem},
        extract::{ApiPath, read_body},
        idempotency::{Idempotency, IdempotentJson, stored_response},
    },
    identity::extract::Customer,
    limits::Limit,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_payment))
        .routes(routes!(webhook))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// A card token from the gateway's client library; with the mock gateway `tok_visa`,
    /// `tok_chargeDeclined` or `tok_delayed`.
    pub card_token: String,
}

/// Pay for a held booking. The outcome arrives from the gateway; poll the booking.
/// Attempts are limited per booking and per account (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/bookings/{booking_id}/payments", tag = "bookings",
    security(("bearer" = [])),
    params(("booking_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = PaymentRequest,
    responses((status = 201, body = PaymentCreated),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn create_payment(
    State(app): State<AppState>,
    Customer(customer): Customer,
    ApiPath(booking_id): ApiPath<String>,
    json: IdempotentJson<PaymentRequest>,
) -> Result<Response, ApiError> {
    // Before anything is recorded (the idempotency key's fingerprint included).
    if super::card_data::looks_like_card_number(&json.body.card_token) {
        return Err(super::PaymentError::CardDataRefused.into());
    }
    let idempotency = Idempotency::new(customer.user_id.as_str(), &json);
    respond_idempotently(&app, idempotency.clone(), async {
        // The narrower limit first: a refusal there spends nothing of the account's.
        app.limits
            .check(Limit::PaymentPerBooking, &booking_id)
            .await?;
        app.limits
            .check(Limit::PaymentPerAccount, customer.user_id.as_str())
            .await?;
        let body = service::create_payment(
            &app,
            &customer.user_id,
            &booking_id,
            &json.body.card_token,
            idempotency.clone(),
        )
        .await?;
        Ok(stored_response(201, body, false))
    })
    .await
}

/// Outcome notifications from the payment gateway (signed; see the provider's scheme).
#[utoipa::path(post, path = "/api/v1/payments/webhooks/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "`mock`")),
    responses((status = 204),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn webhook(
    State(app): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    let (parts, body) = request.into_parts();
    let limit = app.config.http.body_limit_bytes;
    // The raw bytes, untouched: the signature covers them.
    let body = read_body(body, limit).await?;
    service::handle_webhook(&app, &provider, &parts.headers, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
