//! Outbound webhooks to theatres' own systems, in the Standard Webhooks format
//! (<https://www.standardwebhooks.com>): `webhook-id` (the outbox event id, so a
//! redelivery is recognisably the same message), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
//! base64 bytes after the secret's `whsec_` prefix).
//!
//! This module: endpoint registration, secrets (shown once; rotation keeps the previous
//! secret valid for an overlap, signing with both meanwhile) and signing. Delivery from the
//! outbox, retries and the delivery log are `deliveries`.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::{
    app::AppState,
    catalog::manage::{ManageError, ensure_approved},
    ids::{PartnerOrgId, WebhookEndpointId},
    params,
    time::Timestamp,
};

/// Event types an endpoint may subscribe to.
pub const EVENT_TYPES: [&str; 12] = [
    "booking.confirmed",
    "booking.cancelled",
    "booking.refunded",
    "payment.refunded",
    "payment.disputed",
    "show.changed",
    "show.cancelled",
    "counter_sale.recorded",
    "counter_sale.voided",
    "counter_sale.conflicted",
    "show.rescheduled",
    "show.repriced",
];

/// Endpoints one organisation may register.
pub const MAX_ENDPOINTS_PER_ORG: i64 = 20;

/// How long a rotated-out secret still signs (beside the new one).
pub const ROTATION_OVERLAP_MS: i64 = 24 * 60 * 60 * 1000;

/// A new secret: `whsec_` and 32 random bytes in standard base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` value for one message: one `v1,…` signature per secret,
/// space-separated (receivers accept the message if any matches). Secrets that are not
/// `whsec_` + base64 sign nothing. Pure.
pub fn signature(secrets: &[&str], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpointRequest {
    /// `https://…` (or `http://` for a local receiver in test mode).
    pub url: String,
    /// One or more of: booking.confirmed, booking.cancelled, payment.refunded,
    /// show.changed, show.cancelled, counter_sale.recorded, counter_sale.voided,
    /// counter_sale.conflicted, show.rescheduled, show.repriced.
    pub event_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    /// `whe_…`.
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// `enabled` or `disabled` (after sustained delivery failure).
    pub status: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Until when the previous secret still signs, after a rotation.
    #[schema(value_type = Option<String>)]
    pub previous_secret_expires_at: Option<Timestamp>,
}

/// An endpoint with its secret: answered once, when created or rotated.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verify deliveries with it. It is not shown again.
    pub secret: String,
}

crate::db_row! {
    struct EndpointRow {
        id: String,
        url: String,
        event_types: String,
        status: String,
        created_at: i64,
        previous_expires_at: Option<i64>,
    }
}

impl EndpointRow {
    fn view(self, now: Timestamp) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
            url: self.url,
            event_types: serde_json::from_str(&self.event_types).unwrap_or_default(),
            status: self.status,
            created_at: Timestamp::from_millis(self.created_at),
            previous_secret_expires_at: self
                .previous_expires_at
                .filter(|at| *at > now.as_millis())
                .map(Timestamp::from_millis),
        }
    }
}

/// Checks an endpoint request; returns the URL and the event types, sorted. Pure.
pub fn check_endpoint(
    request: &NewEndpointRequest,
    allow_private: bool,
) -> Result<(String, Vec<String>), ManageError> {
    let invalid = |why: &str| ManageError::InvalidInput(why.to_owned());
    if request.url.len() > 2_000 {
        return Err(invalid("the url is longer than 2000 characters"));
    }
    let url = url::Url::parse(&request.url).map_err(|_| invalid("the url is not a URL"))?;
    let host = url.host().ok_or_else(|| invalid("the url has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(invalid("the url must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("the url must not carry credentials"));
    }
    if !allow_private && is_private(&host) {
        return Err(invalid(
            "the url points at a loopback, private or link-local address",
        ));
    }
    let mut types: Vec<String> = request.event_types.clone();
    types.sort();
    types.dedup();
    if types.is_empty() {
        return Err(invalid("subscribe to at least one event type"));
    }
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(ManageError::InvalidInput(format!(
            "unknown event type {unknown:?}; known: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    Ok((url.to_string(), types))
}

/// Loopback, private, link-local and unspecified addresses, and `localhost`: a partner's
/// endpoint must not make Marquee call its own network. (Names are checked again when
/// delivering, after resolution.)
fn is_private(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => is_private_ip(std::net::IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => is_private_ip(std::net::IpAddr::V6(*ip)),
    }
}

/// Addresses deliveries never go to (unless private targets are allowed): loopback,
/// private, link-local, unspecified, broadcast, carrier-grade NAT, unique-local IPv6 and
/// IPv4-mapped forms of these. Pure.
pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(IpAddr::V4(v4)))
        }
    }
}

