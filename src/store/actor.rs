//! Group commit: one thread owns the store; callers send closures; whatever
//! has arrived while the previous transaction committed runs together in the
//! next one, each in its own savepoint, and every caller hears back only after
//! the commit. Durability costs one fsync per batch, not per caller.
//!
//! A hook may run once per batch, after its operations and before the
//! commit, in a savepoint of its own: it sees the batch's life-cycle events
//! and writes rows that follow from them (alerts) in the same transaction.
//! A hook that fails loses its own rows, never the batch.

use super::{Result, RunEvent, Store, StoreError};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// An operation: runs against the store, says whether it succeeded (so its
/// savepoint is released or rolled back) and how to answer its caller.
type Op = Box<dyn FnOnce(&mut dyn Store) -> (bool, Reply) + Send>;

/// The most operations one transaction takes before it commits.
const MAX_BATCH: usize = 4096;

/// A cheap, cloneable handle to the store thread.
/// Told, after each commit, what the committed transaction moved and how
/// long the commit took.
pub type Observer = Arc<dyn Fn(&[RunEvent], Duration) + Send + Sync>;

/// What a hook does with the events it wants, in the batch's transaction.
pub type HookFn = Arc<dyn Fn(&mut dyn Store, &[RunEvent]) -> Result<()> + Send + Sync>;

/// Runs before each commit whose batch has events the hook wants.
#[derive(Clone)]
pub struct Hook {
    /// Which events the hook is about; a batch with none skips it.
    pub wants: fn(&RunEvent) -> bool,
    /// Write what follows from the events, in the batch's transaction.
    pub run: HookFn,
}

#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Op>,
    observer: Arc<OnceLock<Observer>>,
    hook: Arc<OnceLock<Hook>>,
}

impl StoreHandle {
    /// Start the store thread. It stops when the last handle is dropped,
    /// after committing everything already sent.
    pub fn spawn(store: Box<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Op>();
        let observer: Arc<OnceLock<Observer>> = Arc::default();
        let hook: Arc<OnceLock<Hook>> = Arc::default();
        let (watching, hooked) = (observer.clone(), hook.clone());
        let spawned = std::thread::Builder::new()
            .name("lts-store".into())
            .spawn(move || run(store, rx, watching, hooked));
        if let Err(e) = spawned {
            tracing::error!("cannot start the store thread: {e}");
        }
        StoreHandle { tx, observer, hook }
    }

    /// Run `hook` before each commit from now on (once: later calls are
    /// ignored).
    pub fn before_commit(&self, hook: Hook) {
        let _ = self.hook.set(hook);
    }

    /// Tell `observer` what each commit moved from now on (once: later
    /// calls are ignored).
    pub fn observe(&self, observer: Observer) {
        let _ = self.observer.set(observer);
    }

    /// Run `f` in the next transaction; its result once that has committed.
    /// An `Err` from `f` rolls back only what `f` did.
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, E> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel();
        let op: Op = Box::new(move |store: &mut dyn Store| {
            let result = f(store);
            let ok = result.is_ok();
            let reply = Box::new(move |commit_error: Option<&StoreError>| {
                let result = match (result, commit_error) {
                    (Ok(_), Some(e)) => Err(E::from(e.clone())),
                    (result, _) => result,
                };
                let _ = reply_tx.send(result);
            }) as Reply;
            (ok, reply)
        });
        self.tx.send(op).map_err(|_| E::from(StoreError::Closed))?;
        // A dropped reply means the op never ran: its transaction had failed.
        reply_rx.await.map_err(|_| E::from(StoreError::Closed))?
    }

    /// Wait until everything sent before this call has been committed.
    pub async fn flush(&self) -> Result<()> {
        self.call(|_| Ok::<_, StoreError>(())).await
    }
}

