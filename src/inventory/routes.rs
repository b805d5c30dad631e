//! The public seat map.

use axum::{Json, extract::State, http::HeaderMap, response::sse::Event as SseEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    best_available::Wanted,
    model::{SeatCategory, SeatMap, SeatState, SeatView},
    service,
    stream::{self, StreamItem},
};
use crate::{
    app::AppState,
    booking::BookingError,
    catalog::{CatalogError, routes::show_id, store::ShowRow},
    http::{
        cache::{CachedJson, Scope},
        error::{ApiError, Problem},
        extract::{ApiJson, ApiPath},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seat_map))
        .routes(routes!(best_seats))
        .routes(routes!(seat_stream))
}

/// Every seat of a show with its state, category and price, plus availability counts.
///
/// Never staler than the last seat change made through the node that answers.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/seats", tag = "inventory",
    params(("show_id" = String, Path, description = "Show id")),
    responses((status = 200, body = SeatMap),
              (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn seat_map(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    headers: HeaderMap,
) -> Result<CachedJson, ApiError> {
    let show = show_id(&show)?;
    let entry = cached_seat_map(&app, show.as_str()).await?;
    Ok(CachedJson::new(entry, &headers))
}

/// The show's seat map as `GET …/seats` serves it, with the view kept beside the bytes so
/// best available computes from it without the database. As current as the answer to
/// `GET …/seats`: every seat change through this node is seen at once, other nodes'
/// within the cache tail's poll (the hold, not the map, decides who gets a seat).
async fn cached_seat_map(
    app: &AppState,
    show: &str,
) -> Result<std::sync::Arc<crate::http::cache::CachedResponse>, ApiError> {
    let key = format!("{:?}", ("seats", show));
    let now = app.clock.now();
    Ok(app
        .cache
        .get_or_load_kept(key, Scope::Show(show), || {
            crate::pricing::priced_seat_map(app, show, now)
        })
        .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BestAvailableRequest {
    /// Seats wanted: 1 to `booking.max_seats`.
    pub count: u32,
    /// Only seats of this category.
    pub category: Option<SeatCategory>,
    /// Include an accessible seat, with the others beside it.
    #[serde(default)]
    pub accessible: bool,
}

/// Seats proposed for a hold; nothing is held until they are booked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BestSeats {
    /// In row, then seat order.
    pub seats: Vec<SeatView>,
    /// One block of neighbouring seats in one row.
    pub together: bool,
    /// Free seats the proposal leaves alone between taken seats, an aisle or a row end
    /// (0 whenever some option leaves none).
    pub stranded: u32,
}

/// Propose the best `count` free seats: neighbours in one row when possible, leaving no
/// seat stranded alone when possible, nearest the screen's centre line two thirds of the
/// way back. Deterministic: the same seat map gives the same proposal. Holds nothing.
#[utoipa::path(post, path = "/api/v1/shows/{show_id}/best-available", tag = "inventory",
    params(("show_id" = String, Path, description = "Show id")),
    request_body = BestAvailableRequest,
    responses((status = 200, body = BestSeats),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "the show is not on sale, or no free seats fit",
               body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn best_seats(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    ApiJson(request): ApiJson<BestAvailableRequest>,
) -> Result<Json<BestSeats>, ApiError> {
    let show = show_id(&show)?;
    let max = app.config.booking.max_seats;
    let count = request.count as usize;
    if count == 0 || count > max {
        return Err(BookingError::Invalid(format!("choose 1 to {max} seats")).into());
    }
    let entry = cached_seat_map(&app, show.as_str()).await?;
    let map = match entry.kept::<SeatMap>() {
        Some(map) => map,
        None => std::sync::Arc::new(
            crate::pricing::priced_seat_map(&app, show.as_str(), app.clock.now())
                .await?
                .value,
        ),
    };
    if !map.on_sale {
        return Err(BookingError::ShowNotOnSale.into());
    }
    let wanted = Wanted {
        count,
        category: request.category,
        accessible: request.accessible,
    };
    let proposal = service::propose(&map, wanted, &|_| false)
        .ok_or_else(|| BookingError::NoSeatsToPropose(wanted.describe()))?;
    let chosen: Vec<SeatView> = proposal
        .seats
        .iter()
        .filter_map(|seat| map.seats.iter().find(|view| view.label == seat.label))
        .cloned()
        .collect();
    Ok(Json(BestSeats {
        seats: chosen,
        together: proposal.together,
        stranded: proposal.stranded as u32,
    }))
}

/// How long a new stream waits for this node's outbox tail to start (only just after the
/// node starts).
const TAIL_START_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Live seat changes of a show as server-sent events, from the outbox (so a change made
/// through any node arrives).
///
/// Events, each with `id` = its outbox sequence (increasing):
/// - `snapshot` `{seq, on_sale, seats: [{label, state, held_until?}]}`: every seat now;
///   first on a new stream.
/// - `seats` `{seq, state, seats, held_until}`: these seats are now `state` (`held` until
///   `held_until`, after which they are available unless paid). Applying one twice
///   changes nothing.
/// - `reload` `{seq, reason}`: read the whole map again (`gap`: the events after
///   `Last-Event-ID` are gone; `show-changed`: prices or times changed). A `snapshot`
///   follows a gap.
/// - `show-cancelled` `{seq}`.
///
/// Reconnect with `Last-Event-ID` to be sent exactly what was missed.
#[utoipa::path(get, path = "/api/v1/shows/{show_id}/seats/stream", tag = "inventory",
    params(("show_id" = String, Path, description = "Show id"),
           ("Last-Event-ID" = Option<i64>, Header,
            description = "The id of the last event received: resume after it")),
    responses((status = 200, content_type = "text/event-stream", body = SeatStreamMessage,
               description = "An endless stream of server-sent events"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn seat_stream(
    State(app): State<AppState>,
    ApiPath(show): ApiPath<String>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::{
        IntoResponse,
        sse::{KeepAlive, Sse},
    };

    let show = show_id(&show)?;
    // Browsers send it only when they have one; an empty value means none.
    let last_event_id = match headers
        .get("last-event-id")
        .filter(|value| !value.as_bytes().trim_ascii().is_empty())
    {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| {
                    ApiError::InvalidHeader(
                        "Last-Event-ID must be the id of an event of this stream".into(),
                    )
                })?,
        ),
    };
    if !app.seat_streams.wait_ready(TAIL_START_LIMIT).await {
        return Err(ApiError::Unavailable(sqlx::Error::PoolTimedOut));
    }
    let subscription = app.seat_streams.subscribe(show.as_str());
    let from = subscription.from;
    // Read after joining the hub: a cancellation committed before this read is in the row,
    // one committed after it reaches the stream as an event.
    let row = service::show_row(&app.db, show.as_str()).await?;
    let mut backlog = std::collections::VecDeque::new();
    let last_sent = match last_event_id {
        Some(seen) if seen >= from => seen,
        Some(seen) => {
            let oldest = stream::oldest_seq(&app.db)
                .await
                .map_err(CatalogError::from)?;
            if oldest.is_some_and(|oldest| oldest <= seen + 1) {
                let missed = stream::show_events(&app.db, show.as_str(), seen, from)
                    .await
                    .map_err(CatalogError::from)?;
                backlog.extend(
                    missed
                        .iter()
                        .filter_map(stream::item_of)
                        .map(|item| sse_event(&item)),
                );
            } else {
                let reload = StreamItem::Reload {
                    seq: from,
                    reason: "gap",
                };
                backlog.push_back(sse_event(&reload));
                backlog.push_back(snapshot(&app, &row, from).await?);
            }
            from
        }
        None => {
            backlog.push_back(snapshot(&app, &row, from).await?);
            from
        }
    };
    if let Some(first) = backlog.pop_front() {
        backlog.push_front(first.retry(std::time::Duration::from_secs(1)));
    }
    let live = LiveStream {
        backlog,
        receiver: subscription.receiver,
        last_sent,
        stopping: app.seat_streams.stopping(),
        closes_at: tokio::time::Instant::now()
            + std::time::Duration::from_secs(app.config.events.seat_stream_max_secs),
    };
    let open = OpenStream::new();
    let events = futures::stream::unfold((live, open), |(mut live, open)| async move {
        live.next()
            .await
            .map(|event| (Ok::<_, std::convert::Infallible>(event), (live, open)))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

/// One server-sent event of a seat stream, as an SSE client parses it.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the wire format; the events are written by `sse_event`
struct SeatStreamMessage {
    /// `snapshot`, `seats`, `reload` or `show-cancelled`.
    #[schema(pattern = "^(snapshot|seats|reload|show-cancelled)$")]
    event: String,
    /// The outbox sequence the message brings the map up to; send it back as
    /// `Last-Event-ID` to resume.
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    /// JSON text: the message's fields (see the operation's description).
    data: String,
    /// Milliseconds a client waits before reconnecting (first message only).
    retry: Option<u64>,
}

/// One stream's state: what it starts with, then what the hub sends.
struct LiveStream {
    backlog: std::collections::VecDeque<SseEvent>,
    receiver: tokio::sync::broadcast::Receiver<std::sync::Arc<StreamItem>>,
    /// Items up to here were sent (or covered by the snapshot).
    last_sent: i64,
    stopping: tokio::sync::watch::Receiver<bool>,
    /// `events.seat_stream_max_secs` after it opened.
    closes_at: tokio::time::Instant,
}

impl LiveStream {
    /// The next event; `None` ends the stream: on shutdown, at its maximum age, or when
    /// this reader fell so far behind that the hub dropped items for it (the client
    /// reconnects with its last id and is sent the rest from the outbox).
    async fn next(&mut self) -> Option<SseEvent> {
        if let Some(event) = self.backlog.pop_front() {
            return Some(event);
        }
        loop {
            if *self.stopping.borrow() {
                return None;
            }
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(item) if item.seq() <= self.last_sent => continue,
                    Ok(item) => {
                        self.last_sent = item.seq();
                        return Some(sse_event(&item));
                    }
                    Err(_) => return None,
                },
                _ = self.stopping.changed() => return None,
                () = tokio::time::sleep_until(self.closes_at) => return None,
            }
        }
    }
}

/// Counts open streams (`marquee_seat_streams_open`) for as long as it lives.
struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        metrics::gauge!("marquee_seat_streams_open").increment(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!("marquee_seat_streams_open").decrement(1.0);
    }
}

fn sse_event(item: &StreamItem) -> SseEvent {
    let (name, data) = match item {
        StreamItem::Seats(delta) => ("seats", serde_json::to_string(delta)),
        StreamItem::Reload { seq, reason } => (
            "reload",
            serde_json::to_string(&serde_json::json!({ "seq": seq, "reason": reason })),
        ),
        StreamItem::ShowCancelled { seq } => (
            "show-cancelled",
            serde_json::to_string(&serde_json::json!({ "seq": seq })),
        ),
    };
    SseEvent::default()
        .event(name)
        .id(item.seq().to_string())
        .data(data.unwrap_or_default())
}

#[derive(Serialize)]
struct SnapshotSeat {
    label: String,
    state: SeatState,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_until: Option<String>,
}

/// Every seat of the show as it is now, as the stream's `snapshot` event at `seq`.
async fn snapshot(app: &AppState, show: &ShowRow, seq: i64) -> Result<SseEvent, ApiError> {
    let now = app.clock.now();
    let seats: Vec<SnapshotSeat> = super::store::seat_states(&app.db, &show.id)
        .await
        .map_err(CatalogError::from)?
        .into_iter()
        .filter_map(|(label, state, held_until)| {
            let state = SeatState::parse(&state)?.effective(held_until, now.as_millis());
            let held_until = (state == SeatState::Held)
                .then(|| held_until.map(|at| crate::time::Timestamp::from_millis(at).to_rfc3339()))
                .flatten();
            Some(SnapshotSeat {
                label,
                state,
                held_until,
            })
        })
        .collect();
    let data = serde_json::json!({
        "seq": seq,
        "on_sale": service::on_sale(show, now),
        "seats": seats,
    });
    Ok(SseEvent::default()
        .event("snapshot")
        .id(seq.to_string())
        .data(data.to_string()))
}
