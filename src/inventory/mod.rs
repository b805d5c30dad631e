//! Seat inventory: layouts of screens, the per-show seat rows that are sold, and the
//! public seat map. Holds and sales change seat rows here (booking builds on it).

pub mod best_available;
pub mod facts;
pub mod in_flight;
pub mod layout;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod stream;
