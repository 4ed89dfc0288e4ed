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
pub mod shutdown;
pub mod standalone;
pub mod tracker;
pub mod worker;

pub use accept::accept_until;
pub use shutdown::{Shutdown, ShutdownTrigger};
