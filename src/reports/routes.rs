//! Report routes: a partner's bookings across its organisation and its sales report;
//! the platform report for administrators. JSON, or CSV with `format=csv`.

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    DateRange, Dimension, Format, PARTNER_DIMENSIONS, PLATFORM_DIMENSIONS, PlatformReport,
    ReportError, SalesReport,
    store::{self, BookingFilter, PartnerBookingRow},
};
use crate::{
    app::AppState,
    catalog::partner_routes::org_of,
    http::{
        error::{ApiError, Problem},
        extract::ApiQuery,
        pagination::{Page, PageParams},
    },
    identity::extract::{Admin, Partner},
    ids::{ShowId, TheatreId},
    time::Timestamp,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partner_bookings))
        .routes(routes!(partner_sales))
        .routes(routes!(platform_report))
}

const STATUSES: [&str; 4] = ["pending_payment", "confirmed", "expired", "cancelled"];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerBookingQuery {
    /// Only bookings of this theatre's shows (`thr_…`).
    pub theatre_id: Option<String>,
    /// Only bookings of this show (`shw_…`).
    pub show_id: Option<String>,
    /// `pending_payment`, `confirmed`, `expired` or `cancelled`.
    pub status: Option<String>,
    /// Made at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Made before this instant (RFC 3339).
    pub to: Option<String>,
}

/// A booking of one of the organisation's shows, as its partner sees it: whose (the
/// customer's account id, never their address), what and how much.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerBooking {
    /// `bkg_…`.
    pub id: String,
    /// `pending_payment`, `confirmed`, `expired` or `cancelled`.
    pub status: String,
    /// The customer's account id (`usr_…`).
    pub customer_id: String,
    pub show_id: String,
    pub theatre_id: String,
    /// RFC 3339, UTC.
    pub show_starts_at: String,
    /// The seats the booking holds now (a seat the staff refunded is no longer listed).
    pub seats: Vec<String>,
    pub currency: String,
    /// What the customer pays, fees included (minor units).
    pub total: i64,
    /// Of which convenience fees.
    pub fee_total: i64,
    /// Given back so far: a cancellation's refund and the staff's refunds (minor units).
    pub refunded: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub confirmed_at: Option<String>,
    pub cancelled_at: Option<String>,
}

impl From<PartnerBookingRow> for PartnerBooking {
    fn from(row: PartnerBookingRow) -> Self {
        let at = |ms: i64| Timestamp::from_millis(ms).to_rfc3339();
        PartnerBooking {
            seats: serde_json::from_str(&row.seats).unwrap_or_default(),
            id: row.id,
            status: row.status,
            customer_id: row.customer_id,
            show_id: row.show_id,
            theatre_id: row.theatre_id,
            show_starts_at: at(row.starts_at),
            currency: row.currency,
            total: row.total,
            fee_total: row.fee_total,
            refunded: row.refund.unwrap_or(0) + row.staff_refunded,
            created_at: at(row.created_at),
            confirmed_at: row.confirmed_at.map(at),
            cancelled_at: row.cancelled_at.map(at),
        }
    }
}

/// An RFC 3339 instant in UTC milliseconds.
fn instant(name: &str, text: Option<&str>) -> Result<Option<i64>, ReportError> {
    text.map(|text| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|at| at.timestamp_millis())
            .map_err(|_| {
                ReportError::Invalid(format!("{name} {text:?} is not an RFC 3339 instant"))
            })
    })
    .transpose()
}

/// Every booking of the organisation's shows, newest first, filtered by theatre, show,
/// status and when it was made. Customers appear by account id only. A filter naming a
/// theatre or show of another organisation finds nothing.
#[utoipa::path(get, path = "/api/v1/partner/bookings", tag = "partner",
    security(("bearer" = [])),
    params(PartnerBookingQuery, PageParams),
    responses((status = 200, body = Page<PartnerBooking>),
              (status = 400, description = "a malformed limit or cursor",
               body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "a filter's value is not valid",
               body = Problem, content_type = "application/problem+json")))]
