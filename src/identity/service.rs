//! Identity use cases: register, log in, rotate a refresh token, log out, describe the
//! caller. Argon2 runs on the blocking pool so it never stalls request handling.

use std::net::IpAddr;

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    IdentityError,
    model::{Email, Locale, Principal, Role},
    password,
    store::{self, NewRefreshToken, NewUser, UserRow},
    tokens::{self, TokenSigner},
};
use crate::{
    app::AppState,
    db::{Db, Tx},
    ids::{PartnerOrgId, UserId},
    time::Timestamp,
};

/// Prefix of refresh tokens, so a leaked one is recognisable in logs and scanners.
pub const REFRESH_PREFIX: &str = "mrt";

/// What a client gets from login and refresh.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
    /// Single-use: exchange it at `/api/v1/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Seconds the refresh token stays valid.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Organisation {
    #[schema(value_type = String)]
    pub id: PartnerOrgId,
    pub name: String,
    /// `pending` until an admin approves it, then `approved`.
    pub status: String,
}

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    #[schema(value_type = String)]
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The partner organisation, for partner accounts.
    pub organisation: Option<Organisation>,
    /// The language of the account's messages: `en` or `fr`.
    pub locale: Locale,
}

fn account(row: UserRow) -> Account {
    let organisation = match (row.org_id, row.org_name, row.org_status) {
        (Some(id), Some(name), Some(status)) => Some(Organisation {
            id: PartnerOrgId::from_trusted(id),
            name,
            status,
        }),
        _ => None,
    };
    Account {
        id: UserId::from_trusted(row.id),
        email: row.email,
        role: Role::parse(&row.role).unwrap_or(Role::Customer),
        display_name: row.display_name,
        organisation,
        locale: Locale::from_stored(&row.locale),
    }
}

fn principal(row: &UserRow) -> Principal {
    Principal {
        user_id: UserId::from_trusted(row.id.clone()),
        role: Role::parse(&row.role).unwrap_or(Role::Customer),
        org_id: row.org_id.clone().map(PartnerOrgId::from_trusted),
    }
}

pub fn display_name(text: &str) -> Result<&str, IdentityError> {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    if (1..=100).contains(&length) && !trimmed.chars().any(char::is_control) {
        Ok(trimmed)
    } else {
        Err(IdentityError::InvalidDisplayName)
    }
}

async fn hash_password(password: String) -> Result<String, IdentityError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| IdentityError::Hashing)?
        .map_err(|_| IdentityError::Hashing)
}

/// Reads the access-token signing keys again if this node last did longer than `every`
/// ago.
pub async fn reload_token_keys(
    app: &AppState,
    every: std::time::Duration,
) -> Result<(), IdentityError> {
    if app.tokens.reload_due(every) {
        app.tokens.adopt(&store::token_keys(&app.db).await?);
    }
    Ok(())
}

/// Makes a new access-token signing key the one that signs (every node takes it within
/// `tokens::RELOAD_SECS`); tokens signed before stay valid until they expire, so nobody is
/// signed out. Returns the new `kid`.
pub async fn rotate_token_key(app: &AppState) -> Result<String, IdentityError> {
    let kid = store::rotate_token_key(&app.db, app.clock.now()).await?;
    app.tokens.adopt(&store::token_keys(&app.db).await?);
    Ok(kid)
}

/// Reads the ticket-code keys again if this node last did longer than `every` ago.
pub async fn reload_ticket_keys(
    app: &AppState,
    every: std::time::Duration,
) -> Result<(), IdentityError> {
    if app.tickets.reload_due(every) {
        app.tickets.adopt(&store::ticket_keys(&app.db).await?);
    }
    Ok(())
}

/// Makes a new ticket-code key the one that signs (every node takes it within a minute);
/// codes signed before stay valid. Returns the new `kid`.
pub async fn rotate_ticket_key(app: &AppState) -> Result<String, IdentityError> {
    let kid = store::rotate_ticket_key(&app.db, app.clock.now()).await?;
    app.tickets.adopt(&store::ticket_keys(&app.db).await?);
    Ok(kid)
}

/// Whether `password` is the one `hash` was made from (Argon2, off the async threads).
pub async fn check_password(password: &str, hash: &str) -> Result<bool, IdentityError> {
    verify_password(password.to_owned(), hash.to_owned()).await
}

async fn verify_password(password: String, hash: String) -> Result<bool, IdentityError> {
    tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .map_err(|_| IdentityError::Hashing)
}

/// A new account's checked e-mail address and name and its password hash.
struct CheckedAccount {
    email: Email,
    name: String,
    hash: String,
}

