//! The worker's spool: log lines and results the tracker could not take wait
//! here, on disk, in the order they were made, until it can. Each worker
//! process has its own file under `<data>/worker-spool/`, locked while it
//! runs; a file whose lock is free belongs to a worker that died, and the next
//! worker on the machine adopts what it holds. An orphan that cannot be read
//! is moved aside as `*.corrupt` (with a warning) and the worker goes on with
//! its own durable spool; items that cannot be read are counted in the log,
//! and an orphan that had any is kept aside too, so nothing goes silently.

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

/// The items of an orphan spool, and the sequence numbers of those that
/// cannot be read.
fn read_orphan(path: &Path) -> Result<(Vec<Upstream>, Vec<i64>), SpoolError> {
    let orphan = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| io_err(path, e))?;
    let rows: Vec<(i64, String)> = orphan
        .prepare("SELECT seq, body FROM items ORDER BY seq")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(|e| io_err(path, e))?;
    let mut items = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for (seq, body) in rows {
        match serde_json::from_str(&body) {
            Ok(item) => items.push(item),
            Err(_) => unreadable.push(seq),
        }
    }
    Ok((items, unreadable))
}

/// Rename a spool (and its log) to `*.corrupt`, out of the way of adoption.
fn move_aside(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut from = path.as_os_str().to_os_string();
        from.push(suffix);
        let mut to = path.as_os_str().to_os_string();
        to.push(format!("{suffix}.corrupt"));
        let from = PathBuf::from(from);
        if from.exists() {
            if let Err(e) = std::fs::rename(&from, PathBuf::from(&to)) {
                tracing::warn!(file = %from.display(), "cannot move it aside: {e}");
            }
        }
    }
}

/// A few sequence numbers for a log line.
fn shown_seqs(seqs: &[i64]) -> String {
    let mut shown: Vec<String> = seqs.iter().take(10).map(i64::to_string).collect();
    if seqs.len() > 10 {
        shown.push("..".into());
    }
    shown.join(",")
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
    /// A spool that cannot be read is moved aside; that is no reason to run
    /// without a spool of our own.
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
            let keep_aside = match read_orphan(&path) {
                Ok((items, unreadable)) => {
                    if !items.is_empty() {
                        tracing::info!(from = %path.display(), items = items.len(), "adopting the spool of a worker that stopped");
                        self.push(&items)?;
                    }
                    if unreadable.is_empty() {
                        false
                    } else {
                        tracing::warn!(
                            from = %path.display(),
                            unreadable = unreadable.len(),
                            seqs = %shown_seqs(&unreadable),
                            "items of a stopped worker's spool cannot be read: they are not delivered; the file is kept aside"
                        );
                        true
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        file = %path.display(),
                        "a stopped worker's spool cannot be read ({}); moving it aside and going on",
                        crate::model::cut(&e.to_string(), 200)
                    );
                    true
                }
            };
            if keep_aside {
                move_aside(&path);
            }
            for suffix in ["db", "db-wal", "db-shm"] {
                let _ = std::fs::remove_file(path.with_extension(suffix));
            }
            drop(lock);
            let _ = std::fs::remove_file(&lock_path);
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
        let mut unreadable = Vec::new();
        let items = rows
            .iter()
            .filter_map(|(seq, body)| match serde_json::from_str(body) {
                Ok(item) => Some(item),
                Err(_) => {
                    unreadable.push(*seq);
                    None
                }
            })
            .collect();
        if !unreadable.is_empty() {
            tracing::warn!(
                spool = %self.path.display(),
                unreadable = unreadable.len(),
                seqs = %shown_seqs(&unreadable),
                "items in the worker spool cannot be read: they are skipped"
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Stream;

    fn item(seq: u64) -> Upstream {
        Upstream::Log {
            run_id: 1,
            seq,
            stream: Stream::Stdout,
            line: format!("line {seq}"),
            at: 0,
        }
    }

    #[test]
    fn a_corrupt_orphan_is_moved_aside_and_the_spool_stays_durable() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("worker-spool");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dead.db"), vec![0x41u8; 8192]).unwrap();
        let mut spool = WorkerSpool::open(data.path(), "w1").expect("a durable spool");
        assert!(dir.join("dead.db.corrupt").exists());
        assert!(!dir.join("dead.db").exists());
        spool.push(&[item(1)]).unwrap();
        drop(spool);
        // A later worker adopts w1's items and leaves the corrupt file be.
        let mut later = WorkerSpool::open(data.path(), "w2").expect("a durable spool");
        let (_, items) = later.peek(10).unwrap().expect("adopted");
        assert_eq!(items, vec![item(1)]);
        assert!(dir.join("dead.db.corrupt").exists());
    }

    #[test]
    fn unreadable_items_of_an_orphan_are_kept_aside_not_dropped() {
        let data = tempfile::tempdir().unwrap();
        let mut dead = WorkerSpool::open(data.path(), "dead").unwrap();
        dead.push(&[item(1), item(2)]).unwrap();
        dead.conn
            .execute("INSERT INTO items (body) VALUES ('not json')", [])
            .unwrap();
        drop(dead);
        let mut spool = WorkerSpool::open(data.path(), "w").unwrap();
        let (_, items) = spool.peek(10).unwrap().expect("adopted");
        assert_eq!(items, vec![item(1), item(2)]);
        let aside = data.path().join("worker-spool/dead.db.corrupt");
        assert!(
            aside.exists(),
            "the unreadable row is kept in the file aside"
        );
    }
}
