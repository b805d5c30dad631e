//! A customer's rights over their data (GDPR articles 15, 17 and 20): everything Marquee
//! holds about them as one JSON document, and erasure.
//!
//! Erasure keeps the account's id, so the bookings and payments accounting must keep
//! (amounts, dates, seats) still add up, and removes everything that identifies the person:
//! the e-mail address and name (replaced), the password (unusable), sessions, the
//! addresses and subjects of messages sent, and stored answers that repeated them
//! (idempotency records). Events, webhook deliveries and the audit log carry ids only, so
//! with the account row erased they point at nobody. Waiting waitlist entries end.
//!
//! A retention job (`purge_expired`) clears the addresses of messages older than
//! `privacy.notification_retention_days`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{IdentityError, model::Principal, service};
use crate::{app::AppState, db::Engine, db_row, params, time::Timestamp};

/// Where erased accounts' addresses point: a reserved domain nothing is ever sent to.
pub const ERASED_DOMAIN: &str = "erased.invalid";

/// Whether `email` is an erased account's placeholder.
pub fn is_erased_address(email: &str) -> bool {
    email.ends_with(&format!("@{ERASED_DOMAIN}"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The account's password, to confirm.
    pub password: String,
}

/// When the account was erased.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub id: String,
    #[schema(value_type = String)]
    pub erased_at: Timestamp,
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportReview {
        pub id: String,
        pub movie_id: String,
        pub rating: i64,
        pub body: String,
        pub status: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

/// Everything Marquee holds about a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    #[schema(value_type = String)]
    pub exported_at: Timestamp,
    pub account: ExportAccount,
    pub bookings: Vec<ExportBooking>,
    pub payments: Vec<ExportPayment>,
    pub waitlist: Vec<ExportWaitlistEntry>,
    pub waiting_rooms: Vec<ExportQueueEntry>,
    /// Reviews written (hidden ones too).
    pub reviews: Vec<ExportReview>,
    /// Messages sent to the account's address.
    pub notifications: Vec<ExportNotification>,
    /// Sign-ins (refresh-token families), without their secrets.
    pub sessions: Vec<ExportSession>,
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportAccount {
        pub id: String,
        pub email: String,
        pub display_name: String,
        pub role: String,
        pub status: String,
        pub created_at: i64,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportBooking {
        pub id: String,
        pub show_id: String,
        pub status: String,
        /// JSON array of seat labels.
        pub seats: String,
        pub currency: String,
        pub total: i64,
        pub fee_total: i64,
        pub refund: Option<i64>,
        pub created_at: i64,
        pub confirmed_at: Option<i64>,
        pub cancelled_at: Option<i64>,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportPayment {
        pub id: String,
        pub booking_id: String,
        pub status: String,
        pub amount: i64,
        pub currency: String,
        pub refund_amount: Option<i64>,
        pub created_at: i64,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportWaitlistEntry {
        pub id: String,
        pub show_id: String,
        pub seats_wanted: i64,
        pub status: String,
        pub created_at: i64,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportQueueEntry {
        pub id: String,
        pub show_id: String,
        pub position: Option<i64>,
        pub joined_at: i64,
        pub admitted_at: Option<i64>,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportNotification {
        pub kind: String,
        pub recipient: String,
        pub subject: String,
        pub created_at: i64,
    }
}

db_row! {
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ExportSession {
        pub family_id: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }
}

/// Everything held about the signed-in customer (times in ms since the epoch, UTC).
pub async fn export(app: &AppState, principal: &Principal) -> Result<Export, IdentityError> {
    let user = principal.user_id.as_str();
    let db = &app.db;
    let account: ExportAccount = db
        .fetch_optional(
            "SELECT id, email, display_name, role, status, created_at FROM users WHERE id = $1",
            params![user],
        )
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(user.to_owned()))?;
    let bookings = db
        .fetch_all(
            "SELECT id, show_id, status, seats, currency, total, fee_total, refund, created_at, \
             confirmed_at, cancelled_at FROM bookings WHERE customer_id = $1 \
             ORDER BY created_at, id",
            params![user],
        )
        .await?;
    let payments = db
        .fetch_all(
            "SELECT p.id, p.booking_id, p.status, p.amount, p.currency, p.refund_amount, \
             p.created_at FROM payments p JOIN bookings b ON b.id = p.booking_id \
             WHERE b.customer_id = $1 ORDER BY p.created_at, p.id",
            params![user],
        )
        .await?;
    let waitlist = db
        .fetch_all(
            "SELECT id, show_id, seats_wanted, status, created_at FROM waitlist_entries \
             WHERE customer_id = $1 ORDER BY created_at, id",
            params![user],
        )
        .await?;
    let waiting_rooms = db
        .fetch_all(
            "SELECT id, show_id, position, joined_at, admitted_at FROM waiting_room_entries \
             WHERE customer_id = $1 ORDER BY joined_at, id",
            params![user],
        )
        .await?;
    let reviews = db
        .fetch_all(
            "SELECT id, movie_id, rating, body, status, created_at, updated_at FROM reviews \
             WHERE customer_id = $1 ORDER BY created_at, id",
            params![user],
        )
        .await?;
    let notifications = db
        .fetch_all(
            "SELECT kind, recipient, subject, created_at FROM notifications \
             WHERE recipient = $1 ORDER BY created_at, id",
            params![&account.email],
        )
        .await?;
    let sessions = db
        .fetch_all(
            "SELECT family_id, MIN(created_at) AS created_at, MAX(expires_at) AS expires_at, \
             MAX(revoked_at) AS revoked_at FROM refresh_tokens WHERE user_id = $1 \
             GROUP BY family_id ORDER BY MIN(created_at), family_id",
            params![user],
        )
        .await?;
    Ok(Export {
        exported_at: app.clock.now(),
        account,
        bookings,
        payments,
        waitlist,
        waiting_rooms,
        reviews,
        notifications,
        sessions,
    })
}

/// Erases the signed-in customer's personal data, once they confirm with their password.
/// Administrators and partners are refused (an organisation's accounts go through support).
pub async fn erase(
    app: &AppState,
    principal: &Principal,
    password: &str,
) -> Result<Erased, IdentityError> {
    if principal.role != super::model::Role::Customer {
        return Err(IdentityError::Forbidden(
            "only customer accounts erase themselves; ask support for others",
        ));
    }
    let user = principal.user_id.to_string();
    let row: Option<(String, String)> = app
        .db
        .fetch_optional(
            "SELECT email, password_hash FROM users WHERE id = $1 AND erased_at IS NULL",
            params![&user],
        )
        .await?;
    let Some((email, hash)) = row else {
        return Err(IdentityError::UnknownUser(user));
    };
    if !service::check_password(password, &hash).await? {
        return Err(IdentityError::InvalidCredentials);
    }
    let now = app.clock.now();
    let engine = app.db.engine();
    let unit = (user.clone(), email);
    app.db
        .write(move |tx| -> Result<(), IdentityError> {
            let (user, email) = &unit;
            let placeholder = format!("{user}@{ERASED_DOMAIN}");
            let at = now.as_millis();
            tx.execute(
                "UPDATE users SET email = $2, display_name = '', password_hash = '!erased', \
                 status = 'disabled', erased_at = $3 WHERE id = $1",
                params![user, &placeholder, at],
            )?;
            tx.execute(
                "DELETE FROM refresh_tokens WHERE user_id = $1",
                params![user],
            )?;
            // Their mail keeps no address, subject or body; what was still to be sent
            // never will be.
            tx.execute(
                "UPDATE notifications SET recipient = $2, recipients = '[]', subject = '', \
                 text_body = '', html_body = '', last_error = NULL, lease_until = NULL, \
                 status = CASE WHEN status IN ('queued', 'sending') THEN 'failed' \
                   ELSE status END \
                 WHERE recipient = $1",
                params![email, &placeholder],
            )?;
            // Stored answers: the account's own, and any that repeated the address (a
            // registration's, kept under the client's address).
            let repeats = match engine {
                Engine::Sqlite => "instr(response, $2) > 0",
                Engine::Postgres => "strpos(response, $2) > 0",
            };
            tx.execute(
                &format!("DELETE FROM idempotency_keys WHERE principal = $1 OR {repeats}"),
                params![user, email],
            )?;
            tx.execute(
                "UPDATE waitlist_entries SET status = 'cancelled', updated_at = $2 \
                 WHERE customer_id = $1 AND status = 'waiting'",
                params![user, at],
            )?;
            // What they wrote goes; their ratings stay in the movies' averages, anonymous.
            tx.execute(
                "UPDATE reviews SET body = '', updated_at = $2 WHERE customer_id = $1",
                params![user, at],
            )?;
            Ok(())
        })
        .await?;
    app.active_accounts.forget(&user);
    Ok(Erased {
        id: user,
        erased_at: now,
    })
}

/// The retention job: clears the address, subject and bodies of messages older than
/// `privacy.notification_retention_days` (the booking they were about stays). Returns how
/// many it cleared.
pub async fn purge_expired(app: &AppState) -> Result<u64, IdentityError> {
    let days = app.config.privacy.notification_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = app.clock.now().as_millis() - i64::from(days) * 86_400_000;
    app.db
        .write(move |tx| -> Result<u64, IdentityError> {
            Ok(tx.execute(
                "UPDATE notifications SET recipient = '', recipients = '[]', subject = '', \
                 text_body = '', html_body = '', last_error = NULL \
                 WHERE created_at < $1 AND recipient <> ''",
                params![cutoff],
            )?)
        })
        .await
}
