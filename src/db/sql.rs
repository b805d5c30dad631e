//! Statements written once for both engines: their parameters ([`Value`], [`params!`]),
//! their rows ([`Row`], [`FromRow`], [`from_row!`]) and the few places where the dialects
//! differ ([`Sql`], [`QueryBuilder::push_in`]).
//!
//! SQL text uses `$1`, `$2`, … placeholders on both engines (SQLite reads them as named
//! parameters, bound here by name). The same statement and the same row mapping then serve
//! a read through `Db` (async) and a write inside a unit of work through `Tx` (sync).

use chrono::NaiveDate;
use sqlx::{
    Arguments, Row as _,
    postgres::{PgArguments, PgRow},
};

use super::Engine;

/// One bound parameter. Nulls are typed (PostgreSQL needs to know what a `NULL` is).
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Date(Option<NaiveDate>),
    /// A list, for membership tests written with [`QueryBuilder::push_in`] or a [`Sql`]
    /// pair: a `text[]` on PostgreSQL (`= ANY($n)`), JSON text on SQLite
    /// (`IN (SELECT value FROM json_each($n))`).
    Texts(&'a [String]),
    Strs(&'a [&'a str]),
    Ints(&'a [i64]),
}

macro_rules! value_from {
    ($($ty:ty => |$v:ident| $make:expr),* $(,)?) => {
        $(impl<'a> From<$ty> for Value<'a> {
            fn from($v: $ty) -> Self {
                $make
            }
        })*
    };
}

value_from! {
    i64 => |v| Value::Int(Some(v)),
    &'a i64 => |v| Value::Int(Some(*v)),
    i32 => |v| Value::Int(Some(i64::from(v))),
    u32 => |v| Value::Int(Some(i64::from(v))),
    Option<i64> => |v| Value::Int(v),
    &'a Option<i64> => |v| Value::Int(*v),
    bool => |v| Value::Bool(Some(v)),
    Option<bool> => |v| Value::Bool(v),
    f64 => |v| Value::Float(Some(v)),
    NaiveDate => |v| Value::Date(Some(v)),
    Option<NaiveDate> => |v| Value::Date(v),
    &'a str => |v| Value::Text(Some(v)),
    &'a &'a str => |v| Value::Text(Some(*v)),
    &'a String => |v| Value::Text(Some(v.as_str())),
    Option<&'a str> => |v| Value::Text(v),
    &'a Option<String> => |v| Value::Text(v.as_deref()),
    Option<&'a String> => |v| Value::Text(v.map(String::as_str)),
    &'a [String] => |v| Value::Texts(v),
    &'a Vec<String> => |v| Value::Texts(v),
    &'a [&'a str] => |v| Value::Strs(v),
    &'a Vec<&'a str> => |v| Value::Strs(v),
    &'a [i64] => |v| Value::Ints(v),
    &'a Vec<i64> => |v| Value::Ints(v),
}

/// The parameters of a statement, in `$1`, `$2`, … order:
/// `params![show_id, now, &labels]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::db::Value::from($value)),*][..]
    };
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Owned, ValueRef};
        let json = |list: Result<String, serde_json::Error>| {
            list.map(|text| ToSqlOutput::Owned(Owned::Text(text)))
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        };
        Ok(match *self {
            Value::Int(Some(v)) => ToSqlOutput::Owned(Owned::Integer(v)),
            Value::Bool(Some(v)) => ToSqlOutput::Owned(Owned::Integer(i64::from(v))),
            Value::Float(Some(v)) => ToSqlOutput::Owned(Owned::Real(v)),
            Value::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Date(Some(v)) => ToSqlOutput::Owned(Owned::Text(v.format("%F").to_string())),
            Value::Int(None)
            | Value::Bool(None)
            | Value::Float(None)
            | Value::Text(None)
            | Value::Date(None) => ToSqlOutput::Owned(Owned::Null),
            Value::Texts(list) => return json(serde_json::to_string(list)),
            Value::Strs(list) => return json(serde_json::to_string(list)),
            Value::Ints(list) => return json(serde_json::to_string(list)),
        })
    }
}

