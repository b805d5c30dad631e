//! Settlement: paying partners and checking the money.
//!
//! - `lines`: the money rules (what a sale and a refund are worth to the partner and to
//!   the platform), plain functions;
//! - `commission`: the rates administrators set per organisation, by business date;
//! - `runs`: one statement per organisation and business day (T+1), idempotent, made by a
//!   scheduled job on every node or by an administrator;
//! - `reconcile`: our payments against the gateway's ledger;
//! - `reports`: sums of settled lines for administrators.

pub mod commission;
pub mod lines;
pub mod reconcile;
pub mod reports;
pub mod routes;
pub mod runs;

/// What can go wrong in settlement.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("no partner organisation {0}")]
    UnknownPartner(String),
    #[error("no settlement {0}")]
    UnknownSettlement(String),
    #[error("business day {0} is not over yet in every timezone the organisation has theatres in")]
    DayNotOver(String),
    #[error(
        "business day {0} cannot be settled: {1} is settled already (its facts are in that statement)"
    )]
    DayClosed(String, String),
    #[error("the commission rate cannot be set: {0}")]
    RateConflict(String),
    #[error("the day is being settled by another request; retry")]
    Busy,
    #[error("{0}")]
    Internal(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// A CSV document being written (statements, reconciliations, reports).
pub(crate) struct CsvOut(csv::Writer<Vec<u8>>);

impl CsvOut {
    pub(crate) fn new() -> Self {
        Self(csv::Writer::from_writer(Vec::new()))
    }

    pub(crate) fn row<I, T>(&mut self, fields: I) -> Result<(), SettlementError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.0
            .write_record(fields)
            .map_err(|e| SettlementError::Internal(e.to_string()))
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, SettlementError> {
        self.0
            .into_inner()
            .map_err(|e| SettlementError::Internal(e.to_string()))
    }
}

impl crate::db::WriteError for SettlementError {
    fn retryable(&self) -> bool {
        matches!(self, SettlementError::Database(e) if crate::db::is_retryable(e))
    }
}
