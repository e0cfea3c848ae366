//! The `aws.ec2.security_group` kind: a VPC security group with the ingress
//! rules of the stack. Egress is AWS's default (all traffic allowed). Rules
//! are converged: missing ones are authorized; rules envctl added earlier
//! (tagged as this resource's) that the stack no longer lists are revoked;
//! rules added by hand are left alone.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroup as Ec2Group, SecurityGroupRule,
    Tag, UserIdGroupPair,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::ec2_rules::{GROUP_TEXT_EXTRA, RULE_TEXT_EXTRA, text_issue};
use super::eni_holders::{Held, dependency_violation};
use super::network::{
    configure_error, ec2_tags, filter, managed_by, parse_cidr, refuse_other_tenant, sweep_filters,
    tag_spec,
};
use super::tags::tag_map;
use super::{classify, errors};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Security group names are at most 255 characters.
const MAX_NAME: usize = 255;
/// Descriptions (of the group and of a rule) are at most 255 characters.
const MAX_DESCRIPTION: usize = 255;

pub struct SecurityGroup;

/// A VPC security group with the stack's ingress rules; egress stays AWS's
/// default (all traffic allowed).
///
/// Rules are converged: missing ones are authorized, rules envctl added
/// earlier that the stack no longer lists are revoked, rules added by hand
/// are left alone. The rules on the properties come from the EC2 API
/// reference: CreateSecurityGroup (`Description`: 1-255 characters of
/// a-z, A-Z, 0-9, spaces and `._-:/()#,@[]+=&;{}!$*`), IpPermission
/// (`IpProtocol`, `FromPort`, `ToPort`: ports 0-65535, ICMP type and code
/// -1 to 255, -1 meaning all) and IpRange / Ipv6Range / UserIdGroupPair
/// (`Description`: the same characters without `&`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SgProps {
    /// The VPC of the group, an id starting with `vpc-`. Example:
    /// `${network.vpc_id}`.
    vpc_id: String,
    /// The group's description, set at creation (EC2 cannot change it
    /// later); default `envctl <tenant>/<id>`. Example: `HTTPS from the
    /// load balancer`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    description: Option<String>,
    /// The ingress rules; default none. Egress is AWS's default allow-all.
    /// Example: `[{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]`.
    #[serde(default)]
    ingress: Vec<IngressProps>,
}

/// One ingress rule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct IngressProps {
    /// `tcp`, `udp`, `icmp`, or `-1` (also `all`) for all traffic (any
    /// case).
    protocol: IntOrText,
    /// The one port of a tcp or udp rule, e.g. `443` (or give from_port and
    /// to_port).
    #[serde(default)]
    #[schemars(range(min = -1, max = 65535))]
    port: Option<IntOrText>,
    /// The first port of a tcp or udp range, e.g. `1000`; for icmp the ICMP
    /// type (default -1, all).
    #[serde(default)]
    #[schemars(range(min = -1, max = 65535))]
    from_port: Option<IntOrText>,
    /// The last port of a tcp or udp range, e.g. `2000`; for icmp the ICMP
    /// code (default -1, all).
    #[serde(default)]
    #[schemars(range(min = -1, max = 65535))]
    to_port: Option<IntOrText>,
    /// Where the traffic comes from: an IPv4 or IPv6 CIDR block, e.g.
    /// `10.0.0.0/8` or `::/0` (give this or source_group).
    #[serde(default)]
    cidr: Option<String>,
    /// Where the traffic comes from: a security group id, e.g.
    /// `${web-sg.group_id}` (give this or cidr).
    #[serde(default)]
    source_group: Option<String>,
    /// The rule's description, e.g. `from the load balancer`; default none.
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    description: Option<String>,
}

use super::props::IntOrText;

/// Where traffic of a rule comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Cidr4(String),
    Cidr6(String),
    Group(String),
}

/// One ingress rule in the form EC2 reports it (ports -1 for "all").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: i32,
    to: i32,
    source: Source,
}

