//! How a node learns the addresses of trackers: a static list given on the
//! command line (`--tracker`/`--peers`), or mDNS browsing (`--mdns`). Each
//! source yields the current set and a channel that says when it changes,
//! so a registry can be added as one more variant of `Discovery`.

pub mod mdns;

use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

/// Where a node finds trackers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// A fixed list of addresses.
    Static(Vec<String>),
    /// Trackers that advertise `_lts._tcp.local` on the local network.
    Mdns,
}

#[derive(Debug, Error)]
pub enum DiscoveryError {
    #[error("mDNS: {0}")]
    Mdns(String),
}

/// The tracker addresses a source knows, kept up to date while this lives.
pub struct Trackers {
    rx: watch::Receiver<Vec<String>>,
    _browser: Option<mdns::Browser>,
}

impl Discovery {
    /// Start finding trackers (for mDNS: start browsing in the background).
    pub fn start(&self) -> Result<Trackers, DiscoveryError> {
        match self {
            Discovery::Static(addrs) => {
                let (tx, rx) = watch::channel(addrs.clone());
                // A static list never changes: the sender may go.
                drop(tx);
                Ok(Trackers { rx, _browser: None })
            }
            Discovery::Mdns => {
                let (browser, rx) = mdns::Browser::start(mdns::TRACKER_ROLE)?;
                Ok(Trackers {
                    rx,
                    _browser: Some(browser),
                })
            }
        }
    }
}

impl Trackers {
    /// The addresses known now, sorted.
    pub fn current(&self) -> Vec<String> {
        self.rx.borrow().clone()
    }

    /// A receiver that sees every change of the set.
    pub fn changes(&self) -> watch::Receiver<Vec<String>> {
        self.rx.clone()
    }

    /// Wait up to `within` for at least one tracker, then `settle` more for
    /// others answering at about the same time; the addresses known then.
    pub async fn wait_for_any(&self, within: Duration, settle: Duration) -> Vec<String> {
        let mut rx = self.rx.clone();
        let found = tokio::time::timeout(within, rx.wait_for(|addrs| !addrs.is_empty())).await;
        if matches!(found, Ok(Ok(_))) && !settle.is_zero() {
            tokio::time::sleep(settle).await;
        }
        self.current()
    }
}
