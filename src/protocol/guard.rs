//! Slowing down token guessing: failed token proofs are counted per peer
//! address (an IPv6 peer by its /64), and past `FREE_FAILURES` each further
//! failure bars the address for a backoff that doubles up to `MAX_BACKOFF`.
//! While barred, an address's proofs are not even checked: the handshake is
//! refused with the time left. A correct proof clears the count; an address
//! quiet for `FORGET_AFTER` is forgotten. Everyone on one host shares its
//! address, so a guesser there delays that host's other clients too, for at
//! most `MAX_BACKOFF` after its last guess.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong proofs an address may make before any backoff (typos, a restart
/// with the old token).
pub const FREE_FAILURES: u32 = 5;
/// The first backoff.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// An address without a failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// The most addresses tracked at once; past it, the oldest are dropped.
const MAX_PEERS: usize = 16_384;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    barred_until: Option<Instant>,
}

/// Failed proofs per address.
#[derive(Debug, Default)]
pub struct Guard {
    peers: Mutex<HashMap<IpAddr, Record>>,
}

/// The address failures are counted under: IPv4 as is, IPv6 by its /64
/// (one host usually holds a whole /64).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The backoff after `failures` failures.
fn backoff(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?.checked_sub(1)?;
    Some(
        FIRST_BACKOFF
            .saturating_mul(1u32.checked_shl(over.min(16)).unwrap_or(u32::MAX))
            .min(MAX_BACKOFF),
    )
}

impl Guard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `ip` is still barred from proving a token, if it is.
    pub fn barred(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let peers = self.lock();
        let until = peers.get(&key(ip))?.barred_until?;
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    /// Count a wrong proof from `ip`; the backoff it now has, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut peers = self.lock();
        if peers.len() >= MAX_PEERS {
            peers.retain(|_, r| now.saturating_duration_since(r.last) < FORGET_AFTER);
            if peers.len() >= MAX_PEERS {
                // Keep the most barred half.
                let mut lasts: Vec<Instant> = peers.values().map(|r| r.last).collect();
                lasts.sort();
                let cut = lasts[lasts.len() / 2];
                peers.retain(|_, r| r.last >= cut);
            }
        }
        let record = peers.entry(key(ip)).or_insert(Record {
            failures: 0,
            last: now,
            barred_until: None,
        });
        if now.saturating_duration_since(record.last) >= FORGET_AFTER {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last = now;
        let wait = backoff(record.failures);
        record.barred_until = wait.map(|d| now + d);
        wait
    }

    /// A correct proof from `ip`: its count starts afresh.
    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&key(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_failures_are_free_then_the_backoff_doubles_to_a_cap() {
        let guard = Guard::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(guard.failed(ip, now), None);
            assert_eq!(guard.barred(ip, now), None);
        }
        assert_eq!(guard.failed(ip, now), Some(FIRST_BACKOFF));
        assert_eq!(guard.failed(ip, now), Some(FIRST_BACKOFF * 2));
        assert!(guard.barred(ip, now).is_some());
        assert_eq!(guard.barred(ip, now + FIRST_BACKOFF * 2), None);
        for _ in 0..40 {
            guard.failed(ip, now);
        }
        assert_eq!(guard.failed(ip, now), Some(MAX_BACKOFF));
        // Another address is not affected; a success clears the count.
        assert_eq!(guard.barred("10.1.2.4".parse().unwrap(), now), None);
        guard.succeeded(ip);
        assert_eq!(guard.barred(ip, now), None);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_slash_64() {
        let guard = Guard::default();
        let now = Instant::now();
        for i in 0..=FREE_FAILURES {
            let ip: IpAddr = format!("2001:db8::{i:x}").parse().unwrap();
            guard.failed(ip, now);
        }
        assert!(guard
            .barred("2001:db8::ffff".parse().unwrap(), now)
            .is_some());
        assert!(guard.barred("2001:db9::1".parse().unwrap(), now).is_none());
    }
}
