//! Box-office sales: a theatre's own system reports the seats it sold at its counter, so
//! they are never sold online too. A sale claims its seats with the same condition as an
//! online hold (free, withheld for the box office, or a lapsed hold nobody waits for), in
//! one conditional statement, so an online hold and a counter sale racing for a seat have
//! exactly one winner on either engine. The theatre's own sale id makes reporting
//! idempotent: the same report again answers the same sale; a different report under the
//! same id is refused. A voided sale releases its seats (to the waitlist first).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{events::Event, outbox};
use crate::{
    app::AppState,
    booking::waitlist,
    catalog::{
        manage::{ManageError, ensure_approved},
        store as catalog_store,
    },
    db::{QueryBuilder, Tx, is_unique_violation},
    ids::{CounterSaleId, PartnerOrgId, ShowId},
    inventory::store as inventory_store,
    offers::service::ShowPricing,
    params,
    time::Timestamp,
};

/// Most seats one box-office sale may name.
pub const MAX_SEATS_PER_SALE: usize = 100;
/// Longest sale id a theatre's system may use.
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterSaleRequest {
    /// The show (one of the organisation's).
    pub show_id: String,
    /// The theatre's own id for the sale: reporting it again changes nothing.
    pub external_sale_id: String,
    /// 1 to 100 distinct seat labels.
    pub seats: Vec<String>,
}

/// A box-office sale as Marquee holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CounterSale {
    /// `cts_…`.
    pub id: String,
    pub external_sale_id: String,
    pub show_id: String,
    /// In the order reported.
    pub seats: Vec<String>,
    /// `sold` or `voided`.
    pub status: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub voided_at: Option<String>,
}

crate::db_row! {
    struct SaleRow {
        id: String,
        external_sale_id: String,
        show_id: String,
        seats: String,
        status: String,
        created_at: i64,
        voided_at: Option<i64>,
    }
}

impl SaleRow {
    fn view(&self) -> CounterSale {
        CounterSale {
            id: self.id.clone(),
            external_sale_id: self.external_sale_id.clone(),
            show_id: self.show_id.clone(),
            seats: serde_json::from_str(&self.seats).unwrap_or_default(),
            status: self.status.clone(),
            created_at: Timestamp::from_millis(self.created_at).to_rfc3339(),
            voided_at: self
                .voided_at
                .map(|at| Timestamp::from_millis(at).to_rfc3339()),
        }
    }

    /// Whether `request` reports this same sale (the same show and set of seats).
    fn is_same_report(&self, request: &CounterSaleRequest) -> bool {
        let stored: BTreeSet<String> = serde_json::from_str::<Vec<String>>(&self.seats)
            .unwrap_or_default()
            .into_iter()
            .collect();
        self.show_id == request.show_id
            && stored == request.seats.iter().cloned().collect::<BTreeSet<_>>()
    }
}

/// What recording a sale did.
#[derive(Debug)]
pub enum Recorded {
    /// A new sale: its seats are sold.
    Created(CounterSale),
    /// This sale was reported before; nothing changed.
    AlreadyRecorded(CounterSale),
}

/// The request's own rules, before any database work. Pure.
pub fn check_request(request: &CounterSaleRequest) -> Result<(), ManageError> {
    let id = &request.external_sale_id;
    if id.trim().is_empty()
        || id.chars().count() > MAX_EXTERNAL_ID_CHARS
        || id.chars().any(char::is_control)
    {
        return Err(ManageError::InvalidInput(format!(
            "external_sale_id must be 1 to {MAX_EXTERNAL_ID_CHARS} characters, without control characters"
        )));
    }
    if request.seats.is_empty() || request.seats.len() > MAX_SEATS_PER_SALE {
        return Err(ManageError::InvalidInput(format!(
            "a sale names 1 to {MAX_SEATS_PER_SALE} seats"
        )));
    }
    let distinct: BTreeSet<&String> = request.seats.iter().collect();
    if distinct.len() != request.seats.len() {
        return Err(ManageError::InvalidInput(
            "a seat may appear only once in one sale".into(),
        ));
    }
    Ok(())
}

