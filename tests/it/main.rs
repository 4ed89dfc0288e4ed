//! Integration tests: one binary, real daemons and CLI processes.

mod helpers;

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
mod schedule;
mod spool;
