//! Bookings as stored and as shown.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    money::{Currency, Money},
    time::Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    PendingPayment,
    Confirmed,
    Expired,
    Cancelled,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending_payment" => Self::PendingPayment,
            "confirmed" => Self::Confirmed,
            "expired" => Self::Expired,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// A booking row, with the show facts every view needs.
#[derive(Debug, Clone)]
pub struct BookingRow {
    pub id: String,
    pub customer_id: String,
    pub show_id: String,
    pub group_id: Option<String>,
    pub status: String,
    /// JSON array of labels, in quote order.
    pub seats: String,
    pub currency: String,
    pub total: i64,
    pub fee_total: i64,
    /// JSON of the stored quote.
    pub quote: String,
    pub refund: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub confirmed_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    /// From the show.
    pub starts_at: i64,
    /// The organisation running the show's theatre.
    pub org_id: String,
}

crate::from_row!(BookingRow {
    id,
    customer_id,
    show_id,
    group_id,
    status,
    seats,
    currency,
    total,
    fee_total,
    quote,
    refund,
    expires_at,
    created_at,
    updated_at,
    confirmed_at,
    cancelled_at,
    starts_at,
    org_id
});

impl BookingRow {
    pub fn status(&self) -> BookingStatus {
        BookingStatus::parse(&self.status).unwrap_or(BookingStatus::Expired)
    }

    pub fn seat_labels(&self) -> Vec<String> {
        serde_json::from_str(&self.seats).unwrap_or_default()
    }

    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).unwrap_or(Currency::UNKNOWN)
    }
}

crate::db_row! {
    #[derive(Debug, Clone, serde::Deserialize)]
    pub struct PaymentRow {
        pub id: String,
        pub booking_id: String,
        pub provider: String,
        pub intent_id: Option<String>,
        pub status: String,
        pub amount: i64,
        pub currency: String,
        pub refund_amount: Option<i64>,
        pub failure_reason: Option<String>,
        pub created_at: i64,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    /// `pending`, `succeeded`, `failed`, `refunding` or `refunded`.
    pub status: String,
    pub amount: Money,
    /// Money returned, once refunded or being refunded.
    pub refund: Option<Money>,
    /// Why the gateway declined, for `failed`.
    pub failure_reason: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingView {
    pub id: String,
    pub status: BookingStatus,
    pub show_id: String,
    /// Shared by the bookings of one bulk request.
    pub group_id: Option<String>,
    /// Seat labels in quote order (price, highest first; then label).
    pub seats: Vec<String>,
    /// When the show starts (UTC).
    #[schema(value_type = String)]
    pub starts_at: Timestamp,
    /// When the hold lapses if unpaid.
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub confirmed_at: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub cancelled_at: Option<Timestamp>,
    /// The quote made at hold time: what the customer pays.
    #[schema(value_type = Object)]
    pub quote: serde_json::Value,
    pub total: Money,
    /// Money returned on cancellation.
    pub refund: Option<Money>,
    pub payments: Vec<PaymentView>,
}

pub fn payment_view(row: &PaymentRow) -> PaymentView {
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::UNKNOWN);
    PaymentView {
        id: row.id.clone(),
        status: row.status.clone(),
        amount: Money::new(row.amount, currency),
        refund: row.refund_amount.map(|a| Money::new(a, currency)),
        failure_reason: row.failure_reason.clone(),
        created_at: Timestamp::from_millis(row.created_at),
    }
}

pub fn booking_view(row: &BookingRow, payments: &[PaymentRow]) -> BookingView {
    let currency = row.currency();
    BookingView {
        id: row.id.clone(),
        status: row.status(),
        show_id: row.show_id.clone(),
        group_id: row.group_id.clone(),
        seats: row.seat_labels(),
        starts_at: Timestamp::from_millis(row.starts_at),
        expires_at: Timestamp::from_millis(row.expires_at),
        created_at: Timestamp::from_millis(row.created_at),
        confirmed_at: row.confirmed_at.map(Timestamp::from_millis),
        cancelled_at: row.cancelled_at.map(Timestamp::from_millis),
        quote: serde_json::from_str(&row.quote).unwrap_or(serde_json::Value::Null),
        total: Money::new(row.total, currency),
        refund: row.refund.map(|a| Money::new(a, currency)),
        payments: payments
            .iter()
            .filter(|p| p.booking_id == row.id)
            .map(payment_view)
            .collect(),
    }
}
