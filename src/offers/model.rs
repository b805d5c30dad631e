//! Offers: what they discount, when they are valid, and where they apply.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::{
    ids::{CityId, TheatreId},
    money::Money,
    time::Timestamp,
};

/// What an offer does. New kinds (flat amount off, minimum tickets, per category) are new
/// variants with their own step in `quote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OfferKind {
    /// `percent_bp` off every `every`-th ticket of a booking, tickets ordered by price,
    /// highest first (launch offer: 5,000 bp off every 3rd ticket).
    NthTicket { every: u32, percent_bp: u32 },
    /// `percent_bp` off every ticket of a show whose local start time is in
    /// `[from, until)` (launch offer: 2,000 bp for 12:00 ≤ t < 17:00).
    ShowTimeWindow {
        from: NaiveTime,
        until: NaiveTime,
        percent_bp: u32,
    },
}

impl OfferKind {
    /// Offers stack in this order: time windows first, then nth-ticket.
    pub fn stacking_rank(&self) -> u8 {
        match self {
            OfferKind::ShowTimeWindow { .. } => 0,
            OfferKind::NthTicket { .. } => 1,
        }
    }
}

/// Where an offer applies: everywhere when both lists are empty, otherwise in the listed
/// cities and at the listed theatres (either match is enough).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferScope {
    pub cities: Vec<CityId>,
    pub theatres: Vec<TheatreId>,
}

impl OfferScope {
    pub fn covers(&self, city: &CityId, theatre: &TheatreId) -> bool {
        (self.cities.is_empty() && self.theatres.is_empty())
            || self.cities.contains(city)
            || self.theatres.contains(theatre)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    pub id: String,
    pub name: String,
    pub kind: OfferKind,
    /// Valid from this instant (inclusive) ...
    pub valid_from: Timestamp,
    /// ... until this one (exclusive).
    pub valid_until: Timestamp,
    pub scope: OfferScope,
    /// Administrators deactivate offers instead of deleting them.
    pub active: bool,
}

impl Offer {
    /// True when the offer can be used for a quote made at `at` for a show at `theatre`
    /// in `city`.
    pub fn applies(&self, at: Timestamp, city: &CityId, theatre: &TheatreId) -> bool {
        self.active
            && self.valid_from <= at
            && at < self.valid_until
            && self.scope.covers(city, theatre)
    }
}

/// The platform's convenience fee per ticket, charged on the price after discounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeePolicy {
    /// The same amount on every ticket.
    Fixed { amount: Money },
    /// A share of each ticket's discounted price, rounded half-up.
    Percent { basis_points: u32 },
}
