//! `lts flow submit FILE | show ID | cancel ID | list`: workflows, named
//! steps that run after one another. The file is read and checked here
//! (`jobline::parse_flow`); the tracker stores the flow and runs it.

use super::output::{
    cell, flow_json, print_json, print_table, short_time, state_cell, table, Format,
};
use super::CliError;
use crate::client::Client;
use crate::model::{cut, FlowView};
use comfy_table::Cell;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct FlowArgs {
    #[command(subcommand)]
    pub command: FlowCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FlowCommand {
    /// Submit a flow (TOML: name, optional cron and tz, on_failure, [[step]]s) and print its id
    Submit {
        /// The flow file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Draw a flow's graph with each step's state (its latest run)
    Show {
        /// The flow's id
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Cancel the steps of a flow's open run and stop its cron
    Cancel {
        /// The flow's id
        #[arg(value_name = "ID")]
        id: String,
    },
    /// List flows, newest first
    List {
        /// How many of the newest to show
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
}

pub async fn run(client: &Client, args: &FlowArgs, format: Format) -> Result<(), CliError> {
    match &args.command {
        FlowCommand::Submit { file } => {
            let shown = cut(&file.display().to_string(), 120);
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::usage(format!("'{shown}': {e}")))?;
            let spec = crate::jobline::parse_flow(&text)
                .map_err(|e| CliError::usage(format!("'{shown}': {e}")))?;
            let flow = client.flow_submit(spec).await?;
            match format {
                Format::Json => print_json(&flow_json(&flow)),
                Format::Table => println!("{}", flow.id),
            }
            Ok(())
        }
        FlowCommand::Show { id } => {
            let flow = client.flow(id.clone()).await?;
            match format {
                Format::Json => print_json(&flow_json(&flow)),
                Format::Table => draw(&flow),
            }
            Ok(())
        }
        FlowCommand::Cancel { id } => {
            let flow = client.flow_cancel(id.clone()).await?;
            match format {
                Format::Json => print_json(&flow_json(&flow)),
                Format::Table => eprintln!("cancelled flow {} ({})", flow.id, flow.name),
            }
            Ok(())
        }
        FlowCommand::List { limit } => {
            let flows = client.flows(*limit).await?;
            match format {
                Format::Json => print_json(&serde_json::Value::Array(
                    flows.iter().map(flow_json).collect(),
                )),
                Format::Table => {
                    let mut t = table(&["ID", "NAME", "STATE", "CRON", "RUNS", "NEXT"]);
                    for f in &flows {
                        t.add_row(vec![
                            Cell::new(&f.id),
                            Cell::new(cut(&f.name, 40)),
                            state_cell(f.state.as_str()),
                            Cell::new(cell(f.cron.as_deref())),
                            Cell::new(f.runs),
                            Cell::new(cell(f.next_fire.map(short_time))),
                        ]);
                    }
                    print_table(&t);
                }
            }
            Ok(())
        }
    }
}

/// The flow's steps in topological layers, each indented under the layer
/// before it with an arrow, with its state (coloured) and what it runs
/// after.
fn draw(flow: &FlowView) {
    let mut head = format!(
        "flow {} ({})  on_failure={}  state={}",
        flow.name,
        flow.id,
        flow.on_failure.as_str(),
        flow.state.as_str()
    );
    if let Some(cron) = &flow.cron {
        head.push_str(&format!("  cron '{cron}'"));
        if let Some(tz) = &flow.tz {
            head.push_str(&format!(" ({tz})"));
        }
    }
    match flow.run {
        Some(run) => head.push_str(&format!("  run {run}")),
        None => head.push_str("  no run yet"),
    }
    if let Some(next) = flow.next_fire {
        head.push_str(&format!("  next {}", short_time(next)));
    }
    println!("{head}");
    if let Some(note) = &flow.note {
        println!("note: {note}");
    }
    let mut t = table(&["STEP", "STATE", "AFTER", "GROUP", "TASK ID", "NOTE"]);
    for step in &flow.steps {
        let name = if step.layer == 0 {
            step.name.clone()
        } else {
            format!(
                "{}└─▶ {}",
                "    ".repeat(step.layer as usize - 1),
                step.name
            )
        };
        let state = step.state.map(|s| s.as_str()).unwrap_or("-");
        t.add_row(vec![
            Cell::new(name),
            state_cell(state),
            Cell::new(if step.after.is_empty() {
                "-".to_string()
            } else {
                step.after.join(", ")
            }),
            Cell::new(&step.group),
            Cell::new(cell(step.task_id.as_deref())),
            Cell::new(cut(step.note.as_deref().unwrap_or(""), 60)),
        ]);
    }
    print_table(&t);
}
