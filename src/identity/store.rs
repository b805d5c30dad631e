//! Storage of users, partner organisations and their members.

use crate::{
    db::{Conn, Db, native},
    on_conn, on_reader,
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
pub async fn insert_user(
    conn: &mut Conn<'_>,
    user: &NewUser<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO users (id, email, display_name, password_hash, role, status, created_at) \
        VALUES ($1, $2, $3, $4, $5, 'active', $6) ON CONFLICT (email) DO NOTHING";
    let done = on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(user.id)
            .bind(user.email.to_lowercase())
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(user.role)
            .bind(now.as_millis())
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

pub async fn user_exists(conn: &mut Conn<'_>, email: &str) -> sqlx::Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM users WHERE email = $1";
    let count: i64 = on_conn!(conn, |c| sqlx::query_scalar(SQL)
        .bind(email.to_lowercase())
        .fetch_one(c)
        .await?);
    Ok(count > 0)
}

/// Inserts an approved partner organisation unless it exists.
pub async fn insert_approved_org(
    conn: &mut Conn<'_>,
    id: &str,
    name: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    const SQL: &str = "INSERT INTO partner_orgs (id, name, status, created_at, approved_at) \
        VALUES ($1, $2, 'approved', $3, $3) ON CONFLICT (id) DO NOTHING";
    let done = on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(id)
            .bind(name)
            .bind(now.as_millis())
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

pub async fn add_member(conn: &mut Conn<'_>, org_id: &str, user_id: &str) -> sqlx::Result<()> {
    const SQL: &str = "INSERT INTO partner_members (org_id, user_id) VALUES ($1, $2) \
        ON CONFLICT (org_id, user_id) DO NOTHING";
    on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(org_id)
            .bind(user_id)
            .execute(c)
            .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
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
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.password_hash, u.role, u.status, \
    o.id AS org_id, o.name AS org_name, o.status AS org_status \
    FROM users u \
    LEFT JOIN partner_members m ON m.user_id = u.id \
    LEFT JOIN partner_orgs o ON o.id = m.org_id";

pub async fn user_by_email(db: &Db, email: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.email = $1");
    on_reader!(db, |pool| sqlx::query_as(&sql)
        .bind(email)
        .fetch_optional(pool)
        .await)
}

/// An account's status (`active`, `disabled`), checked on every authenticated request.
pub async fn user_status(db: &Db, id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str = "SELECT status FROM users WHERE id = $1";
    if let Some(path) = db.native_path() {
        return native::read(path, |c| {
            Ok(native::query(c, SQL, &[("$1", &id)], |r| r.get(0))?.pop())
        });
    }
    on_reader!(db, |pool| sqlx::query_scalar(SQL)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

pub async fn user_by_id(db: &Db, id: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.id = $1");
    on_reader!(db, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewRefreshToken<'a> {
    pub id: &'a str,
    pub family_id: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
}

pub async fn insert_refresh_token(
    conn: &mut Conn<'_>,
    token: &NewRefreshToken<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    const SQL: &str = "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
        VALUES ($1, $2, $3, $4, $5, $6)";
    on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(token.id)
            .bind(token.family_id)
            .bind(token.user_id)
            .bind(token.token_hash)
            .bind(now.as_millis())
            .bind(token.expires_at.as_millis())
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn refresh_token_by_hash(
    conn: &mut Conn<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<RefreshTokenRow>> {
    const SQL: &str = "SELECT id, family_id, user_id, expires_at, rotated_at, revoked_at \
        FROM refresh_tokens WHERE token_hash = $1";
    on_conn!(conn, |c| sqlx::query_as(SQL)
        .bind(token_hash)
        .fetch_optional(c)
        .await)
}

/// Marks a token as exchanged, only if it has not been already: false means another
/// request rotated it first (a replay).
pub async fn mark_rotated(conn: &mut Conn<'_>, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE refresh_tokens SET rotated_at = $2 \
        WHERE id = $1 AND rotated_at IS NULL AND revoked_at IS NULL";
    let done = on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(id)
            .bind(now.as_millis())
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

/// Revokes every token of a login family.
pub async fn revoke_family(
    conn: &mut Conn<'_>,
    family_id: &str,
    now: Timestamp,
) -> sqlx::Result<u64> {
    const SQL: &str = "UPDATE refresh_tokens SET revoked_at = $2 \
        WHERE family_id = $1 AND revoked_at IS NULL";
    on_conn!(conn, |c| {
        Ok(sqlx::query(SQL)
            .bind(family_id)
            .bind(now.as_millis())
            .execute(c)
            .await?
            .rows_affected())
    })
}

/// The token-signing secret, created on first use so every node of a deployment shares it.
pub async fn signing_secret(db: &Db, now: Timestamp) -> sqlx::Result<String> {
    const SELECT: &str = "SELECT secret FROM signing_keys WHERE id = 'access-token'";
    const INSERT: &str = "INSERT INTO signing_keys (id, secret, created_at) VALUES ('access-token', $1, $2) \
        ON CONFLICT (id) DO NOTHING";
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let candidate = super::tokens::new_secret("hs256");
    on_conn!(&mut conn, |c| {
        sqlx::query(INSERT)
            .bind(&candidate)
            .bind(now.as_millis())
            .execute(&mut *c)
            .await?;
    });
    let secret: String = on_conn!(&mut conn, |c| sqlx::query_scalar(SELECT)
        .fetch_one(c)
        .await?);
    tx.commit().await?;
    Ok(secret)
}

pub async fn org_status(db: &Db, org_id: &str) -> sqlx::Result<Option<String>> {
    const SQL: &str = "SELECT status FROM partner_orgs WHERE id = $1";
    on_reader!(db, |pool| sqlx::query_scalar(SQL)
        .bind(org_id)
        .fetch_optional(pool)
        .await)
}

/// Inserts an organisation awaiting approval.
pub async fn insert_pending_org(
    conn: &mut Conn<'_>,
    id: &str,
    name: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    const SQL: &str =
        "INSERT INTO partner_orgs (id, name, status, created_at) VALUES ($1, $2, 'pending', $3)";
    on_conn!(conn, |c| {
        sqlx::query(SQL)
            .bind(id)
            .bind(name)
            .bind(now.as_millis())
            .execute(c)
            .await?;
    });
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub created_at: i64,
}

pub async fn list_orgs(db: &Db, status: Option<&str>) -> sqlx::Result<Vec<OrgRow>> {
    const SQL: &str = "SELECT id, name, status, created_at FROM partner_orgs \
        WHERE ($1 IS NULL OR status = $1) ORDER BY created_at, id LIMIT 500";
    on_reader!(db, |pool| sqlx::query_as(SQL)
        .bind(status)
        .fetch_all(pool)
        .await)
}

/// Approves a pending organisation; false if it does not exist or is not pending.
pub async fn approve_org(conn: &mut Conn<'_>, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    const SQL: &str = "UPDATE partner_orgs SET status = 'approved', approved_at = $2 \
        WHERE id = $1 AND status = 'pending'";
    let done = on_conn!(conn, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now.as_millis())
        .execute(c)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Disables an account and revokes all its refresh tokens; false if there is no such user.
pub async fn disable_user(
    conn: &mut Conn<'_>,
    user_id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let updated = on_conn!(conn, |c| {
        let updated = sqlx::query("UPDATE users SET status = 'disabled' WHERE id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now.as_millis())
        .execute(&mut *c)
        .await?;
        updated
    });
    Ok(updated == 1)
}

/// `user_by_id` inside the caller's transaction. A transaction must never wait for a
/// second pooled connection: with every connection held by such waiters, none is freed.
pub async fn user_by_id_in(conn: &mut Conn<'_>, id: &str) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} WHERE u.id = $1");
    on_conn!(conn, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)
}
