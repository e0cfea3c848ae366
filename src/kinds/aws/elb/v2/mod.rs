//! The `aws.elbv2.load_balancer` kind: an Application (or Network) Load
//! Balancer per tenant resource with one target group. An ALB with a
//! certificate gets an HTTPS:443 listener forwarding to the target group, an
//! HTTP:80 listener redirecting to it, and a host-header rule per host; an NLB
//! gets one TCP listener. A load balancer tenants share (`unmatched:
//! not-found`: a 404 for unknown hosts) carries other tenants' rules: the
//! `aws.elbv2.host_rule` kind ([`HostRule`], in `host_rule`), which this
//! kind leaves alone and will not be deleted from under. What it shares
//! with the Classic Load Balancer kind (names, scheme, defaults) is in
//! [`super`].
//!
//! Here are the kind ([`Kind`] impl); beside it its properties (`props`),
//! the load balancer and target group (`balancer`), listeners and rules
//! (`listeners`), tags (`tagging`) and deletion (`delete`).

mod balancer;
mod delete;
mod host_rule;
mod listeners;
mod props;
mod tagging;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerStateEnum, ProtocolEnum};

use crate::kinds::aws::classify;
use crate::kinds::aws::owner::swept_resource;
use crate::kinds::schema::PropSchema;
use crate::kinds::{Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx};
use balancer::{TgSpec, ensure_lb, ensure_tg, lb_by_arn};
use delete::{delete_lb, delete_tg, refuse_while_shared, tg_exists};
pub use host_rule::HostRule;
pub use host_rule::room::{Room, room as host_rule_room};
pub use listeners::SSL_POLICY;
use listeners::{
    WantAction, WantListener, converge_rules, delete_listener, ensure_listener, listeners_of,
};
use props::{LbType, NAME, OUTPUTS, SCHEMA, Unmatched, wanted};
use tagging::tags_of;

pub struct LoadBalancer;

