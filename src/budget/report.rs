//! The run report: per-node timings, the critical path, total vs budget, verdict.

use serde::{Deserialize, Serialize};

use crate::graph::Weight;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Finished, and within the budget.
    WithinBudget,
    /// Finished, but took longer than the budget.
    OverBudget,
    /// A node failed.
    Failed,
    /// Stopped by the operator (Ctrl-C).
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeTiming {
    pub id: String,
    pub kind: String,
    /// Milliseconds from the run's start; `None` when the node never started
    /// (or was skipped because an earlier run finished it).
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Milliseconds from the run's start when its apply returned its outputs
    /// (it then waited until ready); `None` when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_ms: Option<u64>,
    /// `succeeded`, `failed`, `skipped`, `not_started`, `deleted`, ...
    pub status: String,
    pub expected_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub tenant: String,
    pub run_id: String,
    /// `create` or `destroy`.
    pub operation: String,
    pub stack: String,
    pub environment: String,
    /// RFC 3339 start time.
    pub started_at: String,
    pub budget_ms: u64,
    pub total_ms: u64,
    pub verdict: Verdict,
    pub nodes: Vec<NodeTiming>,
    /// Node ids along the run's critical path, first to last.
    pub critical_path: Vec<String>,
    pub critical_path_ms: u64,
    /// Failure messages, by node (no secret ever reaches these).
    pub errors: Vec<(String, String)>,
}

/// A duration in milliseconds, compactly: `850ms`, `4.2s`, `42s`, `1m05s`,
/// `15m`, `1h05m`. Truncates rather than rounds, so a value never reads as
/// more than it was.
pub fn fmt_ms(ms: u64) -> String {
    const S: u64 = 1_000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    match ms {
        0 => "0s".into(),
        ms if ms < S => format!("{ms}ms"),
        ms if ms < 10 * S => match (ms / S, ms % S / 100) {
            (s, 0) => format!("{s}s"),
            (s, tenths) => format!("{s}.{tenths}s"),
        },
        ms if ms < M => format!("{}s", ms / S),
        ms if ms < H => match (ms / M, ms % M / S) {
            (m, 0) => format!("{m}m"),
            (m, s) => format!("{m}m{s:02}s"),
        },
        ms => match (ms / H, ms % H / M) {
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m:02}m"),
        },
    }
}

/// [`fmt_ms`] of a [`std::time::Duration`].
pub fn fmt_duration(d: std::time::Duration) -> String {
    fmt_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl NodeTiming {
    /// `end - start`, when the node ran.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.end_ms?.saturating_sub(self.start_ms?))
    }

    /// What it weighed in the run: its duration, and the part of it until
    /// apply returned (the whole duration when that was not recorded).
    fn actual_weight(&self) -> Weight {
        let ms = std::time::Duration::from_millis;
        let total = self.duration_ms().unwrap_or(0);
        let apply = match (self.start_ms, self.applied_ms) {
            (Some(start), Some(applied)) => applied.saturating_sub(start).min(total),
            _ => total,
        };
        Weight {
            apply: ms(apply),
            total: ms(total),
        }
    }
}

impl Verdict {
    /// How the verdict reads in a sentence: `within budget`, `failed`, ...
    pub fn describe(&self) -> &'static str {
        match self {
            Verdict::WithinBudget => "within budget",
            Verdict::OverBudget => "over budget",
            Verdict::Failed => "failed",
            Verdict::Cancelled => "cancelled",
        }
    }
}

/// The critical path of a finished run from actual durations (`end - start`
/// of each node; a node without both times weighs 0): the chain of
/// dependencies that really bounded the run, and its length in ms. Across a
/// `created` edge only the dependency's apply part (`applied - start`)
/// counts, as its dependent did not wait for the rest. Nodes of `nodes` that
/// are not in `graph` are ignored.
pub fn actual_critical_path(
    graph: &crate::graph::Graph,
    nodes: &[NodeTiming],
) -> (Vec<String>, u64) {
    use std::time::Duration;
    let weights: std::collections::HashMap<&str, Weight> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.actual_weight()))
        .collect();
    let (path, len) = graph.critical_path_split(&|id| {
        weights
            .get(id)
            .copied()
            .unwrap_or(Weight::whole(Duration::ZERO))
    });
    (path, u64::try_from(len.as_millis()).unwrap_or(u64::MAX))
}

