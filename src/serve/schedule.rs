//! The reaper, run now (by an operator's request) or on the configured cron
//! schedule; each pass is audited and counted in the metrics.

use std::sync::Arc;

use super::app::{ApiError, App};
use super::config::ReaperSchedule;
use crate::reap::ReapOptions;

/// One pass of the reaper; returns its report as JSON.
pub async fn reap_once(
    app: &App,
    opts: &ReapOptions,
    actor: &str,
) -> Result<serde_json::Value, ApiError> {
    let who = crate::serve::auth::Principal {
        name: actor.into(),
        role: crate::serve::auth::Role::Operator,
    };
    let mode = if opts.dry_run { "dry-run" } else { "live" };
    match crate::reap::reap(app.jobs.engine(), opts).await {
        Ok(report) => {
            notify_reaped(app, &report);
            let counts = [
                ("destroyed", report.destroyed),
                ("would_destroy", report.would_destroy),
                ("refused", report.refused),
                ("failed", report.failed),
                ("busy", report.busy),
                ("protected_skipped", report.protected_skipped),
                ("orphans_found", report.orphans_found),
                ("orphans_destroyed", report.orphans_destroyed),
            ];
            let mut summary = Vec::new();
            for (action, n) in counts {
                app.metrics.reaper_action(action, n as u64);
                if n > 0 {
                    summary.push(format!("{action}={n}"));
                }
            }
            let result = if report.ok() {
                "done"
            } else {
                "refused-or-failed"
            };
            app.audit(
                Some(&who),
                "reap",
                "-",
                result,
                Some(format!("{mode} {}", summary.join(" "))),
            )
            .await;
            serde_json::to_value(&report).map_err(ApiError::internal)
        }
        Err(e) => {
            app.audit(Some(&who), "reap", "-", "failed", Some(e.to_string()))
                .await;
            Err(ApiError::internal(format!("reaper: {e}")))
        }
    }
}

/// Runs the reaper at every occurrence of the schedule, one pass at a time.
pub async fn run_schedule(app: Arc<App>, schedule: ReaperSchedule) {
    let opts = ReapOptions {
        dry_run: false,
        orphans: schedule.orphans,
    };
    loop {
        let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
        let next = match schedule.cron.find_next_occurrence(&now, false) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(schedule = %schedule.expression, error = %e, "reaper schedule has no next time; the scheduled reaper stops");
                return;
            }
        };
        let wait = next
            .timestamp()
            .duration_since(jiff::Timestamp::now())
            .unsigned_abs();
        tracing::info!(next = %next, "next scheduled reaper pass");
        tokio::time::sleep(wait).await;
        if let Err(e) = reap_once(&app, &opts, "schedule").await {
            tracing::error!(error = %e.message, "scheduled reaper pass failed");
        }
    }
}

/// One `tenant.reaped` per expired tenant the pass destroyed.
fn notify_reaped(app: &App, report: &crate::reap::ReapReport) {
    for t in &report.tenants {
        if t.action == crate::reap::Action::Destroyed {
            app.notify(super::notify::Event::Reaped {
                tenant: t.tenant.clone(),
                expires_at: t.expires_at.clone(),
                run_id: t.run_id.clone(),
            });
        }
    }
}
