//! Seats as sold: categories, per-show seat states, and seat layouts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SeatCategory {
    Regular,
    Premium,
    Recliner,
}

impl SeatCategory {
    pub const ALL: [SeatCategory; 3] = [Self::Regular, Self::Premium, Self::Recliner];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "regular",
            Self::Premium => "premium",
            Self::Recliner => "recliner",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// A seat's state in one show, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeatState {
    /// On sale.
    Available,
    /// In a customer's unpaid booking until its hold expires.
    Held,
    /// Sold.
    Booked,
    /// Taken out of sale by the theatre (broken, reserved for technical reasons).
    Blocked,
    /// Kept back by the theatre for its own box office.
    Withheld,
}

impl SeatState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Booked => "booked",
            Self::Blocked => "blocked",
            Self::Withheld => "withheld",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Available,
            Self::Held,
            Self::Booked,
            Self::Blocked,
            Self::Withheld,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// What a customer sees at `now`: a hold past its expiry no longer blocks the seat,
    /// whether or not the sweeper has released it yet.
    pub fn effective(self, held_until_ms: Option<i64>, now_ms: i64) -> Self {
        match (self, held_until_ms) {
            (Self::Held, Some(until)) if until <= now_ms => Self::Available,
            (state, _) => state,
        }
    }
}

/// One seat of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutSeat {
    pub label: String,
    pub row_label: String,
    pub row_index: u16,
    pub col_index: u16,
    pub category: SeatCategory,
    pub accessible: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_hold_is_available_and_live_hold_is_held() {
        assert_eq!(
            SeatState::Held.effective(Some(1_000), 1_000),
            SeatState::Available
        );
        assert_eq!(
            SeatState::Held.effective(Some(1_001), 1_000),
            SeatState::Held
        );
        assert_eq!(
            SeatState::Booked.effective(Some(0), 1_000),
            SeatState::Booked
        );
    }

    #[test]
    fn names_round_trip() {
        for c in SeatCategory::ALL {
            assert_eq!(SeatCategory::parse(c.as_str()), Some(c));
        }
        assert_eq!(SeatState::parse("withheld"), Some(SeatState::Withheld));
        assert_eq!(SeatState::parse("sold"), None);
    }
}

/// One seat on a show's seat map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeatView {
    /// `A1`: row label and seat number.
    pub label: String,
    pub row: String,
    /// 0-based grid position; aisles and gaps are empty grid cells.
    pub grid_row: u16,
    pub grid_col: u16,
    pub category: SeatCategory,
    /// State at the time of the response; an expired hold is `available`.
    pub state: SeatState,
    pub price: crate::money::Money,
    pub accessible: bool,
}

/// Seats of one show with their states and prices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeatMap {
    #[schema(value_type = String)]
    pub show_id: crate::ids::ShowId,
    /// Seats can be held now.
    pub on_sale: bool,
    pub grid_rows: u16,
    pub grid_cols: u16,
    pub seats: Vec<SeatView>,
    pub availability: crate::catalog::model::Availability,
}
