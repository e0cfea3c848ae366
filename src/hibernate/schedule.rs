//! Sleep/wake schedules: a stack's `hibernate:` block or a tenant's own
//! (`envctl hibernate tenant NAME --sleep ... --wake ... --time-zone ...`),
//! parsed and checked once (cron by `croner`, the time zone by `jiff`), and
//! which of sleep or wake falls due between two instants.

use serde::{Deserialize, Serialize};

/// A schedule as written: cron expressions (5 fields, or 6 with seconds)
/// read in `time_zone` (an IANA name; UTC when absent). `wake` may be left
/// out: the tenant then sleeps on schedule and wakes when asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub sleep: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A checked schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub spec: ScheduleSpec,
    sleep: croner::Cron,
    wake: Option<croner::Cron>,
    tz: jiff::tz::TimeZone,
}

/// What falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Sleep,
    Wake,
}

/// A field of a schedule that is wrong: which one, and a sentence with the
/// fix (the caller adds where: a file and line, or a flag).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

fn cron(field: &'static str, text: &str) -> Result<croner::Cron, ScheduleError> {
    text.parse::<croner::Cron>().map_err(|e| ScheduleError {
        field,
        message: format!(
            "'{text}' is not a cron expression ({e}); write one such as \"0 20 * * 1-5\" (20:00 on weekdays)"
        ),
    })
}

impl Schedule {
    pub fn parse(spec: ScheduleSpec) -> Result<Schedule, ScheduleError> {
        let sleep = cron("sleep", &spec.sleep)?;
        let wake = spec.wake.as_deref().map(|w| cron("wake", w)).transpose()?;
        let tz = match spec.time_zone.as_deref() {
            None | Some("UTC") => jiff::tz::TimeZone::UTC,
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| ScheduleError {
                field: "time_zone",
                message: format!(
                    "'{name}' is not a known time zone ({e}); write an IANA name such as Europe/Madrid or America/New_York"
                ),
            })?,
        };
        Ok(Schedule {
            spec,
            sleep,
            wake,
            tz,
        })
    }

    /// The latest of sleep or wake that falls in `(since, until]`, if any.
    pub fn due(&self, since: jiff::Timestamp, until: jiff::Timestamp) -> Option<Due> {
        let from = since.to_zoned(self.tz.clone());
        let next = |c: &croner::Cron| {
            c.find_next_occurrence(&from, false)
                .ok()
                .map(|z| z.timestamp())
                .filter(|t| *t <= until)
        };
        // The latest occurrence of each within the window decides.
        let last = |c: &croner::Cron| {
            let mut at = next(c)?;
            while let Ok(z) = c.find_next_occurrence(&at.to_zoned(self.tz.clone()), false) {
                if z.timestamp() > until {
                    break;
                }
                at = z.timestamp();
            }
            Some(at)
        };
        let sleep = last(&self.sleep);
        let wake = self.wake.as_ref().and_then(last);
        match (sleep, wake) {
            (Some(s), Some(w)) if w > s => Some(Due::Wake),
            (Some(_), _) => Some(Due::Sleep),
            (None, Some(_)) => Some(Due::Wake),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sleep: &str, wake: Option<&str>, tz: Option<&str>) -> ScheduleSpec {
        ScheduleSpec {
            sleep: sleep.into(),
            wake: wake.map(Into::into),
            time_zone: tz.map(Into::into),
        }
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_bad_cron_names_its_field() {
        let e = Schedule::parse(spec("0 25 * * *", None, None)).unwrap_err();
        assert_eq!(e.field, "sleep");
        let e = Schedule::parse(spec("0 20 * * *", Some("nope"), None)).unwrap_err();
        assert_eq!(e.field, "wake");
        assert!(e.message.contains("cron expression"), "{e}");
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let e = Schedule::parse(spec("0 20 * * *", None, Some("Mars/Olympus"))).unwrap_err();
        assert_eq!(e.field, "time_zone");
        assert!(e.message.contains("IANA"), "{e}");
    }

    #[test]
    fn due_reads_the_schedule_in_its_time_zone() {
        // 20:00 in Madrid (winter, UTC+1) is 19:00 UTC.
        let s = Schedule::parse(spec(
            "0 20 * * 1-5",
            Some("0 7 * * 1-5"),
            Some("Europe/Madrid"),
        ))
        .unwrap();
        // Tuesday 2026-01-13.
        assert_eq!(
            s.due(at("2026-01-13T18:58:00Z"), at("2026-01-13T18:59:00Z")),
            None
        );
        assert_eq!(
            s.due(at("2026-01-13T18:59:00Z"), at("2026-01-13T19:00:00Z")),
            Some(Due::Sleep)
        );
        assert_eq!(
            s.due(at("2026-01-14T05:59:00Z"), at("2026-01-14T06:00:00Z")),
            Some(Due::Wake)
        );
        // A window holding both: the later one (wake, next morning) wins.
        assert_eq!(
            s.due(at("2026-01-13T18:00:00Z"), at("2026-01-14T06:30:00Z")),
            Some(Due::Wake)
        );
        // Saturday: nothing.
        assert_eq!(
            s.due(at("2026-01-17T00:00:00Z"), at("2026-01-17T23:00:00Z")),
            None
        );
    }
}
