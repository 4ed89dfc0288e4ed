//! Group commit: one thread owns the store; callers send closures; whatever
//! has arrived while the previous transaction committed runs together in the
//! next one, each in its own savepoint, and every caller hears back only after
//! the commit. Durability costs one fsync per batch, not per caller.
//!
//! A transaction lost to another one (a deadlock or a serialization failure
//! between trackers sharing PostgreSQL: `StoreError::Retryable`) is rolled
//! back whole and its operations run again, a few times, after a short
//! random pause; callers hear of the failure only when every attempt failed.
//! Operations are therefore `FnMut`: each attempt runs them from the start.
//!
//! A hook may run once per batch, after its operations and before the
//! commit, in a savepoint of its own: it sees the batch's life-cycle events
//! and writes rows that follow from them (alerts) in the same transaction.
//! A hook that fails loses its own rows, never the batch.

use super::{Result, RunEvent, Store, StoreError};
use rand::Rng;
use std::any::Any;
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What running an operation came to: its savepoint is released (`Done`)
/// or rolled back (`Failed`), or the whole transaction is lost (`Retry`).
enum Ran {
    Done,
    Failed,
    Retry(StoreError),
}

/// An operation: runs against the store (again, if its transaction is
/// retried), then answers its caller once, with its last run's result.
trait Operation: Send {
    fn run(&mut self, store: &mut dyn Store) -> Ran;
    /// Answer the caller; `lost` is the error that failed the transaction
    /// (its commit, or every attempt), if one did.
    fn answer(self: Box<Self>, lost: Option<&StoreError>);
}

type Op = Box<dyn Operation>;

struct Call<F, T, E> {
    f: F,
    /// The result of the latest run; `None` before the first, or after a
    /// run that panicked.
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Operation for Call<F, T, E>
where
    F: FnMut(&mut dyn Store) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send + 'static,
{
    fn run(&mut self, store: &mut dyn Store) -> Ran {
        self.result = None;
        let result = (self.f)(store);
        let ran = match &result {
            Ok(_) => Ran::Done,
            Err(e) => match (e as &dyn Any).downcast_ref::<StoreError>() {
                Some(e) if e.is_retryable() => Ran::Retry(e.clone()),
                _ => Ran::Failed,
            },
        };
        self.result = Some(result);
        ran
    }

    fn answer(self: Box<Self>, lost: Option<&StoreError>) {
        let result = match (self.result, lost) {
            (Some(Ok(_)) | None, Some(e)) => Err(E::from(e.clone())),
            (Some(result), _) => result,
            // It panicked: dropping the reply tells its caller `Closed`.
            (None, None) => return,
        };
        let _ = self.reply.send(result);
    }
}

/// The most operations one transaction takes before it commits.
const MAX_BATCH: usize = 4096;
/// How many times a transaction is run before a retryable failure reaches
/// its callers.
const MAX_ATTEMPTS: u32 = 6;
/// The pause before the second attempt is up to this long, doubled at
/// each further attempt, so that the transactions that collided part.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Retries are logged at once, then counted and logged at most this often.
const RETRY_LOG_EVERY: Duration = Duration::from_secs(10);

/// A cheap, cloneable handle to the store thread.
/// Told, after each commit, what the committed transaction moved and how
/// long the commit took.
/// It takes the events: it runs on the store thread, so it should hand
/// them on rather than work on them there.
pub type Observer = Arc<dyn Fn(Vec<RunEvent>, Duration) + Send + Sync>;

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
    /// An `Err` from `f` rolls back only what `f` did. `f` may run more than
    /// once: when its transaction is lost to a concurrent one (or `f` itself
    /// returns `StoreError::Retryable`), everything the transaction did is
    /// rolled back and `f` runs again; only the last run's result counts.
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&mut dyn Store) -> Result<T, E> + Send + 'static,
    {
        let (reply, reply_rx) = oneshot::channel();
        let op: Op = Box::new(Call {
            f,
            result: None,
            reply,
        });
        self.tx.send(op).map_err(|_| E::from(StoreError::Closed))?;
        // A dropped reply means the op never ran to its end (it panicked).
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
    let mut retries = RetryLog::default();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let mut attempt = 1;
        let error = loop {
            match run_batch(store.as_mut(), &mut batch, hook.get()) {
                Attempt::Committed => break None,
                Attempt::Failed(e) => break Some(e),
                Attempt::Lost(e) => {
                    // Nothing of it was committed: neither are its events.
                    store.journal().take();
                    if attempt == MAX_ATTEMPTS {
                        tracing::error!(
                            attempts = attempt,
                            "a store transaction kept colliding with concurrent ones; \
                             its callers get the error: {e}"
                        );
                        break Some(e);
                    }
                    retries.note(&e);
                    let pause = RETRY_PAUSE * (1 << (attempt - 1));
                    std::thread::sleep(rand::rng().random_range(Duration::ZERO..=pause));
                    attempt += 1;
                }
            }
        };
        let events = store.journal().take();
        match &error {
            Some(e) => tracing::error!("store transaction failed: {e}"),
            None => {
                if let Some(observe) = observer.get() {
                    observe(events, started.elapsed());
                }
            }
        }
        for op in batch {
            op.answer(error.as_ref());
        }
        retries.log_if_due();
    }
}

