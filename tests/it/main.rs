//! Integration tests: one binary, real daemons and CLI processes.

mod helpers;

mod bad_input;
mod core;
mod docs;
mod roles;
mod schedule;
