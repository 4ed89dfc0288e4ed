//! `lts alerts [--group G] [--follow]` (alerts raised, with each delivery
//! attempt) and `lts alert list | add | rm | test` (the rules). Each is one
//! call to the tracker; raising and delivering happen there.

use super::error::exit;
use super::output::{cut_cell, print_json, print_table, short_time, table, Format};
use super::CliError;
use crate::client::Client;
use crate::model::alert::DEFAULT_SILENCE_MS;
use crate::model::{cut, format_duration, Alert, AlertQuery, AlertRule, Condition};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// Only alerts of this worker group
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// How many of the newest to show
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// Keep printing alerts as they are raised, folded, resolved or delivered (one JSON object a line with -o json)
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, clap::Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    pub command: AlertCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertCommand {
    /// List the alert rules
    List,
    /// Add a rule: raise an alert when COND holds, and deliver it to TARGET
    Add(AddArgs),
    /// Remove a rule (its alerts stay)
    Rm {
        /// The rule's name
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Raise a test alert for a rule and show how its delivery went
    Test {
        /// The rule's name
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The rule's name
    #[arg(value_name = "NAME")]
    pub name: String,
    /// failed | timed_out | lost | skipped | failures>=N/DUR | no-worker | queue-age>DUR | fire-lag>DUR
    #[arg(long, value_name = "COND", value_parser = Condition::parse)]
    pub when: Condition,
    /// Only this worker group [default: every group, each on its own]
    #[arg(long, short = 'g', value_name = "G")]
    pub group: Option<String>,
    /// The condition must hold this long before the alert is raised (states only)
    #[arg(long = "for", value_name = "DUR", value_parser = crate::jobline::parse_dur)]
    pub for_: Option<Duration>,
    /// The same alert raised again within this is folded into the open one [default: 5m]
    #[arg(long, value_name = "DUR", value_parser = crate::jobline::parse_dur)]
    pub silence: Option<Duration>,
    /// Where alerts go: https://.., http://.. (a POST of the alert JSON) or cmd:PATH (the JSON on stdin)
    #[arg(long, value_name = "TARGET")]
    pub to: String,
    /// A file whose text is the webhook's body, with {{message}}, {{text}}, {{group}}, .. filled in
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Replace a rule of the same name
    #[arg(long)]
    pub replace: bool,
}

/// How long `lts alert test` waits for the first delivery attempt.
const TEST_WAIT: Duration = Duration::from_secs(20);
/// How long one follow request waits.
const FOLLOW_WAIT: Duration = Duration::from_secs(20);

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

pub async fn rule(client: &Client, args: &AlertArgs, format: Format) -> Result<(), CliError> {
    match &args.command {
        AlertCommand::List => list(client, format).await,
        AlertCommand::Add(add) => add_rule(client, add, format).await,
        AlertCommand::Rm { name } => {
            client.remove_alert_rule(name.clone()).await?;
            match format {
                Format::Json => print_json(&serde_json::json!({"removed": name})),
                Format::Table => eprintln!("removed alert rule {name}"),
            }
            Ok(())
        }
        AlertCommand::Test { name } => test(client, name, format).await,
    }
}

async fn add_rule(client: &Client, args: &AddArgs, format: Format) -> Result<(), CliError> {
    let template = match &args.template {
        Some(path) => {
            let shown = cut(&path.display().to_string(), 120);
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("--template '{shown}': {e}")))?;
            Some(text)
        }
        None => None,
    };
    let rule = AlertRule {
        name: args.name.clone(),
        when: args.when,
        group: args.group.clone(),
        for_ms: args.for_.map(millis).unwrap_or(0),
        silence_ms: args.silence.map(millis).unwrap_or(DEFAULT_SILENCE_MS),
        to: args.to.clone(),
        template,
    };
    rule.validate().map_err(CliError::usage)?;
    let replaced = client.add_alert_rule(rule.clone(), args.replace).await?;
    match format {
        Format::Json => print_json(&rule.json()),
        Format::Table => eprintln!(
            "{} alert rule {}: when {}{} → {}",
            if replaced { "replaced" } else { "added" },
            rule.name,
            rule.when,
            rule.group
                .as_ref()
                .map(|g| format!(" in group {g}"))
                .unwrap_or_default(),
            cut(&rule.to, 80)
        ),
    }
    Ok(())
}

async fn list(client: &Client, format: Format) -> Result<(), CliError> {
    let rules = client.alert_rules().await?;
    if format == Format::Json {
        print_json(&serde_json::Value::Array(
            rules.iter().map(AlertRule::json).collect(),
        ));
        return Ok(());
    }
    if rules.is_empty() {
        eprintln!("no alert rules (add one with lts alert add NAME --when COND --to TARGET)");
        return Ok(());
    }
    let mut t = table(&["NAME", "WHEN", "GROUP", "FOR", "SILENCE", "TO", "TEMPLATE"]);
    for r in &rules {
        t.add_row(vec![
            r.name.clone(),
            r.when.to_string(),
            r.group.clone().unwrap_or_else(|| "*".into()),
            format_duration(Duration::from_millis(r.for_ms)),
            format_duration(Duration::from_millis(r.silence_ms)),
            cut_cell(&r.to, 60),
            if r.template.is_some() { "yes" } else { "-" }.into(),
        ]);
    }
    print_table(&t);
    Ok(())
}

