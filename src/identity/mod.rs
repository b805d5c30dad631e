//! Accounts, roles and partner organisations. For now: password hashing and the rows the
//! demo accounts need; sign-up, login and tokens arrive with the identity capability.

pub mod password;
pub mod store;