impl Rule {
    fn permission(&self, description: Option<&str>) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != "-1" {
            p = p.from_port(self.from).to_port(self.to);
        }
        match &self.source {
            Source::Cidr4(c) => p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
            Source::Cidr6(c) => p.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
            Source::Group(g) => p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g)
                    .set_description(description.map(str::to_string))
                    .build(),
            ),
        }
        .build()
    }

    /// The rule as EC2 describes it; `None` for egress or prefix-list rules.
    fn of(r: &SecurityGroupRule) -> Option<Rule> {
        if r.is_egress() != Some(false) {
            return None;
        }
        let protocol = r.ip_protocol()?.to_string();
        let all = protocol == "-1";
        let source = if let Some(c) = r.cidr_ipv4() {
            Source::Cidr4(c.to_string())
        } else if let Some(c) = r.cidr_ipv6() {
            Source::Cidr6(c.to_string())
        } else {
            Source::Group(r.referenced_group_info()?.group_id()?.to_string())
        };
        Some(Rule {
            from: if all { -1 } else { r.from_port().unwrap_or(-1) },
            to: if all { -1 } else { r.to_port().unwrap_or(-1) },
            protocol,
            source,
        })
    }
}

/// Port `v` of field `name` (at least `min`), as an issue at that field.
fn port(name: &str, v: Option<&IntOrText>, min: i64) -> Result<Option<i32>, PropIssue> {
    let Some(v) = v else { return Ok(None) };
    match v.int() {
        Some(p) if (min..=65535).contains(&p) => Ok(Some(p as i32)),
        Some(p) => Err(PropIssue::new(
            &[name],
            format!("is {p}; ports are 0 to 65535 (ICMP types/codes -1 to 255)"),
        )),
        None => Err(PropIssue::new(
            &[name],
            "must be a whole number, e.g. 443 (-1 for all ICMP types or codes)",
        )),
    }
}

impl IngressProps {
    /// This rule with every `${ref}` replaced by a value of its shape and
    /// the description left out (checked on its own), so the literal rest
    /// is checked at validation.
    fn filled(&self) -> IngressProps {
        let fill = |v: &Option<IntOrText>, with: i64| {
            v.as_ref().map(|v| {
                if v.is_ref() {
                    IntOrText::Int(with)
                } else {
                    v.clone()
                }
            })
        };
        let text = |v: &Option<String>, with: &str| {
            v.as_ref().map(|v| {
                if is_ref(v) {
                    with.to_string()
                } else {
                    v.clone()
                }
            })
        };
        IngressProps {
            protocol: if self.protocol.is_ref() {
                IntOrText::Text("tcp".into())
            } else {
                self.protocol.clone()
            },
            port: fill(&self.port, 1),
            from_port: fill(&self.from_port, 0),
            to_port: fill(&self.to_port, 65535),
            cidr: text(&self.cidr, "10.0.0.0/8"),
            source_group: text(&self.source_group, "sg-ref"),
            description: None,
        }
    }