/// Checks the e-mail, name and password rules and that the address is free, then hashes
/// the password (Argon2 runs only for acceptable input).
async fn check_new_account(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
) -> Result<CheckedAccount, IdentityError> {
    let email = Email::parse(email).ok_or(IdentityError::InvalidEmail)?;
    let name = display_name(name)?.to_owned();
    password::check_policy(password, email.as_str())?;
    if store::user_by_email(db, email.as_str()).await?.is_some() {
        return Err(IdentityError::EmailTaken);
    }
    let hash = hash_password(password.to_owned()).await?;
    Ok(CheckedAccount { email, name, hash })
}

/// Inserts the user in the unit of work; the insert skips an existing e-mail, so two
/// concurrent registrations of one address cannot both succeed.
fn insert_account(
    tx: &mut Tx<'_>,
    id: &UserId,
    account: &CheckedAccount,
    role: Role,
    now: Timestamp,
) -> Result<(), IdentityError> {
    let user = NewUser {
        id: id.as_str(),
        email: account.email.as_str(),
        display_name: &account.name,
        password_hash: &account.hash,
        role: role.as_str(),
    };
    if store::insert_user(tx, &user, now)? {
        Ok(())
    } else {
        Err(IdentityError::EmailTaken)
    }
}

async fn account_by_id(db: &Db, id: &UserId) -> Result<Account, IdentityError> {
    let row = store::user_by_id(db, id.as_str())
        .await?
        .ok_or(IdentityError::InvalidCredentials)?;
    Ok(account(row))
}

/// Creates an account with `role` after checking the e-mail, name and password rules; its
/// messages are in English.
pub async fn create_account(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<Account, IdentityError> {
    register(db, email, password, name, role, Locale::default(), now).await
}

/// Creates an account with a role and the language of its messages, after checking the
/// e-mail, name and password rules.
pub async fn register(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
    locale: Locale,
    now: Timestamp,
) -> Result<Account, IdentityError> {
    let checked = check_new_account(db, email, password, name).await?;
    let id = UserId::generate();
    let user = id.clone();
    db.write(move |tx| {
        insert_account(tx, &user, &checked, role, now)?;
        store::set_locale(tx, user.as_str(), locale.as_str())?;
        Ok::<_, IdentityError>(())
    })
    .await?;
    account_by_id(db, &id).await
}

/// A locale code from a request: one of the supported ones, else `unsupported-locale`.
pub fn parse_locale(text: &str) -> Result<Locale, IdentityError> {
    Locale::parse(text).ok_or(IdentityError::UnsupportedLocale)
}

/// Changes the caller's own account (the language of its messages) and returns it.
pub async fn update_me(
    db: &Db,
    principal: &Principal,
    locale: Option<Locale>,
) -> Result<Account, IdentityError> {
    if let Some(locale) = locale {
        let id = principal.user_id.to_string();
        let found = db
            .write(move |tx| store::set_locale(tx, &id, locale.as_str()))
            .await?;
        if !found {
            return Err(IdentityError::Unauthenticated(
                "the account no longer exists",
            ));
        }
    }
    me(db, principal).await
}

/// A new login: checks the limits, then the password, then issues a token pair that starts
/// a new refresh-token family.
pub async fn login(
    app: &AppState,
    email: &str,
    password: &str,
    client: IpAddr,
) -> Result<TokenPair, IdentityError> {
    let normalized = email.trim().to_lowercase();
    app.login_limiter.check(&normalized, client).await?;
    let row = store::user_by_email(&app.db, &normalized).await?;
    // Unknown accounts cost one Argon2 verification too, so timing does not reveal them.
    let hash = row.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |r| r.password_hash.clone(),
    );
    let matches = verify_password(password.to_owned(), hash).await?;
    let row = match row {
        Some(row) if matches => row,
        _ => return Err(IdentityError::InvalidCredentials),
    };
    if row.status != "active" {
        return Err(IdentityError::AccountDisabled);
    }
    let now = app.clock.now();
    let family = ulid::Ulid::new().to_string();
    let refresh_ttl = app.config.auth.refresh_token_ttl_secs as i64;
    let user_id = row.id.clone();
    let secret = app
        .db
        .write(move |tx| new_refresh_token(tx, &user_id, &family, refresh_ttl, now))
        .await?;
    token_pair(app, &row, secret, now)
}

/// Records a new refresh token of `family` for the user; returns the token itself.
fn new_refresh_token(
    tx: &mut Tx<'_>,
    user_id: &str,
    family: &str,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<String, IdentityError> {
    let secret = tokens::new_secret(REFRESH_PREFIX);
    let token_id = ulid::Ulid::new().to_string();
    store::insert_refresh_token(
        tx,
        &NewRefreshToken {
            id: &token_id,
            family_id: family,
            user_id,
            token_hash: &tokens::digest(&secret),
            expires_at: Timestamp::from_millis(now.as_millis() + ttl_secs * 1000),
        },
        now,
    )?;
    Ok(secret)
}

/// The access token for the account, paired with the refresh token just recorded.
fn token_pair(
    app: &AppState,
    row: &UserRow,
    refresh_token: String,
    now: Timestamp,
) -> Result<TokenPair, IdentityError> {
    let signer: &TokenSigner = &app.tokens;
    let access_token = signer
        .issue(&principal(row), now)
        .map_err(|_| IdentityError::Hashing)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: signer.access_ttl_secs(),
        refresh_token,
        refresh_expires_in: app.config.auth.refresh_token_ttl_secs as i64,
    })
}

