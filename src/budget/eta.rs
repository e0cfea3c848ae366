//! The live forecast: the ETA over the remaining critical path and how the
//! forecast stands against the budget. A dependent on a `created` edge waits
//! only for what is left of its dependency's apply part.

use std::fmt;
use std::time::Duration;

use super::report::Verdict;
use crate::graph::{Graph, Weight};

/// What a running node that has overrun its expectation still weighs: it is
/// not done, so it is assumed to need a little more.
pub const OVERRUN_FLOOR: Duration = Duration::from_secs(1);

/// The forecast is "at risk" above this share of the budget (in percent).
pub const AT_RISK_PERCENT: u32 = 90;

/// Where one node stands during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeProgress {
    Done,
    /// Started `elapsed` ago; its apply has not returned yet.
    Running {
        elapsed: Duration,
    },
    /// Started `elapsed` ago; applied (its outputs are known), waiting
    /// until ready.
    Created {
        elapsed: Duration,
    },
    Pending,
}

/// The forecast (elapsed + ETA) against the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStatus {
    /// Forecast within 90% of the budget.
    OnTrack,
    /// Forecast above 90% of the budget, but within it.
    AtRisk,
    /// Forecast beyond the budget.
    Overrun,
}

impl fmt::Display for BudgetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetStatus::OnTrack => "on track",
            BudgetStatus::AtRisk => "at risk",
            BudgetStatus::Overrun => "overrun",
        })
    }
}

/// What a node still weighs on the remaining critical path.
pub fn remaining(progress: NodeProgress, expected: Duration) -> Duration {
    left(progress, Weight::whole(expected)).total
}

/// What is left of a node's weight: of the whole (at least
/// [`OVERRUN_FLOOR`] while it is not done) and of its apply part (nothing
/// once created; while running at most what is left of the whole).
pub fn left(progress: NodeProgress, expected: Weight) -> Weight {
    let after = |part: Duration, elapsed: Duration| match part.checked_sub(elapsed) {
        Some(left) if !left.is_zero() => left,
        _ => OVERRUN_FLOOR,
    };
    match progress {
        NodeProgress::Done => Weight::whole(Duration::ZERO),
        NodeProgress::Pending => expected,
        NodeProgress::Running { elapsed } => {
            let total = after(expected.total, elapsed);
            Weight {
                apply: after(expected.apply, elapsed).min(total),
                total,
            }
        }
        NodeProgress::Created { elapsed } => Weight {
            apply: Duration::ZERO,
            total: after(expected.total, elapsed),
        },
    }
}

/// Time left: the longest path over the nodes not done, a pending node
/// weighing its expected duration, a running one what is left of it (at
/// least [`OVERRUN_FLOOR`]); a `created` edge counts what is left of its
/// dependency's apply part.
pub fn eta(
    graph: &Graph,
    state_of: &dyn Fn(&str) -> NodeProgress,
    expected: &dyn Fn(&str) -> Weight,
) -> Duration {
    graph.critical_length(&|id| left(state_of(id), expected(id)))
}

/// How the forecast `elapsed + eta` stands against `budget`.
pub fn status(elapsed: Duration, eta: Duration, budget: Duration) -> BudgetStatus {
    let forecast = elapsed + eta;
    if forecast > budget {
        BudgetStatus::Overrun
    } else if forecast.as_millis() * 100 > budget.as_millis() * u128::from(AT_RISK_PERCENT) {
        BudgetStatus::AtRisk
    } else {
        BudgetStatus::OnTrack
    }
}

