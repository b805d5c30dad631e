//! Inbound sync: a theatre's own system sends what it has under its own ids, and Marquee
//! creates it, updates what may change, or answers that nothing changed. Marquee's id for
//! each thing is derived from the organisation and the theatre's id (`derived_id`), so a
//! repeated or concurrent send of a new thing finds the row the first one made instead of
//! making a second: the unit that creates it also re-reads it.
//!
//! Theatres, screens and shows, one at a time or a theatre's schedule in one batch (all or
//! nothing, with an error per failing item).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    catalog::{
        manage::{
            self, MAX_BULK_SHOWS, ManageError, NewShowRequest, ScheduledShow, ShowChange,
            ensure_approved, lock_screen, text_field,
        },
        store::{self as catalog_store, NewTheatre},
    },
    db::{Sql, Tx, is_unique_violation},
    ids::{CityId, LayoutId, PartnerOrgId, ScreenId, ShowId, TheatreId},
    inventory::{
        layout::{RowSpec, build_layout},
        model::{LayoutSeat, SeatCategory},
        store::{self as inventory_store, NewScreen},
    },
    params,
    time::Timestamp,
};

/// Longest id a theatre's system may use for a theatre, screen or show.
pub const MAX_EXTERNAL_ID_CHARS: usize = 64;

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    Created,
    Updated,
    /// The document matched what Marquee holds; nothing was written.
    Unchanged,
}

/// The theatre's own ids travel in URL paths: letters, digits and `. _ ~ : -`. Pure.
pub fn check_external_id(what: &str, id: &str) -> Result<(), ManageError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_EXTERNAL_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ManageError::InvalidInput(format!(
            "the {what} id must be 1 to {MAX_EXTERNAL_ID_CHARS} letters, digits or . _ ~ : -"
        )))
    }
}

/// Marquee's natural key for a thing the organisation's system names `path` (its kind and
/// id, and for a screen or show, the theatre's id first). JSON, so no two paths collide.
fn natural_key(org_id: &str, path: &[&str]) -> String {
    serde_json::json!(["sync", org_id, path]).to_string()
}

