//! Preflight `shared_edge`: a tenant's host rules (`aws.elbv2.host_rule`)
//! fit on the shared load balancer they name. The load balancer must exist
//! (the kind's own message says what to create first), and its non-default
//! rules plus the ones this tenant does not hold yet must stay within
//! "Rules per Application Load Balancer" (default 100, adjustable). Past it,
//! CreateRule answers `TooManyRules` in the middle of a create; here the
//! create is refused before anything is made, with the count and the ways
//! out. Likewise its target groups (one per tenant's rule) within "Target
//! Groups per Application Load Balancer" (100, not adjustable). The limits
//! are the account's values from ELB's own DescribeAccountLimits; when that
//! call is refused or names no value, AWS's documented defaults stand in
//! and the finding says why, as in `quotas`.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::quotas::Limit;
use super::{CallFailure, Check, Finding, PreflightCx, credentials, endpoint};
use crate::kinds::aws::elb::v2::{Room, host_rule_room};
use crate::stack::{Stack, refs};

pub struct SharedEdge;

pub const NAME: &str = "shared_edge";

const KIND: &str = "aws.elbv2.host_rule";

/// The limits' names in DescribeAccountLimits (API_Limit.html).
pub const RULES_LIMIT: &str = "rules-per-application-load-balancer";
pub const TARGET_GROUPS_LIMIT: &str = "target-groups-per-application-load-balancer";

/// AWS's defaults: "Rules per Application Load Balancer (excluding default
/// rules)" 100 and "Target Groups per Application Load Balancer" 100
/// (elasticloadbalancing/latest/application/load-balancer-limits.html).
const DEFAULTS: [(&str, u32); 2] = [(RULES_LIMIT, 100), (TARGET_GROUPS_LIMIT, 100)];

/// A shared load balancer's two limits.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeLimits {
    pub rules: Limit,
    pub target_groups: Limit,
}

/// The account's per-load-balancer limits: DescribeAccountLimits's `Max`
/// (a number sent as text) for [`RULES_LIMIT`] and [`TARGET_GROUPS_LIMIT`].
pub async fn edge_limits(elbv2: &aws_sdk_elasticloadbalancingv2::Client) -> EdgeLimits {
    let answer = elbv2
        .describe_account_limits()
        .send()
        .await
        .map(|out| {
            out.limits()
                .iter()
                .filter_map(|l| Some((l.name()?, l.max()?.trim().parse::<f64>().ok()?)))
                .map(|(name, max)| (name.to_string(), max))
                .collect::<BTreeMap<_, _>>()
        })
        .map_err(|e| CallFailure::of(&e).describe());
    let [rules, target_groups] = DEFAULTS.map(|(name, default)| {
        limit_of(
            answer.clone().map(|found| found.get(name).copied()),
            default,
        )
    });
    EdgeLimits {
        rules,
        target_groups,
    }
}

/// A limit from DescribeAccountLimits's answer, or `default` with the
/// reason (the call denied to these credentials, or no value named).
pub fn limit_of(answer: Result<Option<f64>, String>, default: u32) -> Limit {
    let documented = "AWS's documented default";
    match answer {
        Ok(Some(v)) if v.is_finite() && v >= 0.0 => Limit {
            value: v.min(u32::MAX as f64) as u32,
            source: "the account's applied value, DescribeAccountLimits".into(),
        },
        Ok(_) => Limit {
            value: default,
            source: format!("{documented}; DescribeAccountLimits named no value"),
        },
        Err(why) => Limit {
            value: default,
            source: format!("{documented}; DescribeAccountLimits: {why}"),
        },
    }
}

/// The stack's host rules by the load balancer they name (a literal
/// `shared_from`; one held in a reference is checked by the kind itself).
fn host_rules(stack: &Stack) -> BTreeMap<String, Vec<String>> {
    let mut by_lb: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in stack.resources.iter().filter(|r| r.kind == KIND) {
        let literal = r
            .properties
            .get("shared_from")
            .filter(|v| refs::references(v).is_ok_and(|found| found.is_empty()));
        if let Some(from) = literal.and_then(|v| v.as_str()) {
            by_lb
                .entry(from.trim().to_string())
                .or_default()
                .push(r.id.clone());
        }
    }
    by_lb
}

/// Whether the host rules `resources` that `room` does not hold yet, each
/// with its target group, fit under `limits`.
pub fn decide(room: &Room, limits: &EdgeLimits, resources: &[String]) -> Finding {
    let need = resources.iter().filter(|r| !room.held.contains(*r)).count() as u32;
    let lb = &room.load_balancer;
    let numbers = format!(
        "the shared load balancer {lb} has {} of its {} rules in use ({RULES_LIMIT}, {}) and {} of its {} target groups ({TARGET_GROUPS_LIMIT}, {}); this tenant needs {need} more of each",
        room.rules,
        limits.rules.value,
        limits.rules.source,
        room.target_groups,
        limits.target_groups.value,
        limits.target_groups.source
    );
    let elsewhere = format!(
        "create another shared edge (stacks/shared-edge.yaml as a new tenant) and point this \
         stack's shared_from at it, or destroy tenants that no longer need {lb} (`envctl get tenants`)"
    );
    if room.rules.saturating_add(need) > limits.rules.value {
        return Finding::fail(
            NAME,
            format!("{numbers}, so creating its rule would fail with TooManyRules"),
            format!(
                "request an increase of \"Rules per Application Load Balancer\" in Service \
                 Quotas (Elastic Load Balancing), or {elsewhere}"
            ),
        );
    }
    if room.target_groups.saturating_add(need) > limits.target_groups.value {
        return Finding::fail(
            NAME,
            format!("{numbers}, so its rule's target group would fail with TooManyTargetGroups"),
            format!("this limit cannot be raised: {elsewhere}"),
        );
    }
    Finding::pass(NAME, numbers)
}

