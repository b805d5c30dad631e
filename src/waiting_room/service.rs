//! The waiting room's state, in the database (so every node sees one queue and a restart
//! loses nothing): a room per show, an entry per account.
//!
//! - Before the on-sale instant, customers who join wait in the pre-queue, unordered.
//! - At the on-sale instant (the first node to look), one unit of work gives the pre-queue
//!   its order from the committed seed (`shuffle::order`) and positions 1…n; later
//!   arrivals take the next position as they join, first come first served.
//! - Every node runs `admit_due`: in one unit per room (under the room row's lock) it
//!   admits the next positions, as many as keep the admission window full, and ends the
//!   room when the show is sold out.
//! - An admitted customer's entry answers with an admission token, good for
//!   `waiting_room.admission_secs`; holds on the show require it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    WaitingRoomError,
    admission::{self, AdmissionClaims},
    shuffle,
};
use crate::{
    app::AppState,
    db::{Engine, Tx},
    db_row,
    ids::{PartnerOrgId, QueueEntryId, UserId},
    params,
    time::Timestamp,
};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomRequest {
    /// When sales open (RFC 3339, in the future). Until then customers may join the
    /// pre-queue; nobody can hold seats.
    pub on_sale_at: chrono::DateTime<chrono::FixedOffset>,
    /// Seats one account may hold or buy for the show (default 6).
    pub seats_per_account: Option<i64>,
}

/// Waiting rooms for every show of a movie in a city.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovieRoomsRequest {
    /// The city whose shows get a room.
    pub city_id: String,
    /// When sales open (RFC 3339, in the future): shows starting after it get a room.
    pub on_sale_at: chrono::DateTime<chrono::FixedOffset>,
    /// Seats one account may hold or buy per show (default 6).
    pub seats_per_account: Option<i64>,
}

impl MovieRoomsRequest {
    fn room(&self) -> RoomRequest {
        RoomRequest {
            on_sale_at: self.on_sale_at,
            seats_per_account: self.seats_per_account,
        }
    }
}

/// The rooms set up for a movie's shows in a city.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovieRooms {
    pub movie_id: String,
    pub city_id: String,
    /// One room per show, by start time: set up now, or moved to the new on-sale.
    pub rooms: Vec<Room>,
    /// Shows whose rooms had already opened: left as they are.
    pub already_open: Vec<String>,
}

/// A room as anyone may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Room {
    pub show_id: String,
    #[schema(value_type = String)]
    pub on_sale_at: Timestamp,
    /// `waiting` (before the on-sale), `selling` or `sold-out`.
    pub status: String,
    /// SHA-256 (hex) of the seed that orders the pre-queue, published before the on-sale.
    pub seed_hash: String,
    /// The seed (hex), revealed once the pre-queue is ordered.
    pub seed: Option<String>,
    pub seats_per_account: i64,
    /// Entries so far.
    pub entries: i64,
    /// Positions 1 to this are admitted.
    pub admitted_through: i64,
}

/// The customer's place in a room.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entry {
    /// `qen_…`: the anonymous id the audit lists.
    pub id: String,
    pub show_id: String,
    /// `pre-queue` (joined before the on-sale; ordered at it), `waiting`, `admitted`,
    /// `expired` (admitted, and the admission ran out) or `sold-out`.
    pub state: String,
    /// 1-based, once ordered.
    pub position: Option<i64>,
    /// People still waiting before this one (those admitted and choosing seats are not
    /// counted).
    pub ahead: Option<i64>,
    /// Seconds until admission, as estimated: it never goes up between two reads.
    pub estimated_wait_secs: Option<i64>,
    #[schema(value_type = String)]
    pub on_sale_at: Timestamp,
    /// Present when admitted: send it with holds on this show (`admission_token`).
    pub admission_token: Option<String>,
    #[schema(value_type = Option<String>)]
    pub admission_expires_at: Option<Timestamp>,
    /// When the room admitted this entry (its place in the admission order).
    #[schema(value_type = Option<String>)]
    pub admitted_at: Option<Timestamp>,
}

