//! Aggregate counts for `lts stats`: jobs by (group, state), the queue of each
//! group and the runs that ended in a recent window; and, for the console's
//! chart, the runs that ended in each minute. The store computes them in a
//! few aggregate queries; the CLI and the console turn them into tables,
//! JSON and charts.

use super::{JobState, Millis, RunOutcome};
use serde::{Deserialize, Serialize};

/// How many jobs of a group are in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub group: String,
    pub state: JobState,
    pub count: u64,
}

/// A group's queued runs and the oldest due time among those already due
/// (buffered runs, which wait for their predecessor, are counted but never
/// age).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCount {
    pub group: String,
    pub runs: u64,
    pub oldest_due: Option<Millis>,
}

/// How many runs of a group ended with an outcome in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCount {
    pub group: String,
    pub outcome: RunOutcome,
    pub count: u64,
}

/// How many runs of a group ended in one minute with one outcome, and the
/// fire lag (start minus tick time) of the first attempts among them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCount {
    pub group: String,
    /// The minute's first instant.
    pub minute: Millis,
    pub outcome: RunOutcome,
    pub count: u64,
    /// First attempts that started (retries wait for their backoff, not for a worker).
    pub started: u64,
    /// Their fire lags added up, and the longest.
    pub lag_total_ms: i64,
    pub lag_max_ms: i64,
}

/// Everything `lts stats` shows, as of `at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    pub at: Millis,
    pub window_ms: i64,
    pub jobs: Vec<StateCount>,
    pub queues: Vec<QueueCount>,
    pub ended: Vec<OutcomeCount>,
}

impl StoreStats {
    /// Only the rows of `group`.
    pub fn only(mut self, group: &str) -> StoreStats {
        self.jobs.retain(|r| r.group == group);
        self.queues.retain(|r| r.group == group);
        self.ended.retain(|r| r.group == group);
        self
    }
}
