//! Pricing and offers: the quote a customer is shown when holding seats. The rules are
//! plain functions over values (`quote::quote`); storage and the admin API build on them.

pub mod model;
pub mod quote;