async fn test(client: &Client, name: &str, format: Format) -> Result<(), CliError> {
    let alert = client.test_alert(name.to_string(), TEST_WAIT).await?;
    if format == Format::Json {
        print_json(&alert.json());
    }
    match alert.deliveries.last() {
        Some(d) if d.ok => {
            if format == Format::Table {
                eprintln!(
                    "test alert {} delivered to {}",
                    alert.id,
                    cut(&d.target, 80)
                );
            }
            Ok(())
        }
        Some(d) => Err(CliError::new(
            exit::FAILED,
            format!(
                "test alert {} was not delivered to {}: {} (retrying; see lts alerts)",
                alert.id,
                cut(&d.target, 80),
                d.error.as_deref().unwrap_or("failed")
            ),
        )),
        None => Err(CliError::new(
            exit::FAILED,
            format!(
                "test alert {} raised, but no delivery was attempted within {}s \
                 (is a tracker leading?); see lts alerts",
                alert.id,
                TEST_WAIT.as_secs()
            ),
        )),
    }
}

/// How the latest delivery went, in a few words.
fn delivery_cell(a: &Alert) -> String {
    let last = a.deliveries.last();
    let failures = a.deliveries.iter().rev().take_while(|d| !d.ok).count();
    match (last, a.next_attempt_at) {
        (Some(d), None) if d.ok => format!("sent {}", short_time(d.at)),
        (Some(d), Some(_)) if d.ok => format!("sent {}; more folded, told later", short_time(d.at)),
        (Some(d), next) => format!(
            "{} failed ({failures}): {}{}",
            if next.is_some() {
                "retrying,"
            } else {
                "gave up,"
            },
            d.error.as_deref().unwrap_or("?"),
            next.map(|n| format!("; next {}", short_time(n)))
                .unwrap_or_default()
        ),
        (None, Some(_)) => "pending".into(),
        (None, None) => "-".into(),
    }
}

fn alert_row(a: &Alert) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.rule.clone().unwrap_or_else(|| "(job)".into()),
        a.group.clone().unwrap_or_else(|| "-".into()),
        a.condition.clone(),
        short_time(a.raised_at),
        match (a.state, a.resolved_at) {
            (_, Some(at)) => short_time(at),
            (true, None) => "firing".into(),
            (false, None) => "-".into(),
        },
        a.folded.to_string(),
        cut_cell(&delivery_cell(a), 60),
        cut_cell(&a.message, 80),
    ]
}

const HEADER: [&str; 9] = [
    "ID",
    "RULE",
    "GROUP",
    "CONDITION",
    "RAISED",
    "RESOLVED",
    "FOLDED",
    "DELIVERY",
    "MESSAGE",
];

pub async fn list_alerts(
    client: &Client,
    args: &AlertsArgs,
    format: Format,
) -> Result<(), CliError> {
    let query = AlertQuery {
        group: args.group.clone(),
        after_seq: None,
        limit: args.limit,
    };
    let alerts = client.alerts(query, Duration::ZERO).await?;
    if !args.follow {
        if format == Format::Json {
            print_json(&serde_json::Value::Array(
                alerts.iter().map(Alert::json).collect(),
            ));
            return Ok(());
        }
        if alerts.is_empty() {
            eprintln!("no alerts");
            return Ok(());
        }
        let mut t = table(&HEADER);
        for a in &alerts {
            t.add_row(alert_row(a));
        }
        print_table(&t);
        return Ok(());
    }
    // Follow: what is there (oldest first), then each change as it comes.
    let mut cursor = alerts.iter().map(|a| a.seq).max().unwrap_or(0);
    let mut header = true;
    let mut shown: Vec<Alert> = alerts;
    shown.reverse();
    loop {
        print_follow(&shown, format, header)?;
        header = header && shown.is_empty();
        let query = AlertQuery {
            group: args.group.clone(),
            after_seq: Some(cursor),
            limit: 1_000,
        };
        shown = client.alerts(query, FOLLOW_WAIT).await?;
        if let Some(last) = shown.iter().map(|a| a.seq).max() {
            cursor = last;
        }
    }
}

fn print_follow(alerts: &[Alert], format: Format, header: bool) -> Result<(), CliError> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            for a in alerts {
                writeln!(out, "{}", a.json())?;
            }
        }
        Format::Table => {
            let mut t = table(&HEADER);
            for a in alerts {
                t.add_row(alert_row(a));
            }
            for line in t.lines().skip(usize::from(!header)) {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
