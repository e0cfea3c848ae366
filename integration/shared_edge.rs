//! The shared edge against a private moto server: one tenant's load
//! balancer (`aws.elbv2.load_balancer` with `unmatched: not-found`) and
//! six tenants' `aws.elbv2.host_rule`s on it, applied at the same time.
//! Every check of what exists uses the raw SDK, not the kinds: distinct
//! priorities, each rule tagged for its tenant and forwarding to that
//! tenant's target group; a host another tenant has is refused; the owner's
//! delete refuses while rules remain, naming their tenants; one tenant's
//! delete removes its rule and target group and nothing else; a tenant's
//! sweep leaves the shared load balancer.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_acm::types::ValidationMethod;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, RuleCondition,
};
use envctl::aws::AwsClients;
use envctl::kinds::aws::elb::v2::{HostRule, LoadBalancer, host_rule_room};
use envctl::kinds::{Cx, Kind, KindError, Outputs, Props};
use serde_json::json;
use support::kinds::KindWorld;

const DOMAIN: &str = "envctl-demo.net";
const OWNER: &str = "se-edge";
const TENANTS: usize = 6;

fn props(v: serde_json::Value) -> Props {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("props must be an object, got {other}"),
    }
}

fn out(o: &Outputs, name: &str) -> String {
    o.require(name).unwrap().to_string()
}

