//! Admission tokens and the estimates customers see: plain functions.
//!
//! An admission token is `base64url(claims).base64url(HMAC-SHA256(key, claims))`: the
//! customer, the show and an expiry. Holds on a show with a waiting room require one for
//! that account and show; any node checks it without the database.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionClaims {
    /// The customer's user id.
    pub c: String,
    /// The show.
    pub s: String,
    /// Expiry, ms since the epoch (application clock).
    pub e: i64,
}

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"marquee admission v1.");
    mac.update(payload);
    mac
}

/// Signs an admission. Pure.
pub fn issue(key: &[u8], claims: &AdmissionClaims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let tag = mac(key, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Why a token does not admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    BadSignature,
    Expired,
    /// Signed for another account or show.
    NotYours,
}

/// Checks a token for `customer` and `show` at `now`. Pure.
pub fn verify(
    key: &[u8],
    token: &str,
    customer: &str,
    show: &str,
    now: i64,
) -> Result<AdmissionClaims, Refusal> {
    let (payload, tag) = token.split_once('.').ok_or(Refusal::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refusal::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| Refusal::Malformed)?;
    mac(key, &payload)
        .verify_slice(&tag)
        .map_err(|_| Refusal::BadSignature)?;
    let claims: AdmissionClaims =
        serde_json::from_slice(&payload).map_err(|_| Refusal::Malformed)?;
    if claims.e <= now {
        return Err(Refusal::Expired);
    }
    if claims.c != customer || claims.s != show {
        return Err(Refusal::NotYours);
    }
    Ok(claims)
}

/// When a customer `ahead` places from admission may expect to be admitted, at `rate`
/// admissions per second (at least `floor`). Pure.
pub fn expected_at(now: i64, ahead: i64, rate: f64, floor: f64) -> i64 {
    let rate = rate.max(floor).max(0.001);
    now + ((ahead.max(0) as f64 / rate) * 1000.0).ceil() as i64
}

/// What to show: the earliest expected admission ever given (so the wait shown never
/// grows), and whether that is news worth storing (it moved ≥ 1 s earlier). Pure.
pub fn best_expected(stored: Option<i64>, computed: i64) -> (i64, bool) {
    match stored {
        Some(stored) if stored <= computed => (stored, false),
        Some(stored) => (computed, stored - computed >= 1_000),
        None => (computed, true),
    }
}

/// How many more to admit now: enough to keep `window` admitted buyers deciding at once,
/// none once nothing is left to sell. Pure.
pub fn to_admit(window: i64, deciding: i64, free_seats: i64, waiting: i64) -> i64 {
    if free_seats <= 0 {
        return 0;
    }
    (window - deciding).clamp(0, waiting.max(0))
}

/// How many buyers `free` seats can serve, at the seats per booking so far (`taken` seats
/// in `bookings`; two before the first booking): at least one while a seat is free. Pure.
pub fn buyers_served(free: i64, taken: i64, bookings: i64) -> i64 {
    if free <= 0 {
        return 0;
    }
    let per_booking = if bookings > 0 && taken > 0 {
        taken as f64 / bookings as f64
    } else {
        2.0
    };
    ((free as f64 / per_booking).floor() as i64).max(1)
}

/// The next admission window from the last one and the measured hold p99 (ms): halved
/// when over the target, one more when under it, within `[1, max]`. Pure.
pub fn next_window(window: i64, p99_ms: Option<f64>, target_ms: f64, max: i64) -> i64 {
    let next = match p99_ms {
        Some(p99) if p99 > target_ms => window / 2,
        _ => window + 1,
    };
    next.clamp(1, max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_seats_serve_as_many_buyers_as_bookings_so_far_suggest() {
        assert_eq!(buyers_served(300, 0, 0), 150);
        assert_eq!(buyers_served(100, 250, 100), 40);
        assert_eq!(buyers_served(3, 250, 100), 1);
        assert_eq!(buyers_served(0, 300, 120), 0);
    }

    #[test]
    fn a_token_admits_its_account_to_its_show_until_it_expires() {
        let key = b"k";
        let claims = AdmissionClaims {
            c: "usr_a".into(),
            s: "shw_1".into(),
            e: 10_000,
        };
        let token = issue(key, &claims);
        assert_eq!(verify(key, &token, "usr_a", "shw_1", 9_999), Ok(claims));
        assert_eq!(
            verify(key, &token, "usr_a", "shw_1", 10_000),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify(key, &token, "usr_b", "shw_1", 0),
            Err(Refusal::NotYours)
        );
        assert_eq!(
            verify(key, &token, "usr_a", "shw_2", 0),
            Err(Refusal::NotYours)
        );
        assert_eq!(
            verify(b"other", &token, "usr_a", "shw_1", 0),
            Err(Refusal::BadSignature)
        );
        let (payload, tag) = token.split_once('.').unwrap();
        let forged = format!("{}x.{tag}", payload);
        assert!(verify(key, &forged, "usr_a", "shw_1", 0).is_err());
        assert_eq!(
            verify(key, "nonsense", "usr_a", "shw_1", 0),
            Err(Refusal::Malformed)
        );
    }

    #[test]
    fn the_wait_shown_never_grows() {
        let now = 1_000_000;
        assert_eq!(expected_at(now, 100, 10.0, 1.0), now + 10_000);
        assert_eq!(expected_at(now, 100, 0.0, 2.0), now + 50_000, "the floor");
        assert_eq!(best_expected(None, 5), (5, true));
        assert_eq!(
            best_expected(Some(5_000), 9_000),
            (5_000, false),
            "never later"
        );
        assert_eq!(
            best_expected(Some(5_000), 4_500),
            (4_500, false),
            "earlier, not news"
        );
        assert_eq!(best_expected(Some(5_000), 3_000), (3_000, true));
    }

    #[test]
    fn admission_follows_the_window_and_stops_when_sold_out() {
        assert_eq!(to_admit(10, 4, 100, 50), 6);
        assert_eq!(to_admit(10, 12, 100, 50), 0);
        assert_eq!(to_admit(10, 0, 100, 3), 3);
        assert_eq!(to_admit(10, 0, 0, 50), 0);
        assert_eq!(next_window(8, Some(300.0), 100.0, 64), 4);
        assert_eq!(next_window(8, Some(50.0), 100.0, 64), 9);
        assert_eq!(next_window(64, None, 100.0, 64), 64);
        assert_eq!(next_window(1, Some(900.0), 100.0, 64), 1);
    }
}
