//! How `lts` prints: tables for people, JSON with stable snake_case names for
//! scripts. The JSON shapes here are SPEC's contract.

use crate::model::Millis;
use comfy_table::{presets::NOTHING, Cell, Color, ContentArrangement, Table};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// An instant for a table: in the viewer's local zone, to the second, with
/// how long ago (or how soon) it is: `2026-01-31 09:30:00 (3m ago)`.
pub fn short_time(ms: Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => format!(
            "{} ({})",
            t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S"),
            relative(ms, crate::model::now_ms())
        ),
        None => ms.to_string(),
    }
}

/// How far `ms` is from `now`, in one unit: "3m ago", "in 2h", "now".
pub fn relative(ms: Millis, now: Millis) -> String {
    let delta = (ms - now) / 1000;
    let secs = delta.unsigned_abs();
    if secs == 0 {
        return "now".into();
    }
    let amount = match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h", secs / 3_600),
        86_400..31_536_000 => format!("{}d", secs / 86_400),
        _ => format!("{}y", secs / 31_536_000),
    };
    if delta < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// The widest a free-text cell (a schedule, a reason, a note) is printed.
pub const WIDE_CELL: usize = 48;

/// A cell of free text, cut with an ellipsis past `max` characters and
/// kept on one line.
pub fn cut_cell(text: &str, max: usize) -> String {
    crate::model::cut(text, max)
}

/// Whether tables get colour: stdout is a terminal and `NO_COLOR` is unset
/// (or empty), as <https://no-color.org> asks.
pub fn colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// A job state or run outcome as a table cell, coloured by what it means
/// when `colour()`.
pub fn state_cell(state: &str) -> Cell {
    let cell = Cell::new(state);
    if !colour() {
        return cell;
    }
    match state {
        "succeeded" | "up" => cell.fg(Color::Green),
        "failed" | "timed_out" | "lost" | "down" => cell.fg(Color::Red),
        "running" => cell.fg(Color::Cyan),
        "queued" | "retrying" | "waiting" => cell.fg(Color::Yellow),
        "suspended" | "cancelled" | "skipped" => cell.fg(Color::DarkGrey),
        _ => cell,
    }
}

pub use crate::model::json::{
    flow_json, job_detail_json, job_json, log_json, node_event_json, node_json, schedule, time,
};

/// Print one JSON document on a line.
pub fn print_json(value: &Value) {
    println!("{value}");
}

/// A borderless table with a header row, as `kubectl get` prints.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_string()));
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
}

/// Print a table, trimming the padding at line ends.
pub fn print_table(table: &Table) {
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

/// An optional value for a table cell.
pub fn cell<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}
