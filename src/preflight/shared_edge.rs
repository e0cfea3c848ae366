//! Preflight `shared_edge`: a tenant's host rules (`aws.elbv2.host_rule`)
//! fit on the shared load balancer they name. The load balancer must exist
//! (the kind's own message says what to create first), and its non-default
//! rules plus the ones this tenant does not hold yet must stay within
//! "Rules per Application Load Balancer" (default 100, adjustable). Past it,
//! CreateRule answers `TooManyRules` in the middle of a create; here the
//! create is refused before anything is made, with the count and the two
//! ways out.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Check, Finding, PreflightCx, credentials, endpoint};
use crate::kinds::aws::elb::v2::{Room, host_rule_room};
use crate::stack::{Stack, refs};

pub struct SharedEdge;

pub const NAME: &str = "shared_edge";

const KIND: &str = "aws.elbv2.host_rule";

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

/// Whether `wanted` more rules fit in `room`.
pub fn decide(room: &Room, resources: &[String]) -> Finding {
    let need = resources.iter().filter(|r| !room.held.contains(*r)).count() as u32;
    let source = if room.limit_applied {
        "the account's applied value, DescribeAccountLimits"
    } else {
        "AWS's documented default"
    };
    let numbers = format!(
        "the shared load balancer {} has {} of its {} rules in use (rules-per-application-load-balancer, {source}); this tenant needs {need} more",
        room.load_balancer, room.rules, room.limit
    );
    if room.rules.saturating_add(need) <= room.limit {
        return Finding::pass(NAME, numbers);
    }
    Finding::fail(
        NAME,
        format!("{numbers}, so creating its rule would fail with TooManyRules"),
        format!(
            "request an increase of \"Rules per Application Load Balancer\" in Service Quotas \
             (Elastic Load Balancing), or create another shared edge (stacks/shared-edge.yaml as a \
             new tenant) and point this stack's shared_from at it, or destroy tenants that no \
             longer need {} (`envctl get tenants`)",
            room.load_balancer
        ),
    )
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
        let mut out = Vec::new();
        for (lb, resources) in host_rules(&cx.stack) {
            match host_rule_room(&backends.aws.elbv2, &lb, cx.tenant.as_str(), &resources).await {
                Ok(room) => out.push(decide(&room, &resources)),
                Err(e) => out.push(Finding::fail(
                    NAME,
                    format!("this tenant's host rules cannot go on {lb}: {e}"),
                    "or, if it names the wrong load balancer, fix shared_from",
                )),
            }
        }
        if out.is_empty() {
            out.push(Finding::pass(
                NAME,
                "the host rules' load balancers come from references; the kind checks them",
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(rules: u32, held: &[&str]) -> Room {
        Room {
            load_balancer: "shared-edge/alb".into(),
            rules,
            limit: 100,
            limit_applied: true,
            held: held.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_full_load_balancer_refuses_a_new_tenant_but_not_a_rerun() {
        let edge = vec!["edge".to_string()];
        let fits = decide(&room(99, &[]), &edge);
        assert_eq!(fits.status, super::super::Status::Pass, "{fits:?}");
        let full = decide(&room(100, &[]), &edge);
        assert_eq!(full.status, super::super::Status::Fail);
        let sentence = full.sentence();
        for needle in [
            "shared-edge/alb",
            "100 of its 100",
            "TooManyRules",
            "Service Quotas",
        ] {
            assert!(sentence.contains(needle), "{needle}: {sentence}");
        }
        // A rerun of a tenant whose rule is already there needs none.
        let rerun = decide(&room(100, &["edge"]), &edge);
        assert_eq!(rerun.status, super::super::Status::Pass, "{rerun:?}");
    }
}
