//! Passwords: the rules a new password must meet, and Argon2id hashes in PHC string form
//! (algorithm, parameters and salt included, so parameters can be raised later).

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 128;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password has at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("a password must not be the e-mail address")]
    SameAsEmail,
    #[error("a password must not be one character repeated")]
    Repetitive,
}

/// Length in characters, not bytes; the e-mail address (or its local part) and one
/// repeated character are refused.
pub fn check_policy(password: &str, email: &str) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    let lowered = password.to_lowercase();
    let local = email.split('@').next().unwrap_or(email);
    if lowered == email.to_lowercase() || lowered == local.to_lowercase() {
        return Err(WeakPassword::SameAsEmail);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(WeakPassword::Repetitive);
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of a random password: verified against when an e-mail address is unknown,
/// so a login takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&ulid::Ulid::new().to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let phc = hash("demo-password").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("demo-password", &phc));
        assert!(!verify("demo-passwore", &phc));
        assert!(!verify("demo-password", "not a hash"));
    }

    #[test]
    fn policy_refuses_short_long_email_and_repetitive_passwords() {
        let email = "ana.silva@example.com";
        assert_eq!(check_policy("short", email), Err(WeakPassword::TooShort));
        assert_eq!(
            check_policy(&"ab".repeat(65), email),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(
            check_policy("Ana.Silva@Example.com", email),
            Err(WeakPassword::SameAsEmail)
        );
        assert_eq!(
            check_policy("ana.silva1", "ana.silva1@example.com"),
            Err(WeakPassword::SameAsEmail)
        );
        assert_eq!(
            check_policy("aaaaaaaaaaaa", email),
            Err(WeakPassword::Repetitive)
        );
        assert_eq!(check_policy("correct horse battery", email), Ok(()));
        // Characters, not bytes: ten Devanagari letters are long enough.
        assert_eq!(check_policy("कखगघङचछजझञ", email), Ok(()));
    }
}
