//! One test per rule of the realism proxy (`integration/realism/`): each talks
//! to moto through the proxy with the AWS SDK and asserts a behaviour plain
//! moto does not have, often checking moto directly to show the difference.
//! Waits poll a condition with a deadline; they never sleep blindly.

mod support;

use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;
use support::Moto;
use support::realism::{Realism, RealismOptions};

use aws_sdk_ec2::types as ec2t;
use aws_sdk_elasticloadbalancingv2::types as elbt;
use aws_sdk_route53::types as r53t;

static MOTO: Mutex<Weak<Moto>> = Mutex::new(Weak::new());

/// One moto for the tests of this binary that run at the same time; each
/// test has its own proxy (own clock and counters).
fn shared_moto() -> Arc<Moto> {
    let mut slot = MOTO.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = slot.upgrade() {
        return m;
    }
    let m = Arc::new(Moto::start());
    *slot = Arc::downgrade(&m);
    m
}

struct World {
    _moto: Arc<Moto>,
    rl: Realism,
    /// Through the proxy, one attempt per call.
    cfg: aws_config::SdkConfig,
    /// Straight to moto.
    direct: aws_config::SdkConfig,
}

impl World {
    fn new(options: RealismOptions) -> World {
        let moto = shared_moto();
        let rl = Realism::start(&moto, options);
        let cfg = rl.sdk_config_no_retry();
        let direct = rl.moto_sdk_config();
        World {
            _moto: moto,
            rl,
            cfg,
            direct,
        }
    }

    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.cfg)
    }
    fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.cfg)
    }
    fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.cfg)
    }
    fn acm(&self) -> aws_sdk_acm::Client {
        aws_sdk_acm::Client::new(&self.cfg)
    }
    fn r53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.cfg)
    }

    /// A VPC with two subnets (us-east-1a/b) and a security group, made
    /// straight in moto so that no rule is involved in the set-up.
    async fn network(&self, octet: u8) -> Net {
        let ec2 = aws_sdk_ec2::Client::new(&self.direct);
        let vpc = ec2
            .create_vpc()
            .cidr_block(format!("10.{octet}.0.0/16"))
            .send()
            .await
            .unwrap()
            .vpc
            .unwrap()
            .vpc_id
            .unwrap();
        let mut subnets = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.{octet}.{i}.0/24"))
                .availability_zone(*az)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet.unwrap().subnet_id.unwrap());
        }
        let sg = ec2
            .create_security_group()
            .group_name(format!("rl-{octet}"))
            .description("realism test")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id
            .unwrap();
        Net { vpc, subnets, sg }
    }
}

struct Net {
    vpc: String,
    subnets: Vec<String>,
    sg: String,
}

/// Polls `f` until it yields a value, failing after `deadline`.
async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The code and message of a call that must fail.
fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    r: Result<T, SdkError<E, R>>,
) -> (String, String) {
    match r {
        Ok(v) => panic!("expected an AWS error, got {v:?}"),
        Err(e) => (
            e.code().unwrap_or_default().to_string(),
            e.message().unwrap_or_default().to_string(),
        ),
    }
}

fn code_of<T, E: ProvideErrorMetadata, R>(r: &Result<T, SdkError<E, R>>) -> Option<String> {
    r.as_ref()
        .err()
        .map(|e| e.code().unwrap_or_default().to_string())
}

const WAIT: Duration = Duration::from_secs(30);

async fn db_status(rds: &aws_sdk_rds::Client, id: &str) -> (String, bool) {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    let db = &out.db_instances()[0];
    (
        db.db_instance_status().unwrap_or_default().to_string(),
        db.endpoint().is_some(),
    )
}

async fn create_db(w: &World, id: &str, net: &Net) {
    w.rds()
        .create_db_subnet_group()
        .db_subnet_group_name(id)
        .db_subnet_group_description("realism test")
        .set_subnet_ids(Some(net.subnets.clone()))
        .send()
        .await
        .unwrap();
    w.rds()
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("envctl")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .db_subnet_group_name(id)
        .vpc_security_group_ids(&net.sg)
        .send()
        .await
        .unwrap();
}

