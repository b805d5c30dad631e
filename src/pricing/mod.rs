//! Dynamic pricing: rules of partners and of the platform that move a seat's price by the
//! day of the week, public holidays, the show's time band and format, and its demand,
//! before offers apply (docs/pricing.md).
//!
//! - `model.rs`   rules, their kinds, scopes and bounds
//! - `rules.rs`   the arithmetic (pure, table- and property-tested)
//! - `book.rs`    the rule book and shows' occupancy, read once and shared on a node
//! - `service.rs` validation and management of rules and holiday calendars
//! - `store.rs`   SQL
//! - `routes.rs`  /api/v1/partner/price-rules, /api/v1/admin/price-rules,
//!   /api/v1/admin/holidays/{country}

pub mod book;
pub mod model;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;

use std::collections::HashMap;

use chrono::Datelike;

use self::{
    book::{Occupancy, Rules},
    model::{PriceRule, RuleKind, ShowPlace},
    rules::{PricePoint, stacking_order},
};
use crate::{
    app::AppState,
    catalog::{
        CatalogError,
        model::{CategoryPrice, Showtime},
    },
    http::cache::Fresh,
    inventory::{
        self,
        facts::ShowFacts,
        model::{SeatCategory, SeatMap, SeatState},
    },
    money::Money,
    time::{Timestamp, parse_tz},
};

/// The rules that apply to one show, in stacking order, and what they see of it.
#[derive(Debug, Clone)]
pub struct ShowRules {
    pub rules: Vec<PriceRule>,
    pub point: PricePoint,
}

impl ShowRules {
    /// Whether any rule reads the show's occupancy.
    pub fn reads_demand(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::Demand { .. }))
    }
}

/// The rules of `book` that apply to the show of `facts`, with its occupancy if one of them
/// reads it. Pure.
pub fn show_rules(book: &Rules, facts: &ShowFacts, occupancy: Option<Occupancy>) -> ShowRules {
    let show = &facts.show;
    let place = ShowPlace {
        org_id: &facts.org_id,
        theatre_id: &show.theatre_id,
        city_id: &show.city_id,
    };
    let mut rules: Vec<PriceRule> = book
        .rules
        .iter()
        .filter(|rule| rule.active && rule.scope.covers(&place))
        .cloned()
        .collect();
    stacking_order(&mut rules);
    let local = Timestamp::from_millis(show.starts_at)
        .to_utc()
        .with_timezone(&parse_tz(&show.timezone));
    ShowRules {
        rules,
        point: PricePoint {
            day: local.weekday().into(),
            holiday: book.is_holiday(&facts.country_code, local.date_naive()),
            local_start: local.time(),
            format: show.format.clone(),
            occupancy_bp: occupancy.map(Occupancy::basis_points),
        },
    }
}

/// The rules for the show of `facts` now: its occupancy is read (or reused, see `book`)
/// only when a demand rule applies to it.
pub async fn rules_for_show(app: &AppState, facts: &ShowFacts) -> sqlx::Result<ShowRules> {
    let book = app.price_rules.rules(app).await?;
    let mut rules = show_rules(&book, facts, None);
    if rules.reads_demand() {
        let occupancy = app.occupancy.get(app, &facts.show.id).await?;
        rules.point.occupancy_bp = Some(occupancy.basis_points());
    }
    Ok(rules)
}

/// Seats booked or held among those that can be sold, as a seat map shows them.
pub fn occupancy_of(map: &SeatMap) -> Occupancy {
    let mut occupancy = Occupancy { taken: 0, seats: 0 };
    for seat in &map.seats {
        match seat.state {
            SeatState::Available => occupancy.seats += 1,
            SeatState::Held | SeatState::Booked => {
                occupancy.seats += 1;
                occupancy.taken += 1;
            }
            SeatState::Blocked | SeatState::Withheld => {}
        }
    }
    occupancy
}

/// How fresh a demand rule's occupancy must be when category prices are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Counted now (an answer cached until the show's seats change).
    Exact,
    /// The node's, at most `pricing.demand_refresh_ms` old (listings of many shows).
    Recent,
}

/// `prices` (a show's category prices, as its detail or a listing shows them) at their
/// price now under the show's rules, the occupancy as `count` says.
pub async fn price_categories(
    app: &AppState,
    show_id: &str,
    prices: &mut [CategoryPrice],
    count: Count,
) -> Result<(), CatalogError> {
    let book = app.price_rules.rules(app).await?;
    price_with(app, &book, show_id, prices, count).await
}

/// `price_categories` with the rule book already read (once for a whole listing).
async fn price_with(
    app: &AppState,
    book: &Rules,
    show_id: &str,
    prices: &mut [CategoryPrice],
    count: Count,
) -> Result<(), CatalogError> {
    if book.rules.is_empty() {
        return Ok(());
    }
    let facts = app.show_facts.get(app, show_id).await?;
    let mut rules = show_rules(book, &facts, None);
    if rules.rules.is_empty() {
        return Ok(());
    }
    if rules.reads_demand() {
        let occupancy = match count {
            Count::Exact => app.occupancy.count_now(app, show_id).await?,
            Count::Recent => app.occupancy.get(app, show_id).await?,
        };
        rules.point.occupancy_bp = Some(occupancy.basis_points());
    }
    for entry in prices {
        if let Ok((price, _)) =
            rules::seat_price(entry.price, entry.category, &rules.rules, &rules.point)
        {
            entry.price = price;
        }
    }
    Ok(())
}

/// Every show of a listing at its prices now. Listings are cached for the catalog's
/// maximum age, so a demand price there may be that old; the seat map, show detail and
/// quote are current.
pub async fn price_showtimes<'a>(
    app: &AppState,
    shows: impl Iterator<Item = &'a mut Showtime>,
) -> Result<(), CatalogError> {
    let book = app.price_rules.rules(app).await?;
    if book.rules.is_empty() {
        return Ok(());
    }
    for show in shows {
        price_with(
            app,
            &book,
            show.id.as_str(),
            &mut show.prices,
            Count::Recent,
        )
        .await?;
    }
    Ok(())
}

/// The show's seat map with each seat at its price now: the category's price after the
/// price rules (offers, which depend on the seats chosen together, show in the quote).
/// The map counts every seat, so its occupancy is exact, and it becomes the node's
/// occupancy for the show: a quote made right after the map agrees with it.
pub async fn priced_seat_map(
    app: &AppState,
    show_id: &str,
    now: Timestamp,
) -> Result<Fresh<SeatMap>, CatalogError> {
    let mut fresh = inventory::service::seat_map(&app.db, show_id, now).await?;
    let book = app.price_rules.rules(app).await?;
    if book.rules.is_empty() {
        return Ok(fresh);
    }
    let facts = app.show_facts.get(app, show_id).await?;
    let occupancy = occupancy_of(&fresh.value);
    let rules = show_rules(&book, &facts, Some(occupancy));
    if rules.rules.is_empty() {
        return Ok(fresh);
    }
    if rules.reads_demand() {
        app.occupancy.put(show_id, now.as_millis(), occupancy);
    }
    let mut prices: HashMap<SeatCategory, Money> = HashMap::new();
    for seat in &mut fresh.value.seats {
        let price = match prices.get(&seat.category) {
            Some(price) => *price,
            None => {
                let price =
                    rules::seat_price(seat.price, seat.category, &rules.rules, &rules.point)
                        .map_or(seat.price, |(price, _)| price);
                prices.insert(seat.category, price);
                price
            }
        };
        seat.price = price;
    }
    Ok(fresh)
}
