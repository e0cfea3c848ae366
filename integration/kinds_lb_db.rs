//! The load balancer and database kinds (`aws.elbv2.load_balancer`,
//! `aws.elb.classic`, `aws.rds.instance`) against a private moto server. The
//! VPC, subnets, security group and certificate they need are made with raw
//! SDK calls, and every check of what exists in "AWS" uses the raw SDK, not
//! the kind under test. Tests run in parallel against one moto, each with its
//! own tenant and VPC.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;

use aws_sdk_acm::types::ValidationMethod;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, Listener as V2Listener, LoadBalancerTypeEnum, ProtocolEnum,
    RedirectActionStatusCodeEnum, Rule,
};
use envctl::aws::AwsClients;
use envctl::kinds::aws::elb::classic::ClassicLoadBalancer;
use envctl::kinds::aws::elb::v2::{LoadBalancer, SSL_POLICY};
use envctl::kinds::aws::rds::{FINAL_SNAPSHOT_TAG, Instance, PASSWORD_TAG};
use envctl::kinds::{Kind, KindError, Outputs, Props, Readiness};
use serde_json::json;
use support::kinds::KindWorld;

const STACK: &str = "kinds-lb-db";
/// What a secret.password resource would hand the database kind.
const PASSWORD: &str = "Zq7uXk2Lw9PbR4tNc8Vy3MhD";
/// us-east-1's hosted zone for Classic and Application Load Balancers.
const US_EAST_1_ELB_ZONE: &str = "Z35SXDOTRQ7X7K";

/// One test's tenant, backends and raw clients (see `support::kinds`).
struct T(KindWorld);

impl std::ops::Deref for T {
    type Target = KindWorld;

    fn deref(&self) -> &KindWorld {
        &self.0
    }
}

/// A VPC with two subnets in two Availability Zones and a security group.
struct Net {
    vpc: String,
    subnets: Vec<String>,
    sg: String,
}

impl T {
    fn new(tenant: &str) -> T {
        T(KindWorld::new(STACK, tenant, "kl-values"))
    }

    async fn net(&self) -> Net {
        let ec2 = &self.aws.ec2;
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.20.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_string();
        let mut subnets = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.20.{i}.0/24"))
                .availability_zone(*az)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let sg = ec2
            .create_security_group()
            .group_name(format!("{}-lb", self.tenant))
            .description("load balancer")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        Net { vpc, subnets, sg }
    }

    async fn certificate(&self, domain: &str) -> String {
        self.aws
            .acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string()
    }
}

fn props(v: serde_json::Value) -> Props {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("props must be an object, got {other}"),
    }
}

fn out(o: &Outputs, name: &str) -> String {
    o.require(name).unwrap().to_string()
}

// ------------------------------------------------------------- ELBv2 ----

/// Load balancers named `name` (moto lets two share a name; AWS does not).
async fn lbs_named(aws: &AwsClients, name: &str) -> Vec<String> {
    let all = aws.elbv2.describe_load_balancers().send().await.unwrap();
    all.load_balancers()
        .iter()
        .filter(|lb| lb.load_balancer_name() == Some(name))
        .map(|lb| lb.load_balancer_arn().unwrap().to_string())
        .collect()
}

async fn tgs_named(aws: &AwsClients, name: &str) -> Vec<String> {
    let all = aws.elbv2.describe_target_groups().send().await.unwrap();
    all.target_groups()
        .iter()
        .filter(|tg| tg.target_group_name() == Some(name))
        .map(|tg| tg.target_group_arn().unwrap().to_string())
        .collect()
}

async fn v2_tags(aws: &AwsClients, arn: &str) -> HashMap<String, String> {
    let out = aws
        .elbv2
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap();
    out.tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The listeners of a load balancer by port; `None` when it is gone.
async fn listeners(aws: &AwsClients, lb_arn: &str) -> Option<HashMap<i32, V2Listener>> {
    match aws
        .elbv2
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
    {
        Ok(out) => Some(
            out.listeners()
                .iter()
                .map(|l| (l.port().unwrap(), l.clone()))
                .collect(),
        ),
        Err(e) if e.code() == Some("LoadBalancerNotFound") => None,
        Err(e) => panic!("DescribeListeners: {e:?}"),
    }
}

/// Non-default rules of a listener as (host, target group, rule ARN), by host.
async fn host_rules(aws: &AwsClients, listener_arn: &str) -> Vec<(String, String, String)> {
    let out = aws
        .elbv2
        .describe_rules()
        .listener_arn(listener_arn)
        .send()
        .await
        .unwrap();
    let mut rules: Vec<(String, String, String)> = out
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r: &Rule| {
            let c = &r.conditions()[0];
            assert_eq!(c.field(), Some("host-header"));
            let host = c
                .host_header_config()
                .map(|h| h.values().to_vec())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| c.values().to_vec());
            assert_eq!(host.len(), 1, "{r:?}");
            assert_eq!(r.actions().len(), 1);
            let a = &r.actions()[0];
            assert_eq!(a.r#type(), Some(&ActionTypeEnum::Forward));
            (
                host[0].clone(),
                a.target_group_arn().unwrap().to_string(),
                r.rule_arn().unwrap().to_string(),
            )
        })
        .collect();
    rules.sort();
    rules
}

