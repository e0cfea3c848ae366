//! `make bench`: a run's timeline at real AWS durations, and what the budget
//! tracker's ETA says along it. A run through the realism layer at a scale
//! of 1/60 is stretched back (the parts of nodes that wait on a window the
//! layer scales: × 60; each node starting as soon as its dependencies let
//! it); a run at ×1 is taken as measured. The ETA is the
//! tracker's own function (`budget::eta::eta`) over where each node stood at
//! 25, 50 and 75 % of the run, with the tracker's expectations: built in,
//! and learned (`budget::expected::learn`) from the bench's runs before it
//! at real durations, as an installation learns from its own runs.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use envctl::budget::eta::{self, NodeProgress};
use envctl::budget::expected::{claim_key, learn};
use envctl::budget::{ExpectedDurations, Report, fmt_ms};
use envctl::graph::{Graph, Until, Weight};
use envctl::stack::Stack;

/// Which way a run walked.
#[derive(Clone, Copy)]
pub enum Op {
    Create,
    Destroy,
}

/// Which parts of a node of `kind` wait on a window the realism layer
/// scales (integration/realism/README.md, "The rules"), so that at real AWS
/// speed they are their scaled duration stretched back: (the apply part,
/// the wait until ready after it). The other parts are API round trips,
/// which the layer does not scale (stretching them would count a loaded
/// proxy's latency 60 times): they count as measured.
pub fn windowed(kind: &str, op: Op) -> (bool, bool) {
    match op {
        Op::Create => match kind {
            // Rule 1: RDS creating, backing-up; a claim's password reset.
            // Rule 3: ACM validation and issue. Rule 5: Route 53 changes
            // PENDING until INSYNC. All waited for after apply.
            "aws.rds.instance"
            | "aws.acm.certificate"
            | "aws.route53.zone"
            | "aws.route53.record" => (false, true),
            // Rule 2: provisioning, after apply; rule 4: CertificateNotFound,
            // retried inside apply by the listener's create. Rule 7: IAM
            // propagation, retried inside the function's create.
            "aws.elbv2.load_balancer" | "aws.lambda.function" => (true, true),
            _ => (false, false),
        },
        // Rule 1 (RDS deleting), 2 (a deleted load balancer's interfaces
        // keep security groups, subnets and the VPC busy), 5 (Route 53):
        // a delete's wait is all of it.
        Op::Destroy => {
            let w = matches!(
                kind,
                "aws.rds.instance"
                    | "aws.elbv2.load_balancer"
                    | "aws.ec2.network"
                    | "aws.ec2.security_group"
                    | "aws.route53.zone"
                    | "aws.route53.record"
            );
            (w, w)
        }
    }
}

/// Where one node was, in milliseconds from the run's start.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u64,
    /// When its apply returned its outputs (then it waited until ready).
    applied: u64,
    end: u64,
}

/// A run's timeline; nodes that did not run (skipped) are absent.
pub struct Timeline {
    spans: HashMap<String, Span>,
    pub total_ms: u64,
}

impl Timeline {
    /// The run as it was recorded: for a run at ×1.
    pub fn measured(report: &Report) -> Timeline {
        let spans: HashMap<String, Span> = report
            .nodes
            .iter()
            .filter_map(|n| {
                let (start, end) = (n.start_ms?, n.end_ms?);
                let applied = n.applied_ms.unwrap_or(end).clamp(start, end);
                Some((
                    n.id.clone(),
                    Span {
                        start,
                        applied,
                        end,
                    },
                ))
            })
            .collect();
        let total_ms = spans.values().map(|s| s.end).max().unwrap_or(0);
        Timeline { spans, total_ms }
    }

