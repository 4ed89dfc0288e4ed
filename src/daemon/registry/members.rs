//! Membership: who is registered, when each registration expires, the master
//! of every (role, group) with its epoch, and the numbered history of changes
//! that `watch` serves. Pure state: callers pass the time in, persist
//! `snapshot()` and wake watchers; nothing here does I/O.
//!
//! The master of a (role, group) is its oldest live member (LTS's rule):
//! the smallest (start time, id). Epochs come from one registry-wide counter
//! that moves at every change of any group's master, so a group's epoch
//! increases at each of its changes and never goes back, even for a group
//! the registry forgot.

use crate::model::{GroupMaster, Millis, NodeEvent, NodeEventKind, NodeView, Role};
use crate::protocol::registry::{Beat, EventPage, NodeInfo, RegistryError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The most nodes registered at once.
pub const MAX_NODES: usize = 10_000;
/// How many events are kept for watchers that fall behind.
const MAX_EVENTS: usize = 10_000;
/// How long a node that left stays listed as `down`.
const GONE_KEPT_MS: Millis = 300_000;
/// How many departed nodes are listed at most.
const MAX_GONE: usize = 1_000;
/// How many memberless groups are remembered at most.
const MAX_GROUPS: usize = 10_000;

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub info: NodeInfo,
    /// The address others reach it at (or where its connection came from).
    pub address: String,
    pub slots_used: u32,
    pub last_seen: Millis,
}

/// What must survive a registry restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub last_seq: u64,
    pub last_epoch: u64,
    pub groups: Vec<GroupMaster>,
    pub nodes: Vec<Member>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    epoch: u64,
    master: Option<String>,
}

/// The registry's membership state.
pub struct Members {
    ttl_ms: Millis,
    live: HashMap<String, (Member, Millis)>,
    /// Live members of each group by age: the first is the master.
    ages: HashMap<GroupKey, BTreeSet<(Millis, String)>>,
    gone: HashMap<String, (NodeView, Millis)>,
    groups: BTreeMap<(Role, String), Group>,
    events: VecDeque<NodeEvent>,
    last_seq: u64,
    last_epoch: u64,
}

type GroupKey = (Role, String);

impl Members {
    pub fn new(ttl_ms: u64) -> Self {
        Members {
            ttl_ms: ttl_ms.min(i64::MAX as u64) as Millis,
            live: HashMap::new(),
            ages: HashMap::new(),
            gone: HashMap::new(),
            groups: BTreeMap::new(),
            events: VecDeque::new(),
            last_seq: 0,
            last_epoch: 0,
        }
    }

