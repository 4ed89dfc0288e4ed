//! The accept loop every listening role runs, and the limits it keeps
//! (mini-redis's semaphore, per peer address and in all): each connection
//! holds a `Slot` while it lives; past `per_peer` connections from one
//! address, or `max` in all, a connection is closed at once, except that the
//! last few slots (`reserve`) are kept for `lts` clients, so that workers (or
//! anyone) holding the rest cannot lock the operator out. A connection with
//! no request in flight for `idle` is closed (`serve_requests`): long polls
//! are requests in flight, so they never count as idle. A failing `accept`
//! (out of file descriptors and the like) is logged as a counted summary and
//! retried after a short pause.

use super::Shutdown;
use crate::logging::Summary;
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The connection limits of a listening role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections at once, in all.
    pub max: usize,
    /// Connections at once from one peer address.
    pub per_peer: usize,
    /// How long a connection may stay without a request in flight.
    pub idle: Duration,
}

/// `--max-connections`'s default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// `--max-connections-per-peer`'s default.
pub const DEFAULT_PER_PEER: usize = 256;
/// `--idle-timeout`'s default.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(120);
/// File descriptors kept for the store, logs, runners' pipes and the like.
const FD_MARGIN: usize = 64;

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max: DEFAULT_MAX_CONNECTIONS,
            per_peer: DEFAULT_PER_PEER,
            idle: DEFAULT_IDLE,
        }
    }
}

impl ConnLimits {
    /// The slots kept for `lts` clients: one in 128, at least one, at most 8.
    pub fn reserve(&self) -> usize {
        (self.max / 128)
            .clamp(1, 8)
            .min(self.max.saturating_sub(1))
            .max(1)
    }

    /// These limits within what the process may open: the soft limit on
    /// file descriptors is raised to the hard one, and `max` lowered (with
    /// a warning) when it would still not fit, so that a full table of
    /// connections never starves the store or the accept loop.
    pub fn fit_to_fd_limit(mut self) -> ConnLimits {
        let Some(open) = raise_fd_limit() else {
            return self;
        };
        let room = open.saturating_sub(FD_MARGIN).max(2);
        if self.max > room {
            tracing::warn!(
                max_connections = room,
                asked = self.max,
                fd_limit = open,
                "--max-connections lowered to fit the limit on open files (ulimit -n)"
            );
            self.max = room;
        }
        self
    }
}

/// Raise the soft limit on open files to the hard one; the limit now.
fn raise_fd_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    None
}

/// Who may connect now: the permits and the count per peer address.
pub struct Gate {
    limits: ConnLimits,
    general: Arc<Semaphore>,
    reserve: Arc<Semaphore>,
    peers: Mutex<HashMap<IpAddr, usize>>,
    refused: Arc<Summary>,
}

/// A connection's place under the limits, given back when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    /// Held in the reserve: only an `lts` client may be served on it.
    pub clients_only: bool,
    peer: IpAddr,
    gate: Arc<Gate>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut peers = self.gate.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = peers.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                peers.remove(&self.peer);
            }
        }
    }
}

impl Gate {
    pub fn new(limits: ConnLimits) -> Arc<Gate> {
        let reserve = limits.reserve();
        Arc::new(Gate {
            limits,
            general: Arc::new(Semaphore::new(limits.max.saturating_sub(reserve).max(1))),
            reserve: Arc::new(Semaphore::new(reserve)),
            peers: Mutex::new(HashMap::new()),
            refused: Summary::new("refused connection", Duration::from_secs(10)),
        })
    }

    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    /// A slot for a connection from `peer`, or `None` when every slot it
    /// may have is taken. Past its own limit, or when the general slots are
    /// gone, a peer may still have one of the reserve (for `lts` only).
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Slot> {
        let ip = peer.ip();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let from_peer = peers.get(&ip).copied().unwrap_or(0);
        let general = if from_peer < self.limits.per_peer {
            self.general.clone().try_acquire_owned().ok()
        } else {
            None
        };
        let (permit, clients_only) = match general {
            Some(permit) => (permit, false),
            None => match self.reserve.clone().try_acquire_owned() {
                Ok(permit) => (permit, true),
                Err(_) => {
                    drop(peers);
                    let why = if from_peer >= self.limits.per_peer {
                        format!(
                            "{from_peer} connections from this address already (--max-connections-per-peer {})",
                            self.limits.per_peer
                        )
                    } else {
                        format!(
                            "{} connections already (--max-connections)",
                            self.limits.max
                        )
                    };
                    self.refused.note(&ip.to_string(), &why);
                    return None;
                }
            },
        };
        *peers.entry(ip).or_insert(0) += 1;
        Some(Slot {
            _permit: permit,
            clients_only,
            peer: ip,
            gate: self.clone(),
        })
    }
}

