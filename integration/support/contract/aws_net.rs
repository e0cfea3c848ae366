//! Contract cases of the AWS kinds that live in a VPC or run code:
//! `aws.ec2.network`, `aws.ec2.security_group`, `aws.elbv2.load_balancer`,
//! `aws.elbv2.host_rule` (on a load balancer made raw, tagged as another
//! tenant's), `aws.elb.classic`, `aws.rds.instance`, `aws.autoscaling.group` and
//! `aws.lambda.function`. The VPC, subnets and security group they need are
//! made with raw EC2 calls, as `kinds_lb_db` does.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use envctl::kinds::{Cx, Outputs, Props};
use serde_json::json;

use super::{Case, Marks, out, props};
use crate::support::kinds::KindWorld;
use crate::support::repo_root;

pub static CASES: [&dyn Case; 8] = [
    &Network,
    &SecurityGroup,
    &LoadBalancer,
    &HostRule,
    &Classic,
    &Database,
    &Group,
    &Function,
];

/// What a secret.password resource would hand the database kind.
const PASSWORD: &str = "Zq7uXk2Lw9PbR4tNc8Vy3MhD";

/// A raw VPC with two subnets in two Availability Zones and a security group.
struct Net {
    vpc: String,
    subnets: Vec<String>,
    sg: String,
}

async fn raw_net(w: &KindWorld) -> Net {
    let ec2 = &w.aws.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
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
        subnets.push(s.subnet().and_then(|s| s.subnet_id()).unwrap().to_string());
    }
    let sg = ec2
        .create_security_group()
        .group_name(format!("{}-raw", w.tenant))
        .description("contract prerequisite")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    Net { vpc, subnets, sg }
}

fn tenant_filter(w: &KindWorld) -> Filter {
    Filter::builder()
        .name("tag:envctl:tenant")
        .values(w.tenant.as_str())
        .build()
}

fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> HashMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

// ------------------------------------------------------------- network ----

struct Network;

async fn tenant_vpcs(w: &KindWorld) -> Vec<aws_sdk_ec2::types::Vpc> {
    w.aws
        .ec2
        .describe_vpcs()
        .filters(tenant_filter(w))
        .send()
        .await
        .unwrap()
        .vpcs()
        .to_vec()
}

#[async_trait]
impl Case for Network {
    fn kind_name(&self) -> &'static str {
        "aws.ec2.network"
    }
    fn code(&self) -> &'static str {
        "net"
    }
    fn identity(&self) -> &'static str {
        "vpc_id"
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        props(json!({}))
    }
    async fn count(&self, w: &KindWorld, _out: &Outputs) -> usize {
        tenant_vpcs(w).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let vpc = out(o, "vpc_id");
        let vpcs = tenant_vpcs(w).await;
        let v = vpcs.iter().find(|v| v.vpc_id() == Some(vpc.as_str()))?;
        Some(Marks::Tags(ec2_tags(v.tags())))
    }
}

// ------------------------------------------------------ security group ----

struct SecurityGroup;

async fn tenant_groups(w: &KindWorld) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    w.aws
        .ec2
        .describe_security_groups()
        .filters(tenant_filter(w))
        .send()
        .await
        .unwrap()
        .security_groups()
        .to_vec()
}

#[async_trait]
impl Case for SecurityGroup {
    fn kind_name(&self) -> &'static str {
        "aws.ec2.security_group"
    }
    fn code(&self) -> &'static str {
        "sg"
    }
    fn identity(&self) -> &'static str {
        "group_id"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let net = raw_net(w).await;
        props(json!({"vpc_id": net.vpc, "description": "contract"}))
    }
    async fn count(&self, w: &KindWorld, _out: &Outputs) -> usize {
        tenant_groups(w).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let id = out(o, "group_id");
        let groups = tenant_groups(w).await;
        let g = groups.iter().find(|g| g.group_id() == Some(id.as_str()))?;
        Some(Marks::Tags(ec2_tags(g.tags())))
    }
}

// --------------------------------------------------------------- ELBv2 ----

struct LoadBalancer;

#[async_trait]
impl Case for LoadBalancer {
    fn kind_name(&self) -> &'static str {
        "aws.elbv2.load_balancer"
    }
    fn code(&self) -> &'static str {
        "alb"
    }
    fn identity(&self) -> &'static str {
        "arn"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let net = raw_net(w).await;
        props(json!({"subnet_ids": net.subnets, "security_group_ids": [net.sg]}))
    }
    /// Load balancers of the name (moto lets two share one; AWS does not).
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let name = out(o, "name");
        let all = w.aws.elbv2.describe_load_balancers().send().await.unwrap();
        all.load_balancers()
            .iter()
            .filter(|lb| lb.load_balancer_name() == Some(name.as_str()))
            .count()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let d = w
            .aws
            .elbv2
            .describe_tags()
            .resource_arns(out(o, "arn"))
            .send()
            .await
            .unwrap();
        let tags = d.tag_descriptions().first()?.tags();
        Some(Marks::Tags(
            tags.iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
        ))
    }
}

// ----------------------------------------------------------- host rule ----

struct HostRule;

/// The tenant whose load balancer `w`'s host rule goes on.
fn edge_owner(w: &KindWorld) -> String {
    format!("{}-own", w.tenant)
}

/// The tenant's rules on `listener`, by their tags (raw DescribeRules and
/// DescribeTags).
async fn tenant_rules(w: &KindWorld, listener: &str) -> Vec<(String, HashMap<String, String>)> {
    let rules = w
        .aws
        .elbv2
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for r in rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
    {
        let arn = r.rule_arn().unwrap().to_string();
        let d = w
            .aws
            .elbv2
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .unwrap();
        let tags: HashMap<String, String> = d
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        if tags.get("envctl:tenant").map(String::as_str) == Some(w.tenant.as_str()) {
            found.push((arn, tags));
        }
    }
    found
}

