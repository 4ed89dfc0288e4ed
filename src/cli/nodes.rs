//! `lts nodes`: every node with its role, group, address, state, master
//! mark, slots and last heartbeat, from the registry when one is named, else
//! from the tracker (itself and the workers it knows); a line for each worker
//! group that has no live worker. `--watch` follows the registry's join,
//! leave and master events, one line each.

use super::output::{
    node_event_json, node_json, print_json, print_table, short_time, table, Format,
};
use super::{Cli, CliError};
use crate::client::Client;
use crate::model::{NodeEvent, NodeEventKind, NodeView, Role};
use crate::protocol::registry::EventPage;
use crate::registry::RegistryClient;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    /// Only nodes of this role
    #[arg(long, value_name = "ROLE",
          value_parser = PossibleValuesParser::new(["tracker", "worker", "registry"]).map(|s| Role::parse(&s).unwrap_or(Role::Worker)))]
    pub role: Option<Role>,
    /// Only nodes of this group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// Print join, leave and master events as they happen (from the registry, else the tracker)
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// With --watch: start after event SEQ (an earlier event's `seq`) instead of now; 0 replays the history the registry keeps
    #[arg(long, value_name = "SEQ", requires = "watch")]
    pub after: Option<u64>,
}

impl NodesArgs {
    fn wants(&self, role: Role, group: &str) -> bool {
        self.role.is_none_or(|r| r == role) && self.group.as_deref().is_none_or(|g| g == group)
    }
}

/// How long the count of waiting jobs may take before it is left out.
const WAITING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one watch call waits for an event.
const WATCH_WAIT: Duration = Duration::from_secs(20);

pub async fn run(cli: &Cli, args: &NodesArgs, format: Format) -> Result<(), CliError> {
    let registry = cli.registry()?;
    if args.watch {
        let source = match registry {
            Some(addr) => {
                Source::Registry(RegistryClient::new(addr, "client").with_security(cli.security()?))
            }
            // A tracker without a registry keeps membership itself.
            None => Source::Tracker(cli.client().await?),
        };
        return watch(&source, args, format).await;
    }
    // Worker groups known to have had workers, whether or not one is live now.
    let (nodes, mut groups, client) = match registry {
        Some(addr) => {
            let security = cli.security()?;
            let members = RegistryClient::new(addr.clone(), "client")
                .with_security(security.clone())
                .list()
                .await?;
            let groups: BTreeSet<String> = members
                .groups
                .iter()
                .filter(|g| g.role == Role::Worker)
                .map(|g| g.group.clone())
                .collect();
            (
                members.nodes,
                groups,
                Client::via_registry(addr, "client").with_security(security),
            )
        }
        None => {
            let client = cli.client().await?;
            (client.nodes().await?, BTreeSet::new(), client)
        }
    };
    let nodes: Vec<NodeView> = nodes
        .into_iter()
        .filter(|n| args.wants(n.role, &n.group))
        .collect();
    if format == Format::Json {
        print_json(&serde_json::Value::Array(
            nodes.iter().map(node_json).collect(),
        ));
    } else {
        print_nodes(&nodes);
    }
    if args.role.is_some_and(|r| r != Role::Worker) {
        return Ok(());
    }
    groups.extend(
        nodes
            .iter()
            .filter(|n| n.role == Role::Worker)
            .map(|n| n.group.clone()),
    );
    let waiting = waiting_jobs(&client).await;
    groups.extend(waiting.keys().cloned());
    let live: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n.role == Role::Worker && n.state == "up")
        .map(|n| n.group.as_str())
        .collect();
    for group in groups
        .iter()
        .filter(|g| !live.contains(g.as_str()) && args.wants(Role::Worker, g))
    {
        let line = match waiting.get(group) {
            Some(1) => format!("group '{group}' has no live worker (1 queued run waits)"),
            Some(n) => format!("group '{group}' has no live worker ({n} queued runs wait)"),
            None => format!("group '{group}' has no live worker"),
        };
        // With -o json, stdout stays one array of nodes; the note goes to stderr.
        match format {
            Format::Json => eprintln!("{line}"),
            Format::Table => println!("{line}"),
        }
    }
    Ok(())
}

fn print_nodes(nodes: &[NodeView]) {
    let mut t = table(&[
        "ID",
        "ROLE",
        "GROUP",
        "ADDRESS",
        "STATE",
        "MASTER",
        "SLOTS USED",
        "SLOTS FREE",
        "VERSION",
        "LAST SEEN",
    ]);
    for n in nodes {
        t.add_row(vec![
            n.id.clone(),
            n.role.to_string(),
            n.group.clone(),
            n.address.clone(),
            n.state.clone(),
            if n.master { "*".into() } else { String::new() },
            n.slots_used.to_string(),
            n.slots_free.to_string(),
            n.version.clone(),
            short_time(n.last_seen),
        ]);
    }
    print_table(&t);
}