/// Accept connections on `listener` and spawn `serve` for each that `gate`
/// admits, until `shutdown`; the others are closed at once.
pub async fn accept_until<F, Fut>(
    listener: &TcpListener,
    shutdown: &Shutdown,
    gate: &Arc<Gate>,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, Slot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let failed = Summary::new("accept failed", Duration::from_secs(10));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Some(slot) = gate.admit(peer) {
                        tokio::spawn(serve(stream, peer, slot));
                    }
                }
                Err(e) => {
                    failed.note("listener", &e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = shutdown.wait() => break,
        }
    }
}

/// Whether a connection is busy: requests in flight, and when it last
/// started or ended one.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Option<tokio::time::Instant>>,
}

struct Busy(Arc<Activity>);

impl Activity {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokio::time::Instant::now());
    }

    fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        Busy(self.clone())
    }

    /// Resolves once no request was in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let since = self
                .last
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(tokio::time::Instant::now);
            let until = since + idle;
            if self.in_flight.load(Ordering::Acquire) == 0 && tokio::time::Instant::now() >= until {
                return;
            }
            tokio::time::sleep_until(until.max(tokio::time::Instant::now() + idle / 4)).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Run each request of a connection on a task of its own until the
/// connection closes, or until it has had no request in flight for `idle`:
/// then it is closed.
pub async fn serve_requests<S, R>(requests: S, idle: Duration, peer: SocketAddr)
where
    S: Stream<Item = R>,
    R: Future<Output = ()> + Send + 'static,
{
    let activity = Arc::new(Activity::default());
    activity.touch();
    let serving = requests.for_each(|request| {
        let busy = activity.start();
        tokio::spawn(async move {
            request.await;
            drop(busy);
        });
        async {}
    });
    tokio::select! {
        _ = serving => {}
        _ = activity.idle_for(idle) => {
            tracing::debug!(%peer, "closed a connection idle for {}", humantime::format_duration(idle));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> SocketAddr {
        format!("{ip}:1000").parse().unwrap()
    }

    #[test]
    fn the_reserve_is_for_whoever_comes_past_the_limits() {
        let gate = Gate::new(ConnLimits {
            max: 4,
            per_peer: 2,
            idle: DEFAULT_IDLE,
        });
        assert_eq!(gate.limits().reserve(), 1);
        let a1 = gate.admit(addr("10.0.0.1")).unwrap();
        let a2 = gate.admit(addr("10.0.0.1")).unwrap();
        assert!(!a1.clients_only && !a2.clients_only);
        // Past its own limit, a peer gets the reserve, then nothing.
        let a3 = gate.admit(addr("10.0.0.1")).unwrap();
        assert!(a3.clients_only);
        assert!(gate.admit(addr("10.0.0.1")).is_none());
        let b1 = gate.admit(addr("10.0.0.2")).unwrap();
        assert!(!b1.clients_only);
        // Every slot is taken.
        assert!(gate.admit(addr("10.0.0.3")).is_none());
        drop(a3);
        let c1 = gate.admit(addr("10.0.0.3")).unwrap();
        assert!(c1.clients_only, "the general slots are still all taken");
        drop((a1, a2));
        assert!(!gate.admit(addr("10.0.0.1")).unwrap().clients_only);
        drop((b1, c1));
        assert!(gate.peers.lock().unwrap().len() <= 1);
    }

    #[tokio::test]
    async fn a_connection_with_a_request_in_flight_is_never_idle() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<tokio::sync::oneshot::Receiver<()>>();
        let requests = rx.map(|done| async move {
            let _ = done.await;
        });
        let idle = Duration::from_millis(300);
        let serving = tokio::spawn(serve_requests(requests, idle, addr("127.0.0.1")));
        let (end_poll, poll) = tokio::sync::oneshot::channel();
        tx.unbounded_send(poll).unwrap();
        tokio::time::sleep(idle * 4).await;
        assert!(!serving.is_finished(), "a long request is not idleness");
        end_poll.send(()).unwrap();
        tokio::time::sleep(idle / 2).await;
        assert!(!serving.is_finished());
        tokio::time::sleep(idle * 2).await;
        assert!(serving.is_finished(), "idle after the last request");
        drop(tx);
    }
}
