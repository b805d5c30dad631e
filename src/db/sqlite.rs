//! SQLite: one writer, the committer, and inline readers, all over rusqlite.
//!
//! **The committer** is one OS thread with the only writing connection. It takes every
//! unit of work queued (up to `booking.group_commit_max_batch`), runs each inside its own
//! `SAVEPOINT` of one `BEGIN IMMEDIATE` transaction, commits once and only then answers
//! every caller: durable (`synchronous=FULL`), and one fsync covers many units. A unit that
//! fails rolls back to its savepoint and leaves the others alone. Units are synchronous
//! closures over the committer's connection, so a batch runs statement after statement on
//! the thread that owns the connection, with no hand-off per statement.
//!
//! **Readers** run on the calling thread, on a read-only connection that thread keeps open
//! per database file (WAL: readers never wait for the writer). A point lookup costs a few
//! microseconds, less than handing it to another thread and back.
//!
//! Why not sqlx's SQLite driver: it drives each connection from a worker thread, and every
//! statement is a round trip to it (two thread wake-ups). Profiling the booking flow showed
//! those hand-offs, not SQLite, taking most of the CPU and capping the writer at about
//! 1,600 units of work per second; it also made a second writer (its pool) beside the
//! committer. Migrations are embedded with sqlx's `migrate!` and applied here, recorded in
//! the same `_sqlx_migrations` table sqlx keeps.

use std::{
    borrow::Cow,
    cell::RefCell,
    path::{Path, PathBuf},
    sync::{
        Arc, LazyLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use rusqlite::{CachedStatement, Connection, ErrorCode, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use super::sql::{FromRow, Row, Value};

/// The committer's side of one queued unit of work.
pub(super) trait UnitJob: Send {
    /// Runs inside the batch transaction, in its own savepoint; true when it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

enum Job {
    Unit(Box<dyn UnitJob>),
    /// Work that needs the connection to itself, outside any batch (migrations).
    Alone(Box<dyn FnOnce(&Connection) + Send>),
    /// Refuse new work; finish what is queued, then end the thread.
    Stop,
}

/// Handle to the committer thread.
#[derive(Debug, Clone)]
pub struct Committer {
    queue: mpsc::Sender<Job>,
    /// Set by `close`: from then on work is refused here, before it reaches the queue.
    closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Committer {
    /// Opens the committer's connection to the database file and starts its thread.
    pub fn start(path: &Path, max_batch: usize) -> sqlx::Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(to_sqlx)?;
        // A small page cache on purpose: every commit after a b-tree split walks the whole
        // page-cache hash table (SQLite parks a page under the lock-page number while it
        // rebalances, and drops it at commit), and that table only grows, to about the
        // number of pages the cache once held. 8 MiB keeps the walk short; pages not in
        // it come from the memory map or the WAL.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 10000; PRAGMA temp_store = memory; \
             PRAGMA cache_size = -8192; PRAGMA mmap_size = 268435456;",
        )
        .map_err(to_sqlx)?;
        conn.set_prepared_statement_cache_capacity(256);
        let (queue, jobs) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("sqlite-committer".into())
            .spawn(move || commit_loop(conn, jobs, max_batch.max(1)))
            .map_err(sqlx::Error::Io)?;
        Ok(Self {
            queue,
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    async fn send(&self, job: Job) -> sqlx::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        self.queue
            .send(job)
            .await
            .map_err(|_| sqlx::Error::PoolClosed)
    }

    pub(super) async fn submit(&self, job: Box<dyn UnitJob>) -> sqlx::Result<()> {
        self.send(Job::Unit(job)).await
    }

    /// Runs `work` on the committer's connection with nothing else in flight.
    async fn alone<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> T + Send + 'static,
    ) -> sqlx::Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Alone(Box::new(move |conn: &Connection| {
            let _ = reply.send(work(conn));
        }));
        self.send(job).await?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)
    }

    /// True when the committer answers (for `/readyz`).
    pub async fn ping(&self) -> sqlx::Result<()> {
        self.alone(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(to_sqlx))
            .await?
    }

    /// Applies the embedded migrations that are not applied yet, each in its own
    /// transaction, recording them as sqlx does.
    pub async fn migrate(
        &self,
        migrator: &'static sqlx::migrate::Migrator,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        self.alone(move |conn| apply_migrations(conn, migrator))
            .await
            .map_err(sqlx::migrate::MigrateError::Execute)?
    }

    /// Stops taking work; the thread ends once what is queued is done.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.queue.send(Job::Stop).await;
    }
}

fn commit_loop(conn: Connection, mut jobs: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch: Vec<Box<dyn UnitJob>> = Vec::with_capacity(max_batch);
    while let Some(first) = jobs.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Unit(unit) => batch.push(unit),
                Job::Alone(work) => {
                    // Whatever was batched before it commits first, in queue order.
                    commit(&conn, &mut batch);
                    work(&conn);
                }
                // Senders now fail; what is queued still runs, then `blocking_recv` ends.
                Job::Stop => jobs.close(),
            }
            if batch.len() < max_batch {
                next = jobs.try_recv().ok();
            }
        }
        commit(&conn, &mut batch);
    }
}

