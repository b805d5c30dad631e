//! Partner routes of check-in (partner token or the organisation's API key, as a door
//! scanner would use): a scan, an offline batch, a show's admissions.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    CheckInError, ScannerId,
    service::{self, CheckIn, CheckInBatchItem, Online, ReportedScan, ShowCheckIns},
    store,
};
use crate::{
    app::AppState,
    catalog::partner_routes::org_of,
    http::{
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath, ApiQuery},
        pagination::{Page, PageParams},
    },
    identity::extract::Partner,
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_in))
        .routes(routes!(check_in_batch))
        .routes(routes!(show_check_ins))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The ticket code (`GET /api/v1/bookings/{booking_id}/ticket`, or its QR code).
    pub code: String,
    /// The scanning device, named by the theatre (1 to 64 characters).
    pub scanner_id: String,
    /// When it was scanned (RFC 3339); now, if absent. At most 5 minutes ahead of the
    /// server's clock and at most 7 days old.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scanned_at: Option<DateTime<FixedOffset>>,
}

/// Check a ticket in at the door. The first scan of a confirmed booking's ticket admits
/// it (201, with the seats it admits now); sending the same scan again (same scanner and
/// `scanned_at`) answers that admission (200). Any other later scan is refused with 409
/// `already-checked-in`, whose body says when (`first_scanned_at`) and by which scanner
/// (`first_scanner_id`) it was admitted. A booking that is not confirmed is 409
/// `ticket-not-admissible` (`booking_status`); a forged or altered code 422 `invalid-ticket`; a
/// ticket of another organisation's show 404.
#[utoipa::path(post, path = "/api/v1/partner/check-ins", tag = "partner",
    security(("bearer" = [])),
    request_body = CheckInRequest,
    responses((status = 201, body = CheckIn, description = "Admitted"),
              (status = 200, body = CheckIn, description = "This same scan was sent before"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json",
               description = "`already-checked-in` (with `first_scanned_at`, \
                `first_scanner_id`) or `ticket-not-admissible` (with `booking_status`)"),
              (status = 422, body = Problem, content_type = "application/problem+json",
               description = "`invalid-ticket`, or `invalid-check-in` (scanner id, scan time)")))]
async fn check_in(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(request): ApiJson<CheckInRequest>,
) -> Result<(StatusCode, Json<CheckIn>), ApiError> {
    let org = org_of(&partner)?;
    let scanner = ScannerId::parse(&request.scanner_id)?;
    let scanned_at = request
        .scanned_at
        .map(|at| Timestamp::from_millis(at.timestamp_millis()));
    Ok(
        match service::check_in(&app, org.as_str(), &request.code, scanner, scanned_at).await? {
            Online::Admitted(check_in) => {
                metrics::counter!("marquee_check_ins_total", "result" => "admitted").increment(1);
                (StatusCode::CREATED, Json(check_in))
            }
            Online::Repeated(check_in) => (StatusCode::OK, Json(check_in)),
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineScan {
    pub code: String,
    /// When the scanner read the code, by its own clock (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub scanned_at: DateTime<FixedOffset>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBatchRequest {
    /// The scanner that made every scan of the batch.
    pub scanner_id: String,
    /// 1 to 500 scans, in the order they were made.
    pub scans: Vec<OfflineScan>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInBatchResponse {
    pub scanner_id: String,
    /// One per scan, in the batch's order.
    pub results: Vec<CheckInBatchItem>,
}

/// Report the scans of a scanner that was offline, with their own times. None is
/// refused: each gets a result, in order — `admitted`; `duplicate` (this scanner had
/// reported the ticket); `conflict` (another scanner admitted it too: both scans are
/// kept and flagged, and the earlier scan is the admission of record, even when the other
/// was an online scan); `invalid` (forged, or not a ticket for your shows);
/// `not_admissible` (the booking is not confirmed). Sending the same batch again records
/// nothing new and answers the same. A scan time more than 5 minutes ahead of the
/// server's clock or older than 7 days refuses the whole batch (422 `invalid-check-in`,
/// naming the scan): the scanner's clock is wrong.
#[utoipa::path(post, path = "/api/v1/partner/check-ins/batch", tag = "partner",
    security(("bearer" = [])),
    request_body = CheckInBatchRequest,
    responses((status = 200, body = CheckInBatchResponse),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json",
               description = "`invalid-check-in`: scanner id, 0 or over 500 scans, a scan \
                time the scanner cannot have made")))]
async fn check_in_batch(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(request): ApiJson<CheckInBatchRequest>,
) -> Result<Json<CheckInBatchResponse>, ApiError> {
    let org = org_of(&partner)?;
    let scanner = ScannerId::parse(&request.scanner_id)?;
    let scans = request
        .scans
        .into_iter()
        .map(|scan| ReportedScan {
            code: scan.code,
            scanned_at: Timestamp::from_millis(scan.scanned_at.timestamp_millis()),
        })
        .collect();
    let scanner_id = scanner.as_str().to_owned();
    let results = service::check_in_batch(&app, org.as_str(), scanner, scans).await?;
    for item in &results {
        let result = serde_json::to_value(item.result).unwrap_or_default();
        let result = result.as_str().unwrap_or("unknown").to_owned();
        metrics::counter!("marquee_check_ins_total", "result" => result).increment(1);
    }
    Ok(Json(CheckInBatchResponse {
        scanner_id,
        results,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckInFilter {
    /// Only the scans flagged as conflicts.
    #[serde(default)]
    pub conflicts_only: bool,
}

/// A show's admissions and conflicts in scan order, in pages, with its counts (bookings
/// and seats admitted, conflicts, refused scans).
#[utoipa::path(get, path = "/api/v1/partner/shows/{show_id}/check-ins", tag = "partner",
    security(("bearer" = [])),
    params(("show_id" = String, Path), CheckInFilter, PageParams),
    responses((status = 200, body = ShowCheckIns),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn show_check_ins(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(show_id): ApiPath<String>,
    ApiQuery(filter): ApiQuery<CheckInFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<ShowCheckIns>, ApiError> {
    let org = org_of(&partner)?;
    let request = page.request::<(i64, String)>()?;
    let owner = crate::booking::store::show_org(&app.db, &show_id)
        .await
        .map_err(CheckInError::from)?;
    if owner.as_deref() != Some(org.as_str()) {
        return Err(CheckInError::UnknownShow(show_id).into());
    }
    let rows = store::show_scans(
        &app.db,
        &show_id,
        filter.conflicts_only,
        request.after.as_ref(),
        request.limit,
    )
    .await
    .map_err(CheckInError::from)?;
    let counts = store::show_counts(&app.db, &show_id)
        .await
        .map_err(CheckInError::from)?;
    let page = Page::from_rows(rows, request.limit, |row| (row.scanned_at, row.id.clone()));
    Ok(Json(ShowCheckIns {
        show_id,
        counts,
        items: page.items.iter().map(store::ScanRow::view).collect(),
        next_cursor: page.next_cursor,
    }))
}
