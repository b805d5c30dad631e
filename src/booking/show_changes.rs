//! Customers of a show that the partner moved or re-priced. In the unit of work that
//! changes the show, every booking live at that instant (held and unexpired, or confirmed)
//! gets its own event (`booking.show_rescheduled`, `booking.show_repriced`) beside the
//! show's (`show.rescheduled`, `show.repriced`), as a show's cancellation writes one
//! `booking.cancelled` per booking. The `notifications` consumer turns each into one
//! message: the set of customers is exactly the one at the change, and each message is keyed
//! by its own event like any other, so a redelivery mails nobody twice.

use std::collections::BTreeMap;

use crate::{
    db::Tx,
    integration::{events::Event, outbox},
    params,
};

/// What changed in a show that its customers are told of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShowChanges {
    /// (old start, new start), if it moved.
    pub moved: Option<(i64, i64)>,
    /// (old prices, new prices) per seat category in minor units, if they changed.
    pub repriced: Option<(BTreeMap<String, i64>, BTreeMap<String, i64>)>,
}

impl ShowChanges {
    /// The changes between a show's old and new start and prices. Pure.
    pub fn between(
        (from, to): (i64, i64),
        before: BTreeMap<String, i64>,
        after: BTreeMap<String, i64>,
    ) -> Self {
        ShowChanges {
            moved: (from != to).then_some((from, to)),
            repriced: (before != after).then_some((before, after)),
        }
    }
}

/// Inside the show change's unit of work: the show's events and one per live booking.
/// A booking of a moved show is marked (`show_moved_at`): its customer may cancel it in
/// full until the show starts. Returns how many bookings were told.
pub fn announce(
    tx: &mut Tx<'_>,
    show_id: &str,
    changes: &ShowChanges,
    now: i64,
) -> sqlx::Result<usize> {
    const LIVE: &str = "SELECT id FROM bookings WHERE show_id = $1 \
         AND (status = 'confirmed' OR (status = 'pending_payment' AND expires_at > $2)) \
         ORDER BY id";
    const MARK_MOVED: &str = "UPDATE bookings SET show_moved_at = $2 WHERE show_id = $1 \
         AND (status = 'confirmed' OR (status = 'pending_payment' AND expires_at > $2)) \
         RETURNING id";
    let mut bookings: Vec<String> = match changes.moved {
        Some(_) => tx.fetch_all(MARK_MOVED, params![show_id, now])?,
        None if changes.repriced.is_some() => tx.fetch_all(LIVE, params![show_id, now])?,
        None => return Ok(0),
    };
    // The same order on both engines, whatever order the rows came back in.
    bookings.sort();
    let mut events = Vec::new();
    if let Some((from, to)) = changes.moved {
        events.push(Event::ShowRescheduled {
            show_id: show_id.to_owned(),
            from,
            to,
        });
        events.extend(bookings.iter().map(|id| Event::BookingShowRescheduled {
            booking_id: id.clone(),
            show_id: show_id.to_owned(),
            from,
            to,
        }));
    }
    if let Some((before, after)) = &changes.repriced {
        events.push(Event::ShowRepriced {
            show_id: show_id.to_owned(),
            before: before.clone(),
            after: after.clone(),
        });
        events.extend(bookings.iter().map(|id| Event::BookingShowRepriced {
            booking_id: id.clone(),
            show_id: show_id.to_owned(),
        }));
    }
    outbox::append_all(tx, &events, now)?;
    Ok(bookings.len())
}

/// Whether the booking's show was moved while it was live (inside a unit of work).
pub fn show_was_moved(tx: &mut Tx<'_>, booking_id: &str) -> sqlx::Result<bool> {
    let moved: Option<Option<i64>> = tx.fetch_optional(
        "SELECT show_moved_at FROM bookings WHERE id = $1",
        params![booking_id],
    )?;
    Ok(moved.flatten().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(regular: i64) -> BTreeMap<String, i64> {
        BTreeMap::from([
            ("premium".to_owned(), 25_000),
            ("regular".to_owned(), regular),
        ])
    }

    #[test]
    fn only_what_changed_is_announced() {
        let same = ShowChanges::between((1, 1), prices(15_000), prices(15_000));
        assert_eq!(same, ShowChanges::default());
        let moved = ShowChanges::between((1, 2), prices(15_000), prices(15_000));
        assert_eq!(moved.moved, Some((1, 2)));
        assert_eq!(moved.repriced, None);
        let repriced = ShowChanges::between((1, 1), prices(15_000), prices(18_000));
        assert_eq!(repriced.moved, None);
        assert_eq!(repriced.repriced, Some((prices(15_000), prices(18_000))));
    }
}