/// Rule 1: creating (no endpoint) -> backing-up -> available.
#[tokio::test(flavor = "multi_thread")]
async fn rds_instance_is_creating_then_backing_up_then_available() {
    let w = World::new(RealismOptions::default());
    let net = w.network(11).await;
    create_db(&w, "rl-life", &net).await;
    assert_eq!(
        db_status(&w.rds(), "rl-life").await,
        ("creating".to_string(), false)
    );
    let direct = aws_sdk_rds::Client::new(&w.direct);
    assert_eq!(db_status(&direct, "rl-life").await.0, "available");
    // Every status the client sees on its way to available, in order.
    let mut seen = vec!["creating".to_string()];
    let start = Instant::now();
    loop {
        let (s, endpoint) = db_status(&w.rds(), "rl-life").await;
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "available" {
            assert!(endpoint, "an available instance has its endpoint");
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "RDS not available within {WAIT:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["creating", "backing-up", "available"]);
    assert!(w.rl.stat("rds.creating") >= 1 && w.rl.stat("rds.backing_up") >= 1);
}

/// Rule 1: a new master password is pending (status
/// `resetting-master-credentials`, `PendingModifiedValues.MasterUserPassword`)
/// for a while after ModifyDBInstance; `settle` lets that time pass at once.
#[tokio::test(flavor = "multi_thread")]
async fn rds_master_password_is_pending_after_modify() {
    let w = World::new(RealismOptions::default().duration("rds_resetting_credentials", 3600.0));
    let net = w.network(13).await;
    create_db(&w, "rl-reset", &net).await;
    w.rl.settle(86_400.0);
    assert_eq!(db_status(&w.rds(), "rl-reset").await.0, "available");
    let pending = |db: &aws_sdk_rds::types::DbInstance| {
        db.pending_modified_values()
            .and_then(|p| p.master_user_password())
            .is_some()
    };
    let modified = w
        .rds()
        .modify_db_instance()
        .db_instance_identifier("rl-reset")
        .master_user_password("another-secret-2")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert!(pending(modified.db_instance().unwrap()), "{modified:?}");
    let described = |w: &World| {
        let rds = w.rds();
        async move {
            let out = rds
                .describe_db_instances()
                .db_instance_identifier("rl-reset")
                .send()
                .await
                .unwrap();
            out.db_instances()[0].clone()
        }
    };
    let db = described(&w).await;
    assert_eq!(
        db.db_instance_status(),
        Some("resetting-master-credentials")
    );
    assert!(pending(&db));
    // Once the window (an hour at x1/60: a minute on the proxy's clock) has
    // passed, it applied.
    w.rl.settle(3_600.0);
    let db = described(&w).await;
    assert_eq!(db.db_instance_status(), Some("available"));
    assert!(!pending(&db));
    assert!(w.rl.stat("rds.resetting_master_credentials") >= 2);
}

/// Rule 1: after DeleteDBInstance, `deleting`, subnet group and security
/// group busy until the window ends.
#[tokio::test(flavor = "multi_thread")]
async fn rds_delete_keeps_subnet_group_and_security_group_busy() {
    let w = World::new(
        RealismOptions::default()
            .duration("rds_creating", 0.0)
            .duration("rds_deleting", 480.0),
    );
    let net = w.network(12).await;
    create_db(&w, "rl-del", &net).await;
    w.rds()
        .delete_db_instance()
        .db_instance_identifier("rl-del")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    assert_eq!(db_status(&w.rds(), "rl-del").await.0, "deleting");
    let gone = aws_sdk_rds::Client::new(&w.direct)
        .describe_db_instances()
        .db_instance_identifier("rl-del")
        .send()
        .await;
    assert_eq!(code_of(&gone).as_deref(), Some("DBInstanceNotFound"));

    let (code, msg) = failure(
        w.rds()
            .delete_db_subnet_group()
            .db_subnet_group_name("rl-del")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidDBSubnetGroupStateFault");
    assert!(msg.contains("rl-del"), "{msg}");
    let (code, msg) = failure(
        w.ec2()
            .delete_security_group()
            .group_id(&net.sg)
            .send()
            .await,
    );
    assert_eq!(code, "DependencyViolation");
    assert_eq!(msg, format!("resource {} has a dependent object", net.sg));
    let enis = w
        .ec2()
        .describe_network_interfaces()
        .filters(
            ec2t::Filter::builder()
                .name("group-id")
                .values(&net.sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        enis.network_interfaces()[0].description(),
        Some("RDSNetworkInterface")
    );

    eventually("subnet group deletable", WAIT, || async {
        let r = w
            .rds()
            .delete_db_subnet_group()
            .db_subnet_group_name("rl-del")
            .send()
            .await;
        r.is_ok().then_some(())
    })
    .await;
    eventually("security group deletable", WAIT, || async {
        let r = w
            .ec2()
            .delete_security_group()
            .group_id(&net.sg)
            .send()
            .await;
        r.is_ok().then_some(())
    })
    .await;
    assert!(w.rl.stat("rds.subnet_group_in_use") >= 1);
    assert!(w.rl.stat("rds.deleting") >= 1);
    assert!(w.rl.stat("eni.dependency_violation") >= 1);
}

async fn create_lb(w: &World, name: &str, net: &Net) -> String {
    w.elb()
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(net.subnets.clone()))
        .security_groups(&net.sg)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string()
}

async fn lb_state(elb: &aws_sdk_elasticloadbalancingv2::Client, arn: &str) -> String {
    let out = elb
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .unwrap();
    out.load_balancers()[0]
        .state()
        .and_then(|s| s.code())
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// Rule 2: State.Code provisioning, then active.
#[tokio::test(flavor = "multi_thread")]
async fn load_balancer_is_provisioning_then_active() {
    let w = World::new(RealismOptions::default());
    let net = w.network(21).await;
    let arn = create_lb(&w, "rl-prov", &net).await;
    assert_eq!(lb_state(&w.elb(), &arn).await, "provisioning");
    let direct = aws_sdk_elasticloadbalancingv2::Client::new(&w.direct);
    assert_eq!(lb_state(&direct, &arn).await, "active");
    eventually("load balancer active", WAIT, || async {
        (lb_state(&w.elb(), &arn).await == "active").then_some(())
    })
    .await;
    assert!(w.rl.stat("elb.provisioning") >= 1);
}

/// Rule 2: a deleted load balancer's interfaces linger; its security group,
/// subnets and VPC answer DependencyViolation until they are released, and
/// DescribeNetworkInterfaces shows them so a client can wait on them.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_load_balancer_interfaces_block_network_deletes() {
    let w = World::new(RealismOptions::default().duration("eni_linger", 480.0));
    let net = w.network(22).await;
    let direct = aws_sdk_ec2::Client::new(&w.direct);
    let igw = direct
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    direct
        .attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap();
    let arn = create_lb(&w, "rl-linger", &net).await;
    w.elb()
        .delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();

    let lb_id = arn.rsplit_once(":loadbalancer/").unwrap().1;
    let described = || async {
        w.ec2()
            .describe_network_interfaces()
            .filters(
                ec2t::Filter::builder()
                    .name("description")
                    .values(format!("ELB {lb_id}"))
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .network_interfaces()
            .to_vec()
    };
    let enis = described().await;
    assert_eq!(enis.len(), 2, "{enis:?}");
    for eni in &enis {
        assert_eq!(eni.status().map(|s| s.as_str()), Some("in-use"));
        assert_eq!(eni.vpc_id(), Some(net.vpc.as_str()));
        assert_eq!(eni.groups()[0].group_id(), Some(net.sg.as_str()));
        assert!(
            net.subnets
                .iter()
                .any(|s| Some(s.as_str()) == eni.subnet_id())
        );
    }

    let (code, msg) = failure(
        w.ec2()
            .delete_security_group()
            .group_id(&net.sg)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), msg),
        (
            "DependencyViolation",
            format!("resource {} has a dependent object", net.sg)
        )
    );
    let (code, msg) = failure(
        w.ec2()
            .delete_subnet()
            .subnet_id(&net.subnets[0])
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), msg),
        (
            "DependencyViolation",
            format!(
                "The subnet '{}' has dependencies and cannot be deleted.",
                net.subnets[0]
            )
        )
    );
    let (code, msg) = failure(
        w.ec2()
            .detach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&net.vpc)
            .send()
            .await,
    );
    assert_eq!(code, "DependencyViolation");
    assert!(msg.contains("mapped public address"), "{msg}");
    let (code, msg) = failure(w.ec2().delete_vpc().vpc_id(&net.vpc).send().await);
    assert_eq!(
        (code.as_str(), msg),
        (
            "DependencyViolation",
            format!(
                "The vpc '{}' has dependencies and cannot be deleted.",
                net.vpc
            )
        )
    );

    eventually("interfaces released", WAIT, || async {
        described().await.is_empty().then_some(())
    })
    .await;
    w.ec2()
        .delete_security_group()
        .group_id(&net.sg)
        .send()
        .await
        .unwrap();
    for s in &net.subnets {
        w.ec2().delete_subnet().subnet_id(s).send().await.unwrap();
    }
    w.ec2()
        .detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap();
    w.ec2().delete_vpc().vpc_id(&net.vpc).send().await.unwrap();
    assert_eq!(w.rl.stat("eni.dependency_violation"), 4);
    assert_eq!(w.rl.stat("eni.lingering"), 2);
}