/// Queued runs by group, counted by the tracker (every group, however
/// deep its queue); empty when no tracker answers in time (the node list
/// stands on its own).
async fn waiting_jobs(client: &Client) -> BTreeMap<String, u64> {
    let mut waiting = BTreeMap::new();
    if let Ok(Ok(stats)) = tokio::time::timeout(WAITING_TIMEOUT, client.stats(None, 60_000)).await {
        for queue in stats.queues.into_iter().filter(|q| q.runs > 0) {
            waiting.insert(queue.group, queue.runs);
        }
    }
    waiting
}

/// Where membership events come from: a registry, or a tracker that keeps
/// membership itself (standalone, or without a registry).
#[allow(clippy::large_enum_variant)] // one value per command: size does not matter
enum Source {
    Registry(RegistryClient),
    Tracker(Client),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Registry(r) => format!("the registry at {}", r.addr()),
            Source::Tracker(c) => format!("the tracker at {}", c.addrs().join(",")),
        }
    }

    /// The last event's number.
    async fn now(&self) -> Result<u64, CliError> {
        Ok(match self {
            Source::Registry(r) => r.list().await?.seq,
            Source::Tracker(c) => c.watch_nodes(None, Duration::ZERO).await?.last_seq,
        })
    }

    async fn events(&self, after: u64) -> Result<EventPage, (bool, CliError)> {
        match self {
            Source::Registry(r) => r
                .watch(after, WATCH_WAIT)
                .await
                .map_err(|e| (e.is_unavailable(), e.into())),
            Source::Tracker(c) => c
                .watch_nodes(Some(after), WATCH_WAIT)
                .await
                .map_err(|e| (crate::spool::is_unavailable(&e), e.into())),
        }
    }
}

/// Print events from now on until interrupted; reconnect while the
/// registry is away.
async fn watch(source: &Source, args: &NodesArgs, format: Format) -> Result<(), CliError> {
    let now = source.now().await?;
    let mut cursor = args.after.unwrap_or(now);
    if cursor > now {
        eprintln!("lts: the latest event is {now}; waiting for the events after {cursor}");
    }
    if format == Format::Table {
        println!(
            "{:<20}  {:<6}  {:<8}  {:<12}  {:<30}  {:<21}  DETAIL",
            "TIME", "EVENT", "ROLE", "GROUP", "NODE", "ADDRESS"
        );
    }
    let mut backoff = Duration::from_millis(100);
    let mut away = false;
    loop {
        match source.events(cursor).await {
            Ok(page) => {
                if away {
                    eprintln!("lts: {} answers again", source.name());
                    away = false;
                }
                backoff = Duration::from_millis(100);
                if page.reset {
                    eprintln!(
                        "lts: {} no longer has the events after {cursor}; some may be missing",
                        source.name()
                    );
                    cursor = page.last_seq;
                }
                for event in page
                    .events
                    .iter()
                    .filter(|e| e.seq > cursor && args.wants(e.role, &e.group))
                {
                    print_event(event, format);
                }
                // A cursor ahead of the last event stays: those events are still to come.
                let last = page.events.iter().map(|e| e.seq).max().unwrap_or(0);
                cursor = cursor.max(last);
            }
            Err((true, e)) => {
                if !away {
                    eprintln!("lts: {e}; retrying");
                    away = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err((false, e)) => return Err(e),
        }
    }
}

fn print_event(e: &NodeEvent, format: Format) {
    if format == Format::Json {
        println!("{}", node_event_json(e));
        return;
    }
    let (id, address) = e
        .node
        .as_ref()
        .map_or(("-", "-"), |n| (n.id.as_str(), n.address.as_str()));
    let detail = match e.kind {
        NodeEventKind::Join => e
            .node
            .as_ref()
            .map(|n| {
                format!(
                    "{} slots, version {}",
                    n.slots_free + n.slots_used,
                    n.version
                )
            })
            .unwrap_or_default(),
        NodeEventKind::Leave => e.reason.clone().unwrap_or_default(),
        NodeEventKind::Master => match &e.node {
            Some(_) => format!("epoch {}", e.epoch.unwrap_or(0)),
            None => format!("no live member, epoch {}", e.epoch.unwrap_or(0)),
        },
    };
    println!(
        "{:<20}  {:<6}  {:<8}  {:<12}  {:<30}  {:<21}  {}",
        short_time(e.at),
        e.kind.as_str(),
        e.role.as_str(),
        e.group,
        id,
        address,
        detail
    );
}
