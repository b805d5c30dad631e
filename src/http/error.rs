//! Every error a client can see, mapped to RFC 9457 `application/problem+json` in one place.
//! Each bounded context has its own error enum; `ApiError` wraps them and `problem()` decides
//! status, stable `type` and wording. Unexpected errors become a logged 500 whose body says
//! nothing about internals.

use axum::{
    Json,
    extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    booking::BookingError,
    catalog::{CatalogError, manage::ManageError, schedule::ScheduleError},
    identity::IdentityError,
    offers::service::OfferError,
    payment::PaymentError,
};

/// Base of every problem `type`; the last segment is the stable machine-readable code.
pub const PROBLEM_BASE: &str = "https://marquee.example/problems/";

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem, e.g. `https://marquee.example/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human summary of the kind.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members of some problem types: `errors` (per item of a bulk request),
    /// `seats` (the seats that caused a conflict).
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Manage(#[from] ManageError),
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Settlement(#[from] crate::settlement::SettlementError),
    #[error(transparent)]
    Review(#[from] crate::reviews::ReviewError),
    #[error(transparent)]
    Pricing(#[from] crate::pricing::service::PricingError),
    #[error(transparent)]
    WaitingRoom(#[from] crate::waiting_room::WaitingRoomError),
    #[error(transparent)]
    CheckIn(#[from] crate::checkin::CheckInError),
    #[error(transparent)]
    Report(#[from] crate::reports::ReportError),
    #[error("invalid Idempotency-Key header")]
    InvalidIdempotencyKey,
    #[error("this request moves money: send an Idempotency-Key header")]
    IdempotencyKeyRequired,
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is in progress")]
    IdempotencyInProgress,
    #[error("invalid query string: {0}")]
    InvalidQuery(String),
    #[error("invalid path: {0}")]
    InvalidPath(String),
    #[error("invalid JSON body: {0}")]
    InvalidBody(String),
    #[error("the {0} contains U+0000")]
    NulInUri(&'static str),
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("invalid pagination cursor")]
    InvalidCursor,
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    RateLimited(#[from] crate::limits::RateLimited),
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("request timed out")]
    Timeout,
    #[error("too many open connections")]
    Overloaded,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Status, stable code and title for this error, and the detail a client may see.
    fn describe(&self) -> (StatusCode, &'static str, &'static str, Option<String>) {
        use StatusCode as S;
        match self {
            ApiError::RateLimited(error) => (
                S::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                Some(error.to_string()),
            ),
            ApiError::Catalog(error) => match error {
                CatalogError::CityNotFound(_)
                | CatalogError::MovieNotFound(_)
                | CatalogError::TheatreNotFound(_)
                | CatalogError::ShowNotFound(_) => (
                    S::NOT_FOUND,
                    "not-found",
                    "Resource not found",
                    Some(error.to_string()),
                ),
                CatalogError::InvalidDate(_) => (
                    S::BAD_REQUEST,
                    "invalid-date",
                    "Invalid date",
                    Some(error.to_string()),
                ),
                CatalogError::InvalidSearch(_) => (
                    S::BAD_REQUEST,
                    "invalid-search",
                    "Invalid search query",
                    Some(error.to_string()),
                ),
                CatalogError::Database(source) => database_problem(source),
            },
            ApiError::Identity(error) => {
                let detail = Some(error.to_string());
                match error {
                    IdentityError::InvalidEmail => (
                        S::BAD_REQUEST,
                        "invalid-email",
                        "Invalid e-mail address",
                        detail,
                    ),
                    IdentityError::WeakPassword(_) => {
                        (S::BAD_REQUEST, "weak-password", "Password too weak", detail)
                    }
                    IdentityError::InvalidDisplayName => (
                        S::BAD_REQUEST,
                        "invalid-display-name",
                        "Invalid display name",
                        detail,
                    ),
                    IdentityError::UnsupportedLocale => (
                        S::UNPROCESSABLE_ENTITY,
                        "unsupported-locale",
                        "Unsupported locale",
                        detail,
                    ),
                    IdentityError::EmailTaken => {
                        (S::CONFLICT, "email-taken", "E-mail address in use", detail)
                    }
                    IdentityError::InvalidOrganisationName => (
                        S::BAD_REQUEST,
                        "invalid-organisation-name",
                        "Invalid organisation name",
                        detail,
                    ),
                    IdentityError::UnknownPendingOrganisation(_)
                    | IdentityError::UnknownUser(_)
                    | IdentityError::UnknownApiKey(_) => {
                        (S::NOT_FOUND, "not-found", "Resource not found", detail)
                    }
                    IdentityError::InvalidCredentials => (
                        S::UNAUTHORIZED,
                        "invalid-credentials",
                        "Invalid credentials",
                        detail,
                    ),
                    IdentityError::AccountDisabled => {
                        (S::FORBIDDEN, "account-disabled", "Account disabled", detail)
                    }
                    IdentityError::InvalidRefreshToken => (
                        S::UNAUTHORIZED,
                        "invalid-refresh-token",
                        "Invalid refresh token",
                        detail,
                    ),
                    IdentityError::RefreshTokenReused => (
                        S::UNAUTHORIZED,
                        "refresh-token-reused",
                        "Refresh token reused",
                        detail,
                    ),
                    IdentityError::Unauthenticated(_) => (
                        S::UNAUTHORIZED,
                        "unauthenticated",
                        "Authentication required",
                        detail,
                    ),
                    IdentityError::TokenExpired => (
                        S::UNAUTHORIZED,
                        "token-expired",
                        "Access token expired",
                        detail,
                    ),
                    IdentityError::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Forbidden", detail),
                    IdentityError::RateLimited { .. } => (
                        S::TOO_MANY_REQUESTS,
                        "rate-limited",
                        "Too many requests",
                        detail,
                    ),
                    IdentityError::Hashing => internal(),
                    IdentityError::Database(source) => database_problem(source),
                }
            }
            ApiError::Manage(error) => manage_problem(error),
            ApiError::Settlement(error) => settlement_problem(error),
            ApiError::Review(error) => review_problem(error),
            ApiError::Pricing(error) => pricing_problem(error),
            ApiError::WaitingRoom(error) => waiting_room_problem(error),
            ApiError::CheckIn(error) => check_in_problem(error),
            ApiError::Report(error) => report_problem(error),
            ApiError::Offer(error) => {
                let detail = Some(error.to_string());
                match error {
                    OfferError::Invalid(_) => (
                        S::UNPROCESSABLE_ENTITY,
                        "invalid-offer",
                        "Invalid request",
                        detail,
                    ),
                    OfferError::UnknownCity(_) => (
                        S::UNPROCESSABLE_ENTITY,
                        "unknown-city",
                        "Unknown city",
                        detail,
                    ),
                    OfferError::UnknownTheatre(_) => (
                        S::UNPROCESSABLE_ENTITY,
                        "unknown-theatre",
                        "Unknown theatre",
                        detail,
                    ),
                    OfferError::NotFound(_) | OfferError::ShowNotFound(_) => {
                        (S::NOT_FOUND, "not-found", "Resource not found", detail)
                    }
                    OfferError::UnknownSeats(_) => (
                        S::UNPROCESSABLE_ENTITY,
                        "unknown-seats",
                        "Unknown seats",
                        detail,
                    ),
                    OfferError::Quote(_) => (
                        S::UNPROCESSABLE_ENTITY,
                        "invalid-quote",
                        "Seats cannot be priced",
                        detail,
                    ),
                    OfferError::Database(source) => database_problem(source),
                }
            }
            ApiError::Booking(error) => booking_problem(error),
            ApiError::Payment(error) => payment_problem(error),
            ApiError::InvalidIdempotencyKey => (
                S::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                Some("an Idempotency-Key is 1 to 255 visible ASCII characters".into()),
            ),
            ApiError::IdempotencyKeyRequired => (
                S::PRECONDITION_REQUIRED,
                "idempotency-key-required",
                "Idempotency-Key required",
                Some(
                    "this request moves money: send an Idempotency-Key header, and the same key \
                      again if you retry"
                        .into(),
                ),
            ),
            ApiError::IdempotencyKeyReused => (
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                Some("this Idempotency-Key was used for a different request; use a new key".into()),
            ),
            ApiError::IdempotencyInProgress => (
                S::CONFLICT,
                "idempotency-in-progress",
                "Request in progress",
                Some(
                    "a request with this Idempotency-Key is still being processed; retry shortly"
                        .into(),
                ),
            ),
            ApiError::InvalidQuery(detail) => (
                S::BAD_REQUEST,
                "invalid-query",
                "Invalid query parameters",
                Some(detail.clone()),
            ),
            ApiError::InvalidPath(detail) => (
                S::BAD_REQUEST,
                "invalid-path",
                "Invalid path parameters",
                Some(detail.clone()),
            ),
            ApiError::InvalidBody(detail) => (
                S::BAD_REQUEST,
                "invalid-body",
                "Invalid request body",
                Some(detail.clone()),
            ),
            ApiError::InvalidHeader(detail) => (
                S::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
                Some(detail.clone()),
            ),
            ApiError::NulInUri(part) => (
                S::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
                Some(format!(
                    "the {part} contains U+0000 (NUL), which no parameter accepts"
                )),
            ),
            ApiError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
                Some("the request body is larger than this service accepts".into()),
            ),
            ApiError::InvalidCursor => (
                S::BAD_REQUEST,
                "invalid-cursor",
                "Invalid pagination cursor",
                Some("the cursor is not one this API issued; start again without it".into()),
            ),
            ApiError::RouteNotFound(path) => (
                S::NOT_FOUND,
                "not-found",
                "Resource not found",
                Some(format!("no resource at {path}")),
            ),
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                None,
            ),
            ApiError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                Some("the service cannot reach its database; retry shortly".into()),
            ),
            ApiError::Timeout => (S::REQUEST_TIMEOUT, "timeout", "Request timed out", None),
            ApiError::Overloaded => (
                S::SERVICE_UNAVAILABLE,
                "overloaded",
                "Server overloaded",
                Some("the server is at its connection limit; retry shortly".into()),
            ),
            ApiError::Internal(_) => internal(),
        }
    }

    /// Extension members for problem types that carry more than a detail.
    fn extensions(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        match self {
            ApiError::Manage(ManageError::Bulk(errors, _)) => {
                let items = errors
                    .iter()
                    .map(|(index, error)| {
                        let (status, code, _, detail) = manage_problem(error);
                        serde_json::json!({
                            "index": index,
                            "type": format!("{PROBLEM_BASE}{code}"),
                            "status": status.as_u16(),
                            "detail": detail,
                        })
                    })
                    .collect();
                extra.insert("errors".into(), serde_json::Value::Array(items));
            }
            ApiError::Manage(
                ManageError::UnknownSeats(seats) | ManageError::SeatsUnavailable(seats),
            )
            | ApiError::Offer(OfferError::UnknownSeats(seats))
            | ApiError::Booking(
                BookingError::UnknownSeats(seats) | BookingError::SeatsUnavailable(seats),
            )
            | ApiError::Payment(PaymentError::Booking(
                BookingError::UnknownSeats(seats) | BookingError::SeatsUnavailable(seats),
            )) => {
                extra.insert("seats".into(), serde_json::json!(seats));
            }
            ApiError::Payment(PaymentError::RefundExceedsCaptured {
                requested,
                refundable,
            }) => {
                extra.insert("requested".into(), serde_json::json!(requested));
                extra.insert("refundable".into(), serde_json::json!(refundable));
            }
            ApiError::CheckIn(crate::checkin::CheckInError::AlreadyCheckedIn {
                booking_id,
                first_scanner_id,
                first_scanned_at,
            }) => {
                extra.insert("booking_id".into(), serde_json::json!(booking_id));
                extra.insert(
                    "first_scanner_id".into(),
                    serde_json::json!(first_scanner_id),
                );
                extra.insert(
                    "first_scanned_at".into(),
                    serde_json::json!(first_scanned_at),
                );
            }
            ApiError::CheckIn(crate::checkin::CheckInError::NotAdmissible {
                booking_id,
                status,
            }) => {
                extra.insert("booking_id".into(), serde_json::json!(booking_id));
                // `status` is the problem's own (the HTTP status).
                extra.insert("booking_status".into(), serde_json::json!(status));
            }
            _ => {}
        }
        extra
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title, detail) = self.describe();
        Problem {
            kind: format!("{PROBLEM_BASE}{code}"),
            title,
            status: status.as_u16(),
            detail,
            extensions: self.extensions(),
        }
    }
}

fn pricing_problem(
    error: &crate::pricing::service::PricingError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::pricing::service::PricingError as E;
    let detail = Some(error.to_string());
    match error {
        E::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-price-rule",
            "Invalid price rule",
            detail,
        ),
        E::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "not-found",
            "Resource not found",
            detail,
        ),
        E::Database(source) => database_problem(source),
    }
}

fn review_problem(
    error: &crate::reviews::ReviewError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::reviews::ReviewError as E;
    let detail = Some(error.to_string());
    match error {
        E::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-review",
            "Invalid review",
            detail,
        ),
        E::NotAllowed => (
            StatusCode::FORBIDDEN,
            "review-not-allowed",
            "Review not allowed",
            detail,
        ),
        E::OwnReview => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "own-review",
            "Own review",
            detail,
        ),
        E::MovieNotFound(_) | E::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "not-found",
            "Resource not found",
            detail,
        ),
        E::Database(source) => database_problem(source),
    }
}

fn report_problem(
    error: &crate::reports::ReportError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::reports::ReportError as E;
    match error {
        E::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-report-query",
            "Invalid report query",
            Some(error.to_string()),
        ),
        E::Internal(_) => internal(),
        E::Database(source) => database_problem(source),
    }
}

fn check_in_problem(
    error: &crate::checkin::CheckInError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::checkin::CheckInError as E;
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        E::Invalid(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-check-in",
            "Invalid check-in",
            detail,
        ),
        E::InvalidTicket => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-ticket",
            "Invalid ticket",
            detail,
        ),
        E::UnknownBooking(_) | E::UnknownShow(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        E::NotAdmissible { .. } => (
            S::CONFLICT,
            "ticket-not-admissible",
            "Ticket admits nobody",
            detail,
        ),
        E::AlreadyCheckedIn { .. } => (
            S::CONFLICT,
            "already-checked-in",
            "Already checked in",
            detail,
        ),
        E::Database(source) => database_problem(source),
    }
}

fn waiting_room_problem(
    error: &crate::waiting_room::WaitingRoomError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::waiting_room::WaitingRoomError as E;
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        E::Invalid(_) => (S::BAD_REQUEST, "invalid-request", "Invalid request", detail),
        E::UnknownShow(_) | E::NoRoom(_) | E::NoShows { .. } => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        E::NotInRoom(_) => (
            S::NOT_FOUND,
            "not-in-waiting-room",
            "Not in the waiting room",
            detail,
        ),
        E::AlreadyOpen(_) => (
            S::CONFLICT,
            "waiting-room-open",
            "Waiting room already open",
            detail,
        ),
        E::NotOpenYet(_) => (
            S::CONFLICT,
            "waiting-room-not-open",
            "Waiting room not open yet",
            detail,
        ),
        E::SoldOut(_) => (S::CONFLICT, "sold-out", "Sold out", detail),
        E::Database(source) => database_problem(source),
    }
}

fn settlement_problem(
    error: &crate::settlement::SettlementError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use crate::settlement::SettlementError as E;
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        E::InvalidInput(_) => (S::BAD_REQUEST, "invalid-request", "Invalid request", detail),
        E::UnknownPartner(_) | E::UnknownSettlement(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        E::DayNotOver(_) => (
            S::CONFLICT,
            "business-day-open",
            "Business day not over",
            detail,
        ),
        E::DayClosed(..) => (
            S::CONFLICT,
            "business-day-closed",
            "Business day closed",
            detail,
        ),
        E::RateConflict(_) => (
            S::CONFLICT,
            "commission-conflict",
            "Commission rate conflict",
            detail,
        ),
        E::Busy => (
            S::CONFLICT,
            "settlement-busy",
            "Settlement in progress",
            detail,
        ),
        E::Internal(_) => internal(),
        E::Database(source) => database_problem(source),
    }
}

fn manage_problem(error: &ManageError) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        ManageError::NotApproved => (
            S::FORBIDDEN,
            "partner-not-approved",
            "Partner not approved",
            detail,
        ),
        ManageError::InvalidInput(_) => {
            (S::BAD_REQUEST, "invalid-request", "Invalid request", detail)
        }
        ManageError::UnknownCity(_) => (
            S::UNPROCESSABLE_ENTITY,
            "unknown-city",
            "Unknown city",
            detail,
        ),
        ManageError::UnknownTheatre(_) | ManageError::UnknownShow(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        ManageError::UnknownScreen(_) => (S::NOT_FOUND, "unknown-screen", "Unknown screen", detail),
        ManageError::UnknownMovie(_) => (
            S::UNPROCESSABLE_ENTITY,
            "unknown-movie",
            "Unknown movie",
            detail,
        ),
        ManageError::Duplicate(_) => (S::CONFLICT, "duplicate", "Already exists", detail),
        ManageError::CityInUse => (S::CONFLICT, "city-in-use", "City in use", detail),
        ManageError::DuplicateScreen(_) => (
            S::CONFLICT,
            "duplicate-screen",
            "Duplicate screen name",
            detail,
        ),
        ManageError::InvalidLayout(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-layout",
            "Invalid seat layout",
            detail,
        ),
        ManageError::Schedule(schedule) => match schedule {
            ScheduleError::StartsInPast => (
                S::UNPROCESSABLE_ENTITY,
                "start-in-past",
                "Show starts in the past",
                detail,
            ),
            ScheduleError::MissingPrices(_) => (
                S::UNPROCESSABLE_ENTITY,
                "missing-prices",
                "Prices missing",
                detail,
            ),
            ScheduleError::UnusedPrice(_) => (
                S::UNPROCESSABLE_ENTITY,
                "unused-price",
                "Price for a missing category",
                detail,
            ),
            ScheduleError::NegativePrice => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-price",
                "Invalid price",
                detail,
            ),
            ScheduleError::UnknownFormat => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-format",
                "Invalid format",
                detail,
            ),
            ScheduleError::InvalidLanguage => (
                S::UNPROCESSABLE_ENTITY,
                "invalid-language",
                "Invalid language",
                detail,
            ),
            ScheduleError::Overlap(_, _) => (S::CONFLICT, "show-overlap", "Shows overlap", detail),
        },
        ManageError::Bulk(_, _) => (
            S::UNPROCESSABLE_ENTITY,
            "bulk-invalid",
            "Some items are invalid",
            detail,
        ),
        ManageError::ShowHasCustomers(_) => (
            S::CONFLICT,
            "show-has-bookings",
            "Show has bookings",
            detail,
        ),
        ManageError::ShowHasHistory(_) => (
            S::CONFLICT,
            "show-has-history",
            "Show has booking history",
            detail,
        ),
        ManageError::UnknownSeats(_) => (
            S::UNPROCESSABLE_ENTITY,
            "unknown-seats",
            "Unknown seats",
            detail,
        ),
        ManageError::SeatsUnavailable(_) => {
            (S::CONFLICT, "seat-unavailable", "Seats unavailable", detail)
        }
        ManageError::ExternalIdReused(_) => (
            S::CONFLICT,
            "external-id-reused",
            "External id already used",
            detail,
        ),
        ManageError::ShowNotSelling(_) => {
            (S::CONFLICT, "show-not-on-sale", "Show not on sale", detail)
        }
        ManageError::SyncRefused(_) => {
            (S::CONFLICT, "sync-change-refused", "Change refused", detail)
        }
        ManageError::UnknownWebhookEndpoint(_)
        | ManageError::UnknownWebhookDelivery(_)
        | ManageError::UnknownCounterSale(_) => (S::NOT_FOUND, "not-found", "Not found", detail),
        ManageError::Database(source) => database_problem(source),
    }
}

fn booking_problem(
    error: &BookingError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        BookingError::Invalid(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-booking",
            "Invalid booking request",
            detail,
        ),
        BookingError::ShowNotFound(_) | BookingError::NotFound(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        BookingError::ShowNotOnSale => {
            (S::CONFLICT, "show-not-on-sale", "Show not on sale", detail)
        }
        BookingError::UnknownSeats(_) => (
            S::UNPROCESSABLE_ENTITY,
            "unknown-seats",
            "Unknown seats",
            detail,
        ),
        BookingError::AdmissionRequired(_) => (
            S::FORBIDDEN,
            "admission-required",
            "Admission required",
            detail,
        ),
        BookingError::SeatCapReached { .. } => {
            (S::CONFLICT, "seat-cap-reached", "Seat cap reached", detail)
        }
        BookingError::HoldLimitReached { .. } => (
            S::CONFLICT,
            "hold-limit-reached",
            "Hold limit reached",
            detail,
        ),
        BookingError::SeatsUnavailable(_) => {
            (S::CONFLICT, "seat-unavailable", "Seats unavailable", detail)
        }
        BookingError::NoSeatsToPropose(_) => (
            S::CONFLICT,
            "no-seats-to-propose",
            "No seats to propose",
            detail,
        ),
        BookingError::Expired => (S::CONFLICT, "booking-expired", "Booking expired", detail),
        BookingError::NotPending(_) => (
            S::CONFLICT,
            "booking-not-pending",
            "Booking not awaiting payment",
            detail,
        ),
        BookingError::PaymentInProgress => (
            S::CONFLICT,
            "payment-in-progress",
            "Payment in progress",
            detail,
        ),
        BookingError::CancellationClosed(_) => (
            S::CONFLICT,
            "cancellation-closed",
            "Cancellation closed",
            detail,
        ),
        BookingError::NotCancellable(_) => (
            S::CONFLICT,
            "booking-not-cancellable",
            "Booking cannot be cancelled",
            detail,
        ),
        BookingError::TicketUnavailable(_) => (
            S::CONFLICT,
            "ticket-unavailable",
            "No ticket for this booking",
            detail,
        ),
        BookingError::InvalidTicket => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-ticket",
            "Invalid ticket",
            detail,
        ),
        BookingError::IdempotencyRace => (
            S::CONFLICT,
            "idempotency-in-progress",
            "Request in progress",
            detail,
        ),
        BookingError::SeatsAvailable(_) => (
            S::CONFLICT,
            "seats-available",
            "Seats are available",
            detail,
        ),
        BookingError::AlreadyWaiting(_) => (
            S::CONFLICT,
            "already-waiting",
            "Already on the waitlist",
            detail,
        ),
        BookingError::EntryNotFound(_) => (S::NOT_FOUND, "not-found", "Resource not found", detail),
        BookingError::EntryNotWaiting(_) => (
            S::CONFLICT,
            "waitlist-entry-not-waiting",
            "Waitlist entry is not waiting",
            detail,
        ),
        BookingError::Pricing(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-quote",
            "Seats cannot be priced",
            detail,
        ),
        BookingError::Database(source) => database_problem(source),
    }
}

fn payment_problem(
    error: &PaymentError,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    use StatusCode as S;
    let detail = Some(error.to_string());
    match error {
        PaymentError::Booking(inner) => booking_problem(inner),
        PaymentError::InvalidCardToken => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-card-token",
            "Invalid card token",
            detail,
        ),
        PaymentError::CardDataRefused => (
            S::UNPROCESSABLE_ENTITY,
            "card-data-refused",
            "Card details refused",
            detail,
        ),
        PaymentError::GatewayUnavailable(_) => (
            S::BAD_GATEWAY,
            "payment-gateway-unavailable",
            "Payment gateway unavailable",
            Some("the payment gateway did not answer; try again".into()),
        ),
        PaymentError::GatewayRefused(_) => (
            S::BAD_GATEWAY,
            "payment-gateway-refused",
            "Payment gateway refused",
            detail,
        ),
        PaymentError::InvalidRefund(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-refund",
            "Invalid refund",
            detail,
        ),
        PaymentError::RefundExceedsCaptured { .. } => (
            S::UNPROCESSABLE_ENTITY,
            "refund-exceeds-captured",
            "Refund exceeds what was captured",
            detail,
        ),
        PaymentError::NothingToRefund => (
            S::CONFLICT,
            "nothing-to-refund",
            "Nothing left to refund",
            detail,
        ),
        PaymentError::InvalidDispute(_) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-dispute-request",
            "Invalid dispute request",
            detail,
        ),
        PaymentError::DisputeNotFound(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        PaymentError::DisputeNotOpen(_) => {
            (S::CONFLICT, "dispute-not-open", "Dispute not open", detail)
        }
        PaymentError::EvidenceDeadlinePassed(_) => (
            S::CONFLICT,
            "evidence-deadline-passed",
            "Evidence deadline passed",
            detail,
        ),
        PaymentError::NothingCaptured => (
            S::CONFLICT,
            "nothing-captured",
            "Nothing was captured",
            detail,
        ),
        PaymentError::InvalidSignature(_) => (
            S::BAD_REQUEST,
            "invalid-webhook-signature",
            "Invalid webhook signature",
            detail,
        ),
        PaymentError::Mismatch { .. } => (
            S::UNPROCESSABLE_ENTITY,
            "webhook-mismatch",
            "Webhook does not match the payment",
            detail,
        ),
        PaymentError::UnknownProvider(_) => {
            (S::NOT_FOUND, "not-found", "Resource not found", detail)
        }
        PaymentError::Unconfirmable => internal(),
        PaymentError::Database(source) => database_problem(source),
    }
}

fn internal() -> (StatusCode, &'static str, &'static str, Option<String>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
        None,
    )
}

fn database_problem(
    error: &sqlx::Error,
) -> (StatusCode, &'static str, &'static str, Option<String>) {
    if crate::db::is_unavailable(error) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            Some("the service cannot reach its database; retry shortly".into()),
        )
    } else {
        internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        // Shedding load is expected under a flood; one error line per refused connection
        // would add to it.
        if problem.status >= 500 && !matches!(self, ApiError::Overloaded) {
            // The request span carries the request id; the client sees only the problem.
            tracing::error!(error = %self, source = ?std::error::Error::source(&self), "request failed");
        }
        let mut response = problem.into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Identity(IdentityError::RateLimited { retry_after_secs })
            | ApiError::RateLimited(crate::limits::RateLimited {
                retry_after_secs, ..
            }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Identity(
                IdentityError::Unauthenticated(_)
                | IdentityError::TokenExpired
                | IdentityError::InvalidCredentials,
            ) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The rest of the body is never read, so the connection cannot carry another
            // request; saying so keeps a client from sending its next one on it.
            ApiError::PayloadTooLarge => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// A read outside any context's own error type (the audit log, support searches): a
/// database that cannot be reached is 503, anything else 500.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&error) {
            ApiError::Unavailable(error)
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidQuery(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidPath(rejection.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        ApiError::InvalidBody(rejection.body_text())
    }
}

/// A body that could not be read: over the limit (a chunked body has no length to refuse
/// it by up front, so the limit shows only while reading) or broken off.
impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        ApiError::InvalidBody(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_failures_never_leak_details() {
        let error = ApiError::Catalog(CatalogError::Database(sqlx::Error::RowNotFound));
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        assert_eq!(problem.kind, format!("{PROBLEM_BASE}internal"));
        assert!(problem.detail.is_none());
    }

    #[test]
    fn unknown_ids_are_404_with_stable_type() {
        let problem = ApiError::Catalog(CatalogError::ShowNotFound("shw_x".into())).problem();
        assert_eq!(problem.status, 404);
        assert_eq!(problem.kind, format!("{PROBLEM_BASE}not-found"));
    }
}
