//! Payments: the gateway abstraction, the built-in mock gateway, taking payments for
//! bookings, the gateway's webhooks, and refunds.

pub mod card_data;
pub mod disputes;
pub mod gateway;
pub mod mock;
pub mod refunds;
pub mod routes;
pub mod service;
pub mod store;

use crate::{booking::BookingError, db::WriteError};

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Booking(#[from] BookingError),
    #[error("the card token is not valid")]
    InvalidCardToken,
    #[error(
        "this looks like a card number: never send card details to Marquee; pay with the \
         token the payment gateway's form gives you"
    )]
    CardDataRefused,
    #[error("the payment gateway is unavailable")]
    GatewayUnavailable(String),
    #[error("webhook refused: {0}")]
    InvalidSignature(&'static str),
    #[error("the payment gateway refused: {0}")]
    GatewayRefused(String),
    #[error("{0}")]
    InvalidRefund(String),
    #[error("a refund of {requested} is more than the {refundable} left of what was captured")]
    RefundExceedsCaptured { requested: i64, refundable: i64 },
    #[error("everything this booking paid has been refunded")]
    NothingToRefund,
    #[error("no payment of this booking captured money")]
    NothingCaptured,
    #[error("{0}")]
    InvalidDispute(String),
    #[error("dispute {0} not found")]
    DisputeNotFound(String),
    #[error("the dispute is {0}: evidence is taken only while it is open")]
    DisputeNotOpen(String),
    #[error("the deadline for evidence passed at {0}")]
    EvidenceDeadlinePassed(String),
    #[error("no payment provider {0}")]
    UnknownProvider(String),
    /// A correctly signed message whose contents do not match the payment it names
    /// (another intent, amount or currency): refused, recorded, never applied.
    #[error(
        "the message does not match payment {payment}: {kind} (expected {expected}, got {received})"
    )]
    Mismatch {
        payment: String,
        kind: &'static str,
        expected: String,
        received: String,
    },
    /// Internal: the booking cannot take the money (lapsed, cancelled, another amount,
    /// a seat no longer held by it); the payment is refunded instead.
    #[error("the booking cannot be confirmed")]
    Unconfirmable,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl WriteError for PaymentError {
    fn retryable(&self) -> bool {
        match self {
            PaymentError::Database(e) => crate::db::is_retryable(e),
            PaymentError::Booking(e) => e.retryable(),
            _ => false,
        }
    }
}

impl From<gateway::GatewayError> for PaymentError {
    fn from(error: gateway::GatewayError) -> Self {
        match error {
            gateway::GatewayError::InvalidCardToken => PaymentError::InvalidCardToken,
            gateway::GatewayError::Unavailable(m) => PaymentError::GatewayUnavailable(m),
            gateway::GatewayError::InvalidSignature(m) => PaymentError::InvalidSignature(m),
            gateway::GatewayError::Refused(m) => PaymentError::GatewayRefused(m),
        }
    }
}
