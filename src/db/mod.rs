//! One codebase, two engines. `Db` is an enum over a SQLite pair of pools and a PostgreSQL
//! pool; store functions write their SQL once and run it through [`on_reader!`] /
//! [`in_transaction!`], which expand the same body once per engine so each copy is
//! type-checked against its concrete driver. Where the dialects must differ (locking,
//! claiming work) a store function matches on the engine explicitly.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`: readers use their own read-only
//! connections and never block the single writer connection.

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::Config;

pub mod native;
pub mod writer;

pub use writer::WriteError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// Read-only connections, as many as configured.
    pub read: SqlitePool,
    /// The one connection that writes; SQLite admits one writer at a time anyway, and
    /// queueing here is cheaper than `SQLITE_BUSY` retries.
    pub write: SqlitePool,
    /// Runs `Db::write` units of work, group-committed, on its own connection and thread.
    pub committer: native::NativeCommitter,
    /// The database file, for `native::read`.
    pub path: std::path::PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Self, sqlx::Error> {
        let url = config.database_url.as_str();
        let acquire_timeout = Duration::from_millis(config.database.acquire_timeout_ms);
        if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-32768")
                .log_statements(tracing::log::LevelFilter::Trace);
            let path = base.get_filename().to_owned();
            // The writer is opened first so the file and WAL exist before read-only opens.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(acquire_timeout)
                .connect_with(base.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(config.database.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(base.read_only(true))
                .await?;
            let committer =
                native::NativeCommitter::start(&path, config.booking.group_commit_max_batch)?;
            Ok(Db::Sqlite(SqliteDb {
                read,
                write,
                committer,
                path,
            }))
        } else {
            let options = PgConnectOptions::from_str(url)?
                .application_name("marquee")
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = PgPoolOptions::new()
                .max_connections(config.database.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        }
    }

    /// The SQLite file, when hot-path reads can run inline (`native::read`).
    pub fn native_path(&self) -> Option<&std::path::Path> {
        match self {
            Db::Sqlite(sqlite) => Some(&sqlite.path),
            Db::Postgres(_) => None,
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
            Db::Sqlite(db) => SQLITE_MIGRATIONS.run(&db.write).await,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
    }

    /// A round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_reader!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => {
                db.read.close().await;
                db.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to a pool that reads: the SQLite read pool or the
/// PostgreSQL pool. The body is compiled once per engine.
#[macro_export]
macro_rules! on_reader {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(sqlite) => {
                let $pool = &sqlite.read;
                $body
            }
            $crate::db::Db::Postgres(postgres) => {
                let $pool = postgres;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to the concrete connection inside a [`Conn`]. Store
/// helpers use it for each statement, so a helper is one ordinary function for both engines.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite(inner) => {
                let $c = &mut **inner;
                $body
            }
            $crate::db::Conn::Postgres(inner) => {
                let $c = &mut **inner;
                $body
            }
            $crate::db::Conn::Native(_) => {
                return Err($crate::db::native::unsupported().into());
            }
        }
    };
}

/// A connection borrowed from a transaction, of either engine; or, inside a SQLite unit of
/// work (`Db::write`), the committer's own connection, which store functions used there
/// serve with a native branch.
pub enum Conn<'c> {
    Sqlite(&'c mut sqlx::SqliteConnection),
    Postgres(&'c mut sqlx::PgConnection),
    Native(native::NativeConn<'c>),
}

/// A write transaction. Dropping it without `commit` rolls back.
pub enum Transaction {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Transaction {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Transaction::Sqlite(tx) => Conn::Sqlite(&mut *tx),
            Transaction::Postgres(tx) => Conn::Postgres(&mut *tx),
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Transaction::Sqlite(tx) => tx.commit().await,
            Transaction::Postgres(tx) => tx.commit().await,
        }
    }
}

impl Db {
    /// Starts a write transaction. On SQLite it begins `IMMEDIATE` on the writer
    /// connection, taking the write lock up front instead of failing to upgrade a read
    /// lock half-way.
    pub async fn begin(&self) -> Result<Transaction, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(db) => Transaction::Sqlite(db.write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Transaction::Postgres(pool.begin().await?),
        })
    }
}

pub use crate::{on_conn, on_reader};

/// True when `error` is a unique-constraint violation (same SQLSTATE class on both engines).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