fn run(
    mut store: Box<dyn Store>,
    rx: mpsc::Receiver<Op>,
    observer: Arc<OnceLock<Observer>>,
    hook: Arc<OnceLock<Hook>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let (replies, error) = run_batch(store.as_mut(), batch, hook.get());
        let events = store.journal().take();
        match &error {
            Some(e) => tracing::error!("store transaction failed: {e}"),
            None => {
                if let Some(observe) = observer.get() {
                    observe(&events, started.elapsed());
                }
            }
        }
        for reply in replies {
            reply(error.as_ref());
        }
    }
}

/// Run a batch in one transaction. Returns the replies of the ops that ran
/// and the error that failed the transaction, if one did.
fn run_batch(
    store: &mut dyn Store,
    batch: Vec<Op>,
    hook: Option<&Hook>,
) -> (Vec<Reply>, Option<StoreError>) {
    let mut replies = Vec::with_capacity(batch.len());
    if let Err(e) = store.begin() {
        return (replies, Some(e));
    }
    if batch.len() == 1 {
        // Alone in its transaction, an operation needs no savepoint: if it
        // fails, the whole transaction is what to roll back.
        for op in batch {
            let (ok, reply) = run_op(store, op);
            replies.push(reply);
            if !ok {
                return match store.rollback() {
                    Ok(()) => (replies, None),
                    Err(e) => (replies, Some(e)),
                };
            }
        }
        return commit(store, replies, hook);
    }
    for op in batch {
        if let Err(e) = store.savepoint() {
            let _ = store.rollback();
            return (replies, Some(e));
        }
        let (ok, reply) = run_op(store, op);
        replies.push(reply);
        let closed = if ok {
            store.release_savepoint()
        } else {
            store
                .rollback_to_savepoint()
                .and_then(|()| store.release_savepoint())
        };
        if let Err(e) = closed {
            let _ = store.rollback();
            return (replies, Some(e));
        }
    }
    commit(store, replies, hook)
}

/// Run the hook over the batch's events it wants, in a savepoint: if it
/// fails (or panics), its rows and events go and the batch stays.
fn run_hook(store: &mut dyn Store, hook: &Hook) -> Result<()> {
    let wanted: Vec<RunEvent> = store
        .journal()
        .events()
        .iter()
        .filter(|e| (hook.wants)(e))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mark = store.journal().mark();
    store.savepoint()?;
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (hook.run)(store, &wanted)));
    match ran {
        Ok(Ok(())) => store.release_savepoint(),
        failed => {
            match failed {
                Ok(Err(e)) => tracing::error!("the pre-commit hook failed: {e}"),
                _ => tracing::error!("the pre-commit hook panicked"),
            }
            store.journal().rollback_to(mark);
            store
                .rollback_to_savepoint()
                .and_then(|()| store.release_savepoint())
        }
    }
}

/// Run one operation. A bug in it fails its caller (its reply is dropped),
/// not the store thread and everyone after it.
fn run_op(store: &mut dyn Store, op: Op) -> (bool, Reply) {
    let mark = store.journal().mark();
    let (ok, reply) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(store))) {
        Ok(done) => done,
        Err(_) => {
            tracing::error!("a store operation panicked; its changes were rolled back");
            (false, Box::new(|_: Option<&StoreError>| {}) as Reply)
        }
    };
    if !ok {
        // Its changes are rolled back: so are its events.
        store.journal().rollback_to(mark);
    }
    (ok, reply)
}

