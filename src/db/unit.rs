//! Units of work: `Db::write(|tx| …)`.
//!
//! A unit of work is a **synchronous** closure over [`Tx`], the transaction's connection.
//! That is the point of it: a unit receives its connection and plain inputs computed before
//! it starts (a snapshot, a price list), and returns a value. It cannot await anything, so
//! it cannot reach a pool (a second connection, which deadlocks a one-writer engine), a
//! cache loader (whose miss reads through a pool) or the network (which holds locks for a
//! round trip it does not control). Those are `async`, and there is nothing to await with.
//!
//! On SQLite the unit runs on the committer thread inside its savepoint of a group commit;
//! on PostgreSQL on a writer thread, in its own transaction, run again from the start
//! (a bounded number of times) when the server aborts it for a deadlock or a
//! serialization failure — so it must not have effects outside the transaction.

use std::{
    cell::Cell,
    panic::{AssertUnwindSafe, catch_unwind},
    time::Instant,
};

use tokio::sync::oneshot;

use super::{
    Engine,
    postgres::{self, Writer},
    sql::{AsSql, FromRow, Value},
    sqlite,
};

/// Attempts of one PostgreSQL unit of work aborted by a deadlock or serialization failure.
const PG_ATTEMPTS: usize = 5;

thread_local! {
    /// True on this thread while a unit of work runs.
    static IN_UNIT: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is running a unit of work. Debug builds check it where a
/// unit must not be (`AppState`), so a unit that holds the application's state fails
/// every test that runs it, on both engines.
pub fn in_unit() -> bool {
    IN_UNIT.with(Cell::get)
}

/// The connection of a unit of work.
pub struct Tx<'c> {
    conn: TxConn<'c>,
}

enum TxConn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c mut Writer),
}

impl Tx<'_> {
    pub fn engine(&self) -> Engine {
        match self.conn {
            TxConn::Sqlite(_) => Engine::Sqlite,
            TxConn::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs a statement; returns the rows it changed.
    pub fn execute(&mut self, sql: impl AsSql, params: &[Value<'_>]) -> sqlx::Result<u64> {
        let engine = self.engine();
        let sql = sql.for_engine(engine);
        match &mut self.conn {
            TxConn::Sqlite(conn) => sqlite::execute(conn, sql, params),
            TxConn::Postgres(writer) => writer.execute(sql, params),
        }
    }

    pub fn fetch_all<T: FromRow>(
        &mut self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<Vec<T>> {
        let engine = self.engine();
        let sql = sql.for_engine(engine);
        match &mut self.conn {
            TxConn::Sqlite(conn) => sqlite::fetch_all(conn, sql, params),
            TxConn::Postgres(writer) => writer.fetch_all(sql, params),
        }
    }

    pub fn fetch_optional<T: FromRow>(
        &mut self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<Option<T>> {
        let engine = self.engine();
        let sql = sql.for_engine(engine);
        match &mut self.conn {
            TxConn::Sqlite(conn) => sqlite::fetch_optional(conn, sql, params),
            TxConn::Postgres(writer) => writer.fetch_optional(sql, params),
        }
    }

    /// The first row; `RowNotFound` when there is none.
    pub fn fetch_one<T: FromRow>(
        &mut self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<T> {
        self.fetch_optional(sql, params)?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

/// The error of a unit of work: built from database errors, and able to say whether it
/// was a deadlock or serialization failure worth running again.
pub trait WriteError: From<sqlx::Error> + Send + 'static {
    fn retryable(&self) -> bool;
}

/// Deadlock detected or serialization failure: the transaction can simply run again.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40P01") | Some("40001")))
}

/// Plain database work (no rules of its own) can be a unit of work too.
impl WriteError for sqlx::Error {
    fn retryable(&self) -> bool {
        is_retryable(self)
    }
}

/// Runs `unit` over `tx` with the in-unit mark set; a panic becomes an error.
fn run_marked<T, E: WriteError>(
    unit: &mut impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    mut tx: Tx<'_>,
) -> Result<T, E> {
    IN_UNIT.with(|mark| mark.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| unit(&mut tx)));
    IN_UNIT.with(|mark| mark.set(false));
    outcome.unwrap_or_else(|_| {
        Err(E::from(sqlx::Error::Protocol(
            "a unit of work panicked".into(),
        )))
    })
}

/// How a PostgreSQL unit runs: in a transaction, or as its own statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Transaction,
    /// A single statement that is its own transaction (`Db::write_statement`).
    Autocommit,
}

/// One queued unit of work, with where its answer goes.
pub(super) struct Command<T, E, F> {
    unit: F,
    mode: Mode,
    queued_at: Instant,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Command<T, E, F>
where
    T: Send + 'static,
    E: WriteError,
    F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
{
    pub(super) fn new(unit: F, mode: Mode) -> (Self, oneshot::Receiver<Result<T, E>>) {
        let (reply, answer) = oneshot::channel();
        let command = Self {
            unit,
            mode,
            queued_at: Instant::now(),
            outcome: None,
            reply,
        };
        (command, answer)
    }
}

impl<T, E, F> sqlite::UnitJob for Command<T, E, F>
where
    T: Send + 'static,
    E: WriteError,
    F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
{
    fn run(&mut self, conn: &rusqlite::Connection) -> bool {
        let tx = Tx {
            conn: TxConn::Sqlite(conn),
        };
        let outcome = run_marked(&mut self.unit, tx);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.outcome) {
            (_, Some(Err(error))) => Err(error),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(message), _) => Err(E::from(sqlx::Error::Protocol(message))),
            (Ok(()), None) => Err(E::from(sqlx::Error::Protocol(
                "a unit of work did not run".into(),
            ))),
        };
        // The caller may have gone away (request cancelled); the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

impl<T, E, F> postgres::UnitJob for Command<T, E, F>
where
    T: Send + 'static,
    E: WriteError,
    F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
{
    fn run(mut self: Box<Self>, writer: &mut Writer) {
        let answer = run_postgres(&mut self.unit, self.mode, writer);
        let _ = self.reply.send(answer);
    }

    fn refuse(self: Box<Self>, error: sqlx::Error) {
        let _ = self.reply.send(Err(E::from(error)));
    }

    fn queued_at(&self) -> Instant {
        self.queued_at
    }
}

fn run_postgres<T, E: WriteError>(
    unit: &mut impl FnMut(&mut Tx<'_>) -> Result<T, E>,
    mode: Mode,
    writer: &mut Writer,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        if mode == Mode::Transaction {
            writer.begin()?;
        }
        let tx = Tx {
            conn: TxConn::Postgres(writer),
        };
        match run_marked(unit, tx) {
            Ok(value) if mode == Mode::Autocommit => return Ok(value),
            Ok(value) => match writer.commit() {
                Ok(()) => return Ok(value),
                Err(error) if attempt < PG_ATTEMPTS && is_retryable(&error) => {}
                Err(error) => return Err(E::from(error)),
            },
            Err(error) => {
                if mode == Mode::Transaction {
                    writer.rollback();
                }
                if attempt >= PG_ATTEMPTS || !error.retryable() {
                    return Err(error);
                }
            }
        }
        attempt += 1;
        metrics::counter!("marquee_write_retries_total").increment(1);
    }
}
