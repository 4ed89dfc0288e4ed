//! The `ltsd` roles (tracker, worker, registry, standalone). `args` holds
//! the command line; each role has a `run` that takes a bound listener (or a
//! tracker client) and a `Shutdown`, so tests and `standalone` can start
//! roles in-process, ready by construction.

pub mod accept;
pub mod args;
pub mod cert;
pub mod datadir;
pub mod http;
pub mod launch;
pub mod registry;
pub mod standalone;
pub mod tracker;
pub mod worker;

/// The shutdown signal lives at the crate root (the client and the
/// registry's client use it too); the roles take it from here as before.
pub use crate::shutdown::{Shutdown, ShutdownTrigger};
pub use accept::accept_until;
