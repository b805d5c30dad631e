//! Accounts as the API sees them: roles, e-mail addresses, and what a signed-in caller is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{PartnerOrgId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Partner,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Partner => "partner",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Role::Customer, Role::Partner, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// The language an account's messages are written in: only those Marquee has templates
/// for (`integration::templates`). Stored and shown as its code (`en`, `fr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Fr,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }

    /// A supported locale's code, in any case (`fr`, `FR`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(text))
    }

    /// A stored code; an unknown one (written by a newer version) reads as English.
    pub fn from_stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_default()
    }
}

/// A syntactically valid e-mail address, lower-cased. Deliverability is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (local, domain) = text.rsplit_once('@')?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let local_ok = !local.is_empty() && local.len() <= 64 && !local.contains('@');
        (domain_ok && local_ok).then(|| Email(text.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The caller of an authenticated request, from a verified access token or API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
    /// The partner organisation a partner acts for.
    pub org_id: Option<PartnerOrgId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@x",
            "ana@.x.com",
            "a b@x.com",
            "ana@x..com",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?}");
        }
    }
}