    /// The run at real AWS durations: the [`windowed`] parts of each node
    /// multiplied by `stretch`, the others as measured, each node starting
    /// once its dependencies are ready (or applied, on a `created` edge).
    /// The API calls inside a stretched part are stretched too, and windows
    /// shorter than the layer's 1 s floor were longer than scaled: an
    /// estimate, on the high side for short waits.
    pub fn stretched(graph: &Graph, report: &Report, stretch: f64, op: Op) -> Timeline {
        let measured = Timeline::measured(report);
        let kinds: HashMap<&str, &str> = report
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.kind.as_str()))
            .collect();
        let mut spans: HashMap<String, Span> = HashMap::new();
        for id in graph.topo_order() {
            let Some(m) = measured.spans.get(&id) else {
                continue;
            };
            let (apply, wait) = kinds
                .get(id.as_str())
                .map_or((false, false), |k| windowed(k, op));
            let stretch_if = |yes: bool, ms: u64| {
                if yes {
                    (ms as f64 * stretch) as u64
                } else {
                    ms
                }
            };
            let apply_ms = stretch_if(apply, m.applied - m.start);
            let wait_ms = stretch_if(wait, m.end - m.applied);
            let start = graph
                .dependencies(&id)
                .into_iter()
                .filter_map(|d| {
                    let s = spans.get(d)?;
                    Some(match graph.until(d, &id) {
                        Until::Created => s.applied,
                        Until::Ready => s.end,
                    })
                })
                .max()
                .unwrap_or(0);
            spans.insert(
                id.clone(),
                Span {
                    start,
                    applied: start + apply_ms,
                    end: start + apply_ms + wait_ms,
                },
            );
        }
        let total_ms = spans.values().map(|s| s.end).max().unwrap_or(0);
        Timeline { spans, total_ms }
    }

    /// What the tracker's forecast (elapsed + ETA) was at `percent` % of the
    /// run, with nodes weighing `weight`, and its error against the run's
    /// real length, in percent (positive: it expected more).
    pub fn eta_error(
        &self,
        graph: &Graph,
        weight: &dyn Fn(&str) -> Weight,
        percent: u64,
    ) -> (u64, f64) {
        let at = self.total_ms * percent / 100;
        let state_of = |id: &str| match self.spans.get(id) {
            None => NodeProgress::Done,
            Some(s) if s.end <= at => NodeProgress::Done,
            Some(s) if s.start <= at => {
                let elapsed = Duration::from_millis(at - s.start);
                if s.applied <= at {
                    NodeProgress::Created { elapsed }
                } else {
                    NodeProgress::Running { elapsed }
                }
            }
            Some(_) => NodeProgress::Pending,
        };
        let forecast = at + eta::eta(graph, &state_of, weight).as_millis() as u64;
        let error = (forecast as f64 - self.total_ms as f64) / self.total_ms.max(1) as f64;
        (forecast, error * 100.0)
    }

    /// "at 25 %: 4m10s (+3 %), ..." for 25, 50 and 75 %.
    pub fn eta_line(&self, graph: &Graph, weight: &dyn Fn(&str) -> Weight) -> String {
        [25, 50, 75]
            .iter()
            .map(|&p| {
                let (forecast, error) = self.eta_error(graph, weight, p);
                format!("at {p}%: forecast {} ({error:+.0}%)", fmt_ms(forecast))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The critical path with each node's duration: `database 1m05s ->
    /// svc-users 3.1s`.
    pub fn critical_path_line(&self, graph: &Graph) -> String {
        self.critical_path(graph)
            .iter()
            .map(|id| {
                let s = self.spans[id];
                format!("{id} {}", fmt_ms(s.end - s.start))
            })
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// The nodes whose end is the run's end, walking back along the
    /// dependency that held each one up: the critical path of the timeline.
    pub fn critical_path(&self, graph: &Graph) -> Vec<String> {
        let Some((last, _)) = self.spans.iter().max_by_key(|(_, s)| s.end) else {
            return Vec::new();
        };
        let mut path = vec![last.clone()];
        let mut at = last.clone();
        while let Some(prev) = graph
            .dependencies(&at)
            .into_iter()
            .filter(|d| self.spans.contains_key(*d))
            .max_by_key(|d| {
                let s = self.spans[*d];
                match graph.until(d, &at) {
                    Until::Created => s.applied,
                    Until::Ready => s.end,
                }
            })
        {
            path.push(prev.to_string());
            at = prev.to_string();
        }
        path.reverse();
        path
    }
}

/// Per-kind durations of the bench's runs at real AWS durations, as the
/// tracker records them (a claim apart from its kind's creates).
#[derive(Default)]
pub struct History {
    samples: BTreeMap<String, Vec<Duration>>,
}

impl History {
    /// Records every node of `timeline` that ran; `claimed` took a pool
    /// member.
    pub fn record(&mut self, graph: &Graph, timeline: &Timeline, claimed: &[&str]) {
        for (id, s) in &timeline.spans {
            let kind = graph.kind_of(id);
            let key = if claimed.contains(&id.as_str()) {
                claim_key(kind)
            } else {
                kind.to_string()
            };
            self.samples
                .entry(key)
                .or_default()
                .push(Duration::from_millis(s.end - s.start));
        }
    }

    fn learned(&self) -> BTreeMap<String, Duration> {
        self.samples
            .iter()
            .filter_map(|(k, v)| learn(v).map(|d| (k.clone(), d)))
            .collect()
    }

    /// The tracker's forecast error along `timeline`: with the built-in
    /// expectations, and (once there is a history) with what it learned
    /// from the runs before.
    pub fn eta_lines(
        &self,
        stack: &Stack,
        graph: &Graph,
        timeline: &Timeline,
        claimed: &[&str],
    ) -> String {
        let mut lines = Vec::new();
        for (how, learned) in [("built-in", BTreeMap::new()), ("learned", self.learned())] {
            if how == "learned" && learned.is_empty() {
                continue;
            }
            let expected = ExpectedDurations::new(&stack.expected, &learned);
            let weight = |id: &str| expected.node_weight(graph.kind_of(id), claimed.contains(&id));
            lines.push(format!(
                "{how} expectations: {}",
                timeline.eta_line(graph, &weight)
            ));
        }
        lines.join("; ")
    }
}
