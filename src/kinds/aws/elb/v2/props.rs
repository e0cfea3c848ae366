//! The `aws.elbv2.load_balancer` kind's properties: what they mean, the
//! checks made before anything runs ([`KindProps::check`]), the outputs the
//! kind publishes, and what an apply wants ([`Wanted`]).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::{
    MAX_NAME, Scheme, check_elb_name, default_health_check_path, default_target_port,
};
use crate::kinds::aws::props::{
    has_ref, health_check_path_issue, id_issue, non_empty, refuse, string_list, string_list_schema,
};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{Cx, KindError, OutputSpec, PropIssue, Props, parse_props};

/// Rules per ALB (default quota, default rules not counted).
const MAX_HOSTS: usize = 100;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum LbType {
    #[default]
    Application,
    Network,
}

/// What an application load balancer's serving listener does with a
/// request that no host rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Unmatched {
    /// Forward to the load balancer's target group.
    #[default]
    Forward,
    /// Answer 404: for a load balancer tenants share, each forwarding its
    /// own hosts with an `aws.elbv2.host_rule`.
    NotFound,
}

/// An Application (or Network) Load Balancer with one target group: HTTPS:443
/// with a certificate (HTTP:80 redirecting to it), host-header rules; or TCP.
///
/// An application load balancer without a certificate gets HTTP:80
/// forwarding to the target group; with `certificate_arn`, HTTPS:443
/// forwards (TLS policy `ELBSecurityPolicy-TLS13-1-2-2021-06`) and HTTP:80
/// answers 301 to HTTPS. Each of `hosts` gets a host-header rule on the
/// forwarding listener; with `unmatched: not-found` the listener answers
/// other hosts with a fixed 404 (FixedResponseActionConfig) instead of
/// forwarding them, for a load balancer tenants share through their
/// `aws.elbv2.host_rule`s, whose rules it leaves alone (and is not deleted
/// from under). A network load balancer gets one TCP listener on
/// `listener_port`. Rules: ELBv2 API reference, CreateLoadBalancer (`Subnets`:
/// an application load balancer needs two Availability Zones; `Scheme`),
/// CreateTargetGroup (`Port` 1-65535, `HealthCheckPath` 1-1024 characters
/// starting with '/', `VpcId`), CreateListener (`Port` 1-65535) and
/// CreateRule (host-header values: 1-128 characters of a-z, 0-9, `-`, `.`,
/// `*`, `?`; at most 100 rules per listener by default, "Quotas for your
/// Application Load Balancers"). The load balancer and target group names
/// are envctl's (`envctl-<tenant>-<id>`, at most 32 characters of letters,
/// digits and `-`, not at either end, not beginning with `internal-`),
/// checked at apply where the tenant is known.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LbProps {
    /// `application` (default) or `network`.
    #[serde(default, rename = "type")]
    lb_type: LbType,
    /// Subnets to place it in; an application load balancer needs subnets
    /// in two Availability Zones. A list, or a comma-separated string (as
    /// references yield), e.g. `${network.subnet_ids}`.
    #[serde(deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    subnet_ids: Vec<String>,
    /// Security groups (a list or a comma-separated string), e.g.
    /// `[${alb-sg.group_id}]`; absent: the VPC's default group.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    security_group_ids: Vec<String>,
    /// `internet-facing` (default) or `internal`; cannot change once created.
    #[serde(default)]
    scheme: Scheme,
    /// Application only: the ACM certificate ARN of the HTTPS:443 listener,
    /// e.g. `${cert.arn}`; with it HTTP:80 redirects to HTTPS (301), without
    /// it (absent or empty) HTTP:80 forwards to the targets.
    #[serde(default)]
    certificate_arn: Option<String>,
    /// The port the targets listen on; default 8080. Cannot change once
    /// created.
    #[serde(default = "default_target_port")]
    #[schemars(range(min = 1, max = 65535))]
    target_port: u16,
    /// HTTP health check path of the target group, starting with `/`;
    /// default `/healthcheck`.
    #[serde(default = "default_health_check_path")]
    #[schemars(length(max = 1024))]
    health_check_path: String,
    /// Application only: host names (a list or a comma-separated string),
    /// e.g. `[api.example.com, "*.example.com"]`; each gets a host-header
    /// rule forwarding to the target group. Default none.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    hosts: Vec<String>,
    /// VPC of the target group, e.g. `${network.vpc_id}`; default: the load
    /// balancer's VPC.
    #[serde(default)]
    vpc_id: Option<String>,
    /// Application only: what the serving listener does with a request no
    /// host rule matches: `forward` to the target group (default) or
    /// `not-found` (a fixed 404), for a load balancer shared by tenants
    /// whose `aws.elbv2.host_rule`s forward their own hosts.
    #[serde(default)]
    unmatched: Unmatched,
    /// Network only: the port of the TCP listener; default 80.
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    listener_port: Option<u16>,
}

