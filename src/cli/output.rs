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
        Format::Json => println!("{}", serde_json::to_string_pretty(value).expect("serializable")),
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

/// `1h02m`, `6m10s`, `4.2s`, `850ms`.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}
