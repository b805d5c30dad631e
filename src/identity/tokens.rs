//! Access tokens are short-lived JWTs signed with HS256; the algorithm is fixed by the
//! server, so a token declaring `none` or any other algorithm is refused before its
//! signature is even considered. Refresh tokens and API keys are random secrets of which
//! only a SHA-256 digest is stored.

use std::sync::{Arc, Mutex, RwLock};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{Principal, Role};
use crate::{
    ids::{PartnerOrgId, UserId},
    time::Timestamp,
};

const ISSUER: &str = "marquee";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    iss: String,
    iat: i64,
    exp: i64,
}

/// The `kid` of the first signing key (the deployment's master secret, from which the
/// ticket and admission keys are derived too); tokens without a `kid` were signed by it.
pub const MASTER_KID: &str = "access-token";

/// Every node reads the keys again about this often (the sweeper's chores, and at once on
/// an unknown `kid`). A retired key goes on verifying tokens signed up to twice this long
/// after its retirement, by nodes that had not heard yet.
pub const RELOAD_SECS: i64 = 60;

/// When a node last read a ring of keys from the database (access tokens here, ticket
/// codes in `booking::tickets`), to read them again when due.
#[derive(Clone, Default)]
pub struct KeysLoaded(Arc<Mutex<Option<std::time::Instant>>>);

impl KeysLoaded {
    /// The keys were just read.
    pub fn now(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
    }

    /// Whether they were read longer than `every` ago (or never); marks them read now when
    /// so, so that one caller reloads.
    pub fn due(&self, every: std::time::Duration) -> bool {
        let mut loaded = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let due = loaded.is_none_or(|at| at.elapsed() >= every);
        if due {
            *loaded = Some(std::time::Instant::now());
        }
        due
    }
}

/// A signing key as stored (`signing_keys`).
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
    /// When it stopped signing; it still verifies tokens it signed until they expire.
    pub retired_at: Option<i64>,
}

struct KeyRing {
    signing_kid: String,
    encoding: EncodingKey,
    /// kid → key, and when it was retired (ms).
    verifying: std::collections::HashMap<String, (DecodingKey, Option<i64>)>,
}

impl KeyRing {
    /// The newest key not retired signs (the master when every key is retired, which only
    /// a hand-edited table can do); every key verifies.
    fn new(keys: &[SigningKey]) -> Self {
        let signing = keys
            .iter()
            .rev()
            .find(|key| key.retired_at.is_none())
            .or(keys.last());
        let (signing_kid, encoding) = match signing {
            Some(key) => (key.kid.clone(), EncodingKey::from_secret(&key.secret)),
            None => (MASTER_KID.to_owned(), EncodingKey::from_secret(&[])),
        };
        let verifying = keys
            .iter()
            .map(|key| {
                (
                    key.kid.clone(),
                    (DecodingKey::from_secret(&key.secret), key.retired_at),
                )
            })
            .collect();
        Self {
            signing_kid,
            encoding,
            verifying,
        }
    }
}

/// Signs and verifies access tokens with a ring of keys named by `kid`: the newest signs,
/// the retired ones verify what they signed until it expires, so rotating keys logs nobody
/// out (refresh tokens are random secrets, untouched by it). Its `Debug` prints no key
/// material.
#[derive(Clone)]
pub struct TokenSigner {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    /// The master secret (from the configuration or the database): `MASTER_KID`'s key.
    master: Arc<Vec<u8>>,
    access_ttl_secs: i64,
    loaded: KeysLoaded,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("signing_kid", &self.ring().signing_kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
    /// Signed with a key this node does not know (yet): reload the keys and try again.
    #[error("the access token's key is unknown")]
    UnknownKey,
}

impl TokenSigner {
    /// One key, the master.
    pub fn new(secret: &[u8], access_ttl_secs: i64) -> Self {
        Self::with_keys(
            &[SigningKey {
                kid: MASTER_KID.to_owned(),
                secret: secret.to_vec(),
                retired_at: None,
            }],
            access_ttl_secs,
        )
    }