impl KindProps for LbProps {
    /// The rules across fields and on characters (ELBv2 API reference, see
    /// the struct): ids by prefix, subnets in two zones for an application
    /// load balancer, the health-check path, host-header values (unique, at
    /// most 100), and which properties belong to which type. References are
    /// skipped; a list holding one may stand for several items.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let mut bad = |path: &[&str], m: String| issues.push(PropIssue::new(path, m));
        if self.subnet_ids.is_empty() {
            bad(
                &["subnet_ids"],
                "is empty; give at least one subnet id, e.g. ${network.subnet_ids}".into(),
            );
        }
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| !is_ref(h))
            .map(|h| h.to_ascii_lowercase())
            .collect();
        for h in hosts.iter().filter(|h| !valid_host(h)) {
            bad(
                &["hosts"],
                format!(
                    "'{h}' is not a host-header value ALB accepts: 1-128 characters of a-z, \
                     0-9, '-', '.', and the wildcards '*' and '?'"
                ),
            );
        }
        if self.hosts.len() > MAX_HOSTS {
            bad(
                &["hosts"],
                format!(
                    "has {} entries; an ALB listener takes at most {MAX_HOSTS} rules: split \
                     the hosts over several load balancers",
                    self.hosts.len()
                ),
            );
        }
        let mut unique = BTreeSet::new();
        if let Some(h) = hosts.iter().find(|h| !unique.insert(h.as_str())) {
            bad(
                &["hosts"],
                format!("'{h}' is listed twice (host names ignore case); list each once"),
            );
        }
        let certificate = self
            .certificate_arn
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        match self.lb_type {
            LbType::Application => {
                if self.subnet_ids.len() == 1 && !has_ref(&self.subnet_ids) {
                    bad(
                        &["subnet_ids"],
                        "an application load balancer needs subnets in at least two \
                         Availability Zones; add a subnet of another zone"
                            .into(),
                    );
                }
                if self.listener_port.is_some() {
                    bad(
                        &["listener_port"],
                        "is for type: network; an application load balancer listens on 80 \
                         (and 443 with certificate_arn): remove it"
                            .into(),
                    );
                }
            }
            LbType::Network => {
                if certificate {
                    bad(
                        &["certificate_arn"],
                        "is for type: application; a network load balancer gets a TCP \
                         listener: remove it"
                            .into(),
                    );
                }
                if !self.hosts.is_empty() {
                    bad(
                        &["hosts"],
                        "needs type: application (host-header rules are an ALB feature): \
                         remove it"
                            .into(),
                    );
                }
                if self.unmatched != Unmatched::Forward {
                    bad(
                        &["unmatched"],
                        "needs type: application (a network load balancer has no host \
                         rules): remove it"
                            .into(),
                    );
                }
            }
        }
        issues.extend(id_issue("subnet_ids", &self.subnet_ids, "subnet-"));
        issues.extend(id_issue(
            "security_group_ids",
            &self.security_group_ids,
            "sg-",
        ));
        if let Some(v) = self.vpc_id.as_deref().filter(|v| !v.trim().is_empty()) {
            issues.extend(id_issue("vpc_id", &[v.trim().to_string()], "vpc-"));
        }
        issues.extend(health_check_path_issue(&self.health_check_path));
        issues
    }
}

