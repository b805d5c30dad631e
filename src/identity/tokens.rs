//! Access tokens are short-lived JWTs signed with HS256; the algorithm is fixed by the
//! server, so a token declaring `none` or any other algorithm is refused before its
//! signature is even considered. Refresh tokens and API keys are random secrets of which
//! only a SHA-256 digest is stored.

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

/// Signs and verifies access tokens. Its `Debug` prints no key material.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl_secs: i64,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("access_ttl_secs", &self.access_ttl_secs)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

impl TokenSigner {
    pub fn new(secret: &[u8], access_ttl_secs: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl_secs,
        }
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)
    }

    /// The principal of a valid token at `now`. Expiry is checked against our clock (not
    /// the library's) so tests can move time.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Principal, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
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
}
