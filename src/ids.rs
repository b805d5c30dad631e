//! Opaque, prefixed identifiers (`shw_01JD…`): the prefix tells a reader what an id names,
//! the ULID part sorts by creation time. Demo data derives its ids from stable names so
//! seeding is idempotent.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::new()))
            }

            /// A stable id derived from a natural key (used for demo data).
            pub fn derived(natural_key: &str) -> Self {
                Self(format!("{}_{}", $prefix, derived_suffix($prefix, natural_key)))
            }

            /// Accepts text from a client. Ids are opaque, so anything well-formed is
            /// accepted here and an id that names nothing is a 404 later; this only keeps
            /// absurd input away from the database.
            pub fn parse(text: &str) -> Option<Self> {
                let ok = text.len() <= 64
                    && text.starts_with(concat!($prefix, "_"))
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                ok.then(|| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read from our own storage.
            #[allow(dead_code)]
            pub(crate) fn from_trusted(text: String) -> Self {
                Self(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// 26 Crockford base-32 characters from a hash, the same length as a ULID.
fn derived_suffix(prefix: &str, natural_key: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let digest = Sha256::new()
        .chain_update(prefix.as_bytes())
        .chain_update([0u8])
        .chain_update(natural_key.as_bytes())
        .finalize();
    let mut bits: u128 = u128::from_be_bytes(digest[..16].try_into().unwrap_or([0; 16]));
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

define_id!(CityId, "cty");
define_id!(MovieId, "mov");
define_id!(PartnerOrgId, "org");
define_id!(TheatreId, "thr");
define_id!(ScreenId, "scr");
define_id!(LayoutId, "lay");
define_id!(ShowId, "shw");
define_id!(UserId, "usr");
define_id!(OfferId, "off");
define_id!(BookingId, "bkg");
define_id!(BookingGroupId, "grp");
define_id!(PaymentId, "pay");
define_id!(EventId, "evt");
define_id!(WaitlistEntryId, "wl");
define_id!(NotificationId, "ntf");
define_id!(AnomalyId, "anm");
define_id!(CounterSaleId, "cts");
define_id!(WebhookEndpointId, "whe");
define_id!(WebhookDeliveryId, "whd");
define_id!(SettlementRunId, "stl");
define_id!(CommissionRateId, "cmr");
define_id!(QueueEntryId, "qen");
define_id!(AuditRecordId, "aud");
define_id!(RefundId, "rfd");
define_id!(DisputeId, "dsp");
define_id!(ReviewId, "rev");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_parse_back() {
        let id = ShowId::generate();
        assert!(id.as_str().starts_with("shw_"));
        assert_eq!(ShowId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(
            CityId::derived("in/bengaluru"),
            CityId::derived("in/bengaluru")
        );
        assert_ne!(
            CityId::derived("in/bengaluru"),
            CityId::derived("in/mumbai")
        );
        assert_eq!(CityId::derived("x").as_str().len(), 4 + 26);
    }

    #[test]
    fn foreign_or_malformed_text_is_not_an_id() {
        assert!(ShowId::parse("cty_01ABC").is_none());
        assert!(ShowId::parse("shw_../etc").is_none());
        assert!(ShowId::parse(&format!("shw_{}", "A".repeat(80))).is_none());
    }
}
