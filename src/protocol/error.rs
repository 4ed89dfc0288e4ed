//! Errors that cross the wire: typed, so the CLI can map each to an exit code
//! and a message without parsing strings.

use crate::model::cut;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum WireError {
    /// A field of a request is not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// No job with that task id (in that group).
    #[error("no job '{}'{}", cut(task_id, 80), group.as_ref().map(|g| format!(" in group '{}'", cut(g, 80))).unwrap_or_default())]
    NotFound {
        task_id: String,
        group: Option<String>,
    },
    /// Something other than a job that the caller named does not exist (a run).
    #[error("{0}")]
    Missing(String),
    /// The task id exists in several groups.
    #[error("task id '{}' exists in groups {}: pass --group", cut(task_id, 80), cut(&groups.join(", "), 200))]
    Ambiguous {
        task_id: String,
        groups: Vec<String>,
    },
    /// A job with that key exists and `--replace` was not given.
    #[error(
        "job '{}' already exists in group '{}' (pass --replace to replace it)",
        cut(task_id, 80),
        cut(group, 80)
    )]
    Exists { task_id: String, group: String },
    /// The idempotency key was given to another job: the one it names
    /// differs from the one sent with it.
    #[error(
        "idempotency key '{}' was used for a different job ('{}' in group '{}'); a new job needs a new key",
        cut(key, 80),
        cut(task_id, 80),
        cut(group, 80)
    )]
    KeyReused {
        key: String,
        task_id: String,
        group: String,
    },
    /// The operation does not apply to the job in its current state.
    #[error("{0}")]
    Conflict(String),
    /// The tracker is stopping and takes no new work.
    #[error("the tracker is shutting down")]
    ShuttingDown,
    /// The tracker's store failed; nothing was changed.
    #[error("the tracker's store failed: {0}")]
    Store(String),
}
