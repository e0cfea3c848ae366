//! The live forecast: the ETA over the remaining critical path and how the
//! forecast stands against the budget.

use std::fmt;
use std::time::Duration;

use super::report::Verdict;
use crate::graph::Graph;

/// What a running node that has overrun its expectation still weighs: it is
/// not done, so it is assumed to need a little more.
pub const OVERRUN_FLOOR: Duration = Duration::from_secs(1);

/// The forecast is "at risk" above this share of the budget (in percent).
pub const AT_RISK_PERCENT: u32 = 90;

/// Where one node stands during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeProgress {
    Done,
    Running { elapsed: Duration },
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
    match progress {
        NodeProgress::Done => Duration::ZERO,
        NodeProgress::Pending => expected,
        NodeProgress::Running { elapsed } => match expected.checked_sub(elapsed) {
            Some(left) if !left.is_zero() => left,
            _ => OVERRUN_FLOOR,
        },
    }
}

/// Time left: the longest path over the nodes not done, a pending node
/// weighing its expected duration, a running one what is left of it (at
/// least [`OVERRUN_FLOOR`]).
pub fn eta(
    graph: &Graph,
    state_of: &dyn Fn(&str) -> NodeProgress,
    expected: &dyn Fn(&str) -> Duration,
) -> Duration {
    graph.critical_length(&|id| remaining(state_of(id), expected(id)))
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
        assert_eq!(eta(&g, &state, &exp), s(40)); // 30 left of b, then d
        let state2 = |id: &str| match id {
            "a" => NodeProgress::Done,
            "b" => NodeProgress::Running { elapsed: s(55) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&g, &state2, &exp), s(30)); // now c (20) + d (10) is longer
    }

    #[test]
    fn overrun_running_node_still_weighs_the_floor() {
        let g = graph(&["a", "b"], &["a>b"]).unwrap();
        let state = |id: &str| match id {
            "a" => NodeProgress::Running { elapsed: s(90) },
            _ => NodeProgress::Pending,
        };
        assert_eq!(eta(&g, &state, &|_| s(60)), OVERRUN_FLOOR + s(60));
    }

    #[test]
    fn all_done_means_no_time_left() {
        let g = graph(&["a", "b"], &["a>b"]).unwrap();
        assert_eq!(eta(&g, &|_| NodeProgress::Done, &|_| s(60)), Duration::ZERO);
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