    /// The normalized rule and its description; an issue's path is within
    /// the entry (empty: the entry as a whole).
    fn rule(&self) -> Result<(Rule, Option<String>), PropIssue> {
        let bad = |m: &str| Err(PropIssue::new(&[], m));
        let protocol = match &self.protocol {
            IntOrText::Text(s) => s.trim().to_ascii_lowercase(),
            IntOrText::Int(n) => n.to_string(),
        };
        let protocol = match protocol.as_str() {
            "tcp" | "udp" | "icmp" | "-1" => protocol,
            "all" => "-1".into(),
            _ => {
                return Err(PropIssue::new(
                    &["protocol"],
                    "is not supported; use tcp, udp, icmp or -1 (all traffic)",
                ));
            }
        };
        let p = port("port", self.port.as_ref(), 0)?;
        let (from, to) = match protocol.as_str() {
            "-1" => {
                if p.is_some() || self.from_port.is_some() || self.to_port.is_some() {
                    return bad("protocol -1 means all ports; remove port/from_port/to_port");
                }
                (-1, -1)
            }
            "icmp" => {
                if p.is_some() {
                    return Err(PropIssue::new(
                        &["port"],
                        "icmp has no ports: use from_port (ICMP type) and to_port (code), \
                         -1 for all",
                    ));
                }
                let ty = port("from_port", self.from_port.as_ref(), -1)?.unwrap_or(-1);
                let code = port("to_port", self.to_port.as_ref(), -1)?.unwrap_or(-1);
                if ty > 255 || code > 255 {
                    return bad("ICMP types and codes are -1 to 255");
                }
                (ty, code)
            }
            _ => {
                let from = port("from_port", self.from_port.as_ref(), 0)?;
                let to = port("to_port", self.to_port.as_ref(), 0)?;
                match (p, from, to) {
                    (Some(p), None, None) => (p, p),
                    (None, Some(f), Some(t)) if f <= t => (f, t),
                    (None, Some(f), Some(t)) => {
                        return Err(PropIssue::new(
                            &["from_port"],
                            format!("from_port {f} is above to_port {t}; swap them"),
                        ));
                    }
                    _ => {
                        return Err(PropIssue::new(
                            &[],
                            format!("{protocol} needs either port, or both from_port and to_port"),
                        ));
                    }
                }
            }
        };
        let source = match (&self.cidr, &self.source_group) {
            (Some(c), None) => {
                let c = c.trim();
                if c.contains(':') {
                    let ok = c.split_once('/').is_some_and(|(a, n)| {
                        a.parse::<Ipv6Addr>().is_ok() && n.parse::<u8>().is_ok_and(|n| n <= 128)
                    });
                    if !ok {
                        return Err(PropIssue::new(
                            &["cidr"],
                            format!("'{c}' is not an IPv6 block like ::/0"),
                        ));
                    }
                    Source::Cidr6(c.to_string())
                } else {
                    parse_cidr(c).map_err(|m| PropIssue::new(&["cidr"], m))?;
                    Source::Cidr4(c.to_string())
                }
            }
            (None, Some(g)) => {
                if !g.trim().starts_with("sg-") {
                    return Err(PropIssue::new(
                        &["source_group"],
                        "is not a security group id starting with 'sg-'; use e.g. \
                         ${web-sg.group_id}",
                    ));
                }
                Source::Group(g.trim().to_string())
            }
            _ => {
                return bad(
                    "give exactly one of cidr (e.g. 10.0.0.0/8) or source_group (a group id, \
                     e.g. ${web-sg.group_id})",
                );
            }
        };
        if let Some(d) = &self.description
            && d.chars().count() > MAX_DESCRIPTION
        {
            return Err(PropIssue::new(
                &["description"],
                format!("is longer than {MAX_DESCRIPTION} characters"),
            ));
        }
        Ok((
            Rule {
                protocol,
                from,
                to,
                source,
            },
            self.description.clone(),
        ))
    }
}

/// The issue at `field` of ingress entry `i`.
fn at_entry(i: usize, mut issue: PropIssue) -> PropIssue {
    let mut path = vec!["ingress".to_string(), i.to_string()];
    path.append(&mut issue.path);
    issue.path = path;
    issue
}

const VPC_ID_ISSUE: &str = "is not a VPC id (one starts with 'vpc-'); use e.g. ${network.vpc_id}";

impl SgProps {
    /// The wanted rules, duplicates collapsed (resolved values).
    fn rules(&self) -> Result<Vec<(Rule, Option<String>)>, KindError> {
        let refuse = super::props::refusal;
        if !self.vpc_id.starts_with("vpc-") {
            return Err(refuse(PropIssue::new(&["vpc_id"], VPC_ID_ISSUE)));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, r) in self.ingress.iter().enumerate() {
            let (rule, description) = r.rule().map_err(|e| refuse(at_entry(i, e)))?;
            if seen.insert(rule.clone()) {
                out.push((rule, description));
            }
        }
        Ok(out)
    }
}

