//! The end-to-end suite again, on two trackers sharing one PostgreSQL store.
//! `on_postgres` compiles chosen test modules a second time with this
//! module's `Daemon` in place of the helpers' one: its `standalone` starts a
//! plain tracker on a fresh database first (so that tracker leads: it fires
//! the ticks, expires the leases, prunes), then the standalone the test asked
//! for on the same database. The test talks to the standalone, whose worker
//! hears of the leader's ticks only through the trackers' wakeup relay.
//! Restarting a standalone on the same data dir keeps its database. Without
//! `LTS_TEST_PG` the modules run on SQLite again, after one line saying so.

use crate::helpers;
use crate::pg::{self, TestDb};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A database and its leading tracker, shared by the standalones started on
/// one data dir.
struct Cluster {
    _leader: helpers::Daemon,
    url: String,
    _db: TestDb,
}

/// Live clusters by data dir, so that a restart finds its database again.
fn clusters() -> &'static Mutex<HashMap<PathBuf, Weak<Mutex<Cluster>>>> {
    static CLUSTERS: OnceLock<Mutex<HashMap<PathBuf, Weak<Mutex<Cluster>>>>> = OnceLock::new();
    CLUSTERS.get_or_init(Default::default)
}

/// Flags of the standalone that its leading partner must share.
const SHARED_FLAGS: [&str; 3] = ["--lease", "--retain", "--max-log-bytes"];

fn cluster_for(home: &Path, data: &Path, extra: &[&str]) -> Option<Arc<Mutex<Cluster>>> {
    let mut live = clusters().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cluster) = live.get(data).and_then(Weak::upgrade) {
        return Some(cluster);
    }
    let db = TestDb::create()?;
    let leader_data = data.with_extension("leader");
    let leader_data = leader_data.to_str().unwrap();
    let mut args = vec![
        "tracker",
        "--listen",
        "127.0.0.1:0",
        "--data",
        leader_data,
        "--store",
        &db.url,
        "--leader-ttl",
        "2s",
    ];
    for pair in extra.windows(2) {
        if SHARED_FLAGS.contains(&pair[0]) {
            args.extend_from_slice(pair);
        }
    }
    let leader = helpers::Daemon::start(home, &args, true);
    leader.wait_for_log("leading", |_| Some(()));
    let cluster = Arc::new(Mutex::new(Cluster {
        _leader: leader,
        url: db.url.clone(),
        _db: db,
    }));
    live.insert(data.to_path_buf(), Arc::downgrade(&cluster));
    Some(cluster)
}

/// A standalone on the shared store, with the cluster it belongs to.
pub struct Daemon {
    inner: helpers::Daemon,
    _cluster: Option<Arc<Mutex<Cluster>>>,
}

impl Deref for Daemon {
    type Target = helpers::Daemon;
    fn deref(&self) -> &helpers::Daemon {
        &self.inner
    }
}

impl DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut helpers::Daemon {
        &mut self.inner
    }
}

impl Daemon {
    /// `ltsd standalone`, as the helpers start it, on the shared store.
    pub fn standalone(home: &Path, data: &Path, extra: &[&str]) -> Daemon {
        Daemon::on_cluster(home, data, extra, |store| {
            let flags = [store, extra].concat();
            helpers::Daemon::standalone(home, data, &flags)
        })
    }

    /// A plain tracker on `listen` and `data`, on the shared store.
    pub fn tracker(home: &Path, data: &Path, listen: &str) -> Daemon {
        Daemon::on_cluster(home, data, &[], |store| {
            helpers::Daemon::tracker_with(home, data, listen, store)
        })
    }

    /// Start a daemon with `start(store flags)` in the cluster of `data`,
    /// or with none when PostgreSQL tests are skipped.
    fn on_cluster(
        home: &Path,
        data: &Path,
        extra: &[&str],
        start: impl FnOnce(&[&str]) -> helpers::Daemon,
    ) -> Daemon {
        let Some(cluster) = cluster_for(home, data, extra) else {
            eprintln!("{}: this module ran on SQLite again", pg::SKIPPED);
            return Daemon {
                inner: start(&[]),
                _cluster: None,
            };
        };
        let url = cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .url
            .clone();
        Daemon {
            inner: start(&["--store", &url, "--leader-ttl", "2s"]),
            _cluster: Some(cluster),
        }
    }

    pub fn start(home: &Path, args: &[&str], listens: bool) -> helpers::Daemon {
        helpers::Daemon::start(home, args, listens)
    }
}
