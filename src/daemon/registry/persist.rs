//! What survives a registry restart: the membership snapshot (nodes, masters,
//! epochs, the event counter) in one small JSON file in the data dir,
//! replaced atomically (write a temporary file, fsync, rename, fsync the dir).

use super::members::Snapshot;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The state file's name inside the data dir.
pub const STATE_FILE: &str = "registry.json";

#[derive(Debug, Error)]
pub enum PersistError {
    #[error("cannot read the registry state {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the registry state {path} is corrupt ({reason}); move it away to start with an empty registry")]
    Corrupt { path: String, reason: String },
    #[error("cannot save the registry state {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The state file of a data dir.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(dir: &Path) -> Self {
        StateFile {
            path: dir.join(STATE_FILE),
        }
    }

    /// The saved snapshot; `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Snapshot>, PersistError> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PersistError::Read {
                    path: self.path.display().to_string(),
                    source,
                })
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| PersistError::Corrupt {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Replace the saved snapshot; a crash leaves the old or the new one whole.
    pub fn save(&self, snapshot: &Snapshot) -> Result<(), PersistError> {
        let fail = |source| PersistError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let body = serde_json::to_vec(snapshot).map_err(|e| fail(std::io::Error::other(e)))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(fail)?;
        file.write_all(&body).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent() {
            // Make the rename itself durable; not every platform can open a dir.
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupMaster, Role};

    #[test]
    fn a_saved_snapshot_loads_back_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let snapshot = Snapshot {
            last_seq: 7,
            last_epoch: 3,
            groups: vec![GroupMaster {
                role: Role::Worker,
                group: "g".into(),
                epoch: 3,
                master: None,
            }],
            nodes: Vec::new(),
        };
        file.save(&snapshot).unwrap();
        file.save(&snapshot).unwrap();
        assert_eq!(file.load().unwrap(), Some(snapshot));
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        assert!(matches!(file.load(), Err(PersistError::Corrupt { .. })));
    }
}