async fn zone(r53: &aws_sdk_route53::Client, name: &str) -> (String, Vec<String>) {
    let z = r53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("rl-{name}"))
        .send()
        .await
        .unwrap();
    (
        z.hosted_zone().unwrap().id().to_string(),
        z.delegation_set().unwrap().name_servers().to_vec(),
    )
}

fn rrset(name: &str, kind: r53t::RrType, values: &[&str]) -> r53t::ResourceRecordSet {
    let mut b = r53t::ResourceRecordSet::builder()
        .name(name)
        .r#type(kind)
        .ttl(60);
    for v in values {
        b = b.resource_records(r53t::ResourceRecord::builder().value(*v).build().unwrap());
    }
    b.build().unwrap()
}

async fn change(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    action: r53t::ChangeAction,
    set: r53t::ResourceRecordSet,
) -> Result<
    aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput,
    SdkError<
        aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
> {
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            r53t::ChangeBatch::builder()
                .changes(
                    r53t::Change::builder()
                        .action(action)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
}

async fn cert(acm: &aws_sdk_acm::Client, arn: &str) -> aws_sdk_acm::types::CertificateDetail {
    acm.describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap()
        .certificate
        .unwrap()
}

fn status(c: &aws_sdk_acm::types::CertificateDetail) -> &str {
    c.status().map(|s| s.as_str()).unwrap_or_default()
}

async fn request_cert(w: &World, domain: &str) -> String {
    w.acm()
        .request_certificate()
        .domain_name(domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap()
}

/// Waits for the validation record ACM publishes a few seconds after the request.
async fn validation_record(w: &World, arn: &str) -> (String, String) {
    eventually("validation record", WAIT, || async {
        let c = cert(&w.acm(), arn).await;
        c.domain_validation_options()[0]
            .resource_record()
            .map(|r| (r.name().to_string(), r.value().to_string()))
    })
    .await
}

/// Rule 3: PENDING_VALIDATION until the CNAME resolves through a delegation
/// chain from the public zone, then ISSUED after a delay.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_validates_only_through_a_delegated_zone() {
    // acm_issue 0 at first: anything resolvable would be ISSUED at once, so
    // PENDING proves "not resolvable".
    let w = World::new(
        RealismOptions::default()
            .public_zone("rules.example.net")
            .duration("acm_issue", 0.0)
            .duration("acm_options_delay", 180.0),
    );
    let (parent, _) = zone(&w.r53(), "rules.example.net").await;
    let (child, child_ns) = zone(&w.r53(), "t1.rules.example.net").await;
    let arn = request_cert(&w, "app.t1.rules.example.net").await;
    let first = cert(&w.acm(), &arn).await;
    assert_eq!(status(&first), "PENDING_VALIDATION");
    assert!(
        first.domain_validation_options()[0]
            .resource_record()
            .is_none()
    );
    assert!(w.rl.stat("acm.options_hidden") >= 1);
    let (name, value) = validation_record(&w, &arn).await;

    change(
        &w.r53(),
        &child,
        r53t::ChangeAction::Create,
        rrset(&name, r53t::RrType::Cname, &[&value]),
    )
    .await
    .unwrap();
    assert_eq!(
        status(&cert(&w.acm(), &arn).await),
        "PENDING_VALIDATION",
        "no delegation yet"
    );

    let wrong = rrset(
        "t1.rules.example.net",
        r53t::RrType::Ns,
        &["ns-1.elsewhere.example.", "ns-2.elsewhere.example."],
    );
    change(&w.r53(), &parent, r53t::ChangeAction::Create, wrong)
        .await
        .unwrap();
    let c = cert(&w.acm(), &arn).await;
    assert_eq!(status(&c), "PENDING_VALIDATION", "lame delegation");
    assert_eq!(
        c.domain_validation_options()[0]
            .validation_status()
            .map(|s| s.as_str()),
        Some("PENDING_VALIDATION")
    );
    assert!(w.rl.stat("acm.lame_delegation") >= 1);

    w.rl.configure(json!({"durations": {"acm_issue": 240}}));
    let ns: Vec<&str> = child_ns.iter().map(String::as_str).collect();
    let right = rrset("t1.rules.example.net", r53t::RrType::Ns, &ns);
    change(&w.r53(), &parent, r53t::ChangeAction::Upsert, right)
        .await
        .unwrap();
    assert_eq!(
        status(&cert(&w.acm(), &arn).await),
        "PENDING_VALIDATION",
        "issue takes a while"
    );
    let issued = eventually("certificate issued", WAIT, || async {
        let c = cert(&w.acm(), &arn).await;
        (status(&c) == "ISSUED").then_some(c)
    })
    .await;
    assert_eq!(
        issued.domain_validation_options()[0]
            .validation_status()
            .map(|s| s.as_str()),
        Some("SUCCESS")
    );
}

/// Rule 3: never resolvable -> VALIDATION_TIMED_OUT; a domain configured to
/// fail -> FAILED with its FailureReason.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_times_out_or_fails_with_a_reason() {
    let w = World::new(
        RealismOptions::default()
            .public_zone("timeout.example.net")
            .duration("acm_validation_timeout", 120.0)
            .set("acm_fail", json!({"fail.example.net": "CAA_ERROR"})),
    );
    let failed = request_cert(&w, "www.fail.example.net").await;
    let c = cert(&w.acm(), &failed).await;
    assert_eq!(status(&c), "FAILED");
    assert_eq!(c.failure_reason().map(|r| r.as_str()), Some("CAA_ERROR"));
    assert_eq!(w.rl.stat("acm.failed"), 1);

    let never = request_cert(&w, "www.nowhere.example.net").await;
    eventually("validation timed out", WAIT, || async {
        let c = cert(&w.acm(), &never).await;
        assert_ne!(status(&c), "ISSUED");
        (status(&c) == "VALIDATION_TIMED_OUT").then_some(())
    })
    .await;
}

