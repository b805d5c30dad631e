//! Rules for putting shows on a screen, as plain functions: a show occupies its screen from
//! its start until the movie ends plus a cleaning buffer; two shows on one screen never
//! overlap; a show starts in the future; every seat category of the screen has a price.

use std::collections::BTreeSet;

use crate::{inventory::model::SeatCategory, time::Timestamp};

pub const FORMATS: [&str; 5] = ["2D", "3D", "IMAX", "IMAX 3D", "4DX"];

/// A show as it would occupy its screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Who the slot belongs to: an existing show id, or `#n` for item n of a request.
    pub label: String,
    pub starts_at: Timestamp,
    /// When the movie ends (the screen is busy until this plus the buffer).
    pub ends_at: Timestamp,
}

impl Slot {
    fn busy_until(&self, buffer_minutes: i64) -> Timestamp {
        self.ends_at.plus_minutes(buffer_minutes)
    }

    /// True when the two shows need the screen at the same time.
    pub fn overlaps(&self, other: &Slot, buffer_minutes: i64) -> bool {
        self.starts_at < other.busy_until(buffer_minutes)
            && other.starts_at < self.busy_until(buffer_minutes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the show must start in the future")]
    StartsInPast,
    #[error("prices are missing for seat categories: {}", .0.join(", "))]
    MissingPrices(Vec<&'static str>),
    #[error("the screen has no {0} seats to price")]
    UnusedPrice(&'static str),
    #[error("prices are integer minor units, zero or more")]
    NegativePrice,
    #[error("format must be one of 2D, 3D, IMAX, IMAX 3D, 4DX")]
    UnknownFormat,
    #[error("language must be a language tag such as en or hi")]
    InvalidLanguage,
    #[error(
        "the screen is busy then: the show would overlap {0} (running time plus {1} minutes cleaning)"
    )]
    Overlap(String, i64),
}

/// A show a partner wants to schedule.
#[derive(Debug, Clone)]
pub struct ProposedShow<'a> {
    pub slot: Slot,
    pub format: &'a str,
    pub language: &'a str,
    pub prices: &'a [(SeatCategory, i64)],
}

/// What a proposed show is checked against.
#[derive(Debug, Clone)]
pub struct ScreenContext<'a> {
    /// Seat categories of the screen's current layout.
    pub categories: &'a BTreeSet<SeatCategory>,
    /// Shows already on the screen and the other shows of the same request.
    pub others: &'a [Slot],
    pub buffer_minutes: i64,
}