/// CreateSecurityGroup's rules on the description (characters, 1-255), the
/// rule descriptions' (no `&`), and what `apply` checks of ids, CIDRs,
/// protocols and ports. The group name is envctl's (`envctl-<tenant>-<id>`:
/// lowercase letters, digits and `-`, at most 255 characters, never starting
/// with `sg-`), so it always passes the GroupName rules of the same
/// reference.
impl KindProps for SgProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if !is_ref(&self.vpc_id) && !self.vpc_id.starts_with("vpc-") {
            issues.push(PropIssue::new(&["vpc_id"], VPC_ID_ISSUE));
        }
        if let Some(d) = &self.description
            && !is_ref(d)
            && let Some(m) = text_issue("description", d, GROUP_TEXT_EXTRA)
        {
            issues.push(PropIssue::new(&["description"], m));
        }
        for (i, r) in self.ingress.iter().enumerate() {
            if let Some(d) = &r.description
                && !is_ref(d)
                && let Some(m) = text_issue("the rule description", d, RULE_TEXT_EXTRA)
            {
                issues.push(PropIssue::new(
                    &["ingress", &i.to_string(), "description"],
                    m,
                ));
            }
            if let Err(e) = r.filled().rule() {
                issues.push(at_entry(i, e));
            }
        }
        issues
    }
}

const NAME: &str = "aws.ec2.security_group";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<SgProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "group_id",
        secret: false,
        doc: "the security group id (sg-...)",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the group name, envctl-<tenant>-<id>",
    },
    OutputSpec {
        name: "vpc_id",
        secret: false,
        doc: "the VPC of the group",
    },
];

fn outputs(group_id: &str, name: &str, vpc_id: &str) -> Outputs {
    Outputs::new()
        .plain("group_id", group_id)
        .plain("name", name)
        .plain("vpc_id", vpc_id)
}

async fn group_by_name(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    name: &str,
) -> Result<Option<Ec2Group>, KindError> {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", name))
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeSecurityGroups {name}"), e))?;
    Ok(out.security_groups().first().cloned())
}

async fn group_rules(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
) -> Result<Vec<SecurityGroupRule>, KindError> {
    let mut out = Vec::new();
    let mut items = ec2
        .describe_security_group_rules()
        .filters(filter("group-id", group_id))
        .into_paginator()
        .items()
        .send();
    while let Some(r) = items.next().await {
        out.push(
            r.map_err(|e| configure_error(&format!("DescribeSecurityGroupRules {group_id}"), e))?,
        );
    }
    Ok(out)
}

