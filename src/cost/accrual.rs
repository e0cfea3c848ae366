//! Accrued cost: the running rate over the hours a tenant ran and the
//! hibernated rate over the hours it spent hibernated, from its creation
//! until now (or its destruction). Pure.

use jiff::Timestamp;

use crate::state::HibernationPeriod;

/// One hibernated stretch; `end` `None` while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// Seconds of `[from, to]` covered by the spans (overlaps counted once).
pub fn hibernated_seconds(from: Timestamp, to: Timestamp, spans: &[Span]) -> f64 {
    let mut clipped: Vec<(Timestamp, Timestamp)> = spans
        .iter()
        .map(|s| (s.start.max(from), s.end.unwrap_or(to).min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    clipped.sort();
    let mut total = 0.0;
    let mut current: Option<(Timestamp, Timestamp)> = None;
    for (a, b) in clipped {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += seconds(ca, cb);
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ca, cb)) = current {
        total += seconds(ca, cb);
    }
    total
}

/// The cost accrued over `[from, to]` at the two hourly rates.
pub fn accrued(
    from: Timestamp,
    to: Timestamp,
    spans: &[Span],
    running_hourly: f64,
    hibernated_hourly: f64,
) -> f64 {
    if to <= from {
        return 0.0;
    }
    let all = seconds(from, to);
    let asleep = hibernated_seconds(from, to, spans);
    ((all - asleep) * running_hourly + asleep * hibernated_hourly) / 3600.0
}

/// The spans of stored periods; one whose times do not parse is left out.
pub fn spans_of(periods: &[HibernationPeriod]) -> Vec<Span> {
    periods
        .iter()
        .filter_map(|p| {
            let start = p.started_at.parse().ok()?;
            let end = match &p.ended_at {
                Some(e) => Some(e.parse().ok()?),
                None => None,
            };
            Some(Span { start, end })
        })
        .collect()
}

fn seconds(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn span(a: &str, b: Option<&str>) -> Span {
        Span {
            start: t(a),
            end: b.map(t),
        }
    }

    #[test]
    fn without_hibernation_every_hour_runs() {
        let c = accrued(
            t("2026-12-01T00:00:00Z"),
            t("2026-12-02T00:00:00Z"),
            &[],
            2.0,
            0.5,
        );
        assert_eq!(c, 48.0);
    }

    #[test]
    fn a_night_hibernated_accrues_at_the_hibernated_rate() {
        // 24 h: 10 h hibernated (20:00–06:00), 14 h running.
        let spans = [span("2026-12-01T20:00:00Z", Some("2026-12-02T06:00:00Z"))];
        let c = accrued(
            t("2026-12-01T12:00:00Z"),
            t("2026-12-02T12:00:00Z"),
            &spans,
            2.0,
            0.5,
        );
        assert_eq!(c, 14.0 * 2.0 + 10.0 * 0.5);
    }

    #[test]
    fn an_open_period_lasts_until_now_and_one_before_creation_is_clipped() {
        let spans = [
            span("2026-11-01T00:00:00Z", Some("2026-12-01T01:00:00Z")),
            span("2026-12-01T03:00:00Z", None),
        ];
        let from = t("2026-12-01T00:00:00Z");
        let to = t("2026-12-01T04:00:00Z");
        assert_eq!(hibernated_seconds(from, to, &spans), 2.0 * 3600.0);
        assert_eq!(accrued(from, to, &spans, 1.0, 0.0), 2.0);
    }

    #[test]
    fn overlapping_periods_count_once() {
        let spans = [
            span("2026-12-01T01:00:00Z", Some("2026-12-01T03:00:00Z")),
            span("2026-12-01T02:00:00Z", Some("2026-12-01T04:00:00Z")),
        ];
        let s = hibernated_seconds(t("2026-12-01T00:00:00Z"), t("2026-12-01T05:00:00Z"), &spans);
        assert_eq!(s, 3.0 * 3600.0);
    }

    #[test]
    fn nothing_accrues_before_creation() {
        assert_eq!(
            accrued(
                t("2026-12-02T00:00:00Z"),
                t("2026-12-01T00:00:00Z"),
                &[],
                1.0,
                1.0
            ),
            0.0
        );
    }

    #[test]
    fn stored_periods_become_spans_and_unreadable_ones_are_left_out() {
        let periods = [
            HibernationPeriod {
                started_at: "2026-12-01T01:00:00Z".into(),
                ended_at: Some("2026-12-01T02:00:00Z".into()),
            },
            HibernationPeriod {
                started_at: "yesterday".into(),
                ended_at: None,
            },
            HibernationPeriod {
                started_at: "2026-12-01T03:00:00Z".into(),
                ended_at: None,
            },
        ];
        let s = spans_of(&periods);
        assert_eq!(
            s,
            vec![
                span("2026-12-01T01:00:00Z", Some("2026-12-01T02:00:00Z")),
                span("2026-12-01T03:00:00Z", None)
            ]
        );
    }
}
