//! When things fire: cron expressions (Quartz with seconds and an optional
//! year, and 5-field Unix), time zones with SPEC's DST rules, repeat
//! intervals, and the next fire times of a job's schedule. Pure functions.

mod cron;
#[cfg(test)]
mod cron_tests;
mod plan;

pub use cron::{CronError, CronExpr, Fire};
pub use plan::{local_zone, parse_zone, Plan, PlanError};

/// The first `count` fire times of `expr` in `tz` after `from`, as `lts
/// cron` and the console's preview show them; fewer when it stops firing.
pub fn next_fires(
    expr: &CronExpr,
    tz: &chrono_tz::Tz,
    from: chrono::DateTime<chrono::Utc>,
    count: usize,
) -> Vec<Fire> {
    let mut fires = Vec::with_capacity(count.min(1_000));
    let mut after = from;
    while fires.len() < count {
        match expr.next_after(after, tz) {
            Some(fire) => {
                after = fire.at;
                fires.push(fire);
            }
            None => break,
        }
    }
    fires
}
