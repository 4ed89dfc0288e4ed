//! lts: a distributed task scheduler in the spirit of LTS (Light Task
//! Scheduler). The crate map, in data-flow order:
//!
//! - [`model`]: jobs, schedules, runs, nodes, flows: plain serde types, no I/O.
//! - [`protocol`]: the tracker's and the registry's tarpc services, wire errors,
//!   the handshake, the cluster token's proofs and TLS (`Security`, passed to
//!   `dial`/`accept`).
//! - [`jobline`]: a job or a change as named fields (flags, a JSON line, a
//!   form), checked one way for the CLI and the console; a flow file (TOML).
//! - [`client`]: the library client that `lts` and embedding programs use.
//! - [`registry`]: the registry's client: registration, tracker discovery, master changes.
//! - [`spool`]: the client spool: jobs kept locally while no tracker answers, delivered later.
//! - [`schedule`]: cron (Quartz and Unix), time zones, next fire times: pure functions.
//! - [`store`]: the `Store` trait, its SQLite and PostgreSQL backends and the
//!   group-commit actor.
//! - [`daemon`]: the `ltsd` roles: tracker (with its web console and HTTP API),
//!   worker, registry, standalone; and `ltsd cert`.
//! - [`cli`]: the `lts` subcommands, one module each.
//! - [`config`]: where addresses, tokens and data dirs come from.
//! - [`logging`]: where the binaries' logs go.
//! - [`shutdown`]: the shutdown signal every long-running task waits on.
//! - [`docs`]: completion scripts and man pages generated from the clap definitions.

pub mod balance;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod discovery;
pub mod docs;
pub mod jobline;
pub mod logging;
pub mod model;
pub mod protocol;
pub mod registry;
pub mod schedule;
pub mod shutdown;
pub mod spool;
pub mod store;

/// This build's version, as nodes report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
