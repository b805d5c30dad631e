//! Storage of users, partner organisations and their members.

use crate::{
    db::{Db, Tx},
    db_row, params,
    time::Timestamp,
};

pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
}

/// Inserts a user unless the email is taken; true if inserted.
pub fn insert_user(tx: &mut Tx<'_>, user: &NewUser<'_>, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO users (id, email, display_name, password_hash, role, status, created_at) \
        VALUES ($1, $2, $3, $4, $5, 'active', $6) ON CONFLICT (email) DO NOTHING";
    let email = user.email.to_lowercase();
    let done = tx.execute(
        SQL,
        params![
            user.id,
            &email,
            user.display_name,
            user.password_hash,
            user.role,
            now.as_millis()
        ],
    )?;
    Ok(done == 1)
}

pub fn user_exists(tx: &mut Tx<'_>, email: &str) -> sqlx::Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM users WHERE email = $1";
    let email = email.to_lowercase();
    let count: i64 = tx.fetch_one(SQL, params![&email])?;
    Ok(count > 0)
}

/// Inserts an approved partner organisation unless it exists.
pub fn insert_approved_org(
    tx: &mut Tx<'_>,
    id: &str,
    name: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO partner_orgs (id, name, status, created_at, approved_at) \
        VALUES ($1, $2, 'approved', $3, $3) ON CONFLICT (id) DO NOTHING";
    Ok(tx.execute(SQL, params![id, name, now.as_millis()])? == 1)
}

pub fn add_member(tx: &mut Tx<'_>, org_id: &str, user_id: &str) -> sqlx::Result<()> {
    const SQL: &str = "INSERT INTO partner_members (org_id, user_id) VALUES ($1, $2) \
        ON CONFLICT (org_id, user_id) DO NOTHING";
    tx.execute(SQL, params![org_id, user_id])?;
    Ok(())
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct UserRow {
        pub id: String,
        pub email: String,
        pub display_name: String,
        pub password_hash: String,
        pub role: String,
        pub status: String,
        pub org_id: Option<String>,
        pub org_name: Option<String>,
        pub org_status: Option<String>,
        /// The language of the account's messages (`en`, `fr`).
        pub locale: String,
    }
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.password_hash, u.role, u.status, \
    o.id AS org_id, o.name AS org_name, o.status AS org_status, u.locale \
    FROM users u \
    LEFT JOIN partner_members m ON m.user_id = u.id \
    LEFT JOIN partner_orgs o ON o.id = m.org_id";

pub async fn user_by_email(db: &Db, email: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.email = $1");
    db.fetch_optional(&sql, params![email]).await
}

/// An account's status (`active`, `disabled`), checked on every authenticated request.
pub async fn user_status(db: &Db, id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str = "SELECT status FROM users WHERE id = $1";
    db.fetch_optional(SQL, params![id]).await
}

/// Sets the language of an account's messages; false if there is no such account.
pub fn set_locale(tx: &mut Tx<'_>, id: &str, locale: &str) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE users SET locale = $2 WHERE id = $1";
    Ok(tx.execute(SQL, params![id, locale])? == 1)
}

pub async fn user_by_id(db: &Db, id: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.id = $1");
    db.fetch_optional(&sql, params![id]).await
}

/// `user_by_id` inside a unit of work.
pub fn user_by_id_in(tx: &mut Tx<'_>, id: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.id = $1");
    tx.fetch_optional(&sql, params![id])
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct RefreshTokenRow {
        pub id: String,
        pub family_id: String,
        pub user_id: String,
        pub expires_at: i64,
        pub rotated_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
}

pub struct NewRefreshToken<'a> {
    pub id: &'a str,
    pub family_id: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
}

pub fn insert_refresh_token(
    tx: &mut Tx<'_>,
    token: &NewRefreshToken<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    const SQL: &str = "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    tx.execute(
        SQL,
        params![
            token.id,
            token.family_id,
            token.user_id,
            token.token_hash,
            now.as_millis(),
            token.expires_at.as_millis()
        ],
    )?;
    Ok(())
}