/// Retries, logged at WARN without a line per retry: the first at once,
/// the rest counted and logged at most every `RETRY_LOG_EVERY`.
#[derive(Default)]
struct RetryLog {
    /// Retries not logged yet, and the latest one's error.
    pending: u64,
    last_error: String,
    logged_at: Option<Instant>,
}

impl RetryLog {
    fn note(&mut self, e: &StoreError) {
        self.pending += 1;
        self.last_error = e.to_string();
        self.log_if_due();
    }

    fn log_if_due(&mut self) {
        let due = self
            .logged_at
            .is_none_or(|at| at.elapsed() >= RETRY_LOG_EVERY);
        if self.pending == 0 || !due {
            return;
        }
        let since = match self.logged_at {
            Some(at) => format!(" in the last {} s", at.elapsed().as_secs()),
            None => String::new(),
        };
        tracing::warn!(
            retries = self.pending,
            "ran {} store transaction(s) again{since} after a conflict with a concurrent one \
             (the latest: {}); retries are counted and logged every {} s",
            self.pending,
            self.last_error,
            RETRY_LOG_EVERY.as_secs()
        );
        self.pending = 0;
        self.logged_at = Some(Instant::now());
    }
}

/// What one attempt at a batch came to.
enum Attempt {
    /// Committed (or, alone in its transaction, an operation failed and
    /// rolled back only itself).
    Committed,
    /// The transaction failed for good: every caller hears so.
    Failed(StoreError),
    /// The transaction was lost to a concurrent one and rolled back: run
    /// the batch again.
    Lost(StoreError),
}