/// Runs `op` until it succeeds, retrying transient errors as the engine
/// does; a permanent error is returned.
async fn until_done<T, F, Fut>(what: &str, mut op: F) -> Result<T, KindError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, KindError>>,
{
    let started = Instant::now();
    loop {
        match op().await {
            Err(e) if e.is_transient() => {
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "{what}: still failing: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// A VPC with two subnets in two zones and a security group (raw calls).
async fn network(aws: &AwsClients) -> (String, Vec<String>, String) {
    let ec2 = &aws.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.60.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.60.{i}.0/24"))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let sg = ec2
        .create_security_group()
        .group_name("se-alb")
        .description("shared edge")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    (vpc, subnets, sg.group_id().unwrap().to_string())
}

/// The non-default rules of a listener: ARN -> (priority, hosts, target group).
async fn rules(
    aws: &AwsClients,
    listener: &str,
) -> BTreeMap<String, (u32, BTreeSet<String>, String)> {
    let out = aws
        .elbv2
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .unwrap();
    out.rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let hosts: BTreeSet<String> = r
                .conditions()
                .iter()
                .flat_map(|c| {
                    c.host_header_config()
                        .map(|h| h.values().to_vec())
                        .unwrap_or_default()
                })
                .collect();
            let tg = r.actions()[0]
                .target_group_arn()
                .unwrap_or_default()
                .to_string();
            (
                r.rule_arn().unwrap().to_string(),
                (r.priority().unwrap().parse::<u32>().unwrap(), hosts, tg),
            )
        })
        .collect()
}

async fn tags(aws: &AwsClients, arn: &str) -> BTreeMap<String, String> {
    let d = aws
        .elbv2
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap();
    d.tag_descriptions()
        .first()
        .map(|d| {
            d.tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap().to_string(),
                        t.value().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn tg_exists(aws: &AwsClients, arn: &str) -> bool {
    match aws
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    {
        Ok(o) => !o.target_groups().is_empty(),
        Err(e) if e.code() == Some("TargetGroupNotFound") => false,
        Err(e) => panic!("DescribeTargetGroups: {e:?}"),
    }
}

async fn lb_exists(aws: &AwsClients, arn: &str) -> bool {
    match aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
    {
        Ok(o) => !o.load_balancers().is_empty(),
        Err(e) if e.code() == Some("LoadBalancerNotFound") => false,
        Err(e) => panic!("DescribeLoadBalancers: {e:?}"),
    }
}

fn tenant(i: usize) -> String {
    format!("se-t{i}")
}

fn rule_props() -> Props {
    props(json!({
        "shared_from": format!("{OWNER}/alb"),
        "subdomain_of": DOMAIN,
        "suffixes": ["", "-api"],
    }))
}

async fn apply_rule(w: &KindWorld, p: &Props) -> Result<Outputs, KindError> {
    let cx = w.cx("edge");
    until_done(&format!("host rule of {}", w.tenant), || {
        HostRule.apply(&cx, p)
    })
    .await
}

async fn delete(kind: &dyn Kind, cx: &Cx, o: &Outputs) -> Result<(), KindError> {
    until_done(&format!("{} delete for {}", kind.name(), cx.tenant), || {
        kind.delete(cx, o)
    })
    .await
}

#[tokio::test]
async fn tenants_share_one_load_balancer_through_host_rules() {
    let owner = KindWorld::new("shared-edge", OWNER, "se-values");
    let aws = owner.aws.clone();
    let (vpc, subnets, sg) = network(&aws).await;
    let cert = aws
        .acm
        .request_certificate()
        .domain_name(format!("*.{DOMAIN}"))
        .validation_method(ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();

    // The shared edge: HTTPS with the wildcard certificate, 404 by default.
    let owner_cx = owner.cx("alb");
    let edge_props = props(json!({
        "subnet_ids": subnets, "security_group_ids": [sg], "vpc_id": vpc,
        "certificate_arn": cert, "unmatched": "not-found",
    }));
    let edge = until_done("shared load balancer", || {
        LoadBalancer.apply(&owner_cx, &edge_props)
    })
    .await
    .unwrap();
    let lb_arn = out(&edge, "arn");
    let listener = out(&edge, "https_listener_arn");
    let l = aws
        .elbv2
        .describe_listeners()
        .listener_arns(&listener)
        .send()
        .await
        .unwrap();
    let default: &Action = &l.listeners()[0].default_actions()[0];
    assert_eq!(default.r#type(), Some(&ActionTypeEnum::FixedResponse));
    assert_eq!(
        default.fixed_response_config().unwrap().status_code(),
        Some("404")
    );

    // Six tenants at once.
    let worlds: Vec<KindWorld> = (0..TENANTS)
        .map(|i| KindWorld::new("tenant-fast", &tenant(i), "se-values"))
        .collect();
    let mut tasks = Vec::new();
    for i in 0..TENANTS {
        tasks.push(tokio::spawn(async move {
            let w = KindWorld::new("tenant-fast", &tenant(i), "se-values");
            apply_rule(&w, &rule_props()).await.unwrap()
        }));
    }
    let mut outs = Vec::new();
    for t in tasks {
        outs.push(t.await.unwrap());
    }

    // Checked with the raw SDK: six rules, six priorities, each tenant's
    // hosts to its own target group, tagged as its own.
    let found = rules(&aws, &listener).await;
    assert_eq!(found.len(), TENANTS, "{found:?}");

    // Preflight's view of the room left: six rules; a tenant that has its
    // rule needs none more, a new one needs one; the limit is moto's
    // DescribeAccountLimits answer.
    let edge_ids = vec!["edge".to_string()];
    let room = host_rule_room(&aws.elbv2, &format!("{OWNER}/alb"), &tenant(0), &edge_ids)
        .await
        .unwrap();
    // Each tenant's rule forwards to a target group of its own; the
    // default action (404) to none.
    assert_eq!(
        (room.rules, room.target_groups),
        (TENANTS as u32, TENANTS as u32),
        "{room:?}"
    );
    // moto names the rules limit; it does not name the target-group one
    // (AWS does, API_Limit.html), so that one is AWS's default, said so.
    let limits = envctl::preflight::edge_limits(&aws.elbv2).await;
    assert_eq!(
        (limits.rules.value, limits.target_groups.value),
        (100, 100),
        "{limits:?}"
    );
    assert!(limits.rules.source.contains("applied value"), "{limits:?}");
    assert!(
        limits
            .target_groups
            .source
            .contains("DescribeAccountLimits"),
        "{limits:?}"
    );
    assert!(room.held.contains("edge"), "{room:?}");
    let newcomer = host_rule_room(&aws.elbv2, &format!("{OWNER}/alb"), "se-new", &edge_ids)
        .await
        .unwrap();
    assert!(newcomer.held.is_empty(), "{newcomer:?}");

    let priorities: BTreeSet<u32> = found.values().map(|(p, _, _)| *p).collect();
    assert_eq!(
        priorities.len(),
        TENANTS,
        "priorities given twice: {found:?}"
    );
    for (i, o) in outs.iter().enumerate() {
        let t = tenant(i);
        let rule = out(o, "rule_arn");
        let (p, hosts, tg) = &found[&rule];
        assert_eq!(out(o, "priority"), p.to_string());
        let want: BTreeSet<String> = [format!("{t}.{DOMAIN}"), format!("{t}-api.{DOMAIN}")].into();
        assert_eq!(hosts, &want, "{t}");
        assert_eq!(out(o, "host_1"), format!("{t}.{DOMAIN}"));
        assert_eq!(out(o, "host_2"), format!("{t}-api.{DOMAIN}"));
        assert_eq!(tg, &out(o, "target_group_arn"));
        assert_eq!(out(o, "load_balancer_arn"), lb_arn);
        assert_eq!(out(o, "dns_name"), out(&edge, "dns_name"));
        for arn in [&rule, tg] {
            let tg_tags: std::collections::HashMap<String, String> =
                tags(&aws, arn).await.into_iter().collect();
            worlds[i].assert_tagged(arn, &tg_tags, "edge");
        }
    }

    // Again: the same rule, nothing more.
    let again = apply_rule(&worlds[0], &rule_props()).await.unwrap();
    assert_eq!(again, outs[0]);
    assert_eq!(rules(&aws, &listener).await.len(), TENANTS);

    // moto enforces what the picker relies on: one rule per priority, and
    // no deleting a target group a rule uses.
    let taken = rules(&aws, &listener).await[&out(&outs[0], "rule_arn")].0;
    let clash = aws
        .elbv2
        .create_rule()
        .listener_arn(&listener)
        .priority(taken as i32)
        .conditions(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .values("x.example.org")
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(out(&outs[0], "target_group_arn"))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(clash.code(), Some("PriorityInUse"), "{clash:?}");
    let in_use = aws
        .elbv2
        .delete_target_group()
        .target_group_arn(out(&outs[0], "target_group_arn"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Some("ResourceInUse"), "{in_use:?}");

    // A host another tenant answers is refused, naming that tenant.
    let thief = KindWorld::new("tenant-fast", "se-thief", "se-values");
    let err = apply_rule(
        &thief,
        &props(json!({"shared_from": format!("{OWNER}/alb"), "hosts": [format!("se-t1-api.{DOMAIN}")]})),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("tenant 'se-t1'") && msg.contains("se-t1-api"),
        "{msg}"
    );
    assert_eq!(rules(&aws, &listener).await.len(), TENANTS);
    let thief_tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
    assert!(
        !thief_tgs
            .target_groups()
            .iter()
            .any(|t| t.target_group_name() == Some("envctl-se-thief-edge")),
        "the refused tenant left a target group"
    );

    // The owner cannot destroy the edge from under its tenants.
    let err = delete(&LoadBalancer, &owner_cx, &edge).await.unwrap_err();
    let msg = err.to_string();
    for i in 0..TENANTS {
        assert!(msg.contains(&tenant(i)), "{msg}");
    }
    assert!(lb_exists(&aws, &lb_arn).await);
    assert_eq!(rules(&aws, &listener).await.len(), TENANTS);

    // One tenant's destroy: its rule, then its target group; the others
    // stay.
    let cx0 = worlds[0].cx("edge");
    delete(&HostRule, &cx0, &outs[0]).await.unwrap();
    let left = rules(&aws, &listener).await;
    assert_eq!(left.len(), TENANTS - 1);
    assert!(!left.contains_key(&out(&outs[0], "rule_arn")));
    assert!(!tg_exists(&aws, &out(&outs[0], "target_group_arn")).await);
    for o in &outs[1..] {
        assert!(left.contains_key(&out(o, "rule_arn")));
        assert!(tg_exists(&aws, &out(o, "target_group_arn")).await);
    }
    // Deleting again is fine.
    delete(&HostRule, &cx0, &outs[0]).await.unwrap();

    // A sweep of tenant 1 (its state lost), as destroy runs it: the host
    // rule kind, then the load balancer kind. It finds tenant 1's rule and
    // target group and never the shared load balancer.
    let scx = worlds[1].sweep_cx();
    let cx1 = worlds[1].cx("edge");
    let swept = HostRule.sweep(&scx).await.unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].resource_id, "edge");
    assert_eq!(
        out(&swept[0].outputs, "rule_arn"),
        out(&outs[1], "rule_arn")
    );
    for f in &swept {
        delete(&HostRule, &cx1, &f.outputs).await.unwrap();
    }
    for f in LoadBalancer.sweep(&scx).await.unwrap() {
        assert!(
            f.outputs.get("arn").is_none(),
            "tenant 1's sweep found a load balancer: {f:?}"
        );
        delete(&LoadBalancer, &cx1, &f.outputs).await.unwrap();
    }
    assert!(lb_exists(&aws, &lb_arn).await);
    let left = rules(&aws, &listener).await;
    assert_eq!(left.len(), TENANTS - 2);
    assert!(!tg_exists(&aws, &out(&outs[1], "target_group_arn")).await);

    // Once every tenant is gone, the edge can go.
    for (i, o) in outs.iter().enumerate().skip(2) {
        delete(&HostRule, &worlds[i].cx("edge"), o).await.unwrap();
    }
    assert!(rules(&aws, &listener).await.is_empty());
    delete(&LoadBalancer, &owner_cx, &edge).await.unwrap();
    assert!(!lb_exists(&aws, &lb_arn).await);
}

#[tokio::test]
async fn a_host_rule_without_its_shared_load_balancer_says_what_to_create() {
    let w = KindWorld::new("tenant-fast", "se-lonely", "se-values");
    let err = apply_rule(
        &w,
        &props(json!({"shared_from": "se-nobody/alb", "hosts": ["a.example.org"]})),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("se-nobody") && msg.contains("stacks/shared-edge.yaml"),
        "{msg}"
    );
}