const SALE: &str = "SELECT id, external_sale_id, show_id, seats, status, created_at, voided_at \
     FROM counter_sales WHERE org_id = $1 AND external_sale_id = $2";

fn sale_by_external_id(
    tx: &mut Tx<'_>,
    org_id: &str,
    external_sale_id: &str,
) -> sqlx::Result<Option<SaleRow>> {
    tx.fetch_optional(SALE, params![org_id, external_sale_id])
}

/// Records a box-office sale: all its seats or none.
pub async fn record(
    app: &AppState,
    org_id: &PartnerOrgId,
    request: CounterSaleRequest,
) -> Result<Recorded, ManageError> {
    check_request(&request)?;
    ensure_approved(&app.db, org_id).await?;
    if ShowId::parse(&request.show_id).is_none() {
        return Err(ManageError::UnknownShow(request.show_id));
    }
    let now = app.clock.now();
    let unit = (org_id.to_string(), request.clone());
    let recorded = app
        .db
        .write(move |tx| {
            let (org_id, request) = &unit;
            record_in(tx, org_id, request, now)
        })
        .await;
    let recorded = match recorded {
        // Two reports of one sale at once: the second finds the first's seats sold, or its
        // id taken. If the first is this same sale, this report is a repeat of it.
        Err(error @ (ManageError::SeatsUnavailable(_) | ManageError::ExternalIdReused(_))) => {
            return match repeat_of(app, org_id, &request).await? {
                Some(sale) => Ok(Recorded::AlreadyRecorded(sale)),
                None => {
                    if let ManageError::SeatsUnavailable(conflicting) = &error {
                        record_conflict(app, &request, conflicting, now).await?;
                    }
                    Err(error)
                }
            };
        }
        other => other?,
    };
    if let Recorded::Created(sale) = &recorded {
        app.cache.invalidate_show(&sale.show_id);
        metrics::counter!("marquee_counter_sales_total", "result" => "recorded").increment(1);
    }
    Ok(recorded)
}

/// Tells the theatre's system (by webhook, `counter_sale.conflicted`) that a box-office
/// sale was refused because seats were taken online: the answer to the request says so
/// too, but the system that reported it may not be the one staff look at.
async fn record_conflict(
    app: &AppState,
    request: &CounterSaleRequest,
    conflicting: &[String],
    now: Timestamp,
) -> Result<(), ManageError> {
    let event = Event::CounterSaleConflicted {
        show_id: request.show_id.clone(),
        external_sale_id: request.external_sale_id.clone(),
        seats: request.seats.clone(),
        conflicting: conflicting.to_vec(),
    };
    metrics::counter!("marquee_counter_sales_total", "result" => "conflicted").increment(1);
    app.db
        .write(move |tx| outbox::append(tx, &event, now.as_millis()))
        .await?;
    Ok(())
}

/// The stored sale `request` repeats, if any.
async fn repeat_of(
    app: &AppState,
    org_id: &PartnerOrgId,
    request: &CounterSaleRequest,
) -> Result<Option<CounterSale>, ManageError> {
    let row: Option<SaleRow> = app
        .db
        .fetch_optional(
            SALE,
            params![org_id.as_str(), request.external_sale_id.as_str()],
        )
        .await?;
    Ok(row
        .filter(|row| row.is_same_report(request))
        .map(|row| row.view()))
}

