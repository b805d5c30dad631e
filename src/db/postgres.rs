//! PostgreSQL: a pool for reads, and writer threads for units of work.
//!
//! Reads are async on the shared sqlx pool. A unit of work is a synchronous closure (so it
//! cannot await a pool, a cache loader or the network: see `db::unit`), which cannot run
//! on a tokio worker. It runs on one of `database.write_connections` writer threads, each
//! owning one connection and a current-thread runtime that drives it: every statement is a
//! `block_on` on the writer's own runtime, so the thread waits in its own `epoll` with no
//! hand-off per statement, only one per unit of work (queue in, answer out).
//!
//! A writer reconnects when its connection breaks (the server restarted, a network
//! failure); a unit that waited in the queue longer than `database.acquire_timeout_ms`
//! fails as the pool would (503), and a statement running longer than
//! `database.statement_timeout_ms` drops the connection (the server then cancels it).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, postgres::PgConnectOptions};

use super::sql::{FromRow, Row, Value, pg_arguments};

/// The writer's side of one queued unit of work.
pub(super) trait UnitJob: Send {
    /// Runs the unit (with its retries) on `writer` and answers the caller.
    fn run(self: Box<Self>, writer: &mut Writer);
    /// Answers the caller without running (the queue wait was too long, or shut down).
    fn refuse(self: Box<Self>, error: sqlx::Error);
    /// When the unit was queued.
    fn queued_at(&self) -> Instant;
}

#[derive(Debug)]
pub struct PostgresDb {
    pub pool: PgPool,
    writers: Writers,
}

struct Writers {
    queue: crossbeam_channel::Sender<Box<dyn UnitJob>>,
    closed: Arc<AtomicBool>,
    count: usize,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writers")
            .field("count", &self.count)
            .finish()
    }
}

/// How writers connect and how long they wait.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub options: PgConnectOptions,
    pub count: usize,
    pub queue_timeout: Duration,
    pub statement_timeout: Duration,
}

impl PostgresDb {
    pub fn new(pool: PgPool, settings: WriterSettings) -> sqlx::Result<Self> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Box<dyn UnitJob>>();
        let closed = Arc::new(AtomicBool::new(false));
        let count = settings.count.max(1);
        for n in 0..count {
            let jobs = jobs.clone();
            let settings = settings.clone();
            let closed = closed.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(sqlx::Error::Io)?;
            std::thread::Builder::new()
                .name(format!("pg-writer-{n}"))
                .spawn(move || {
                    let mut writer = Writer {
                        runtime,
                        conn: None,
                        settings,
                    };
                    while let Ok(job) = jobs.recv() {
                        if closed.load(Ordering::Acquire) {
                            job.refuse(sqlx::Error::PoolClosed);
                        } else if job.queued_at().elapsed() > writer.settings.queue_timeout {
                            job.refuse(sqlx::Error::PoolTimedOut);
                        } else {
                            job.run(&mut writer);
                        }
                    }
                    writer.close();
                })
                .map_err(sqlx::Error::Io)?;
        }
        Ok(Self {
            pool,
            writers: Writers {
                queue,
                closed,
                count,
            },
        })
    }

    pub(super) fn submit(&self, job: Box<dyn UnitJob>) {
        if self.writers.closed.load(Ordering::Acquire) {
            job.refuse(sqlx::Error::PoolClosed);
            return;
        }
        if let Err(crossbeam_channel::SendError(job)) = self.writers.queue.send(job) {
            job.refuse(sqlx::Error::PoolClosed);
        }
    }

    pub async fn close(&self) {
        self.writers.closed.store(true, Ordering::Release);
        self.pool.close().await;
    }
}

/// One writer thread's connection and runtime.
pub struct Writer {
    runtime: tokio::runtime::Runtime,
    conn: Option<PgConnection>,
    settings: WriterSettings,
}

/// True when `error` means the connection is gone or unusable (not a refusal by the
/// server of one statement): then the writer drops it and connects again.
fn is_connection_error(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Protocol(_)) || super::is_unavailable(error)
}