/// The audit of an on-sale: everything needed to recompute the pre-queue's order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Audit {
    pub show_id: String,
    pub seed_hash: String,
    pub seed: String,
    /// The pre-queue's entry ids, sorted: the shuffle's input.
    pub pre_queue: Vec<String>,
    /// Every entry id by position (the pre-queue shuffled, then later arrivals).
    pub order: Vec<String>,
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct RoomRow {
        pub show_id: String,
        pub on_sale_at: i64,
        pub seed: String,
        pub seed_hash: String,
        pub seats_per_account: i64,
        pub status: String,
        pub shuffled_at: Option<i64>,
        pub next_position: i64,
        pub admitted_through: i64,
        pub admit_window: i64,
        pub rate_per_min: i64,
    }
}

const ROOM: &str = "SELECT show_id, on_sale_at, seed, seed_hash, seats_per_account, status, \
     shuffled_at, next_position, admitted_through, admit_window, rate_per_min \
     FROM waiting_rooms";

/// The customer's entry id in a room, if they joined.
const ENTRY_OF_CUSTOMER: &str =
    "SELECT id FROM waiting_room_entries WHERE show_id = $1 AND customer_id = $2";

db_row! {
    struct EntryRow {
        id: String,
        position: Option<i64>,
        expected_at: Option<i64>,
        admitted_at: Option<i64>,
    }
}

/// The room of a show, if it has one.
pub async fn room_row(app: &AppState, show_id: &str) -> Result<Option<RoomRow>, WaitingRoomError> {
    Ok(app
        .db
        .fetch_optional(&format!("{ROOM} WHERE show_id = $1"), params![show_id])
        .await?)
}

fn public(row: &RoomRow, entries: i64) -> Room {
    Room {
        show_id: row.show_id.clone(),
        on_sale_at: Timestamp::from_millis(row.on_sale_at),
        status: row.status.clone(),
        seed_hash: row.seed_hash.clone(),
        seed: row.shuffled_at.map(|_| row.seed.clone()),
        seats_per_account: row.seats_per_account,
        entries,
        admitted_through: row.admitted_through,
    }
}

/// Sets up (or, before it opens, changes) a show's waiting room. `org` limits it to the
/// organisation's shows (partners); administrators pass `None`.
pub async fn configure(
    app: &AppState,
    org: Option<&PartnerOrgId>,
    show_id: &str,
    request: &RoomRequest,
) -> Result<Room, WaitingRoomError> {
    let setup = Setup::of(app, org, request)?;
    let show = show_id.to_owned();
    let row = app.db.write(move |tx| setup.apply(tx, &show)).await?;
    app.waiting_rooms.forget(show_id);
    app.cache.invalidate_show(show_id);
    Ok(public(&row, 0))
}

/// Gives every show of a movie in a city that starts after the on-sale (of the
/// organisation's theatres, for partners) a waiting room with that on-sale, in one unit of
/// work. Each show keeps a queue and a seed of its own; rooms already open are left as they
/// are and named in the answer. 404 when no such show exists.
pub async fn configure_movie(
    app: &AppState,
    org: Option<&PartnerOrgId>,
    movie_id: &str,
    request: &MovieRoomsRequest,
) -> Result<MovieRooms, WaitingRoomError> {
    let setup = Setup::of(app, org, &request.room())?;
    let (movie, city) = (movie_id.to_owned(), request.city_id.clone());
    let (rooms, already_open) = app
        .db
        .write(move |tx| -> Result<_, WaitingRoomError> {
            let mut sql = String::from(
                "SELECT s.id FROM shows s JOIN theatres t ON t.id = s.theatre_id \
                 WHERE s.movie_id = $1 AND s.city_id = $2 AND s.status = 'scheduled' \
                 AND s.starts_at > $3",
            );
            let org = setup.org.clone().unwrap_or_default();
            if setup.org.is_some() {
                sql.push_str(" AND t.org_id = $4");
            }
            sql.push_str(" ORDER BY s.starts_at, s.id");
            let shows: Vec<String> = if setup.org.is_some() {
                tx.fetch_all(&sql, params![&movie, &city, setup.on_sale_at, &org])?
            } else {
                tx.fetch_all(&sql, params![&movie, &city, setup.on_sale_at])?
            };
            if shows.is_empty() {
                return Err(WaitingRoomError::NoShows {
                    movie: movie.clone(),
                    city: city.clone(),
                });
            }
            let mut rooms = Vec::with_capacity(shows.len());
            let mut already_open = Vec::new();
            for show in shows {
                match setup.with_new_seed().apply(tx, &show) {
                    Ok(row) => rooms.push(row),
                    Err(WaitingRoomError::AlreadyOpen(show)) => already_open.push(show),
                    Err(other) => return Err(other),
                }
            }
            Ok((rooms, already_open))
        })
        .await?;
    for row in &rooms {
        app.waiting_rooms.forget(&row.show_id);
        app.cache.invalidate_show(&row.show_id);
    }
    Ok(MovieRooms {
        movie_id: movie_id.to_owned(),
        city_id: request.city_id.clone(),
        rooms: rooms.iter().map(|row| public(row, 0)).collect(),
        already_open,
    })
}

