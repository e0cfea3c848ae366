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

/// A certificate ACM marks FAILED (forced through the realism proxy, rule 3:
/// `acm_fail`) stops the create with ACM's FailureReason and the fix, and a
/// rerun reports it again without requesting another certificate.
#[tokio::test]
async fn a_failed_certificate_is_permanent_with_its_reason_and_never_requested_again() {
    use envctl::aws::AwsClients;
    use envctl::kinds::aws::acm::Certificate;
    use envctl::kinds::aws::route53::zone::Zone;
    use envctl::kinds::{Kind, KindError};
    use support::realism::{Realism, RealismOptions};

    const BASE: &str = "envctl-fail.net";
    let moto = support::kinds::shared_moto();
    let tenant = "dns-failed";
    let zone_name = format!("{tenant}.{BASE}");
    let realism = Realism::start(
        &moto,
        RealismOptions::default().public_zone(BASE).set(
            "acm_fail",
            serde_json::json!({ zone_name.clone(): "CAA_ERROR" }),
        ),
    );
    let w = support::kinds::KindWorld::with_kind_clients("dns", tenant, "dns-values", |_, _| {
        AwsClients::from_config(&realism.sdk_config())
    });
    w.aws
        .route53
        .create_hosted_zone()
        .name(BASE)
        .caller_reference("dns-domain-parent")
        .send()
        .await
        .unwrap();
    let props = |v: serde_json::Value| v.as_object().unwrap().clone();
    let zone = Zone
        .apply(
            &w.cx("zone"),
            &props(serde_json::json!({ "subdomain_of": BASE })),
        )
        .await
        .unwrap();
    let cert_props = props(serde_json::json!({
        "domain": zone.require("name").unwrap(),
        "zone_id": zone.require("zone_id").unwrap(),
    }));
    let requested = || async {
        w.aws
            .acm
            .list_certificates()
            .send()
            .await
            .unwrap()
            .certificate_summary_list()
            .iter()
            .filter(|c| c.domain_name() == Some(zone_name.as_str()))
            .count()
    };
    // Apply, then readiness, until ACM's verdict is in: FAILED, permanent.
    let err = match Certificate.apply(&w.cx("certificate"), &cert_props).await {
        Err(e) => e,
        Ok(out) => loop {
            match Certificate.ready(&w.cx("certificate"), &out).await {
                Err(e) => break e,
                Ok(r) => assert!(
                    matches!(r, envctl::kinds::Readiness::Pending(_)),
                    "a forced failure never becomes ready"
                ),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        },
    };
    let KindError::Permanent(m) = &err else {
        panic!("a FAILED certificate must be permanent: {err:?}");
    };
    assert!(
        m.contains("ACM's reason is CAA_ERROR") && m.contains("CAA record"),
        "{m}"
    );
    assert_eq!(requested().await, 1);
    // A rerun reports the same failure and requests nothing new.
    let again = Certificate
        .apply(&w.cx("certificate"), &cert_props)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("CAA_ERROR"), "{again}");
    assert_eq!(requested().await, 1, "no storm of failed certificates");
}

/// Through the realism proxy, which issues a certificate only when its
/// validation records resolve through a delegation chain from a public zone
/// (rule 3): the zone's own delegation is what makes ACM issue, and the
/// validation records are waited for although they appear only after the
/// request.
#[tokio::test]
async fn the_zones_own_delegation_lets_acm_validate_through_the_realism_layer() {
    use envctl::aws::AwsClients;
    use envctl::kinds::aws::acm::Certificate;
    use envctl::kinds::aws::route53::zone::Zone;
    use envctl::kinds::{Kind, Readiness};
    use support::realism::{Realism, RealismOptions};

    const BASE: &str = "envctl-chain.net";
    let moto = support::kinds::shared_moto();
    let realism = Realism::start(&moto, RealismOptions::default().public_zone(BASE));
    let w =
        support::kinds::KindWorld::with_kind_clients("dns", "dns-chain", "dns-values", |_, _| {
            AwsClients::from_config(&realism.sdk_config())
        });
    w.aws
        .route53
        .create_hosted_zone()
        .name(BASE)
        .caller_reference("dns-domain-chain-parent")
        .send()
        .await
        .unwrap();
    let props = |v: serde_json::Value| v.as_object().unwrap().clone();
    let zone = Zone
        .apply(
            &w.cx("zone"),
            &props(serde_json::json!({ "subdomain_of": BASE })),
        )
        .await
        .unwrap();
    let cx = w.cx("certificate");
    let cert = Certificate
        .apply(
            &cx,
            &props(serde_json::json!({
                "domain": zone.require("name").unwrap(),
                "zone_id": zone.require("zone_id").unwrap(),
            })),
        )
        .await
        .unwrap();
    assert!(!cert.require("validation_records").unwrap().is_empty());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match Certificate.ready(&cx, &cert).await.unwrap() {
            Readiness::Ready => break,
            Readiness::Pending(why) => {
                assert!(why.contains("PENDING_VALIDATION"), "{why}");
                assert!(std::time::Instant::now() < deadline, "never issued: {why}");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // The proxy holds a certificate PENDING_VALIDATION until its records
    // resolve through the chain; it did, with no lame or missing link.
    let stats = realism.stats();
    assert!(realism.stat("acm.pending_validation") >= 1, "{stats:?}");
    assert_eq!(
        realism.stat("acm.lame_delegation") + realism.stat("acm.no_public_zone"),
        0,
        "{stats:?}"
    );
    Certificate.delete(&cx, &cert).await.unwrap();
    Zone.delete(&w.cx("zone"), &zone).await.unwrap();
}
