//! The venv of the ecosystem's API tools (`integration/apitools.sh`:
//! openapi-spec-validator, Schemathesis, prometheus_client), installed by
//! `make setup`, and what the suites run with it: the Prometheus project's
//! OpenMetrics parser over a `/metrics` answer (`integration/metrics.py`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::repo_root;

/// The venv's `bin` directory.
pub fn bin() -> PathBuf {
    let out = Command::new(repo_root().join("integration/apitools.sh"))
        .arg("bin")
        .output()
        .expect("run integration/apitools.sh");
    assert!(
        out.status.success(),
        "integration/apitools.sh bin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// One sample of an exposition.
#[derive(Debug, serde::Deserialize)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of `exposition`, parsed by prometheus_client's strict
/// OpenMetrics parser; panics (naming the parser's complaint) when it
/// refuses the text.
pub fn parse_metrics(exposition: &str) -> Vec<Sample> {
    let mut child = Command::new(bin().join("python"))
        .arg(repo_root().join("integration/metrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run integration/metrics.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics: {}\n{exposition}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a sample as JSON"))
        .collect()
}

/// The value of the sample `name` whose labels include `labels`.
pub fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}