/// Finds the group by name in the VPC, or creates it; adds missing tags.
async fn ensure_group(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    description: &str,
) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let existing = match group_by_name(ec2, vpc_id, name).await? {
        Some(g) => g,
        None => {
            match ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(ResourceType::SecurityGroup, cx, name))
                .send()
                .await
            {
                Ok(out) => {
                    return out.group_id().map(str::to_string).ok_or_else(|| {
                        KindError::Permanent("CreateSecurityGroup: no group id in answer".into())
                    });
                }
                // Made meanwhile, or by an earlier create whose answer was
                // lost (CreateSecurityGroup has no ClientToken, but a name is
                // unique in a VPC): adopt it once the lookup shows it, which
                // EC2's eventual consistency may delay.
                Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
                    group_by_name(ec2, vpc_id, name).await?.ok_or_else(|| {
                        KindError::waiting(
                            format!(
                                "CreateSecurityGroup {name}: InvalidGroup.Duplicate, but the \
                                 lookup does not show the group yet"
                            ),
                            format!("security group {name} to become visible"),
                            Duration::from_secs(5 * 60),
                        )
                    })?
                }
                Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {
                    return Err(KindError::Permanent(format!(
                        "properties: vpc_id: VPC {vpc_id} does not exist"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateSecurityGroup {name}"), e)),
            }
        }
    };
    let group_id = existing
        .group_id()
        .ok_or_else(|| KindError::Permanent("security group without id".into()))?
        .to_string();
    let have = tag_map(existing.tags());
    refuse_other_tenant(cx, &format!("security group {name} ({group_id})"), &have)?;
    let missing: Vec<Tag> = ec2_tags(cx, name)
        .into_iter()
        .filter(|t| {
            t.key()
                .is_some_and(|k| have.get(k).map(String::as_str) != t.value())
        })
        .collect();
    if !missing.is_empty() {
        ec2.create_tags()
            .resources(&group_id)
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(|e| configure_error(&format!("CreateTags {group_id}"), e))?;
    }
    Ok(group_id)
}

/// Authorizes the wanted rules that are missing and revokes the rules this
/// resource added earlier that are no longer wanted.
async fn converge_rules(
    cx: &Cx,
    name: &str,
    group_id: &str,
    wanted: &[(Rule, Option<String>)],
) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let rules = group_rules(ec2, group_id).await?;
    let have: BTreeSet<Rule> = rules.iter().filter_map(Rule::of).collect();
    for (rule, description) in wanted {
        if have.contains(rule) {
            continue;
        }
        match ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(rule.permission(description.as_deref()))
            .tag_specifications(tag_spec(ResourceType::SecurityGroupRule, cx, name))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => {
                let msg = e.message().unwrap_or_default().to_string();
                if msg.contains(group_id) {
                    return Err(KindError::Transient(format!(
                        "AuthorizeSecurityGroupIngress {group_id}: the new group is not visible yet"
                    )));
                }
                return Err(KindError::Permanent(format!(
                    "AuthorizeSecurityGroupIngress {group_id}: a source_group does not exist: {msg}"
                )));
            }
            Err(e) => {
                return Err(classify(
                    &format!("AuthorizeSecurityGroupIngress {group_id}"),
                    e,
                ));
            }
        }
    }
    let wanted: BTreeSet<&Rule> = wanted.iter().map(|(r, _)| r).collect();
    let stale: Vec<String> = rules
        .iter()
        .filter(|r| {
            let t = tag_map(r.tags());
            managed_by(&t, &cx.tenant)
                && t.get(tags::RESOURCE) == Some(&cx.resource_id)
                && Rule::of(r).is_some_and(|rule| !wanted.contains(&rule))
        })
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    if !stale.is_empty() {
        match ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(stale))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
            Err(e) => {
                return Err(classify(
                    &format!("RevokeSecurityGroupIngress {group_id}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// A revoke of a rule or group that is no longer there: nothing to do.
fn already_gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
    )
}

/// The groups of `vpc_id` and their rules that name `group_id` (or that
/// `group_id` names): the tenant's are revoked; the others are returned, as
/// "sg-x (name)", for the error that says why the delete cannot succeed.
async fn revoke_references(
    cx: &Cx,
    vpc_id: &str,
    group_id: &str,
) -> Result<Vec<String>, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let mut groups = Vec::new();
    let mut pages = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .into_paginator()
        .items()
        .send();
    while let Some(g) = pages.next().await {
        groups.push(g.map_err(|e| classify(&format!("DescribeSecurityGroups in {vpc_id}"), e))?);
    }
    let names = |p: &[IpPermission], id: &str| {
        p.iter()
            .flat_map(|p| p.user_id_group_pairs())
            .any(|pair| pair.group_id() == Some(id))
    };
    let mut foreign = Vec::new();
    for g in &groups {
        let Some(id) = g.group_id() else { continue };
        let this = id == group_id;
        let refers = if this {
            // Its own rules naming the tenant's other groups.
            groups.iter().any(|o| {
                o.group_id().is_some_and(|oid| {
                    oid != group_id
                        && managed_by(&tag_map(o.tags()), &cx.tenant)
                        && (names(g.ip_permissions(), oid) || names(g.ip_permissions_egress(), oid))
                })
            })
        } else {
            names(g.ip_permissions(), group_id) || names(g.ip_permissions_egress(), group_id)
        };
        if !refers {
            continue;
        }
        if !this && !managed_by(&tag_map(g.tags()), &cx.tenant) {
            foreign.push(format!("{id} ({})", g.group_name().unwrap_or("?")));
            continue;
        }
        // The rules of `g` that name a group to let go of: for `g` itself,
        // the tenant's other groups; for another group, this one.
        let tenant_groups: BTreeSet<&str> = groups
            .iter()
            .filter(|o| managed_by(&tag_map(o.tags()), &cx.tenant))
            .filter_map(|o| o.group_id())
            .filter(|oid| *oid != group_id)
            .collect();
        let rules = group_rules(ec2, id).await?;
        let (mut ingress, mut egress) = (Vec::new(), Vec::new());
        for r in &rules {
            let Some(named) = r.referenced_group_info().and_then(|i| i.group_id()) else {
                continue;
            };
            let drop = if this {
                tenant_groups.contains(named)
            } else {
                named == group_id
            };
            if let (true, Some(rule_id)) = (drop, r.security_group_rule_id()) {
                if r.is_egress() == Some(true) {
                    egress.push(rule_id.to_string());
                } else {
                    ingress.push(rule_id.to_string());
                }
            }
        }
        if !ingress.is_empty() {
            match ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_security_group_rule_ids(Some(ingress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if already_gone(e.code()) => {}
                Err(e) => return Err(classify(&format!("RevokeSecurityGroupIngress {id}"), e)),
            }
        }
        if !egress.is_empty() {
            match ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_security_group_rule_ids(Some(egress))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if already_gone(e.code()) => {}
                Err(e) => return Err(classify(&format!("RevokeSecurityGroupEgress {id}"), e)),
            }
        }
    }
    Ok(foreign)
}

#[async_trait]
impl Kind for SecurityGroup {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "ec2"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~3 s: CreateSecurityGroup and one AuthorizeSecurityGroupIngress per
    /// rule, each well under a second, plus the lookups; a group is usable as
    /// soon as it is visible (EC2 API reference, "Eventual consistency in the
    /// Amazon EC2 API"). An estimate for the budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: SgProps = parse_props(props)?;
        let wanted = p.rules()?;
        let name = cx.physical_name(MAX_NAME);
        let description = p
            .description
            .clone()
            .unwrap_or_else(|| format!("envctl {}/{}", cx.tenant, cx.resource_id));
        let group_id = ensure_group(cx, &name, &p.vpc_id, &description).await?;
        converge_rules(cx, &name, &group_id, &wanted).await?;
        Ok(outputs(&group_id, &name, &p.vpc_id))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let group_id = out.require("group_id")?;
        match cx
            .backends
            .aws
            .ec2
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
        {
            Ok(o) if !o.security_groups().is_empty() => Ok(Readiness::Ready),
            Ok(_) => Ok(Readiness::Pending(format!(
                "group {group_id} not visible yet"
            ))),
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(Readiness::Pending(format!(
                "group {group_id} not visible yet"
            ))),
            Err(e) => Err(classify(&format!("DescribeSecurityGroups {group_id}"), e)),
        }
    }

    /// Revokes the rules that tie this group to the tenant's other groups
    /// (theirs naming it, its own naming them), then deletes it; so groups
    /// that name each other go in any order, as after state loss, when the
    /// sweep finds them in list order. terraform-provider-aws does the same
    /// with `revoke_rules_on_delete` (`ec2/vpc_security_group.go`,
    /// `forceRevokeSecurityGroupRules`). A DependencyViolation left after
    /// that is put down to what holds the group ([`eni_holders`]).
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let group_id = out.require("group_id")?;
        let ec2 = &cx.backends.aws.ec2;
        let vpc_id = out
            .get("vpc_id")
            .map(|v| v.expose())
            .filter(|v| !v.is_empty());
        let foreign = match vpc_id {
            Some(vpc) => revoke_references(cx, vpc, group_id).await?,
            None => Vec::new(),
        };
        let what = format!("DeleteSecurityGroup {group_id}");
        match ec2.delete_security_group().group_id(group_id).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(()),
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&what, &e);
                if !foreign.is_empty() {
                    return Err(KindError::Permanent(format!(
                        "{message}; rules of {} name this group, and they are not tenant '{}''s, \
                         so waiting would not help: remove those rules, then run destroy again",
                        foreign.join(", "),
                        cx.tenant
                    )));
                }
                Err(dependency_violation(
                    ec2,
                    &cx.tenant,
                    Held::Group(group_id),
                    message,
                    "the network interfaces or rules that use it",
                )
                .await)
            }
            Err(e) => Err(classify(&what, e)),
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut items = ec2
            .describe_security_groups()
            .set_filters(Some(sweep_filters(&cx.tenant)))
            .into_paginator()
            .items()
            .send();
        while let Some(g) = items.next().await {
            let g = g.map_err(|e| classify("DescribeSecurityGroups", e))?;
            let t = tag_map(g.tags());
            let (Some(resource_id), Some(id)) = (t.get(tags::RESOURCE), g.group_id()) else {
                continue;
            };
            if !managed_by(&t, &cx.tenant) {
                continue;
            }
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(
                    id,
                    g.group_name().unwrap_or_default(),
                    g.vpc_id().unwrap_or_default(),
                ),
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: serde_json::Value) -> Result<Vec<Rule>, KindError> {
        let props = match v {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        Ok(parse_props::<SgProps>(&props)?
            .rules()?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    #[test]
    fn rules_normalize_to_what_ec2_reports() {
        let r = rules(serde_json::json!({
            "vpc_id": "vpc-1",
            "ingress": [
                {"protocol": "tcp", "port": 443, "cidr": "0.0.0.0/0"},
                {"protocol": "TCP", "port": "443", "cidr": "0.0.0.0/0"},
                {"protocol": "udp", "from_port": 1000, "to_port": 2000, "cidr": "::/0"},
                {"protocol": "icmp", "cidr": "10.0.0.0/8"},
                {"protocol": "all", "source_group": "sg-123"},
            ],
        }))
        .unwrap();
        assert_eq!(r.len(), 4, "duplicates collapse: {r:?}");
        assert_eq!((r[0].from, r[0].to), (443, 443));
        assert_eq!(r[1].source, Source::Cidr6("::/0".into()));
        assert_eq!(
            (r[2].protocol.as_str(), r[2].from, r[2].to),
            ("icmp", -1, -1)
        );
        assert_eq!(
            (r[3].protocol.as_str(), &r[3].source),
            ("-1", &Source::Group("sg-123".into()))
        );
    }

    #[test]
    fn check_refuses_aws_characters_and_skips_references() {
        let check = |v: serde_json::Value| SecurityGroup.check(v.as_object().unwrap());
        let issues = check(serde_json::json!({
            "vpc_id": "${network.vpc_id}",
            "description": "HTTPS from anywhere to the tenant's load balancer",
            "ingress": [
                {"protocol": "tcp", "port": 8080, "source_group": "${alb-sg.group_id}",
                 "description": "from A & B"},
            ],
        }));
        let paths: Vec<String> = issues.iter().map(|i| i.path.join(".")).collect();
        assert_eq!(
            paths,
            ["description", "ingress.0.description"],
            "{issues:?}"
        );
        assert!(issues[0].message.contains("apostrophe"), "{issues:?}");
        // A port out of range is the schema's (before the rules above run).
        let issues = check(serde_json::json!({
            "vpc_id": "${network.vpc_id}",
            "ingress": [{"protocol": "tcp", "port": 70000, "cidr": "0.0.0.0/0"}],
        }));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path.join("."), "ingress.0.port");
        assert!(issues[0].message.contains("65535"), "{issues:?}");
        assert!(
            check(serde_json::json!({
                "vpc_id": "${network.vpc_id}",
                "description": "PostgreSQL from the application tier",
                "ingress": [{"protocol": "tcp", "port": 5432, "source_group": "${app-sg.group_id}"}],
            }))
            .is_empty()
        );
    }

    #[test]
    fn bad_rules_name_the_entry_and_the_fix() {
        for (rule, hint) in [
            (
                serde_json::json!({"protocol": "tcp", "cidr": "0.0.0.0/0"}),
                "port",
            ),
            (
                serde_json::json!({"protocol": "tcp", "port": 70000, "cidr": "0.0.0.0/0"}),
                "65535",
            ),
            (
                serde_json::json!({"protocol": "tcp", "from_port": 9, "to_port": 1, "cidr": "0.0.0.0/0"}),
                "above",
            ),
            (
                serde_json::json!({"protocol": "gre", "cidr": "0.0.0.0/0"}),
                "tcp, udp, icmp or -1",
            ),
            (
                serde_json::json!({"protocol": "tcp", "port": 1}),
                "exactly one of cidr",
            ),
            (
                serde_json::json!({"protocol": "tcp", "port": 1, "cidr": "1.2.3.4/8"}),
                "host bits",
            ),
            (
                serde_json::json!({"protocol": "-1", "port": 1, "cidr": "0.0.0.0/0"}),
                "all ports",
            ),
            (
                serde_json::json!({"protocol": "tcp", "port": 1, "source_group": "web"}),
                "sg-",
            ),
            (
                serde_json::json!({"protocol": "tcp", "port": 1, "cidr": "0.0.0.0/0", "ports": 2}),
                "ports",
            ),
        ] {
            let err = rules(serde_json::json!({"vpc_id": "vpc-1", "ingress": [rule]})).unwrap_err();
            assert!(!err.is_transient());
            let msg = err.to_string();
            assert!(msg.contains(hint), "{rule}: {msg}");
        }
        let err = rules(serde_json::json!({"vpc_id": "vpc-1", "ingress": [
            {"protocol": "tcp", "port": 1, "cidr": "0.0.0.0/0"},
            {"protocol": "tcp", "port": 0.5, "cidr": "0.0.0.0/0"},
        ]}))
        .unwrap_err();
        assert!(err.to_string().starts_with("property 'ingress[1]"), "{err}");
        let err = rules(serde_json::json!({"vpc_id": "default"})).unwrap_err();
        assert!(err.to_string().contains("vpc_id"), "{err}");
    }

    #[test]
    fn check_names_the_field_of_a_wrong_type_or_word() {
        let check = |v: serde_json::Value| SecurityGroup.check(v.as_object().unwrap());
        let issues = check(serde_json::json!({
            "vpc_id": "vpc-1",
            "ingress": [{"protocol": "tcp", "port": true, "cidr": "0.0.0.0/0"}],
        }));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path.join("."), "ingress.0.port");
        assert!(issues[0].message.contains("whole number"), "{issues:?}");
        let issues = check(serde_json::json!({
            "vpc_id": "vpc-1",
            "ingress": [
                {"protocol": "gre", "cidr": "0.0.0.0/0"},
                {"protocol": "tcp", "from_port": 9, "to_port": 1, "source_group": "${a.group_id}"},
                {"protocol": "icmp", "from_port": 300, "cidr": "1.2.3.4/8"},
            ],
        }));
        let found: Vec<(String, &str)> = issues
            .iter()
            .map(|i| (i.path.join("."), i.message.as_str()))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "ingress.0.protocol");
        assert!(found[0].1.contains("tcp, udp, icmp or -1"), "{found:?}");
        assert_eq!(found[1].0, "ingress.1.from_port");
        assert_eq!(found[2].0, "ingress.2", "{found:?}");
        assert!(found[2].1.contains("-1 to 255"), "{found:?}");
        let issues = check(serde_json::json!({"vpc_id": "default", "description": 5}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["description"]);
        assert!(issues[0].message.contains("must be a string"), "{issues:?}");
        let issues = check(serde_json::json!({"vpc_id": "default"}));
        assert_eq!(issues[0].path, ["vpc_id"], "{issues:?}");
    }
}
