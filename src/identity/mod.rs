//! Accounts, roles and partner organisations: registration, login with rotating refresh
//! tokens, short-lived access tokens, the extractors that enforce roles, and login rate
//! limits. Passwords are Argon2id; tokens and keys are stored only as digests.

pub mod active;
pub mod admin;
pub mod api_keys;
pub mod extract;
pub mod model;
pub mod partners;
pub mod password;
pub mod privacy;
pub mod rate_limit;
pub mod routes;
pub mod service;
pub mod store;
pub mod tokens;

pub use password::WeakPassword;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("that is not a valid e-mail address")]
    InvalidEmail,
    #[error("{0}")]
    WeakPassword(#[from] WeakPassword),
    #[error("a display name has 1 to 100 characters")]
    InvalidDisplayName,
    #[error("an organisation name has 1 to 120 characters")]
    InvalidOrganisationName,
    #[error("that locale is not supported; use one of: en, fr")]
    UnsupportedLocale,
    #[error("API key {0} not found")]
    UnknownApiKey(String),
    #[error("user {0} not found")]
    UnknownUser(String),
    #[error("partner organisation {0} not found or not pending")]
    UnknownPendingOrganisation(String),
    #[error("an account with that e-mail address exists")]
    EmailTaken,
    #[error("e-mail address or password is wrong")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; every session of this login is now signed out")]
    RefreshTokenReused,
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("password hashing failed")]
    Hashing,
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl crate::db::WriteError for IdentityError {
    fn retryable(&self) -> bool {
        matches!(self, IdentityError::Database(e) if crate::db::is_retryable(e))
    }
}
