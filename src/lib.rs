//! Marquee: a movie-ticket booking platform backend.
//!
//! One module per bounded context (`catalog`, `inventory`, `identity`, …), each with its
//! model, rules, storage and routes; `http` holds the shared edge, `db` the two engines.
//! Start with `docs/architecture.md`.

pub mod app;
pub mod audit;
pub mod bench;
pub mod booking;
pub mod catalog;
pub mod checkin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod http;
pub mod identity;
pub mod ids;
pub mod integration;
pub mod inventory;
pub mod limits;
pub mod money;
pub mod offers;
pub mod payment;
pub mod pricing;
pub mod reports;
pub mod reviews;
pub mod seed;
pub mod settlement;
pub mod support;
pub mod telemetry;
pub mod time;
pub mod waiting_room;
pub mod web;