/// Rule 4: ELB does not see a certificate issued moments ago.
#[tokio::test(flavor = "multi_thread")]
async fn listener_gets_certificate_not_found_right_after_issue() {
    let w = World::new(
        RealismOptions::default()
            .public_zone("listener.example.net")
            .duration("acm_issue", 0.0)
            .duration("cert_visible", 180.0),
    );
    let net = w.network(41).await;
    let lb = create_lb(&w, "rl-listener", &net).await;
    let tg = w
        .elb()
        .create_target_group()
        .name("rl-listener")
        .protocol(elbt::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let (zone_id, _) = zone(&w.r53(), "listener.example.net").await;
    let arn = request_cert(&w, "www.listener.example.net").await;
    let (name, value) = validation_record(&w, &arn).await;
    change(
        &w.r53(),
        &zone_id,
        r53t::ChangeAction::Create,
        rrset(&name, r53t::RrType::Cname, &[&value]),
    )
    .await
    .unwrap();
    assert_eq!(status(&cert(&w.acm(), &arn).await), "ISSUED");

    let listener = || {
        w.elb()
            .create_listener()
            .load_balancer_arn(&lb)
            .protocol(elbt::ProtocolEnum::Https)
            .port(443)
            .certificates(elbt::Certificate::builder().certificate_arn(&arn).build())
            .default_actions(
                elbt::Action::builder()
                    .r#type(elbt::ActionTypeEnum::Forward)
                    .target_group_arn(&tg)
                    .build(),
            )
            .send()
    };
    let (code, msg) = failure(listener().await);
    assert_eq!(
        (code.as_str(), msg),
        (
            "CertificateNotFound",
            format!("Certificate '{arn}' not found")
        )
    );
    eventually("listener created", WAIT, || async { listener().await.ok() }).await;
    assert!(w.rl.stat("elb.certificate_not_found") >= 1);
}

/// Rule 5: a resent CreateHostedZone (same CallerReference) answers
/// HostedZoneAlreadyExists, as on AWS; moto alone makes a second zone.
#[tokio::test(flavor = "multi_thread")]
async fn route53_caller_reference_makes_a_zone_at_most_once() {
    let w = World::new(RealismOptions::default());
    let name = "once.example.net";
    zone(&w.r53(), name).await;
    let again = w
        .r53()
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("rl-{name}"))
        .send()
        .await;
    let err = again.expect_err("a reused CallerReference is refused");
    assert_eq!(
        aws_sdk_route53::error::ProvideErrorMetadata::code(&err),
        Some("HostedZoneAlreadyExists")
    );
    let zones = aws_sdk_route53::Client::new(&w.direct)
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .unwrap();
    let same: Vec<_> = zones
        .hosted_zones()
        .iter()
        .filter(|z| z.name() == format!("{name}."))
        .collect();
    assert_eq!(same.len(), 1, "one zone in moto: {same:?}");
    assert!(w.rl.stat("route53.caller_reference_reused") >= 1);
}

