//! Which tracker fires ticks, expires leases and prunes: the one holding the
//! store's leader lease. On a store of its own (SQLite) a tracker leads from
//! the start and for good. On a shared store (PostgreSQL) every tracker tries
//! to take or renew the lease every third of its TTL; the holder's epoch
//! grows at each change of holder, and every transaction the leader's loops
//! run starts with `Term::check`, which locks the lease row, so an old leader
//! that was paused or cut off cannot write after another has taken over.

use crate::model::{now_ms, Millis};
use crate::protocol::WireError;
use crate::store::{Store, StoreHandle};
use std::time::Duration;
use tokio::sync::watch;

/// A stretch of leadership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The lease's epoch (0 on a store of one's own).
    pub epoch: i64,
    /// When this tracker became leader: ticks due before it were missed.
    pub since: Millis,
}

/// This tracker's view of who leads.
pub struct Leadership {
    /// Unique to this process, so that a restarted tracker on the same
    /// address is a new holder and a paused old one is fenced off.
    holder: String,
    /// `None` on a store of one's own: no lease to check.
    ttl_ms: Option<i64>,
    term: watch::Sender<Option<Term>>,
}

impl Leadership {
    /// Leadership over a store no other tracker uses: from now on, for good.
    pub fn sole(holder: String) -> Self {
        let term = Some(Term {
            epoch: 0,
            since: now_ms(),
        });
        Leadership {
            holder,
            ttl_ms: None,
            term: watch::channel(term).0,
        }
    }

    /// Leadership over a shared store, by a lease of `ttl`.
    pub fn shared(holder: String, ttl: Duration) -> Self {
        Leadership {
            holder,
            ttl_ms: Some(ttl.as_millis().clamp(1, i64::MAX as u128) as i64),
            term: watch::channel(None).0,
        }
    }

    /// The current term, if this tracker leads.
    pub fn current(&self) -> Option<Term> {
        *self.term.borrow()
    }

    /// Wait until this tracker leads; `None` if `stop` ends first.
    pub async fn wait(&self, stop: impl std::future::Future<Output = ()>) -> Option<Term> {
        let mut rx = self.term.subscribe();
        tokio::select! {
            term = rx.wait_for(Option::is_some) => term.ok().and_then(|t| *t),
            _ = stop => None,
        }
    }

    /// Resolves when `term` is no longer this tracker's view of who leads.
    pub async fn ended(&self, term: Term) {
        let mut rx = self.term.subscribe();
        let _ = rx.wait_for(|now| *now != Some(term)).await;
    }

    /// A check in a transaction found `term` over before the renewal loop
    /// did: stop leading until the lease is taken again.
    pub fn lost(&self, term: Term) {
        self.term.send_if_modified(|now| {
            if *now == Some(term) {
                tracing::warn!(epoch = term.epoch, "the leader lease was lost");
                *now = None;
                true
            } else {
                false
            }
        });
    }

    /// Whether `term` still holds, checked inside the caller's transaction
    /// (and, on a shared store, holding the lease row until it commits).
    pub fn check(&self, s: &mut dyn Store, term: Term) -> Result<bool, WireError> {
        if self.ttl_ms.is_none() {
            return Ok(true);
        }
        Ok(s.check_leader(&self.holder, term.epoch, now_ms())?)
    }

    /// Keep taking or renewing the lease until `stop`, then give it up so
    /// that another tracker can lead at once; on a store of one's own there
    /// is nothing to do.
    pub async fn keep(&self, store: &StoreHandle, stop: impl std::future::Future<Output = ()>) {
        let Some(ttl_ms) = self.ttl_ms else {
            return;
        };
        tokio::pin!(stop);
        let every = Duration::from_millis((ttl_ms / 3).max(1) as u64);
        // The last term held and when it was last renewed: a failed renewal
        // ends nothing while the lease may still be ours (every write is
        // fenced anyway), and a renewal of the same epoch continues it.
        let mut last: Option<(Term, Millis)> = None;
        loop {
            let now = now_ms();
            let holder = self.holder.clone();
            let epoch = store
                .call(move |s| s.acquire_leadership(&holder, now, ttl_ms))
                .await;
            let after = match epoch {
                Ok(Some(epoch)) => {
                    let term = match last {
                        Some((term, _)) if term.epoch == epoch => term,
                        _ => Term { epoch, since: now },
                    };
                    last = Some((term, now));
                    Some(term)
                }
                Ok(None) => {
                    last = None;
                    None
                }
                Err(e) => {
                    tracing::error!("leader lease: {e}");
                    last.filter(|(_, renewed)| now < renewed + ttl_ms)
                        .map(|(term, _)| term)
                }
            };
            let before = self.current();
            if after != before {
                match after {
                    Some(term) => tracing::info!(
                        epoch = term.epoch,
                        "leading: this tracker fires ticks, expires leases and prunes"
                    ),
                    None => tracing::info!("not leading: another tracker holds the leader lease"),
                }
                self.term.send_replace(after);
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = &mut stop => break,
            }
        }
        if self.term.send_replace(None).is_some() {
            // A lease that ends now: the next tracker need not wait it out.
            let holder = self.holder.clone();
            let now = now_ms();
            match store
                .call(move |s| s.acquire_leadership(&holder, now, 0))
                .await
            {
                Ok(_) => tracing::info!("gave up the leader lease"),
                Err(e) => tracing::warn!("could not give up the leader lease: {e}"),
            }
        }
    }
}
