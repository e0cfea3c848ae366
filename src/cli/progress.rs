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
        // The bar shows starts and the running totals; plain output has a
        // line for every event but the periodic status.
        let mut show = true;
        match &p {
            Progress::RunStarted { total, .. } => {
                if let Some(pb) = &bar {
                    pb.set_length(*total as u64);
                }
            }
            Progress::NodeStarted { .. } => show = bar.is_none(),
            Progress::NodeSucceeded { .. }
            | Progress::NodeSkipped { .. }
            | Progress::NodeDeleted { .. } => {
                if let Some(pb) = &bar {
                    pb.inc(1);
                }
            }
            Progress::Status {
                done,
                running,
                eta,
                budget,
                status,
                ..
            } => {
                if let Some(pb) = &bar {
                    pb.set_position(*done as u64);
                    pb.set_message(format!(
                        "ready, {running} running, ETA {}, budget {}: {}",
                        duration(*eta),
                        duration(*budget),
                        status
                    ));
                }
            }
            Progress::Sweep { found, .. } => show = *found > 0 || bar.is_none(),
            Progress::RunFinished { .. } => {
                if let Some(pb) = &bar {
                    pb.finish_and_clear();
                }
            }
            _ => {}
        }
        if show && let Some(text) = p.line() {
            line(text);
        }
    }
}
