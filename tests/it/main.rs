//! Integration tests: one binary, real daemons and CLI processes.

mod helpers;
#[path = "../support/pg.rs"]
mod pg;

mod auth;
mod bad_input;
mod balance;
mod cluster;
mod core;
mod docs;
mod faults;
mod feedback;
mod postgres;
mod roles;
mod scale_out;
mod schedule;
mod spool;
