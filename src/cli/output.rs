//! Output formats for data: a table for people, JSON and YAML for programs.

use clap::ValueEnum;
use comfy_table::{Table, presets::NOTHING};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Yaml,
}

/// Prints `value` as JSON or YAML; for `Table`, prints `table()` instead.
pub fn print<T: serde::Serialize>(format: Format, value: &T, table: impl FnOnce() -> String) {
    match format {
        Format::Table => println!("{}", table()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serializable")
        ),
        Format::Yaml => print!("{}", serde_yaml_ng::to_string(value).expect("serializable")),
    }
}

/// A plain table with a header row.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(NOTHING);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

pub use crate::budget::report::fmt_duration as duration;
