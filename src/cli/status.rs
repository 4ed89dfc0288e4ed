//! `lts status` (the cluster at a glance: each tracker's version, leadership
//! and store, the workers by group, the queues) and `lts version` (this
//! client's version and protocol, and the tracker's).

use super::output::{print_json, print_table, relative, table, Format};
use super::{Cli, CliError};
use crate::client::Client;
use crate::model::{now_ms, NodeView, Role};
use crate::model::{Alert, AlertQuery};
use crate::protocol::{TrackerStatus, PROTOCOL_VERSION};
use serde_json::json;
use std::collections::BTreeMap;

/// Each tracker this invocation names, asked on its own.
async fn trackers(cli: &Cli) -> Result<Vec<(String, Result<TrackerStatus, CliError>)>, CliError> {
    let client = cli.client().await?;
    // Connect first, so a registry or mDNS has listed its trackers.
    let first = client.status().await.map_err(CliError::from);
    let connected = client.connected_to().await;
    let mut out = Vec::new();
    for addr in client.addrs() {
        if Some(&addr) == connected.as_ref() {
            continue;
        }
        let one = Client::new(vec![addr.clone()]).with_security(client.security().clone());
        out.push((addr, one.status().await.map_err(CliError::from)));
    }
    let first_addr = connected.unwrap_or_else(|| client.addrs().join(","));
    out.insert(0, (first_addr, first));
    Ok(out)
}

fn status_json(addr: &str, status: &Result<TrackerStatus, CliError>) -> serde_json::Value {
    match status {
        Ok(s) => json!({
            "address": addr,
            "id": s.id,
            "version": s.version,
            "protocol": s.protocol,
            "leader": s.leader,
            "store": s.store,
            "http": s.http,
            "started_at": crate::model::json::time(s.started_at),
        }),
        Err(e) => json!({"address": addr, "error": e.message}),
    }
}

/// Workers by group: how many are live, their slots used and free.
fn workers(nodes: &[NodeView]) -> BTreeMap<String, (u32, u32, u32)> {
    let mut groups: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for n in nodes
        .iter()
        .filter(|n| n.role == Role::Worker && n.state == "up")
    {
        let g = groups.entry(n.group.clone()).or_default();
        g.0 += 1;
        g.1 += n.slots_used;
        g.2 += n.slots_free;
    }
    groups
}

/// A group's workers (live, slots used, free) and queue (runs, oldest due).
type GroupRow<'a> = (Option<&'a (u32, u32, u32)>, Option<(u64, Option<i64>)>);