    /// The keys in the order they were made (the newest last).
    pub fn with_keys(keys: &[SigningKey], access_ttl_secs: i64) -> Self {
        let master = keys
            .iter()
            .find(|key| key.kid == MASTER_KID)
            .map(|key| key.secret.clone())
            .unwrap_or_default();
        Self {
            ring: Arc::new(RwLock::new(Arc::new(KeyRing::new(keys)))),
            master: Arc::new(master),
            access_ttl_secs,
            loaded: KeysLoaded::default(),
        }
    }

    /// Takes the keys as stored (`identity::store::token_keys`), the master's secret being
    /// the one this signer was made with (the stored row may be a placeholder when the
    /// secret comes from the configuration).
    pub fn adopt(&self, stored: &[SigningKey]) {
        let master_retired = stored
            .iter()
            .find(|key| key.kid == MASTER_KID)
            .and_then(|key| key.retired_at);
        let mut keys = vec![SigningKey {
            kid: MASTER_KID.to_owned(),
            secret: self.master.to_vec(),
            retired_at: master_retired,
        }];
        keys.extend(stored.iter().filter(|key| key.kid != MASTER_KID).cloned());
        self.replace_keys(&keys);
    }

    /// Takes the keys as they now stand.
    pub fn replace_keys(&self, keys: &[SigningKey]) {
        let ring = Arc::new(KeyRing::new(keys));
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
        self.loaded.now();
    }

    /// Whether the keys were read longer than `every` ago (see `KeysLoaded::due`).
    pub fn reload_due(&self, every: std::time::Duration) -> bool {
        self.loaded.due(every)
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> String {
        self.ring().signing_kid.clone()
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    /// A signed access token for `principal`, valid from `now` for the configured time.
    pub fn issue(&self, principal: &Principal, now: Timestamp) -> Result<String, TokenError> {
        let iat = now.as_millis() / 1000;
        let claims = Claims {
            sub: principal.user_id.to_string(),
            role: principal.role,
            org: principal.org_id.as_ref().map(ToString::to_string),
            iss: ISSUER.to_owned(),
            iat,
            exp: iat + self.access_ttl_secs,
        };
        let ring = self.ring();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ring.signing_kid.clone());
        jsonwebtoken::encode(&header, &claims, &ring.encoding).map_err(|_| TokenError::Invalid)
    }

    /// The principal of a valid token at `now`. Expiry is checked against our clock (not
    /// the library's) so tests can move time. A retired key verifies only tokens that
    /// could still be current: signed before it was retired (or within twice
    /// `RELOAD_SECS` after, by a node that had not heard yet) and not expired.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.unwrap_or_else(|| MASTER_KID.to_owned());
        let ring = self.ring();
        let Some((key, retired_at)) = ring.verifying.get(&kid) else {
            return Err(TokenError::UnknownKey);
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if let Some(retired_at) = retired_at
            && claims.iat * 1000 > retired_at + 2 * RELOAD_SECS * 1000
        {
            return Err(TokenError::Invalid);
        }
        if now.as_millis() / 1000 >= claims.exp {
            return Err(TokenError::Expired);
        }
        let user_id = UserId::parse(&claims.sub).ok_or(TokenError::Invalid)?;
        let org_id = match claims.org {
            Some(org) => Some(PartnerOrgId::parse(&org).ok_or(TokenError::Invalid)?),
            None => None,
        };
        Ok(Principal {
            user_id,
            role: claims.role,
            org_id,
        })
    }
}

/// A new random secret with a readable prefix, e.g. `mrt_…` for refresh tokens.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret: SHA-256, hex. Secrets are 256 random bits, so a fast
/// digest is enough (no salt or stretching needed, unlike passwords).
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            user_id: UserId::derived("ana"),
            role: Role::Partner,
            org_id: Some(PartnerOrgId::derived("org")),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", 900);
        let token = signer.issue(&principal(), at(1_000)).unwrap();
        assert_eq!(signer.verify(&token, at(1_899)).unwrap(), principal());
        assert_eq!(signer.verify(&token, at(1_900)), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_foreign_and_unsigned_tokens_are_refused() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", 900);
        let token = signer.issue(&principal(), at(1_000)).unwrap();
        let other = TokenSigner::new(b"another secret, also 32 bytes!!!", 900);
        assert_eq!(other.verify(&token, at(1_001)), Err(TokenError::Invalid));

        let parts: Vec<&str> = token.split('.').collect();
        // Claims changed to admin, signature kept.
        let claims = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let forged = String::from_utf8(claims)
            .unwrap()
            .replace("\"partner\"", "\"admin\"");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged),
            parts[2]
        );
        assert_eq!(
            signer.verify(&tampered, at(1_001)),
            Err(TokenError::Invalid)
        );