/// What presenting a refresh token did.
enum Exchange {
    /// Rotated: the account and the next token of the family.
    Rotated(Box<UserRow>, String),
    /// Not a live token.
    Invalid,
    /// Presented again after its rotation: the family was revoked.
    Reused(String),
    /// The account is disabled or gone: the family was revoked.
    Disabled,
}

/// Exchanges a refresh token for a new pair. A token is good once: presenting a rotated
/// token again means it leaked (or a client misbehaves), so its whole family is revoked.
pub async fn refresh(app: &AppState, refresh_token: &str) -> Result<TokenPair, IdentityError> {
    let now = app.clock.now();
    let digest = tokens::digest(refresh_token);
    let refresh_ttl = app.config.auth.refresh_token_ttl_secs as i64;
    let exchange = app
        .db
        .write(move |tx| {
            let Some(token) = store::refresh_token_by_hash(tx, &digest)? else {
                return Ok(Exchange::Invalid);
            };
            if token.revoked_at.is_some() || token.expires_at <= now.as_millis() {
                return Ok(Exchange::Invalid);
            }
            let first_use = token.rotated_at.is_none() && store::mark_rotated(tx, &token.id, now)?;
            if !first_use {
                store::revoke_family(tx, &token.family_id, now)?;
                return Ok(Exchange::Reused(token.family_id));
            }
            match store::user_by_id_in(tx, &token.user_id)? {
                Some(row) if row.status == "active" => {
                    let next = new_refresh_token(tx, &row.id, &token.family_id, refresh_ttl, now)?;
                    Ok(Exchange::Rotated(Box::new(row), next))
                }
                _ => {
                    store::revoke_family(tx, &token.family_id, now)?;
                    Ok::<_, IdentityError>(Exchange::Disabled)
                }
            }
        })
        .await?;
    match exchange {
        Exchange::Rotated(row, next) => token_pair(app, &row, next, now),
        Exchange::Invalid => Err(IdentityError::InvalidRefreshToken),
        Exchange::Reused(family) => {
            tracing::warn!(%family, "refresh token reused; family revoked");
            Err(IdentityError::RefreshTokenReused)
        }
        Exchange::Disabled => Err(IdentityError::AccountDisabled),
    }
}

/// Ends the login the refresh token belongs to. Unknown tokens are ignored: logging out
/// twice is not an error.
pub async fn logout(app: &AppState, refresh_token: &str) -> Result<(), IdentityError> {
    let now = app.clock.now();
    let digest = tokens::digest(refresh_token);
    app.db
        .write(move |tx| {
            if let Some(token) = store::refresh_token_by_hash(tx, &digest)? {
                store::revoke_family(tx, &token.family_id, now)?;
            }
            Ok::<_, IdentityError>(())
        })
        .await
}

/// The caller's own account; an account disabled since its token was issued is refused.
pub async fn me(db: &Db, principal: &Principal) -> Result<Account, IdentityError> {
    let row = store::user_by_id(db, principal.user_id.as_str())
        .await?
        .ok_or(IdentityError::Unauthenticated(
            "the account no longer exists",
        ))?;
    Ok(account(row))
}

/// Whether the account behind a verified token may still act: it exists and is active.
pub async fn ensure_active(db: &Db, principal: &Principal) -> Result<(), IdentityError> {
    match store::user_status(db, principal.user_id.as_str()).await? {
        Some(status) if status == "active" => Ok(()),
        Some(_) => Err(IdentityError::AccountDisabled),
        None => Err(IdentityError::Unauthenticated(
            "the account no longer exists",
        )),
    }
}

/// A partner organisation and its first member, created together and pending approval.
pub async fn signup_partner(
    db: &Db,
    organisation_name: &str,
    email: &str,
    password: &str,
    name: &str,
    now: Timestamp,
) -> Result<Account, IdentityError> {
    let organisation = organisation_name.trim();
    if organisation.is_empty() || organisation.chars().count() > 120 {
        return Err(IdentityError::InvalidOrganisationName);
    }
    let checked = check_new_account(db, email, password, name).await?;
    let (user_id, org_id) = (UserId::generate(), PartnerOrgId::generate());
    let (user, organisation) = (user_id.clone(), organisation.to_owned());
    db.write(move |tx| {
        store::insert_pending_org(tx, org_id.as_str(), &organisation, now)?;
        insert_account(tx, &user, &checked, Role::Partner, now)?;
        store::add_member(tx, org_id.as_str(), user.as_str())?;
        Ok::<_, IdentityError>(())
    })
    .await?;
    account_by_id(db, &user_id).await
}