impl Writer {
    /// Runs `future` (a statement on this writer's connection) to completion, bounded by
    /// the statement timeout.
    fn block_on<T>(
        runtime: &tokio::runtime::Runtime,
        timeout: Duration,
        future: impl Future<Output = sqlx::Result<T>>,
    ) -> sqlx::Result<T> {
        runtime.block_on(async {
            tokio::time::timeout(timeout, future)
                .await
                .unwrap_or_else(|_| {
                    Err(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "statement timed out",
                    )))
                })
        })
    }

    /// The connection, (re)connecting if there is none.
    fn connection(&mut self) -> sqlx::Result<&mut PgConnection> {
        if self.conn.is_none() {
            let options = self.settings.options.clone();
            let conn = Self::block_on(&self.runtime, self.settings.queue_timeout, async move {
                options.connect().await
            })?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Forgets the connection after an error that broke it.
    fn after_error(&mut self, error: &sqlx::Error) {
        if is_connection_error(error) {
            self.conn = None;
        }
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.runtime.block_on(conn.close());
        }
    }

    /// Runs a statement of the unit of work.
    fn statement<T>(
        &mut self,
        run: impl AsyncFnOnce(&mut PgConnection) -> sqlx::Result<T>,
    ) -> sqlx::Result<T> {
        let timeout = self.settings.statement_timeout;
        let outcome = match self.connection() {
            Ok(_) => {
                let (runtime, conn) = (&self.runtime, &mut self.conn);
                match conn.as_mut() {
                    Some(conn) => Self::block_on(runtime, timeout, run(conn)),
                    None => Err(sqlx::Error::PoolClosed),
                }
            }
            Err(error) => Err(error),
        };
        if let Err(error) = &outcome {
            self.after_error(error);
        }
        outcome
    }

    /// `BEGIN`: if the connection turns out to be gone (the server restarted while it was
    /// idle), reconnects once, since nothing has run yet.
    pub(super) fn begin(&mut self) -> sqlx::Result<()> {
        match self.execute("BEGIN", &[]) {
            Err(error) if is_connection_error(&error) => self.execute("BEGIN", &[]).map(|_| ()),
            other => other.map(|_| ()),
        }
    }

    pub(super) fn commit(&mut self) -> sqlx::Result<()> {
        self.execute("COMMIT", &[]).map(|_| ())
    }

    /// Rolls back; a connection that cannot even do that is dropped.
    pub(super) fn rollback(&mut self) {
        if self.conn.is_some()
            && let Err(error) = self.execute("ROLLBACK", &[])
        {
            tracing::warn!(%error, "rollback failed; dropping the writer connection");
            self.conn = None;
        }
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> sqlx::Result<u64> {
        let args = pg_arguments(params)?;
        self.statement(async move |conn| {
            Ok(sqlx::query_with(sql, args)
                .execute(conn)
                .await?
                .rows_affected())
        })
    }

    pub(super) fn fetch_all<T: FromRow>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> sqlx::Result<Vec<T>> {
        let args = pg_arguments(params)?;
        let rows =
            self.statement(async move |conn| sqlx::query_with(sql, args).fetch_all(conn).await)?;
        rows.iter()
            .map(|r| T::from_row(&Row::Postgres(r)))
            .collect()
    }

    pub(super) fn fetch_optional<T: FromRow>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> sqlx::Result<Option<T>> {
        let args = pg_arguments(params)?;
        let row = self
            .statement(async move |conn| sqlx::query_with(sql, args).fetch_optional(conn).await)?;
        row.as_ref()
            .map(|r| T::from_row(&Row::Postgres(r)))
            .transpose()
    }
}

// ---- reads on the pool -----------------------------------------------------------------

pub(super) async fn fetch_all<T: FromRow>(
    pool: &PgPool,
    sql: &str,
    params: &[Value<'_>],
) -> sqlx::Result<Vec<T>> {
    let args = pg_arguments(params)?;
    let rows = sqlx::query_with(sql, args).fetch_all(pool).await?;
    rows.iter()
        .map(|r| T::from_row(&Row::Postgres(r)))
        .collect()
}

pub(super) async fn fetch_optional<T: FromRow>(
    pool: &PgPool,
    sql: &str,
    params: &[Value<'_>],
) -> sqlx::Result<Option<T>> {
    let args = pg_arguments(params)?;
    let row = sqlx::query_with(sql, args).fetch_optional(pool).await?;
    row.as_ref()
        .map(|r| T::from_row(&Row::Postgres(r)))
        .transpose()
}
