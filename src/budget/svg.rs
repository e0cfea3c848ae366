//! The timeline picture of a run: a self-contained SVG (no external fonts,
//! scripts or styles) with one bar per node on a time axis, the critical
//! path highlighted, failures in red, and the budget drawn as a line.

use std::collections::HashSet;
use std::fmt::Write;

use super::report::{Report, Verdict, fmt_ms};

const WIDTH: u64 = 1000;
const ROW: u64 = 22;
const BAR: u64 = 14;
const TOP: u64 = 94;
const RIGHT_PAD: u64 = 30;
/// Steps between axis ticks, in ms; the first giving at most 10 ticks wins.
const TICK_STEPS: &[u64] = &[
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000,
    900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000,
];

const STYLE: &str = "text{font-family:sans-serif;font-size:12px;fill:#222}\
.title{font-size:16px;font-weight:bold}.sub{fill:#555}\
.bar{fill:#8fb3d9}.bar.critical{fill:#6a3d9a}.bar.failed{fill:#d62728}\
.bar.critical.failed{stroke:#6a3d9a;stroke-width:2}\
.label.critical{font-weight:bold;fill:#6a3d9a}.label.failed{fill:#d62728}\
.grid{stroke:#ddd;stroke-width:1}.axis{stroke:#888;stroke-width:1}\
.tick{font-size:10px;fill:#666}.note{font-size:11px;fill:#888;font-style:italic}\
.budget{stroke:#d62728;stroke-width:2;stroke-dasharray:6 4}\
.budget-label{font-size:11px;fill:#d62728}";

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The run's timeline as a standalone SVG document.
pub fn render(report: &Report) -> String {
    render_as(report, None)
}

/// The timeline of a run still going: `status` (e.g. `running, 5 of 13
/// done, 12s of budget 15m`) stands where the verdict would, and the
/// critical path is told once the run ends.
pub fn render_live(report: &Report, status: &str) -> String {
    render_as(report, Some(status))
}

