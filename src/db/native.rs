//! The SQLite committer: one OS thread with its own connection (rusqlite), running queued
//! units of work in group-committed transactions.
//!
//! Why not sqlx for this: sqlx drives each SQLite connection from a worker thread and
//! every statement is a round trip to it (two thread wake-ups). Profiling the booking
//! flow showed those hand-offs, not SQLite, taking most of the CPU, and capping the single
//! writer at about 1,600 units of work per second. Here a whole batch runs on the thread
//! that owns the connection, statement after statement, with no hand-off; callers pay one
//! hand-off per unit of work.
//!
//! Units of work are the same async closures as on PostgreSQL (`Db::write`); on this
//! thread they receive `Conn::Native`, whose store branches call SQLite synchronously, so
//! their futures complete without ever waiting and are driven with `block_on`.

use std::{borrow::Cow, panic::AssertUnwindSafe, path::Path};

use futures::FutureExt;
use rusqlite::{Connection, ErrorCode, OpenFlags, Row, ToSql};
use tokio::sync::mpsc;

use super::Conn;

/// The committer thread's connection, lent to one unit of work at a time.
pub struct NativeConn<'c>(&'c Connection);

// SAFETY: a `NativeConn` only exists inside a unit of work running on the committer
// thread, and that unit's future is polled to completion there by `block_on`; it never
// crosses to another thread. The `Send` bound is needed only because the same closure
// type also produces PostgreSQL futures, which do move between tokio workers.
unsafe impl Send for NativeConn<'_> {}

impl NativeConn<'_> {
    pub fn connection(&self) -> &Connection {
        self.0
    }
}

/// Named parameters (`$1`, `$2`, …) for a statement.
pub type Params<'a> = &'a [(&'a str, &'a dyn ToSql)];

/// Runs a statement; returns the rows changed.
pub fn execute(conn: &NativeConn<'_>, sql: &str, params: Params<'_>) -> sqlx::Result<u64> {
    let mut statement = conn.0.prepare_cached(sql).map_err(to_sqlx)?;
    let changed = statement.execute(params).map_err(to_sqlx)?;
    Ok(changed as u64)
}

/// Runs a query (or an `UPDATE … RETURNING`) and maps every row.
pub fn query<T>(
    conn: &NativeConn<'_>,
    sql: &str,
    params: Params<'_>,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> sqlx::Result<Vec<T>> {
    let mut statement = conn.0.prepare_cached(sql).map_err(to_sqlx)?;
    let mut rows = statement.query(params).map_err(to_sqlx)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(to_sqlx)? {
        out.push(map(row).map_err(to_sqlx)?);
    }
    Ok(out)
}

/// A rusqlite error as a sqlx database error, keeping what callers test for (unique
/// violations).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NativeError {
    message: String,
    code: Option<String>,
    unique: bool,
}

impl sqlx::error::DatabaseError for NativeError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.as_deref().map(Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        if self.unique {
            sqlx::error::ErrorKind::UniqueViolation
        } else {
            sqlx::error::ErrorKind::Other
        }
    }
}

pub fn to_sqlx(error: rusqlite::Error) -> sqlx::Error {
    let (code, unique) = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => (
            Some(failure.extended_code.to_string()),
            failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ),
        ),
        _ => (None, false),
    };
    sqlx::Error::Database(Box::new(NativeError {
        message: error.to_string(),
        code,
        unique,
    }))
}

/// The error for a statement handed a connection it has no implementation for: a
/// sqlx-only statement given the native connection (`on_conn!`), or a booking write given
/// a sqlx SQLite transaction instead of running as a unit of work.
pub fn unsupported() -> sqlx::Error {
    sqlx::Error::Protocol("this statement has no implementation for this connection".into())
}

/// One queued unit of work.
pub trait NativeJob: Send {
    /// Runs on the committer thread inside the batch transaction; true when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

impl std::fmt::Debug for dyn NativeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeJob")
    }
}

/// Drives a unit of work's future on the committer thread.
pub fn run_unit<T, E>(
    conn: &Connection,
    work: impl for<'c> Fn(Conn<'c>) -> futures::future::BoxFuture<'c, Result<T, E>>,
) -> Result<T, E>
where
    E: From<sqlx::Error>,
{
    let future = AssertUnwindSafe(work(Conn::Native(NativeConn(conn)))).catch_unwind();
    match futures::executor::block_on(future) {
        Ok(outcome) => outcome,
        Err(_) => Err(E::from(sqlx::Error::Protocol(
            "a write command panicked".into(),
        ))),
    }
}

/// Handle to the committer thread.
#[derive(Clone, Debug)]
pub struct NativeCommitter {
    queue: mpsc::Sender<Box<dyn NativeJob>>,
}

impl NativeCommitter {
    /// Opens the committer's connection to the database file and starts its thread.
    pub fn start(path: &Path, max_batch: usize) -> Result<Self, sqlx::Error> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(to_sqlx)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 10000; PRAGMA temp_store = memory; \
             PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;",
        )
        .map_err(to_sqlx)?;
        conn.set_prepared_statement_cache_capacity(128);
        let (queue, jobs) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("sqlite-committer".into())
            .spawn(move || commit_loop(conn, jobs, max_batch.max(1)))
            .map_err(sqlx::Error::Io)?;
        Ok(Self { queue })
    }

    pub async fn submit(&self, job: Box<dyn NativeJob>) -> Result<(), sqlx::Error> {
        self.queue
            .send(job)
            .await
            .map_err(|_| sqlx::Error::PoolClosed)
    }
}

fn commit_loop(conn: Connection, mut jobs: mpsc::Receiver<Box<dyn NativeJob>>, max_batch: usize) {
    let mut batch: Vec<Box<dyn NativeJob>> = Vec::with_capacity(max_batch);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("marquee_group_commit_batch_size").record(batch.len() as f64);
        let committed = run_batch(&conn, &mut batch);
        if let Err(message) = &committed {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %message, size = batch.len(), "group commit failed");
        }
        for job in batch.drain(..) {
            job.finish(committed.clone());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn NativeJob>]) -> Result<(), String> {
    // Prepared once and reused: these run for every unit of work.
    let run = |sql: &str| -> Result<(), String> {
        conn.prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    run("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        run("SAVEPOINT command")?;
        if !job.run(conn) {
            run("ROLLBACK TO command")?;
        }
        run("RELEASE command")?;
    }
    run("COMMIT")
}

thread_local! {
    /// Read-only connections of this thread, by database file. Reads on the hot paths run
    /// inline on the calling thread (point lookups of a few microseconds), which costs less
    /// than handing each one to a connection's worker thread and back.
    static READERS: std::cell::RefCell<Vec<(std::path::PathBuf, Connection)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Most files one thread keeps a reader open for (tests open many databases).
const READERS_PER_THREAD: usize = 8;

/// Runs `read` on this thread's read-only connection to `path`.
pub fn read<T>(
    path: &Path,
    read: impl FnOnce(&NativeConn<'_>) -> sqlx::Result<T>,
) -> sqlx::Result<T> {
    READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        let index = match readers.iter().position(|(p, _)| p == path) {
            Some(index) => index,
            None => {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(to_sqlx)?;
                conn.execute_batch(
                    "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; \
                     PRAGMA cache_size = -16384; PRAGMA temp_store = memory;",
                )
                .map_err(to_sqlx)?;
                conn.set_prepared_statement_cache_capacity(64);
                if readers.len() >= READERS_PER_THREAD {
                    readers.remove(0);
                }
                readers.push((path.to_owned(), conn));
                readers.len() - 1
            }
        };
        read(&NativeConn(&readers[index].1))
    })
}
