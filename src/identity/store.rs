//! Storage of users, partner organisations and their members.

use crate::{db::Conn, on_conn, time::Timestamp};

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
