//! Payments: the gateway abstraction, the built-in mock gateway, taking payments for
//! bookings, the gateway's webhooks, and refunds.

pub mod card_data;
pub mod gateway;
pub mod mock;
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
        }
    }
}
