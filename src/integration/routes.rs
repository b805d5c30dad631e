//! Routes for theatres' own systems (API key or partner token): box-office sales and the
//! inbound sync of what the theatre's system holds, by its own ids.

use axum::{Json, extract::State, http::StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    counter_sales::{self, CounterSale, CounterSaleRequest, Recorded},
    deliveries::{
        self, Delivery, DeliveryDetail, DeliveryFilter, ReplayRangeRequest, ReplayedRange,
    },
    sync::{
        self, ScheduleDocument, ScreenDocument, ShowDocument, SyncOutcome, SyncedSchedule,
        SyncedScreen, SyncedShow, SyncedTheatre, TheatreDocument, TheatreSyncStatus,
    },
    webhooks::{self, EndpointWithSecret, NewEndpointRequest, WebhookEndpoint},
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
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_counter_sale))
        .routes(routes!(get_counter_sale))
        .routes(routes!(void_counter_sale))
        .routes(routes!(sync_theatre))
        .routes(routes!(sync_screen))
        .routes(routes!(sync_show))
        .routes(routes!(sync_schedule))
        .routes(routes!(sync_status))
        .routes(routes!(create_webhook_endpoint, list_webhook_endpoints))
        .routes(routes!(delete_webhook_endpoint))
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(enable_webhook_endpoint))
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(replay_webhook_range))
        .routes(routes!(get_webhook_delivery))
        .routes(routes!(replay_webhook_delivery))
}

fn status_of(outcome: SyncOutcome) -> StatusCode {
    match outcome {
        SyncOutcome::Created => StatusCode::CREATED,
        SyncOutcome::Updated | SyncOutcome::Unchanged => StatusCode::OK,
    }
}