        // alg: none with no signature, and HS512 signed with the right secret.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            signer.verify(&unsigned, at(1_001)),
            Err(TokenError::Invalid)
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::from_slice::<serde_json::Value>(
                &URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
            )
            .unwrap(),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(signer.verify(&hs512, at(1_001)), Err(TokenError::Invalid));
        assert_eq!(
            signer.verify("garbage", at(1_001)),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn secrets_are_random_and_digests_stable() {
        let a = new_secret("mrt");
        assert!(a.starts_with("mrt_") && a.len() == 4 + 43);
        assert_ne!(a, new_secret("mrt"));
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
    }

    #[test]
    fn a_rotated_key_verifies_what_it_signed_and_nothing_signed_after() {
        let old = SigningKey {
            kid: MASTER_KID.into(),
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            retired_at: None,
        };
        let signer = TokenSigner::with_keys(std::slice::from_ref(&old), 900);
        let before = signer.issue(&principal(), at(1_000)).unwrap();
        let header = jsonwebtoken::decode_header(&before).unwrap();
        assert_eq!(header.kid.as_deref(), Some(MASTER_KID));

        // Rotation at t = 1,100 s: a new key signs, the old one is retired.
        let new = SigningKey {
            kid: "k2".into(),
            secret: b"another secret, also 32 bytes!!!".to_vec(),
            retired_at: None,
        };
        let retired = SigningKey {
            retired_at: Some(1_100_000),
            ..old.clone()
        };
        signer.replace_keys(&[retired.clone(), new.clone()]);
        let after = signer.issue(&principal(), at(1_200)).unwrap();
        assert_eq!(signer.signing_kid(), "k2");
        assert_eq!(signer.verify(&before, at(1_300)).unwrap(), principal());
        assert_eq!(signer.verify(&after, at(1_300)).unwrap(), principal());
        assert_eq!(signer.verify(&before, at(1_900)), Err(TokenError::Expired));

        // A node that had not heard signs with the old key within twice RELOAD_SECS:
        // accepted; later than that: refused.
        let lagging = TokenSigner::with_keys(std::slice::from_ref(&old), 900);
        let late = lagging.issue(&principal(), at(1_150)).unwrap();
        assert_eq!(signer.verify(&late, at(1_200)).unwrap(), principal());
        let too_late = lagging.issue(&principal(), at(1_221)).unwrap();
        assert_eq!(
            signer.verify(&too_late, at(1_300)),
            Err(TokenError::Invalid)
        );

        // A node that does not know the new key yet asks to reload.
        assert_eq!(
            lagging.verify(&after, at(1_300)),
            Err(TokenError::UnknownKey)
        );
        // A token naming an unknown key with our old key's signature is no way in.
        let unknown = TokenSigner::with_keys(
            &[SigningKey {
                kid: "k9".into(),
                ..old
            }],
            900,
        )
        .issue(&principal(), at(1_200))
        .unwrap();
        assert_eq!(
            signer.verify(&unknown, at(1_300)),
            Err(TokenError::UnknownKey)
        );
    }
}
