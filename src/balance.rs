//! Balancing and failover over several trackers: the policy that picks the
//! first tracker to try (`random`, `round-robin`, `first`), the order in
//! which the others are tried when it fails, and which calls may be retried
//! on another tracker. `Client` asks a `Balancer` for the order each time it
//! has to dial; nothing here does I/O except the round-robin cursor file
//! that lets separate `lts` invocations take turns.

use std::path::Path;
use std::sync::Mutex;

/// How a client with several trackers picks the one it connects to.
/// Named as clap and the config file spell it: `random`, `round-robin`, `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// A random one; then the others in list order after it.
    #[default]
    Random,
    /// Each new connection starts at the tracker after the last one used.
    RoundRobin,
    /// The first that answers, in list order.
    First,
}

/// The order to dial trackers in, and where to start next time.
#[derive(Debug)]
pub struct Balancer {
    addrs: Vec<String>,
    policy: Policy,
    /// The index the next dial starts at.
    cursor: Mutex<usize>,
}

/// Whether a call may be sent again, to another tracker, after the
/// connection broke with no answer (the first attempt may have been done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads, and writes whose repetition changes nothing (or is detected).
    Idempotent,
    /// `trigger`, `retry`, worker traffic: at most once from here.
    Never,
}

impl Balancer {
    /// A balancer over `addrs`; `start` is where `round-robin` begins (for
    /// `random`, a random place is taken; `first` always starts at 0).
    pub fn new(addrs: Vec<String>, policy: Policy, start: usize) -> Balancer {
        let n = addrs.len().max(1);
        let cursor = match policy {
            Policy::First => 0,
            Policy::RoundRobin => start % n,
            Policy::Random => rand::random_range(0..n),
        };
        Balancer {
            addrs,
            policy,
            cursor: Mutex::new(cursor),
        }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, usize> {
        self.cursor.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every address, in the order a new connection tries them.
    pub fn order(&self) -> Vec<String> {
        let start = match self.policy {
            Policy::First => 0,
            _ => *self.cursor(),
        };
        rotate(&self.addrs, start)
    }

    /// A connection to `addr` was made: later dials start there again
    /// (`first` keeps starting at the head of the list).
    pub fn connected(&self, addr: &str) {
        if let Some(i) = self.addrs.iter().position(|a| a == addr) {
            *self.cursor() = i;
        }
    }

    /// The connection to `addr` failed: the next dial starts at the one
    /// after it, so the failed tracker is tried last.
    pub fn failed(&self, addr: &str) {
        if let Some(i) = self.addrs.iter().position(|a| a == addr) {
            *self.cursor() = (i + 1) % self.addrs.len();
        }
    }
}

/// `addrs` starting at `start`, wrapping around.
fn rotate(addrs: &[String], start: usize) -> Vec<String> {
    if addrs.is_empty() {
        return Vec::new();
    }
    let start = start % addrs.len();
    addrs[start..]
        .iter()
        .chain(&addrs[..start])
        .cloned()
        .collect()
}

/// The file in the data dir where `lts` keeps its round-robin turn.
const CURSOR_FILE: &str = "balance-cursor";

/// Take this invocation's round-robin turn: the number stored in the data
/// dir, which is then advanced. Concurrent invocations may share a turn;
/// a missing or unreadable file starts at 0.
pub fn take_turn(data_dir: &Path) -> usize {
    let path = data_dir.join(CURSOR_FILE);
    let turn = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let _ = std::fs::create_dir_all(data_dir);
    let _ = std::fs::write(&path, format!("{}\n", turn.wrapping_add(1)));
    turn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    #[test]
    fn the_config_file_names_every_policy_as_the_flag_does() {
        #[derive(serde::Deserialize)]
        struct File {
            balance: Policy,
        }
        for (name, p) in [
            ("random", Policy::Random),
            ("round-robin", Policy::RoundRobin),
            ("first", Policy::First),
        ] {
            let file: File = toml::from_str(&format!("balance = \"{name}\"")).unwrap();
            assert_eq!(file.balance, p);
            let value = clap::ValueEnum::to_possible_value(&p).unwrap();
            assert_eq!(value.get_name(), name);
        }
        let bad = toml::from_str::<File>("balance = \"fastest\"");
        assert!(bad.err().unwrap().to_string().contains("round-robin"));
    }

    #[test]
    fn first_always_starts_at_the_head_even_after_a_failure() {
        let b = Balancer::new(addrs(3), Policy::First, 7);
        assert_eq!(b.order(), ["t0", "t1", "t2"]);
        b.failed("t0");
        assert_eq!(b.order(), ["t0", "t1", "t2"]);
        b.connected("t1");
        assert_eq!(b.order(), ["t0", "t1", "t2"]);
    }

    #[test]
    fn round_robin_starts_at_its_turn_and_fails_over_to_the_next() {
        let b = Balancer::new(addrs(3), Policy::RoundRobin, 4);
        assert_eq!(b.order(), ["t1", "t2", "t0"]);
        b.connected("t1");
        assert_eq!(b.order()[0], "t1", "keeps the tracker it uses");
        b.failed("t1");
        assert_eq!(b.order(), ["t2", "t0", "t1"], "the failed one goes last");
        b.failed("t2");
        assert_eq!(b.order(), ["t0", "t1", "t2"]);
    }

    #[test]
    fn random_tries_every_tracker_once_and_spreads_its_start() {
        let mut starts = std::collections::HashSet::new();
        for _ in 0..200 {
            let b = Balancer::new(addrs(3), Policy::Random, 0);
            let order = b.order();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, ["t0", "t1", "t2"]);
            starts.insert(order[0].clone());
            b.failed(&order[0]);
            assert_eq!(b.order()[2], order[0], "the failed one goes last");
        }
        assert_eq!(starts.len(), 3, "random starts anywhere");
    }

    #[test]
    fn unknown_addresses_and_empty_lists_change_nothing() {
        let b = Balancer::new(Vec::new(), Policy::RoundRobin, 3);
        assert!(b.order().is_empty());
        b.failed("x");
        let b = Balancer::new(addrs(2), Policy::RoundRobin, 0);
        b.failed("elsewhere");
        assert_eq!(b.order(), ["t0", "t1"]);
    }

    #[test]
    fn turns_advance_in_the_data_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(take_turn(dir.path()), 0);
        assert_eq!(take_turn(dir.path()), 1);
        std::fs::write(dir.path().join(CURSOR_FILE), "garbage").expect("write");
        assert_eq!(take_turn(dir.path()), 0);
    }
}