/// The parameters as PostgreSQL arguments.
pub(super) fn pg_arguments(params: &[Value<'_>]) -> sqlx::Result<PgArguments> {
    let mut args = PgArguments::default();
    for value in params {
        match *value {
            Value::Int(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Bool(v) => args.add(v),
            Value::Float(v) => args.add(v),
            Value::Date(v) => args.add(v),
            Value::Texts(v) => args.add(v),
            Value::Strs(v) => args.add(v),
            Value::Ints(v) => args.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// SQL that differs between the engines, written side by side where it is used, so the
/// difference is visible at the one place it exists.
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Statement text for an engine: a `&str` is the same on both, a [`Sql`] pair picks.
pub trait AsSql {
    fn for_engine(&self, engine: Engine) -> &str;
}

impl AsSql for &str {
    fn for_engine(&self, _: Engine) -> &str {
        self
    }
}

impl AsSql for &String {
    fn for_engine(&self, _: Engine) -> &str {
        self
    }
}

impl AsSql for Sql {
    fn for_engine(&self, engine: Engine) -> &str {
        match engine {
            Engine::Sqlite => self.sqlite,
            Engine::Postgres => self.postgres,
        }
    }
}

impl AsSql for &Sql {
    fn for_engine(&self, engine: Engine) -> &str {
        (*self).for_engine(engine)
    }
}

/// A statement assembled at run time (optional filters, lists), with its parameters
/// numbered as they are pushed.
pub struct QueryBuilder<'a> {
    engine: Engine,
    sql: String,
    params: Vec<Value<'a>>,
}

impl<'a> QueryBuilder<'a> {
    pub fn new(engine: Engine, start: impl Into<String>) -> Self {
        Self {
            engine,
            sql: start.into(),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn push_bind(&mut self, value: impl Into<Value<'a>>) -> &mut Self {
        self.params.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    /// Appends a membership test of the expression just pushed in `list` (a
    /// [`Value::Texts`], [`Value::Strs`] or [`Value::Ints`]).
    pub fn push_in(&mut self, list: impl Into<Value<'a>>) -> &mut Self {
        match self.engine {
            Engine::Sqlite => {
                self.push(" IN (SELECT value FROM json_each(");
                self.push_bind(list).push("))")
            }
            Engine::Postgres => {
                self.push(" = ANY(");
                self.push_bind(list).push(")")
            }
        }
    }

    pub fn sql(&self) -> &String {
        &self.sql
    }

    pub fn params(&self) -> &[Value<'a>] {
        &self.params
    }
}

/// A row of either engine, read by column name or position.
pub enum Row<'r> {
    Sqlite {
        row: &'r rusqlite::Row<'r>,
        /// The statement's column names, read once per statement: rusqlite finds a column
        /// by name by reading and measuring every column's name again, on every row.
        columns: &'r [String],
    },
    Postgres(&'r PgRow),
}

/// A column by position or by name.
#[derive(Debug, Clone, Copy)]
pub enum Index<'a> {
    Position(usize),
    Name(&'a str),
}

impl From<usize> for Index<'_> {
    fn from(position: usize) -> Self {
        Index::Position(position)
    }
}

impl<'a> From<&'a str> for Index<'a> {
    fn from(name: &'a str) -> Self {
        Index::Name(name)
    }
}

impl Row<'_> {
    pub fn get<'i, T: Column>(&self, index: impl Into<Index<'i>>) -> sqlx::Result<T> {
        let index = index.into();
        match self {
            Row::Sqlite { row, columns } => {
                let position = match index {
                    Index::Position(position) => position,
                    Index::Name(name) => columns
                        .iter()
                        .position(|column| column.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            super::sqlite::to_sqlx(rusqlite::Error::InvalidColumnName(
                                name.to_owned(),
                            ))
                        })?,
                };
                T::from_sqlite(row, Index::Position(position)).map_err(super::sqlite::to_sqlx)
            }
            Row::Postgres(row) => T::from_postgres(row, index),
        }
    }
}

/// A type one column decodes to, on both engines.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: Index<'_>) -> rusqlite::Result<Self>;
    fn from_postgres(row: &PgRow, index: Index<'_>) -> sqlx::Result<Self>;
}

fn sqlite_get<T: rusqlite::types::FromSql>(
    row: &rusqlite::Row<'_>,
    index: Index<'_>,
) -> rusqlite::Result<T> {
    match index {
        Index::Position(i) => row.get(i),
        Index::Name(name) => row.get(name),
    }
}

fn postgres_get<T>(row: &PgRow, index: Index<'_>) -> sqlx::Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    match index {
        Index::Position(i) => row.try_get(i),
        Index::Name(name) => row.try_get(name),
    }
}

/// What a row decodes to. Scalars read the first column, tuples the first columns in
/// order; row structs implement it with [`from_row!`] (by column name).
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> sqlx::Result<Self>;
}

