//! The catalog and its browse API: cities, movies (with localizations), theatres, screens
//! and shows. Read-heavy and public; responses are cached (see `crate::http::cache`).

pub mod admin;
pub mod locale;
pub mod manage;
pub mod model;
pub mod partner_routes;
pub mod routes;
pub mod schedule;
pub mod search;
pub mod service;
pub mod store;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("city {0} not found")]
    CityNotFound(String),
    #[error("movie {0} not found")]
    MovieNotFound(String),
    #[error("theatre {0} not found")]
    TheatreNotFound(String),
    #[error("show {0} not found")]
    ShowNotFound(String),
    #[error("date {0:?} is not a calendar date in the form YYYY-MM-DD")]
    InvalidDate(String),
    #[error("{0}")]
    InvalidSearch(&'static str),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}