pub async fn status(cli: &Cli, format: Format) -> Result<(), CliError> {
    let trackers = trackers(cli).await?;
    if trackers.iter().all(|(_, s)| s.is_err()) {
        if let Some((_, Err(e))) = trackers.into_iter().next() {
            return Err(e);
        }
        return Err(CliError::new(
            super::error::exit::UNREACHABLE,
            "no tracker answered",
        ));
    }
    let client = cli.client().await?;
    let nodes = match cli.registry()? {
        Some(addr) => {
            crate::registry::RegistryClient::new(addr, "client")
                .with_security(cli.security()?)
                .list()
                .await?
                .nodes
        }
        None => client.nodes().await?,
    };
    let stats = client.stats(None, 60_000).await?;
    let workers = workers(&nodes);
    // Alerts firing: state alerts (no worker, queue age, ...) not resolved.
    let recent = AlertQuery {
        group: None,
        after_seq: None,
        limit: 1_000,
    };
    let firing: Vec<Alert> = client
        .alerts(recent, std::time::Duration::ZERO)
        .await?
        .into_iter()
        .filter(|a| a.state && a.resolved_at.is_none())
        .collect();
    let now = now_ms();
    if format == Format::Json {
        print_json(&json!({
            "trackers": trackers.iter().map(|(a, s)| status_json(a, s)).collect::<Vec<_>>(),
            "workers": workers.iter().map(|(g, (live, used, free))| json!({
                "group": g, "live": live, "slots_used": used, "slots_free": free,
            })).collect::<Vec<_>>(),
            "queues": stats.queues.iter().map(|q| json!({
                "group": q.group,
                "queued_runs": q.runs,
                "oldest_age_s": q.oldest_due.map(|d| (now - d).max(0) / 1000),
            })).collect::<Vec<_>>(),
            "alerts_firing": firing.iter().map(|a| json!({
                "rule": a.rule, "group": a.group, "message": a.message,
                "raised_at": crate::model::rfc3339(a.raised_at),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let mut t = table(&["TRACKER", "VERSION", "LEADER", "STORE", "CONSOLE", "UP"]);
    for (addr, s) in &trackers {
        match s {
            Ok(s) => t.add_row(vec![
                addr.clone(),
                format!("{} (protocol {})", s.version, s.protocol),
                if s.leader { "yes" } else { "no" }.into(),
                s.store.clone(),
                s.http
                    .as_ref()
                    .map_or("-".into(), |h| format!("http://{h}")),
                relative(s.started_at, now).replace(" ago", ""),
            ]),
            Err(e) => t.add_row(vec![addr.clone(), crate::model::cut(&e.message, 60)]),
        };
    }
    print_table(&t);
    println!();
    let mut t = table(&[
        "GROUP",
        "WORKERS",
        "SLOTS USED",
        "SLOTS FREE",
        "QUEUED",
        "OLDEST",
    ]);
    let mut groups: BTreeMap<&str, GroupRow> = BTreeMap::new();
    for (g, w) in &workers {
        groups.entry(g).or_default().0 = Some(w);
    }
    for q in &stats.queues {
        groups.entry(&q.group).or_default().1 = Some((q.runs, q.oldest_due));
    }
    for (g, (w, q)) in &groups {
        let (live, used, free) = w.copied().unwrap_or_default();
        let (queued, oldest) = q.unwrap_or_default();
        t.add_row(vec![
            crate::model::cut(g, 40),
            live.to_string(),
            used.to_string(),
            free.to_string(),
            queued.to_string(),
            oldest.map_or("-".into(), |d| relative(d, now)),
        ]);
    }
    if groups.is_empty() {
        println!("no workers and nothing queued");
    } else {
        print_table(&t);
    }
    for (g, (w, q)) in &groups {
        if w.is_none() && q.is_some_and(|(n, _)| n > 0) {
            println!("group '{}' has no live worker", crate::model::cut(g, 80));
        }
    }
    println!();
    if firing.is_empty() {
        println!("no alerts firing");
    } else {
        println!("{} alert(s) firing:", firing.len());
        for a in &firing {
            println!(
                "  {}  {}  since {}",
                a.rule.as_deref().unwrap_or("-"),
                crate::model::cut(&a.message, 100),
                relative(a.raised_at, now)
            );
        }
    }
    Ok(())
}

pub async fn version(cli: &Cli, format: Format) -> Result<(), CliError> {
    let tracker = match cli.client().await {
        Ok(client) => client.status().await.map_err(CliError::from),
        Err(e) => Err(e),
    };
    match format {
        Format::Json => print_json(&json!({
            "client": {"version": crate::VERSION, "protocol": PROTOCOL_VERSION},
            "tracker": match &tracker {
                Ok(s) => json!({"version": s.version, "protocol": s.protocol, "address": s.address}),
                Err(e) => json!({"error": e.message}),
            },
        })),
        Format::Table => {
            println!(
                "client   lts {} (protocol {PROTOCOL_VERSION})",
                crate::VERSION
            );
            match &tracker {
                Ok(s) => println!(
                    "tracker  ltsd {} (protocol {}) at {}",
                    s.version, s.protocol, s.address
                ),
                Err(e) => println!("tracker  unknown: {}", e.message),
            }
        }
    }
    // The client's own version is always printed; an unreachable tracker
    // still exits by SPEC's code.
    tracker.map(|_| ())
}