fn commit(conn: &Connection, batch: &mut Vec<Box<dyn UnitJob>>) {
    if batch.is_empty() {
        return;
    }
    metrics::histogram!("marquee_group_commit_batch_size").record(batch.len() as f64);
    let committed = run_batch(conn, batch);
    if let Err(message) = &committed {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!(error = %message, size = batch.len(), "group commit failed");
    }
    for job in batch.drain(..) {
        job.finish(committed.clone());
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn UnitJob>]) -> Result<(), String> {
    // Prepared once and reused: these run for every unit of work.
    let run = |sql: &str| -> Result<(), String> {
        conn.prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    run("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        run("SAVEPOINT unit")?;
        if !job.run(conn) {
            run("ROLLBACK TO unit")?;
        }
        run("RELEASE unit")?;
    }
    run("COMMIT")
}

fn apply_migrations(
    conn: &Connection,
    migrator: &sqlx::migrate::Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::migrate::MigrateError;
    let failed = |e: rusqlite::Error| MigrateError::Execute(to_sqlx(e));
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations ( \
           version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
           installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
           success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .map_err(failed)?;
    let applied: Vec<(i64, Vec<u8>, bool)> = {
        let mut statement = conn
            .prepare("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .map_err(failed)?;
        let rows = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(failed)?;
        rows.collect::<Result<_, _>>().map_err(failed)?
    };
    if let Some((version, ..)) = applied.iter().find(|(_, _, success)| !success) {
        return Err(MigrateError::Dirty(*version));
    }
    for migration in migrator.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        if let Some((_, checksum, _)) = applied.iter().find(|(v, ..)| *v == migration.version) {
            if checksum.as_slice() != &*migration.checksum {
                return Err(MigrateError::VersionMismatch(migration.version));
            }
            continue;
        }
        let started = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE").map_err(failed)?;
        let outcome = conn.execute_batch(&migration.sql).and_then(|()| {
            conn.execute(
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES (?1, ?2, TRUE, ?3, ?4)",
                rusqlite::params![
                    migration.version,
                    &*migration.description,
                    &*migration.checksum,
                    started.elapsed().as_nanos() as i64
                ],
            )
        });
        match outcome {
            Ok(_) => conn.execute_batch("COMMIT").map_err(failed)?,
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(failed(error));
            }
        }
    }
    Ok(())
}

// ---- statements ------------------------------------------------------------------------

/// `$1` … `$128`, the names SQLite gives our most used placeholders.
static PLACEHOLDERS: LazyLock<Vec<String>> =
    LazyLock::new(|| (1..=128).map(|i| format!("${i}")).collect());

/// The name of the placeholder of the parameter at `index` (from 0).
fn placeholder(index: usize) -> Cow<'static, str> {
    match PLACEHOLDERS.get(index) {
        Some(name) => Cow::Borrowed(name.as_str()),
        None => Cow::Owned(format!("${}", index + 1)),
    }
}

/// Prepares `sql` (cached per connection) and binds `params` to `$1`, `$2`, … by name.
/// A statement taking another number of parameters than given is refused, as PostgreSQL
/// refuses it, so a mistake shows on both engines alike.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[Value<'_>],
) -> sqlx::Result<CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql).map_err(to_sqlx)?;
    if statement.parameter_count() != params.len() {
        return Err(sqlx::Error::Protocol(format!(
            "statement takes {} parameters, {} given: {sql}",
            statement.parameter_count(),
            params.len()
        )));
    }
    for (i, value) in params.iter().enumerate() {
        let name = placeholder(i);
        let index = statement
            .parameter_index(&name)
            .map_err(to_sqlx)?
            .ok_or_else(|| {
                sqlx::Error::Protocol(format!("statement has no parameter {name}: {sql}"))
            })?;
        statement
            .raw_bind_parameter(index, value)
            .map_err(to_sqlx)?;
    }
    Ok(statement)
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Value<'_>]) -> sqlx::Result<u64> {
    let mut statement = prepare(conn, sql, params)?;
    let changed = statement.raw_execute().map_err(to_sqlx)?;
    Ok(changed as u64)
}

