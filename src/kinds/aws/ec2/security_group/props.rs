//! What `aws.ec2.security_group` accepts: the typed properties, each
//! ingress entry read into a [`Rule`], their check at validation (the EC2
//! API reference's text rules, ids, CIDRs, protocols and ports), and the
//! outputs.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use super::rule::{Rule, Source};
use crate::kinds::aws::ec2::network::parse_cidr;
use crate::kinds::aws::ec2::rules::{GROUP_TEXT_EXTRA, RULE_TEXT_EXTRA, placeholder, text_issue};
use crate::kinds::aws::props::{IntOrText, refusal};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{KindError, OutputSpec, Outputs, PropIssue};

/// Descriptions (of the group and of a rule) are at most 255 characters.
const MAX_DESCRIPTION: usize = 255;

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
pub(super) struct SgProps {
    /// The VPC of the group, an id starting with `vpc-`. Example:
    /// `${network.vpc_id}`.
    pub(super) vpc_id: String,
    /// The group's description, set at creation (EC2 cannot change it
    /// later); default `envctl <tenant>/<id>`. Example: `HTTPS from the
    /// load balancer`.
    #[serde(default)]
    #[schemars(length(min = 1, max = 255))]
    pub(super) description: Option<String>,
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
        IngressProps {
            protocol: if self.protocol.is_ref() {
                IntOrText::Text("tcp".into())
            } else {
                self.protocol.clone()
            },
            port: fill(&self.port, 1),
            from_port: fill(&self.from_port, 0),
            to_port: fill(&self.to_port, 65535),
            cidr: placeholder(&self.cidr, "10.0.0.0/8"),
            source_group: placeholder(&self.source_group, "sg-ref"),
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
    pub(super) fn rules(&self) -> Result<Vec<(Rule, Option<String>)>, KindError> {
        let refuse = refusal;
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

pub(super) const NAME: &str = "aws.ec2.security_group";

pub(super) static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<SgProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
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

pub(super) fn outputs(group_id: &str, name: &str, vpc_id: &str) -> Outputs {
    Outputs::new()
        .plain("group_id", group_id)
        .plain("name", name)
        .plain("vpc_id", vpc_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::aws::ec2::security_group::SecurityGroup;
    use crate::kinds::{Kind, parse_props};

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
