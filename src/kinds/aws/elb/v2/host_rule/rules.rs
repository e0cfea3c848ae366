//! The rules of the shared listener as a host rule sees them: whose each
//! is (tags), which hosts it answers, and the calls that create, modify and
//! delete the tenant's one rule.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, Rule, RuleCondition,
};

use super::super::listeners::{forward_target, rules_of};
use super::super::tagging::tags_of;
use super::priority::{Attempt, Slots};
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::sdk_tags;
use crate::kinds::{Cx, KindError};

/// A listener's non-default rules with their tags; `None` when the
/// listener is gone.
pub(super) async fn rules_with_tags(
    elbv2: &Client,
    listener_arn: &str,
) -> Result<Option<Vec<(Rule, Tags)>>, KindError> {
    let Some(rules) = rules_of(elbv2, listener_arn).await? else {
        return Ok(None);
    };
    let arns: Vec<String> = rules
        .iter()
        .filter_map(|r| r.rule_arn().map(str::to_string))
        .collect();
    let mut tags: HashMap<String, Tags> = tags_of(elbv2, &arns).await?;
    Ok(Some(
        rules
            .into_iter()
            .map(|r| {
                let t = r
                    .rule_arn()
                    .and_then(|a| tags.remove(a))
                    .unwrap_or_default();
                (r, t)
            })
            .collect(),
    ))
}

/// Every host a rule's host-header conditions name, lowercase (either form
/// AWS answers with: `HostHeaderConfig.Values` or the legacy `Values`).
pub(super) fn rule_hosts(r: &Rule) -> BTreeSet<String> {
    r.conditions()
        .iter()
        .filter(|c| c.field() == Some("host-header"))
        .flat_map(|c| match c.host_header_config() {
            Some(h) if !h.values().is_empty() => h.values().to_vec(),
            _ => c.values().to_vec(),
        })
        .map(|h| h.to_ascii_lowercase())
        .collect()
}

/// The priority of a non-default rule.
pub(super) fn priority_of(r: &Rule) -> Option<u32> {
    r.priority().and_then(|p| p.parse().ok())
}

pub(super) fn condition(hosts: &[String]) -> RuleCondition {
    RuleCondition::builder()
        .field("host-header")
        .host_header_config(
            HostHeaderConditionConfig::builder()
                .set_values(Some(hosts.to_vec()))
                .build(),
        )
        .build()
}

pub(super) fn forward(tg_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .build()
}

/// Whether `r` forwards `hosts` (exactly) to `tg_arn` and nothing else.
pub(super) fn rule_matches(r: &Rule, hosts: &[String], tg_arn: &str) -> bool {
    let want: BTreeSet<String> = hosts.iter().cloned().collect();
    rule_hosts(r) == want
        && r.conditions().len() == 1
        && matches!(r.actions(), [a] if a.r#type() == Some(&ActionTypeEnum::Forward)
            && forward_target(a) == Some(tg_arn))
}

/// CreateRule of the tenant's rule on one listener, at a priority the
/// caller picks ([`super::priority::create_at_free_priority`]).
pub(super) struct NewRule<'a> {
    pub(super) elbv2: &'a Client,
    pub(super) cx: &'a Cx,
    pub(super) listener_arn: &'a str,
    pub(super) hosts: &'a [String],
    pub(super) tg_arn: &'a str,
}

#[async_trait]
impl Slots for NewRule<'_> {
    /// The new rule's ARN.
    type Created = String;

    async fn used(&self) -> Result<BTreeSet<u32>, KindError> {
        let rules = rules_of(self.elbv2, self.listener_arn)
            .await?
            .ok_or_else(|| {
                KindError::Transient(format!(
                    "listener {} vanished while its rules were read",
                    self.listener_arn
                ))
            })?;
        Ok(rules.iter().filter_map(priority_of).collect())
    }

    async fn create(&self, priority: u32) -> Result<Attempt<String>, KindError> {
        let what = format!("CreateRule {} at priority {priority}", self.hosts.join(","));
        let created = self
            .elbv2
            .create_rule()
            .listener_arn(self.listener_arn)
            .priority(priority as i32)
            .conditions(condition(self.hosts))
            .actions(forward(self.tg_arn))
            .set_tags(Some(sdk_tags(self.cx.tags())?))
            .send()
            .await;
        match created {
            Ok(out) => out
                .rules()
                .first()
                .and_then(|r| r.rule_arn())
                .map(|a| Attempt::Created(a.to_string()))
                .ok_or_else(|| KindError::Permanent(format!("{what}: no rule in the answer"))),
            Err(e) if e.code() == Some("PriorityInUse") => Ok(Attempt::PriorityInUse),
            // "Rules per Application Load Balancer": 100 by default,
            // adjustable (Quotas for your Application Load Balancers).
            Err(e) if e.code() == Some("TooManyRules") => Err(KindError::Permanent(format!(
                "{what}: the shared load balancer has as many rules as its quota allows \
                 (100 per load balancer by default, default rules not counted): ask AWS \
                 for more (Service Quotas, \"Rules per Application Load Balancer\") or \
                 share another load balancer"
            ))),
            Err(e) => Err(classify(&what, e)),
        }
    }
}
