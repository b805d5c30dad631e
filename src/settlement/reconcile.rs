//! Reconciliation: Marquee's payments against the gateway's own record of what it moved
//! (its ledger of captures and refunds, like an acquirer's settlement file). Every
//! capture and refund the gateway lists for the period must match one of our payments, in
//! amount and currency, once; every payment we captured or refunded in the period must be
//! in the gateway's record. Whatever does not match is listed with the reason.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::{CsvOut, SettlementError};
use crate::{app::AppState, db::QueryBuilder, db_row, params, time::local_day_bounds};

/// Payment states in which the money was captured.
const CAPTURED: [&str; 3] = ["succeeded", "refunding", "refunded"];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reconciliation {
    /// The day reconciled (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// Entries of the gateway's record and payments of ours that matched.
    pub matched: i64,
    /// Per currency: what the gateway and Marquee say moved in the day.
    pub totals: Vec<CurrencyTotals>,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CurrencyTotals {
    pub currency: String,
    pub gateway_captured: i64,
    pub gateway_refunded: i64,
    pub marquee_captured: i64,
    pub marquee_refunded: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Mismatch {
    /// `missing_in_marquee` (the gateway moved money for no payment of ours, or for one we
    /// do not count as captured or refunded), `missing_at_gateway` (we count money the
    /// gateway has no record of), `amount_differs`, `currency_differs` or `duplicate` (the
    /// gateway moved it twice).
    pub kind: String,
    /// `capture` or `refund`.
    pub movement: String,
    pub payment_id: String,
    pub booking_id: Option<String>,
    /// The gateway's entry, when it has one.
    pub gateway_entry_id: Option<String>,
    pub marquee_amount: Option<i64>,
    pub gateway_amount: Option<i64>,
    pub currency: String,
    pub reason: String,
}

db_row! {
    struct LedgerRow {
        id: String,
        kind: String,
        payment_id: String,
        amount: i64,
        currency: String,
    }
}

db_row! {
    /// A refund by the staff the gateway confirmed (its ledger entry is `gateway_refund_id`).
    struct StaffRefund {
        id: String,
        payment_id: String,
        amount: i64,
        currency: String,
        gateway_refund_id: String,
        completed_at: i64,
    }
}

db_row! {
    struct PaymentRow {
        id: String,
        booking_id: String,
        status: String,
        amount: i64,
        currency: String,
        refund_amount: Option<i64>,
        created_at: i64,
        updated_at: i64,
    }
}

/// Reconciles the UTC day `date`.
pub async fn reconcile_day(
    app: &AppState,
    date: NaiveDate,
) -> Result<Reconciliation, SettlementError> {
    let (start, end) = local_day_bounds(date, chrono_tz::Tz::UTC);
    let (start, end) = (start.as_millis(), end.as_millis());
    let theirs: Vec<LedgerRow> = app
        .db
        .fetch_all(
            "SELECT id, kind, payment_id, amount, currency FROM mock_gateway_ledger \
             WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, id",
            params![start, end],
        )
        .await?;
    const PAYMENT: &str = "SELECT id, booking_id, status, amount, currency, refund_amount, \
         created_at, updated_at FROM payments";
    // Ours in the period: captured payments asked for in it, refunds completed in it.
    let ours: Vec<PaymentRow> = app
        .db
        .fetch_all(
            &format!(
                "{PAYMENT} WHERE (created_at >= $1 AND created_at < $2 \
                   AND status IN ('succeeded', 'refunding', 'refunded')) \
                 OR (updated_at >= $1 AND updated_at < $2 AND status = 'refunded')"
            ),
            params![start, end],
        )
        .await?;
    // The staff's refunds completed in the period.
    let completed: Vec<StaffRefund> = app
        .db
        .fetch_all(
            "SELECT id, payment_id, amount, currency, gateway_refund_id, completed_at \
             FROM refunds WHERE status = 'succeeded' AND completed_at >= $1 AND completed_at < $2",
            params![start, end],
        )
        .await?;
    // Every payment and ledger entry the two sides name, wherever in time.
    let mut named: Vec<String> = theirs.iter().map(|e| e.payment_id.clone()).collect();
    named.extend(ours.iter().map(|p| p.id.clone()));
    named.extend(completed.iter().map(|r| r.payment_id.clone()));
    named.sort();
    named.dedup();
    let mut payments: HashMap<String, PaymentRow> = HashMap::new();
    let mut entries: HashMap<String, Vec<LedgerRow>> = HashMap::new();
    let mut staff: Vec<StaffRefund> = Vec::new();
    for chunk in named.chunks(500) {
        let mut refunds = QueryBuilder::new(
            app.db.engine(),
            "SELECT id, payment_id, amount, currency, gateway_refund_id, completed_at \
             FROM refunds WHERE status = 'succeeded' AND payment_id",
        );
        refunds.push_in(chunk);
        staff.extend(
            app.db
                .fetch_all::<StaffRefund>(refunds.sql(), refunds.params())
                .await?,
        );
        let mut by_id = QueryBuilder::new(app.db.engine(), format!("{PAYMENT} WHERE id"));
        by_id.push_in(chunk);
        let found: Vec<PaymentRow> = app.db.fetch_all(by_id.sql(), by_id.params()).await?;
        payments.extend(found.into_iter().map(|p| (p.id.clone(), p)));
        let mut ledger = QueryBuilder::new(
            app.db.engine(),
            "SELECT id, kind, payment_id, amount, currency FROM mock_gateway_ledger \
             WHERE payment_id",
        );
        ledger.push_in(chunk).push(" ORDER BY occurred_at, id");
        let ledger: Vec<LedgerRow> = app.db.fetch_all(ledger.sql(), ledger.params()).await?;
        for entry in ledger {
            entries
                .entry(entry.payment_id.clone())
                .or_default()
                .push(entry);
        }
    }
    Ok(compare(
        date, start, end, &theirs, &ours, &payments, &entries, &staff,
    ))
}

/// The comparison itself. Pure.
#[allow(clippy::too_many_arguments)]
fn compare(
    date: NaiveDate,
    start: i64,
    end: i64,
    theirs: &[LedgerRow],
    ours: &[PaymentRow],
    payments: &HashMap<String, PaymentRow>,
    entries: &HashMap<String, Vec<LedgerRow>>,
    staff: &[StaffRefund],
) -> Reconciliation {
    // A payment may have several refunds by the staff, each its own entry at the gateway.
    let staff_by_entry: HashMap<&str, &StaffRefund> = staff
        .iter()
        .map(|r| (r.gateway_refund_id.as_str(), r))
        .collect();
    let mut matched = 0;
    let mut mismatches = Vec::new();
    let mut totals: BTreeMap<String, CurrencyTotals> = BTreeMap::new();
    fn total<'a>(
        totals: &'a mut BTreeMap<String, CurrencyTotals>,
        currency: &str,
    ) -> &'a mut CurrencyTotals {
        totals
            .entry(currency.to_owned())
            .or_insert_with(|| CurrencyTotals {
                currency: currency.to_owned(),
                ..CurrencyTotals::default()
            })
    }
    let mismatch = |kind: &str, movement: &str, payment_id: &str, why: String| Mismatch {
        kind: kind.to_owned(),
        movement: movement.to_owned(),
        payment_id: payment_id.to_owned(),
        booking_id: payments.get(payment_id).map(|p| p.booking_id.clone()),
        gateway_entry_id: None,
        marquee_amount: None,
        gateway_amount: None,
        currency: String::new(),
        reason: why,
    };
    for entry in theirs {
        let t = total(&mut totals, &entry.currency);
        if entry.kind == "capture" {
            t.gateway_captured += entry.amount;
        } else {
            t.gateway_refunded += entry.amount;
        }
        let with_entry = |mut m: Mismatch, ours: Option<i64>| {
            m.gateway_entry_id = Some(entry.id.clone());
            m.gateway_amount = Some(entry.amount);
            m.marquee_amount = ours;
            m.currency = entry.currency.clone();
            m
        };
        if entry.kind == "refund"
            && let Some(refund) = staff_by_entry.get(entry.id.as_str())
        {
            if refund.amount != entry.amount || refund.currency != entry.currency {
                mismatches.push(with_entry(
                    mismatch(
                        "amount_differs",
                        "refund",
                        &entry.payment_id,
                        format!(
                            "Marquee's refund {} is {} {}, the gateway's {} {}",
                            refund.id, refund.amount, refund.currency, entry.amount, entry.currency
                        ),
                    ),
                    Some(refund.amount),
                ));
            } else {
                matched += 1;
            }
            continue;
        }
        // The same movement listed twice: the later one is the duplicate (the staff's
        // refunds, several per payment, are matched above by their own entries).
        let earlier = entries
            .get(&entry.payment_id)
            .into_iter()
            .flatten()
            .filter(|e| e.kind == entry.kind && !staff_by_entry.contains_key(e.id.as_str()))
            .take_while(|e| e.id != entry.id)
            .count();
        if earlier > 0 {
            mismatches.push(with_entry(
                mismatch(
                    "duplicate",
                    &entry.kind,
                    &entry.payment_id,
                    format!("the gateway lists this {} more than once", entry.kind),
                ),
                None,
            ));
            continue;
        }
        let Some(payment) = payments.get(&entry.payment_id) else {
            mismatches.push(with_entry(
                mismatch(
                    "missing_in_marquee",
                    &entry.kind,
                    &entry.payment_id,
                    "Marquee has no such payment".into(),
                ),
                None,
            ));
            continue;
        };
        let (ours_amount, counted) = if entry.kind == "capture" {
            (payment.amount, CAPTURED.contains(&payment.status.as_str()))
        } else {
            (
                payment.refund_amount.unwrap_or(0),
                matches!(payment.status.as_str(), "refunding" | "refunded"),
            )
        };
        if !counted {
            mismatches.push(with_entry(
                mismatch(
                    "missing_in_marquee",
                    &entry.kind,
                    &entry.payment_id,
                    format!("the payment is {} in Marquee", payment.status),
                ),
                Some(ours_amount),
            ));
        } else if payment.currency != entry.currency {
            mismatches.push(with_entry(
                mismatch(
                    "currency_differs",
                    &entry.kind,
                    &entry.payment_id,
                    format!("Marquee has it in {}", payment.currency),
                ),
                Some(ours_amount),
            ));
        } else if ours_amount != entry.amount {
            mismatches.push(with_entry(
                mismatch(
                    "amount_differs",
                    &entry.kind,
                    &entry.payment_id,
                    format!("Marquee has {ours_amount}, the gateway {}", entry.amount),
                ),
                Some(ours_amount),
            ));
        } else {
            matched += 1;
        }
    }
    for payment in ours {
        let listed = |kind: &str| {
            entries
                .get(&payment.id)
                .is_some_and(|es| es.iter().any(|e| e.kind == kind))
        };
        if payment.created_at >= start && payment.created_at < end {
            total(&mut totals, &payment.currency).marquee_captured += payment.amount;
            if !listed("capture") {
                let mut m = mismatch(
                    "missing_at_gateway",
                    "capture",
                    &payment.id,
                    format!(
                        "Marquee counts it captured ({}); the gateway has no capture",
                        payment.status
                    ),
                );
                m.marquee_amount = Some(payment.amount);
                m.currency = payment.currency.clone();
                mismatches.push(m);
            }
        }
        if payment.status == "refunded" && payment.updated_at >= start && payment.updated_at < end {
            let refunded = payment.refund_amount.unwrap_or(0);
            total(&mut totals, &payment.currency).marquee_refunded += refunded;
            if refunded > 0 && !listed("refund") {
                let mut m = mismatch(
                    "missing_at_gateway",
                    "refund",
                    &payment.id,
                    "Marquee counts it refunded; the gateway has no refund".into(),
                );
                m.marquee_amount = Some(refunded);
                m.currency = payment.currency.clone();
                mismatches.push(m);
            }
        }
    }
    for refund in staff {
        if refund.completed_at < start || refund.completed_at >= end {
            continue;
        }
        total(&mut totals, &refund.currency).marquee_refunded += refund.amount;
        let listed = entries
            .get(&refund.payment_id)
            .is_some_and(|es| es.iter().any(|e| e.id == refund.gateway_refund_id));
        if !listed {
            let mut m = mismatch(
                "missing_at_gateway",
                "refund",
                &refund.payment_id,
                format!("Marquee's refund {} has no entry at the gateway", refund.id),
            );
            m.marquee_amount = Some(refund.amount);
            m.currency = refund.currency.clone();
            mismatches.push(m);
        }
    }
    Reconciliation {
        date: date.to_string(),
        matched,
        totals: totals.into_values().collect(),
        mismatches,
    }
}

/// The mismatches as CSV.
pub fn to_csv(report: &Reconciliation) -> Result<Vec<u8>, SettlementError> {
    let mut out = CsvOut::new();
    out.row([
        "date",
        "kind",
        "movement",
        "payment_id",
        "booking_id",
        "gateway_entry_id",
        "currency",
        "marquee_amount",
        "gateway_amount",
        "reason",
    ])?;
    let text = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for m in &report.mismatches {
        out.row([
            report.date.as_str(),
            &m.kind,
            &m.movement,
            &m.payment_id,
            m.booking_id.as_deref().unwrap_or(""),
            m.gateway_entry_id.as_deref().unwrap_or(""),
            &m.currency,
            &text(m.marquee_amount),
            &text(m.gateway_amount),
            &m.reason,
        ])?;
    }
    out.finish()
}
