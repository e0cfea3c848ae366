//! Shows a run's progress: indicatif bars on a terminal ("41/112 ready, 9
//! running, ETA 6m10s, budget 15m: on track"), otherwise one plain line per
//! event, on stderr so that stdout stays data.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;

use super::output::duration;
use crate::engine::Progress;

/// Consumes progress until the channel closes.
pub async fn render(mut rx: UnboundedReceiver<Progress>) {
    let tty = std::io::stderr().is_terminal();
    let origin = Instant::now();
    let bar = tty.then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    });
    let line = |text: String| match &bar {
        Some(pb) => pb.println(text),
        None => eprintln!("[{:>7}] {text}", duration(origin.elapsed())),
    };
    while let Some(p) = rx.recv().await {
        match p {
            Progress::RunStarted {
                operation,
                tenant,
                total,
                budget,
                eta,
            } => {
                if let Some(pb) = &bar {
                    pb.set_length(total as u64);
                }
                line(format!(
                    "{operation} tenant {tenant}: {total} nodes, budget {}, forecast {}",
                    duration(budget),
                    duration(eta)
                ));
            }
            Progress::NodeStarted { id, kind } => {
                if bar.is_none() {
                    line(format!("started   {id} ({kind})"));
                }
            }
            Progress::NodeWaiting { id, reason } => line(format!("waiting   {id}: {reason}")),
            Progress::NodeRetrying { id, attempt, error } => {
                line(format!("retrying  {id} (attempt {}): {error}", attempt + 1))
            }
            Progress::NodeSucceeded { id, kind, elapsed } => {
                if let Some(pb) = &bar {
                    pb.inc(1);
                }
                line(format!("ready     {id} ({kind}) in {}", duration(elapsed)));
            }
            Progress::NodeSkipped { id } => {
                if let Some(pb) = &bar {
                    pb.inc(1);
                }
                line(format!("skipped   {id} (finished by an earlier run)"));
            }
            Progress::NodeFailed { id, error } => line(format!("FAILED    {id}: {error}")),
            Progress::NodeDeleted { id, kind, elapsed } => {
                if let Some(pb) = &bar {
                    pb.inc(1);
                }
                line(format!("deleted   {id} ({kind}) in {}", duration(elapsed)));
            }
            Progress::Status {
                done,
                running,
                total,
                eta,
                budget,
                status,
                ..
            } => {
                let msg = format!(
                    "ready, {running} running, ETA {}, budget {}: {}",
                    duration(eta),
                    duration(budget),
                    status
                );
                match &bar {
                    Some(pb) => {
                        pb.set_position(done as u64);
                        pb.set_message(msg);
                    }
                    None => {
                        // Plain output stays one line per event: status lines
                        // only when something finished.
                        let _ = (done, total);
                    }
                }
            }
            Progress::BudgetWarning { forecast, budget } => line(format!(
                "WARNING   forecast {} exceeds the budget of {}",
                duration(forecast),
                duration(budget)
            )),
            Progress::Cancelling => {
                line("cancelling: letting running nodes finish; rerun to resume".into())
            }
            Progress::RollbackStarted { nodes } => {
                line(format!("rolling back {nodes} nodes started by this run"))
            }
            Progress::Sweep { kind, found } => {
                if found > 0 || bar.is_none() {
                    line(format!("sweep     {kind}: {found} tagged resources left"));
                }
            }
            Progress::SweepSkipped { kind, reason } => line(format!(
                "WARNING   sweep of {kind} skipped, its backend is not configured: {reason}"
            )),
            Progress::RunFinished { verdict, elapsed } => {
                if let Some(pb) = &bar {
                    pb.finish_and_clear();
                }
                line(format!(
                    "finished: {} in {}",
                    verdict.describe(),
                    duration(elapsed)
                ));
            }
        }
    }
}