/// A room to set up: checked input and a fresh seed.
#[derive(Clone)]
struct Setup {
    org: Option<String>,
    on_sale_at: i64,
    seats_per_account: i64,
    seed: String,
    seed_hash: String,
    window: i64,
    now: i64,
}

impl Setup {
    fn of(
        app: &AppState,
        org: Option<&PartnerOrgId>,
        request: &RoomRequest,
    ) -> Result<Setup, WaitingRoomError> {
        let now = app.clock.now().as_millis();
        let on_sale_at = request.on_sale_at.timestamp_millis();
        let seats = request.seats_per_account.unwrap_or(6);
        if !(1..=app.config.booking.max_seats as i64).contains(&seats) {
            return Err(WaitingRoomError::Invalid(format!(
                "seats_per_account must be between 1 and {}",
                app.config.booking.max_seats
            )));
        }
        if on_sale_at <= now {
            return Err(WaitingRoomError::Invalid(
                "on_sale_at must be in the future".into(),
            ));
        }
        Ok(Setup {
            org: org.map(|o| o.to_string()),
            on_sale_at,
            seats_per_account: seats,
            seed: String::new(),
            seed_hash: String::new(),
            window: app.config.waiting_room.initial_window,
            now,
        }
        .with_new_seed())
    }

    /// The same setup with a seed of its own (one per room: each queue is shuffled apart).
    fn with_new_seed(&self) -> Setup {
        let seed = shuffle::new_seed();
        Setup {
            seed_hash: shuffle::seed_hash(&seed),
            seed,
            ..self.clone()
        }
    }