/// Rule 5: PENDING then INSYNC; AWS's batch checks on CREATE and DELETE.
#[tokio::test(flavor = "multi_thread")]
async fn route53_changes_are_pending_and_batches_checked() {
    let w = World::new(RealismOptions::default().duration("route53_insync", 180.0));
    let (zone_id, _) = zone(&w.r53(), "r53.example.net").await;
    let record = || rrset("a.r53.example.net", r53t::RrType::A, &["192.0.2.1"]);
    let out = change(&w.r53(), &zone_id, r53t::ChangeAction::Create, record())
        .await
        .unwrap();
    let info = out.change_info().unwrap();
    assert_eq!(info.status().as_str(), "PENDING");
    let id = info.id().to_string();
    let get = || async {
        w.r53()
            .get_change()
            .id(&id)
            .send()
            .await
            .unwrap()
            .change_info()
            .unwrap()
            .status()
            .as_str()
            .to_string()
    };
    assert_eq!(get().await, "PENDING");
    eventually("change INSYNC", WAIT, || async {
        (get().await == "INSYNC").then_some(())
    })
    .await;

    let (code, msg) =
        failure(change(&w.r53(), &zone_id, r53t::ChangeAction::Create, record()).await);
    assert_eq!(code, "InvalidChangeBatch");
    assert!(msg.contains("Tried to create resource record set [name='a.r53.example.net.', type='A'] but it already exists"), "{msg}");
    let other = rrset("a.r53.example.net", r53t::RrType::A, &["192.0.2.99"]);
    let (code, msg) = failure(change(&w.r53(), &zone_id, r53t::ChangeAction::Delete, other).await);
    assert_eq!(code, "InvalidChangeBatch");
    assert!(msg.contains("values provided do not match"), "{msg}");
    change(&w.r53(), &zone_id, r53t::ChangeAction::Delete, record())
        .await
        .unwrap();
    // moto alone answers a mismatched DELETE with another code (InvalidInput).
    let direct = aws_sdk_route53::Client::new(&w.direct);
    change(&direct, &zone_id, r53t::ChangeAction::Create, record())
        .await
        .unwrap();
    let other = rrset("a.r53.example.net", r53t::RrType::A, &["192.0.2.99"]);
    let (code, _) = failure(change(&direct, &zone_id, r53t::ChangeAction::Delete, other).await);
    assert_ne!(code, "InvalidChangeBatch");
    assert_eq!(w.rl.stat("route53.invalid_change_batch"), 2);
}

