//! Black-box API tests: the real app over real HTTP, each test on SQLite and PostgreSQL.

mod fixtures;
mod helpers;
mod pg_cluster;
mod serve;

mod abuse;
mod admin;
mod booking;
mod browse;
mod browser;
mod cache;
mod connections;
mod counter_sales;
mod crash;
mod edge;
mod errors;
mod events;
mod freeing;
mod fuzz;
mod gateway;
mod identity;
mod multinode;
mod notify;
mod offers;
mod ops;
mod outage;
mod partner;
mod payments;
mod relay;
mod seat_map;
mod seat_stream;
mod seed;
mod storage;
mod sync;
mod waitlist;
mod web;
