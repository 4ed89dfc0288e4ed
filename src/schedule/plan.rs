//! A job's schedule as fire times: the first tick, the tick after a given
//! one, and the next few for display. Cron ticks are computed in the job's
//! time zone (or the tracker's); repeat ticks are aligned to the first fire.

use super::{CronError, CronExpr};
use crate::model::{Millis, Schedule};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// This machine's time zone, as an IANA name, or UTC when it cannot be told.
pub fn local_zone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(Tz::UTC)
}

/// Parse a zone name, or say why it is not one.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!(
            "unknown time zone '{}' (expected Area/City, e.g. Europe/Paris, or UTC)",
            crate::model::cut(name, 60)
        )
    })
}

/// A schedule's ticks, ready to be asked for fire times.
pub enum Plan {
    Now,
    At(Millis),
    Cron {
        expr: CronExpr,
        tz: Tz,
    },
    Repeat {
        anchor: Millis,
        count: i64,
        interval: i64,
    },
}

/// Why a schedule cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    Cron(CronError),
    Zone(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Cron(e) => write!(f, "{e}"),
            PlanError::Zone(e) => f.write_str(e),
        }
    }
}

fn utc(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Plan {
    /// The plan of `schedule` for a job first scheduled at `anchor`, with
    /// `default_zone` for cron expressions that name none.
    pub fn new(schedule: &Schedule, anchor: Millis, default_zone: Tz) -> Result<Plan, PlanError> {
        Ok(match schedule {
            Schedule::Now => Plan::Now,
            Schedule::At { at_ms } => Plan::At(*at_ms),
            Schedule::Cron { expr, tz } => Plan::Cron {
                expr: CronExpr::parse(expr).map_err(PlanError::Cron)?,
                tz: match tz {
                    Some(name) => parse_zone(name).map_err(PlanError::Zone)?,
                    None => default_zone,
                },
            },
            Schedule::Repeat { count, interval_ms } => Plan::Repeat {
                anchor,
                count: *count,
                interval: (*interval_ms).min(i64::MAX as u64) as i64,
            },
        })
    }

    /// The first tick at or after `from`.
    pub fn first(&self, from: Millis) -> Option<Millis> {
        match self {
            Plan::Now => Some(from),
            Plan::At(at) => Some(*at),
            Plan::Cron { .. } | Plan::Repeat { .. } => self.after(from - 1),
        }
    }

    /// The first tick strictly after `after`.
    pub fn after(&self, after: Millis) -> Option<Millis> {
        match self {
            Plan::Now => None,
            Plan::At(at) => (*at > after).then_some(*at),
            Plan::Cron { expr, tz } => expr
                .next_after(utc(after), tz)
                .map(|f| f.at.timestamp_millis()),
            Plan::Repeat {
                anchor,
                count,
                interval,
            } => {
                let k = if after < *anchor {
                    0
                } else {
                    (after - anchor) / interval + 1
                };
                if *count >= 0 && k >= *count {
                    return None;
                }
                // A tick past the end of time never comes.
                k.checked_mul(*interval).and_then(|d| anchor.checked_add(d))
            }
        }
    }

    /// Up to `n` ticks strictly after `after`.
    pub fn upcoming(&self, after: Millis, n: usize) -> Vec<Millis> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_ticks_are_aligned_to_the_first_and_counted() {
        let plan = Plan::new(
            &Schedule::Repeat {
                count: 3,
                interval_ms: 1000,
            },
            10_000,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(plan.first(10_000), Some(10_000));
        assert_eq!(plan.after(10_000), Some(11_000));
        assert_eq!(plan.after(11_500), Some(12_000));
        assert_eq!(plan.after(12_000), None);
        assert_eq!(plan.upcoming(9_000, 10), vec![10_000, 11_000, 12_000]);
        let forever = Plan::new(
            &Schedule::Repeat {
                count: -1,
                interval_ms: 500,
            },
            0,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(forever.after(1_000_000), Some(1_000_500));
    }

    #[test]
    fn at_fires_once() {
        let plan = Plan::new(&Schedule::At { at_ms: 5_000 }, 0, Tz::UTC).unwrap();
        assert_eq!(plan.first(1_000), Some(5_000));
        assert_eq!(plan.after(5_000), None);
    }
}
