//! One codebase, two engines, one way to reach each.
//!
//! - **Reads**: `db.fetch_all(sql, params![…])`, `fetch_optional`, `fetch_one` (async). On
//!   SQLite they run inline on the calling thread's read-only connection; on PostgreSQL on
//!   the pool.
//! - **Writes**: `db.write(|tx| …)`, a unit of work: a synchronous closure over the
//!   transaction's connection (`Tx`), which runs the same statements with the same
//!   methods. On SQLite every write goes through the group committer (the one writing
//!   connection); on PostgreSQL through a writer thread (see `unit`, `sqlite`, `postgres`).
//!
//! A statement is written once (`$1` placeholders, `RETURNING`, `ON CONFLICT` mean the same
//! on both); where the dialects must differ the statement is a [`Sql`] pair, visible where
//! it is used. The engine is chosen once, from the URL ([`Engine::of_url`]).

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    ConnectOptions,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::Config;

pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod unit;

pub use sql::{AsSql, Column, FromRow, QueryBuilder, Row, Sql, Value};
pub use unit::{Tx, WriteError, in_unit, is_retryable};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `database_url` names; `None` for anything else.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(Arc<SqliteDb>),
    Postgres(Arc<postgres::PostgresDb>),
}

#[derive(Debug)]
pub struct SqliteDb {
    /// The database file; each thread reads it through its own connection.
    pub path: PathBuf,
    /// The one writing connection, running units of work in group commits.
    pub committer: sqlite::Committer,
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Self, sqlx::Error> {
        let url = config.database_url.as_str();
        let acquire_timeout = Duration::from_millis(config.database.acquire_timeout_ms);
        match Engine::of_url(url) {
            Some(Engine::Sqlite) => {
                let path = sqlite_path(url)?;
                let committer =
                    sqlite::Committer::start(&path, config.booking.group_commit_max_batch)?;
                Ok(Db::Sqlite(Arc::new(SqliteDb { path, committer })))
            }
            Some(Engine::Postgres) => {
                let options = PgConnectOptions::from_str(url)?
                    .application_name("marquee")
                    .log_statements(tracing::log::LevelFilter::Trace);
                let pool = PgPoolOptions::new()
                    .max_connections(config.database.max_connections)
                    .acquire_timeout(acquire_timeout)
                    .connect_with(options.clone())
                    .await?;
                let writers = postgres::WriterSettings {
                    options,
                    count: config.database.write_connections as usize,
                    queue_timeout: acquire_timeout,
                    statement_timeout: Duration::from_millis(config.database.statement_timeout_ms),
                };
                Ok(Db::Postgres(Arc::new(postgres::PostgresDb::new(
                    pool, writers,
                )?)))
            }
            None => Err(sqlx::Error::Configuration(
                "database_url must start with sqlite:, postgres:// or postgresql://".into(),
            )),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies the embedded migrations for this engine.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(db) => db.committer.migrate(&SQLITE_MIGRATIONS).await,
            Db::Postgres(db) => POSTGRES_MIGRATIONS.run(&db.pool).await,
        }
    }

    /// A round trip to the database, for `/readyz`: on SQLite both a read and the
    /// committer.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let _: i64 = self.fetch_one("SELECT CAST(1 AS BIGINT)", &[]).await?;
        if let Db::Sqlite(db) = self {
            db.committer.ping().await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => db.committer.close().await,
            Db::Postgres(db) => db.close().await,
        }
    }

    // ---- reads -----------------------------------------------------------------------

    pub async fn fetch_all<T: FromRow>(
        &self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<Vec<T>> {
        let sql = sql.for_engine(self.engine());
        match self {
            Db::Sqlite(db) => sqlite::read(&db.path, |c| sqlite::fetch_all(c, sql, params)),
            Db::Postgres(db) => postgres::fetch_all(&db.pool, sql, params).await,
        }
    }

    pub async fn fetch_optional<T: FromRow>(
        &self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<Option<T>> {
        let sql = sql.for_engine(self.engine());
        match self {
            Db::Sqlite(db) => sqlite::read(&db.path, |c| sqlite::fetch_optional(c, sql, params)),
            Db::Postgres(db) => postgres::fetch_optional(&db.pool, sql, params).await,
        }
    }

    /// The first row; `RowNotFound` when there is none.
    pub async fn fetch_one<T: FromRow>(
        &self,
        sql: impl AsSql,
        params: &[Value<'_>],
    ) -> sqlx::Result<T> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    // ---- writes ----------------------------------------------------------------------

    /// Runs the unit of work `unit` in a write transaction and commits it; returns once
    /// the result is durable. See [`unit`] for what a unit may do.
    pub async fn write<T, E, F>(&self, unit: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        self.submit(unit, unit::Mode::Transaction).await
    }

    /// Like [`Db::write`], for a unit of work that is one writing statement on
    /// PostgreSQL. There it runs outside any transaction: the statement is its own
    /// transaction (atomic, durable when it returns), which saves the `BEGIN` and `COMMIT`
    /// round trips. The statement's conditions must decide everything (nothing can be
    /// rolled back after it); a read the unit makes after it, to explain a refusal, sees a
    /// later snapshot. On SQLite it is an ordinary group-committed unit of work.
    pub async fn write_statement<T, E, F>(&self, unit: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        self.submit(unit, unit::Mode::Autocommit).await
    }

    async fn submit<T, E, F>(&self, unit: F, mode: unit::Mode) -> Result<T, E>
    where
        T: Send + 'static,
        E: WriteError,
        F: FnMut(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let (command, answer) = unit::Command::new(unit, mode);
        match self {
            Db::Sqlite(db) => db.committer.submit(Box::new(command)).await?,
            Db::Postgres(db) => db.submit(Box::new(command)),
        }
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(sqlx::Error::PoolClosed)))
    }
}

/// The file of a `sqlite://path` (or `sqlite:path`) URL, with any `?options` removed.
fn sqlite_path(url: &str) -> sqlx::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return Err(sqlx::Error::Configuration(
            "database_url must name a SQLite file (readers and the writer share it)".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// True when `error` says the database cannot be reached or cannot serve now (the pool is
/// exhausted or closed, the connection broke, the server is shutting down or refusing
/// connections, SQLite stayed busy): a 503 to retry, not a fault of the request.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: 08… connection exception, 57P01–57P03 shutdown / cannot connect
            // now, 53300 too many connections. SQLite (extended codes): 5 busy, 6 locked
            // and their variants (their low byte).
            code.starts_with("08")
                || code.starts_with("57P")
                || code == "53300"
                || code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
        }),
        _ => false,
    }
}

/// True when `error` is a unique-constraint violation (same meaning on both engines).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// True when `error` is a foreign-key violation (a row still referenced).
pub fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_is_chosen_from_the_url_alone() {
        assert_eq!(Engine::of_url("sqlite://marquee.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("sqlite:x.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("postgres://u@h/db"), Some(Engine::Postgres));
        assert_eq!(
            Engine::of_url("postgresql://u@h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::of_url("mysql://u@h/db"), None);
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            sqlite_path("sqlite://marquee.db").unwrap(),
            PathBuf::from("marquee.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc").unwrap(),
            PathBuf::from("/tmp/x.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
    }
}