/// The kind's name in stacks.
pub(super) const NAME: &str = "aws.elbv2.load_balancer";

pub(super) static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<LbProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the load balancer ARN",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the load balancer name, envctl-<tenant>-<id> (at most 32 characters)",
    },
    OutputSpec {
        name: "dns_name",
        secret: false,
        doc: "the load balancer's DNS name",
    },
    OutputSpec {
        name: "canonical_hosted_zone_id",
        secret: false,
        doc: "the Route 53 hosted zone of the DNS name, for alias records",
    },
    OutputSpec {
        name: "target_group_arn",
        secret: false,
        doc: "the target group ARN (register instances or an Auto Scaling group with it)",
    },
    OutputSpec {
        name: "listener_arn",
        secret: false,
        doc: "the listener that forwards to the target group (HTTPS with a certificate, \
              else HTTP; TCP for a network load balancer)",
    },
    OutputSpec {
        name: "https_listener_arn",
        secret: false,
        doc: "the HTTPS listener ARN (only with certificate_arn)",
    },
];

pub(super) struct Wanted {
    pub(super) name: String,
    pub(super) lb_type: LbType,
    pub(super) subnets: Vec<String>,
    pub(super) security_groups: Vec<String>,
    pub(super) scheme: Scheme,
    pub(super) certificate: Option<String>,
    pub(super) target_port: u16,
    pub(super) health_check_path: String,
    pub(super) hosts: Vec<String>,
    pub(super) vpc_id: Option<String>,
    pub(super) listener_port: u16,
    pub(super) unmatched: Unmatched,
}

/// A host header ALB accepts: 1-128 characters of a-z, 0-9, '-', '.', and
/// the wildcards '*' and '?'.
pub(super) fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 128
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.*?".contains(c))
}

pub(super) fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
    let p: LbProps = parse_props(props)?;
    let name = cx.physical_name(MAX_NAME);
    check_elb_name("load balancer", &name, cx)?;
    refuse(SCHEMA.issues(props))?;
    Ok(Wanted {
        name,
        lb_type: p.lb_type,
        subnets: p.subnet_ids,
        security_groups: p.security_group_ids,
        scheme: p.scheme,
        certificate: non_empty(p.certificate_arn),
        target_port: p.target_port,
        health_check_path: p.health_check_path,
        hosts: p.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        vpc_id: non_empty(p.vpc_id),
        listener_port: p.listener_port.unwrap_or(80),
        unmatched: p.unmatched,
    })
}

#[cfg(test)]
mod tests {
    use super::super::LoadBalancer;
    use super::*;
    use crate::kinds::Kind;

    #[derive(Debug, Deserialize)]
    struct L {
        #[serde(default, deserialize_with = "string_list")]
        ids: Vec<String>,
    }

    fn list(v: serde_json::Value) -> Vec<String> {
        serde_json::from_value::<L>(serde_json::json!({ "ids": v }))
            .unwrap()
            .ids
    }

    #[test]
    fn lists_come_as_lists_or_comma_separated_strings() {
        assert_eq!(list(serde_json::json!("a, b,,c")), ["a", "b", "c"]);
        assert_eq!(list(serde_json::json!(["a", "b,c", "a"])), ["a", "b", "c"]);
        assert!(list(serde_json::json!(null)).is_empty());
        assert!(list(serde_json::json!("")).is_empty());
        assert!(serde_json::from_value::<L>(serde_json::json!({ "ids": 5 })).is_err());
        assert!(serde_json::from_value::<L>(serde_json::json!({ "ids": [5] })).is_err());
    }

