//! Aggregate counts for `lts stats`: jobs by (group, state), the queue of each
//! group and the runs that ended in a recent window. The store computes them
//! in a few aggregate queries; the CLI turns them into a table or JSON.

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
