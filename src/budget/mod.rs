//! The time budget: expected durations per kind, the ETA over the remaining
//! critical path, overrun detection, and the run report (table, JSON, SVG).

pub mod eta;
pub mod expected;
pub mod report;
pub mod svg;

pub use eta::{BudgetStatus, NodeProgress};
pub use expected::ExpectedDurations;
pub use report::{NodeTiming, Report, Verdict, actual_critical_path, fmt_duration, fmt_ms};
