//! The worker's spool: log lines and results the tracker could not take wait
//! here, on disk, in the order they were made, until it can. Each worker
//! process has its own file under `<data>/worker-spool/`, locked while it
//! runs; a file whose lock is free belongs to a worker that died, and the next
//! worker on the machine adopts what it holds.

use crate::protocol::Upstream;
use rusqlite::{params, Connection};
use std::fs::File;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SpoolError {
    #[error("worker spool {path}: {reason}")]
    Io { path: String, reason: String },
}

pub struct WorkerSpool {
    conn: Connection,
    path: PathBuf,
    _lock: File,
}

fn io_err(path: &Path, reason: impl ToString) -> SpoolError {
    SpoolError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// A file name made of the characters of `id` that are safe in one.
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn open_db(path: &Path) -> Result<Connection, SpoolError> {
    let conn = Connection::open(path).map_err(|e| io_err(path, e))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);",
    )
    .map_err(|e| io_err(path, e))?;
    Ok(conn)
}

impl WorkerSpool {
    /// Open (creating) this worker's spool in `dir`, and adopt the spools
    /// of workers that died there.
    pub fn open(dir: &Path, worker_id: &str) -> Result<WorkerSpool, SpoolError> {
        let dir = dir.join("worker-spool");
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let stem = file_stem(worker_id);
        let lock_path = dir.join(format!("{stem}.lock"));
        let lock = File::create(&lock_path).map_err(|e| io_err(&lock_path, e))?;
        lock.try_lock()
            .map_err(|_| io_err(&lock_path, "in use by another worker with the same id"))?;
        let path = dir.join(format!("{stem}.db"));
        let mut spool = WorkerSpool {
            conn: open_db(&path)?,
            path,
            _lock: lock,
        };
        spool.adopt_orphans(&dir)?;
        Ok(spool)
    }

    /// Move the items of dead workers' spools into this one, oldest first.
    fn adopt_orphans(&mut self, dir: &Path) -> Result<(), SpoolError> {
        let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "db") || path == self.path {
                continue;
            }
            let lock_path = path.with_extension("lock");
            let Ok(lock) = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
            else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue; // its worker is alive
            }
            let orphan = open_db(&path)?;
            let items: Vec<Upstream> = orphan
                .prepare("SELECT body FROM items ORDER BY seq")
                .and_then(|mut st| {
                    st.query_map([], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                })
                .map_err(|e| io_err(&path, e))?
                .iter()
                .filter_map(|body| serde_json::from_str(body).ok())
                .collect();
            drop(orphan);
            if !items.is_empty() {
                tracing::info!(from = %path.display(), items = items.len(), "adopting the spool of a worker that stopped");
                self.push(&items)?;
            }
            for suffix in ["db", "db-wal", "db-shm", "lock"] {
                let _ = std::fs::remove_file(path.with_extension(suffix));
            }
        }
        Ok(())
    }

    /// Append items, in order, in one transaction.
    pub fn push(&mut self, items: &[Upstream]) -> Result<(), SpoolError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| io_err(&path, e))?;
        {
            let mut st = tx
                .prepare_cached("INSERT INTO items (body) VALUES (?1)")
                .map_err(|e| io_err(&path, e))?;
            for item in items {
                let body = serde_json::to_string(item).map_err(|e| io_err(&path, e))?;
                st.execute(params![body]).map_err(|e| io_err(&path, e))?;
            }
        }
        tx.commit().map_err(|e| io_err(&path, e))
    }

    /// The oldest items, with the sequence number of the last one.
    pub fn peek(&mut self, limit: usize) -> Result<Option<(i64, Vec<Upstream>)>, SpoolError> {
        let rows: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, body FROM items ORDER BY seq LIMIT ?1")
            .and_then(|mut st| {
                st.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| io_err(&self.path, e))?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(None);
        };
        let items = rows
            .iter()
            .filter_map(|(_, body)| serde_json::from_str(body).ok())
            .collect();
        Ok(Some((last, items)))
    }

    /// Forget the items up to and including `seq` (they were delivered).
    pub fn remove_through(&mut self, seq: i64) -> Result<(), SpoolError> {
        self.conn
            .prepare_cached("DELETE FROM items WHERE seq <= ?1")
            .and_then(|mut st| st.execute([seq]))
            .map(|_| ())
            .map_err(|e| io_err(&self.path, e))
    }
}