fn record_in(
    tx: &mut Tx<'_>,
    org_id: &str,
    request: &CounterSaleRequest,
    now: Timestamp,
) -> Result<Recorded, ManageError> {
    if let Some(existing) = sale_by_external_id(tx, org_id, &request.external_sale_id)? {
        return if existing.is_same_report(request) {
            Ok(Recorded::AlreadyRecorded(existing.view()))
        } else {
            Err(ManageError::ExternalIdReused(
                request.external_sale_id.clone(),
            ))
        };
    }
    let show = catalog_store::owned_show(tx, &request.show_id, org_id)?
        .ok_or_else(|| ManageError::UnknownShow(request.show_id.clone()))?;
    if show.status != "scheduled" || now.as_millis() >= show.ends_at {
        return Err(ManageError::ShowNotSelling(request.show_id.clone()));
    }
    let labels: Vec<&str> = request.seats.iter().map(String::as_str).collect();
    let known = inventory_store::existing_seats(tx, &request.show_id, &labels)?;
    let mut unknown: Vec<String> = labels
        .iter()
        .filter(|label| !known.contains(**label))
        .map(|label| (*label).to_owned())
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ManageError::UnknownSeats(unknown));
    }
    let sale_id = CounterSaleId::generate().to_string();
    let claimed = claim(tx, &request.show_id, &sale_id, &request.seats, now)?;
    if claimed.len() != request.seats.len() {
        let mut taken: Vec<String> = request
            .seats
            .iter()
            .filter(|label| !claimed.contains(*label))
            .cloned()
            .collect();
        taken.sort();
        // The unit fails, so nothing it claimed stays claimed.
        return Err(ManageError::SeatsUnavailable(taken));
    }
    let seats = serde_json::to_string(&request.seats).unwrap_or_default();
    let inserted = tx.execute(
        "INSERT INTO counter_sales (id, org_id, show_id, external_sale_id, seats, status, \
         created_at) VALUES ($1, $2, $3, $4, $5, 'sold', $6)",
        params![
            &sale_id,
            org_id,
            &request.show_id,
            &request.external_sale_id,
            &seats,
            now.as_millis()
        ],
    );
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(ManageError::ExternalIdReused(
                request.external_sale_id.clone(),
            ));
        }
        other => other?,
    };
    let event = Event::CounterSaleRecorded {
        sale_id: sale_id.clone(),
        show_id: request.show_id.clone(),
        external_sale_id: request.external_sale_id.clone(),
        seats: request.seats.clone(),
    };
    outbox::append(tx, &event, now.as_millis())?;
    let row = SaleRow {
        id: sale_id,
        external_sale_id: request.external_sale_id.clone(),
        show_id: request.show_id.clone(),
        seats,
        status: "sold".into(),
        created_at: now.as_millis(),
        voided_at: None,
    };
    Ok(Recorded::Created(row.view()))
}

/// Sells those of `seats` that are free for the box office: available, withheld for it, or
/// held by a lapsed hold that no waitlist entry waits for (the same rule as an online
/// hold). One conditional statement: on PostgreSQL a racing hold's row lock makes this
/// wait and re-check the row, so a seat has one owner. Returns the labels sold.
fn claim(
    tx: &mut Tx<'_>,
    show_id: &str,
    sale_id: &str,
    seats: &[String],
    now: Timestamp,
) -> sqlx::Result<BTreeSet<String>> {
    let mut claim = QueryBuilder::new(
        tx.engine(),
        "UPDATE show_seats SET state = 'booked', held_until = NULL, booking_id = ",
    );
    claim
        .push_bind(sale_id)
        .push(" WHERE show_id = ")
        .push_bind(show_id)
        .push(" AND seat_label")
        .push_in(seats)
        .push(" AND (state IN ('available', 'withheld') OR (state = 'held' AND held_until <= ")
        .push_bind(now.as_millis())
        .push(
            " AND NOT EXISTS (SELECT 1 FROM waitlist_entries \
             WHERE show_id = show_seats.show_id AND status = 'waiting'))) \
             RETURNING seat_label",
        );
    let claimed: Vec<String> = tx.fetch_all(claim.sql(), claim.params())?;
    Ok(claimed.into_iter().collect())
}

/// The organisation's sale with this id of theirs.
pub async fn get(
    app: &AppState,
    org_id: &PartnerOrgId,
    external_sale_id: &str,
) -> Result<CounterSale, ManageError> {
    let row: Option<SaleRow> = app
        .db
        .fetch_optional(SALE, params![org_id.as_str(), external_sale_id])
        .await?;
    row.map(|row| row.view())
        .ok_or_else(|| ManageError::UnknownCounterSale(external_sale_id.to_owned()))
}