#[async_trait]
impl Case for HostRule {
    fn kind_name(&self) -> &'static str {
        "aws.elbv2.host_rule"
    }
    fn code(&self) -> &'static str {
        "hr"
    }
    fn identity(&self) -> &'static str {
        "rule_arn"
    }
    /// Another tenant's load balancer, made raw as its aws.elbv2.load_balancer
    /// would be (name and tags), with an HTTP:80 listener answering 404.
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum, Tag,
        };
        let net = raw_net(w).await;
        let owner = envctl::tenant::TenantName::parse(&edge_owner(w)).unwrap();
        let name = envctl::tenant::physical_name(&owner, "alb", 32);
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let lb = w
            .aws
            .elbv2
            .create_load_balancer()
            .name(&name)
            .set_subnets(Some(net.subnets.clone()))
            .security_groups(&net.sg)
            .tags(tag("envctl:tenant", owner.as_str()))
            .tags(tag("envctl:resource", "alb"))
            .tags(tag("envctl:managed", "true"))
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string();
        w.aws
            .elbv2
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code("404")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        props(json!({
            "shared_from": format!("{owner}/alb"),
            "hosts": [format!("{}.example.org", w.tenant)],
        }))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        tenant_rules(w, &out(o, "listener_arn")).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let rule = out(o, "rule_arn");
        let rules = tenant_rules(w, &out(o, "listener_arn")).await;
        let (_, tags) = rules.into_iter().find(|(arn, _)| *arn == rule)?;
        Some(Marks::Tags(tags))
    }
}

// ------------------------------------------------------------- classic ----

struct Classic;

#[async_trait]
impl Case for Classic {
    fn kind_name(&self) -> &'static str {
        "aws.elb.classic"
    }
    fn code(&self) -> &'static str {
        "elb"
    }
    fn identity(&self) -> &'static str {
        "name"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let net = raw_net(w).await;
        props(json!({"subnet_ids": net.subnets, "security_group_ids": [net.sg]}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let name = out(o, "name");
        let all = w.aws.elb.describe_load_balancers().send().await.unwrap();
        all.load_balancer_descriptions()
            .iter()
            .filter(|d| d.load_balancer_name() == Some(name.as_str()))
            .count()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let d = w
            .aws
            .elb
            .describe_tags()
            .load_balancer_names(out(o, "name"))
            .send()
            .await
            .unwrap();
        let tags = d.tag_descriptions().first()?.tags();
        Some(Marks::Tags(
            tags.iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                .collect(),
        ))
    }
}

// ----------------------------------------------------------------- RDS ----

struct Database;

async fn instances(w: &KindWorld, id: &str) -> Vec<aws_sdk_rds::types::DbInstance> {
    let all = w.aws.rds.describe_db_instances().send().await.unwrap();
    all.db_instances()
        .iter()
        .filter(|i| i.db_instance_identifier() == Some(id))
        .cloned()
        .collect()
}

#[async_trait]
impl Case for Database {
    fn kind_name(&self) -> &'static str {
        "aws.rds.instance"
    }
    fn code(&self) -> &'static str {
        "rds"
    }
    fn identity(&self) -> &'static str {
        "identifier"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let net = raw_net(w).await;
        props(json!({
            "password": PASSWORD,
            "subnet_ids": net.subnets,
            "security_group_ids": [net.sg],
        }))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        instances(w, &out(o, "identifier")).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let i = instances(w, &out(o, "identifier")).await.pop()?;
        Some(Marks::Tags(
            i.tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
        ))
    }
}

// ---------------------------------------------------------- autoscaling ----

struct Group;

async fn groups_named(
    w: &KindWorld,
    name: &str,
) -> Vec<aws_sdk_autoscaling::types::AutoScalingGroup> {
    w.aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
        .to_vec()
}

#[async_trait]
impl Case for Group {
    fn kind_name(&self) -> &'static str {
        "aws.autoscaling.group"
    }
    fn code(&self) -> &'static str {
        "asg"
    }
    fn identity(&self) -> &'static str {
        "name"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let net = raw_net(w).await;
        props(json!({"subnet_ids": net.subnets, "security_group_ids": [net.sg]}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        groups_named(w, &out(o, "name")).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let g = groups_named(w, &out(o, "name")).await.pop()?;
        Some(Marks::Tags(
            g.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect(),
        ))
    }
}

// -------------------------------------------------------------- Lambda ----

struct Function;

#[async_trait]
impl Case for Function {
    fn kind_name(&self) -> &'static str {
        "aws.lambda.function"
    }
    fn code(&self) -> &'static str {
        "fn"
    }
    fn identity(&self) -> &'static str {
        "arn"
    }
    async fn prepare(&self, _w: &KindWorld, _cx: &mut Cx) -> Props {
        let source = repo_root().join("stacks/assets/thumbnailer");
        props(json!({"source": source.to_str().unwrap()}))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        let name = out(o, "name");
        let mut n = 0;
        let mut items = w
            .aws
            .lambda
            .list_functions()
            .into_paginator()
            .items()
            .send();
        while let Some(f) = items.next().await {
            if f.unwrap().function_name() == Some(name.as_str()) {
                n += 1;
            }
        }
        n
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        let t = w
            .aws
            .lambda
            .list_tags()
            .resource(out(o, "arn"))
            .send()
            .await
            .unwrap();
        Some(Marks::Tags(t.tags()?.clone().into_iter().collect()))
    }
}
