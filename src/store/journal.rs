//! What moved in the life cycle during a transaction: the rules append a
//! `RunEvent` where a run starts, ends or is skipped, the store keeps them
//! with the transaction, and the group-commit actor hands them to the
//! observer (metrics, and the wake-ups of whoever waits on a job or a
//! client group's feedback) only once they are committed. An operation that fails
//! takes its events back with its savepoint. Before the commit, the actor's
//! hook (alerts) reads the batch's events and may add rows of its own.

use crate::model::{Millis, RunOutcome};

/// One move of a run, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A job was accepted.
    Submitted { group: String },
    /// A worker claimed a run: `due_at` is when it became due, `scheduled_at`
    /// the tick it belongs to.
    Started {
        group: String,
        scheduled_at: Millis,
        due_at: Millis,
        at: Millis,
    },
    /// A run ended with `outcome` (not `Skipped`: see `Skipped`).
    Ended {
        group: String,
        outcome: RunOutcome,
        started_at: Option<Millis>,
        ended_at: Millis,
        /// The job and the run's number (alerts name them), and the run
        /// record's id (its log followers wait on it).
        job_id: i64,
        run: u32,
        run_id: i64,
        /// Another attempt of the run follows (a retry or a re-queue).
        retrying: bool,
        exit_code: Option<i32>,
    },
    /// A tick was recorded as skipped; `reason` is a short bounded label
    /// (`overlap`, `misfire`).
    Skipped {
        group: String,
        reason: &'static str,
        job_id: i64,
        run: u32,
    },
    /// Alerts were raised or folded (by the pre-commit hook or the leader):
    /// the delivery task has work.
    Alerted,
    /// A job stopped moving on its own: an operator parked it (suspended,
    /// cancelled) or its schedule broke.
    JobStopped { job_id: i64 },
    /// A client group has a new feedback item.
    Feedback { client_group: String },
}

impl RunEvent {
    /// The job this event moved, if it names one.
    pub fn job_id(&self) -> Option<i64> {
        match self {
            RunEvent::Ended { job_id, .. }
            | RunEvent::Skipped { job_id, .. }
            | RunEvent::JobStopped { job_id } => Some(*job_id),
            _ => None,
        }
    }
}

/// The events of the transaction in progress.
#[derive(Debug, Default)]
pub struct Journal {
    events: Vec<RunEvent>,
}

impl Journal {
    pub fn push(&mut self, event: RunEvent) {
        self.events.push(event);
    }

    /// A mark to roll back to.
    pub fn mark(&self) -> usize {
        self.events.len()
    }

    /// Forget what came after `mark` (its operation was rolled back).
    pub fn rollback_to(&mut self, mark: usize) {
        self.events.truncate(mark);
    }

    /// Everything recorded, for the observer after a commit.
    pub fn take(&mut self) -> Vec<RunEvent> {
        std::mem::take(&mut self.events)
    }

    /// Everything recorded so far, in order.
    pub fn events(&self) -> &[RunEvent] {
        &self.events
    }

    pub fn clear(&mut self) {
        self.events.clear();
    }
}