pub fn theatre_id(org_id: &str, external_id: &str) -> TheatreId {
    TheatreId::derived(&natural_key(org_id, &["theatre", external_id]))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TheatreDocument {
    /// The city (fixed once created: a theatre does not move).
    pub city_id: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncedTheatre {
    /// Marquee's id (`thr_…`), the same for every send of this external id.
    pub id: String,
    pub external_id: String,
    pub city_id: String,
    pub name: String,
    pub address: String,
    pub outcome: SyncOutcome,
}

crate::db_row! {
    #[derive(Debug, Clone)]
    struct TheatreState {
        city_id: String,
        name: String,
        address: String,
    }
}

/// Creates or updates the organisation's theatre `external_id`. Its city cannot change
/// (409 `sync-change-refused`).
pub async fn upsert_theatre(
    app: &AppState,
    org_id: &PartnerOrgId,
    external_id: &str,
    document: &TheatreDocument,
) -> Result<SyncedTheatre, ManageError> {
    check_external_id("theatre", external_id)?;
    ensure_approved(&app.db, org_id).await?;
    let name = text_field("name", &document.name, 120)?;
    let address = text_field("address", &document.address, 300)?;
    let city = CityId::parse(&document.city_id)
        .ok_or_else(|| ManageError::UnknownCity(document.city_id.clone()))?;
    if catalog_store::get_city(&app.db, city.as_str())
        .await?
        .is_none()
    {
        return Err(ManageError::UnknownCity(document.city_id.clone()));
    }
    let id = theatre_id(org_id.as_str(), external_id);
    let wanted = TheatreState {
        city_id: city.to_string(),
        name,
        address,
    };
    let now = app.clock.now();
    let unit = (
        id.to_string(),
        org_id.to_string(),
        external_id.to_owned(),
        wanted,
    );
    let (outcome, state) = app
        .db
        .write(move |tx| {
            let (id, org_id, external_id, wanted) = &unit;
            upsert_theatre_in(tx, id, org_id, external_id, wanted, now)
        })
        .await?;
    if outcome != SyncOutcome::Unchanged {
        app.cache.invalidate_catalog();
    }
    Ok(SyncedTheatre {
        id: id.to_string(),
        external_id: external_id.to_owned(),
        city_id: state.city_id,
        name: state.name,
        address: state.address,
        outcome,
    })
}

fn upsert_theatre_in(
    tx: &mut Tx<'_>,
    id: &str,
    org_id: &str,
    external_id: &str,
    wanted: &TheatreState,
    now: Timestamp,
) -> Result<(SyncOutcome, TheatreState), ManageError> {
    const CURRENT: Sql = Sql {
        sqlite: "SELECT city_id, name, address FROM theatres WHERE id = $1",
        postgres: "SELECT city_id, name, address FROM theatres WHERE id = $1 FOR UPDATE",
    };
    const UPDATE: &str =
        "UPDATE theatres SET name = $2, address = $3, updated_at = $4 WHERE id = $1";
    let current: Option<TheatreState> = tx.fetch_optional(CURRENT, params![id])?;
    let current = match current {
        Some(current) => current,
        None => {
            let theatre = NewTheatre {
                id,
                org_id,
                city_id: &wanted.city_id,
                name: &wanted.name,
                address: &wanted.address,
                external_id: Some(external_id),
            };
            if catalog_store::insert_theatre(tx, &theatre, now)? {
                return Ok((SyncOutcome::Created, wanted.clone()));
            }
            // A concurrent send created it first (it waited for that to commit).
            tx.fetch_optional(CURRENT, params![id])?
                .ok_or_else(|| ManageError::UnknownTheatre(external_id.to_owned()))?
        }
    };
    if current.city_id != wanted.city_id {
        return Err(ManageError::SyncRefused(format!(
            "theatre {external_id} is in city {}; a theatre cannot move to another city",
            current.city_id
        )));
    }
    if current.name == wanted.name && current.address == wanted.address {
        return Ok((SyncOutcome::Unchanged, current));
    }
    tx.execute(
        UPDATE,
        params![id, &wanted.name, &wanted.address, now.as_millis()],
    )?;
    Ok((SyncOutcome::Updated, wanted.clone()))
}

/// Marquee's id of the organisation's theatre `external_id`, if it was synced.
async fn synced_theatre(
    app: &AppState,
    org_id: &PartnerOrgId,
    external_id: &str,
) -> Result<TheatreId, ManageError> {
    let theatre = theatre_id(org_id.as_str(), external_id);
    let owner = catalog_store::theatre_org(&app.db, theatre.as_str()).await?;
    if owner.as_deref() != Some(org_id.as_str()) {
        return Err(ManageError::UnknownTheatre(external_id.to_owned()));
    }
    Ok(theatre)
}

pub fn screen_id(org_id: &str, theatre: &str, screen: &str) -> ScreenId {
    ScreenId::derived(&natural_key(org_id, &["screen", theatre, screen]))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenDocument {
    /// Unique within the theatre.
    pub name: String,
    /// Rows front to back, as for `POST /partner/theatres/{id}/screens`. A different
    /// layout becomes a new layout version: shows scheduled from then on use it, shows
    /// already scheduled keep theirs.
    pub rows: Vec<RowSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SyncedScreen {
    /// Marquee's id (`scr_…`), the same for every send of these external ids.
    pub id: String,
    pub external_id: String,
    pub theatre_id: String,
    pub theatre_external_id: String,
    pub name: String,
    /// The layout new shows are allocated from.
    pub layout_id: String,
    pub seat_count: usize,
    pub outcome: SyncOutcome,
}

crate::db_row! {
    struct ScreenState {
        name: String,
        layout_id: Option<String>,
    }
}

/// Creates or updates the screen `external_id` of the organisation's theatre
/// `theatre_external_id` (sent before through `upsert_theatre`): its name, and its layout
/// as a new version when the rows differ.
pub async fn upsert_screen(
    app: &AppState,
    org_id: &PartnerOrgId,
    theatre_external_id: &str,
    external_id: &str,
    document: &ScreenDocument,
) -> Result<SyncedScreen, ManageError> {
    check_external_id("theatre", theatre_external_id)?;
    check_external_id("screen", external_id)?;
    ensure_approved(&app.db, org_id).await?;
    let name = text_field("name", &document.name, 60)?;
    let seats = build_layout(&document.rows)?;
    let theatre = synced_theatre(app, org_id, theatre_external_id).await?;
    let id = screen_id(org_id.as_str(), theatre_external_id, external_id);
    let now = app.clock.now();
    let seat_count = seats.len();
    let unit = (
        id.to_string(),
        theatre.to_string(),
        external_id.to_owned(),
        name.clone(),
        seats,
    );
    let upserted = app
        .db
        .write(move |tx| {
            let (id, theatre, external_id, name, seats) = &unit;
            upsert_screen_in(tx, id, theatre, external_id, name, seats, now)
        })
        .await;
    let (outcome, layout_id) = match upserted {
        Err(ManageError::Database(error)) if is_unique_violation(&error) => {
            return Err(ManageError::DuplicateScreen(name));
        }
        other => other?,
    };
    if outcome != SyncOutcome::Unchanged {
        app.cache.invalidate_catalog();
    }
    Ok(SyncedScreen {
        id: id.to_string(),
        external_id: external_id.to_owned(),
        theatre_id: theatre.to_string(),
        theatre_external_id: theatre_external_id.to_owned(),
        name,
        layout_id,
        seat_count,
        outcome,
    })
}

fn upsert_screen_in(
    tx: &mut Tx<'_>,
    id: &str,
    theatre_id: &str,
    external_id: &str,
    name: &str,
    seats: &[LayoutSeat],
    now: Timestamp,
) -> Result<(SyncOutcome, String), ManageError> {
    const CURRENT: Sql = Sql {
        sqlite: "SELECT name, layout_id FROM screens WHERE id = $1",
        postgres: "SELECT name, layout_id FROM screens WHERE id = $1 FOR UPDATE",
    };
    let current: Option<ScreenState> = tx.fetch_optional(CURRENT, params![id])?;
    let current = match current {
        Some(current) => current,
        None => {
            let layout_id = LayoutId::generate();
            let screen = NewScreen {
                id,
                theatre_id,
                name,
                layout_id: layout_id.as_str(),
                seats,
                external_id: Some(external_id),
            };
            if inventory_store::insert_screen(tx, &screen, now)? {
                return Ok((SyncOutcome::Created, layout_id.to_string()));
            }
            // A concurrent send created it first (it waited for that to commit).
            tx.fetch_optional(CURRENT, params![id])?
                .ok_or_else(|| ManageError::UnknownScreen(external_id.to_owned()))?
        }
    };
    let mut outcome = SyncOutcome::Unchanged;
    if current.name != name {
        tx.execute(
            "UPDATE screens SET name = $2 WHERE id = $1",
            params![id, name],
        )?;
        outcome = SyncOutcome::Updated;
    }
    let stored = match &current.layout_id {
        Some(layout) => inventory_store::layout_seats(tx, layout)?,
        None => Vec::new(),
    };
    let mut wanted = seats.to_vec();
    wanted.sort_by_key(|seat| (seat.row_index, seat.col_index));
    match current.layout_id {
        Some(layout) if stored == wanted => Ok((outcome, layout)),
        _ => {
            let layout_id = LayoutId::generate();
            inventory_store::insert_layout(tx, layout_id.as_str(), id, seats, now)?;
            inventory_store::point_screen_at_layout(tx, id, layout_id.as_str())?;
            Ok((SyncOutcome::Updated, layout_id.to_string()))
        }
    }
}

pub fn show_id(org_id: &str, theatre: &str, show: &str) -> ShowId {
    ShowId::derived(&natural_key(org_id, &["show", theatre, show]))
}

/// A show as the theatre's system sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowDocument {
    /// The theatre system's id of the screen (sent before); fixed once created.
    pub screen_external_id: String,
    /// Fixed once created.
    pub movie_id: String,
    /// RFC 3339. Moving a show that customers hold or bought seats for is refused
    /// (`show-has-bookings`).
    #[schema(value_type = String)]
    pub starts_at: DateTime<FixedOffset>,
    pub language: String,
    pub format: String,
    /// Minor units per seat category of the screen.
    pub prices: HashMap<SeatCategory, i64>,
}

/// One show of a schedule batch: the show's own id and its document.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleItem {
    pub external_id: String,
    pub screen_external_id: String,
    pub movie_id: String,
    #[schema(value_type = String)]
    pub starts_at: DateTime<FixedOffset>,
    pub language: String,
    pub format: String,
    pub prices: HashMap<SeatCategory, i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDocument {
    /// 1 to 200 shows of the theatre (a day's or a week's schedule).
    pub shows: Vec<ScheduleItem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedShow {
    /// Marquee's id (`shw_…`), the same for every send of these external ids.
    pub id: String,
    pub external_id: String,
    pub screen_id: String,
    pub movie_id: String,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    #[schema(value_type = String)]
    pub ends_at: Timestamp,
    pub seats: u64,
    pub outcome: SyncOutcome,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedSchedule {
    /// In the order sent.
    pub shows: Vec<SyncedShow>,
}

impl ScheduleItem {
    fn of(external_id: &str, show: &ShowDocument) -> Self {
        Self {
            external_id: external_id.to_owned(),
            screen_external_id: show.screen_external_id.clone(),
            movie_id: show.movie_id.clone(),
            starts_at: show.starts_at,
            language: show.language.clone(),
            format: show.format.clone(),
            prices: show.prices.clone(),
        }
    }
}

/// Creates or updates one show of the theatre.
pub async fn upsert_show(
    app: &AppState,
    org_id: &PartnerOrgId,
    theatre_external_id: &str,
    external_id: &str,
    document: &ShowDocument,
) -> Result<SyncedShow, ManageError> {
    let item = ScheduleItem::of(external_id, document);
    let mut synced = upsert_schedule(app, org_id, theatre_external_id, vec![item]).await?;
    synced
        .pop()
        .ok_or_else(|| ManageError::UnknownShow(external_id.to_owned()))
}

/// Creates or updates the theatre's shows, all or none: if any item fails, nothing is
/// written and every failing item is reported (`bulk-invalid`, with each item's index).
/// Updates are applied before creations, so a batch may move a show out of a slot and
/// put a new one into it.
pub async fn upsert_schedule(
    app: &AppState,
    org_id: &PartnerOrgId,
    theatre_external_id: &str,
    items: Vec<ScheduleItem>,
) -> Result<Vec<SyncedShow>, ManageError> {
    check_external_id("theatre", theatre_external_id)?;
    if items.is_empty() || items.len() > MAX_BULK_SHOWS {
        return Err(ManageError::InvalidInput(format!(
            "send 1 to {MAX_BULK_SHOWS} shows"
        )));
    }
    let mut seen = BTreeSet::new();
    for item in &items {
        check_external_id("show", &item.external_id)?;
        check_external_id("screen", &item.screen_external_id)?;
        if !seen.insert(item.external_id.as_str()) {
            return Err(ManageError::InvalidInput(format!(
                "show {} appears twice in the batch",
                item.external_id
            )));
        }
    }
    ensure_approved(&app.db, org_id).await?;
    synced_theatre(app, org_id, theatre_external_id).await?;
    let now = app.clock.now();
    let buffer = app.config.schedule.cleaning_buffer_minutes;
    let unit = (org_id.to_string(), theatre_external_id.to_owned(), items);
    let synced = app
        .db
        .write(move |tx| {
            let (org_id, theatre, items) = &unit;
            upsert_schedule_in(tx, org_id, theatre, items, buffer, now)
        })
        .await?;
    if synced.iter().any(|s| s.outcome != SyncOutcome::Unchanged) {
        app.cache.invalidate_catalog();
        for show in &synced {
            app.cache.invalidate_show(&show.id);
        }
    }
    Ok(synced)
}

fn upsert_schedule_in(
    tx: &mut Tx<'_>,
    org_id: &str,
    theatre: &str,
    items: &[ScheduleItem],
    buffer: i64,
    now: Timestamp,
) -> Result<Vec<SyncedShow>, ManageError> {
    // Lock the screens first, in a fixed order: two sends of the same new show then take
    // turns, and the second finds the show the first made.
    let screens: BTreeSet<String> = items
        .iter()
        .map(|item| screen_id(org_id, theatre, &item.screen_external_id).to_string())
        .collect();
    for screen in &screens {
        lock_screen(tx, screen)?;
    }
    let mut results: Vec<Option<SyncedShow>> = vec![None; items.len()];
    let mut errors: Vec<(usize, ManageError)> = Vec::new();
    let mut creations: Vec<(usize, NewShowRequest)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let id = show_id(org_id, theatre, &item.external_id);
        let screen = screen_id(org_id, theatre, &item.screen_external_id);
        let Some(current) = catalog_store::owned_show(tx, id.as_str(), org_id)? else {
            if catalog_store::screen_of_org(tx, screen.as_str(), org_id)?.is_none() {
                let unknown = ManageError::UnknownScreen(item.screen_external_id.clone());
                errors.push((index, unknown));
                continue;
            }
            creations.push((
                index,
                NewShowRequest {
                    screen_id: screen.to_string(),
                    movie_id: item.movie_id.clone(),
                    starts_at: item.starts_at,
                    language: item.language.clone(),
                    format: item.format.clone(),
                    prices: item.prices.clone(),
                    sync: Some((id.clone(), item.external_id.clone())),
                },
            ));
            continue;
        };
        let refused = if current.status != "scheduled" {
            Some("it was cancelled".to_owned())
        } else if current.screen_id != screen.as_str() {
            Some("a show cannot move to another screen; cancel it and send a new one".into())
        } else if current.movie_id != item.movie_id {
            Some("a show cannot change its movie; cancel it and send a new one".into())
        } else {
            None
        };
        if let Some(why) = refused {
            errors.push((
                index,
                ManageError::SyncRefused(format!("show {}: {why}", item.external_id)),
            ));
            continue;
        }
        let change = difference(tx, &current, item)?;
        let shown = if change_is_empty(&change) {
            let seats = inventory_store::count_show_seats(tx, id.as_str())?;
            SyncedShow {
                id: id.to_string(),
                external_id: item.external_id.clone(),
                screen_id: current.screen_id.clone(),
                movie_id: current.movie_id.clone(),
                starts_at: Timestamp::from_millis(current.starts_at),
                ends_at: Timestamp::from_millis(current.ends_at),
                seats,
                outcome: SyncOutcome::Unchanged,
            }
        } else {
            match manage::change_show(tx, org_id, id.as_str(), &change, buffer, now) {
                Ok(changed) => synced(changed, &item.external_id, SyncOutcome::Updated),
                Err(ManageError::Database(error)) => return Err(error.into()),
                Err(error) => {
                    errors.push((index, error));
                    continue;
                }
            }
        };
        results[index] = Some(shown);
    }
    if !creations.is_empty() {
        let requests: Vec<NewShowRequest> = creations.iter().map(|(_, r)| r.clone()).collect();
        match manage::plan_and_insert_shows(tx, org_id, &requests, buffer, now) {
            Ok(created) => {
                for ((index, _), show) in creations.iter().zip(created) {
                    let external_id = &items[*index].external_id;
                    results[*index] = Some(synced(show, external_id, SyncOutcome::Created));
                }
            }
            Err(ManageError::Bulk(failed, _)) => errors.extend(
                failed
                    .into_iter()
                    .map(|(position, error)| (creations[position].0, error)),
            ),
            Err(ManageError::Database(error)) => return Err(error.into()),
            Err(error) => errors.push((creations[0].0, error)),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|(index, _)| *index);
        if items.len() == 1 {
            return Err(errors.remove(0).1);
        }
        return Err(ManageError::Bulk(errors, items.len()));
    }
    Ok(results.into_iter().flatten().collect())
}

fn synced(show: ScheduledShow, external_id: &str, outcome: SyncOutcome) -> SyncedShow {
    SyncedShow {
        id: show.id.to_string(),
        external_id: external_id.to_owned(),
        screen_id: show.screen_id.to_string(),
        movie_id: show.movie_id.to_string(),
        starts_at: show.starts_at,
        ends_at: show.ends_at,
        seats: show.seats,
        outcome,
    }
}

/// What of `item` differs from the stored show, as a change of only those fields.
fn difference(
    tx: &mut Tx<'_>,
    current: &catalog_store::OwnedShowRow,
    item: &ScheduleItem,
) -> sqlx::Result<ShowChange> {
    let starts_at = item.starts_at.with_timezone(&Utc).timestamp_millis();
    let stored: HashMap<String, i64> = catalog_store::show_price_map(tx, &current.id)?
        .into_iter()
        .collect();
    let wanted: HashMap<String, i64> = item
        .prices
        .iter()
        .map(|(category, amount)| (category.as_str().to_owned(), *amount))
        .collect();
    Ok(ShowChange {
        starts_at: (starts_at != current.starts_at).then_some(item.starts_at),
        language: (item.language != current.language).then(|| item.language.clone()),
        format: (item.format != current.format).then(|| item.format.clone()),
        prices: (stored != wanted).then(|| item.prices.clone()),
        // A theatre's schedule does not move a show its customers hold seats for.
        move_with_customers: false,
    })
}

fn change_is_empty(change: &ShowChange) -> bool {
    change.starts_at.is_none()
        && change.language.is_none()
        && change.format.is_none()
        && change.prices.is_none()
}

/// What Marquee holds for one of the organisation's synced theatres: its screens and its
/// shows that have not ended, with their seats counted by state (for the theatre's own
/// reconciliation).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TheatreSyncStatus {
    pub id: String,
    pub external_id: String,
    pub city_id: String,
    pub name: String,
    pub address: String,
    pub screens: Vec<ScreenSyncStatus>,
    /// Shows sent by the theatre's system that have not ended, by start.
    pub shows: Vec<ShowSyncStatus>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScreenSyncStatus {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub layout_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShowSyncStatus {
    pub id: String,
    pub external_id: String,
    pub screen_external_id: Option<String>,
    pub movie_id: String,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    /// `scheduled` or `cancelled`.
    pub status: String,
    pub seats: SeatCounts,
}

/// A show's seats by state now (a lapsed hold counts as available).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeatCounts {
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold_online: i64,
    pub sold_at_counter: i64,
    pub withheld: i64,
    pub blocked: i64,
}

crate::db_row! {
    struct ShowStatusRow {
        id: String,
        external_id: String,
        screen_external_id: Option<String>,
        movie_id: String,
        starts_at: i64,
        status: String,
        total: i64,
        available: i64,
        held: i64,
        sold_online: i64,
        sold_at_counter: i64,
        withheld: i64,
        blocked: i64,
    }
}

pub async fn theatre_status(
    app: &AppState,
    org_id: &PartnerOrgId,
    external_id: &str,
) -> Result<TheatreSyncStatus, ManageError> {
    check_external_id("theatre", external_id)?;
    let id = theatre_id(org_id.as_str(), external_id);
    let theatre: Option<(String, String, String, String)> = app
        .db
        .fetch_optional(
            "SELECT org_id, city_id, name, address FROM theatres WHERE id = $1",
            params![id.as_str()],
        )
        .await?;
    let Some((_, city_id, name, address)) =
        theatre.filter(|(org, ..)| org.as_str() == org_id.as_str())
    else {
        return Err(ManageError::UnknownTheatre(external_id.to_owned()));
    };
    let screens: Vec<(String, String, String, Option<String>)> = app
        .db
        .fetch_all(
            "SELECT id, external_id, name, layout_id FROM screens \
             WHERE theatre_id = $1 AND external_id IS NOT NULL ORDER BY external_id",
            params![id.as_str()],
        )
        .await?;
    const SHOWS: &str = "SELECT s.id, s.external_id, sc.external_id AS screen_external_id, \
         s.movie_id, s.starts_at, s.status, COUNT(*) AS total, \
         SUM(CASE WHEN ss.state = 'available' OR (ss.state = 'held' AND ss.held_until <= $2) \
             THEN 1 ELSE 0 END) AS available, \
         SUM(CASE WHEN ss.state = 'held' AND ss.held_until > $2 THEN 1 ELSE 0 END) AS held, \
         SUM(CASE WHEN ss.state = 'booked' AND substr(ss.booking_id, 1, 4) <> 'cts_' \
             THEN 1 ELSE 0 END) AS sold_online, \
         SUM(CASE WHEN ss.state = 'booked' AND substr(ss.booking_id, 1, 4) = 'cts_' \
             THEN 1 ELSE 0 END) AS sold_at_counter, \
         SUM(CASE WHEN ss.state = 'withheld' THEN 1 ELSE 0 END) AS withheld, \
         SUM(CASE WHEN ss.state = 'blocked' THEN 1 ELSE 0 END) AS blocked \
         FROM shows s JOIN screens sc ON sc.id = s.screen_id \
         JOIN show_seats ss ON ss.show_id = s.id \
         WHERE s.theatre_id = $1 AND s.external_id IS NOT NULL AND s.ends_at > $2 \
         GROUP BY s.id, s.external_id, sc.external_id, s.movie_id, s.starts_at, s.status \
         ORDER BY s.starts_at, s.external_id LIMIT 2000";
    let now = app.clock.now().as_millis();
    let shows: Vec<ShowStatusRow> = app.db.fetch_all(SHOWS, params![id.as_str(), now]).await?;
    Ok(TheatreSyncStatus {
        id: id.to_string(),
        external_id: external_id.to_owned(),
        city_id,
        name,
        address,
        screens: screens
            .into_iter()
            .map(|(id, external_id, name, layout_id)| ScreenSyncStatus {
                id,
                external_id,
                name,
                layout_id,
            })
            .collect(),
        shows: shows
            .into_iter()
            .map(|row| ShowSyncStatus {
                id: row.id,
                external_id: row.external_id,
                screen_external_id: row.screen_external_id,
                movie_id: row.movie_id,
                starts_at: Timestamp::from_millis(row.starts_at),
                status: row.status,
                seats: SeatCounts {
                    total: row.total,
                    available: row.available,
                    held: row.held,
                    sold_online: row.sold_online,
                    sold_at_counter: row.sold_at_counter,
                    withheld: row.withheld,
                    blocked: row.blocked,
                },
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_short_and_safe_in_a_path() {
        for ok in ["T-1", "blr.whitefield", "SCR_02", "2026:11:30~a"] {
            assert!(check_external_id("theatre", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "é", "..%2f", &"x".repeat(65)] {
            assert!(check_external_id("theatre", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_ids_differ_by_organisation_and_cannot_collide_through_separators() {
        let a = theatre_id("org_a", "T1");
        assert_eq!(a, theatre_id("org_a", "T1"));
        assert_ne!(a, theatre_id("org_b", "T1"));
        assert_ne!(
            natural_key("org_a", &["show", "a/show", "b"]),
            natural_key("org_a", &["show", "a", "show/b"])
        );
    }
}