#[async_trait]
impl Check for SharedEdge {
    fn name(&self) -> &'static str {
        NAME
    }
    fn after(&self) -> &'static [&'static str] {
        &[endpoint::NAME, credentials::NAME]
    }
    fn applies(&self, stack: &Stack) -> bool {
        stack.resources.iter().any(|r| r.kind == KIND)
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        let backends = match cx.backends(NAME) {
            Ok(b) => b,
            Err(failed) => return failed,
        };
        let by_lb = host_rules(&cx.stack);
        if by_lb.is_empty() {
            return vec![Finding::pass(
                NAME,
                "the host rules' load balancers come from references; the kind checks them",
            )];
        }
        let limits = edge_limits(&backends.aws.elbv2).await;
        let mut out = Vec::new();
        for (lb, resources) in by_lb {
            match host_rule_room(&backends.aws.elbv2, &lb, cx.tenant.as_str(), &resources).await {
                Ok(room) => out.push(decide(&room, &limits, &resources)),
                Err(e) => out.push(Finding::fail(
                    NAME,
                    format!("this tenant's host rules cannot go on {lb}: {e}"),
                    "or, if it names the wrong load balancer, fix shared_from",
                )),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(rules: u32, target_groups: u32, held: &[&str]) -> Room {
        Room {
            load_balancer: "shared-edge/alb".into(),
            rules,
            target_groups,
            held: held.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn limits(rules: f64, target_groups: f64) -> EdgeLimits {
        EdgeLimits {
            rules: limit_of(Ok(Some(rules)), 100),
            target_groups: limit_of(Ok(Some(target_groups)), 100),
        }
    }

    #[test]
    fn a_full_load_balancer_refuses_a_new_tenant_but_not_a_rerun() {
        let edge = vec!["edge".to_string()];
        let limits = limits(100.0, 100.0);
        let fits = decide(&room(99, 99, &[]), &limits, &edge);
        assert_eq!(fits.status, super::super::Status::Pass, "{fits:?}");
        let full = decide(&room(100, 100, &[]), &limits, &edge);
        assert_eq!(full.status, super::super::Status::Fail);
        let sentence = full.sentence();
        for needle in [
            "shared-edge/alb",
            "100 of its 100 rules",
            "TooManyRules",
            "Service Quotas",
        ] {
            assert!(sentence.contains(needle), "{needle}: {sentence}");
        }
        // A rerun of a tenant whose rule is already there needs none.
        let rerun = decide(&room(100, 100, &["edge"]), &limits, &edge);
        assert_eq!(rerun.status, super::super::Status::Pass, "{rerun:?}");
    }

    #[test]
    fn raised_rules_meet_the_fixed_target_group_limit() {
        // An account whose rules quota was raised to 200 still has 100
        // target groups per load balancer: the 101st tenant is refused
        // for its target group, and told the limit cannot be raised.
        let edge = vec!["edge".to_string()];
        let limits = limits(200.0, 100.0);
        let finding = decide(&room(100, 100, &[]), &limits, &edge);
        assert_eq!(finding.status, super::super::Status::Fail, "{finding:?}");
        let sentence = finding.sentence();
        for needle in [
            "100 of its 100 target groups",
            "TooManyTargetGroups",
            "cannot be raised",
        ] {
            assert!(sentence.contains(needle), "{needle}: {sentence}");
        }
        let fits = decide(&room(100, 99, &[]), &limits, &edge);
        assert_eq!(fits.status, super::super::Status::Pass, "{fits:?}");
    }

    #[test]
    fn a_denied_limit_lookup_falls_back_to_the_default_and_says_why() {
        let denied = limit_of(
            Err(
                "AccessDenied: not authorized to perform elasticloadbalancing:DescribeAccountLimits"
                    .into(),
            ),
            100,
        );
        assert_eq!(denied.value, 100);
        assert!(denied.source.contains("AccessDenied"), "{denied:?}");
        let unnamed = limit_of(Ok(None), 100);
        assert_eq!(unnamed.value, 100);
        assert!(unnamed.source.contains("named no value"), "{unnamed:?}");
        let raised = limit_of(Ok(Some(200.0)), 100);
        assert_eq!(raised.value, 200);
        assert!(raised.source.contains("applied"), "{raised:?}");
        let edge = vec!["edge".to_string()];
        let both_denied = EdgeLimits {
            rules: denied.clone(),
            target_groups: denied,
        };
        let finding = decide(&room(100, 10, &[]), &both_denied, &edge);
        assert_eq!(finding.status, super::super::Status::Fail, "{finding:?}");
        assert!(finding.sentence().contains("AccessDenied"), "{finding:?}");
    }
}