/// Types both drivers decode alike: a column each, and a one-column row each.
macro_rules! scalars {
    ($($ty:ty),* $(,)?) => {
        $(impl Column for $ty {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: Index<'_>) -> rusqlite::Result<Self> {
                sqlite_get(row, index)
            }

            fn from_postgres(row: &PgRow, index: Index<'_>) -> sqlx::Result<Self> {
                postgres_get(row, index)
            }
        }

        impl FromRow for $ty {
            fn from_row(row: &Row<'_>) -> sqlx::Result<Self> {
                row.get(0)
            }
        })*
    };
}

scalars!(
    i64,
    i32,
    f64,
    bool,
    String,
    Vec<u8>,
    NaiveDate,
    Option<i64>,
    Option<i32>,
    Option<f64>,
    Option<bool>,
    Option<String>,
    Option<Vec<u8>>,
    Option<NaiveDate>,
);

/// A list column: a PostgreSQL array, or JSON text on SQLite (as lists are bound).
impl Column for Vec<String> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: Index<'_>) -> rusqlite::Result<Self> {
        let text: String = sqlite_get(row, index)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    }

    fn from_postgres(row: &PgRow, index: Index<'_>) -> sqlx::Result<Self> {
        postgres_get(row, index)
    }
}

macro_rules! tuple_from_row {
    ($(($($name:ident : $i:tt),+)),* $(,)?) => {
        $(impl<$($name: Column),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row<'_>) -> sqlx::Result<Self> {
                Ok(($(row.get::<$name>($i)?,)+))
            }
        })*
    };
}

tuple_from_row!(
    (A: 0, B: 1),
    (A: 0, B: 1, C: 2),
    (A: 0, B: 1, C: 2, D: 3),
    (A: 0, B: 1, C: 2, D: 3, E: 4),
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5),
);

/// Implements [`FromRow`] for a struct whose fields are read from the columns of the same
/// names: `from_row!(CityRow { id, name, country_code })`. A field read from a column of
/// another name is written `field = "column"`.
#[macro_export]
macro_rules! from_row {
    ($ty:ident { $($field:ident $(= $column:literal)?),+ $(,)? }) => {
        impl $crate::db::FromRow for $ty {
            fn from_row(row: &$crate::db::Row<'_>) -> ::sqlx::Result<Self> {
                Ok(Self {
                    $($field: row.get($crate::from_row!(@column $field $($column)?))?,)+
                })
            }
        }
    };
    (@column $field:ident) => { stringify!($field) };
    (@column $field:ident $column:literal) => { $column };
}

/// Declares a row struct and implements [`FromRow`] for it, each field read from the
/// column of the same name:
///
/// ```ignore
/// db_row! {
///     #[derive(Debug, Clone)]
///     pub struct CityRow { pub id: String, pub name: String }
/// }
/// ```
#[macro_export]
macro_rules! db_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty,)+
        }

        $crate::from_row!($name { $($field),+ });
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_numbers_placeholders_and_writes_lists_per_engine() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        let mut sqlite = QueryBuilder::new(Engine::Sqlite, "SELECT 1 FROM t WHERE x = ");
        sqlite.push_bind(7).push(" AND id").push_in(&ids);
        assert_eq!(
            sqlite.sql(),
            "SELECT 1 FROM t WHERE x = $1 AND id IN (SELECT value FROM json_each($2))"
        );
        let mut postgres = QueryBuilder::new(Engine::Postgres, "SELECT 1 FROM t WHERE x = ");
        postgres.push_bind(7).push(" AND id").push_in(&ids);
        assert_eq!(
            postgres.sql(),
            "SELECT 1 FROM t WHERE x = $1 AND id = ANY($2)"
        );
        assert_eq!(postgres.params().len(), 2);
    }
}