    /// Sets up the show's room, or moves its on-sale while it has not opened (the seed
    /// published then stays).
    fn apply(&self, tx: &mut Tx<'_>, show_id: &str) -> Result<RoomRow, WaitingRoomError> {
        let Setup {
            on_sale_at,
            seats_per_account: seats,
            now,
            ..
        } = *self;
        let show: Option<(String, i64, String)> = tx.fetch_optional(
            "SELECT t.org_id, s.starts_at, s.status FROM shows s \
             JOIN theatres t ON t.id = s.theatre_id WHERE s.id = $1",
            params![show_id],
        )?;
        let Some((owner, starts_at, status)) = show else {
            return Err(WaitingRoomError::UnknownShow(show_id.to_owned()));
        };
        if self.org.as_ref().is_some_and(|org| *org != owner) {
            return Err(WaitingRoomError::UnknownShow(show_id.to_owned()));
        }
        if status != "scheduled" || on_sale_at >= starts_at {
            return Err(WaitingRoomError::Invalid(
                "the on-sale must be before the show starts, and the show scheduled".into(),
            ));
        }
        let existing: Option<RoomRow> =
            tx.fetch_optional(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?;
        match existing {
            Some(room) if room.on_sale_at <= now || room.shuffled_at.is_some() => {
                return Err(WaitingRoomError::AlreadyOpen(show_id.to_owned()));
            }
            Some(_) => {
                tx.execute(
                    "UPDATE waiting_rooms SET on_sale_at = $2, seats_per_account = $3, \
                     updated_at = $4 WHERE show_id = $1",
                    params![show_id, on_sale_at, seats, now],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO waiting_rooms (show_id, on_sale_at, seed, seed_hash, \
                     seats_per_account, status, next_position, admitted_through, \
                     admit_window, rate_per_min, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'waiting', 0, 0, $6, 0, $7, $7)",
                    params![
                        show_id,
                        on_sale_at,
                        &self.seed,
                        &self.seed_hash,
                        seats,
                        self.window,
                        now
                    ],
                )?;
            }
        }
        Ok(tx.fetch_one(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?)
    }
}

async fn entry_count(app: &AppState, show_id: &str) -> Result<i64, WaitingRoomError> {
    Ok(app
        .db
        .fetch_one(
            "SELECT COUNT(*) FROM waiting_room_entries WHERE show_id = $1",
            params![show_id],
        )
        .await?)
}

/// The room of a show, opened first if its on-sale has come.
pub async fn room(app: &AppState, show_id: &str) -> Result<Room, WaitingRoomError> {
    let row = open_if_due(app, show_id).await?;
    Ok(public(&row, entry_count(app, show_id).await?))
}

/// The room's row, after ordering the pre-queue if the on-sale has come and nobody has
/// yet. 404 for a show without a room. Read at most one admission round ago: the rows of
/// rooms customers wait on are read every round anyway (`publish_watched`), and reading
/// it again for every join and every entry would be most of a rush's reads.
async fn open_if_due(app: &AppState, show_id: &str) -> Result<RoomRow, WaitingRoomError> {
    let fresh_for = Duration::from_millis(app.config.waiting_room.tick_ms.clamp(10, 1_000));
    let row = match app.waiting_rooms.recent_row(show_id, fresh_for) {
        Some(row) => row,
        None => {
            let row = room_row(app, show_id)
                .await?
                .ok_or_else(|| WaitingRoomError::NoRoom(show_id.to_owned()))?;
            app.waiting_rooms.remember_row(&row);
            row
        }
    };
    let now = app.clock.now().as_millis();
    if row.shuffled_at.is_some() || now < row.on_sale_at {
        return Ok(row);
    }
    let show = show_id.to_owned();
    let opened = app.db.write(move |tx| open_in(tx, &show, now)).await?;
    app.waiting_rooms.remember_row(&opened);
    Ok(opened)
}

/// Orders the pre-queue and opens the room, unless another unit did first.
fn open_in(tx: &mut Tx<'_>, show_id: &str, now: i64) -> Result<RoomRow, WaitingRoomError> {
    lock_room(tx, show_id)?;
    let row: RoomRow = tx.fetch_one(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?;
    if row.shuffled_at.is_some() || now < row.on_sale_at {
        return Ok(row);
    }
    let waiting: Vec<String> = tx.fetch_all(
        "SELECT id FROM waiting_room_entries WHERE show_id = $1 AND position IS NULL",
        params![show_id],
    )?;
    let order = shuffle::order(&row.seed, &waiting);
    for (index, id) in order.iter().enumerate() {
        tx.execute(
            "UPDATE waiting_room_entries SET position = $2 WHERE id = $1",
            params![id, index as i64 + 1],
        )?;
    }
    tx.execute(
        "UPDATE waiting_rooms SET shuffled_at = $2, next_position = $3, status = 'selling', \
         updated_at = $2 WHERE show_id = $1",
        params![show_id, now, order.len() as i64],
    )?;
    metrics::counter!("marquee_waiting_room_opened_total").increment(1);
    Ok(tx.fetch_one(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?)
}

/// Serialises the units that change one room (PostgreSQL's row lock; SQLite has one
/// writer anyway).
fn lock_room(tx: &mut Tx<'_>, show_id: &str) -> sqlx::Result<u64> {
    tx.execute(
        "UPDATE waiting_rooms SET updated_at = updated_at WHERE show_id = $1",
        params![show_id],
    )
}

/// Joins the room (once per account: joining again answers the same entry).
pub async fn join(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
) -> Result<(Entry, bool), WaitingRoomError> {
    let room = open_if_due(app, show_id).await?;
    if room.status == "sold-out" {
        return Err(WaitingRoomError::SoldOut(show_id.to_owned()));
    }
    let now = app.clock.now().as_millis();
    let created = if room.shuffled_at.is_some() && app.db.engine() == Engine::Postgres {
        join_open_room(app, customer, show_id, now).await?
    } else {
        join_in_unit(app, customer, show_id, now).await?
    };
    Ok((entry(app, customer, show_id).await?, created))
}

/// Joins in one unit under the room's lock: the pre-queue, or the next position (ordering
/// the pre-queue first if the on-sale has just come).
async fn join_in_unit(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    now: i64,
) -> Result<bool, WaitingRoomError> {
    let unit = (show_id.to_owned(), customer.to_string());
    let min_rate = app.config.waiting_room.min_rate_per_sec;
    app.db
        .write(move |tx| -> Result<bool, WaitingRoomError> {
            let (show_id, customer) = &unit;
            let existing: Option<String> =
                tx.fetch_optional(ENTRY_OF_CUSTOMER, params![show_id, customer])?;
            if existing.is_some() {
                return Ok(false);
            }
            lock_room(tx, show_id)?;
            let room: RoomRow =
                tx.fetch_one(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?;
            // After the on-sale (ordered or not yet: order it now), arrivals queue in turn.
            let room = if room.shuffled_at.is_none() && now >= room.on_sale_at {
                open_in(tx, show_id, now)?
            } else {
                room
            };
            let position = if room.shuffled_at.is_some() {
                let next = room.next_position + 1;
                tx.execute(
                    "UPDATE waiting_rooms SET next_position = $2 WHERE show_id = $1",
                    params![show_id, next],
                )?;
                Some(next)
            } else {
                None
            };
            // The first estimate, stored with the entry (no second write when it is read).
            let expected = position.map(|position| {
                let ahead = position - room.admitted_through - 1;
                admission::expected_at(now, ahead, room.rate_per_min as f64 / 60.0, min_rate)
            });
            let id = QueueEntryId::generate().to_string();
            tx.execute(
                "INSERT INTO waiting_room_entries (id, show_id, customer_id, joined_at, \
                 position, expected_at) VALUES ($1, $2, $3, $4, $5, $6)",
                params![&id, show_id, customer, now, position, expected],
            )?;
            Ok(true)
        })
        .await
}

/// Joins an open room on PostgreSQL in one statement, its own transaction: the room row
/// is locked only while the statement takes the next position, so a rush of arrivals
/// queues at the speed of single statements. (Two joins of one account racing each other
/// leave that position empty; admission passes over it.)
async fn join_open_room(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    now: i64,
) -> Result<bool, WaitingRoomError> {
    let id = QueueEntryId::generate().to_string();
    let min_rate = app.config.waiting_room.min_rate_per_sec;
    // In turn with this node's other arrivals, a batch per statement (`joins`).
    let batched = app
        .waiting_rooms
        .joins
        .join(
            &app.db,
            show_id,
            id.clone(),
            customer.as_str(),
            now,
            min_rate,
        )
        .await;
    if let Some(created) = batched {
        if !created {
            fail_if_sold_out(app, show_id).await?;
        }
        return Ok(created);
    }
    let existing: Option<String> = app
        .db
        .fetch_optional(ENTRY_OF_CUSTOMER, params![show_id, customer.as_str()])
        .await?;
    if existing.is_some() {
        return Ok(false);
    }
    // One statement, its own transaction, durable when it returns. It runs on the read
    // pool's connections rather than the writer threads, so that a rush of arrivals does
    // not queue ahead of the seat claims the writers are for. The first estimate
    // (`admission::expected_at`) is stored with the entry.
    let inserted: Option<String> = app
        .db
        .fetch_optional(
            "WITH slot AS ( \
               UPDATE waiting_rooms SET next_position = next_position + 1 \
               WHERE show_id = $1 AND shuffled_at IS NOT NULL AND status <> 'sold-out' \
               RETURNING next_position, admitted_through, rate_per_min) \
             INSERT INTO waiting_room_entries (id, show_id, customer_id, joined_at, position, \
               expected_at) \
             SELECT $2, $1, $3, $4, next_position, \
               $4 + CAST(CEIL(GREATEST(next_position - admitted_through - 1, 0) * 1000.0 \
                 / GREATEST(rate_per_min / 60.0, $5, 0.001)) AS BIGINT) \
             FROM slot \
             ON CONFLICT (show_id, customer_id) DO NOTHING \
             RETURNING id",
            params![show_id, &id, customer.as_str(), now, min_rate],
        )
        .await?;
    if inserted.is_none() {
        fail_if_sold_out(app, show_id).await?;
    }
    Ok(inserted.is_some())
}

/// Keeps an entry's earlier expected admission. An estimate is no seat: on PostgreSQL the
/// statement runs on the read pool's connections, not queued behind seat claims on the
/// writer threads (thousands of waiting customers read their place during a rush).
async fn store_expected(
    app: &AppState,
    id: &str,
    expected_at: i64,
) -> Result<(), WaitingRoomError> {
    const STORE: &str = "UPDATE waiting_room_entries SET expected_at = $2 \
         WHERE id = $1 AND (expected_at IS NULL OR expected_at > $2)";
    if app.db.engine() == Engine::Postgres {
        let _: Vec<String> = app
            .db
            .fetch_all(&format!("{STORE} RETURNING id"), params![id, expected_at])
            .await?;
        return Ok(());
    }
    let id = id.to_owned();
    app.db
        .write_statement(move |tx| tx.execute(STORE, params![&id, expected_at]))
        .await?;
    Ok(())
}

/// After a join inserted no entry: the account joined meanwhile (its entry exists), or
/// the room sold out (an error).
async fn fail_if_sold_out(app: &AppState, show_id: &str) -> Result<(), WaitingRoomError> {
    let room = room_row(app, show_id).await?;
    if room.is_some_and(|room| room.status == "sold-out") {
        return Err(WaitingRoomError::SoldOut(show_id.to_owned()));
    }
    Ok(())
}

/// The customer's entry as it stands now.
pub async fn entry(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
) -> Result<Entry, WaitingRoomError> {
    let room = open_if_due(app, show_id).await?;
    let row: Option<EntryRow> = app
        .db
        .fetch_optional(
            "SELECT id, position, expected_at, admitted_at FROM waiting_room_entries \
             WHERE show_id = $1 AND customer_id = $2",
            params![show_id, customer.as_str()],
        )
        .await?;
    let row = row.ok_or_else(|| WaitingRoomError::NotInRoom(show_id.to_owned()))?;
    let now = app.clock.now().as_millis();
    let config = &app.config.waiting_room;
    let ttl = config.admission_ms();
    let mut view = Entry {
        id: row.id.clone(),
        show_id: show_id.to_owned(),
        state: String::new(),
        position: row.position,
        ahead: None,
        estimated_wait_secs: None,
        on_sale_at: Timestamp::from_millis(room.on_sale_at),
        admission_token: None,
        admission_expires_at: None,
        admitted_at: row.admitted_at.map(Timestamp::from_millis),
    };
    let admitted = row.position.is_some_and(|p| p <= room.admitted_through);
    view.state = match (row.position, admitted, row.admitted_at) {
        (_, true, Some(at)) if now < at + ttl => {
            let claims = AdmissionClaims {
                c: customer.to_string(),
                s: show_id.to_owned(),
                e: at + ttl,
            };
            view.admission_token = Some(admission::issue(&app.admission_key, &claims));
            view.admission_expires_at = Some(Timestamp::from_millis(at + ttl));
            view.estimated_wait_secs = Some(0);
            view.ahead = Some(0);
            "admitted"
        }
        (_, true, _) => "expired",
        _ if room.status == "sold-out" => "sold-out",
        (None, _, _) => {
            view.estimated_wait_secs = Some(((room.on_sale_at - now).max(0) + 999) / 1000);
            "pre-queue"
        }
        (Some(position), false, _) => {
            let ahead = position - room.admitted_through - 1;
            view.ahead = Some(ahead);
            let rate = room.rate_per_min as f64 / 60.0;
            let computed = admission::expected_at(now, ahead, rate, config.min_rate_per_sec);
            let (best, news) = admission::best_expected(row.expected_at, computed);
            if news {
                store_expected(app, &row.id, best).await?;
            }
            view.estimated_wait_secs = Some(((best - now).max(0) + 999) / 1000);
            "waiting"
        }
    }
    .to_owned();
    Ok(view)
}

/// The customer's entry once it has news (admitted, sold out, ordered out of the
/// pre-queue) or after `wait`, whichever comes first: a long poll, so that thousands of
/// customers waiting cost nothing until the room moves.
pub async fn entry_when_moved(
    app: &AppState,
    customer: &UserId,
    show_id: &str,
    wait: Duration,
) -> Result<Entry, WaitingRoomError> {
    // Watch first, then read: a move after the read is seen by the watch.
    let mut pulse = app.waiting_rooms.watch(show_id);
    let now = entry(app, customer, show_id).await?;
    if wait.is_zero() || !matches!(now.state.as_str(), "pre-queue" | "waiting") {
        return Ok(now);
    }
    let position = now.position;
    // A node shutting down answers its long polls at once (the seat streams' signal).
    let mut stopping = app.seat_streams.stopping();
    let moved = tokio::select! {
        moved = tokio::time::timeout(wait, pulse.wait_for(|p| p.moves(position))) => {
            matches!(moved, Ok(Ok(_)))
        }
        _ = stopping.wait_for(|stopping| *stopping) => false,
    };
    if !moved {
        return Ok(now);
    }
    entry(app, customer, show_id).await
}

/// Tells this node's long polls how far their rooms have come: one read per room.
async fn publish_watched(app: &AppState) -> Result<(), WaitingRoomError> {
    for show_id in app.waiting_rooms.watched() {
        if let Some(row) = room_row(app, &show_id).await? {
            app.waiting_rooms.remember_row(&row);
            app.waiting_rooms.publish(
                &show_id,
                super::Pulse {
                    opened: row.shuffled_at.is_some(),
                    admitted_through: row.admitted_through,
                    sold_out: row.status == "sold-out",
                },
            );
        }
    }
    Ok(())
}

/// The audit of a room whose pre-queue is ordered.
pub async fn audit(app: &AppState, show_id: &str) -> Result<Audit, WaitingRoomError> {
    let room = open_if_due(app, show_id).await?;
    let Some(shuffled_at) = room.shuffled_at else {
        return Err(WaitingRoomError::NotOpenYet(show_id.to_owned()));
    };
    let entries: Vec<(String, i64, i64)> = app
        .db
        .fetch_all(
            "SELECT id, joined_at, position FROM waiting_room_entries \
             WHERE show_id = $1 AND position IS NOT NULL ORDER BY position",
            params![show_id],
        )
        .await?;
    let mut pre_queue: Vec<String> = entries
        .iter()
        .filter(|(_, joined, _)| *joined < room.on_sale_at.min(shuffled_at))
        .map(|(id, _, _)| id.clone())
        .collect();
    pre_queue.sort();
    Ok(Audit {
        show_id: show_id.to_owned(),
        seed_hash: room.seed_hash,
        seed: room.seed,
        pre_queue,
        order: entries.into_iter().map(|(id, _, _)| id).collect(),
    })
}

/// Admits the next customers of every selling room, and ends rooms whose show sold out.
pub async fn admit_due(app: &AppState) -> Result<(), WaitingRoomError> {
    let now = app.clock.now().as_millis();
    let rooms: Vec<String> = app
        .db
        .fetch_all(
            "SELECT show_id FROM waiting_rooms WHERE status IN ('waiting', 'selling') \
             AND on_sale_at <= $1",
            params![now],
        )
        .await?;
    for show_id in rooms {
        open_if_due(app, &show_id).await?;
        let p99 = app.waiting_rooms.hold_p99(&show_id);
        let config = app.config.waiting_room.clone();
        let ttl = config.admission_ms();
        let show = show_id.clone();
        app.db
            .write(move |tx| admit_in(tx, &show, now, ttl, p99, &config))
            .await?;
    }
    Ok(())
}

/// One room's admission round, in one unit.
fn admit_in(
    tx: &mut Tx<'_>,
    show_id: &str,
    now: i64,
    ttl: i64,
    p99: Option<f64>,
    config: &crate::config::WaitingRoomConfig,
) -> Result<(), WaitingRoomError> {
    lock_room(tx, show_id)?;
    let room: RoomRow = tx.fetch_one(&format!("{ROOM} WHERE show_id = $1"), params![show_id])?;
    if room.status != "selling" {
        return Ok(());
    }
    let (free, held, booked): (i64, i64, i64) = tx.fetch_one(
        "SELECT COALESCE(SUM(CASE WHEN state = 'available' \
                  OR (state = 'held' AND held_until <= $2) THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN state = 'held' AND held_until > $2 THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN state = 'booked' THEN 1 ELSE 0 END), 0) \
         FROM show_seats WHERE show_id = $1",
        params![show_id, now],
    )?;
    if free == 0 && held == 0 {
        tx.execute(
            "UPDATE waiting_rooms SET status = 'sold-out', updated_at = $2 WHERE show_id = $1",
            params![show_id, now],
        )?;
        metrics::counter!("marquee_waiting_room_sold_out_total").increment(1);
        return Ok(());
    }
    // Admitted buyers still deciding: within their admission, without a booking yet.
    let deciding: i64 = tx.fetch_one(
        "SELECT COUNT(*) FROM waiting_room_entries e \
         WHERE e.show_id = $1 AND e.admitted_at > $2 AND NOT EXISTS ( \
           SELECT 1 FROM bookings b WHERE b.show_id = e.show_id \
             AND b.customer_id = e.customer_id AND b.status IN ('pending_payment', 'confirmed'))",
        params![show_id, now - ttl],
    )?;
    let waiting = room.next_position - room.admitted_through;
    let window = admission::next_window(
        room.admit_window,
        p99,
        config.hold_p99_target_ms(tx.engine()),
        config.max_window,
    );
    // No more buyers deciding than the free seats could serve, at the seats per booking
    // seen so far: admitting more only tells the last of them "nothing left".
    let bookings: i64 = tx.fetch_one(
        "SELECT COUNT(*) FROM bookings WHERE show_id = $1 \
         AND status IN ('pending_payment', 'confirmed')",
        params![show_id],
    )?;
    let window = window.min(admission::buyers_served(free, held + booked, bookings));
    let admit = admission::to_admit(window, deciding, free, waiting);
    let through = room.admitted_through + admit;
    if admit > 0 {
        tx.execute(
            "UPDATE waiting_room_entries SET admitted_at = $2 \
             WHERE show_id = $1 AND position > $3 AND position <= $4",
            params![show_id, now, room.admitted_through, through],
        )?;
    }
    // Admissions per minute, smoothed over the rounds (the estimates' rate).
    // Over at least ten seconds, so the first rounds' bursts do not promise too much.
    let elapsed_ms = (now - room.shuffled_at.unwrap_or(now)).max(10_000);
    let rate = (through as f64 * 60_000.0 / elapsed_ms as f64).round() as i64;
    tx.execute(
        "UPDATE waiting_rooms SET admitted_through = $2, admit_window = $3, rate_per_min = $4, \
         updated_at = $5 WHERE show_id = $1",
        params![show_id, through, window, rate, now],
    )?;
    Ok(())
}

/// Admits every `waiting_room.tick_ms` until `shutdown` resolves.
pub async fn run(app: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let every = Duration::from_millis(app.config.waiting_room.tick_ms.max(10));
    let work = async {
        loop {
            if let Err(error) = admit_due(&app).await {
                tracing::warn!(%error, "waiting room admission");
            }
            if let Err(error) = publish_watched(&app).await {
                tracing::warn!(%error, "waiting room news");
            }
            tokio::time::sleep(every).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}
