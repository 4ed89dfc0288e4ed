//! LTS's master listener, in Rust: `MasterWatch` follows one (role, group)
//! through a registry and yields its master now and at every change, with
//! the change's epoch. It survives registry restarts: it reconnects, lists
//! again and carries on from the saved event counter.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lts::registry::RegistryClientError> {
//! use lts::model::Role;
//! use lts::registry::{MasterWatch, RegistryClient};
//! let registry = RegistryClient::new("127.0.0.1:7410", "client");
//! let mut masters = MasterWatch::new(registry, Role::Worker, "reports");
//! loop {
//!     let change = masters.next().await?;
//!     println!("master of reports: {:?} (epoch {})", change.master.map(|m| m.id), change.epoch);
//! }
//! # }
//! ```

use super::{RegistryClient, RegistryClientError};
use crate::model::{NodeEventKind, NodeView, Role};
use std::collections::VecDeque;
use std::time::Duration;

/// How long one watch waits for an event.
const WATCH_WAIT: Duration = Duration::from_secs(20);
/// The longest pause between attempts while the registry is away.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A (role, group)'s master after a change.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterChange {
    pub role: Role,
    pub group: String,
    /// The new master; `None` while the group has no live member.
    pub master: Option<NodeView>,
    /// Grows with every change of this group's master.
    pub epoch: u64,
}

impl MasterChange {
    /// Whether the node with `id` is now the master (LTS's `isMaster`).
    pub fn is_master(&self, id: &str) -> bool {
        self.master.as_ref().is_some_and(|m| m.id == id)
    }
}

/// The master of one (role, group), followed through a registry.
pub struct MasterWatch {
    registry: RegistryClient,
    role: Role,
    group: String,
    /// The event cursor, once listed.
    cursor: Option<u64>,
    /// The last epoch reported.
    epoch: Option<u64>,
    pending: VecDeque<MasterChange>,
    connected_once: bool,
}

impl MasterWatch {
    pub fn new(registry: RegistryClient, role: Role, group: impl Into<String>) -> Self {
        MasterWatch {
            registry,
            role,
            group: group.into(),
            cursor: None,
            epoch: None,
            pending: VecDeque::new(),
            connected_once: false,
        }
    }

    /// The next master: the first call answers with the current one, later
    /// calls wait for a change. While the registry is away it retries; an
    /// error is returned only when the first contact fails or the registry
    /// refuses.
    pub async fn next(&mut self) -> Result<MasterChange, RegistryClientError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Ok(change);
            }
            let step = match self.cursor {
                None => self.relist().await,
                Some(cursor) => self.follow(cursor).await,
            };
            match step {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) if self.connected_once && e.is_unavailable() => {
                    tracing::debug!("master watch: {e}; retrying");
                    self.cursor = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// List the registry and note the group's master if it is news.
    async fn relist(&mut self) -> Result<(), RegistryClientError> {
        let members = self.registry.list().await?;
        self.connected_once = true;
        let group = members
            .groups
            .iter()
            .find(|g| g.role == self.role && g.group == self.group);
        let (master_id, epoch) = group.map_or((None, 0), |g| (g.master.clone(), g.epoch));
        let master = master_id.and_then(|id| members.nodes.into_iter().find(|n| n.id == id));
        self.note(master, epoch);
        self.cursor = Some(members.seq);
        Ok(())
    }

    /// Wait for events after `cursor` and note this group's master changes.
    async fn follow(&mut self, cursor: u64) -> Result<(), RegistryClientError> {
        let page = self.registry.watch(cursor, WATCH_WAIT).await?;
        if page.reset {
            self.cursor = None;
            return Ok(());
        }
        for event in page.events {
            if event.kind == NodeEventKind::Master
                && event.role == self.role
                && event.group == self.group
            {
                self.note(event.node, event.epoch.unwrap_or(0));
            }
        }
        self.cursor = Some(page.last_seq);
        Ok(())
    }

    fn note(&mut self, master: Option<NodeView>, epoch: u64) {
        // The first answer is always reported; later only newer epochs.
        if self.epoch.is_some_and(|known| epoch <= known) {
            return;
        }
        self.epoch = Some(epoch);
        self.pending.push_back(MasterChange {
            role: self.role,
            group: self.group.clone(),
            master,
            epoch,
        });
    }
}
