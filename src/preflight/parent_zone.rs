//! Preflight `parent_zone` (stacks whose `aws.route53.zone` resources
//! delegate themselves): the parent zone each tenant zone will write its NS
//! record into is a public hosted zone of this account. Without it the
//! create would make the zone and then stop asking for a delegation by hand,
//! and a certificate would never validate.

use async_trait::async_trait;

use super::{Check, Finding, PreflightCx, credentials};
use crate::kinds::aws::route53::delegation::find_parent;
use crate::kinds::aws::route53::zone::parent_zone_check;
use crate::stack::Stack;

pub struct ParentZone;

pub const NAME: &str = "parent_zone";
const ZONE_KIND: &str = "aws.route53.zone";

/// (resource id, parent spec) of every zone that delegates itself.
fn delegating(stack: &Stack) -> Vec<(String, String)> {
    stack
        .resources
        .iter()
        .filter(|r| r.kind == ZONE_KIND)
        .filter_map(|r| parent_zone_check(&r.properties).map(|p| (r.id.clone(), p)))
        .collect()
}

#[async_trait]
impl Check for ParentZone {
    fn name(&self) -> &'static str {
        NAME
    }

    fn after(&self) -> &'static [&'static str] {
        &[credentials::NAME]
    }

    fn applies(&self, stack: &Stack) -> bool {
        !delegating(stack).is_empty()
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        let backends = match cx.backends(NAME) {
            Ok(b) => b,
            Err(failed) => return failed,
        };
        let mut findings = Vec::new();
        for (resource, spec) in delegating(&cx.stack) {
            let found = find_parent(&backends.aws.route53, &spec)
                .await
                .map(|z| z.map(|z| (z.id, z.name)))
                .map_err(|e| e.to_string());
            findings.push(decide(&resource, &spec, found));
        }
        findings
    }
}

/// What finding the lookup of one zone's parent gives.
pub(super) fn decide(
    resource: &str,
    spec: &str,
    found: Result<Option<(String, String)>, String>,
) -> Finding {
    match found {
        Ok(Some((id, name))) => Finding::pass(
            NAME,
            format!("resource '{resource}' is delegated from the public hosted zone {name} ({id})"),
        ),
        Ok(None) => Finding::fail(
            NAME,
            format!(
                "resource '{resource}' delegates its zone from {spec}, and this account has no \
                 public hosted zone {spec}"
            ),
            format!(
                "create it (aws route53 create-hosted-zone --name {spec} --caller-reference \
                 $(date +%s)) and delegate {spec} to its name servers from the registrar or \
                 the parent domain's zone; or set `delegated: true` on the zone and add its NS \
                 record by hand"
            ),
        ),
        Err(why) => Finding::fail(
            NAME,
            format!(
                "the parent zone {spec} of resource '{resource}' could not be looked up: {why}"
            ),
            "fix the cause named there (permissions route53:ListHostedZonesByName and \
             route53:GetHostedZone) and retry",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;

    #[test]
    fn a_present_parent_passes_and_a_missing_one_names_the_command_and_the_way_out() {
        let ok = decide(
            "zone",
            "envs.mycompany.com",
            Ok(Some(("Z123".into(), "envs.mycompany.com".into()))),
        );
        assert_eq!(ok.status, Status::Pass);
        let missing = decide("zone", "envs.mycompany.com", Ok(None));
        assert_eq!(missing.status, Status::Fail);
        let s = missing.sentence();
        assert!(
            s.contains("no public hosted zone envs.mycompany.com"),
            "{s}"
        );
        assert!(
            s.contains("create-hosted-zone --name envs.mycompany.com"),
            "{s}"
        );
        assert!(s.contains("delegated: true"), "{s}");
        let err = decide("zone", "Z1", Err("AccessDenied".into()));
        assert_eq!(err.status, Status::Fail);
    }

    #[test]
    fn only_zones_that_delegate_themselves_need_a_parent() {
        let stack = crate::stack::load_str_in(
            std::path::Path::new("s.yaml"),
            "stack: s\nresources:\n\
             - { id: a, kind: aws.route53.zone, properties: { subdomain_of: envs.mycompany.com } }\n\
             - { id: b, kind: aws.route53.zone, properties: { domain: x.mycompany.com, delegated: true } }\n\
             - { id: c, kind: aws.route53.zone, properties: { domain: y.mycompany.com, adopt: true } }\n\
             - { id: d, kind: aws.route53.zone, properties: { domain: z.other.net, parent_zone: Z0123456789ABC } }\n",
            &crate::stack::Catalog::registry(),
            &crate::stack::Builtins::default(),
        )
        .unwrap();
        assert_eq!(
            delegating(&stack),
            vec![
                ("a".to_string(), "envs.mycompany.com".to_string()),
                ("d".to_string(), "Z0123456789ABC".to_string())
            ]
        );
    }
}
