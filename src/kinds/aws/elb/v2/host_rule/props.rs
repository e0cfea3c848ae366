//! The `aws.elbv2.host_rule` kind's properties: what they mean, the checks
//! made before anything runs ([`KindProps::check`]), the shared load
//! balancer they name ([`SharedFrom`]) and the outputs.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use super::super::super::{
    MAX_NAME, check_elb_name, default_health_check_path, default_target_port,
};
use super::super::props::valid_host;
use crate::kinds::aws::props::{
    health_check_path_issue, id_issue, non_empty, refuse, string_list, string_list_schema,
};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{Cx, KindError, OutputSpec, PropIssue, Props, parse_props};
use crate::tenant::TenantName;

/// Values of one rule's conditions (ALB quota "Condition values per rule":
/// 5, "Quotas for your Application Load Balancers").
pub(super) const MAX_HOSTS: usize = 5;

/// A tenant's host rule and target group on a load balancer another
/// envctl tenant owns (`shared_from`): one rule on its serving listener
/// (HTTPS:443 if it has one, else HTTP:80) sending the tenant's host names
/// to the tenant's own target group.
///
/// The load balancer, its listeners and certificate are only read, never
/// changed or deleted; destroy removes the rule, then the target group.
/// The rule's priority is picked free on the listener (1-50000, CreateRule)
/// and picked again if a concurrent tenant took it (`PriorityInUse`). A
/// host another tenant's rule already answers is refused. Rules: ELBv2 API
/// reference, CreateRule (host-header values 1-128 characters of a-z, 0-9,
/// `-`, `.`, `*`, `?`) and "Quotas for your Application Load Balancers" (5
/// condition values per rule, 100 rules per load balancer by default);
/// CreateTargetGroup (`Port` 1-65535, `HealthCheckPath` starting with `/`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HostRuleProps {
    /// The `aws.elbv2.load_balancer` another envctl tenant created, as
    /// `<tenant>/<resource id>`, e.g. `shared-edge/alb`.
    shared_from: String,
    /// A parent domain, e.g. `${envctl.domain}`: the tenant answers
    /// `<tenant><suffix>.<domain>` for each of `suffixes` (stacks have no
    /// tenant interpolation; use this for names per tenant).
    #[serde(default)]
    subdomain_of: Option<String>,
    /// With subdomain_of: what follows the tenant's name in its first
    /// label, e.g. `["", "-api"]` for `acme.<domain>` and
    /// `acme-api.<domain>` (one label: a wildcard certificate `*.<domain>`
    /// covers one label only). Default `[""]`.
    #[serde(default)]
    suffixes: Option<Vec<String>>,
    /// Further host names the tenant answers (a list or a comma-separated
    /// string), e.g. `[shop.example.org]`. With the names of subdomain_of,
    /// 1 to 5 in all.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    hosts: Vec<String>,
    /// The port the tenant's targets listen on; default 8080.
    #[serde(default = "default_target_port")]
    #[schemars(range(min = 1, max = 65535))]
    target_port: u16,
    /// HTTP health check path of the tenant's target group; default
    /// `/healthcheck`.
    #[serde(default = "default_health_check_path")]
    #[schemars(length(max = 1024))]
    health_check_path: String,
    /// VPC of the target group, e.g. `${network.vpc_id}`; default: the
    /// shared load balancer's VPC.
    #[serde(default)]
    vpc_id: Option<String>,
}

/// The load balancer a host rule goes on: `<tenant>/<resource>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SharedFrom {
    pub(super) tenant: TenantName,
    pub(super) resource: String,
}

impl SharedFrom {
    pub(super) fn parse(s: &str) -> Result<SharedFrom, PropIssue> {
        match s.trim().split_once('/') {
            Some((t, r)) if !r.is_empty() && !r.contains('/') => match TenantName::parse(t) {
                Ok(tenant) => Ok(SharedFrom {
                    tenant,
                    resource: r.to_string(),
                }),
                Err(_) => Err(Self::issue()),
            },
            _ => Err(Self::issue()),
        }
    }

    fn issue() -> PropIssue {
        PropIssue::new(
            &["shared_from"],
            "must be <tenant>/<resource id> of the aws.elbv2.load_balancer another envctl \
             tenant created, e.g. shared-edge/alb",
        )
    }
}