fn render_as(report: &Report, live: Option<&str>) -> String {
    let nodes = report.nodes_by_start();
    let critical: HashSet<&str> = report.critical_path.iter().map(String::as_str).collect();
    let longest_id = nodes
        .iter()
        .map(|n| n.id.chars().count())
        .max()
        .unwrap_or(0) as u64;
    let x0 = (longest_id * 8 + 24).clamp(120, 360);
    let chart = WIDTH - x0 - RIGHT_PAD;
    let axis_ms = nodes
        .iter()
        .filter_map(|n| n.end_ms.or(n.start_ms))
        .chain([report.total_ms])
        .max()
        .unwrap_or(0)
        .max(1);
    let x = |ms: u64| {
        x0 + (u128::from(ms.min(axis_ms)) * u128::from(chart) / u128::from(axis_ms)) as u64
    };
    let rows_bottom = TOP + ROW * nodes.len() as u64;
    let legend_y = rows_bottom + 30;
    let height = legend_y + 24;

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">"#
    );
    let _ = write!(s, "<style>{STYLE}</style>");
    let _ = write!(
        s,
        r##"<rect width="{WIDTH}" height="{height}" fill="#fff"/>"##
    );
    let title = format!(
        "{} {}: {}",
        report.operation,
        report.tenant,
        live.map_or_else(|| report.summary_line(), str::to_string)
    );
    let _ = write!(s, "<title>{}</title>", escape(&title));
    let _ = write!(
        s,
        r#"<text class="title" x="10" y="22">{}</text>"#,
        escape(&title)
    );
    let sub = format!(
        "stack {}, environment {}, run {}, started {}",
        report.stack, report.environment, report.run_id, report.started_at,
    );
    let path = match live {
        Some(_) => "critical path: known when the run ends".to_string(),
        None => report.critical_path_line(),
    };
    for (y, line) in [(42, sub), (60, path)] {
        let _ = write!(
            s,
            r#"<text class="sub" x="10" y="{y}">{}</text>"#,
            escape(&line)
        );
    }

    // Axis: ticks and grid lines.
    let step = TICK_STEPS
        .iter()
        .copied()
        .find(|st| axis_ms / st <= 10)
        .unwrap_or(axis_ms.div_ceil(10));
    let axis_y = TOP - 8;
    let _ = write!(
        s,
        r#"<line class="axis" x1="{x0}" y1="{axis_y}" x2="{}" y2="{axis_y}"/>"#,
        x0 + chart
    );
    let mut t = 0;
    while t <= axis_ms {
        let tx = x(t);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{tx}" y1="{axis_y}" x2="{tx}" y2="{rows_bottom}"/><text class="tick" x="{tx}" y="{}" text-anchor="middle">{}</text>"#,
            axis_y - 4,
            fmt_ms(t)
        );
        t += step;
    }

    // One row per node.
    for (i, n) in nodes.iter().enumerate() {
        let y = TOP + ROW * i as u64;
        let mut class = String::new();
        if critical.contains(n.id.as_str()) {
            class.push_str(" critical");
        }
        if n.status == "failed" {
            class.push_str(" failed");
        }
        let _ = write!(
            s,
            r#"<text class="label{class}" x="{}" y="{}" text-anchor="end">{}</text>"#,
            x0 - 8,
            y + BAR - 2,
            escape(&n.id)
        );
        match (n.start_ms, n.end_ms.or(n.start_ms.map(|_| report.total_ms))) {
            (Some(start), Some(end)) => {
                let (bx, ex) = (x(start), x(end.max(start)));
                let tip = format!(
                    "{} ({}): {} from {} to {}, expected {}",
                    n.id,
                    n.kind,
                    n.status,
                    fmt_ms(start),
                    fmt_ms(end),
                    fmt_ms(n.expected_ms)
                );
                let _ = write!(
                    s,
                    r#"<rect class="bar{class}" x="{bx}" y="{y}" width="{}" height="{BAR}"><title>{}</title></rect>"#,
                    (ex - bx).max(1),
                    escape(&tip)
                );
                let _ = write!(
                    s,
                    r#"<text class="tick" x="{}" y="{}">{}</text>"#,
                    ex + 4,
                    y + BAR - 3,
                    fmt_ms(end.saturating_sub(start))
                );
            }
            _ => {
                let _ = write!(
                    s,
                    r#"<text class="note" x="{}" y="{}">{}</text>"#,
                    x0 + 4,
                    y + BAR - 2,
                    escape(&n.status.replace('_', " "))
                );
            }
        }
    }

    // The budget, when the axis reaches it.
    if report.budget_ms > 0 && report.budget_ms <= axis_ms {
        let bx = x(report.budget_ms);
        let _ = write!(
            s,
            r#"<line class="budget" x1="{bx}" y1="{}" x2="{bx}" y2="{rows_bottom}"/><text class="budget-label" x="{}" y="{}" text-anchor="end">budget {}</text>"#,
            axis_y,
            bx - 4,
            rows_bottom + 14,
            fmt_ms(report.budget_ms)
        );
    }

    // Legend.
    let mut lx = 10;
    for (class, label) in [
        ("bar", "node"),
        ("bar critical", "critical path"),
        ("bar failed", "failed"),
    ] {
        let _ = write!(
            s,
            r#"<rect class="{class} legend" x="{lx}" y="{}" width="14" height="{BAR}"/><text x="{}" y="{}">{label}</text>"#,
            legend_y - 11,
            lx + 20,
            legend_y
        );
        lx += 40 + 8 * label.len() as u64;
    }
    let _ = write!(
        s,
        r#"<line class="budget" x1="{lx}" y1="{}" x2="{lx}" y2="{}"/><text x="{}" y="{legend_y}">budget ({})</text>"#,
        legend_y - 12,
        legend_y + 3,
        lx + 8,
        fmt_ms(report.budget_ms)
    );
    if report.verdict == Verdict::Failed {
        let _ = write!(
            s,
            r#"<text class="budget-label" x="{}" y="{legend_y}" text-anchor="end">{} failed</text>"#,
            WIDTH - RIGHT_PAD,
            report.nodes.iter().filter(|n| n.status == "failed").count()
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::report::tests::{node, sample};

    /// Checks that tags balance and every `&` starts an entity: enough to
    /// catch broken markup and unescaped text.
    fn assert_well_formed(svg: &str) {
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            assert!(!text.contains('>'), "stray '>' in text: {text}");
            let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
            let tag = &rest[lt + 1..gt];
            assert!(!tag.contains('<'), "'<' inside tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().unwrap().to_string());
            }
            rest = &rest[gt + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        for (i, _) in svg.match_indices('&') {
            let ent = &svg[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bare '&' at {}",
                &svg[i..(i + 12).min(svg.len())]
            );
        }
    }

    #[test]
    fn timeline_is_a_well_formed_svg_with_every_node() {
        let svg = render(&sample());
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_well_formed(&svg);
        for id in ["db", "app", "logs", "later"] {
            assert!(svg.contains(&format!(">{id}</text>")), "{id} missing");
        }
        assert!(svg.contains("within budget"));
        assert!(
            !svg.contains("http://") || svg.matches("http://").count() == 1,
            "only the xmlns"
        );
    }

    #[test]
    fn critical_nodes_carry_the_highlight_class_and_others_do_not() {
        let svg = render(&sample());
        assert!(svg.contains(r#"<text class="label critical" "#));
        for id in ["db", "app"] {
            let label = svg.find(&format!(">{id}</text>")).unwrap();
            let start = svg[..label].rfind("<text").unwrap();
            assert!(
                svg[start..label].contains("critical"),
                "{id} not highlighted"
            );
        }
        let label = svg.find(">logs</text>").unwrap();
        let start = svg[..label].rfind("<text").unwrap();
        assert!(!svg[start..label].contains("critical"));
        assert_eq!(svg.matches(r#"<rect class="bar critical" x"#).count(), 2);
    }

    #[test]
    fn failed_nodes_are_red_and_budget_line_shows_when_on_the_axis() {
        let mut r = sample();
        r.nodes
            .push(node("broken", Some(2_000), Some(3_000), "failed"));
        r.verdict = Verdict::Failed;
        let svg = render(&r);
        assert_eq!(svg.matches(r#"<rect class="bar failed" x"#).count(), 1);
        // total 6m03s < budget 15m: no budget line on the axis (legend only).
        assert_eq!(svg.matches(r#"<line class="budget""#).count(), 1);
        r.total_ms = 1_000_000;
        let svg = render(&r);
        assert_eq!(svg.matches(r#"<line class="budget""#).count(), 2);
        assert!(svg.contains("budget 15m</text>"));
    }

    #[test]
    fn labels_are_xml_escaped() {
        let mut r = sample();
        r.tenant = "a&b<c>".into();
        r.nodes[0].id = "x<y>&\"z'".into();
        let svg = render(&r);
        assert_well_formed(&svg);
        assert!(svg.contains("a&amp;b&lt;c&gt;"));
        assert!(svg.contains("x&lt;y&gt;&amp;&quot;z&apos;"));
    }

    #[test]
    fn axis_ticks_stay_few_and_labelled() {
        let svg = render(&sample());
        let ticks = svg.matches(r#"<line class="grid""#).count();
        assert!((3..=11).contains(&ticks), "{ticks} ticks");
        assert!(svg.contains(">0s</text>") && svg.contains(">1m</text>"));
    }
}
