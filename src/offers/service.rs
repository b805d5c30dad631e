//! Offer administration, the public listing and quote previews.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    model::{FeePolicy, Offer, OfferKind, OfferScope},
    quote::{self, Quote, QuoteContext, QuoteError, Ticket},
    store,
};
use crate::{
    app::AppState,
    catalog::{
        CatalogError,
        store::{self as catalog_store},
    },
    config::FeeKind,
    db::Db,
    ids::{CityId, ShowId, TheatreId},
    inventory::facts::ShowFacts,
    money::{Currency, FULL_BP, Money},
    pricing::{self, ShowRules},
    time::{Timestamp, parse_tz},
};

/// Most seats one quote (and one booking) may hold.
pub const MAX_SEATS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("{0}")]
    Invalid(String),
    #[error("city {0} does not exist")]
    UnknownCity(String),
    #[error("theatre {0} does not exist")]
    UnknownTheatre(String),
    #[error("offer {0} not found")]
    NotFound(String),
    #[error("show {0} not found")]
    ShowNotFound(String),
    #[error("these seats are not in the show: {}", .0.join(", "))]
    UnknownSeats(Vec<String>),
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl From<CatalogError> for OfferError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::ShowNotFound(id) => OfferError::ShowNotFound(id),
            CatalogError::Database(e) => OfferError::Database(e),
            other => OfferError::Invalid(other.to_string()),
        }
    }
}

/// An offer as administrators write it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    pub name: String,
    /// `{"kind": "nth_ticket", "every": 3, "percent_bp": 5000}` or
    /// `{"kind": "show_time_window", "from": "12:00:00", "until": "17:00:00", "percent_bp": 2000}`;
    /// percentages are basis points (5000 = 50%).
    #[schema(value_type = Object)]
    pub rule: OfferKind,
    #[schema(value_type = String)]
    pub valid_from: DateTime<FixedOffset>,
    #[schema(value_type = String)]
    pub valid_until: DateTime<FixedOffset>,
    /// Empty with `theatre_ids` empty: everywhere.
    #[serde(default)]
    pub city_ids: Vec<String>,
    #[serde(default)]
    pub theatre_ids: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub rule: OfferKind,
    #[schema(value_type = String)]
    pub valid_from: Timestamp,
    #[schema(value_type = String)]
    pub valid_until: Timestamp,
    pub active: bool,
    #[schema(value_type = Vec<String>)]
    pub city_ids: Vec<CityId>,
    #[schema(value_type = Vec<String>)]
    pub theatre_ids: Vec<TheatreId>,
}

pub fn view(offer: Offer) -> OfferView {
    OfferView {
        id: offer.id,
        name: offer.name,
        rule: offer.kind,
        valid_from: offer.valid_from,
        valid_until: offer.valid_until,
        active: offer.active,
        city_ids: offer.scope.cities,
        theatre_ids: offer.scope.theatres,
    }
}

/// Checks an offer request and turns it into an offer with `id`.
pub async fn validate(db: &Db, id: String, request: &OfferRequest) -> Result<Offer, OfferError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(OfferError::Invalid(
            "name must be 1 to 120 characters".into(),
        ));
    }
    let percent = match &request.rule {
        OfferKind::NthTicket { every, percent_bp } => {
            if !(1..=100).contains(every) {
                return Err(OfferError::Invalid("every must be 1 to 100".into()));
            }
            *percent_bp
        }
        OfferKind::ShowTimeWindow {
            from,
            until,
            percent_bp,
        } => {
            if from >= until {
                return Err(OfferError::Invalid(
                    "the window's from must be before until".into(),
                ));
            }
            *percent_bp
        }
    };
    if !(1..=FULL_BP).contains(&percent) {
        return Err(OfferError::Invalid(
            "percent_bp must be 1 to 10000 (basis points)".into(),
        ));
    }
    let valid_from = Timestamp::from_datetime(request.valid_from.with_timezone(&Utc));
    let valid_until = Timestamp::from_datetime(request.valid_until.with_timezone(&Utc));
    if valid_until <= valid_from {
        return Err(OfferError::Invalid(
            "valid_until must be after valid_from".into(),
        ));
    }
    let mut cities = Vec::new();
    for text in request.city_ids.iter().collect::<BTreeSet<_>>() {
        let id = CityId::parse(text).ok_or_else(|| OfferError::UnknownCity(text.clone()))?;
        if catalog_store::get_city(db, id.as_str()).await?.is_none() {
            return Err(OfferError::UnknownCity(text.clone()));
        }
        cities.push(id);
    }
    let mut theatres = Vec::new();
    for text in request.theatre_ids.iter().collect::<BTreeSet<_>>() {
        let id = TheatreId::parse(text).ok_or_else(|| OfferError::UnknownTheatre(text.clone()))?;
        if catalog_store::get_theatre(db, id.as_str()).await?.is_none() {
            return Err(OfferError::UnknownTheatre(text.clone()));
        }
        theatres.push(id);
    }
    Ok(Offer {
        id,
        name: name.to_owned(),
        kind: request.rule.clone(),
        valid_from,
        valid_until,
        scope: OfferScope { cities, theatres },
        active: request.active,
    })
}