/// Create or update a theatre by the theatre system's own id. Sending the same document
/// again changes nothing (`outcome: unchanged`); a changed name or address is updated; a
/// different city is refused (409 `sync-change-refused`). The Marquee id in the answer is
/// the same for every send.
#[utoipa::path(put, path = "/api/v1/partner/sync/theatres/{external_id}", tag = "integration",
    security(("bearer" = [])),
    params(("external_id" = String, Path,
            description = "The theatre system's id: 1-64 letters, digits or . _ ~ : -")),
    request_body = TheatreDocument,
    responses((status = 201, body = SyncedTheatre, description = "Created"),
              (status = 200, body = SyncedTheatre, description = "Updated or unchanged"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn sync_theatre(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(external_id): ApiPath<String>,
    ApiJson(document): ApiJson<TheatreDocument>,
) -> Result<(StatusCode, Json<SyncedTheatre>), ApiError> {
    let synced = sync::upsert_theatre(&app, org_of(&partner)?, &external_id, &document).await?;
    Ok((status_of(synced.outcome), Json(synced)))
}

/// Report seats sold at the theatre's box office, so they are never sold online. All the
/// seats or none: a seat held or sold online (or blocked) refuses the sale with 409
/// `seat-unavailable` listing those seats. Withheld seats (kept for the box office) can be
/// sold. Idempotent by `external_sale_id`: the same report again answers 200 with the
/// sale; another show or other seats under the same id is 409 `external-id-reused`.
#[utoipa::path(post, path = "/api/v1/partner/counter-sales", tag = "integration",
    security(("bearer" = [])),
    request_body = CounterSaleRequest,
    responses((status = 201, body = CounterSale, description = "Recorded: the seats are sold"),
              (status = 200, body = CounterSale, description = "Reported before; nothing changed"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn record_counter_sale(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(request): ApiJson<CounterSaleRequest>,
) -> Result<(StatusCode, Json<CounterSale>), ApiError> {
    Ok(
        match counter_sales::record(&app, org_of(&partner)?, request).await? {
            Recorded::Created(sale) => (StatusCode::CREATED, Json(sale)),
            Recorded::AlreadyRecorded(sale) => (StatusCode::OK, Json(sale)),
        },
    )
}

/// A box-office sale by the theatre's own id for it.
#[utoipa::path(get, path = "/api/v1/partner/counter-sales/{external_sale_id}", tag = "integration",
    security(("bearer" = [])),
    params(("external_sale_id" = String, Path, description = "The theatre's id for the sale")),
    responses((status = 200, body = CounterSale),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_counter_sale(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(external_sale_id): ApiPath<String>,
) -> Result<Json<CounterSale>, ApiError> {
    Ok(Json(
        counter_sales::get(&app, org_of(&partner)?, &external_sale_id).await?,
    ))
}

/// Void a box-office sale: its seats become available again (offered to the waitlist
/// first). Voiding a voided sale answers it unchanged.
#[utoipa::path(post, path = "/api/v1/partner/counter-sales/{external_sale_id}/void", tag = "integration",
    security(("bearer" = [])),
    params(("external_sale_id" = String, Path, description = "The theatre's id for the sale")),
    responses((status = 200, body = CounterSale),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn void_counter_sale(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(external_sale_id): ApiPath<String>,
) -> Result<Json<CounterSale>, ApiError> {
    Ok(Json(
        counter_sales::void(&app, org_of(&partner)?, &external_sale_id).await?,
    ))
}

/// Create or update a screen of a synced theatre by the theatre system's own ids: its name
/// (unique in the theatre, else 409 `duplicate-screen`) and its seat layout. A different
/// layout becomes a new version for shows scheduled from then on; the same document again
/// changes nothing.
#[utoipa::path(put, path = "/api/v1/partner/sync/theatres/{theatre_external_id}/screens/{external_id}",
    tag = "integration",
    security(("bearer" = [])),
    params(("theatre_external_id" = String, Path, description = "The theatre system's theatre id"),
           ("external_id" = String, Path, description = "The theatre system's screen id")),
    request_body = ScreenDocument,
    responses((status = 201, body = SyncedScreen, description = "Created"),
              (status = 200, body = SyncedScreen, description = "Updated or unchanged"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn sync_screen(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath((theatre_external_id, external_id)): ApiPath<(String, String)>,
    ApiJson(document): ApiJson<ScreenDocument>,
) -> Result<(StatusCode, Json<SyncedScreen>), ApiError> {
    let synced = sync::upsert_screen(
        &app,
        org_of(&partner)?,
        &theatre_external_id,
        &external_id,
        &document,
    )
    .await?;
    Ok((status_of(synced.outcome), Json(synced)))
}

/// Create or update a show of a synced theatre by the theatre system's own ids. Its time,
/// language, format and prices may change (moving a show with customers is refused:
/// `show-has-bookings`); its screen and movie may not (409 `sync-change-refused`). The
/// scheduling rules of `POST /partner/shows` apply. The same document again changes
/// nothing.
#[utoipa::path(put, path = "/api/v1/partner/sync/theatres/{theatre_external_id}/shows/{external_id}",
    tag = "integration",
    security(("bearer" = [])),
    params(("theatre_external_id" = String, Path, description = "The theatre system's theatre id"),
           ("external_id" = String, Path, description = "The theatre system's show id")),
    request_body = ShowDocument,
    responses((status = 201, body = SyncedShow, description = "Created"),
              (status = 200, body = SyncedShow, description = "Updated or unchanged"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn sync_show(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath((theatre_external_id, external_id)): ApiPath<(String, String)>,
    ApiJson(document): ApiJson<ShowDocument>,
) -> Result<(StatusCode, Json<SyncedShow>), ApiError> {
    let synced = sync::upsert_show(
        &app,
        org_of(&partner)?,
        &theatre_external_id,
        &external_id,
        &document,
    )
    .await?;
    Ok((status_of(synced.outcome), Json(synced)))
}

/// A theatre's schedule in one request (a day's or a week's shows, 1 to 200): each show is
/// created, updated or left unchanged as by `PUT …/shows/{external_id}`, all or none. If
/// any fails, nothing is written and the answer is 422 `bulk-invalid` with an error per
/// failing item (`errors`: index, type, detail).
#[utoipa::path(post, path = "/api/v1/partner/sync/theatres/{theatre_external_id}/schedule",
    tag = "integration",
    security(("bearer" = [])),
    params(("theatre_external_id" = String, Path, description = "The theatre system's theatre id")),
    request_body = ScheduleDocument,
    responses((status = 200, body = SyncedSchedule),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn sync_schedule(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(theatre_external_id): ApiPath<String>,
    ApiJson(document): ApiJson<ScheduleDocument>,
) -> Result<Json<SyncedSchedule>, ApiError> {
    let shows = sync::upsert_schedule(
        &app,
        org_of(&partner)?,
        &theatre_external_id,
        document.shows,
    )
    .await?;
    Ok(Json(SyncedSchedule { shows }))
}

/// What Marquee holds for a synced theatre, by the theatre system's ids: Marquee's ids,
/// the screens, and the shows that have not ended with their seats counted by state
/// (available, held, sold online, sold at the counter, withheld, blocked), for the
/// theatre's own reconciliation.
#[utoipa::path(get, path = "/api/v1/partner/sync/theatres/{theatre_external_id}/status",
    tag = "integration",
    security(("bearer" = [])),
    params(("theatre_external_id" = String, Path, description = "The theatre system's theatre id")),
    responses((status = 200, body = TheatreSyncStatus),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn sync_status(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(theatre_external_id): ApiPath<String>,
) -> Result<Json<TheatreSyncStatus>, ApiError> {
    Ok(Json(
        sync::theatre_status(&app, org_of(&partner)?, &theatre_external_id).await?,
    ))
}

/// Register a webhook endpoint for the organisation's events (Standard Webhooks). The
/// answer carries the endpoint's secret (`whsec_…`) once; deliveries are signed with it.
#[utoipa::path(post, path = "/api/v1/partner/webhook-endpoints", tag = "integration",
    security(("bearer" = [])),
    request_body = NewEndpointRequest,
    responses((status = 201, body = EndpointWithSecret),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_webhook_endpoint(
    State(app): State<AppState>,
    partner: Partner,
    ApiJson(request): ApiJson<NewEndpointRequest>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), ApiError> {
    let created = webhooks::create_endpoint(&app, org_of(&partner)?, &request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The organisation's webhook endpoints (without secrets).
#[utoipa::path(get, path = "/api/v1/partner/webhook-endpoints", tag = "integration",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookEndpoint>),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_webhook_endpoints(
    State(app): State<AppState>,
    partner: Partner,
) -> Result<Json<Vec<WebhookEndpoint>>, ApiError> {
    Ok(Json(
        webhooks::list_endpoints(&app, org_of(&partner)?).await?,
    ))
}

/// Remove a webhook endpoint.
#[utoipa::path(delete, path = "/api/v1/partner/webhook-endpoints/{endpoint_id}", tag = "integration",
    security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_webhook_endpoint(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(endpoint_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete_endpoint(&app, org_of(&partner)?, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for the endpoint, answered once. The previous secret keeps signing beside
/// it for 24 hours (deliveries carry both signatures), so the receiver can switch without
/// refusing a delivery.
#[utoipa::path(post, path = "/api/v1/partner/webhook-endpoints/{endpoint_id}/rotate-secret",
    tag = "integration",
    security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointWithSecret),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn rotate_webhook_secret(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(endpoint_id): ApiPath<String>,
) -> Result<Json<EndpointWithSecret>, ApiError> {
    Ok(Json(
        webhooks::rotate_secret(&app, org_of(&partner)?, &endpoint_id).await?,
    ))
}

/// Enable an endpoint that was disabled after its deliveries kept failing. The deliveries
/// that waited meanwhile are sent, oldest first per show.
#[utoipa::path(post, path = "/api/v1/partner/webhook-endpoints/{endpoint_id}/enable",
    tag = "integration",
    security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    responses((status = 204, description = "Enabled"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn enable_webhook_endpoint(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(endpoint_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    deliveries::enable(&app, org_of(&partner)?, &endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's delivery log, newest first: each event sent to it, its state and how
/// many attempts it took.
#[utoipa::path(get, path = "/api/v1/partner/webhook-endpoints/{endpoint_id}/deliveries",
    tag = "integration",
    security(("bearer" = [])),
    params(("endpoint_id" = String, Path), DeliveryFilter, PageParams),
    responses((status = 200, body = Page<Delivery>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn list_webhook_deliveries(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(endpoint_id): ApiPath<String>,
    ApiQuery(filter): ApiQuery<DeliveryFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let org = org_of(&partner)?;
    Ok(Json(
        deliveries::list(&app, org, &endpoint_id, &filter, page.request()?).await?,
    ))
}

/// Send the endpoint's deliveries made in a time range again: the failed ones (default),
/// or all of them. Each keeps its `webhook-id` and body.
#[utoipa::path(post, path = "/api/v1/partner/webhook-endpoints/{endpoint_id}/replay",
    tag = "integration",
    security(("bearer" = [])),
    params(("endpoint_id" = String, Path)),
    request_body = ReplayRangeRequest,
    responses((status = 202, body = ReplayedRange),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replay_webhook_range(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(endpoint_id): ApiPath<String>,
    ApiJson(request): ApiJson<ReplayRangeRequest>,
) -> Result<(StatusCode, Json<ReplayedRange>), ApiError> {
    let org = org_of(&partner)?;
    let replayed = deliveries::replay_range(&app, org, &endpoint_id, &request).await?;
    Ok((StatusCode::ACCEPTED, Json(replayed)))
}

/// One delivery: its body and every attempt (time, status code, latency, the start of
/// the answer).
#[utoipa::path(get, path = "/api/v1/partner/webhook-deliveries/{delivery_id}",
    tag = "integration",
    security(("bearer" = [])),
    params(("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_webhook_delivery(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(delivery_id): ApiPath<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(
        deliveries::get(&app, org_of(&partner)?, &delivery_id).await?,
    ))
}

/// Send one delivery again now, whatever its state, with the same `webhook-id` and body.
#[utoipa::path(post, path = "/api/v1/partner/webhook-deliveries/{delivery_id}/replay",
    tag = "integration",
    security(("bearer" = [])),
    params(("delivery_id" = String, Path)),
    responses((status = 202, body = DeliveryDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn replay_webhook_delivery(
    State(app): State<AppState>,
    partner: Partner,
    ApiPath(delivery_id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryDetail>), ApiError> {
    let replayed = deliveries::replay(&app, org_of(&partner)?, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(replayed)))
}