impl KindProps for HostRuleProps {
    /// `shared_from`'s form, the hosts (ALB's characters, 1 to
    /// [`MAX_HOSTS`], each once), the health-check path and the VPC id;
    /// references are skipped.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if !is_ref(&self.shared_from)
            && let Err(i) = SharedFrom::parse(&self.shared_from)
        {
            issues.push(i);
        }
        let from_suffixes = if self.subdomain_of.is_some() {
            self.suffixes.as_ref().map_or(1, Vec::len)
        } else {
            0
        };
        if self.suffixes.is_some() && self.subdomain_of.is_none() {
            issues.push(PropIssue::new(
                &["suffixes"],
                "only applies with subdomain_of: add subdomain_of: ${envctl.domain}, or remove it",
            ));
        }
        for (i, sfx) in self.suffixes.iter().flatten().enumerate() {
            if !sfx
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                issues.push(PropIssue::new(
                    &["suffixes", &i.to_string()],
                    format!(
                        "'{sfx}' may hold only a-z, 0-9 and '-': it ends the tenant's label \
                         (a wildcard certificate covers one label only)"
                    ),
                ));
            }
        }
        let mut bad = |m: String| issues.push(PropIssue::new(&["hosts"], m));
        let total = self.hosts.len() + from_suffixes;
        if total == 0 {
            bad(
                "is empty and there is no subdomain_of; give the tenant's host names, or \
                 subdomain_of: ${envctl.domain}"
                    .into(),
            );
        }
        if total > MAX_HOSTS {
            bad(format!(
                "{total} host names in one rule (with those of subdomain_of); a rule takes at \
                 most {MAX_HOSTS} (ALB quota \"Condition values per rule\"): use another \
                 host_rule resource for the rest"
            ));
        }
        let literal: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| !is_ref(h))
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for h in literal.iter().filter(|h| !valid_host(h)) {
            bad(format!(
                "'{h}' is not a host-header value ALB accepts: 1-128 characters of a-z, 0-9, \
                 '-', '.', and the wildcards '*' and '?'"
            ));
        }
        let mut unique = BTreeSet::new();
        if let Some(h) = literal.iter().find(|h| !unique.insert(h.as_str())) {
            bad(format!(
                "'{h}' is listed twice (host names ignore case); list each once"
            ));
        }
        issues.extend(health_check_path_issue(&self.health_check_path));
        if let Some(v) = self.vpc_id.as_deref().filter(|v| !v.trim().is_empty()) {
            issues.extend(id_issue("vpc_id", &[v.trim().to_string()], "vpc-"));
        }
        issues
    }
}

pub(super) const NAME: &str = "aws.elbv2.host_rule";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<HostRuleProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "rule_arn",
        secret: false,
        doc: "the ARN of the tenant's listener rule",
    },
    OutputSpec {
        name: "priority",
        secret: false,
        doc: "the rule's priority on the shared listener (picked free, 1-50000)",
    },
    OutputSpec {
        name: "hosts",
        secret: false,
        doc: "the host names of the rule, comma-separated, in order: those of subdomain_of, \
              then hosts",
    },
    OutputSpec {
        name: "host_1",
        secret: false,
        doc: "the first host name, e.g. acme.<domain> (a record name in the parent zone)",
    },
    OutputSpec {
        name: "host_2",
        secret: false,
        doc: "the second host name, if any (host_3 to host_5 likewise)",
    },
    OutputSpec {
        name: "host_3",
        secret: false,
        doc: "the third host name, if any",
    },
    OutputSpec {
        name: "host_4",
        secret: false,
        doc: "the fourth host name, if any",
    },
    OutputSpec {
        name: "host_5",
        secret: false,
        doc: "the fifth host name, if any",
    },
    OutputSpec {
        name: "target_group_arn",
        secret: false,
        doc: "the tenant's target group (register instances or an Auto Scaling group with it)",
    },
    OutputSpec {
        name: "listener_arn",
        secret: false,
        doc: "the shared listener the rule is on (not the tenant's: never deleted with it)",
    },
    OutputSpec {
        name: "load_balancer_arn",
        secret: false,
        doc: "the shared load balancer (not the tenant's: never deleted with it)",
    },
    OutputSpec {
        name: "dns_name",
        secret: false,
        doc: "the shared load balancer's DNS name, for the tenant's alias records",
    },
    OutputSpec {
        name: "canonical_hosted_zone_id",
        secret: false,
        doc: "the Route 53 hosted zone of the DNS name, for alias records",
    },
];

