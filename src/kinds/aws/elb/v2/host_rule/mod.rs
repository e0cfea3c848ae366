//! The `aws.elbv2.host_rule` kind: a tenant's place on a load balancer
//! another tenant owns (`shared_from`, e.g. the environment's shared edge):
//! the tenant's own target group and one listener rule sending its host
//! names there. The load balancer, its listeners and certificate are read,
//! never changed; destroy removes the rule, then the target group (a group
//! a rule still uses cannot be deleted: `ResourceInUse`). The priority is
//! picked free and picked again when a concurrent tenant took it
//! ([`priority`]).
//!
//! Here is the [`Kind`] impl; beside it the properties (`props`), the
//! shared load balancer (`shared`), the listener's rules (`rules`), the
//! priority picker (`priority`) and the load balancer's room for more
//! rules (`room`, for preflight).

mod priority;
mod props;
pub mod room;
mod rules;
mod shared;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;

use super::balancer::{TgSpec, ensure_tg};
use super::delete::{delete_tg, gone_or_foreign, tg_exists};
use super::listeners::{delete_rule, forward_target, listeners_of};
use super::props::LbType;
use super::tagging::tags_of;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::{managed_by, swept_resource, tenant_of};
use crate::kinds::schema::PropSchema;
use crate::kinds::{Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx};
use crate::tenant::tags;
use priority::create_at_free_priority;
use props::{NAME, OUTPUTS, SCHEMA, wanted};
use rules::{NewRule, condition, forward, priority_of, rule_hosts, rule_matches, rules_with_tags};
use shared::find_shared;

pub struct HostRule;

#[async_trait]
impl Kind for HostRule {
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

    /// About ten ELB calls (the shared load balancer, its listeners, the
    /// rules and their tags, the target group, CreateRule), each well
    /// under a second; a target group and a rule are usable at once (no
    /// provisioning state in the ELBv2 API reference). An estimate for the
    /// budget's default; the budget learns real figures from past runs.
    fn expected(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn apply_share(&self) -> f64 {
        1.0
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let w = wanted(cx, props)?;
        let elbv2 = &cx.backends.aws.elbv2;
        let shared = find_shared(elbv2, &w.shared).await?;
        let vpc = w.vpc_id.clone().or(shared.vpc_id.clone()).ok_or_else(|| {
            KindError::Permanent(format!(
                "the shared load balancer {} has no VPC; set vpc_id",
                shared.lb_arn
            ))
        })?;
        let listener = &shared.listener_arn;
        let rules = rules_with_tags(elbv2, listener).await?.ok_or_else(|| {
            KindError::Transient(format!("listener {listener} vanished while it was read"))
        })?;
        let tenant = cx.tenant.as_str();
        let is_ours = |t: &crate::kinds::aws::owner::Tags| {
            managed_by(t, tenant)
                && t.get(tags::RESOURCE).map(String::as_str) == Some(cx.resource_id.as_str())
        };
        // A host another rule answers is not taken over: the first rule by
        // priority would get the traffic, and the other tenant's could be
        // the one.
        for (r, t) in rules.iter().filter(|(_, t)| !is_ours(t)) {
            let theirs = rule_hosts(r);
            if let Some(h) = w.hosts.iter().find(|h| theirs.contains(*h)) {
                let whose = match (tenant_of(t), t.get(tags::RESOURCE)) {
                    (Some(o), Some(res)) if o == tenant => {
                        format!("this tenant's resource '{res}'")
                    }
                    (Some(o), _) => format!("tenant '{o}'"),
                    (None, _) => "a rule envctl did not make".to_string(),
                };
                return Err(KindError::Permanent(format!(
                    "properties: hosts: '{h}' is already answered on listener {listener} by \
                     {whose} (rule {}); pick another host name, or destroy that first",
                    r.rule_arn().unwrap_or("?")
                )));
            }
        }
        // The hosts were checked first: a refused tenant leaves nothing.
        let tg = TgSpec {
            name: &w.name,
            lb_type: LbType::Application,
            target_port: w.target_port,
            health_check_path: &w.health_check_path,
        };
        let tg_arn = ensure_tg(elbv2, cx, &tg, &vpc).await?;
        let mut ours: Vec<_> = rules.iter().filter(|(_, t)| is_ours(t)).collect();
        ours.sort_by_key(|(r, _)| priority_of(r));
        let (rule_arn, priority) = match ours.split_first() {
            Some(((keep, _), extra)) => {
                // Two of ours: a create whose answer was lost was made
                // again. Keep the first, delete the others.
                for (r, _) in extra {
                    if let Some(arn) = r.rule_arn() {
                        delete_rule(elbv2, arn).await?;
                    }
                }
                let arn = keep.rule_arn().unwrap_or_default().to_string();
                if !rule_matches(keep, &w.hosts, &tg_arn) {
                    elbv2
                        .modify_rule()
                        .rule_arn(&arn)
                        .conditions(condition(&w.hosts))
                        .actions(forward(&tg_arn))
                        .send()
                        .await
                        .map_err(|e| classify(&format!("ModifyRule {arn}"), e))?;
                }
                (arn, priority_of(keep).unwrap_or_default())
            }
            None => {
                let new = NewRule {
                    elbv2,
                    cx,
                    listener_arn: listener,
                    hosts: &w.hosts,
                    tg_arn: &tg_arn,
                };
                let key = format!("{tenant}/{}", cx.resource_id);
                let (p, arn) = create_at_free_priority(&new, &key, listener).await?;
                (arn, p)
            }
        };
        let mut out = Outputs::new().plain("hosts", w.hosts.join(","));
        for (i, h) in w.hosts.iter().enumerate() {
            out = out.plain(&format!("host_{}", i + 1), h);
        }
        Ok(out
            .plain("rule_arn", rule_arn)
            .plain("priority", priority.to_string())
            .plain("target_group_arn", tg_arn)
            .plain("listener_arn", listener)
            .plain("load_balancer_arn", &shared.lb_arn)
            .plain("dns_name", shared.dns_name)
            .plain("canonical_hosted_zone_id", shared.zone_id))
    }

    /// Ready when the rule can be described (the API is eventually
    /// consistent).
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let arn = out.require("rule_arn")?;
        if rule_exists(&cx.backends.aws.elbv2, arn).await? {
            Ok(Readiness::Ready)
        } else {
            Ok(Readiness::Pending(format!("rule {arn} not visible yet")))
        }
    }

