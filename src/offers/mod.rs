//! Pricing and offers: the quote a customer is shown when holding seats. The rules are
//! plain functions over values (`quote::quote`); storage, the admin API, the public
//! listing and quote preview build on them.

pub mod book;
pub mod model;
pub mod quote;
pub mod routes;
pub mod service;
pub mod store;