    /// State saved by an earlier registry: its nodes count as live for one
    /// more TTL (they heartbeat again meanwhile, or expire), its masters and
    /// its counters carry on.
    pub fn restore(snapshot: Snapshot, ttl_ms: u64, now: Millis) -> Self {
        let mut members = Members::new(ttl_ms);
        members.last_seq = snapshot.last_seq;
        members.last_epoch = snapshot.last_epoch;
        for g in snapshot.groups {
            members.last_epoch = members.last_epoch.max(g.epoch);
            members.groups.insert(
                (g.role, g.group),
                Group {
                    epoch: g.epoch,
                    master: g.master,
                },
            );
        }
        let mut keys = Vec::new();
        for member in snapshot.nodes.into_iter().take(MAX_NODES) {
            if members.live.contains_key(&member.info.id) {
                continue;
            }
            keys.push(key_of(&member.info));
            let expires = now.saturating_add(members.ttl_ms);
            members.insert(member, expires);
        }
        let all: Vec<GroupKey> = members.groups.keys().cloned().collect();
        for key in all.into_iter().chain(keys) {
            members.elect(&key, now);
        }
        members
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut nodes: Vec<Member> = self.live.values().map(|(m, _)| m.clone()).collect();
        nodes.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        Snapshot {
            last_seq: self.last_seq,
            last_epoch: self.last_epoch,
            groups: self.groups(),
            nodes,
        }
    }

    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms as u64
    }

    /// The last event's number.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Register `info` (again), reachable at `address`.
    pub fn register(
        &mut self,
        info: NodeInfo,
        address: String,
        now: Millis,
    ) -> Result<(), RegistryError> {
        let expires = now.saturating_add(self.ttl_ms);
        let previous = self.live.get(&info.id).map(|(m, _)| m.info.clone());
        if let Some(previous) = &previous {
            if key_of(previous) != key_of(&info) {
                // Same id, another role or group: the old registration goes.
                self.remove(&info.id, "replaced", now);
            }
        }
        if !self.live.contains_key(&info.id) && self.live.len() >= MAX_NODES {
            return Err(RegistryError::Full(MAX_NODES));
        }
        let key = key_of(&info);
        let member = Member {
            info: info.clone(),
            address,
            slots_used: 0,
            last_seen: now,
        };
        match self.live.remove(&info.id) {
            Some((known, _)) => {
                self.unindex(&known.info);
                let slots_used = known.slots_used;
                self.insert(
                    Member {
                        slots_used,
                        ..member
                    },
                    expires,
                );
            }
            None => {
                self.gone.remove(&info.id);
                let view = self.view(&member, false);
                self.insert(member, expires);
                self.push(NodeEventKind::Join, &key, Some(view), None, None, now);
            }
        }
        self.elect(&key, now);
        Ok(())
    }

    /// A node says it is alive; `Unknown` asks it to register again.
    pub fn heartbeat(&mut self, id: &str, slots_used: u32, now: Millis) -> Beat {
        match self.live.get_mut(id) {
            Some((member, expires)) => {
                member.slots_used = slots_used;
                member.last_seen = now;
                *expires = now.saturating_add(self.ttl_ms);
                Beat::Ok
            }
            None => Beat::Unknown,
        }
    }

    /// A node leaves; returns whether it was registered.
    pub fn leave(&mut self, id: &str, now: Millis) -> bool {
        self.remove(id, "left", now)
    }

    /// Remove every node whose registration ran out by `now`; returns how many.
    pub fn expire(&mut self, now: Millis) -> usize {
        let expired: Vec<String> = self
            .live
            .iter()
            .filter(|(_, (_, expires))| *expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.remove(id, "expired", now);
        }
        self.gone
            .retain(|_, (_, left)| now.saturating_sub(*left) < GONE_KEPT_MS);
        expired.len()
    }

    /// When the next registration runs out, if any is held.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.live.values().map(|(_, expires)| *expires).min()
    }

    /// Nodes (live, then those gone within the last minutes) sorted by
    /// role, group and age.
    pub fn nodes(&self, now: Millis) -> Vec<NodeView> {
        let mut live: Vec<&Member> = self.live.values().map(|(m, _)| m).collect();
        live.sort_by(|a, b| {
            let (ka, kb) = (key_of(&a.info), key_of(&b.info));
            (ka.0.as_str(), &ka.1, age_order(&a.info)).cmp(&(
                kb.0.as_str(),
                &kb.1,
                age_order(&b.info),
            ))
        });
        let mut out: Vec<NodeView> = live
            .into_iter()
            .map(|m| {
                let master = self
                    .groups
                    .get(&key_of(&m.info))
                    .is_some_and(|g| g.master.as_deref() == Some(m.info.id.as_str()));
                self.view(m, master)
            })
            .collect();
        let mut gone: Vec<&NodeView> = self
            .gone
            .values()
            .filter(|(_, left)| now.saturating_sub(*left) < GONE_KEPT_MS)
            .map(|(v, _)| v)
            .collect();
        gone.sort_by(|a, b| {
            (a.role.as_str(), &a.group, &a.id).cmp(&(b.role.as_str(), &b.group, &b.id))
        });
        out.extend(gone.into_iter().cloned());
        out
    }

    /// Every (role, group) known, with its master and epoch.
    pub fn groups(&self) -> Vec<GroupMaster> {
        self.groups
            .iter()
            .map(|((role, group), g)| GroupMaster {
                role: *role,
                group: group.clone(),
                epoch: g.epoch,
                master: g.master.clone(),
            })
            .collect()
    }

    /// Up to `limit` events after `after`.
    pub fn events_after(&self, after: u64, limit: usize) -> EventPage {
        let first = self.events.front().map_or(self.last_seq + 1, |e| e.seq);
        if after >= self.last_seq {
            // Nothing after the cursor yet (a cursor past the last event
            // names events still to come: the seq never goes back).
            return EventPage {
                events: Vec::new(),
                last_seq: self.last_seq,
                reset: false,
            };
        }
        if after.saturating_add(1) < first {
            return EventPage {
                events: Vec::new(),
                last_seq: self.last_seq,
                reset: true,
            };
        }
        let skip = (after + 1 - first) as usize;
        EventPage {
            events: self.events.iter().skip(skip).take(limit).cloned().collect(),
            last_seq: self.last_seq,
            reset: false,
        }
    }

    fn insert(&mut self, member: Member, expires: Millis) {
        self.ages
            .entry(key_of(&member.info))
            .or_default()
            .insert((member.info.started_at, member.info.id.clone()));
        self.live.insert(member.info.id.clone(), (member, expires));
    }

    fn unindex(&mut self, info: &NodeInfo) {
        let key = key_of(info);
        if let Some(ages) = self.ages.get_mut(&key) {
            ages.remove(&(info.started_at, info.id.clone()));
            if ages.is_empty() {
                self.ages.remove(&key);
            }
        }
    }

    fn view(&self, m: &Member, master: bool) -> NodeView {
        NodeView {
            id: m.info.id.clone(),
            role: m.info.role,
            group: m.info.group.clone(),
            address: m.address.clone(),
            state: "up".into(),
            master,
            slots_used: m.slots_used.min(m.info.slots),
            slots_free: m.info.slots.saturating_sub(m.slots_used),
            version: m.info.version.clone(),
            last_seen: m.last_seen,
        }
    }

    fn remove(&mut self, id: &str, reason: &str, now: Millis) -> bool {
        let Some((member, _)) = self.live.remove(id) else {
            return false;
        };
        self.unindex(&member.info);
        let key = key_of(&member.info);
        let mut view = self.view(&member, false);
        view.state = "down".into();
        if self.gone.len() >= MAX_GONE {
            if let Some(oldest) = self
                .gone
                .iter()
                .min_by_key(|(_, (_, left))| *left)
                .map(|(id, _)| id.clone())
            {
                self.gone.remove(&oldest);
            }
        }
        self.gone.insert(id.to_string(), (view.clone(), now));
        self.push(
            NodeEventKind::Leave,
            &key,
            Some(view),
            None,
            Some(reason.to_string()),
            now,
        );
        self.elect(&key, now);
        true
    }

    /// Make the oldest live member of `key` its master; a change bumps the
    /// epoch and is an event.
    fn elect(&mut self, key: &GroupKey, now: Millis) {
        let oldest = self
            .ages
            .get(key)
            .and_then(|ages| ages.first())
            .and_then(|(_, id)| self.live.get(id))
            .map(|(m, _)| m.clone());
        let current = self.groups.get(key).and_then(|g| g.master.clone());
        let wanted = oldest.as_ref().map(|m| m.info.id.clone());
        if current == wanted && self.groups.contains_key(key) {
            return;
        }
        self.last_epoch += 1;
        let epoch = self.last_epoch;
        self.groups.insert(
            key.clone(),
            Group {
                epoch,
                master: wanted,
            },
        );
        let view = oldest.map(|m| self.view(&m, true));
        self.push(NodeEventKind::Master, key, view, Some(epoch), None, now);
        self.forget_idle_groups();
    }

    /// Peers choose group names: past `MAX_GROUPS`, memberless groups are
    /// forgotten (their epochs stay safe: the counter is registry-wide).
    fn forget_idle_groups(&mut self) {
        if self.groups.len() <= MAX_GROUPS {
            return;
        }
        self.groups.retain(|_, g| g.master.is_some());
    }

    fn push(
        &mut self,
        kind: NodeEventKind,
        key: &GroupKey,
        node: Option<NodeView>,
        epoch: Option<u64>,
        reason: Option<String>,
        now: Millis,
    ) {
        self.last_seq += 1;
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(NodeEvent {
            seq: self.last_seq,
            at: now,
            kind,
            role: key.0,
            group: key.1.clone(),
            node,
            epoch,
            reason,
        });
    }
}