pub fn refresh_token_by_hash(
    tx: &mut Tx<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<RefreshTokenRow>> {
    const SQL: &str = "SELECT id, family_id, user_id, expires_at, rotated_at, revoked_at \
        FROM refresh_tokens WHERE token_hash = $1";
    tx.fetch_optional(SQL, params![token_hash])
}

/// Marks a token as exchanged, only if it has not been already: false means another
/// request rotated it first (a replay).
pub fn mark_rotated(tx: &mut Tx<'_>, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE refresh_tokens SET rotated_at = $2 \
        WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL";
    Ok(tx.execute(SQL, params![id, now.as_millis()])? == 1)
}

/// Revokes every token of a login family.
pub fn revoke_family(tx: &mut Tx<'_>, family_id: &str, now: Timestamp) -> sqlx::Result<u64> {
    const SQL: &str = "UPDATE refresh_tokens SET revoked_at = $2 \
        WHERE family_id = $1 AND revoked_at IS NULL";
    tx.execute(SQL, params![family_id, now.as_millis()])
}

/// The token-signing secret, created on first use so every node of a deployment shares it.
pub async fn signing_secret(db: &Db, now: Timestamp) -> sqlx::Result<String> {
    const SELECT: &str = "SELECT secret FROM signing_keys WHERE id = 'access-token'";
    const INSERT: &str = "INSERT INTO signing_keys (id, secret, created_at) VALUES ('access-token', $1, $2) \
        ON CONFLICT (id) DO NOTHING";
    let candidate = super::tokens::new_secret("hs256");
    db.write(move |tx| {
        tx.execute(INSERT, params![&candidate, now.as_millis()])?;
        tx.fetch_one(SELECT, &[])
    })
    .await
}

db_row! {
    struct KeyRow {
        id: String,
        secret: String,
        retired_at: Option<i64>,
    }
}

/// The access-token signing keys, oldest first: the master (`access-token`), then the
/// rotated ones (`jwt:<kid>`).
pub async fn token_keys(db: &Db) -> sqlx::Result<Vec<super::tokens::SigningKey>> {
    let rows: Vec<KeyRow> = db
        .fetch_all(
            "SELECT id, secret, retired_at FROM signing_keys \
             WHERE id = 'access-token' OR id LIKE 'jwt:%' ORDER BY created_at, id",
            params![],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| super::tokens::SigningKey {
            kid: row
                .id
                .strip_prefix("jwt:")
                .unwrap_or(super::tokens::MASTER_KID)
                .to_owned(),
            secret: row.secret.into_bytes(),
            retired_at: row.retired_at,
        })
        .collect())
}

/// Makes a new signing key the one that signs and retires the others (they go on
/// verifying what they signed). Returns its `kid`.
pub async fn rotate_token_key(db: &Db, now: Timestamp) -> sqlx::Result<String> {
    let kid = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let secret = super::tokens::new_secret("hs256");
    let id = format!("jwt:{kid}");
    db.write(move |tx| {
        // With the master secret in the configuration, its row only records retirement.
        tx.execute(
            "INSERT INTO signing_keys (id, secret, created_at) VALUES ('access-token', '', $1) \
             ON CONFLICT (id) DO NOTHING",
            params![now.as_millis()],
        )?;
        tx.execute(
            "UPDATE signing_keys SET retired_at = $1 \
             WHERE (id = 'access-token' OR id LIKE 'jwt:%') AND retired_at IS NULL",
            params![now.as_millis()],
        )?;
        tx.execute(
            "INSERT INTO signing_keys (id, secret, created_at) VALUES ($1, $2, $3)",
            params![&id, &secret, now.as_millis()],
        )
    })
    .await?;
    Ok(kid)
}

/// The ticket-code keys (`ticket:<kid>`), oldest first.
pub async fn ticket_keys(db: &Db) -> sqlx::Result<Vec<(String, Vec<u8>)>> {
    let rows: Vec<(String, String)> = db
        .fetch_all(
            "SELECT id, secret FROM signing_keys WHERE id LIKE 'ticket:%' ORDER BY created_at, id",
            params![],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, secret)| {
            (
                id.strip_prefix("ticket:").unwrap_or(&id).to_owned(),
                secret.into_bytes(),
            )
        })
        .collect())
}

/// Adds a ticket-code key that signs from now on; returns its `kid`.
pub async fn rotate_ticket_key(db: &Db, now: Timestamp) -> sqlx::Result<String> {
    let kid = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let secret = super::tokens::new_secret("tkt");
    let id = format!("ticket:{kid}");
    db.write(move |tx| {
        tx.execute(
            "INSERT INTO signing_keys (id, secret, created_at) VALUES ($1, $2, $3)",
            params![&id, &secret, now.as_millis()],
        )
    })
    .await?;
    Ok(kid)
}

pub async fn org_status(db: &Db, org_id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str = "SELECT status FROM partner_orgs WHERE id = $1";
    db.fetch_optional(SQL, params![org_id]).await
}

/// Inserts an organisation awaiting approval.
pub fn insert_pending_org(
    tx: &mut Tx<'_>,
    id: &str,
    name: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    const SQL: &str =
        "INSERT INTO partner_orgs (id, name, status, created_at) VALUES ($1, $2, 'pending', $3)";
    tx.execute(SQL, params![id, name, now.as_millis()])?;
    Ok(())
}

db_row! {
    #[derive(Debug, Clone)]
    pub struct OrgRow {
        pub id: String,
        pub name: String,
        pub status: String,
        pub created_at: i64,
    }
}

pub async fn list_orgs(db: &Db, status: Option<&str>) -> sqlx::Result<Vec<OrgRow>> {
    const SQL: &str = "SELECT id, name, status, created_at FROM partner_orgs \
        WHERE ($1 IS NULL OR status = $1) ORDER BY created_at, id LIMIT 500";
    db.fetch_all(SQL, params![status]).await
}

/// Approves a pending organisation; false if it does not exist or is not pending.
pub fn approve_org(tx: &mut Tx<'_>, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE partner_orgs SET status = 'approved', approved_at = $2 \
        WHERE id = $1 AND status = 'pending'";
    Ok(tx.execute(SQL, params![id, now.as_millis()])? == 1)
}

/// Disables an account and revokes all its refresh tokens; false if there is no such user.
pub fn disable_user(tx: &mut Tx<'_>, user_id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let updated = tx.execute(
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        params![user_id],
    )?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        params![user_id, now.as_millis()],
    )?;
    Ok(updated == 1)
}
