//! How `lts` prints: tables for people, JSON with stable snake_case names for
//! scripts. The JSON shapes here are SPEC's contract.

use crate::model::Millis;
use comfy_table::{presets::NOTHING, ContentArrangement, Table};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// An instant for a table: UTC to the second.
pub fn short_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub use crate::model::json::{
    job_detail_json, job_json, log_json, node_event_json, node_json, schedule, time,
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
