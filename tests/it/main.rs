//! Integration tests: one binary, real daemons and CLI processes.

mod helpers;
#[path = "../support/pg.rs"]
mod pg;
mod pg_cluster;

/// What the suite's modules that also run on PostgreSQL (see `on_postgres`)
/// take their helpers from.
mod harness {
    pub use crate::helpers::*;
    /// Whether the daemons share a PostgreSQL store with a leading tracker.
    pub const ON_POSTGRES: bool = false;
}

mod on_postgres;

mod alerts;
mod api;
mod auth;
mod bad_input;
mod balance;
mod broken_rows;
mod cli;
mod cluster;
mod console;
mod core;
mod docs;
mod fanout;
mod faults;
mod feedback;
mod flows;
mod hardening;
mod idempotency;
mod metrics;
mod postgres;
mod roles;
mod scale_out;
mod schedule;
mod spool;
mod stats;
