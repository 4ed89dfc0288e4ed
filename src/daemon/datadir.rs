//! A role's data directory: created when missing, checked for writing, and
//! locked so that two daemons never share one store.

use std::fs::File;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DataDirError {
    #[error("cannot use data dir {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("data dir {path} is in use by another ltsd{holder}")]
    Locked { path: String, holder: String },
}

/// An open, locked data dir. The lock is released when this is dropped.
pub struct DataDir {
    pub path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Create `path` if needed, make sure it is writable and take its lock
    /// (`<role>.lock`), so that one role of one process owns it.
    pub fn open(path: &Path, role: &str) -> Result<DataDir, DataDirError> {
        let io = |source| DataDirError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io)?;
        let lock_path = path.join(format!("{role}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        if !try_lock(&lock) {
            let holder = std::fs::read_to_string(&lock_path)
                .ok()
                .map(|pid| pid.trim().to_string())
                .filter(|pid| !pid.is_empty())
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            return Err(DataDirError::Locked {
                path: path.display().to_string(),
                holder,
            });
        }
        lock.set_len(0).map_err(io)?;
        std::fs::write(&lock_path, format!("{}\n", std::process::id())).map_err(io)?;
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }
}

fn try_lock(file: &File) -> bool {
    file.try_lock().is_ok()
}
