//! Units of work and, on SQLite, group commit.
//!
//! `Db::write` runs a closure in a write transaction and commits it. On PostgreSQL that is
//! one transaction per call, retried a bounded number of times when the server aborts it
//! for a deadlock or a serialization failure (the closure runs again from the start).
//!
//! On SQLite every commit waits for an fsync (`synchronous=FULL`), which caps one-commit-
//! per-request writing at a few thousand per second. So calls are queued to one committer
//! thread (`native`) that takes whatever has queued up, runs each call inside its own
//! `SAVEPOINT` within one transaction, commits once, and only then answers every caller.
//! A call that fails rolls back to its savepoint and leaves the others alone; if the
//! commit itself fails, every call of the batch gets the error. Nobody is told "done"
//! before the fsync.

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use super::{Conn, Db, native};

/// Attempts of one PostgreSQL unit of work aborted by a deadlock or serialization failure.
const PG_ATTEMPTS: usize = 5;

struct Command<T, E, F> {
    work: F,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> native::NativeJob for Command<T, E, F>
where
    T: Send + 'static,
    E: WriteError,
    F: for<'c> Fn(Conn<'c>) -> BoxFuture<'c, Result<T, E>> + Send + Sync + 'static,
{
    fn run(&mut self, conn: &rusqlite::Connection) -> bool {
        let outcome = native::run_unit(conn, &self.work);
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
                "a write command did not run".into(),
            ))),
        };
        // The caller may have gone away (request cancelled); the write stands regardless.
        let _ = self.reply.send(answer);
    }
}

impl Db {
    /// Runs `work` in a write transaction and commits it; returns once the result is durable.
    ///
    /// `work` may run more than once on PostgreSQL (retried after a deadlock), so it must
    /// not have effects outside the transaction. It must read through the connection it
    /// is given, never through `self`.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: for<'c> Fn(Conn<'c>) -> BoxFuture<'c, Result<T, E>> + Send + Sync + 'static,
    {
        match self {
            Db::Sqlite(sqlite) => {
                let (reply, answer) = oneshot::channel();
                let command = Box::new(Command {
                    work,
                    outcome: None,
                    reply,
                });
                sqlite.committer.submit(command).await.map_err(E::from)?;
                answer
                    .await
                    .unwrap_or_else(|_| Err(E::from(sqlx::Error::PoolClosed)))
            }
            Db::Postgres(pool) => {
                let mut attempt = 1;
                loop {
                    let mut tx = pool.begin().await?;
                    match work(Conn::Postgres(&mut tx)).await {
                        Ok(value) => match tx.commit().await {
                            Ok(()) => return Ok(value),
                            Err(error) if attempt < PG_ATTEMPTS && is_retryable(&error) => {}
                            Err(error) => return Err(E::from(error)),
                        },
                        // Dropping `tx` rolls the attempt back.
                        Err(error) if attempt < PG_ATTEMPTS && error.retryable() => {}
                        Err(error) => return Err(error),
                    }
                    attempt += 1;
                    metrics::counter!("marquee_write_retries_total").increment(1);
                }
            }
        }
    }
}

impl Db {
    /// Like [`Db::write`], for a unit of work that is one writing statement on
    /// PostgreSQL. There it runs on a pooled connection outside any transaction: the
    /// statement is its own transaction (atomic, durable when it returns), which saves the
    /// `BEGIN` and `COMMIT` round trips — two of three for a single-statement unit. The
    /// statement's conditions must decide everything (it cannot be rolled back after the
    /// fact); a read the unit makes after it, to explain a refusal, sees a later snapshot.
    /// On SQLite it is an ordinary group-committed unit of work, so its native branch may
    /// take several statements.
    pub async fn write_statement<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: for<'c> Fn(Conn<'c>) -> BoxFuture<'c, Result<T, E>> + Send + Sync + 'static,
    {
        let Db::Postgres(pool) = self else {
            return self.write(work).await;
        };
        let mut attempt = 1;
        loop {
            let mut conn = pool.acquire().await?;
            match work(Conn::Postgres(&mut conn)).await {
                Ok(value) => return Ok(value),
                Err(error) if attempt < PG_ATTEMPTS && error.retryable() => {}
                Err(error) => return Err(error),
            }
            attempt += 1;
            metrics::counter!("marquee_write_retries_total").increment(1);
        }
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