/// Rule 6: a new VPC is missing from tag lookups (Describe* with filters,
/// Tagging GetResources) for a short window, found by id at once.
#[tokio::test(flavor = "multi_thread")]
async fn new_vpc_is_invisible_to_tag_lookups_for_a_while() {
    let w = World::new(RealismOptions::default().duration("consistency", 180.0));
    let tag = ec2t::Tag::builder()
        .key("Name")
        .value("rl-consistency")
        .build();
    let vpc = w
        .ec2()
        .create_vpc()
        .cidr_block("10.61.0.0/16")
        .tag_specifications(
            ec2t::TagSpecification::builder()
                .resource_type(ec2t::ResourceType::Vpc)
                .tags(tag)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let by_tag = |client: aws_sdk_ec2::Client| async move {
        client
            .describe_vpcs()
            .filters(
                ec2t::Filter::builder()
                    .name("tag:Name")
                    .values("rl-consistency")
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .vpcs()
            .len()
    };
    let tagging = || async {
        aws_sdk_resourcegroupstagging::Client::new(&w.cfg)
            .get_resources()
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key("Name")
                    .values("rl-consistency")
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .resource_tag_mapping_list()
            .len()
    };
    assert_eq!(by_tag(w.ec2()).await, 0);
    assert_eq!(tagging().await, 0);
    assert_eq!(by_tag(aws_sdk_ec2::Client::new(&w.direct)).await, 1);
    let by_id = w.ec2().describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
    assert_eq!(by_id.vpcs().len(), 1);
    eventually("VPC found by tag", WAIT, || async {
        (by_tag(w.ec2()).await == 1).then_some(())
    })
    .await;
    assert_eq!(tagging().await, 1);
    assert!(w.rl.stat("consistency.hidden") >= 2);
}

fn lambda_zip() -> Vec<u8> {
    use std::io::Write as _;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("index.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"def handler(event, context):\n    return event\n")
        .unwrap();
    z.finish().unwrap().into_inner()
}

/// Rule 7: Lambda cannot assume a role created seconds ago.
#[tokio::test(flavor = "multi_thread")]
async fn lambda_cannot_assume_a_new_role_yet() {
    let w = World::new(RealismOptions::default().duration("iam_propagation", 120.0));
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = aws_sdk_iam::Client::new(&w.cfg)
        .create_role()
        .role_name("rl-lambda")
        .assume_role_policy_document(policy)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let create = || {
        aws_sdk_lambda::Client::new(&w.cfg)
            .create_function()
            .function_name("rl-fn")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(&role)
            .handler("index.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_smithy_types::Blob::new(lambda_zip()))
                    .build(),
            )
            .send()
    };
    let (code, msg) = failure(create().await);
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda."
        )
    );
    eventually("function created", WAIT, || async { create().await.ok() }).await;
    assert!(w.rl.stat("iam.role_not_assumable") >= 1);
}

/// Rule 8: a queue name cannot be reused for 60 s (scaled).
#[tokio::test(flavor = "multi_thread")]
async fn queue_name_is_blocked_after_delete() {
    let w = World::new(RealismOptions::default().duration("sqs_deleted_recently", 120.0));
    let sqs = aws_sdk_sqs::Client::new(&w.cfg);
    let url = sqs
        .create_queue()
        .queue_name("rl-queue")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let err = sqs
        .create_queue()
        .queue_name("rl-queue")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_queue_deleted_recently(), "{err:?}");
    eventually("queue name free again", WAIT, || async {
        sqs.create_queue().queue_name("rl-queue").send().await.ok()
    })
    .await;
    assert!(w.rl.stat("sqs.queue_deleted_recently") >= 1);
}