const ENDPOINT: &str = "SELECT id, url, event_types, status, created_at, previous_expires_at \
     FROM webhook_endpoints";

/// Registers an endpoint; the answer carries its secret, once.
pub async fn create_endpoint(
    app: &AppState,
    org_id: &PartnerOrgId,
    request: &NewEndpointRequest,
) -> Result<EndpointWithSecret, ManageError> {
    let (url, types) = check_endpoint(request, app.config.webhooks.allow_private_targets)?;
    ensure_approved(&app.db, org_id).await?;
    let id = WebhookEndpointId::generate().to_string();
    let secret = new_secret();
    let now = app.clock.now();
    let unit = (
        id.clone(),
        org_id.to_string(),
        url,
        serde_json::to_string(&types).unwrap_or_default(),
        secret.clone(),
    );
    let row = app
        .db
        .write(move |tx| -> Result<EndpointRow, ManageError> {
            let (id, org_id, url, types, secret) = &unit;
            let count: i64 = tx.fetch_one(
                "SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1",
                params![org_id],
            )?;
            if count >= MAX_ENDPOINTS_PER_ORG {
                return Err(ManageError::InvalidInput(format!(
                    "an organisation may register at most {MAX_ENDPOINTS_PER_ORG} endpoints"
                )));
            }
            tx.execute(
                "INSERT INTO webhook_endpoints (id, org_id, url, event_types, secret, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'enabled', $6, $6)",
                params![id, org_id, url, types, secret, now.as_millis()],
            )?;
            Ok(tx.fetch_one(&format!("{ENDPOINT} WHERE id = $1"), params![id])?)
        })
        .await?;
    Ok(EndpointWithSecret {
        endpoint: row.view(now),
        secret,
    })
}

/// The organisation's endpoints, oldest first (no secrets).
pub async fn list_endpoints(
    app: &AppState,
    org_id: &PartnerOrgId,
) -> Result<Vec<WebhookEndpoint>, ManageError> {
    let now = app.clock.now();
    let rows: Vec<EndpointRow> = app
        .db
        .fetch_all(
            &format!("{ENDPOINT} WHERE org_id = $1 ORDER BY created_at, id"),
            params![org_id.as_str()],
        )
        .await?;
    Ok(rows.into_iter().map(|row| row.view(now)).collect())
}

/// A new secret for the endpoint; the current one keeps signing beside it for
/// `ROTATION_OVERLAP_MS`, so the receiver can switch without losing a delivery.
pub async fn rotate_secret(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
) -> Result<EndpointWithSecret, ManageError> {
    let secret = new_secret();
    let now = app.clock.now();
    let unit = (endpoint_id.to_owned(), org_id.to_string(), secret.clone());
    let row = app
        .db
        .write(move |tx| -> Result<Option<EndpointRow>, ManageError> {
            let (id, org_id, secret) = &unit;
            let rotated = tx.execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, previous_expires_at = $4, \
                 secret = $3, updated_at = $5 WHERE id = $1 AND org_id = $2",
                params![
                    id,
                    org_id,
                    secret,
                    now.as_millis() + ROTATION_OVERLAP_MS,
                    now.as_millis()
                ],
            )?;
            if rotated == 0 {
                return Ok(None);
            }
            Ok(tx.fetch_optional(&format!("{ENDPOINT} WHERE id = $1"), params![id])?)
        })
        .await?
        .ok_or_else(|| ManageError::UnknownWebhookEndpoint(endpoint_id.to_owned()))?;
    Ok(EndpointWithSecret {
        endpoint: row.view(now),
        secret,
    })
}

/// Removes an endpoint.
pub async fn delete_endpoint(
    app: &AppState,
    org_id: &PartnerOrgId,
    endpoint_id: &str,
) -> Result<(), ManageError> {
    let unit = (endpoint_id.to_owned(), org_id.to_string());
    let deleted = app
        .db
        .write(move |tx| {
            let (id, org_id) = &unit;
            tx.execute(
                "DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
                params![id, org_id],
            )
        })
        .await?;
    if deleted == 0 {
        return Err(ManageError::UnknownWebhookEndpoint(endpoint_id.to_owned()));
    }
    Ok(())
}