impl Report {
    /// Nodes in the order of a timeline: by start time, never-started last,
    /// otherwise as listed.
    pub fn nodes_by_start(&self) -> Vec<&NodeTiming> {
        let mut nodes: Vec<&NodeTiming> = self.nodes.iter().collect();
        nodes.sort_by_key(|n| (n.start_ms.is_none(), n.start_ms));
        nodes
    }

    /// The summary line: `total 6m03s of budget 15m: within budget`.
    pub fn summary_line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::OverBudget if self.total_ms > self.budget_ms => {
                format!("over budget by {}", fmt_ms(self.total_ms - self.budget_ms))
            }
            v => v.describe().to_string(),
        };
        format!(
            "total {} of budget {}: {verdict}",
            fmt_ms(self.total_ms),
            fmt_ms(self.budget_ms)
        )
    }

    /// The critical path line: `a -> b -> c (4m12s)`.
    pub fn critical_path_line(&self) -> String {
        if self.critical_path.is_empty() {
            if self.nodes.iter().any(|n| n.start_ms.is_some()) {
                // A destroy walks dependents first; no path is computed for it.
                format!("{} nodes, no critical path recorded", self.nodes.len())
            } else {
                "critical path: none (nothing ran)".into()
            }
        } else {
            format!(
                "critical path: {} ({})",
                self.critical_path.join(" -> "),
                fmt_ms(self.critical_path_ms)
            )
        }
    }

    /// A human table of the run: one row per node (by start time) with
    /// start, end, duration, expected and status, `*` marking the critical
    /// path; then the critical path, the total against the budget with the
    /// verdict, and the errors.
    pub fn render_text(&self) -> String {
        let critical: std::collections::HashSet<&str> =
            self.critical_path.iter().map(String::as_str).collect();
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), fmt_ms);
        let header = [
            "", "NODE", "KIND", "START", "END", "DURATION", "EXPECTED", "STATUS",
        ];
        let mut rows: Vec<[String; 8]> = vec![header.map(String::from)];
        for n in self.nodes_by_start() {
            rows.push([
                if critical.contains(n.id.as_str()) {
                    "*"
                } else {
                    ""
                }
                .into(),
                n.id.clone(),
                n.kind.clone(),
                opt(n.start_ms),
                opt(n.end_ms),
                opt(n.duration_ms()),
                fmt_ms(n.expected_ms),
                n.status.clone(),
            ]);
        }
        let mut width = [0usize; 8];
        for row in &rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = format!(
            "{} {} (stack {}, environment {}), run {}, started {}\n\n",
            self.operation, self.tenant, self.stack, self.environment, self.run_id, self.started_at
        );
        for row in &rows {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(width).enumerate() {
                // Names left-aligned, numbers right-aligned, status last.
                let cell = match i {
                    0..=2 => format!("{cell:<w$}"),
                    3..=6 => format!("{cell:>w$}"),
                    _ => cell.clone(),
                };
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&cell);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.critical_path_line());
        out.push('\n');
        out.push_str(&self.summary_line());
        out.push('\n');
        if !self.errors.is_empty() {
            out.push_str("errors:\n");
            for (id, msg) in &self.errors {
                out.push_str(&format!("  {id}: {msg}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node(id: &str, start: Option<u64>, end: Option<u64>, status: &str) -> NodeTiming {
        NodeTiming {
            id: id.into(),
            kind: "aws.s3.bucket".into(),
            start_ms: start,
            end_ms: end,
            applied_ms: None,
            status: status.into(),
            expected_ms: 4_000,
        }
    }

    /// A load balancer whose apply returns its DNS name after 30 s and which
    /// is ready after 180 s; its DNS record waits only until it is created
    /// (30 s → 40 s), the app waits for the record (40 s → 100 s). What bounded
    /// the run is the load balancer alone (180 s), not a chain of 250 s that
    /// is longer than the run.
    #[test]
    fn actual_critical_path_counts_only_the_apply_part_across_created_edges() {
        let g =
            crate::graph::tests::graph(&["alb", "record", "app"], &["alb>record", "record>app"])
                .unwrap()
                .with_created(&[("alb".into(), "record".into())]);
        let mut alb = node("alb", Some(0), Some(180_000), "succeeded");
        alb.applied_ms = Some(30_000);
        let nodes = vec![
            alb.clone(),
            node("record", Some(30_000), Some(40_000), "succeeded"),
            node("app", Some(40_000), Some(100_000), "succeeded"),
        ];
        assert_eq!(
            actual_critical_path(&g, &nodes),
            (vec!["alb".to_string()], 180_000)
        );
        // Without the apply time recorded, the edge counts the whole node.
        alb.applied_ms = None;
        let nodes = [vec![alb], nodes[1..].to_vec()].concat();
        assert_eq!(
            actual_critical_path(&g, &nodes),
            (
                vec!["alb".to_string(), "record".to_string(), "app".to_string()],
                250_000
            )
        );
    }

    pub(crate) fn sample() -> Report {
        Report {
            tenant: "acme".into(),
            run_id: "r1".into(),
            operation: "create".into(),
            stack: "tenant".into(),
            environment: "staging".into(),
            started_at: "2026-11-02T10:00:00Z".into(),
            budget_ms: 900_000,
            total_ms: 363_000,
            verdict: Verdict::WithinBudget,
            nodes: vec![
                node("app", Some(252_000), Some(363_000), "succeeded"),
                node("db", Some(0), Some(252_000), "succeeded"),
                node("logs", Some(1_000), Some(1_850), "succeeded"),
                node("later", None, None, "not_started"),
            ],
            critical_path: vec!["db".into(), "app".into()],
            critical_path_ms: 363_000,
            errors: vec![],
        }
    }

    #[test]
    fn durations_print_compactly() {
        let cases = [
            (0, "0s"),
            (850, "850ms"),
            (1_000, "1s"),
            (4_250, "4.2s"),
            (42_999, "42s"),
            (60_000, "1m"),
            (65_000, "1m05s"),
            (252_000, "4m12s"),
            (900_000, "15m"),
            (3_600_000, "1h"),
            (3_900_000, "1h05m"),
        ];
        for (ms, want) in cases {
            assert_eq!(fmt_ms(ms), want, "{ms} ms");
        }
        assert_eq!(fmt_duration(std::time::Duration::from_secs(363)), "6m03s");
    }

    #[test]
    fn text_report_marks_the_critical_path_and_sorts_by_start() {
        let text = sample().render_text();
        let lines: Vec<&str> = text.lines().collect();
        let row = |id: &str| {
            lines
                .iter()
                .position(|l| l.split_whitespace().any(|w| w == id))
                .unwrap_or_else(|| panic!("no row for {id}:\n{text}"))
        };
        assert!(row("db") < row("logs") && row("logs") < row("app") && row("app") < row("later"));
        assert!(lines[row("db")].starts_with('*'), "{text}");
        assert!(lines[row("app")].starts_with('*'), "{text}");
        assert!(!lines[row("logs")].starts_with('*'), "{text}");
        assert!(lines[row("db")].contains("4m12s"), "{text}");
        assert!(lines[row("logs")].contains("850ms"), "{text}");
        assert!(text.contains("critical path: db -> app (6m03s)"), "{text}");
        assert!(
            text.contains("total 6m03s of budget 15m: within budget"),
            "{text}"
        );
    }

    #[test]
    fn text_report_states_overrun_and_errors() {
        let mut r = sample();
        r.total_ms = 962_000;
        r.verdict = Verdict::OverBudget;
        r.errors = vec![("db".into(), "AccessDenied".into())];
        let text = r.render_text();
        assert!(
            text.contains("total 16m02s of budget 15m: over budget by 1m02s"),
            "{text}"
        );
        assert!(text.contains("errors:\n  db: AccessDenied"), "{text}");
    }

    #[test]
    fn actual_critical_path_follows_real_durations() {
        let g =
            crate::graph::tests::graph(&["db", "logs", "app", "later"], &["db>app", "logs>app"])
                .unwrap();
        // db took 252s, logs 0.85s, app 111s; "later" never ran.
        let (path, ms) = actual_critical_path(&g, &sample().nodes);
        assert_eq!(path, vec!["db", "app"]);
        assert_eq!(ms, 363_000);
        let mut nodes = sample().nodes;
        nodes[1].end_ms = Some(100); // db now took 0.1s, logs is longer
        assert_eq!(actual_critical_path(&g, &nodes).0, vec!["logs", "app"]);
    }
}
