//! The core, scheduling, fan-out, feedback, flow and alert tests again, each on two trackers
//! sharing one PostgreSQL store (see `pg_cluster`): the same files, compiled
//! with `pg_cluster::Daemon` in place of the helpers' one.

mod harness {
    pub use crate::helpers::*;
    pub use crate::pg_cluster::Daemon;
    pub const ON_POSTGRES: bool = true;
}

// Loading these files twice is the point.
#[allow(clippy::duplicate_mod)]
#[path = "../alerts.rs"]
mod alerts;
#[allow(clippy::duplicate_mod)]
#[path = "../core.rs"]
mod core;
#[allow(clippy::duplicate_mod)]
#[path = "../fanout.rs"]
mod fanout;
#[allow(clippy::duplicate_mod)]
#[path = "../feedback.rs"]
mod feedback;
#[allow(clippy::duplicate_mod)]
#[path = "../flows.rs"]
mod flows;
#[allow(clippy::duplicate_mod)]
#[path = "../schedule.rs"]
mod schedule;