#[async_trait]
impl Kind for LoadBalancer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "elb"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// A new ALB is `provisioning` for about three minutes before it is
    /// `active` (typical figure for AWS; the ELB user guide, "Load balancer
    /// state", documents the states but no duration, and the SDK's
    /// `load_balancer_available` waiter polls every 15 s for up to 10 min).
    /// Target group, listeners and rules add a few seconds.
    fn expected(&self) -> Duration {
        Duration::from_secs(180)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let w = wanted(cx, props)?;
        let elbv2 = &cx.backends.aws.elbv2;
        let lb = ensure_lb(elbv2, cx, &w).await?;
        let lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let vpc = w
            .vpc_id
            .clone()
            .or_else(|| lb.vpc_id().map(str::to_string))
            .ok_or_else(|| {
                KindError::Permanent(format!(
                    "load balancer {}: no VPC known for the target group; set vpc_id",
                    w.name
                ))
            })?;
        let tg = TgSpec {
            name: &w.name,
            lb_type: w.lb_type,
            target_port: w.target_port,
            health_check_path: &w.health_check_path,
        };
        let tg_arn = ensure_tg(elbv2, cx, &tg, &vpc).await?;

        let forward = WantAction::Forward(tg_arn.clone());
        // What the serving listener does with a host no rule has.
        let serve = match w.unmatched {
            Unmatched::Forward => forward.clone(),
            Unmatched::NotFound => WantAction::NotFound,
        };
        let wanted_listeners: Vec<WantListener> = match (w.lb_type, &w.certificate) {
            (LbType::Application, Some(cert)) => vec![
                WantListener {
                    port: 443,
                    protocol: ProtocolEnum::Https,
                    certificate: Some(cert.clone()),
                    action: serve,
                },
                WantListener {
                    port: 80,
                    protocol: ProtocolEnum::Http,
                    certificate: None,
                    action: WantAction::RedirectToHttps,
                },
            ],
            (LbType::Application, None) => vec![WantListener {
                port: 80,
                protocol: ProtocolEnum::Http,
                certificate: None,
                action: serve,
            }],
            (LbType::Network, _) => vec![WantListener {
                port: i32::from(w.listener_port),
                protocol: ProtocolEnum::Tcp,
                certificate: None,
                action: forward,
            }],
        };
        let existing = listeners_of(elbv2, &lb_arn).await?.ok_or_else(|| {
            KindError::Transient(format!(
                "load balancer {} vanished while it was being set up",
                w.name
            ))
        })?;
        // Listeners on ports we no longer want go (a removed certificate
        // leaves no HTTPS listener behind).
        let ports: BTreeSet<i32> = wanted_listeners.iter().map(|l| l.port).collect();
        for l in &existing {
            if let (Some(port), Some(arn)) = (l.port(), l.listener_arn())
                && !ports.contains(&port)
            {
                // Not from under other tenants' host rules.
                refuse_while_shared(elbv2, &lb_arn, std::slice::from_ref(l), cx.tenant.as_str())
                    .await?;
                delete_listener(elbv2, arn).await?;
            }
        }
        let mut arns = Vec::new();
        for want in &wanted_listeners {
            arns.push(ensure_listener(elbv2, cx, &lb_arn, &existing, want).await?);
        }
        // The first listener serves (forwards); host rules live there, and
        // nowhere else (a rule on the redirecting listener would bypass it).
        let serving = arns[0].clone();
        for (i, arn) in arns.iter().enumerate() {
            let hosts: &[String] = if i == 0 { &w.hosts } else { &[] };
            converge_rules(elbv2, cx, arn, hosts, &tg_arn).await?;
        }

        let mut out = Outputs::new()
            .plain("arn", &lb_arn)
            .plain("name", &w.name)
            .plain("dns_name", lb.dns_name().unwrap_or_default())
            .plain(
                "canonical_hosted_zone_id",
                lb.canonical_hosted_zone_id().unwrap_or_default(),
            )
            .plain("target_group_arn", tg_arn)
            .plain("listener_arn", &serving);
        if w.certificate.is_some() && w.lb_type == LbType::Application {
            out = out.plain("https_listener_arn", serving);
        }
        Ok(out)
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let arn = out.require("arn")?;
        let Some(lb) = lb_by_arn(&cx.backends.aws.elbv2, arn).await? else {
            // The API is eventually consistent; the SDK's waiter retries too.
            return Ok(Readiness::Pending("load balancer not visible yet".into()));
        };
        let state = lb.state();
        let reason = state.and_then(|s| s.reason()).unwrap_or("");
        match state.and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) => Ok(Readiness::Ready),
            Some(LoadBalancerStateEnum::Failed) => Err(KindError::Permanent(format!(
                "load balancer {} failed to provision: {reason}",
                lb.load_balancer_name().unwrap_or(arn)
            ))),
            Some(code) => Ok(Readiness::Pending(
                format!("{} {reason}", code.as_str()).trim().to_string(),
            )),
            None => Ok(Readiness::Pending("no state reported yet".into())),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let lb = out.get("arn").map(|v| v.expose().to_string());
        let tg = out.get("target_group_arn").map(|v| v.expose().to_string());
        if lb.is_none() && tg.is_none() {
            return Err(KindError::Permanent(
                "output 'arn' (or 'target_group_arn') is missing".into(),
            ));
        }
        // The target group goes after the load balancer: its listeners use it.
        if let Some(arn) = lb {
            delete_lb(elbv2, &arn, cx.tenant.as_str()).await?;
        }
        if let Some(arn) = tg {
            delete_tg(elbv2, &arn, cx.tenant.as_str()).await?;
        }
        Ok(())
    }

    /// Gone when neither the load balancer nor its target group is found.
    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        if let Some(arn) = out.get("arn").map(|v| v.expose())
            && let Some(lb) = lb_by_arn(elbv2, arn).await?
        {
            return Ok(Readiness::Pending(format!(
                "load balancer {} is still there",
                lb.load_balancer_name().unwrap_or(arn)
            )));
        }
        if let Some(arn) = out.get("target_group_arn").map(|v| v.expose())
            && tg_exists(elbv2, arn).await?
        {
            return Ok(Readiness::Pending(format!(
                "target group {arn} is still there"
            )));
        }
        Ok(Readiness::Ready)
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let tenant = cx.tenant.as_str();
        // Names may be cut short (32 characters), so every load balancer's
        // tags are read, not just those whose name starts with the tenant.
        let mut lbs: Vec<(String, String)> = Vec::new();
        let mut pages = elbv2.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeLoadBalancers", e))?;
            for lb in page.load_balancers() {
                if let (Some(arn), Some(name)) = (lb.load_balancer_arn(), lb.load_balancer_name()) {
                    lbs.push((arn.to_string(), name.to_string()));
                }
            }
        }
        let mut tgs: Vec<String> = Vec::new();
        let mut pages = elbv2.describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeTargetGroups", e))?;
            tgs.extend(
                page.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            );
        }
        let lb_arns: Vec<String> = lbs.iter().map(|(a, _)| a.clone()).collect();
        let lb_tags = tags_of(elbv2, &lb_arns).await?;
        let tg_tags = tags_of(elbv2, &tgs).await?;

        // resource id → (load balancers, target groups)
        type Pair = (Vec<(String, String)>, Vec<String>);
        let mut by_resource: BTreeMap<String, Pair> = BTreeMap::new();
        for (arn, name) in lbs {
            if let Some(id) = lb_tags.get(&arn).and_then(|t| swept_resource(tenant, t)) {
                by_resource.entry(id).or_default().0.push((arn, name));
            }
        }
        for arn in tgs {
            if let Some(id) = tg_tags.get(&arn).and_then(|t| swept_resource(tenant, t)) {
                by_resource.entry(id).or_default().1.push(arn);
            }
        }
        let mut found = Vec::new();
        for (resource_id, (lbs, tgs)) in by_resource {
            let n = lbs.len().max(tgs.len());
            for i in 0..n {
                let mut outputs = Outputs::new();
                if let Some((arn, name)) = lbs.get(i) {
                    outputs = outputs.plain("arn", arn).plain("name", name);
                }
                if let Some(tg) = tgs.get(i) {
                    outputs = outputs.plain("target_group_arn", tg);
                }
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs,
                });
            }
        }
        Ok(found)
    }
}
