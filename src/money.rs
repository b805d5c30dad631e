//! Money is an integer count of minor units (paise, pence, cents) with its ISO 4217 currency;
//! never a float. Pricing arithmetic arrives with the quote engine.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// An ISO 4217 alphabetic code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// ISO 4217 "no currency"; only shown if a stored code were ever damaged.
    pub const UNKNOWN: Currency = Currency(*b"XXX");

    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("currency must be an ISO 4217 code like INR"))
    }
}

/// An amount of money: `{"amount": 25000, "currency": "INR"}` is ₹250.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Integer minor units (paise, pence, cents).
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(value_type = String, example = "INR")]
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert_eq!(Currency::parse("INR").unwrap().as_str(), "INR");
        for bad in ["inr", "IN", "INRR", "I1R", ""] {
            assert!(Currency::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn money_serialises_as_minor_units_and_code() {
        let money = Money::new(25_050, Currency::parse("GBP").unwrap());
        assert_eq!(
            serde_json::to_string(&money).unwrap(),
            r#"{"amount":25050,"currency":"GBP"}"#
        );
    }
}