/// Voids a sale: its seats that are still sold by it become available (offered to the
/// waitlist first). Voiding a voided sale answers it unchanged.
pub async fn void(
    app: &AppState,
    org_id: &PartnerOrgId,
    external_sale_id: &str,
) -> Result<CounterSale, ManageError> {
    let sale = get(app, org_id, external_sale_id).await?;
    if sale.status == "voided" {
        return Ok(sale);
    }
    // Freed seats reach the waitlist before the public, priced in the unit from this.
    let pricing = ShowPricing::load(app, &sale.show_id)
        .await
        .map_err(|e| ManageError::from(crate::booking::BookingError::from(e)))?;
    let now = app.clock.now();
    let hold_ms = app.config.booking.hold_secs * 1000;
    let unit = (org_id.to_string(), external_sale_id.to_owned());
    let voided = app
        .db
        .write(move |tx| -> Result<Option<SaleRow>, ManageError> {
            let (org_id, external_sale_id) = &unit;
            const VOID: &str = "UPDATE counter_sales SET status = 'voided', voided_at = $3 \
                 WHERE org_id = $1 AND external_sale_id = $2 AND status = 'sold' \
                 RETURNING id, external_sale_id, show_id, seats, status, created_at, voided_at";
            let Some(row): Option<SaleRow> =
                tx.fetch_optional(VOID, params![org_id, external_sale_id, now.as_millis()])?
            else {
                // Voided meanwhile by another request.
                return Ok(sale_by_external_id(tx, org_id, external_sale_id)?);
            };
            const RELEASE: &str = "UPDATE show_seats SET state = 'available', booking_id = NULL, \
                 held_until = NULL WHERE show_id = $1 AND booking_id = $2 AND state = 'booked' \
                 RETURNING seat_label";
            let mut released: Vec<String> =
                tx.fetch_all(RELEASE, params![&row.show_id, &row.id])?;
            released.sort();
            let view = row.view();
            let events = [
                Event::CounterSaleVoided {
                    sale_id: row.id.clone(),
                    show_id: row.show_id.clone(),
                    external_sale_id: row.external_sale_id.clone(),
                    seats: view.seats.clone(),
                },
                Event::SeatsReleased {
                    show_id: row.show_id.clone(),
                    seats: released,
                    reason: "counter-void".into(),
                },
            ];
            outbox::append_all(tx, &events, now.as_millis())?;
            waitlist::offer_freed(tx, &pricing, hold_ms, now).map_err(ManageError::from)?;
            Ok(Some(row))
        })
        .await?;
    app.cache.invalidate_show(&sale.show_id);
    metrics::counter!("marquee_counter_sales_total", "result" => "voided").increment(1);
    voided
        .map(|row| row.view())
        .ok_or_else(|| ManageError::UnknownCounterSale(external_sale_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, seats: &[&str]) -> CounterSaleRequest {
        CounterSaleRequest {
            show_id: "shw_1".into(),
            external_sale_id: id.into(),
            seats: seats.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_report_names_one_to_a_hundred_distinct_seats_under_a_printable_id() {
        assert!(check_request(&request("BO-1", &["A1", "A2"])).is_ok());
        for bad in [
            request("", &["A1"]),
            request("   ", &["A1"]),
            request("BO\n1", &["A1"]),
            request(&"x".repeat(101), &["A1"]),
            request("BO-1", &[]),
            request("BO-1", &["A1", "A1"]),
        ] {
            assert!(
                matches!(check_request(&bad), Err(ManageError::InvalidInput(_))),
                "{bad:?}"
            );
        }
        let many: Vec<String> = (0..101).map(|i| format!("S{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check_request(&request("BO-1", &refs)).is_err());
    }

    #[test]
    fn the_same_report_is_the_same_show_and_set_of_seats_in_any_order() {
        let row = SaleRow {
            id: "cts_1".into(),
            external_sale_id: "BO-1".into(),
            show_id: "shw_1".into(),
            seats: r#"["A1","A2"]"#.into(),
            status: "sold".into(),
            created_at: 0,
            voided_at: None,
        };
        assert!(row.is_same_report(&request("BO-1", &["A2", "A1"])));
        assert!(!row.is_same_report(&request("BO-1", &["A1"])));
        assert!(!row.is_same_report(&request("BO-1", &["A1", "A3"])));
        let mut other_show = request("BO-1", &["A1", "A2"]);
        other_show.show_id = "shw_2".into();
        assert!(!row.is_same_report(&other_show));
    }
}