fn key_of(info: &NodeInfo) -> GroupKey {
    (info.role, info.group.clone())
}

fn age_order(info: &NodeInfo) -> (Millis, &str) {
    (info.started_at, info.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: u64 = 6_000;

    fn node(id: &str, group: &str, started_at: Millis) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            role: Role::Worker,
            group: group.into(),
            address: String::new(),
            version: "0".into(),
            slots: 4,
            started_at,
        }
    }

    fn join(m: &mut Members, id: &str, group: &str, started_at: Millis, now: Millis) {
        m.register(node(id, group, started_at), format!("{id}:1"), now)
            .unwrap();
    }

    fn master(m: &Members, group: &str) -> (Option<String>, u64) {
        let g = m
            .groups()
            .into_iter()
            .find(|g| g.group == group)
            .expect("group known");
        (g.master, g.epoch)
    }

    fn kinds(m: &Members, after: u64) -> Vec<(NodeEventKind, Option<String>)> {
        m.events_after(after, 100)
            .events
            .into_iter()
            .map(|e| (e.kind, e.node.map(|n| n.id)))
            .collect()
    }

    #[test]
    fn the_oldest_live_member_is_master_whatever_the_join_order() {
        let mut m = Members::new(TTL);
        join(&mut m, "young", "a", 200, 1_000);
        assert_eq!(master(&m, "a"), (Some("young".into()), 1));
        join(&mut m, "old", "a", 100, 1_001);
        assert_eq!(master(&m, "a"), (Some("old".into()), 2));
        join(&mut m, "other", "b", 50, 1_002);
        assert_eq!(
            master(&m, "a").0.as_deref(),
            Some("old"),
            "groups are apart"
        );
        let masters: Vec<_> = m
            .nodes(1_002)
            .into_iter()
            .filter(|n| n.master)
            .map(|n| n.id)
            .collect();
        assert_eq!(masters.len(), 2);
        assert!(masters.contains(&"old".to_string()) && masters.contains(&"other".to_string()));
    }

    #[test]
    fn same_start_time_breaks_ties_by_id() {
        let mut m = Members::new(TTL);
        join(&mut m, "b", "g", 100, 1_000);
        join(&mut m, "a", "g", 100, 1_000);
        assert_eq!(master(&m, "g").0.as_deref(), Some("a"));
    }

    #[test]
    fn an_expired_master_hands_over_to_the_next_oldest_with_a_higher_epoch() {
        let mut m = Members::new(TTL);
        join(&mut m, "first", "g", 100, 0);
        join(&mut m, "second", "g", 200, 0);
        let (_, epoch) = master(&m, "g");
        let seq = m.last_seq();
        // Only the second keeps heartbeating.
        assert_eq!(m.heartbeat("second", 1, 4_000), Beat::Ok);
        assert_eq!(m.next_expiry(), Some(6_000));
        assert_eq!(m.expire(5_999), 0);
        assert_eq!(m.expire(6_000), 1);
        let (now_master, now_epoch) = master(&m, "g");
        assert_eq!(now_master.as_deref(), Some("second"));
        assert!(now_epoch > epoch);
        assert_eq!(
            kinds(&m, seq),
            vec![
                (NodeEventKind::Leave, Some("first".into())),
                (NodeEventKind::Master, Some("second".into())),
            ]
        );
        let leave = &m.events_after(seq, 1).events[0];
        assert_eq!(leave.reason.as_deref(), Some("expired"));
        // The one that went is listed as down, and never as master.
        let first = m
            .nodes(6_001)
            .into_iter()
            .find(|n| n.id == "first")
            .unwrap();
        assert_eq!((first.state.as_str(), first.master), ("down", false));
        let later = m.nodes(6_000 + GONE_KEPT_MS);
        assert!(
            later.iter().all(|n| n.id != "first"),
            "forgotten after a while"
        );
        assert_eq!(m.heartbeat("first", 0, 6_001), Beat::Unknown);
    }

    #[test]
    fn an_empty_group_has_no_master_and_its_epoch_still_grows() {
        let mut m = Members::new(TTL);
        join(&mut m, "only", "g", 100, 0);
        let (_, e1) = master(&m, "g");
        assert!(m.leave("only", 10));
        let (none, e2) = master(&m, "g");
        assert_eq!(none, None);
        assert!(e2 > e1);
        join(&mut m, "next", "g", 300, 20);
        let (next, e3) = master(&m, "g");
        assert_eq!(next.as_deref(), Some("next"));
        assert!(e3 > e2);
        assert!(!m.leave("only", 30), "leaving twice is a no-op");
    }

    #[test]
    fn a_non_master_leaving_changes_no_epoch() {
        let mut m = Members::new(TTL);
        join(&mut m, "old", "g", 100, 0);
        join(&mut m, "young", "g", 200, 0);
        let before = master(&m, "g");
        m.leave("young", 5);
        assert_eq!(master(&m, "g"), before);
    }

    #[test]
    fn registering_again_is_idempotent_and_renews_the_ttl() {
        let mut m = Members::new(TTL);
        join(&mut m, "n", "g", 100, 0);
        let seq = m.last_seq();
        join(&mut m, "n", "g", 100, 5_000);
        assert_eq!(m.last_seq(), seq, "no event for a known node");
        assert_eq!(m.expire(6_000), 0);
        assert_eq!(m.next_expiry(), Some(11_000));
    }

    #[test]
    fn a_node_moving_group_leaves_the_old_one() {
        let mut m = Members::new(TTL);
        join(&mut m, "n", "a", 100, 0);
        join(&mut m, "n", "b", 100, 1);
        assert_eq!(master(&m, "a").0, None);
        assert_eq!(master(&m, "b").0.as_deref(), Some("n"));
        assert_eq!(m.nodes(1).iter().filter(|n| n.state == "up").count(), 1);
    }

    #[test]
    fn state_restored_from_a_snapshot_keeps_masters_epochs_and_sequence() {
        let mut m = Members::new(TTL);
        join(&mut m, "old", "g", 100, 0);
        join(&mut m, "young", "g", 200, 0);
        let before = master(&m, "g");
        let seq = m.last_seq();
        let restored = Members::restore(m.snapshot(), TTL, 50_000);
        assert_eq!(master(&restored, "g"), before, "no election churn");
        assert_eq!(restored.last_seq(), seq);
        assert_eq!(
            restored.next_expiry(),
            Some(56_000),
            "one more TTL to heartbeat"
        );
        // A node that died while the registry was away expires; the epoch moves on.
        let mut restored = restored;
        restored.heartbeat("young", 0, 52_000);
        restored.expire(56_000);
        let (after, epoch) = master(&restored, "g");
        assert_eq!(after.as_deref(), Some("young"));
        assert!(epoch > before.1);
        assert!(restored.last_seq() > seq);
    }

    #[test]
    fn watchers_get_events_after_their_cursor_or_a_reset() {
        let mut m = Members::new(TTL);
        join(&mut m, "a", "g", 1, 0);
        join(&mut m, "b", "g", 2, 0);
        let all = m.events_after(0, 100);
        assert!(!all.reset);
        assert_eq!(all.events.len() as u64, m.last_seq());
        assert!(all.events.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        let tail = m.events_after(m.last_seq() - 1, 100);
        assert_eq!(tail.events.len(), 1);
        assert!(m.events_after(m.last_seq(), 100).events.is_empty());
        // A cursor past the last event names events still to come: wait for them.
        let ahead = m.events_after(m.last_seq() + 5, 100);
        assert!(!ahead.reset && ahead.events.is_empty(), "cursor ahead");
        let page = m.events_after(0, 1);
        assert_eq!(page.events.len(), 1);
    }

    #[test]
    fn a_full_registry_refuses_new_nodes_but_not_known_ones() {
        let mut m = Members::new(TTL);
        for i in 0..MAX_NODES {
            join(&mut m, &format!("n{i}"), "g", i as Millis, 0);
        }
        assert_eq!(
            m.register(node("extra", "g", 0), String::new(), 1),
            Err(RegistryError::Full(MAX_NODES))
        );
        assert!(m.register(node("n1", "g", 1), String::new(), 1).is_ok());
    }
}