/// Run a batch in one transaction, the hook last.
fn run_batch(store: &mut dyn Store, batch: &mut [Op], hook: Option<&Hook>) -> Attempt {
    if let Err(e) = store.begin() {
        return Attempt::Failed(e);
    }
    // Alone in its transaction, an operation needs no savepoint: if it
    // fails, the whole transaction is what to roll back.
    let alone = batch.len() == 1;
    for op in batch.iter_mut() {
        if !alone {
            if let Err(e) = store.savepoint() {
                return abandon(store, e);
            }
        }
        let ran = run_op(store, op);
        if let Some(e) = store.retryable_failure() {
            return abandon(store, e);
        }
        let closed = match ran {
            Ran::Retry(e) => return abandon(store, e),
            Ran::Done if alone => Ok(()),
            Ran::Failed if alone => {
                return match store.rollback() {
                    Ok(()) => Attempt::Committed,
                    Err(e) => abandon(store, e),
                }
            }
            Ran::Done => store.release_savepoint(),
            Ran::Failed => store
                .rollback_to_savepoint()
                .and_then(|()| store.release_savepoint()),
        };
        if let Err(e) = closed {
            return abandon(store, e);
        }
    }
    if let Some(hook) = hook {
        if let Err(e) = run_hook(store, hook) {
            return abandon(store, e);
        }
        if let Some(e) = store.retryable_failure() {
            return abandon(store, e);
        }
    }
    match store.commit() {
        Ok(()) => Attempt::Committed,
        Err(e) => abandon(store, e),
    }
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

/// Roll the transaction back after `e`; whether to run it again.
fn abandon(store: &mut dyn Store, e: StoreError) -> Attempt {
    let lost = store
        .retryable_failure()
        .or(e.is_retryable().then_some(e.clone()));
    let _ = store.rollback();
    match lost {
        Some(lost) => Attempt::Lost(lost),
        None => Attempt::Failed(e),
    }
}

/// Run one operation. A bug in it fails its caller (its reply is dropped),
/// not the store thread and everyone after it.
fn run_op(store: &mut dyn Store, op: &mut Op) -> Ran {
    let mark = store.journal().mark();
    let ran = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.run(store))) {
        Ok(ran) => ran,
        Err(_) => {
            tracing::error!("a store operation panicked; its changes were rolled back");
            Ran::Failed
        }
    };
    if !matches!(ran, Ran::Done) {
        // Its changes are rolled back: so are its events.
        store.journal().rollback_to(mark);
    }
    ran
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

    /// An operation that inserts a job and records it, but whose first
    /// `lose` runs find the transaction lost to a concurrent one.
    fn lost_at_first(
        task_id: &'static str,
        lose: u32,
        runs: Arc<std::sync::atomic::AtomicU32>,
    ) -> impl FnMut(&mut dyn Store) -> Result<i64> + Send + 'static {
        move |s| {
            let n = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let id = s
                .insert_job(&job(task_id))?
                .ok_or_else(|| StoreError::Invalid(format!("{task_id} survived a lost attempt")))?;
            s.journal().push(RunEvent::Submitted { group: "g".into() });
            if n < lose {
                return Err(StoreError::Retryable("deadlock detected".into()));
            }
            Ok(id)
        }
    }

    #[tokio::test]
    async fn a_lost_transaction_runs_again_and_its_callers_never_hear_of_it() {
        use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let h = StoreHandle::spawn(Box::new(store));
        let events = Arc::new(AtomicUsize::new(0));
        let seen = events.clone();
        h.observe(Arc::new(move |e: Vec<RunEvent>, _| {
            seen.fetch_add(e.len(), Ordering::SeqCst);
        }));
        // Alone in its transaction.
        let runs = Arc::new(AtomicU32::new(0));
        let alone = h.call(lost_at_first("alone", 1, runs.clone())).await;
        assert!(alone.is_ok(), "{alone:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Among others: the whole batch runs again, each op's effects and
        // events are kept once.
        let (a, b, c) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
        );
        let (ra, rb, rc) = tokio::join!(
            h.call(lost_at_first("a", 0, a.clone())),
            h.call(lost_at_first("b", 2, b.clone())),
            h.call(lost_at_first("c", 0, c.clone())),
        );
        assert!(
            ra.is_ok() && rb.is_ok() && rc.is_ok(),
            "{ra:?} {rb:?} {rc:?}"
        );
        assert_eq!(b.load(Ordering::SeqCst), 3);
        assert!(a.load(Ordering::SeqCst) >= 1 && c.load(Ordering::SeqCst) >= 1);
        for task_id in ["alone", "a", "b", "c"] {
            assert!(
                h.call(move |s| exists(s, task_id)).await.unwrap(),
                "{task_id}"
            );
        }
        h.flush().await.unwrap();
        assert_eq!(
            events.load(Ordering::SeqCst),
            4,
            "one event per committed op"
        );
    }

    #[tokio::test]
    async fn a_transaction_lost_at_every_attempt_fails_with_the_retryable_error() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("lts.db")).unwrap();
        let h = StoreHandle::spawn(Box::new(store));
        let runs = Arc::new(AtomicU32::new(0));
        let lost = h.call(lost_at_first("never", u32::MAX, runs.clone())).await;
        assert!(matches!(lost, Err(StoreError::Retryable(_))), "{lost:?}");
        assert_eq!(runs.load(Ordering::SeqCst), MAX_ATTEMPTS);
        assert!(!h.call(|s| exists(s, "never")).await.unwrap());
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
            h.observe(Arc::new(move |events: Vec<RunEvent>, _| {
                sink.lock().unwrap().extend(events)
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