async fn partner_bookings(
    State(app): State<AppState>,
    partner: Partner,
    ApiQuery(query): ApiQuery<PartnerBookingQuery>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<PartnerBooking>>, ApiError> {
    let org = org_of(&partner)?;
    let request = page.request::<(i64, String)>()?;
    if let Some(theatre) = &query.theatre_id
        && TheatreId::parse(theatre).is_none()
    {
        return Err(
            ReportError::Invalid(format!("theatre_id {theatre:?} is not a theatre id")).into(),
        );
    }
    if let Some(show) = &query.show_id
        && ShowId::parse(show).is_none()
    {
        return Err(ReportError::Invalid(format!("show_id {show:?} is not a show id")).into());
    }
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ReportError::Invalid(format!(
            "status must be one of {}, not {status:?}",
            STATUSES.join(", ")
        ))
        .into());
    }
    let from = instant("from", query.from.as_deref())?;
    let to = instant("to", query.to.as_deref())?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ReportError::Invalid("to must not be before from".into()).into());
    }
    let filter = BookingFilter {
        theatre_id: query.theatre_id.as_deref(),
        show_id: query.show_id.as_deref(),
        status: query.status.as_deref(),
        from,
        to,
    };
    let rows = store::partner_bookings(
        &app.db,
        org.as_str(),
        &filter,
        request.after.as_ref(),
        request.limit,
    )
    .await
    .map_err(ReportError::from)?;
    let page = Page::from_rows(rows, request.limit, |row| (row.created_at, row.id.clone()));
    Ok(Json(page.map(PartnerBooking::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// First local date of the shows, `YYYY-MM-DD` (each show's date in its city's
    /// timezone).
    pub from: String,
    /// Last local date (inclusive), `YYYY-MM-DD`; at most 366 days after `from`.
    pub to: String,
    /// `show`, `screen`, `theatre` or `day` (default).
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Occupancy and revenue of the organisation's shows starting on the dates (local to each
/// theatre), per show, screen, theatre or day and currency: seats, seats sold (online
/// and at the counter), occupancy in basis points, confirmed bookings, gross (the
/// tickets' part, fees excluded), refunds and lost disputes (their tickets' part), net.
/// Amounts in minor units. `format=csv` answers the same rows as CSV with a header row.
#[utoipa::path(get, path = "/api/v1/partner/reports/sales", tag = "partner",
    security(("bearer" = [])),
    params(SalesQuery),
    responses((status = 200, body = SalesReport,
               content((SalesReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "a date, grouping or format that is not valid",
               body = Problem, content_type = "application/problem+json")))]
async fn partner_sales(
    State(app): State<AppState>,
    partner: Partner,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> Result<Response, ApiError> {
    let org = org_of(&partner)?;
    let range = DateRange::parse(&query.from, &query.to)?;
    let dimension = Dimension::parse(query.group_by.as_deref(), &PARTNER_DIMENSIONS)?;
    let format = Format::parse(query.format.as_deref())?;
    let shows = store::show_rows(&app.db, Some(org.as_str()), range.utc_window())
        .await
        .map_err(ReportError::from)?;
    let report = super::sales_report(&shows, &range, dimension);
    match format {
        Format::Json => Ok(Json(report).into_response()),
        Format::Csv => {
            let name = format!(
                "sales-by-{}-{}-{}.csv",
                report.group_by, report.from, report.to
            );
            Ok(crate::http::csv_attachment(
                super::sales_csv(&report)?,
                &name,
            ))
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlatformQuery {
    /// First local date, `YYYY-MM-DD` (of the shows, and of the holds for conversion).
    pub from: String,
    /// Last local date (inclusive), `YYYY-MM-DD`; at most 366 days after `from`.
    pub to: String,
    /// `city`, `theatre`, `movie` or `day` (default).
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The platform's figures per city, theatre, movie or day and currency (administrators):
/// of the shows starting on the dates, seats, seats sold and occupancy, confirmed
/// bookings, revenue (what customers paid, fees included) and fees, refunds (count and
/// amount, fees included), lost disputes; and conversion: the bookings made on the dates
/// (holds), how many were confirmed, and their ratio in basis points. `format=csv`
/// answers the same rows as CSV.
#[utoipa::path(get, path = "/api/v1/admin/reports/platform", tag = "admin",
    security(("bearer" = [])),
    params(PlatformQuery),
    responses((status = 200, body = PlatformReport,
               content((PlatformReport = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "a date, grouping or format that is not valid",
               body = Problem, content_type = "application/problem+json")))]
async fn platform_report(
    State(app): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<PlatformQuery>,
) -> Result<Response, ApiError> {
    let range = DateRange::parse(&query.from, &query.to)?;
    let dimension = Dimension::parse(query.group_by.as_deref(), &PLATFORM_DIMENSIONS)?;
    let format = Format::parse(query.format.as_deref())?;
    let window = range.utc_window();
    let shows = store::show_rows(&app.db, None, window)
        .await
        .map_err(ReportError::from)?;
    let holds = store::hold_counts(&app.db, window)
        .await
        .map_err(ReportError::from)?;
    let report = super::platform_report(&shows, &holds, &range, dimension);
    match format {
        Format::Json => Ok(Json(report).into_response()),
        Format::Csv => {
            let name = format!(
                "platform-by-{}-{}-{}.csv",
                report.group_by, report.from, report.to
            );
            Ok(crate::http::csv_attachment(
                super::platform_csv(&report)?,
                &name,
            ))
        }
    }
}
