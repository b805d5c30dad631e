//! Black-box API tests: the real app over real HTTP, each test on SQLite and PostgreSQL.

mod fixtures;
mod helpers;

mod admin;
mod booking;
mod browse;
mod cache;
mod connections;
mod edge;
mod errors;
mod events;
mod fuzz;
mod identity;
mod multinode;
mod notify;
mod offers;
mod ops;
mod partner;
mod payments;
mod relay;
mod seat_map;
mod seed;
mod waitlist;