fn forward_target(l: &V2Listener) -> Option<String> {
    let [a] = l.default_actions() else {
        return None;
    };
    (a.r#type() == Some(&ActionTypeEnum::Forward))
        .then(|| a.target_group_arn().map(str::to_string))
        .flatten()
}

fn is_https_redirect(l: &V2Listener) -> bool {
    matches!(l.default_actions(), [a] if a.r#type() == Some(&ActionTypeEnum::Redirect)
        && a.redirect_config().is_some_and(|r| r.protocol() == Some("HTTPS")
            && r.port() == Some("443")
            && r.status_code() == Some(&RedirectActionStatusCodeEnum::Http301)))
}

#[tokio::test]
async fn alb_with_certificate_and_hosts_is_created_once_swept_and_deleted() {
    let t = T::new("kl-alb");
    let net = t.net().await;
    let cert = t.certificate("kl-alb.example.test").await;
    let cx = t.cx("web");
    let p = props(json!({
        // As a reference to a network resource would give it: one string.
        "subnet_ids": net.subnets.join(","),
        "security_group_ids": [net.sg],
        "certificate_arn": cert,
        "hosts": ["a.kl-alb.example.test", "B.kl-alb.example.test"],
    }));

    let first = LoadBalancer.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(name, "envctl-kl-alb-web");
    let arn = out(&first, "arn");
    let tg = out(&first, "target_group_arn");
    let https = out(&first, "https_listener_arn");
    assert_eq!(out(&first, "listener_arn"), https);
    assert!(!out(&first, "dns_name").is_empty());
    assert!(!out(&first, "canonical_hosted_zone_id").is_empty());

    assert_eq!(lbs_named(&t.aws, &name).await, vec![arn.clone()]);
    t.assert_tagged("load balancer", &v2_tags(&t.aws, &arn).await, "web");
    let lb = t
        .aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    assert_eq!(lb.r#type(), Some(&LoadBalancerTypeEnum::Application));
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.security_groups(), std::slice::from_ref(&net.sg));
    assert_eq!(lb.vpc_id(), Some(net.vpc.as_str()));

    // One target group: HTTP on 8080 with the /healthcheck health check.
    assert_eq!(tgs_named(&t.aws, &name).await, vec![tg.clone()]);
    t.assert_tagged("target group", &v2_tags(&t.aws, &tg).await, "web");
    let group = t
        .aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(&tg)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone();
    assert_eq!(group.port(), Some(8080));
    assert_eq!(group.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(group.health_check_path(), Some("/healthcheck"));
    assert_eq!(group.vpc_id(), Some(net.vpc.as_str()));

    // HTTPS:443 with the certificate forwards; HTTP:80 redirects to it.
    let ls = listeners(&t.aws, &arn).await.unwrap();
    assert_eq!(ls.len(), 2, "{ls:?}");
    let l443 = &ls[&443];
    assert_eq!(l443.listener_arn(), Some(https.as_str()));
    assert_eq!(l443.protocol(), Some(&ProtocolEnum::Https));
    assert_eq!(l443.ssl_policy(), Some(SSL_POLICY));
    assert_eq!(
        l443.certificates()[0].certificate_arn(),
        Some(cert.as_str())
    );
    assert_eq!(forward_target(l443).as_deref(), Some(tg.as_str()));
    let l80 = &ls[&80];
    assert_eq!(l80.protocol(), Some(&ProtocolEnum::Http));
    assert!(is_https_redirect(l80), "{l80:?}");
    t.assert_tagged("listener", &v2_tags(&t.aws, &https).await, "web");

    // One host rule per host (lowercased) on HTTPS, none on HTTP.
    let rules = host_rules(&t.aws, &https).await;
    let hosts: Vec<(&str, &str)> = rules
        .iter()
        .map(|(h, g, _)| (h.as_str(), g.as_str()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("a.kl-alb.example.test", tg.as_str()),
            ("b.kl-alb.example.test", tg.as_str())
        ]
    );
    assert!(
        host_rules(&t.aws, l80.listener_arn().unwrap())
            .await
            .is_empty()
    );

    // ready() reads the state through DescribeLoadBalancers.
    assert_eq!(
        LoadBalancer.ready(&cx, &first).await.unwrap(),
        Readiness::Ready
    );

    // Again: the same load balancer, nothing added.
    let second = LoadBalancer.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(lbs_named(&t.aws, &name).await.len(), 1);
    assert_eq!(tgs_named(&t.aws, &name).await.len(), 1);
    assert_eq!(listeners(&t.aws, &arn).await.unwrap().len(), 2);
    assert_eq!(host_rules(&t.aws, &https).await, rules);

    // Hosts change: b keeps its rule, a goes, c comes.
    let mut changed = p.clone();
    changed.insert(
        "hosts".into(),
        json!("b.kl-alb.example.test, c.kl-alb.example.test"),
    );
    let third = LoadBalancer.apply(&cx, &changed).await.unwrap();
    assert_eq!(third, first);
    let now = host_rules(&t.aws, &https).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[0].0, "b.kl-alb.example.test");
    assert_eq!(now[0].2, rules[1].2, "b's rule was kept");
    assert_eq!(now[1].0, "c.kl-alb.example.test");

    // A sweep finds it; its outputs are enough to delete everything.
    let found = LoadBalancer.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "web");
    assert_eq!(out(&found[0].outputs, "arn"), arn);
    assert_eq!(out(&found[0].outputs, "target_group_arn"), tg);

    LoadBalancer.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(lbs_named(&t.aws, &name).await.is_empty());
    assert!(listeners(&t.aws, &arn).await.is_none());
    assert!(tgs_named(&t.aws, &name).await.is_empty());
    LoadBalancer.delete(&cx, &first).await.unwrap();
    assert!(LoadBalancer.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

#[tokio::test]
async fn alb_without_certificate_forwards_http_and_loses_https_when_it_is_removed() {
    let t = T::new("kl-alb-http");
    let net = t.net().await;
    let cert = t.certificate("kl-alb-http.example.test").await;
    let cx = t.cx("api");
    let with_cert = props(json!({
        "subnet_ids": net.subnets,
        "certificate_arn": cert,
        "hosts": "api.example.test",
        "target_port": 9000,
        "health_check_path": "/status",
    }));
    let first = LoadBalancer.apply(&cx, &with_cert).await.unwrap();
    let arn = out(&first, "arn");
    let tg = out(&first, "target_group_arn");

    // Without the certificate: HTTP:80 forwards, carries the host rule, and
    // the HTTPS listener (with its rule) is gone.
    let mut without = with_cert.clone();
    without.insert("certificate_arn".into(), json!(""));
    let second = LoadBalancer.apply(&cx, &without).await.unwrap();
    assert!(second.get("https_listener_arn").is_none(), "{second:?}");
    assert_eq!(out(&second, "arn"), arn);
    assert_eq!(out(&second, "target_group_arn"), tg);
    let ls = listeners(&t.aws, &arn).await.unwrap();
    assert_eq!(ls.keys().copied().collect::<Vec<_>>(), [80]);
    let l80 = &ls[&80];
    assert_eq!(forward_target(l80).as_deref(), Some(tg.as_str()));
    assert_eq!(out(&second, "listener_arn"), l80.listener_arn().unwrap());
    let rules = host_rules(&t.aws, l80.listener_arn().unwrap()).await;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].0, "api.example.test");
    let group = t
        .aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(&tg)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone();
    assert_eq!(group.port(), Some(9000));
    assert_eq!(group.health_check_path(), Some("/status"));

    // Back with the certificate: HTTP redirects again and has no rules.
    let third = LoadBalancer.apply(&cx, &with_cert).await.unwrap();
    let ls = listeners(&t.aws, &arn).await.unwrap();
    assert_eq!(ls.len(), 2);
    assert!(is_https_redirect(&ls[&80]));
    assert!(
        host_rules(&t.aws, ls[&80].listener_arn().unwrap())
            .await
            .is_empty()
    );
    assert_eq!(
        host_rules(&t.aws, &out(&third, "https_listener_arn"))
            .await
            .len(),
        1
    );

    // The target port cannot change in place: a clear error, nothing changed.
    let mut other_port = with_cert.clone();
    other_port.insert("target_port".into(), json!(8081));
    let err = LoadBalancer.apply(&cx, &other_port).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("port"), "{err}");

    LoadBalancer.delete(&cx, &third).await.unwrap();
    assert!(lbs_named(&t.aws, &out(&third, "name")).await.is_empty());
    assert!(tgs_named(&t.aws, &out(&third, "name")).await.is_empty());
}