pub(super) fn fetch_all<T: FromRow>(
    conn: &Connection,
    sql: &str,
    params: &[Value<'_>],
) -> sqlx::Result<Vec<T>> {
    let mut statement = prepare(conn, sql, params)?;
    let columns = column_names(&statement);
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(to_sqlx)? {
        out.push(T::from_row(&Row::Sqlite {
            row,
            columns: &columns,
        })?);
    }
    Ok(out)
}

pub(super) fn fetch_optional<T: FromRow>(
    conn: &Connection,
    sql: &str,
    params: &[Value<'_>],
) -> sqlx::Result<Option<T>> {
    let mut statement = prepare(conn, sql, params)?;
    let columns = column_names(&statement);
    let mut rows = statement.raw_query();
    match rows.next().map_err(to_sqlx)? {
        Some(row) => Ok(Some(T::from_row(&Row::Sqlite {
            row,
            columns: &columns,
        })?)),
        None => Ok(None),
    }
}

fn column_names(statement: &CachedStatement<'_>) -> Vec<String> {
    statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

// ---- readers ---------------------------------------------------------------------------

thread_local! {
    /// Read-only connections of this thread, by database file.
    static READERS: RefCell<Vec<(PathBuf, Connection)>> = const { RefCell::new(Vec::new()) };
}

/// Most files one thread keeps a reader open for (tests open many databases).
const READERS_PER_THREAD: usize = 8;

/// Runs `read` on this thread's read-only connection to `path`.
pub(super) fn read<T>(
    path: &Path,
    read: impl FnOnce(&Connection) -> sqlx::Result<T>,
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
                conn.set_prepared_statement_cache_capacity(128);
                if readers.len() >= READERS_PER_THREAD {
                    readers.remove(0);
                }
                readers.push((path.to_owned(), conn));
                readers.len() - 1
            }
        };
        read(&readers[index].1)
    })
}

// ---- errors ----------------------------------------------------------------------------

/// A rusqlite error as a sqlx database error, keeping what callers test for (unique
/// violations, the constraint that refused).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SqliteError {
    message: String,
    code: Option<String>,
    kind: ConstraintKind,
    /// `table.column, …` of a unique violation, as SQLite reports it.
    constraint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConstraintKind {
    None,
    Unique,
    ForeignKey,
    Check,
    NotNull,
}

impl sqlx::error::DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.as_deref().map(Cow::Borrowed)
    }

    fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
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
        match self.kind {
            ConstraintKind::Unique => sqlx::error::ErrorKind::UniqueViolation,
            ConstraintKind::ForeignKey => sqlx::error::ErrorKind::ForeignKeyViolation,
            ConstraintKind::Check => sqlx::error::ErrorKind::CheckViolation,
            ConstraintKind::NotNull => sqlx::error::ErrorKind::NotNullViolation,
            ConstraintKind::None => sqlx::error::ErrorKind::Other,
        }
    }
}

pub fn to_sqlx(error: rusqlite::Error) -> sqlx::Error {
    let (code, kind) = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => (
            Some(failure.extended_code.to_string()),
            match (failure.code, failure.extended_code) {
                (
                    ErrorCode::ConstraintViolation,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                ) => ConstraintKind::Unique,
                (ErrorCode::ConstraintViolation, rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => {
                    ConstraintKind::ForeignKey
                }
                (ErrorCode::ConstraintViolation, rusqlite::ffi::SQLITE_CONSTRAINT_CHECK) => {
                    ConstraintKind::Check
                }
                (ErrorCode::ConstraintViolation, rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL) => {
                    ConstraintKind::NotNull
                }
                _ => ConstraintKind::None,
            },
        ),
        _ => (None, ConstraintKind::None),
    };
    let message = error.to_string();
    let constraint = (kind == ConstraintKind::Unique)
        .then(|| message.strip_prefix("UNIQUE constraint failed: "))
        .flatten()
        .map(str::to_owned);
    sqlx::Error::Database(Box::new(SqliteError {
        message,
        code,
        kind,
        constraint,
    }))
}