    #[test]
    fn hosts_are_checked() {
        assert!(valid_host("api.example.com"));
        assert!(valid_host("*.example.com"));
        assert!(!valid_host(""));
        assert!(!valid_host("exa mple.com"));
        assert!(!valid_host("example.com/path"));
        assert!(!valid_host(&"a".repeat(129)));
    }

    #[test]
    fn literal_paths_hosts_and_ports_break_elb_rules_at_validation() {
        // Two subnets unless given: the rest of each case is what is tested.
        let check = |mut v: serde_json::Value| {
            let m = v.as_object_mut().unwrap();
            m.entry("subnet_ids")
                .or_insert(serde_json::json!(["subnet-a", "subnet-b"]));
            let mut paths: Vec<String> = LoadBalancer
                .check(m)
                .into_iter()
                .map(|i| i.path.join("."))
                .collect();
            paths.sort();
            paths
        };
        assert!(check(serde_json::json!({"health_check_path": "/healthcheck", "hosts": ["app.${zone.name}"]})).is_empty());
        assert_eq!(
            check(serde_json::json!({"health_check_path": "healthcheck"})),
            ["health_check_path"]
        );
        assert_eq!(
            check(serde_json::json!({"health_check_path": "/a b"})),
            ["health_check_path"]
        );
        // The message names the host; the list may have come as one
        // comma-separated string, so no index.
        assert_eq!(
            check(serde_json::json!({"hosts": ["ok.example.com", "bad_host!"]})),
            ["hosts"]
        );
        assert_eq!(
            check(serde_json::json!({"target_port": 0, "listener_port": 70000})),
            ["listener_port", "target_port"]
        );
    }

    #[test]
    fn wrongly_typed_and_out_of_range_literals_name_the_field() {
        let issues = |v: serde_json::Value| {
            LoadBalancer
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| (i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let two = serde_json::json!(["subnet-a", "subnet-b"]);
        let found = issues(serde_json::json!({"subnet_ids": two, "target_port": "web"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "target_port");
        assert!(
            found[0].1.starts_with("must be a whole number"),
            "{found:?}"
        );
        let found = issues(serde_json::json!({"subnet_ids": two, "type": "gateway"}));
        assert_eq!(
            found,
            [(
                "type".to_string(),
                "is gateway; use one of: application, network".to_string()
            )]
        );
        let found = issues(serde_json::json!({"subnet_ids": two, "target_port": 65536}));
        assert_eq!(found[0].0, "target_port", "{found:?}");
        assert!(
            found[0].1.contains("the most allowed is 65535"),
            "{found:?}"
        );
    }

    #[test]
    fn rules_across_fields_skip_references() {
        let paths = |v: serde_json::Value| {
            LoadBalancer
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| i.path.join("."))
                .collect::<Vec<_>>()
        };
        // One reference may stand for several subnets.
        assert!(paths(serde_json::json!({"subnet_ids": "${network.subnet_ids}"})).is_empty());
        assert!(paths(serde_json::json!({"subnet_ids": ["${network.subnet_ids}"]})).is_empty());
        assert_eq!(
            paths(serde_json::json!({"subnet_ids": ["subnet-a"]})),
            ["subnet_ids"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "subnet_ids": "subnet-a,subnet-b", "hosts": "a.test, A.test"
            })),
            ["hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "type": "network", "subnet_ids": "subnet-a", "hosts": ["a.test"],
                "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x",
            })),
            ["certificate_arn", "hosts"]
        );
        assert_eq!(
            paths(serde_json::json!({
                "subnet_ids": ["subnet-a", "subnet-b"], "listener_port": 81, "vpc_id": "net-1"
            })),
            ["listener_port", "vpc_id"]
        );
        assert!(
            paths(serde_json::json!({
                "type": "network", "subnet_ids": "subnet-a",
                "certificate_arn": "${cert.arn}", "vpc_id": "${network.vpc_id}",
            }))
            .is_empty()
        );
    }
}
