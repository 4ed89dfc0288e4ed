//! Where the binaries' logs go: stderr, through `tracing`, filtered by
//! `RUST_LOG` or else by the binary's default, coloured only on a terminal.

use std::io::IsTerminal;

/// Send logs to stderr, filtered by `RUST_LOG`, else by `default_filter`.
pub fn init(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
}

/// Warnings that could come by the thousand (refused connections, wrong
/// tokens, a full file table), said at most once per key and interval: the
/// first at once, and how many more came within the interval in one line at
/// its end. Keys are bounded: past `MAX_KEYS` distinct ones at a time, the
/// rest share one.
pub struct Summary {
    what: &'static str,
    interval: std::time::Duration,
    keys: std::sync::Mutex<std::collections::HashMap<String, Pending>>,
}

struct Pending {
    until: std::time::Instant,
    more: u64,
}

/// The most distinct keys a `Summary` tracks at once.
const MAX_KEYS: usize = 4_096;
/// The key everything past `MAX_KEYS` shares.
const OTHERS: &str = "others";

impl Summary {
    /// Warnings of kind `what` (e.g. "refused connection"), at most one line
    /// per key and `interval`.
    pub fn new(what: &'static str, interval: std::time::Duration) -> std::sync::Arc<Summary> {
        std::sync::Arc::new(Summary {
            what,
            interval,
            keys: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Note one occurrence for `key` (a peer address, say); `detail` is
    /// logged when this one is the first of its interval, else it is counted
    /// and the count logged when the interval ends.
    pub fn note(self: &std::sync::Arc<Self>, key: &str, detail: &str) {
        let now = std::time::Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, p| p.until > now);
        }
        let key = if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            OTHERS
        } else {
            key
        };
        match keys.get_mut(key) {
            Some(p) if p.until > now => {
                p.more += 1;
                if p.more == 1 {
                    self.report_later(key.to_string(), p.until - now);
                }
            }
            _ => {
                keys.insert(
                    key.to_string(),
                    Pending {
                        until: now + self.interval,
                        more: 0,
                    },
                );
                drop(keys);
                tracing::warn!(peer = %key, "{}: {detail}", self.what);
            }
        }
    }

    /// At the end of `key`'s interval, say how many more came in it.
    fn report_later(self: &std::sync::Arc<Self>, key: String, after: std::time::Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            let more = {
                let mut keys = me.keys.lock().unwrap_or_else(|p| p.into_inner());
                keys.remove(&key).map_or(0, |p| p.more)
            };
            if more > 0 {
                tracing::warn!(
                    peer = %key,
                    count = more,
                    "{}: {more} more in the last {}",
                    me.what,
                    humantime::format_duration(me.interval)
                );
            }
        });
    }
}