#[tokio::test]
async fn nlb_gets_one_tcp_listener_and_a_tcp_target_group() {
    let t = T::new("kl-nlb");
    let net = t.net().await;
    let cx = t.cx("tcp");
    let p = props(json!({
        "type": "network",
        "scheme": "internal",
        "subnet_ids": [net.subnets[0]],
        "listener_port": 5432,
        "target_port": 5432,
        "vpc_id": net.vpc,
    }));
    let first = LoadBalancer.apply(&cx, &p).await.unwrap();
    let arn = out(&first, "arn");
    let tg = out(&first, "target_group_arn");
    assert!(first.get("https_listener_arn").is_none());
    let lb = t
        .aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    assert_eq!(lb.r#type(), Some(&LoadBalancerTypeEnum::Network));
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internal"));
    let ls = listeners(&t.aws, &arn).await.unwrap();
    assert_eq!(ls.keys().copied().collect::<Vec<_>>(), [5432]);
    assert_eq!(ls[&5432].protocol(), Some(&ProtocolEnum::Tcp));
    assert_eq!(forward_target(&ls[&5432]).as_deref(), Some(tg.as_str()));
    let group = t
        .aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(&tg)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone();
    assert_eq!(group.protocol(), Some(&ProtocolEnum::Tcp));
    assert_eq!(LoadBalancer.apply(&cx, &p).await.unwrap(), first);
    assert_eq!(listeners(&t.aws, &arn).await.unwrap().len(), 1);

    // The type cannot change in place.
    let mut alb = p.clone();
    alb.insert("type".into(), json!("application"));
    alb.remove("listener_port");
    alb.insert("subnet_ids".into(), json!(net.subnets));
    alb.insert("scheme".into(), json!("internal"));
    let err = LoadBalancer.apply(&cx, &alb).await.unwrap_err();
    assert!(err.to_string().contains("type"), "{err}");

    LoadBalancer.delete(&cx, &first).await.unwrap();
    assert!(lbs_named(&t.aws, &out(&first, "name")).await.is_empty());
    assert!(tgs_named(&t.aws, &out(&first, "name")).await.is_empty());
    LoadBalancer.delete(&cx, &first).await.unwrap();
}

#[tokio::test]
async fn elbv2_properties_are_checked_before_anything_is_made() {
    let t = T::new("kl-albp");
    let net = t.net().await;
    let cx = t.cx("bad");
    let two = json!(net.subnets);
    for (bad, says) in [
        (
            json!({"subnet_ids": [net.subnets[0]]}),
            "two Availability Zones",
        ),
        (json!({"subnet_ids": "nope-1,nope-2"}), "subnet-"),
        (json!({"subnet_ids": two, "hosts": ["a b"]}), "hosts"),
        (
            json!({"subnet_ids": two, "hosts": ["x.test", "X.test"]}),
            "twice",
        ),
        (
            json!({"subnet_ids": two, "type": "gateway"}),
            "unknown variant",
        ),
        (json!({"subnet_ids": two, "target_prot": 1}), "target_prot"),
        (
            json!({"subnet_ids": two, "health_check_path": "status"}),
            "health_check_path",
        ),
        (
            json!({"subnet_ids": two, "type": "network", "hosts": "a.test"}),
            "hosts",
        ),
        (
            json!({"subnet_ids": two, "listener_port": 81}),
            "listener_port",
        ),
        (json!({}), "subnet_ids"),
    ] {
        let err = LoadBalancer
            .apply(&cx, &props(bad.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{bad}: {err}");
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
    assert!(lbs_named(&t.aws, &cx.physical_name(32)).await.is_empty());
    assert!(tgs_named(&t.aws, &cx.physical_name(32)).await.is_empty());
}

#[tokio::test]
async fn elbv2_load_balancer_of_another_tenant_is_not_adopted() {
    let t = T::new("kl-albx");
    let net = t.net().await;
    let cx = t.cx("web");
    let name = cx.physical_name(32);
    let theirs = t
        .aws
        .elbv2
        .create_load_balancer()
        .name(&name)
        .set_subnets(Some(net.subnets.clone()))
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("envctl:tenant")
                .value("someone-else")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let err = LoadBalancer
        .apply(&cx, &props(json!({"subnet_ids": net.subnets})))
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(tgs_named(&t.aws, &name).await.is_empty());
    assert!(listeners(&t.aws, &theirs).await.unwrap().is_empty());
    // Nor swept with us.
    assert!(LoadBalancer.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    t.aws
        .elbv2
        .delete_load_balancer()
        .load_balancer_arn(&theirs)
        .send()
        .await
        .unwrap();
}

// ----------------------------------------------------------- Classic ----

async fn classic_exists(aws: &AwsClients, name: &str) -> bool {
    match aws
        .elb
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await
    {
        Ok(out) => !out.load_balancer_descriptions().is_empty(),
        Err(e) if e.code() == Some("LoadBalancerNotFound") => false,
        Err(e) => panic!("DescribeLoadBalancers {name}: {e:?}"),
    }
}

async fn classic(
    aws: &AwsClients,
    name: &str,
) -> aws_sdk_elasticloadbalancing::types::LoadBalancerDescription {
    aws.elb
        .describe_load_balancers()
        .load_balancer_names(name)
        .send()
        .await
        .unwrap()
        .load_balancer_descriptions()[0]
        .clone()
}

async fn classic_tags(aws: &AwsClients, name: &str) -> HashMap<String, String> {
    aws.elb
        .describe_tags()
        .load_balancer_names(name)
        .send()
        .await
        .unwrap()
        .tag_descriptions()[0]
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect()
}

/// (load balancer port, protocol, instance port, certificate) per listener.
fn classic_listeners(
    lb: &aws_sdk_elasticloadbalancing::types::LoadBalancerDescription,
) -> Vec<(i32, String, i32, Option<String>)> {
    let mut ls: Vec<_> = lb
        .listener_descriptions()
        .iter()
        .map(|d| {
            let l = d.listener().unwrap();
            (
                l.load_balancer_port(),
                l.protocol().to_ascii_uppercase(),
                l.instance_port(),
                l.ssl_certificate_id().map(str::to_string),
            )
        })
        .collect();
    ls.sort();
    ls
}

#[tokio::test]
async fn classic_elb_is_created_once_tagged_swept_and_deleted() {
    let t = T::new("kl-elb");
    let net = t.net().await;
    let cert = t.certificate("kl-elb.example.test").await;
    let cx = t.cx("legacy");
    let p = props(json!({
        "subnet_ids": net.subnets,
        "security_group_ids": net.sg,
        "certificate_arn": cert,
    }));
    let first = ClassicLoadBalancer.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(name, "envctl-kl-elb-legacy");
    assert!(!out(&first, "dns_name").is_empty());
    // moto gives no CanonicalHostedZoneNameID: the region's zone is used.
    assert_eq!(out(&first, "canonical_hosted_zone_id"), US_EAST_1_ELB_ZONE);

    let lb = classic(&t.aws, &name).await;
    assert_eq!(
        classic_listeners(&lb),
        [
            (80, "HTTP".to_string(), 8080, None),
            (443, "HTTPS".to_string(), 8080, Some(cert.clone())),
        ]
    );
    assert_eq!(
        lb.health_check().map(|h| h.target()),
        Some("HTTP:8080/healthcheck")
    );
    let mut subnets = lb.subnets().to_vec();
    subnets.sort();
    let mut want = net.subnets.clone();
    want.sort();
    assert_eq!(subnets, want);
    assert_eq!(lb.security_groups(), std::slice::from_ref(&net.sg));
    t.assert_tagged(
        "classic load balancer",
        &classic_tags(&t.aws, &name).await,
        "legacy",
    );
    assert_eq!(
        ClassicLoadBalancer.ready(&cx, &first).await.unwrap(),
        Readiness::Ready
    );

    let second = ClassicLoadBalancer.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    let names: Vec<String> = t
        .aws
        .elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancer_descriptions()
        .iter()
        .filter_map(|d| d.load_balancer_name().map(str::to_string))
        .filter(|n| *n == name)
        .collect();
    assert_eq!(names.len(), 1);
    assert_eq!(classic_listeners(&classic(&t.aws, &name).await).len(), 2);

    // Without the certificate the HTTPS listener goes; a new instance port
    // and health check path replace the old ones.
    let changed = props(json!({
        "subnet_ids": net.subnets,
        "security_group_ids": net.sg,
        "instance_port": 9090,
        "health_check_path": "/up",
    }));
    assert_eq!(
        ClassicLoadBalancer.apply(&cx, &changed).await.unwrap(),
        first
    );
    let lb = classic(&t.aws, &name).await;
    assert_eq!(
        classic_listeners(&lb),
        [(80, "HTTP".to_string(), 9090, None)]
    );
    assert_eq!(lb.health_check().map(|h| h.target()), Some("HTTP:9090/up"));

    let found = ClassicLoadBalancer.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "legacy");
    assert_eq!(out(&found[0].outputs, "name"), name);

    ClassicLoadBalancer
        .delete(&cx, &found[0].outputs)
        .await
        .unwrap();
    assert!(!classic_exists(&t.aws, &name).await);
    ClassicLoadBalancer.delete(&cx, &first).await.unwrap();
    assert!(
        ClassicLoadBalancer
            .sweep(&t.sweep_cx())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ClassicLoadBalancer.ready(&cx, &first).await.unwrap(),
        Readiness::Pending(format!("load balancer {name} not visible yet"))
    );
}

#[tokio::test]
async fn classic_elb_of_another_tenant_is_not_adopted() {
    let t = T::new("kl-elbx");
    let net = t.net().await;
    let cx = t.cx("legacy");
    let name = cx.physical_name(32);
    t.aws
        .elb
        .create_load_balancer()
        .load_balancer_name(&name)
        .listeners(
            aws_sdk_elasticloadbalancing::types::Listener::builder()
                .protocol("HTTP")
                .load_balancer_port(80)
                .instance_port(80)
                .build()
                .unwrap(),
        )
        .set_subnets(Some(net.subnets.clone()))
        .tags(
            aws_sdk_elasticloadbalancing::types::Tag::builder()
                .key("envctl:tenant")
                .value("someone-else")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = ClassicLoadBalancer
        .apply(&cx, &props(json!({"subnet_ids": net.subnets})))
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("someone-else"), "{err}");
    // Untouched: still its one listener on port 80 → 80.
    assert_eq!(
        classic_listeners(&classic(&t.aws, &name).await),
        [(80, "HTTP".to_string(), 80, None)]
    );
    assert!(
        ClassicLoadBalancer
            .sweep(&t.sweep_cx())
            .await
            .unwrap()
            .is_empty()
    );
    t.aws
        .elb
        .delete_load_balancer()
        .load_balancer_name(&name)
        .send()
        .await
        .unwrap();
}

// --------------------------------------------------------------- RDS ----

async fn db(aws: &AwsClients, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    match aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => out.db_instances().first().cloned(),
        Err(e) if e.code() == Some("DBInstanceNotFound") => None,
        Err(e) => panic!("DescribeDBInstances {id}: {e:?}"),
    }
}

async fn dbs_named(aws: &AwsClients, id: &str) -> usize {
    aws.rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .iter()
        .filter(|i| i.db_instance_identifier() == Some(id))
        .count()
}

fn db_tags(i: &aws_sdk_rds::types::DbInstance) -> HashMap<String, String> {
    i.tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn rds_tags(aws: &AwsClients, arn: &str) -> HashMap<String, String> {
    aws.rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap()
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn subnet_group(aws: &AwsClients, name: &str) -> Option<aws_sdk_rds::types::DbSubnetGroup> {
    match aws
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(out) => out.db_subnet_groups().first().cloned(),
        Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => None,
        Err(e) => panic!("DescribeDBSubnetGroups {name}: {e:?}"),
    }
}

/// moto answers an empty list for a missing parameter group, AWS an error.
async fn parameter_group(
    aws: &AwsClients,
    name: &str,
) -> Option<aws_sdk_rds::types::DbParameterGroup> {
    match aws
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(out) => out.db_parameter_groups().first().cloned(),
        Err(e) if e.code() == Some("DBParameterGroupNotFound") => None,
        Err(e) => panic!("DescribeDBParameterGroups {name}: {e:?}"),
    }
}

async fn final_snapshots(aws: &AwsClients, id: &str) -> Vec<String> {
    aws.rds
        .describe_db_snapshots()
        .send()
        .await
        .unwrap()
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
        .filter(|s| s.starts_with(&format!("{id}-final-")))
        .collect()
}

fn db_props(net: &Net, extra: serde_json::Value) -> Props {
    let mut p = props(json!({
        "password": PASSWORD,
        "subnet_ids": net.subnets,
        "security_group_ids": [net.sg],
    }));
    p.extend(props(extra));
    p
}

#[tokio::test]
async fn rds_instance_is_created_once_encrypted_tagged_swept_and_deleted() {
    let t = T::new("kl-rds");
    let net = t.net().await;
    let cx = t.cx("db");
    let p = db_props(
        &net,
        json!({
            "engine_version": "16.4",
            "parameters": {"log_min_duration_statement": 500, "rds.force_ssl": true},
        }),
    );
    let first = Instance.apply(&cx, &p).await.unwrap();
    let id = out(&first, "identifier");
    assert_eq!(id, "envctl-kl-rds-db");
    assert_eq!(out(&first, "port"), "5432");
    assert_eq!(out(&first, "database"), "app");
    assert_eq!(out(&first, "username"), "app_admin");
    assert_eq!(out(&first, "final_snapshot"), "false");
    assert!(!out(&first, "host").is_empty());
    // The password is no output, and shows nowhere in them.
    assert!(first.get("password").is_none());
    let shown = format!("{first:?} {:?}", first.plain_map());
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(!first.has_secrets());

    let i = db(&t.aws, &id).await.unwrap();
    assert_eq!(out(&first, "arn"), i.db_instance_arn().unwrap());
    assert_eq!(i.storage_encrypted(), Some(true));
    assert_eq!(i.engine(), Some("postgres"));
    assert_eq!(i.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(i.allocated_storage(), Some(20));
    assert_eq!(i.multi_az(), Some(false));
    assert_eq!(i.deletion_protection(), Some(false));
    assert_eq!(
        i.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(id.as_str())
    );
    assert_eq!(
        i.vpc_security_groups()[0].vpc_security_group_id(),
        Some(net.sg.as_str())
    );
    assert_eq!(
        i.db_parameter_groups()[0].db_parameter_group_name(),
        Some(id.as_str())
    );
    let tags = db_tags(&i);
    t.assert_tagged("DB instance", &tags, "db");
    let fingerprint = tags[PASSWORD_TAG].clone();
    assert_eq!(fingerprint.len(), 64);
    assert!(!fingerprint.contains(PASSWORD));
    assert_eq!(tags[FINAL_SNAPSHOT_TAG], "false");

    let group = subnet_group(&t.aws, &id).await.unwrap();
    let mut subnets: Vec<&str> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort();
    let mut want: Vec<&str> = net.subnets.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(subnets, want);
    t.assert_tagged(
        "DB subnet group",
        &rds_tags(&t.aws, group.db_subnet_group_arn().unwrap()).await,
        "db",
    );
    let pg = parameter_group(&t.aws, &id).await.unwrap();
    assert_eq!(pg.db_parameter_group_family(), Some("postgres16"));
    t.assert_tagged(
        "DB parameter group",
        &rds_tags(&t.aws, pg.db_parameter_group_arn().unwrap()).await,
        "db",
    );
    let params: HashMap<String, String> = t
        .aws
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(&id)
        .source("user")
        .send()
        .await
        .unwrap()
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(params["log_min_duration_statement"], "500");
    assert_eq!(params["rds.force_ssl"], "1");

    // ready() reads DBInstanceStatus (moto: `available` at once).
    assert_eq!(Instance.ready(&cx, &first).await.unwrap(), Readiness::Ready);

    // Again: one instance, same outputs, no password change.
    let second = Instance.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(dbs_named(&t.aws, &id).await, 1);
    assert_eq!(
        db_tags(&db(&t.aws, &id).await.unwrap())[PASSWORD_TAG],
        fingerprint
    );

    // A new password (say its stored value was lost and regenerated) is
    // set on the same instance; the outputs do not change.
    let mut rotated = p.clone();
    rotated.insert("password".into(), json!("N3wPassw0rdFromTheStore99"));
    let third = Instance.apply(&cx, &rotated).await.unwrap();
    assert_eq!(third, first);
    assert_eq!(dbs_named(&t.aws, &id).await, 1);
    let new_fingerprint = db_tags(&db(&t.aws, &id).await.unwrap())[PASSWORD_TAG].clone();
    assert_ne!(new_fingerprint, fingerprint);

    // Settings that can change in place do.
    let mut bigger = rotated.clone();
    bigger.insert("allocated_storage".into(), json!(50));
    bigger.insert("instance_class".into(), json!("db.t3.small"));
    Instance.apply(&cx, &bigger).await.unwrap();
    let i = db(&t.aws, &id).await.unwrap();
    assert_eq!(i.allocated_storage(), Some(50));
    assert_eq!(i.db_instance_class(), Some("db.t3.small"));
    // Shrinking storage is refused.
    let err = Instance.apply(&cx, &rotated).await.unwrap_err();
    assert!(err.to_string().contains("shrink"), "{err}");

    let found = Instance.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "db");
    assert_eq!(out(&found[0].outputs, "identifier"), id);

    Instance.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(db(&t.aws, &id).await.is_none());
    assert!(subnet_group(&t.aws, &id).await.is_none());
    assert!(parameter_group(&t.aws, &id).await.is_none());
    assert!(final_snapshots(&t.aws, &id).await.is_empty());
    Instance.delete(&cx, &first).await.unwrap();
    assert!(Instance.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

#[tokio::test]
async fn rds_final_snapshot_is_kept_even_when_deleted_by_a_sweep() {
    let t = T::new("kl-rdss");
    let net = t.net().await;
    let cx = t.cx("db");
    let o = Instance
        .apply(&cx, &db_props(&net, json!({"final_snapshot": true})))
        .await
        .unwrap();
    let id = out(&o, "identifier");
    assert_eq!(out(&o, "final_snapshot"), "true");
    assert!(
        parameter_group(&t.aws, &id).await.is_none(),
        "none asked for"
    );
    // Snapshots carry the instance's tags.
    assert_eq!(
        db(&t.aws, &id).await.unwrap().copy_tags_to_snapshot(),
        Some(true)
    );

    // State lost: the sweep reads the setting from the instance's tag.
    let found = Instance.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(out(&found[0].outputs, "final_snapshot"), "true");
    Instance.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(db(&t.aws, &id).await.is_none());
    assert!(subnet_group(&t.aws, &id).await.is_none());
    let snapshots = final_snapshots(&t.aws, &id).await;
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    Instance.delete(&cx, &o).await.unwrap();
    assert_eq!(final_snapshots(&t.aws, &id).await, snapshots);
    // Kept on purpose and said so: the tenant's tags and envctl:kept, which
    // the sweep and the reaper's orphan detection leave alone.
    let snapshot = t
        .aws
        .rds
        .describe_db_snapshots()
        .db_snapshot_identifier(&snapshots[0])
        .send()
        .await
        .unwrap()
        .db_snapshots()[0]
        .clone();
    let tags = rds_tags(&t.aws, snapshot.db_snapshot_arn().unwrap()).await;
    t.assert_tagged("final snapshot", &tags, "db");
    assert_eq!(
        tags.get("envctl:kept").map(String::as_str),
        Some("final-snapshot"),
        "{tags:?}"
    );
    assert!(Instance.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    t.aws
        .rds
        .delete_db_snapshot()
        .db_snapshot_identifier(&snapshots[0])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn rds_password_never_shows_in_errors() {
    let t = T::new("kl-rdsp");
    let net = t.net().await;
    let cx = t.cx("db");
    let id = cx.physical_name(63);
    for (extra, says) in [
        // Refused by the RDS API (moto knows its engines).
        (json!({"engine": "postgresql"}), "CreateDBInstance"),
        // Refused by the kind before any call.
        (json!({"instance_class": "x1.huge"}), "instance_class"),
        // The password given to another property by mistake.
        // (serde names the type, not the field.)
        (json!({"allocated_storage": PASSWORD}), "expected u32"),
        // ...to one that would be published in the clear: refused.
        (json!({"database": PASSWORD}), "same value as password"),
        (json!({"username": PASSWORD}), "same value as password"),
        (json!({"parameters": {"work_mem": 4096}}), "engine_version"),
        (json!({"unknown": 1}), "unknown"),
    ] {
        let err = Instance
            .apply(&cx, &db_props(&net, extra.clone()))
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, KindError::Permanent(_)), "{extra}: {text}");
        assert!(text.contains(says), "{extra}: {text}");
        assert!(
            !text.contains(PASSWORD),
            "{extra}: the password shows: {text}"
        );
    }
    // A password RDS would refuse: named, never shown.
    for bad in [
        "sh0rt",
        "with space 1234",
        "with/slash/1234",
        "with@at@1234",
    ] {
        let mut p = db_props(&net, json!({}));
        p.insert("password".into(), json!(bad));
        let err = Instance.apply(&cx, &p).await.unwrap_err().to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains(bad), "{err}");
    }
    // A subnet that does not exist: the API refuses the subnet group.
    let err = Instance
        .apply(
            &cx,
            &db_props(
                &net,
                json!({"subnet_ids": "subnet-00000000,subnet-11111111"}),
            ),
        )
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(PASSWORD), "{err}");
    assert!(db(&t.aws, &id).await.is_none());

    // The failed attempts left at most a subnet group; delete removes it.
    Instance
        .delete(&cx, &Outputs::new().plain("identifier", &id))
        .await
        .unwrap();
    assert!(subnet_group(&t.aws, &id).await.is_none());
}

#[tokio::test]
async fn rds_deletion_protection_blocks_delete_until_turned_off() {
    let t = T::new("kl-rdsd");
    let net = t.net().await;
    let cx = t.cx("db");
    let o = Instance
        .apply(&cx, &db_props(&net, json!({"deletion_protection": true})))
        .await
        .unwrap();
    let id = out(&o, "identifier");
    let err = Instance.delete(&cx, &o).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("deletion_protection"), "{err}");
    assert!(db(&t.aws, &id).await.is_some());

    let o2 = Instance
        .apply(&cx, &db_props(&net, json!({"deletion_protection": false})))
        .await
        .unwrap();
    assert_eq!(o, o2);
    assert_eq!(
        db(&t.aws, &id).await.unwrap().deletion_protection(),
        Some(false)
    );
    Instance.delete(&cx, &o2).await.unwrap();
    assert!(db(&t.aws, &id).await.is_none());
    assert!(subnet_group(&t.aws, &id).await.is_none());
}

#[tokio::test]
async fn rds_instance_of_another_tenant_is_not_adopted_nor_swept() {
    let t = T::new("kl-rdsx");
    let net = t.net().await;
    let cx = t.cx("db");
    let id = cx.physical_name(63);
    let tag = |k: &str, v: &str| aws_sdk_rds::types::Tag::builder().key(k).value(v).build();
    // Someone else's instance under our identifier.
    t.aws
        .rds
        .create_db_instance()
        .db_instance_identifier(&id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("other")
        .master_user_password("OtherPassword123")
        .tags(tag("envctl:tenant", "someone-else"))
        .tags(tag("envctl:managed", "true"))
        .tags(tag("envctl:resource", "db"))
        .send()
        .await
        .unwrap();
    // And one of ours that envctl does not manage.
    let unmanaged = format!("{id}-manual");
    t.aws
        .rds
        .create_db_instance()
        .db_instance_identifier(&unmanaged)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("other")
        .master_user_password("OtherPassword123")
        .tags(tag("envctl:tenant", t.tenant.as_str()))
        .tags(tag("envctl:resource", "manual"))
        .send()
        .await
        .unwrap();

    let err = Instance
        .apply(&cx, &db_props(&net, json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(!err.to_string().contains(PASSWORD));
    let theirs = db(&t.aws, &id).await.unwrap();
    assert_eq!(theirs.master_username(), Some("other"));
    assert!(!db_tags(&theirs).contains_key(PASSWORD_TAG));
    // Refused before anything was made; nothing of ours to sweep.
    assert!(subnet_group(&t.aws, &id).await.is_none());
    let found = Instance.sweep(&t.sweep_cx()).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    // A delete under our name leaves their instance alone.
    Instance
        .delete(&cx, &Outputs::new().plain("identifier", &id))
        .await
        .unwrap();
    assert!(db(&t.aws, &id).await.is_some());

    for i in [&id, &unmanaged] {
        t.aws
            .rds
            .delete_db_instance()
            .db_instance_identifier(i)
            .skip_final_snapshot(true)
            .send()
            .await
            .unwrap();
    }
}
