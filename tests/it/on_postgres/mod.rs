//! The core, scheduling and feedback tests again, each on two trackers
//! sharing one PostgreSQL store (see `pg_cluster`): the same files, compiled
//! with `pg_cluster::Daemon` in place of the helpers' one.

mod harness {
    pub use crate::helpers::*;
    pub use crate::pg_cluster::Daemon;
    pub const ON_POSTGRES: bool = true;
}

#[path = "../core.rs"]
mod core;
#[path = "../feedback.rs"]
mod feedback;
#[path = "../schedule.rs"]
mod schedule;
