//! The installation's DNS domain through the CLI, against a private moto:
//! a stack that needs `${envctl.domain}` without one, and one whose
//! certificate would be for a reserved name (RFC 2606/6761), both exit 2
//! with the file, line and fix, and create nothing.

#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Output, Stdio};

use support::{Moto, repo_root};

fn envctl(moto: &Moto, dir: &std::path::Path, domain: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
    c.args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("ENVCTL_STATE", dir.join("state.sqlite"))
        .env("ENVCTL_VALUES_BUCKET", "envctl-values-dns")
        .stdin(Stdio::null());
    if let Some(d) = domain {
        c.env("ENVCTL_DOMAIN", d);
    }
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    c.output().expect("run envctl")
}

/// Hosted zones and certificates in moto, by an independent look.
async fn zones_and_certificates(moto: &Moto) -> (usize, usize) {
    let config = moto.sdk_config();
    let zones = aws_sdk_route53::Client::new(&config)
        .list_hosted_zones()
        .send()
        .await
        .unwrap()
        .hosted_zones()
        .len();
    let certs = aws_sdk_acm::Client::new(&config)
        .list_certificates()
        .send()
        .await
        .unwrap()
        .certificate_summary_list()
        .len();
    (zones, certs)
}

const RESERVED_STACK: &str = "\
stack: dns-reserved
resources:
  - id: zone
    kind: aws.route53.zone
    properties:
      subdomain_of: example.test
  - id: certificate
    kind: aws.acm.certificate
    properties:
      domain: ${zone.name}
      zone_id: ${zone.zone_id}
";

#[tokio::test]
async fn a_certificate_under_a_reserved_domain_exits_2_at_the_zones_line_and_creates_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("reserved.yaml");
    std::fs::write(&stack, RESERVED_STACK).unwrap();
    let out = envctl(
        &moto,
        dir.path(),
        None,
        &[
            "create",
            "tenant",
            "acme",
            "--stack",
            stack.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:6: resource 'zone': property 'subdomain_of': 'example.test' cannot get a public certificate",
            stack.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("RFC 6761") && err.contains("ENVCTL_DOMAIN"),
        "{err}"
    );
    // A literal reserved name on the certificate itself, likewise.
    let literal = RESERVED_STACK
        .replace("subdomain_of: example.test", "subdomain_of: envctl-e2e.net")
        .replace("domain: ${zone.name}", "domain: shop.example.com");
    std::fs::write(&stack, literal).unwrap();
    let out = envctl(
        &moto,
        dir.path(),
        None,
        &[
            "create",
            "tenant",
            "acme",
            "--stack",
            stack.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":10: resource 'certificate': property 'domain': 'shop.example.com' cannot get a public certificate"),
        "{err}"
    );
    assert_eq!(
        zones_and_certificates(&moto).await,
        (0, 0),
        "nothing was created"
    );
}

#[tokio::test]
async fn the_default_stack_without_a_domain_exits_2_naming_envctl_domain() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = envctl(
        &moto,
        dir.path(),
        None,
        &["create", "tenant", "acme", "--stack", "stacks/tenant.yaml"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stacks/tenant.yaml:")
            && err.contains("resource 'zone': property 'subdomain_of': ${envctl.domain} needs")
            && err.contains("set ENVCTL_DOMAIN (or --domain)"),
        "{err}"
    );
    // A reserved domain given as the setting is refused the same way.
    let out = envctl(
        &moto,
        dir.path(),
        Some("example.com"),
        &["plan", "tenant", "acme", "--stack", "stacks/tenant.yaml"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("'example.com' cannot get a public certificate"),
        "{err}"
    );
    // With a domain that is not reserved the stack loads and plans (and
    // touches nothing).
    let out = envctl(
        &moto,
        dir.path(),
        None,
        &[
            "--domain",
            "envctl-e2e.net",
            "plan",
            "tenant",
            "acme",
            "--stack",
            "stacks/tenant.yaml",
            "--skip-preflight",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        zones_and_certificates(&moto).await,
        (0, 0),
        "nothing was created"
    );
}
