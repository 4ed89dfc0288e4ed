//! `lts nodes`: the tracker and the workers it knows, with their group,
//! address, state, master mark, slots and last heartbeat.

use super::output::{node_json, print_json, print_table, short_time, table, Format};
use super::CliError;
use crate::client::Client;
use crate::model::Role;
use clap::builder::{PossibleValuesParser, TypedValueParser};

#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    /// Only nodes of this role
    #[arg(long, value_name = "ROLE",
          value_parser = PossibleValuesParser::new(["tracker", "worker"]).map(|s| Role::parse(&s).unwrap_or(Role::Worker)))]
    pub role: Option<Role>,
    /// Only nodes of this group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
}

pub async fn run(client: &Client, args: &NodesArgs, format: Format) -> Result<(), CliError> {
    let nodes: Vec<_> = client
        .nodes()
        .await?
        .into_iter()
        .filter(|n| args.role.is_none_or(|r| n.role == r))
        .filter(|n| args.group.as_ref().is_none_or(|g| &n.group == g))
        .collect();
    if format == Format::Json {
        print_json(&serde_json::Value::Array(
            nodes.iter().map(node_json).collect(),
        ));
        return Ok(());
    }
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
    for n in &nodes {
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
    Ok(())
}