/// Rule 9: token buckets per API with each service's throttling error.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_answers_each_services_code() {
    let w = World::new(RealismOptions::default().set("throttle", json!(true)).set(
        "throttle_rates",
        json!({"ec2:describe": [1, 3], "route53": [1, 3]}),
    ));
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..12 {
        if let Some(c) = code_of(&w.r53().list_hosted_zones().send().await) {
            codes.insert(c);
        }
    }
    let (zone_id, _) = eventually("zone created", WAIT, || async {
        let z = w
            .r53()
            .create_hosted_zone()
            .name("throttle.example.net")
            .caller_reference("rl-throttle")
            .send()
            .await
            .ok()?;
        Some((z.hosted_zone().unwrap().id().to_string(), ()))
    })
    .await;
    for i in 0..12 {
        let set = rrset(
            &format!("r{i}.throttle.example.net"),
            r53t::RrType::A,
            &["192.0.2.7"],
        );
        if let Some(c) = code_of(&change(&w.r53(), &zone_id, r53t::ChangeAction::Upsert, set).await)
        {
            codes.insert(c);
        }
    }
    for _ in 0..8 {
        if let Some(c) = code_of(&w.ec2().describe_vpcs().send().await) {
            codes.insert(c);
        }
    }
    let want: std::collections::BTreeSet<String> = [
        "Throttling",
        "PriorRequestNotComplete",
        "RequestLimitExceeded",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(codes, want);
    assert!(w.rl.stat("throttle.route53") >= 2 && w.rl.stat("throttle.ec2") >= 1);
}

/// Rule 11: a 5xx before forwarding leaves nothing behind.
#[tokio::test(flavor = "multi_thread")]
async fn injected_5xx_happens_before_the_call() {
    let w = World::new(
        RealismOptions::default()
            .set("fault_rate", json!(1.0))
            .set("fault_actions", json!(["ec2:CreateVpc"])),
    );
    let (code, _) = failure(
        w.ec2()
            .create_vpc()
            .cidr_block("10.111.0.0/16")
            .send()
            .await,
    );
    assert!(code == "InternalError" || code == "Unavailable", "{code}");
    let direct = aws_sdk_ec2::Client::new(&w.direct);
    let vpcs = direct
        .describe_vpcs()
        .filters(
            ec2t::Filter::builder()
                .name("cidr")
                .values("10.111.0.0/16")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty());
    assert_eq!(w.rl.stat("fault.5xx"), 1);
}

async fn vpcs_with_cidr(w: &World, cidr: &str) -> usize {
    aws_sdk_ec2::Client::new(&w.direct)
        .describe_vpcs()
        .filters(ec2t::Filter::builder().name("cidr").values(cidr).build())
        .send()
        .await
        .unwrap()
        .vpcs()
        .len()
}

/// Rule 11: a lost response: moto created the VPC, the client saw a failure;
/// a client that retries blindly makes duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn lost_responses_hide_a_create_that_happened() {
    let w = World::new(RealismOptions::default().set("lost_rate", json!(1.0)));
    let r = w
        .ec2()
        .create_vpc()
        .cidr_block("10.112.0.0/16")
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(vpcs_with_cidr(&w, "10.112.0.0/16").await, 1);

    let retrying = aws_sdk_ec2::Client::new(&w.rl.sdk_config());
    assert!(
        retrying
            .create_vpc()
            .cidr_block("10.113.0.0/16")
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        vpcs_with_cidr(&w, "10.113.0.0/16").await,
        3,
        "the SDK's 3 attempts each made one"
    );

    w.rl.configure(json!({"lost_mode": "500"}));
    let (code, _) = failure(
        w.ec2()
            .create_vpc()
            .cidr_block("10.114.0.0/16")
            .send()
            .await,
    );
    assert_eq!(code, "InternalError");
    assert_eq!(vpcs_with_cidr(&w, "10.114.0.0/16").await, 1);
    assert_eq!(w.rl.stat("fault.lost"), 5);
}