    /// The rule first, then the target group it forwards to; the shared
    /// load balancer and its listener are never touched.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let tenant = cx.tenant.as_str();
        let rule = out.get("rule_arn").map(|v| v.expose().to_string());
        let tg = out.get("target_group_arn").map(|v| v.expose().to_string());
        if rule.is_none() && tg.is_none() {
            return Err(KindError::Permanent(
                "output 'rule_arn' (or 'target_group_arn') is missing".into(),
            ));
        }
        if let Some(arn) = rule
            && !gone_or_foreign(elbv2, &arn, "RuleNotFound", tenant).await?
        {
            delete_rule(elbv2, &arn).await?;
        }
        if let Some(arn) = tg {
            delete_tg(elbv2, &arn, tenant).await?;
        }
        Ok(())
    }

    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        if let Some(arn) = out.get("rule_arn").map(|v| v.expose())
            && rule_exists(elbv2, arn).await?
        {
            return Ok(Readiness::Pending(format!("rule {arn} is still there")));
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

    /// The tenant's rules, by their tags, on every listener of every load
    /// balancer (rules live on other tenants' load balancers), each with
    /// the target group it forwards to. A target group left without its
    /// rule (a crash between the two creates) carries the tenant's tags and
    /// is found by the load balancer kind's sweep.
    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let elbv2 = &cx.backends.aws.elbv2;
        let tenant = cx.tenant.as_str();
        let mut lbs = Vec::new();
        let mut pages = elbv2.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeLoadBalancers", e))?;
            lbs.extend(
                page.load_balancers()
                    .iter()
                    .filter_map(|lb| lb.load_balancer_arn().map(str::to_string)),
            );
        }
        // A load balancer of this tenant's own (`aws.elbv2.load_balancer`)
        // carries rules tagged for the tenant too: those, and the target
        // groups its listeners forward to, are that kind's to delete (with
        // the load balancer); a host rule lives on another tenant's.
        let lb_tags = tags_of(elbv2, &lbs).await.map_err(|e| {
            KindError::Transient(format!(
                "the load balancers changed while they were read ({e}); reading again"
            ))
        })?;
        let mut found = Vec::new();
        for lb in lbs {
            if lb_tags
                .get(&lb)
                .is_some_and(|t| swept_resource(tenant, t).is_some())
            {
                continue;
            }
            let Some(listeners) = listeners_of(elbv2, &lb).await? else {
                continue;
            };
            for l in listeners.iter().filter_map(|l| l.listener_arn()) {
                let Some(rules) = super::listeners::rules_of(elbv2, l).await? else {
                    continue;
                };
                let arns: Vec<String> = rules
                    .iter()
                    .filter_map(|r| r.rule_arn().map(str::to_string))
                    .collect();
                // Rules deleted between the two reads (other tenants'
                // destroys) make DescribeTags fail: read again.
                let tags = tags_of(elbv2, &arns).await.map_err(|e| {
                    KindError::Transient(format!(
                        "the rules of listener {l} changed while they were read ({e}); \
                         reading again"
                    ))
                })?;
                for r in &rules {
                    let Some(arn) = r.rule_arn() else { continue };
                    let Some(id) = tags.get(arn).and_then(|t| swept_resource(tenant, t)) else {
                        continue;
                    };
                    let mut outputs = Outputs::new().plain("rule_arn", arn);
                    if let [a] = r.actions()
                        && let Some(tg) = forward_target(a)
                    {
                        outputs = outputs.plain("target_group_arn", tg);
                    }
                    found.push(Found {
                        resource_id: id,
                        outputs,
                    });
                }
            }
        }
        Ok(found)
    }
}

/// Whether the rule at `arn` can be described.
async fn rule_exists(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<bool, KindError> {
    match elbv2.describe_rules().rule_arns(arn).send().await {
        Ok(out) => Ok(!out.rules().is_empty()),
        Err(e) if e.code() == Some("RuleNotFound") => Ok(false),
        Err(e) => Err(classify(&format!("DescribeRules {arn}"), e)),
    }
}