/// The secrets that sign a message to the endpoint now: the current one, and the previous
/// one while its overlap lasts.
pub async fn signing_secrets(
    app: &AppState,
    endpoint_id: &str,
) -> Result<Vec<String>, ManageError> {
    let row: Option<(String, Option<String>, Option<i64>)> = app
        .db
        .fetch_optional(
            "SELECT secret, previous_secret, previous_expires_at FROM webhook_endpoints \
             WHERE id = $1",
            params![endpoint_id],
        )
        .await?;
    let (current, previous, until) =
        row.ok_or_else(|| ManageError::UnknownWebhookEndpoint(endpoint_id.to_owned()))?;
    let now = app.clock.now().as_millis();
    Ok(secrets_in_force(&current, previous.as_deref(), until, now)
        .into_iter()
        .map(str::to_owned)
        .collect())
}

/// The secrets that sign at `now`: the current one, and the previous one until its
/// overlap ends. Pure.
pub fn secrets_in_force<'a>(
    current: &'a str,
    previous: Option<&'a str>,
    previous_until: Option<i64>,
    now: i64,
) -> Vec<&'a str> {
    let mut secrets = vec![current];
    if let (Some(previous), Some(until)) = (previous, previous_until)
        && until > now
    {
        secrets.push(previous);
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_standard_one_and_covers_id_time_and_body() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(&[secret], id, 1_614_265_330, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_ne!(signature(&[secret], id, 1_614_265_331, body), signed);
        assert_ne!(
            signature(&[secret], "msg_other", 1_614_265_330, body),
            signed
        );
        // Two secrets during a rotation: two signatures; a malformed secret signs nothing.
        let other = new_secret();
        let both = signature(&[secret, &other], id, 1_614_265_330, body);
        assert!(both.starts_with(&format!("{signed} v1,")));
        assert_eq!(signature(&["not-a-secret"], id, 1, body), "");
    }

    #[test]
    fn an_independent_standard_webhooks_verifier_accepts_each_secret_of_a_rotation() {
        let (old, new) = (new_secret(), new_secret());
        let body = br#"{"type":"booking.confirmed","data":{"booking_id":"bkg_1"}}"#;
        let now = chrono::Utc::now().timestamp();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", "evt_01JD".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        let signed = signature(&[&new, &old], "evt_01JD", now, body);
        headers.insert("webhook-signature", signed.parse().unwrap());
        for secret in [&old, &new] {
            let verifier = standardwebhooks::Webhook::new(secret).unwrap();
            assert!(verifier.verify(body, &headers).is_ok());
            assert!(verifier.verify(b"{}", &headers).is_err(), "another body");
        }
        let stranger = standardwebhooks::Webhook::new(&new_secret()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
    }

    #[test]
    fn new_secrets_are_whsec_and_32_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let bytes = STANDARD.decode(a.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(bytes.len(), 32);
    }

    #[test]
    fn endpoints_are_https_urls_of_public_hosts_with_known_event_types() {
        let request = |url: &str, types: &[&str]| NewEndpointRequest {
            url: url.into(),
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        };
        let (url, types) = check_endpoint(
            &request(
                "https://tms.example.com/hooks",
                &["show.changed", "booking.confirmed", "show.changed"],
            ),
            false,
        )
        .unwrap();
        assert_eq!(url, "https://tms.example.com/hooks");
        assert_eq!(types, ["booking.confirmed", "show.changed"]);
        for bad in [
            "http://tms.example.com/hooks",
            "https://user:pw@tms.example.com/",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.9/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://localhost/hook",
            "https://0.0.0.0/hook",
            "ftp://tms.example.com/",
            "not a url",
        ] {
            assert!(
                check_endpoint(&request(bad, &["show.changed"]), false).is_err(),
                "{bad}"
            );
        }
        assert!(
            check_endpoint(&request("http://127.0.0.1:9/hook", &["show.changed"]), true).is_ok()
        );
        assert!(check_endpoint(&request("https://tms.example.com/", &[]), false).is_err());
        assert!(
            check_endpoint(
                &request("https://tms.example.com/", &["booking.held"]),
                false
            )
            .is_err()
        );
    }
}
