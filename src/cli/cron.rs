//! `lts cron EXPR`: the next fire times of a cron expression, marking those a
//! DST change moved, or which field is wrong and why. Needs no tracker.

use super::error::exit;
use super::output::{print_json, Format};
use super::CliError;
use crate::model::json::{cron_json, zoned};
use crate::schedule::{local_zone, next_fires, parse_zone, CronExpr};
use chrono::{DateTime, Utc};

#[derive(Debug, clap::Args)]
pub struct CronArgs {
    /// A Quartz expression with seconds (`0 0/1 * * * ?`), 5-field Unix cron, or a macro (`@daily`)
    #[arg(value_name = "EXPR")]
    pub expr: String,
    /// How many fire times
    #[arg(long, short = 'n', value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: u32,
    /// Start after this time [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub from: Option<String>,
    /// The time zone [default: this machine's]
    #[arg(long, value_name = "Area/City")]
    pub tz: Option<String>,
}

pub fn run(args: &CronArgs, format: Format) -> Result<(), CliError> {
    let expr = CronExpr::parse(&args.expr).map_err(|e| {
        CliError::usage(format!(
            "invalid cron expression '{}': {e}",
            crate::model::cut(&args.expr, 80)
        ))
    })?;
    let tz = match &args.tz {
        Some(name) => parse_zone(name).map_err(|e| CliError::usage(format!("--tz: {e}")))?,
        None => local_zone(),
    };
    let from = match &args.from {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                CliError::usage(format!("--from: '{text}' is not an RFC 3339 time ({e})"))
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let fires = next_fires(&expr, &tz, from, args.count as usize);
    if fires.is_empty() {
        return Err(CliError::new(
            exit::USAGE,
            format!(
                "'{}' never fires after {} (check its year and day fields)",
                crate::model::cut(&args.expr, 80),
                from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    let shown = |at: DateTime<Utc>| zoned(at, &tz);
    match format {
        Format::Json => print_json(&cron_json(
            expr.as_str(),
            &tz,
            &fires.iter().map(|f| f.at).collect::<Vec<_>>(),
        )),
        Format::Table => {
            for fire in &fires {
                if fire.moved_by_dst {
                    println!(
                        "{}  (moved by DST: {} does not exist in {})",
                        shown(fire.at),
                        fire.local.format("%Y-%m-%d %H:%M:%S"),
                        tz.name()
                    );
                } else {
                    println!("{}", shown(fire.at));
                }
            }
        }
    }
    Ok(())
}