/// The verdict of a finished run: cancellation, then failure, then the
/// total against the budget.
pub fn verdict(total: Duration, budget: Duration, failed: bool, cancelled: bool) -> Verdict {
    if cancelled {
        Verdict::Cancelled
    } else if failed {
        Verdict::Failed
    } else if total > budget {
        Verdict::OverBudget
    } else {
        Verdict::WithinBudget
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::tests::graph;

    /// Weights without an apply part of their own.
    fn whole(f: impl Fn(&str) -> Duration) -> impl Fn(&str) -> Weight {
        move |id| Weight::whole(f(id))
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn eta_is_the_remaining_critical_path() {
        // a -> {b, c} -> d; a done; b running 30s of 60s; c pending 20s; d 10s.
        let g = graph(&["a", "b", "c", "d"], &["a>b", "a>c", "b>d", "c>d"]).unwrap();
        let state = |id: &str| match id {
            "a" => NodeProgress::Done,
            "b" => NodeProgress::Running { elapsed: s(30) },
            _ => NodeProgress::Pending,
        };
        let exp = |id: &str| match id {
            "a" => s(100),
            "b" => s(60),
            "c" => s(20),
            _ => s(10),
        };
        assert_eq!(eta(&g, &state, &whole(exp)), s(40)); // 30 left of b, then d
        let state2 = |id: &str| match id {
            "a" => NodeProgress::Done,
            "b" => NodeProgress::Running { elapsed: s(55) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&g, &state2, &whole(exp)), s(30)); // now c (20) + d (10) is longer
    }

    #[test]
    fn overrun_running_node_still_weighs_the_floor() {
        let g = graph(&["a", "b"], &["a>b"]).unwrap();
        let state = |id: &str| match id {
            "a" => NodeProgress::Running { elapsed: s(90) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&g, &state, &whole(|_| s(60))), OVERRUN_FLOOR + s(60));
    }

    #[test]
    fn all_done_means_no_time_left() {
        let g = graph(&["a", "b"], &["a>b"]).unwrap();
        assert_eq!(
            eta(&g, &|_| NodeProgress::Done, &whole(|_| s(60))),
            Duration::ZERO
        );
    }

    #[test]
    fn a_created_edge_makes_the_eta_shorter_by_the_dependency_ready_part() {
        // lb (10s apply of 200s) -> dns (30s) -> svc (40s), all pending.
        let g = graph(&["lb", "dns", "svc"], &["lb>dns", "dns>svc"]).unwrap();
        let exp = |id: &str| match id {
            "lb" => Weight {
                apply: s(10),
                total: s(200),
            },
            "dns" => Weight::whole(s(30)),
            _ => Weight::whole(s(40)),
        };
        let pending = |_: &str| NodeProgress::Pending;
        assert_eq!(eta(&g, &pending, &exp), s(270));
        let created = g.clone().with_created(&[("lb".into(), "dns".into())]);
        // dns waits for lb's apply only: the path through it is 10 + 30 + 40,
        // and lb's own 200 s is now the longest.
        assert_eq!(eta(&created, &pending, &exp), s(200));
        let shorter = |id: &str| match id {
            "lb" => Weight {
                apply: s(10),
                total: s(50),
            },
            other => exp(other),
        };
        assert_eq!(eta(&g, &pending, &shorter), s(120));
        assert_eq!(
            eta(&created, &pending, &shorter),
            s(120) - s(40),
            "shorter by lb's ready part (50 - 10)"
        );
        // lb applied 5 s ago and waiting until ready: dns may start now.
        let applied = |id: &str| match id {
            "lb" => NodeProgress::Created { elapsed: s(5) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&created, &applied, &shorter), s(70));
        assert_eq!(eta(&g, &applied, &shorter), s(45 + 70));
        // lb still applying, 4 s in: 6 s of its apply are left.
        let applying = |id: &str| match id {
            "lb" => NodeProgress::Running { elapsed: s(4) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&created, &applying, &shorter), s(76));
    }

    #[test]
    fn status_compares_the_forecast_to_the_budget() {
        let budget = s(900);
        assert_eq!(status(s(400), s(400), budget), BudgetStatus::OnTrack); // 800 <= 810
        assert_eq!(status(s(400), s(410), budget), BudgetStatus::OnTrack); // 810 = 90%
        assert_eq!(status(s(400), s(411), budget), BudgetStatus::AtRisk);
        assert_eq!(status(s(400), s(500), budget), BudgetStatus::AtRisk); // exactly the budget
        assert_eq!(status(s(400), s(501), budget), BudgetStatus::Overrun);
        assert_eq!(BudgetStatus::AtRisk.to_string(), "at risk");
    }

    #[test]
    fn verdict_prefers_cancelled_then_failed_then_budget() {
        assert_eq!(verdict(s(1), s(10), true, true), Verdict::Cancelled);
        assert_eq!(verdict(s(1), s(10), true, false), Verdict::Failed);
        assert_eq!(verdict(s(11), s(10), false, false), Verdict::OverBudget);
        assert_eq!(verdict(s(10), s(10), false, false), Verdict::WithinBudget);
    }
}