/// Offers customers can use now, optionally only those for a city (any of its theatres)
/// and/or a theatre.
pub async fn public_offers(
    db: &Db,
    city: Option<&CityId>,
    theatre: Option<&TheatreId>,
    now: Timestamp,
) -> Result<Vec<OfferView>, OfferError> {
    let theatre_city = match theatre {
        Some(t) => Some(
            catalog_store::get_theatre(db, t.as_str())
                .await?
                .ok_or_else(|| OfferError::UnknownTheatre(t.to_string()))?
                .city_id,
        ),
        None => None,
    };
    let mut city_of_theatre: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for offer in store::all_offers(db).await? {
        if !offer.active || now < offer.valid_from || now >= offer.valid_until {
            continue;
        }
        let everywhere = offer.scope.cities.is_empty() && offer.scope.theatres.is_empty();
        let mut matches = true;
        if let (Some(t), Some(t_city)) = (theatre, &theatre_city) {
            matches &= everywhere
                || offer.scope.theatres.contains(t)
                || offer.scope.cities.iter().any(|c| c.as_str() == t_city);
        }
        if let Some(c) = city {
            let mut in_city = everywhere || offer.scope.cities.contains(c);
            for t in &offer.scope.theatres {
                if in_city {
                    break;
                }
                if !city_of_theatre.contains_key(t.as_str())
                    && let Some(row) = catalog_store::get_theatre(db, t.as_str()).await?
                {
                    city_of_theatre.insert(t.to_string(), row.city_id);
                }
                in_city = city_of_theatre
                    .get(t.as_str())
                    .is_some_and(|tc| tc == c.as_str());
            }
            matches &= in_city;
        }
        if matches {
            out.push(view(offer));
        }
    }
    Ok(out)
}

/// The fee policy for a show priced in `currency`.
pub fn fee_policy(app: &AppState, currency: Currency) -> FeePolicy {
    let pricing = &app.config.pricing;
    match pricing.fee_kind {
        FeeKind::Fixed => FeePolicy::Fixed {
            amount: Money::new(pricing.fee_fixed_minor, currency),
        },
        FeeKind::Percent => FeePolicy::Percent {
            basis_points: pricing.fee_basis_points,
        },
    }
}

/// The quote for `seats` of a show at `now`: what a hold made now would cost.
pub async fn quote_for_show(
    app: &AppState,
    show_id: &str,
    seats: &[String],
    now: Timestamp,
) -> Result<Quote, OfferError> {
    if seats.is_empty() || seats.len() > MAX_SEATS {
        return Err(OfferError::Invalid(format!(
            "choose 1 to {MAX_SEATS} seats"
        )));
    }
    let distinct: BTreeSet<&str> = seats.iter().map(String::as_str).collect();
    if distinct.len() != seats.len() {
        return Err(OfferError::Invalid("a seat may be listed only once".into()));
    }
    let show_id =
        ShowId::parse(show_id).ok_or_else(|| OfferError::ShowNotFound(show_id.to_owned()))?;
    ShowPricing::load(app, show_id.as_str())
        .await?
        .price(seats, now)
}

/// Everything pricing seats of one show needs — the show, its prices and seat categories,
/// the offers, the fee policy — taken before a unit of work starts, so that pricing
/// inside it (a waitlist offer) is a pure function of values.
#[derive(Clone)]
pub struct ShowPricing {
    pub facts: Arc<ShowFacts>,
    /// The price rules that apply to the show, and its occupancy if one reads it.
    pub rules: Arc<ShowRules>,
    pub offers: Arc<Vec<Offer>>,
    pub fees: FeePolicy,
}

impl ShowPricing {
    /// The snapshots of this node (see `inventory::facts` and `offers::book`).
    pub async fn load(app: &AppState, show_id: &str) -> Result<Self, OfferError> {
        let facts = app.show_facts.get(app, show_id).await?;
        let rules = Arc::new(pricing::rules_for_show(app, &facts).await?);
        let offers = app.offer_book.offers(app).await?;
        let currency = Currency::parse(&facts.show.currency).unwrap_or(Currency::UNKNOWN);
        Ok(Self {
            facts,
            rules,
            offers,
            fees: fee_policy(app, currency),
        })
    }

    /// Prices `seats` (distinct labels) at `now`, with no limit on their number: the
    /// quote a hold stores.
    pub fn price(&self, seats: &[String], now: Timestamp) -> Result<Quote, OfferError> {
        let facts = &self.facts;
        let show = &facts.show;
        let unknown: Vec<String> = seats
            .iter()
            .filter(|label| !facts.categories.contains_key(label.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(OfferError::UnknownSeats(unknown));
        }
        let mut tickets: Vec<Ticket> = Vec::with_capacity(seats.len());
        for seat in seats {
            let Some(category) = facts.categories.get(seat.as_str()).copied() else {
                continue;
            };
            let Some(base) = facts
                .prices
                .iter()
                .find(|p| p.category == category)
                .map(|p| p.price)
            else {
                continue;
            };
            let (list, rules) =
                pricing::rules::seat_price(base, category, &self.rules.rules, &self.rules.point)
                    .map_err(QuoteError::from)?;
            tickets.push(Ticket {
                seat: seat.clone(),
                category,
                base,
                list,
                rules,
            });
        }
        let currency = Currency::parse(&show.currency).unwrap_or(Currency::UNKNOWN);
        let tz = parse_tz(&show.timezone);
        let local_start = Timestamp::from_millis(show.starts_at)
            .to_utc()
            .with_timezone(&tz)
            .time();
        let (city, theatre) = (
            CityId::from_trusted(show.city_id.clone()),
            TheatreId::from_trusted(show.theatre_id.clone()),
        );
        let context = QuoteContext {
            city: &city,
            theatre: &theatre,
            show_local_start: local_start,
            currency,
            at: now,
        };
        Ok(quote::quote(&tickets, &self.offers, self.fees, &context)?)
    }
}