/// Run the hook, then commit the transaction; if that fails, every caller
/// in it hears so.
fn commit(
    store: &mut dyn Store,
    replies: Vec<Reply>,
    hook: Option<&Hook>,
) -> (Vec<Reply>, Option<StoreError>) {
    if let Some(hook) = hook {
        if let Err(e) = run_hook(store, hook) {
            // The savepoint itself failed: the transaction is unusable.
            let _ = store.rollback();
            return (replies, Some(e));
        }
    }
    match store.commit() {
        Ok(()) => (replies, None),
        Err(e) => {
            let _ = store.rollback();
            (replies, Some(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobSpec;
    use crate::store::{JobRecord, SqliteStore};

    fn job(task_id: &str) -> JobRecord {
        JobRecord {
            id: 0,
            spec: JobSpec::new("g", task_id),
            state: crate::model::JobState::Queued,
            submitted_at: 0,
            updated_at: 0,
            next_fire: None,
            run_count: 0,
            note: None,
        }
    }

    fn insert_then_fail(s: &mut dyn Store, task_id: &str) -> Result<()> {
        s.insert_job(&job(task_id))?;
        Err(StoreError::Invalid("refused".into()))
    }

    fn exists(s: &mut dyn Store, task_id: &str) -> Result<bool> {
        Ok(s.job_by_key("g", task_id)?.is_some())
    }

    #[tokio::test]
    async fn a_failing_operation_leaves_nothing_alone_or_among_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let h = StoreHandle::spawn(Box::new(store));
        // Alone in its transaction.
        assert!(h.call(|s| insert_then_fail(s, "alone")).await.is_err());
        // Among others sent together: only its own changes go.
        let (a, b, c) = tokio::join!(
            h.call(|s| s.insert_job(&job("before")).map(|_| ())),
            h.call(|s| insert_then_fail(s, "among")),
            h.call(|s| s.insert_job(&job("after")).map(|_| ())),
        );
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        for (task_id, kept) in [
            ("alone", false),
            ("among", false),
            ("before", true),
            ("after", true),
        ] {
            let found = h.call(move |s| exists(s, task_id)).await.unwrap();
            assert_eq!(found, kept, "{task_id}");
        }
    }

    fn submitted(s: &mut dyn Store, task_id: &str) -> Result<()> {
        s.insert_job(&job(task_id))?;
        s.journal().push(RunEvent::Submitted { group: "g".into() });
        Ok(())
    }

    #[tokio::test]
    async fn the_hook_writes_in_the_batch_and_its_failure_never_loses_it() {
        let wants: fn(&RunEvent) -> bool = |e| matches!(e, RunEvent::Submitted { .. });
        for fails in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
            let h = StoreHandle::spawn(Box::new(store));
            h.before_commit(Hook {
                wants,
                run: Arc::new(move |s, events| {
                    s.insert_job(&job(&format!("hooked-{}", events.len())))?;
                    s.journal().push(RunEvent::Alerted);
                    if fails {
                        return Err(StoreError::Invalid("hook refused".into()));
                    }
                    Ok(())
                }),
            });
            let seen: Arc<std::sync::Mutex<Vec<RunEvent>>> = Arc::default();
            let sink = seen.clone();
            h.observe(Arc::new(move |events, _| {
                sink.lock().unwrap().extend(events.iter().cloned())
            }));
            let (a, b) =
                tokio::join!(h.call(|s| submitted(s, "a")), h.call(|s| submitted(s, "b")),);
            assert!(a.is_ok() && b.is_ok());
            assert!(h.call(|s| exists(s, "a")).await.unwrap());
            assert!(h.call(|s| exists(s, "b")).await.unwrap());
            let hooked = h.call(|s| exists(s, "hooked-2")).await.unwrap()
                || h.call(|s| exists(s, "hooked-1")).await.unwrap();
            assert_eq!(hooked, !fails, "the hook's rows stay only when it succeeds");
            let alerted = seen.lock().unwrap().contains(&RunEvent::Alerted);
            assert_eq!(alerted, !fails, "so do its events");
        }
    }

    #[tokio::test]
    async fn a_panicking_operation_fails_its_caller_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let h = StoreHandle::spawn(Box::new(store));
        let panicked = h
            .call(|s: &mut dyn Store| -> Result<()> {
                s.insert_job(&job("p"))?;
                panic!("a bug")
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Closed)), "{panicked:?}");
        h.call(|s| s.insert_job(&job("q")).map(|_| ()))
            .await
            .unwrap();
        assert!(!h.call(|s| exists(s, "p")).await.unwrap());
        assert!(h.call(|s| exists(s, "q")).await.unwrap());
    }
}