/// The proxy forwards bodies and headers unchanged: a streamed S3 upload
/// (aws-chunked with a trailing checksum) and its download round-trip.
#[tokio::test(flavor = "multi_thread")]
async fn proxy_streams_s3_bodies_unchanged() {
    let w = World::new(RealismOptions::default());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&w.rl.sdk_config())
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("rl-stream").send().await.unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &data).unwrap();
    s3.put_object()
        .bucket("rl-stream")
        .key("big/object.bin")
        .body(
            aws_sdk_s3::primitives::ByteStream::from_path(file.path())
                .await
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("rl-stream")
        .key("big/object.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    let got = s3
        .get_object()
        .bucket("rl-stream")
        .key("big/object.bin")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(body.as_ref() == data.as_slice(), "body differs");
}

/// Admin endpoints: config changes apply at once, reset forgets counters.
#[tokio::test(flavor = "multi_thread")]
async fn admin_config_and_reset() {
    let w = World::new(RealismOptions::default());
    let cfg = w
        .rl
        .configure(json!({"scale": 0.5, "fault_rate": 1.0, "fault_actions": ["sqs:ListQueues"]}));
    assert_eq!(cfg["scale"], json!(0.5));
    let sqs = aws_sdk_sqs::Client::new(&w.cfg);
    assert!(sqs.list_queues().send().await.is_err());
    assert_eq!(w.rl.stat("fault.5xx"), 1);
    w.rl.reset();
    assert!(w.rl.stats().is_empty());
    sqs.list_queues().send().await.unwrap();
}

/// Rule 10: AWS's character and length rules, with each service's code.
#[tokio::test(flavor = "multi_thread")]
async fn aws_character_rules_are_enforced() {
    let w = World::new(RealismOptions::default());
    let net = w.network(101).await;
    let ec2 = w.ec2();
    let (code, msg) = failure(
        ec2.create_security_group()
            .group_name("rl-chars")
            .description("the tenant's load balancer")
            .vpc_id(&net.vpc)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue");
    assert!(msg.contains("GroupDescription"), "{msg}");
    // moto alone accepts the apostrophe: the rule is the proxy's.
    aws_sdk_ec2::Client::new(&w.direct)
        .create_security_group()
        .group_name("rl-chars")
        .description("the tenant's load balancer")
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap();
    let reserved = ec2t::TagSpecification::builder()
        .resource_type(ec2t::ResourceType::Vpc)
        .tags(ec2t::Tag::builder().key("aws:owner").value("x").build())
        .build();
    let (code, _) = failure(
        ec2.create_vpc()
            .cidr_block("10.102.0.0/16")
            .tag_specifications(reserved)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&w.cfg)
            .force_path_style(true)
            .build(),
    );
    let (code, _) = failure(s3.create_bucket().bucket("Envctl_Values").send().await);
    assert_eq!(code, "InvalidBucketName");

    let (code, msg) = failure(
        w.elb()
            .create_load_balancer()
            .name("a-load-balancer-name-of-33-chars1")
            .set_subnets(Some(net.subnets.clone()))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");
    assert!(
        msg.contains("cannot be longer than '32' characters"),
        "{msg}"
    );

    let (code, _) = failure(
        w.rds()
            .create_db_instance()
            .db_instance_identifier("1-db")
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue");

    let sqs = aws_sdk_sqs::Client::new(&w.cfg);
    let r = sqs.create_queue().queue_name("rl.queue").send().await;
    assert!(r.is_err(), "{r:?}");

    let (code, _) = failure(
        aws_sdk_iam::Client::new(&w.cfg)
            .create_role()
            .role_name("rl role")
            .assume_role_policy_document("{}")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationError");

    let (code, _) = failure(
        aws_sdk_sns::Client::new(&w.cfg)
            .create_topic()
            .name("rl.topic")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameter");

    for name in [
        "validate.group_description",
        "validate.tag_reserved",
        "validate.bucket_name",
        "validate.load_balancer_name",
        "validate.db_identifier",
        "validate.queue_name",
        "validate.role_name",
        "validate.topic_name",
    ] {
        assert_eq!(w.rl.stat(name), 1, "{name}");
    }
}

/// Rule 2b: a create naming an existing load balancer answers that one (moto
/// alone makes a second balancer of the same name).
#[tokio::test(flavor = "multi_thread")]
async fn load_balancer_create_is_idempotent_by_name() {
    let w = World::new(RealismOptions::default());
    let net = w.network(23).await;
    let first = create_lb(&w, "rl-idem", &net).await;
    let again = create_lb(&w, "rl-idem", &net).await;
    assert_eq!(first, again);
    let all = aws_sdk_elasticloadbalancingv2::Client::new(&w.direct)
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    let named = all
        .load_balancers()
        .iter()
        .filter(|lb| lb.load_balancer_name() == Some("rl-idem"))
        .count();
    assert_eq!(named, 1);
    assert_eq!(w.rl.stat("elb.create_existing_name"), 1);
}

/// Rule 2c: a create repeating its ClientToken answers what the first one
/// did and makes nothing more (moto alone ignores the token); the token
/// with other parameters is refused.
#[tokio::test(flavor = "multi_thread")]
async fn ec2_create_is_idempotent_by_client_token() {
    let w = World::new(RealismOptions::default());
    let net = w.network(24).await;
    let create = |token: &'static str, vpc: String| {
        let ec2 = w.ec2();
        async move {
            ec2.create_route_table()
                .vpc_id(vpc)
                .client_token(token)
                .send()
                .await
        }
    };
    let first = create("rl-token-1", net.vpc.clone()).await.unwrap();
    let again = create("rl-token-1", net.vpc.clone()).await.unwrap();
    let id = |t: &aws_sdk_ec2::operation::create_route_table::CreateRouteTableOutput| {
        t.route_table()
            .and_then(|t| t.route_table_id())
            .map(str::to_string)
    };
    assert!(id(&first).is_some());
    assert_eq!(id(&first), id(&again));
    let tables = aws_sdk_ec2::Client::new(&w.direct)
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&net.vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The VPC's main table and the one made with the token.
    assert_eq!(tables.route_tables().len(), 2, "{tables:?}");
    assert_eq!(w.rl.stat("ec2.client_token_replayed"), 1);

    let other = w.network(25).await;
    let (code, _) = failure(create("rl-token-1", other.vpc.clone()).await);
    assert_eq!(code, "IdempotentParameterMismatch");
}
