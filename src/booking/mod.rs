//! Booking: holding seats, confirming them when payment lands, expiry, cancellation (by the
//! customer or with the whole show), bulk bookings, history and tickets.
//!
//! The seat claim is one conditional statement in the unit of work that inserts the
//! booking (see `store::hold`); everything that changes seats or bookings is a unit of
//! work (`Db::write`), so on SQLite it shares group commits and on PostgreSQL it retries
//! deadlocks.

pub mod contention;
pub mod model;
pub mod reminders;
pub mod routes;
pub mod service;
pub mod show_changes;
pub mod store;
pub mod sweeper;
pub mod tickets;
pub mod waitlist;
pub mod watch;

use crate::{catalog::CatalogError, db::WriteError, offers::service::OfferError};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("{0}")]
    Invalid(String),
    #[error("show {0} not found")]
    ShowNotFound(String),
    #[error("booking {0} not found")]
    NotFound(String),
    #[error("the show is not on sale: it has started or was cancelled")]
    ShowNotOnSale,
    #[error("these seats are not in the show: {}", .0.join(", "))]
    UnknownSeats(Vec<String>),
    #[error("these seats are not available: {}", .0.join(", "))]
    SeatsUnavailable(Vec<String>),
    #[error(
        "an account holds at most {per_show} seats of one show and {per_account} in all; \
         you hold {in_show} of this show and {in_all} in all: pay for or release a hold first"
    )]
    HoldLimitReached {
        in_show: i64,
        in_all: i64,
        per_show: i64,
        per_account: i64,
    },
    #[error("the booking's hold expired; hold the seats again")]
    Expired,
    /// The show has a waiting room and this hold brings no valid admission for it.
    #[error("{0}")]
    AdmissionRequired(String),
    #[error("an account may have at most {cap} seats of this show; you have {have} held or bought")]
    SeatCapReached { cap: i64, have: i64 },
    #[error("the booking is {0}, not awaiting payment")]
    NotPending(&'static str),
    #[error("a payment for this booking is already pending or succeeded")]
    PaymentInProgress,
    #[error("bookings can be cancelled until {0} minutes before the show")]
    CancellationClosed(i64),
    #[error("the booking is {0} and cannot be cancelled")]
    NotCancellable(&'static str),
    #[error("a ticket exists only for a confirmed booking; this one is {0}")]
    TicketUnavailable(&'static str),
    #[error("the ticket code is not one Marquee issued")]
    InvalidTicket,
    /// A concurrent request with the same idempotency key committed first.
    #[error("a request with this idempotency key is in progress")]
    IdempotencyRace,
    #[error("no proposal: the show has not {0}")]
    NoSeatsToPropose(String),
    #[error("{0} seats are available now: book them instead of waiting")]
    SeatsAvailable(i64),
    #[error("you are already on this show's waitlist ({0})")]
    AlreadyWaiting(String),
    #[error("waitlist entry {0} not found")]
    EntryNotFound(String),
    #[error("the waitlist entry is {0}, no longer waiting")]
    EntryNotWaiting(String),
    #[error(transparent)]
    Pricing(OfferError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl WriteError for BookingError {
    fn retryable(&self) -> bool {
        matches!(self, BookingError::Database(e) if crate::db::is_retryable(e))
    }
}

impl From<CatalogError> for BookingError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::ShowNotFound(id) => BookingError::ShowNotFound(id),
            CatalogError::Database(e) => BookingError::Database(e),
            other => BookingError::Invalid(other.to_string()),
        }
    }
}

impl From<OfferError> for BookingError {
    fn from(error: OfferError) -> Self {
        match error {
            OfferError::ShowNotFound(id) => BookingError::ShowNotFound(id),
            OfferError::UnknownSeats(seats) => BookingError::UnknownSeats(seats),
            OfferError::Database(e) => BookingError::Database(e),
            other => BookingError::Pricing(other),
        }
    }
}
