//! When things fire: cron expressions (Quartz with seconds and an optional
//! year, and 5-field Unix), time zones with SPEC's DST rules, repeat
//! intervals, and the next fire times of a job's schedule. Pure functions.

mod cron;
#[cfg(test)]
mod cron_tests;
mod plan;

pub use cron::{CronError, CronExpr, Fire};
pub use plan::{local_zone, parse_zone, Plan, PlanError};
