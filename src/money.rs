//! Money is an integer count of minor units (paise, pence, cents) with its ISO 4217 currency;
//! never a float. Arithmetic is checked: it never mixes currencies and never overflows
//! silently; percentages are basis points rounded half-up to the minor unit.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

/// Basis points in 100%.
pub const FULL_BP: u32 = 10_000;

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: 0,
            currency,
        }
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `basis_points` of this amount (5,000 bp = 50%), rounded half-up to the minor unit
    /// (half away from zero for negative amounts).
    pub fn basis_points(self, basis_points: u32) -> Result<Money, MoneyError> {
        let product = i128::from(self.amount) * i128::from(basis_points);
        let half = i128::from(FULL_BP / 2);
        let rounded = if product >= 0 {
            (product + half) / i128::from(FULL_BP)
        } else {
            (product - half) / i128::from(FULL_BP)
        };
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The sum of `amounts`, all in `currency`.
    pub fn sum(
        currency: Currency,
        amounts: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), |total, amount| {
                total.checked_add(amount)
            })
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

    fn inr(amount: i64) -> Money {
        Money::new(amount, Currency::parse("INR").unwrap())
    }

    #[test]
    fn basis_points_round_half_up_to_the_minor_unit() {
        assert_eq!(inr(25_000).basis_points(2_000).unwrap(), inr(5_000));
        assert_eq!(inr(333).basis_points(5_000).unwrap(), inr(167)); // 166.5 → 167
        assert_eq!(inr(332).basis_points(5_000).unwrap(), inr(166));
        assert_eq!(inr(1).basis_points(4_999).unwrap(), inr(0)); // 0.4999
        assert_eq!(inr(1).basis_points(5_000).unwrap(), inr(1)); // 0.5 → 1
        assert_eq!(inr(-333).basis_points(5_000).unwrap(), inr(-167));
        assert_eq!(inr(i64::MAX).basis_points(FULL_BP).unwrap(), inr(i64::MAX));
        assert_eq!(
            inr(i64::MAX).basis_points(20_000),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let gbp = Money::new(100, Currency::parse("GBP").unwrap());
        assert!(matches!(
            inr(100).checked_add(gbp),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
        assert_eq!(inr(i64::MAX).checked_add(inr(1)), Err(MoneyError::Overflow));
        assert_eq!(inr(5).checked_sub(inr(7)).unwrap(), inr(-2));
        let currency = Currency::parse("INR").unwrap();
        assert_eq!(
            Money::sum(currency, [inr(1), inr(2), inr(3)]).unwrap(),
            inr(6)
        );
        assert!(Money::sum(currency, [inr(1), gbp]).is_err());
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
