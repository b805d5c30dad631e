//! What a theatre partner manages: theatres, screens with seat layouts, shows (validated by
//! `schedule`), and the seat inventory of a show. Every operation is scoped to the partner's
//! organisation: another organisation's theatre, screen or show is simply not found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    schedule::{self, ProposedShow, ScheduleError, ScreenContext, Slot},
    store::{self, NewShow, NewTheatre},
};
use crate::{
    app::AppState,
    booking::{
        BookingError,
        show_changes::{self, ShowChanges},
        waitlist,
    },
    db::{Db, Sql, Tx},
    ids::{CityId, LayoutId, MovieId, PartnerOrgId, ScreenId, ShowId, TheatreId},
    integration::{events::Event, outbox},
    inventory::{
        layout::{LayoutError, RowSpec, build_layout},
        model::SeatCategory,
        store::{self as inventory_store, NewScreen},
    },
    offers::service::ShowPricing,
    time::Timestamp,
};

/// Most shows one bulk request may create.
pub const MAX_BULK_SHOWS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("the partner organisation is not approved yet")]
    NotApproved,
    #[error("{0}")]
    InvalidInput(String),
    #[error("city {0} not found")]
    UnknownCity(String),
    #[error("theatre {0} not found")]
    UnknownTheatre(String),
    #[error("screen {0} not found")]
    UnknownScreen(String),
    #[error("show {0} not found")]
    UnknownShow(String),
    #[error("movie {0} does not exist")]
    UnknownMovie(String),
    #[error("{0}")]
    Duplicate(String),
    #[error("the city has theatres; its timezone and currency cannot change")]
    CityInUse,
    #[error("this theatre already has a screen named {0:?}")]
    DuplicateScreen(String),
    #[error("invalid seat layout: {0}")]
    InvalidLayout(#[from] LayoutError),
    #[error("{0}")]
    Schedule(ScheduleError),
    #[error("{} of {} shows are invalid; nothing was created", .0.len(), .1)]
    Bulk(Vec<(usize, ManageError)>, usize),
    #[error(
        "show {0} has customers holding or owning seats; it cannot be moved or deleted, cancel it instead (cancellation refunds every booking)"
    )]
    ShowHasCustomers(String),
    #[error(
        "show {0} has had bookings (now ended); it cannot be deleted, cancel it instead (it then leaves every listing and keeps its booking history)"
    )]
    ShowHasHistory(String),
    #[error("these seats are not in the show: {}", .0.join(", "))]
    UnknownSeats(Vec<String>),
    #[error("these seats cannot change now (held or sold, or not in the state the change needs): {}", .0.join(", "))]
    SeatsUnavailable(Vec<String>),
    #[error("the sale id {0:?} was already used for another sale (another show or other seats)")]
    ExternalIdReused(String),
    #[error("show {0} is not selling: it was cancelled or has ended")]
    ShowNotSelling(String),
    #[error("{0}")]
    SyncRefused(String),
    #[error("webhook endpoint {0} not found")]
    UnknownWebhookEndpoint(String),
    #[error("webhook delivery {0} not found")]
    UnknownWebhookDelivery(String),
    #[error("no box-office sale with id {0:?}")]
    UnknownCounterSale(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl crate::db::WriteError for ManageError {
    fn retryable(&self) -> bool {
        matches!(self, ManageError::Database(e) if crate::db::is_retryable(e))
    }
}

impl From<BookingError> for ManageError {
    fn from(error: BookingError) -> Self {
        match error {
            BookingError::Database(e) => ManageError::Database(e),
            other => ManageError::InvalidInput(other.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTheatreRequest {
    pub city_id: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedTheatre {
    #[schema(value_type = String)]
    pub id: TheatreId,
    #[schema(value_type = String)]
    pub city_id: CityId,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScreenRequest {
    pub name: String,
    /// Rows front to back.
    pub rows: Vec<RowSpec>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedScreen {
    #[schema(value_type = String)]
    pub id: ScreenId,
    #[schema(value_type = String)]
    pub theatre_id: TheatreId,
    pub name: String,
    #[schema(value_type = String)]
    pub layout_id: LayoutId,
    pub seat_count: usize,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShowRequest {
    pub screen_id: String,
    pub movie_id: String,
    /// Start instant, RFC 3339 (`2026-11-23T14:00:00+05:30` or UTC).
    #[schema(value_type = String)]
    pub starts_at: DateTime<chrono::FixedOffset>,
    /// Show language, e.g. `hi`.
    pub language: String,
    /// `2D`, `3D`, `IMAX`, `IMAX 3D` or `4DX`.
    pub format: String,
    /// Minor units per seat category, e.g. `{"regular": 20000, "premium": 32000}`; every
    /// category of the screen needs a price.
    pub prices: HashMap<SeatCategory, i64>,
    /// Set by the inbound sync, never read from a request: the show's derived id and the
    /// theatre system's id for it.
    #[serde(skip)]
    pub(crate) sync: Option<(ShowId, String)>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledShow {
    #[schema(value_type = String)]
    pub id: ShowId,
    #[schema(value_type = String)]
    pub screen_id: ScreenId,
    #[schema(value_type = String)]
    pub movie_id: MovieId,
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    #[schema(value_type = String)]
    pub ends_at: Timestamp,
    pub seats: u64,
}

/// The organisation must be approved before it can create anything.
pub async fn ensure_approved(db: &Db, org_id: &PartnerOrgId) -> Result<(), ManageError> {
    match crate::identity::store::org_status(db, org_id.as_str())
        .await?
        .as_deref()
    {
        Some("approved") => Ok(()),
        _ => Err(ManageError::NotApproved),
    }
}

/// Trimmed text of 1 to `max` characters without control characters.
pub(crate) fn text_field(name: &str, value: &str, max: usize) -> Result<String, ManageError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max || trimmed.chars().any(char::is_control)
    {
        return Err(ManageError::InvalidInput(format!(
            "{name} must be 1 to {max} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

pub async fn create_theatre(
    app: &AppState,
    org_id: &PartnerOrgId,
    request: &NewTheatreRequest,
) -> Result<ManagedTheatre, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let name = text_field("name", &request.name, 120)?;
    let address = text_field("address", &request.address, 300)?;
    let city = CityId::parse(&request.city_id)
        .ok_or_else(|| ManageError::UnknownCity(request.city_id.clone()))?;
    if store::get_city(&app.db, city.as_str()).await?.is_none() {
        return Err(ManageError::UnknownCity(request.city_id.clone()));
    }
    let id = TheatreId::generate();
    let now = app.clock.now();
    let unit = (
        id.clone(),
        org_id.clone(),
        city.clone(),
        name.clone(),
        address.clone(),
    );
    app.db
        .write(move |tx| {
            let (id, org_id, city, name, address) = &unit;
            let theatre = NewTheatre {
                id: id.as_str(),
                org_id: org_id.as_str(),
                city_id: city.as_str(),
                name,
                address,
                external_id: None,
            };
            store::insert_theatre(tx, &theatre, now)
        })
        .await?;
    app.cache.invalidate_catalog();
    Ok(ManagedTheatre {
        id,
        city_id: city,
        name,
        address,
    })
}

pub async fn list_theatres(
    db: &Db,
    org_id: &PartnerOrgId,
) -> Result<Vec<ManagedTheatre>, ManageError> {
    Ok(store::theatres_of_org(db, org_id.as_str())
        .await?
        .into_iter()
        .map(|row| ManagedTheatre {
            id: TheatreId::from_trusted(row.id),
            city_id: CityId::from_trusted(row.city_id),
            name: row.name,
            address: row.address,
        })
        .collect())
}

pub async fn create_screen(
    app: &AppState,
    org_id: &PartnerOrgId,
    theatre_id: &str,
    request: &NewScreenRequest,
) -> Result<ManagedScreen, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let theatre = TheatreId::parse(theatre_id)
        .ok_or_else(|| ManageError::UnknownTheatre(theatre_id.to_owned()))?;
    if store::theatre_org(&app.db, theatre.as_str())
        .await?
        .as_deref()
        != Some(org_id.as_str())
    {
        return Err(ManageError::UnknownTheatre(theatre_id.to_owned()));
    }
    let name = text_field("name", &request.name, 60)?;
    let seats = build_layout(&request.rows)?;
    let (id, layout_id) = (ScreenId::generate(), LayoutId::generate());
    let now = app.clock.now();
    let seat_count = seats.len();
    let unit = (
        id.clone(),
        theatre.clone(),
        name.clone(),
        layout_id.clone(),
        seats,
    );
    let inserted = app
        .db
        .write(move |tx| {
            let (id, theatre, name, layout_id, seats) = &unit;
            let screen = NewScreen {
                id: id.as_str(),
                theatre_id: theatre.as_str(),
                name,
                layout_id: layout_id.as_str(),
                seats,
                external_id: None,
            };
            inventory_store::insert_screen(tx, &screen, now)
        })
        .await;
    match inserted {
        Ok(_) => {}
        Err(error) if crate::db::is_unique_violation(&error) => {
            return Err(ManageError::DuplicateScreen(name));
        }
        Err(error) => return Err(error.into()),
    }
    app.cache.invalidate_catalog();
    Ok(ManagedScreen {
        id,
        theatre_id: theatre,
        name,
        layout_id,
        seat_count,
    })
}

/// Locks the screen's schedule for the rest of the transaction so two requests cannot both
/// pass the overlap check. SQLite transactions already hold the database's write lock.
pub(crate) fn lock_screen(tx: &mut Tx<'_>, screen_id: &str) -> sqlx::Result<()> {
    const LOCK: Sql = Sql {
        sqlite: "SELECT id FROM screens WHERE id = $1",
        postgres: "SELECT id FROM screens WHERE id = $1 FOR UPDATE",
    };
    tx.fetch_all::<String>(LOCK, crate::params![screen_id])?;
    Ok(())
}

/// Creates shows all-or-nothing: every item is validated (against existing shows and the
/// other items) and either all are created with their seat inventory, or none and the
/// error of each failing item is returned.
pub async fn schedule_shows(
    app: &AppState,
    org_id: &PartnerOrgId,
    requests: &[NewShowRequest],
) -> Result<Vec<ScheduledShow>, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    if requests.is_empty() || requests.len() > MAX_BULK_SHOWS {
        return Err(ManageError::InvalidInput(format!(
            "send 1 to {MAX_BULK_SHOWS} shows"
        )));
    }
    let now = app.clock.now();
    let buffer = app.config.schedule.cleaning_buffer_minutes;
    let (org, requests) = (org_id.to_string(), requests.to_vec());
    let created = app
        .db
        .write(move |tx| plan_and_insert_shows(tx, &org, &requests, buffer, now))
        .await?;
    app.cache.invalidate_catalog();
    Ok(created)
}

/// The unit of work of `schedule_shows`.
pub(crate) fn plan_and_insert_shows(
    tx: &mut Tx<'_>,
    org_id: &str,
    requests: &[NewShowRequest],
    buffer: i64,
    now: Timestamp,
) -> Result<Vec<ScheduledShow>, ManageError> {
    let mut errors: Vec<(usize, ManageError)> = Vec::new();
    let mut planned: Vec<Option<(NewShowRequest, store::ScreenRow, i64)>> = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        let screen = store::screen_of_org(tx, &request.screen_id, org_id)?;
        let Some(screen) = screen else {
            errors.push((index, ManageError::UnknownScreen(request.screen_id.clone())));
            planned.push(None);
            continue;
        };
        let Some(minutes) = store::movie_minutes(tx, &request.movie_id)? else {
            errors.push((index, ManageError::UnknownMovie(request.movie_id.clone())));
            planned.push(None);
            continue;
        };
        planned.push(Some((request.clone(), screen, minutes)));
    }
    // Lock the organisation's screens named in the request, in one fixed (sorted) order so
    // two requests over the same screens cannot deadlock; overlap checks read after this.
    let owned: BTreeSet<&str> = planned
        .iter()
        .flatten()
        .map(|(_, screen, _)| screen.id.as_str())
        .collect();
    for screen in owned {
        lock_screen(tx, screen)?;
    }
    // Slots of every resolvable item, to check items against each other too.
    let mut batch: HashMap<String, Vec<Slot>> = HashMap::new();
    for (index, item) in planned.iter().enumerate() {
        if let Some((request, screen, minutes)) = item {
            let starts_at = Timestamp::from_datetime(request.starts_at.with_timezone(&Utc));
            batch.entry(screen.id.clone()).or_default().push(Slot {
                label: format!("item {index}"),
                starts_at,
                ends_at: starts_at.plus_minutes(*minutes),
            });
        }
    }
    let mut to_create = Vec::new();
    for (index, item) in planned.into_iter().enumerate() {
        let Some((request, screen, minutes)) = item else {
            continue;
        };
        let starts_at = Timestamp::from_datetime(request.starts_at.with_timezone(&Utc));
        let slot = Slot {
            label: format!("item {index}"),
            starts_at,
            ends_at: starts_at.plus_minutes(minutes),
        };
        let mut others = store::slots_on_screen(
            tx,
            &screen.id,
            starts_at.plus_minutes(-24 * 60),
            slot.ends_at.plus_minutes(24 * 60),
        )?;
        others.extend(batch.get(&screen.id).into_iter().flatten().cloned());
        let categories = store::layout_categories(tx, &screen.layout_id)?;
        let prices: Vec<(SeatCategory, i64)> =
            request.prices.iter().map(|(c, a)| (*c, *a)).collect();
        let proposed = ProposedShow {
            slot,
            format: &request.format,
            language: &request.language,
            prices: &prices,
        };
        let context = ScreenContext {
            categories: &categories,
            others: &others,
            buffer_minutes: buffer,
        };
        let outcome = schedule::check_show(&proposed, &context, now);
        let slot = proposed.slot;
        match outcome {
            Ok(()) => to_create.push((request, screen, slot)),
            Err(error) => errors.push((index, ManageError::Schedule(error))),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|(index, _)| *index);
        if requests.len() == 1 {
            return Err(errors.remove(0).1);
        }
        return Err(ManageError::Bulk(errors, requests.len()));
    }
    insert_shows(tx, to_create, now)
}

fn insert_shows(
    tx: &mut Tx<'_>,
    shows: Vec<(NewShowRequest, store::ScreenRow, Slot)>,
    now: Timestamp,
) -> Result<Vec<ScheduledShow>, ManageError> {
    let mut created = Vec::with_capacity(shows.len());
    for (request, screen, slot) in shows {
        let (id, external_id) = match &request.sync {
            Some((id, external_id)) => (id.clone(), Some(external_id.as_str())),
            None => (ShowId::generate(), None),
        };
        let prices: Vec<(&str, i64)> = request
            .prices
            .iter()
            .map(|(c, a)| (c.as_str(), *a))
            .collect();
        let show = NewShow {
            id: id.as_str(),
            movie_id: &request.movie_id,
            screen_id: &screen.id,
            layout_id: &screen.layout_id,
            theatre_id: &screen.theatre_id,
            city_id: &screen.city_id,
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
            language: &request.language,
            format: &request.format,
            currency: &screen.currency,
            prices: &prices,
            external_id,
        };
        store::insert_show(tx, &show, now)?;
        let seats = inventory_store::count_show_seats(tx, id.as_str())?;
        let event = Event::ShowCreated {
            show_id: id.to_string(),
            starts_at: slot.starts_at.as_millis(),
        };
        outbox::append(tx, &event, now.as_millis())?;
        created.push(ScheduledShow {
            id,
            screen_id: ScreenId::from_trusted(screen.id),
            movie_id: MovieId::from_trusted(request.movie_id),
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
            seats,
        });
    }
    Ok(created)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryChange {
    /// Keep these available seats back for the box office.
    #[serde(default)]
    pub withhold: Vec<String>,
    /// Take these seats out of sale (broken, reserved).
    #[serde(default)]
    pub block: Vec<String>,
    /// Put withheld or blocked seats back on sale.
    #[serde(default)]
    pub release: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InventoryResult {
    pub withheld: usize,
    pub blocked: usize,
    pub released: usize,
}

/// Applies a seat inventory change to a show of the organisation atomically: every listed
/// seat changes or none does. Seats held by customers or sold cannot be withheld or blocked.
pub async fn change_inventory(
    app: &AppState,
    org_id: &PartnerOrgId,
    show_id: &str,
    change: &InventoryChange,
) -> Result<InventoryResult, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let all: Vec<&str> = change
        .withhold
        .iter()
        .chain(&change.block)
        .chain(&change.release)
        .map(String::as_str)
        .collect();
    if all.is_empty() || all.len() > 2_000 {
        return Err(ManageError::InvalidInput(
            "list 1 to 2000 seats to change".into(),
        ));
    }
    let distinct: BTreeSet<&str> = all.iter().copied().collect();
    if distinct.len() != all.len() {
        return Err(ManageError::InvalidInput(
            "a seat may appear only once in one change".into(),
        ));
    }
    let now = app.clock.now();
    // Released seats reach the waitlist before the public, priced in the same unit of work
    // from a snapshot taken now.
    let pricing = if change.release.is_empty() {
        None
    } else {
        let show =
            ShowId::parse(show_id).ok_or_else(|| ManageError::UnknownShow(show_id.to_owned()))?;
        Some(ShowPricing::load(app, show.as_str()).await.map_err(|e| {
            match BookingError::from(e) {
                BookingError::ShowNotFound(_) => ManageError::UnknownShow(show_id.to_owned()),
                other => other.into(),
            }
        })?)
    };
    let hold_ms = app.config.booking.hold_secs * 1000;
    let unit = (
        org_id.to_string(),
        show_id.to_owned(),
        change.withhold.clone(),
        change.block.clone(),
        change.release.clone(),
    );
    app.db
        .write(move |tx| {
            let (org_id, show_id, withhold, block, release) = &unit;
            if store::owned_show(tx, show_id, org_id)?.is_none() {
                return Err(ManageError::UnknownShow(show_id.clone()));
            }
            let all: Vec<&str> = withhold
                .iter()
                .chain(block)
                .chain(release)
                .map(String::as_str)
                .collect();
            let known = inventory_store::existing_seats(tx, show_id, &all)?;
            let unknown: Vec<String> = all
                .iter()
                .filter(|s| !known.contains(**s))
                .map(|s| (*s).to_owned())
                .collect();
            if !unknown.is_empty() {
                return Err(ManageError::UnknownSeats(unknown));
            }
            use inventory_store::SeatChange::{Block, Release, Withhold};
            let mut refused = Vec::new();
            for (kind, labels) in [(Withhold, withhold), (Block, block), (Release, release)] {
                let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                let changed = inventory_store::change_seats(tx, show_id, &labels, kind, now)?;
                refused.extend(
                    labels
                        .iter()
                        .filter(|l| !changed.contains(**l))
                        .map(|l| (*l).to_owned()),
                );
            }
            if !refused.is_empty() {
                refused.sort();
                return Err(ManageError::SeatsUnavailable(refused));
            }
            for (state, seats) in [("withheld", withhold), ("blocked", block)] {
                if !seats.is_empty() {
                    let event = Event::SeatsWithdrawn {
                        show_id: show_id.clone(),
                        seats: seats.clone(),
                        state: state.into(),
                    };
                    outbox::append(tx, &event, now.as_millis())?;
                }
            }
            if let Some(pricing) = &pricing {
                let event = Event::SeatsReleased {
                    show_id: show_id.clone(),
                    seats: release.clone(),
                    reason: "partner".into(),
                };
                outbox::append(tx, &event, now.as_millis())?;
                waitlist::offer_freed(tx, pricing, hold_ms, now)?;
            }
            Ok(())
        })
        .await?;
    app.cache.invalidate_show(show_id);
    Ok(InventoryResult {
        withheld: change.withhold.len(),
        blocked: change.block.len(),
        released: change.release.len(),
    })
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowChange {
    /// New start. Moving a show that customers hold or bought seats for is refused
    /// (`show-has-bookings`) unless `move_with_customers` is true.
    #[schema(value_type = Option<String>)]
    pub starts_at: Option<DateTime<chrono::FixedOffset>>,
    pub language: Option<String>,
    pub format: Option<String>,
    /// New prices for every category; they apply to holds made from now on (holds and
    /// bookings keep the price they were quoted). Each live booking's customer is told.
    pub prices: Option<HashMap<SeatCategory, i64>>,
    /// Move the show even though customers hold or bought seats: each live booking's
    /// customer is told the old and new time (and may cancel it in full until the show
    /// starts). Every other scheduling rule still applies. Default false.
    #[serde(default)]
    pub move_with_customers: bool,
}

/// Changes a show of the organisation. A show whose seats are held or sold is moved only
/// with `move_with_customers` (its customers' plans depend on the time: each is told, and
/// may cancel); otherwise cancel it, which refunds them.
pub async fn update_show(
    app: &AppState,
    org_id: &PartnerOrgId,
    show_id: &str,
    change: &ShowChange,
) -> Result<ScheduledShow, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let now = app.clock.now();
    let buffer = app.config.schedule.cleaning_buffer_minutes;
    let unit = (org_id.to_string(), show_id.to_owned(), change.clone());
    let changed = app
        .db
        .write(move |tx| {
            let (org_id, show_id, change) = &unit;
            change_show(tx, org_id, show_id, change, buffer, now)
        })
        .await?;
    app.cache.invalidate_catalog();
    app.cache.invalidate_show(show_id);
    Ok(changed)
}

/// The unit of work of `update_show`.
pub(crate) fn change_show(
    tx: &mut Tx<'_>,
    org_id: &str,
    show_id: &str,
    change: &ShowChange,
    buffer: i64,
    now: Timestamp,
) -> Result<ScheduledShow, ManageError> {
    let show = store::owned_show(tx, show_id, org_id)?
        .ok_or_else(|| ManageError::UnknownShow(show_id.to_owned()))?;
    if show.status != "scheduled" {
        return Err(ManageError::InvalidInput(
            "a cancelled show cannot change".into(),
        ));
    }
    lock_screen(tx, &show.screen_id)?;
    let starts_at = change
        .starts_at
        .map_or(Timestamp::from_millis(show.starts_at), |at| {
            Timestamp::from_datetime(at.with_timezone(&Utc))
        });
    let moved = starts_at.as_millis() != show.starts_at;
    if moved && !change.move_with_customers && store::customer_seats(tx, show_id, now)? > 0 {
        return Err(ManageError::ShowHasCustomers(show_id.to_owned()));
    }
    let running = show.ends_at - show.starts_at;
    let slot = Slot {
        label: show.id.clone(),
        starts_at,
        ends_at: Timestamp::from_millis(starts_at.as_millis() + running),
    };
    let prices: Vec<(SeatCategory, i64)> = match &change.prices {
        Some(prices) => prices.iter().map(|(c, a)| (*c, *a)).collect(),
        None => store::show_price_map(tx, show_id)?
            .into_iter()
            .filter_map(|(c, a)| Some((SeatCategory::parse(&c)?, a)))
            .collect(),
    };
    let language = change.language.clone().unwrap_or(show.language);
    let format = change.format.clone().unwrap_or(show.format);
    let others = store::slots_on_screen(
        tx,
        &show.screen_id,
        slot.starts_at.plus_minutes(-24 * 60),
        slot.ends_at.plus_minutes(24 * 60),
    )?;
    let categories = store::layout_categories(tx, &show.layout_id)?;
    let proposed = ProposedShow {
        slot: slot.clone(),
        format: &format,
        language: &language,
        prices: &prices,
    };
    let context = ScreenContext {
        categories: &categories,
        others: &others,
        buffer_minutes: buffer,
    };
    // A show that keeps its time may have started; only a new time must be in the future.
    let reference = if moved {
        now
    } else {
        Timestamp::from_millis(i64::MIN)
    };
    schedule::check_show(&proposed, &context, reference).map_err(ManageError::Schedule)?;
    store::update_show(
        tx,
        show_id,
        slot.starts_at,
        slot.ends_at,
        &language,
        &format,
        now,
    )?;
    let mut prices_before = BTreeMap::new();
    if change.prices.is_some() {
        prices_before = store::show_price_map(tx, show_id)?.into_iter().collect();
        let stored: Vec<(&str, i64)> = prices.iter().map(|(c, a)| (c.as_str(), *a)).collect();
        store::replace_show_prices(tx, show_id, &stored)?;
    }
    let seats = inventory_store::count_show_seats(tx, show_id)?;
    let event = Event::ShowChanged {
        show_id: show_id.to_owned(),
    };
    outbox::append(tx, &event, now.as_millis())?;
    // Customers are told of a new time or new prices (issue 17).
    let prices_after = match change.prices {
        Some(_) => prices
            .iter()
            .map(|(c, a)| (c.as_str().to_owned(), *a))
            .collect(),
        None => prices_before.clone(),
    };
    let changes = ShowChanges::between(
        (show.starts_at, slot.starts_at.as_millis()),
        prices_before,
        prices_after,
    );
    show_changes::announce(tx, show_id, &changes, now.as_millis())?;
    Ok(ScheduledShow {
        id: ShowId::from_trusted(show.id),
        screen_id: ScreenId::from_trusted(show.screen_id),
        movie_id: MovieId::from_trusted(show.movie_id),
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        seats,
    })
}

/// Deletes a show of the organisation that never had a booking. A show whose seats are
/// held or sold is refused (`ShowHasCustomers`), and so is one whose bookings have all
/// ended (`ShowHasHistory`): those bookings stay in their customers' history, so the show
/// they point at stays too; cancelling it takes it out of every listing.
pub async fn delete_show(
    app: &AppState,
    org_id: &PartnerOrgId,
    show_id: &str,
) -> Result<(), ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let now = app.clock.now();
    let (org, show) = (org_id.to_string(), show_id.to_owned());
    app.db
        .write(move |tx| {
            store::owned_show(tx, &show, &org)?
                .ok_or_else(|| ManageError::UnknownShow(show.clone()))?;
            if store::customer_seats(tx, &show, now)? > 0 {
                return Err(ManageError::ShowHasCustomers(show.clone()));
            }
            if store::show_has_bookings(tx, &show)? {
                return Err(ManageError::ShowHasHistory(show.clone()));
            }
            store::delete_show(tx, &show)?;
            Ok(())
        })
        .await?;
    app.cache.invalidate_catalog();
    app.cache.invalidate_show(show_id);
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutChange {
    /// Rows front to back.
    pub rows: Vec<RowSpec>,
}

/// Gives a screen a new seat layout for shows scheduled from now on. Layouts are immutable
/// versions: shows already scheduled keep the layout they were sold on, so no sold or held
/// seat ever changes under its buyer.
pub async fn change_layout(
    app: &AppState,
    org_id: &PartnerOrgId,
    screen_id: &str,
    change: &LayoutChange,
) -> Result<ManagedScreen, ManageError> {
    ensure_approved(&app.db, org_id).await?;
    let seats = build_layout(&change.rows)?;
    let now = app.clock.now();
    let layout_id = LayoutId::generate();
    let seat_count = seats.len();
    let unit = (
        org_id.to_string(),
        screen_id.to_owned(),
        layout_id.clone(),
        seats,
    );
    let (screen, name) = app
        .db
        .write(move |tx| {
            let (org_id, screen_id, layout_id, seats) = &unit;
            let screen = store::screen_of_org(tx, screen_id, org_id)?
                .ok_or_else(|| ManageError::UnknownScreen(screen_id.clone()))?;
            inventory_store::insert_layout(tx, layout_id.as_str(), &screen.id, seats, now)?;
            let name = inventory_store::point_screen_at_layout(tx, &screen.id, layout_id.as_str())?;
            Ok::<_, ManageError>((screen, name))
        })
        .await?;
    Ok(ManagedScreen {
        id: ScreenId::from_trusted(screen.id),
        theatre_id: TheatreId::from_trusted(screen.theatre_id),
        name,
        layout_id,
        seat_count,
    })
}
