//! Golden files: the rendered manifests of representative services, with
//! fixed fake values, compared with `integration/blueprint_golden/<svc>.yaml`.
//! `UPDATE_GOLDEN=1 cargo test --lib blueprint` rewrites them.

use std::path::{Path, PathBuf};

use super::{catalog, full_context};
use crate::blueprint::{SecretMode, render};

/// gateway: HPA, Ingress, a secret, depends_on; orders: database, queue and
/// dead-letter queue at the service level, depends_on; web: Ingress and HPA
/// without secrets; i18n: the minimal service.
const GOLDEN: [&str; 4] = ["gateway", "orders", "web", "i18n"];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/blueprint_golden")
}

fn rendered(service: &str) -> String {
    let manifests = render(catalog(), service, &full_context(), SecretMode::Reveal)
        .unwrap_or_else(|e| panic!("{e}"));
    let docs: Vec<String> = manifests.into_iter().map(|m| m.yaml).collect();
    format!(
        "# Rendered by `cargo test --lib blueprint` with fixed fake values: do not edit;\n# UPDATE_GOLDEN=1 cargo test --lib blueprint rewrites it.\n---\n{}",
        docs.join("---\n")
    )
}

#[test]
fn golden_manifests() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for service in GOLDEN {
        let path = golden_dir().join(format!("{service}.yaml"));
        let got = rendered(service);
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run UPDATE_GOLDEN=1 cargo test --lib blueprint to create it",
                path.display()
            )
        });
        if got != want {
            let (n, (g, w)) = got
                .lines()
                .chain(std::iter::repeat("<end>"))
                .zip(want.lines().chain(std::iter::repeat("<end>")))
                .enumerate()
                .find(|(_, (g, w))| g != w)
                .unwrap_or((0, ("?", "?")));
            failures.push(format!(
                "{}:{}: rendered `{g}`, golden has `{w}`",
                path.display(),
                n + 1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "rendered manifests differ from the golden files (if the change is intended: UPDATE_GOLDEN=1 cargo test --lib blueprint, and review the diff):\n{}",
        failures.join("\n")
    );
}

#[test]
fn rendering_is_deterministic() {
    for service in GOLDEN {
        assert_eq!(rendered(service), rendered(service));
    }
}