/// Checks one proposed show against its screen.
pub fn check_show(
    show: &ProposedShow<'_>,
    screen: &ScreenContext<'_>,
    now: Timestamp,
) -> Result<(), ScheduleError> {
    let (slot, format, language, prices) = (&show.slot, show.format, show.language, show.prices);
    let (screen_categories, others, buffer_minutes) =
        (screen.categories, screen.others, screen.buffer_minutes);
    if slot.starts_at <= now {
        return Err(ScheduleError::StartsInPast);
    }
    if !FORMATS.contains(&format) {
        return Err(ScheduleError::UnknownFormat);
    }
    let language_ok = (2..=8).contains(&language.len())
        && language
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-');
    if !language_ok {
        return Err(ScheduleError::InvalidLanguage);
    }
    if prices.iter().any(|(_, amount)| *amount < 0) {
        return Err(ScheduleError::NegativePrice);
    }
    let priced: BTreeSet<SeatCategory> = prices.iter().map(|(c, _)| *c).collect();
    let missing: Vec<&'static str> = screen_categories
        .difference(&priced)
        .map(|c| c.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ScheduleError::MissingPrices(missing));
    }
    if let Some(extra) = priced.difference(screen_categories).next() {
        return Err(ScheduleError::UnusedPrice(extra.as_str()));
    }
    if let Some(clash) = others
        .iter()
        .find(|other| other.label != slot.label && slot.overlaps(other, buffer_minutes))
    {
        return Err(ScheduleError::Overlap(clash.label.clone(), buffer_minutes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeatCategory::{Premium, Recliner, Regular};

    const MIN: i64 = 60_000;

    fn slot(label: &str, start_min: i64, run_min: i64) -> Slot {
        Slot {
            label: label.into(),
            starts_at: Timestamp::from_millis(start_min * MIN),
            ends_at: Timestamp::from_millis((start_min + run_min) * MIN),
        }
    }

    fn all() -> BTreeSet<SeatCategory> {
        [Regular, Premium, Recliner].into()
    }

    fn prices() -> Vec<(SeatCategory, i64)> {
        vec![(Regular, 100), (Premium, 200), (Recliner, 300)]
    }

    fn run(
        new: &Slot,
        format: &str,
        language: &str,
        prices: &[(SeatCategory, i64)],
        categories: &BTreeSet<SeatCategory>,
        others: &[Slot],
        now: Timestamp,
    ) -> Result<(), ScheduleError> {
        let show = ProposedShow {
            slot: new.clone(),
            format,
            language,
            prices,
        };
        let screen = ScreenContext {
            categories,
            others,
            buffer_minutes: 15,
        };
        check_show(&show, &screen, now)
    }

    fn check(new: &Slot, others: &[Slot]) -> Result<(), ScheduleError> {
        run(
            new,
            "2D",
            "en",
            &prices(),
            &all(),
            others,
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn back_to_back_shows_need_the_cleaning_buffer() {
        let existing = [slot("shw_a", 600, 120)]; // 10:00–12:00, busy until 12:15
        assert_eq!(check(&slot("#0", 735, 90), &existing), Ok(())); // 12:15
        assert_eq!(
            check(&slot("#0", 734, 90), &existing),
            Err(ScheduleError::Overlap("shw_a".into(), 15))
        );
        // Ending within 15 minutes before the next start is an overlap too.
        assert!(check(&slot("#0", 500, 90), &existing).is_err()); // 08:20–09:50, busy to 10:05
        assert_eq!(check(&slot("#0", 495, 90), &existing), Ok(())); // busy to 10:00
    }

    #[test]
    fn a_show_does_not_clash_with_itself_when_moved() {
        let existing = [slot("shw_a", 600, 120)];
        assert_eq!(check(&slot("shw_a", 630, 120), &existing), Ok(()));
    }

    #[test]
    fn past_start_format_language_and_prices_are_checked() {
        let now = Timestamp::from_millis(600 * MIN);
        let at = |start| {
            run(
                &slot("#0", start, 90),
                "2D",
                "en",
                &prices(),
                &all(),
                &[],
                now,
            )
        };
        assert_eq!(at(600), Err(ScheduleError::StartsInPast));
        assert_eq!(at(601), Ok(()));
        let new = slot("#0", 700, 90);
        let zero = Timestamp::from_millis(0);
        assert_eq!(
            run(&new, "8K", "en", &prices(), &all(), &[], zero),
            Err(ScheduleError::UnknownFormat)
        );
        assert_eq!(
            run(&new, "2D", "EN", &prices(), &all(), &[], zero),
            Err(ScheduleError::InvalidLanguage)
        );
        assert_eq!(
            run(&new, "2D", "en", &[(Regular, 100)], &all(), &[], zero),
            Err(ScheduleError::MissingPrices(vec!["premium", "recliner"]))
        );
        assert_eq!(
            run(&new, "2D", "en", &prices(), &[Regular].into(), &[], zero),
            Err(ScheduleError::UnusedPrice("premium"))
        );
        assert_eq!(
            run(
                &new,
                "2D",
                "en",
                &[(Regular, -1), (Premium, 1), (Recliner, 1)],
                &all(),
                &[],
                zero
            ),
            Err(ScheduleError::NegativePrice)
        );
    }
}
