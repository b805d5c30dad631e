//! Identity use cases: register, log in, rotate a refresh token, log out, describe the
//! caller. Argon2 runs on the blocking pool so it never stalls request handling.

use std::net::IpAddr;

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    IdentityError,
    model::{Email, Principal, Role},
    password,
    store::{self, NewRefreshToken, NewUser, UserRow},
    tokens::{self, TokenSigner},
};
use crate::{
    app::AppState,
    db::Db,
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

async fn verify_password(password: String, hash: String) -> Result<bool, IdentityError> {
    tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .map_err(|_| IdentityError::Hashing)
}

/// A new account's checked e-mail address and name and its password hash.
struct CheckedAccount<'a> {
    email: Email,
    name: &'a str,
    hash: String,
}

/// Checks the e-mail, name and password rules and that the address is free, then hashes
/// the password (Argon2 runs only for acceptable input).
async fn check_new_account<'a>(
    db: &Db,
    email: &str,
    password: &str,
    name: &'a str,
) -> Result<CheckedAccount<'a>, IdentityError> {
    let email = Email::parse(email).ok_or(IdentityError::InvalidEmail)?;
    let name = display_name(name)?;
    password::check_policy(password, email.as_str())?;
    if store::user_by_email(db, email.as_str()).await?.is_some() {
        return Err(IdentityError::EmailTaken);
    }
    let hash = hash_password(password.to_owned()).await?;
    Ok(CheckedAccount { email, name, hash })
}

/// Inserts the user in `tx`; the insert skips an existing e-mail, so two concurrent
/// registrations of one address cannot both succeed.
async fn insert_account(
    tx: &mut crate::db::Transaction,
    id: &UserId,
    account: &CheckedAccount<'_>,
    role: Role,
    now: Timestamp,
) -> Result<(), IdentityError> {
    let user = NewUser {
        id: id.as_str(),
        email: account.email.as_str(),
        display_name: account.name,
        password_hash: &account.hash,
        role: role.as_str(),
    };
    if store::insert_user(&mut tx.conn(), &user, now).await? {
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

/// Creates an account with `role` after checking the e-mail, name and password rules.
pub async fn create_account(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<Account, IdentityError> {
    let checked = check_new_account(db, email, password, name).await?;
    let id = UserId::generate();
    let mut tx = db.begin().await?;
    insert_account(&mut tx, &id, &checked, role, now).await?;
    tx.commit().await?;
    account_by_id(db, &id).await
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
    app.login_limiter.check(&normalized, client)?;
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
    let mut tx = app.db.begin().await?;
    let pair = issue_pair(app, &mut tx, &row, &family, now).await?;
    tx.commit().await?;
    Ok(pair)
}

async fn issue_pair(
    app: &AppState,
    tx: &mut crate::db::Transaction,
    row: &UserRow,
    family: &str,
    now: Timestamp,
) -> Result<TokenPair, IdentityError> {
    let signer: &TokenSigner = &app.tokens;
    let refresh_ttl = app.config.auth.refresh_token_ttl_secs as i64;
    let secret = tokens::new_secret(REFRESH_PREFIX);
    let token_id = ulid::Ulid::new().to_string();
    store::insert_refresh_token(
        &mut tx.conn(),
        &NewRefreshToken {
            id: &token_id,
            family_id: family,
            user_id: &row.id,
            token_hash: &tokens::digest(&secret),
            expires_at: Timestamp::from_millis(now.as_millis() + refresh_ttl * 1000),
        },
        now,
    )
    .await?;
    let access_token = signer
        .issue(&principal(row), now)
        .map_err(|_| IdentityError::Hashing)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: signer.access_ttl_secs(),
        refresh_token: secret,
        refresh_expires_in: refresh_ttl,
    })
}

/// Exchanges a refresh token for a new pair. A token is good once: presenting a rotated
/// token again means it leaked (or a client misbehaves), so its whole family is revoked.
pub async fn refresh(app: &AppState, refresh_token: &str) -> Result<TokenPair, IdentityError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let Some(token) =
        store::refresh_token_by_hash(&mut tx.conn(), &tokens::digest(refresh_token)).await?
    else {
        return Err(IdentityError::InvalidRefreshToken);
    };
    if token.revoked_at.is_some() || token.expires_at <= now.as_millis() {
        return Err(IdentityError::InvalidRefreshToken);
    }
    let first_use =
        token.rotated_at.is_none() && store::mark_rotated(&mut tx.conn(), &token.id, now).await?;
    if !first_use {
        store::revoke_family(&mut tx.conn(), &token.family_id, now).await?;
        tx.commit().await?;
        tracing::warn!(family = %token.family_id, "refresh token reused; family revoked");
        return Err(IdentityError::RefreshTokenReused);
    }
    let row = match store::user_by_id_in(&mut tx.conn(), &token.user_id).await? {
        Some(row) if row.status == "active" => row,
        _ => {
            store::revoke_family(&mut tx.conn(), &token.family_id, now).await?;
            tx.commit().await?;
            return Err(IdentityError::AccountDisabled);
        }
    };
    let pair = issue_pair(app, &mut tx, &row, &token.family_id, now).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Ends the login the refresh token belongs to. Unknown tokens are ignored: logging out
/// twice is not an error.
pub async fn logout(app: &AppState, refresh_token: &str) -> Result<(), IdentityError> {
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if let Some(token) =
        store::refresh_token_by_hash(&mut tx.conn(), &tokens::digest(refresh_token)).await?
    {
        store::revoke_family(&mut tx.conn(), &token.family_id, now).await?;
    }
    tx.commit().await?;
    Ok(())
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
    let mut tx = db.begin().await?;
    store::insert_pending_org(&mut tx.conn(), org_id.as_str(), organisation, now).await?;
    insert_account(&mut tx, &user_id, &checked, Role::Partner, now).await?;
    store::add_member(&mut tx.conn(), org_id.as_str(), user_id.as_str()).await?;
    tx.commit().await?;
    account_by_id(db, &user_id).await
}