/// What an apply wants, decided before any call.
pub(super) struct Wanted {
    /// The target group's name, envctl-<tenant>-<id>.
    pub(super) name: String,
    pub(super) shared: SharedFrom,
    /// Lowercase, in order: those of subdomain_of, then hosts.
    pub(super) hosts: Vec<String>,
    pub(super) target_port: u16,
    pub(super) health_check_path: String,
    pub(super) vpc_id: Option<String>,
}

pub(super) fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
    let p: HostRuleProps = parse_props(props)?;
    refuse(SCHEMA.issues(props))?;
    let name = cx.physical_name(MAX_NAME);
    check_elb_name("target group", &name, cx)?;
    let shared = SharedFrom::parse(&p.shared_from).map_err(crate::kinds::aws::props::refusal)?;
    let mut hosts: Vec<String> = Vec::new();
    if let Some(domain) = p.subdomain_of.as_deref().map(str::trim) {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let default = vec![String::new()];
        for sfx in p.suffixes.as_ref().unwrap_or(&default) {
            hosts.push(format!("{}{sfx}.{domain}", cx.tenant));
        }
    }
    for h in &p.hosts {
        let h = h.to_ascii_lowercase();
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    if let Some(h) = hosts.iter().find(|h| !valid_host(h)) {
        return Err(KindError::Permanent(format!(
            "properties: '{h}' is not a host-header value ALB accepts: 1-128 characters of \
             a-z, 0-9, '-', '.', '*' and '?'"
        )));
    }
    Ok(Wanted {
        name,
        shared,
        hosts,
        target_port: p.target_port,
        health_check_path: p.health_check_path,
        vpc_id: non_empty(p.vpc_id),
    })
}

#[cfg(test)]
mod tests {
    use super::super::HostRule;
    use super::*;
    use crate::kinds::Kind;

    fn paths(v: serde_json::Value) -> Vec<String> {
        let mut p: Vec<String> = HostRule
            .check(v.as_object().unwrap())
            .into_iter()
            .map(|i| i.path.join("."))
            .collect();
        p.sort();
        p
    }

    #[test]
    fn shared_from_names_a_tenant_and_a_resource() {
        let s = SharedFrom::parse("shared-edge/alb").unwrap();
        assert_eq!(
            (s.tenant.as_str(), s.resource.as_str()),
            ("shared-edge", "alb")
        );
        for bad in ["alb", "shared-edge/", "/alb", "Shared_Edge/alb", "a/b/c"] {
            assert!(SharedFrom::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn literal_hosts_and_shared_from_break_the_rules_at_validation() {
        let ok = serde_json::json!({"shared_from": "shared-edge/alb", "hosts": ["a.example.org"]});
        assert!(paths(ok).is_empty());
        assert!(
            paths(serde_json::json!({"shared_from": "${x.y}", "hosts": "${z.name}"})).is_empty()
        );
        assert_eq!(
            paths(serde_json::json!({"shared_from": "alb", "hosts": ["a.example.org"]})),
            ["shared_from"]
        );
        assert_eq!(
            paths(serde_json::json!({"shared_from": "e/alb", "hosts": []})),
            ["hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({"shared_from": "e/alb", "hosts": ["a.b", "A.b"]})),
            ["hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({"shared_from": "e/alb", "hosts": ["bad_host!"]})),
            ["hosts"]
        );
        let five: Vec<String> = (0..5).map(|i| format!("h{i}.example.org")).collect();
        assert!(paths(serde_json::json!({"shared_from": "e/alb", "hosts": five})).is_empty());
        // Five plus the tenant's own name: six in one rule.
        assert_eq!(
            paths(serde_json::json!({
                "shared_from": "e/alb", "hosts": five, "subdomain_of": "example.org"
            })),
            ["hosts"]
        );
        assert!(
            paths(serde_json::json!({
                "shared_from": "e/alb", "subdomain_of": "${envctl.domain}", "suffixes": ["", "-api"]
            }))
            .is_empty()
        );
        assert_eq!(
            paths(
                serde_json::json!({"shared_from": "e/alb", "hosts": ["a.b"], "suffixes": ["-x"]})
            ),
            ["suffixes"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "shared_from": "e/alb", "subdomain_of": "example.org", "suffixes": [".api"]
            })),
            ["suffixes.0"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "shared_from": "e/alb", "hosts": ["a.b"], "vpc_id": "net-1",
                "health_check_path": "health"
            })),
            ["health_check_path", "vpc_id"]
        );
    }
}
