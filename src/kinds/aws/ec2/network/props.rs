//! What `aws.ec2.network` accepts and decides before any call: the typed
//! properties, their check at validation, the [`Plan`] of an apply (create,
//! or adopt an existing network), the CIDR rules, and the outputs.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::kinds::aws::ec2::rules::placeholder;
use crate::kinds::aws::props::StringList;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{OutputSpec, Outputs, PropIssue};

const DEFAULT_CIDR: &str = "10.40.0.0/16";
/// Each subnet is a /20 (4,096 addresses) carved from the start of the VPC.
const SUBNET_PREFIX: u8 = 20;
/// Subnets `a` and `b`.
pub(super) const SUBNETS: usize = 2;

/// A VPC with two public subnets in two zones, an internet gateway and a
/// route table sending 0.0.0.0/0 to it; or an existing network adopted
/// read-only.
///
/// Give none of `vpc_id`, `subnet_ids`, `vpc_name`, `shared_from` to create
/// a network (envctl then owns and deletes it); any of them adopts an
/// existing one, which envctl never changes nor deletes. The CIDR rules:
/// CreateVpc (EC2 API reference, "between /16 and /28") and the VPC User
/// Guide, "VPC CIDR blocks"; here /16 to /19, as the two subnets are the
/// first two /20 blocks of the VPC. Tags (`Name`): at most 256 characters
/// (EC2 User Guide, "Tag restrictions").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkProps {
    /// IPv4 block of a VPC envctl creates, /16 to /19; default
    /// `10.40.0.0/16`. The two subnets are its first two /20 blocks.
    #[serde(default)]
    cidr: Option<String>,
    /// Adopt this existing VPC (an id starting with `vpc-`) instead of
    /// creating one; without subnet_ids, one subnet in each of its first two
    /// zones is used.
    #[serde(default)]
    vpc_id: Option<String>,
    /// Adopt these existing subnets, at least two (in two zones): a list or
    /// one comma-separated string, e.g. `[subnet-1, subnet-2]` or
    /// `${shared.subnet_ids}`.
    #[serde(default)]
    subnet_ids: Option<StringList>,
    /// Zones of subnets a and b (the first two listed), a list or one
    /// comma-separated string, e.g. `[us-east-1a, us-east-1b]`; default: the
    /// first two available zones of the region.
    #[serde(default)]
    availability_zones: Option<StringList>,
    /// Adopt the one VPC whose `Name` tag is this, e.g. `platform` (read
    /// only, never changed or deleted).
    #[serde(default)]
    #[schemars(length(min = 1, max = 256))]
    vpc_name: Option<String>,
    /// Adopt the network another envctl tenant created, as `<tenant>/<resource
    /// id>`, e.g. `shared-dev/network`: one network shared by many tenants;
    /// read only.
    #[serde(default)]
    shared_from: Option<String>,
}

/// How an adopted network's VPC is found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum VpcLookup {
    /// By id (`vpc_id`), or from the subnets (`subnet_ids` alone).
    Id(Option<String>),
    /// The one VPC whose `Name` tag is this (`vpc_name`).
    Name(String),
    /// The network another envctl tenant created (`shared_from:
    /// <tenant>/<resource>`): the VPC tagged as that tenant's resource.
    Shared { tenant: String, resource: String },
}

/// The properties that make `aws.ec2.network` adopt an existing network
/// instead of creating one (preflight's quota check counts only the
/// networks without any of them).
pub const ADOPTING_PROPS: &[&str] = &["vpc_id", "subnet_ids", "vpc_name", "shared_from"];

/// What `apply` does, decided from the properties before any call.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Create (or adopt) the VPC and everything in it.
    Create {
        cidr: String,
        subnet_cidrs: [String; SUBNETS],
        zones: Option<Vec<String>>,
    },
    /// Use an existing network; touch nothing.
    Existing {
        vpc: VpcLookup,
        subnet_ids: Option<Vec<String>>,
        zones: Option<Vec<String>>,
    },
}

/// Parses `a.b.c.d/n`; the address must be the network address.
pub(crate) fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not an IPv4 CIDR block like {DEFAULT_CIDR}"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 CIDR block like {DEFAULT_CIDR}"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?;
    let bits = u32::from(addr);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    if bits & !mask != 0 {
        return Err(format!(
            "'{s}' has host bits set; the network address is {}/{prefix}",
            Ipv4Addr::from(bits & mask)
        ));
    }
    Ok((addr, prefix))
}

/// The two /20 subnets at the start of a VPC CIDR of /16 to /19.
fn subnet_cidrs(cidr: &str) -> Result<[String; SUBNETS], PropIssue> {
    let bad = |m: String| PropIssue::new(&["cidr"], m);
    let (addr, prefix) = parse_cidr(cidr).map_err(bad)?;
    if !(16..SUBNET_PREFIX).contains(&prefix) {
        return Err(bad(format!(
            "'{cidr}' must be a /16 to /19 block: the VPC holds two /{SUBNET_PREFIX} subnets \
             (AWS allows VPCs of /16 to /28), e.g. {DEFAULT_CIDR}"
        )));
    }
    let base = u32::from(addr);
    let size = 1u32 << (32 - SUBNET_PREFIX);
    Ok([0, 1].map(|i| format!("{}/{SUBNET_PREFIX}", Ipv4Addr::from(base + i * size))))
}

impl NetworkProps {
    /// These properties with every `${ref}` replaced by a value of its
    /// shape, or dropped where a reference may yield anything (a list of
    /// any length, a CIDR): dropping one only loses checks, never adds one.
    fn filled(&self) -> NetworkProps {
        let list = |v: &Option<StringList>| v.clone().filter(|l| !l.has_ref());
        NetworkProps {
            cidr: self.cidr.clone().filter(|c| !is_ref(c)),
            vpc_id: placeholder(&self.vpc_id, "vpc-ref"),
            subnet_ids: list(&self.subnet_ids),
            availability_zones: list(&self.availability_zones),
            vpc_name: placeholder(&self.vpc_name, "ref"),
            shared_from: placeholder(&self.shared_from, "ref/ref"),
        }
    }

    /// What `apply` does; an issue names the property to fix.
    pub(super) fn plan(self) -> Result<Plan, PropIssue> {
        let subnet_ids = self.subnet_ids.as_ref().map(StringList::items);
        let zones = self.availability_zones.as_ref().map(StringList::items);
        if let Some(z) = &zones
            && z.len() < SUBNETS
        {
            return Err(PropIssue::new(
                &["availability_zones"],
                format!(
                    "lists {} zone(s); give at least two distinct zones (e.g. [us-east-1a, \
                     us-east-1b]) or leave it out to use the region's first two",
                    z.len()
                ),
            ));
        }
        if let Some(v) = &self.vpc_id
            && !v.starts_with("vpc-")
        {
            return Err(PropIssue::new(
                &["vpc_id"],
                "is not a VPC id (one starts with 'vpc-'); leave it out to create a VPC",
            ));
        }
        if let Some(ids) = &subnet_ids {
            if let Some(id) = ids.iter().find(|id| !id.starts_with("subnet-")) {
                return Err(PropIssue::new(
                    &["subnet_ids"],
                    format!("contains '{id}', which is not an id starting with 'subnet-'"),
                ));
            }
            if ids.len() < SUBNETS {
                return Err(PropIssue::new(
                    &["subnet_ids"],
                    format!(
                        "lists {} subnet(s); give at least two, in two zones",
                        ids.len()
                    ),
                ));
            }
        }
        let given: Vec<&str> = [
            ("vpc_id", self.vpc_id.is_some()),
            ("vpc_name", self.vpc_name.is_some()),
            ("shared_from", self.shared_from.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if given.len() > 1 {
            return Err(PropIssue::new(
                &[given[1]],
                format!(
                    "{} each name the VPC to adopt; give only one",
                    given.join(" and ")
                ),
            ));
        }
        if let Some(n) = &self.vpc_name
            && (n.trim().is_empty() || n.chars().count() > 256)
        {
            return Err(PropIssue::new(
                &["vpc_name"],
                "must be the VPC's Name tag, 1 to 256 characters",
            ));
        }
        let vpc = if let Some(n) = self.vpc_name {
            VpcLookup::Name(n)
        } else if let Some(from) = self.shared_from {
            match from.split_once('/') {
                Some((t, r))
                    if crate::tenant::TenantName::parse(t).is_ok()
                        && !r.is_empty()
                        && !r.contains('/') =>
                {
                    VpcLookup::Shared {
                        tenant: t.to_string(),
                        resource: r.to_string(),
                    }
                }
                _ => {
                    return Err(PropIssue::new(
                        &["shared_from"],
                        "must be <tenant>/<resource id> of the network another envctl tenant \
                         created, e.g. shared-dev/network",
                    ));
                }
            }
        } else if self.vpc_id.is_some() || subnet_ids.is_some() {
            VpcLookup::Id(self.vpc_id)
        } else {
            let cidr = self.cidr.unwrap_or_else(|| DEFAULT_CIDR.to_string());
            let subnet_cidrs = subnet_cidrs(&cidr)?;
            return Ok(Plan::Create {
                cidr,
                subnet_cidrs,
                zones,
            });
        };
        if self.cidr.is_some() {
            return Err(PropIssue::new(
                &["cidr"],
                format!(
                    "only applies when envctl creates the VPC; remove it, or remove {} to \
                     create a network",
                    ADOPTING_PROPS.join("/")
                ),
            ));
        }
        Ok(Plan::Existing {
            vpc,
            subnet_ids,
            zones,
        })
    }
}

/// What `apply` decides before any call, on the literal values: the CIDR (a
/// valid IPv4 network address; /16 to /19 here because the two subnets are
/// /20 blocks, within CreateVpc's "between /16 and /28", API reference and
/// VPC User Guide "VPC CIDR blocks"), ids by prefix, the choice between
/// creating and adopting, and at least two zones.
impl KindProps for NetworkProps {
    fn check(&self) -> Vec<PropIssue> {
        match self.filled().plan() {
            Ok(_) => Vec::new(),
            Err(mut issue) => {
                // Giving two ways to adopt is wrong whatever their values:
                // name one that is not a reference (an issue at a
                // reference's path would be dropped).
                let literal = [
                    ("vpc_id", &self.vpc_id),
                    ("vpc_name", &self.vpc_name),
                    ("shared_from", &self.shared_from),
                ]
                .into_iter()
                .find(|(_, v)| v.as_deref().is_some_and(|v| !is_ref(v)));
                if issue.message.ends_with("give only one") {
                    issue.path = literal
                        .map(|(name, _)| vec![name.to_string()])
                        .unwrap_or_default();
                }
                vec![issue]
            }
        }
    }
}

pub(super) const NAME: &str = "aws.ec2.network";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<NetworkProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "vpc_id",
        secret: false,
        doc: "the VPC id",
    },
    OutputSpec {
        name: "subnet_ids",
        secret: false,
        doc: "the subnet ids, comma-separated (subnet_a first)",
    },
    OutputSpec {
        name: "subnet_a",
        secret: false,
        doc: "the first subnet",
    },
    OutputSpec {
        name: "subnet_b",
        secret: false,
        doc: "the second subnet, in another zone",
    },
    OutputSpec {
        name: "cidr",
        secret: false,
        doc: "the VPC's IPv4 block",
    },
    OutputSpec {
        name: "created",
        secret: false,
        doc: "\"true\" when envctl created the network (and deletes it), \"false\" for an \
              adopted one, which this tenant does not own: destroy and the sweep leave it",
    },
];

pub(super) fn outputs(vpc_id: &str, subnets: &[String], cidr: &str, created: bool) -> Outputs {
    Outputs::new()
        .plain("vpc_id", vpc_id)
        .plain("subnet_ids", subnets.join(","))
        .plain("subnet_a", subnets.first().cloned().unwrap_or_default())
        .plain("subnet_b", subnets.get(1).cloned().unwrap_or_default())
        .plain("cidr", cidr)
        .plain("created", created.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::aws::ec2::network::Network;
    use crate::kinds::aws::props::refusal;
    use crate::kinds::{Kind, KindError, parse_props};

    fn plan(v: serde_json::Value) -> Result<Plan, KindError> {
        let props = match v {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        parse_props::<NetworkProps>(&props)?.plan().map_err(refusal)
    }

    #[test]
    fn default_plan_creates_two_slash_20_subnets() {
        assert_eq!(
            plan(serde_json::json!({})).unwrap(),
            Plan::Create {
                cidr: "10.40.0.0/16".into(),
                subnet_cidrs: ["10.40.0.0/20".into(), "10.40.16.0/20".into()],
                zones: None,
            }
        );
        let Plan::Create { subnet_cidrs, .. } =
            plan(serde_json::json!({"cidr": "172.16.32.0/19"})).unwrap()
        else {
            panic!("create plan expected");
        };
        assert_eq!(subnet_cidrs, ["172.16.32.0/20", "172.16.48.0/20"]);
    }

    #[test]
    fn bad_cidrs_are_refused_with_the_fix() {
        for (cidr, hint) in [
            ("10.40.0.0/24", "/16 to /19"),
            ("10.0.0.0/8", "/16 to /19"),
            ("10.40.1.0/16", "10.40.0.0/16"),
            ("10.40.0.0", "CIDR block like"),
            ("ten/16", "CIDR block like"),
        ] {
            let err = plan(serde_json::json!({ "cidr": cidr })).unwrap_err();
            assert!(!err.is_transient());
            let msg = err.to_string();
            assert!(msg.contains("cidr") && msg.contains(hint), "{cidr}: {msg}");
        }
    }

    #[test]
    fn check_skips_references_and_reports_literal_mistakes() {
        let check = |v: serde_json::Value| Network.check(v.as_object().unwrap());
        assert!(check(serde_json::json!({"subnet_ids": ["${a.id}", "${b.id}"]})).is_empty());
        assert!(check(serde_json::json!({"shared_from": "${x.y}"})).is_empty());
        let issues = check(serde_json::json!({"cidr": "10.40.0.0/24"}));
        assert_eq!(issues[0].path, ["cidr"], "{issues:?}");
    }

    #[test]
    fn existing_network_props() {
        assert_eq!(
            plan(serde_json::json!({"subnet_ids": "subnet-1, subnet-2,"})).unwrap(),
            Plan::Existing {
                vpc: VpcLookup::Id(None),
                subnet_ids: Some(vec!["subnet-1".into(), "subnet-2".into()]),
                zones: None,
            }
        );
        assert_eq!(
            plan(serde_json::json!({"shared_from": "shared-dev/network"})).unwrap(),
            Plan::Existing {
                vpc: VpcLookup::Shared {
                    tenant: "shared-dev".into(),
                    resource: "network".into()
                },
                subnet_ids: None,
                zones: None,
            }
        );
        assert_eq!(
            plan(serde_json::json!({"vpc_name": "platform"})).unwrap(),
            Plan::Existing {
                vpc: VpcLookup::Name("platform".into()),
                subnet_ids: None,
                zones: None,
            }
        );
        let err = plan(serde_json::json!({"shared_from": "network"})).unwrap_err();
        assert!(err.to_string().contains("<tenant>/<resource id>"), "{err}");
        let err = plan(serde_json::json!({"vpc_name": "a", "vpc_id": "vpc-1"})).unwrap_err();
        assert!(err.to_string().contains("only one"), "{err}");
        let err = plan(serde_json::json!({"shared_from": "a/network", "cidr": "10.0.0.0/16"}))
            .unwrap_err();
        assert!(err.to_string().contains("cidr"), "{err}");
        let err = plan(serde_json::json!({"vpc_id": "vpc-1", "cidr": "10.0.0.0/16"})).unwrap_err();
        assert!(err.to_string().contains("cidr"), "{err}");
        let err = plan(serde_json::json!({"subnet_ids": ["subnet-1"]})).unwrap_err();
        assert!(err.to_string().contains("at least two"), "{err}");
        let err = plan(serde_json::json!({"subnet_ids": ["sg-1", "subnet-2"]})).unwrap_err();
        assert!(err.to_string().contains("sg-1"), "{err}");
        let err = plan(serde_json::json!({"vpc_id": "default"})).unwrap_err();
        assert!(err.to_string().contains("vpc_id"), "{err}");
        let err = plan(serde_json::json!({"availability_zones": ["us-east-1a"]})).unwrap_err();
        assert!(err.to_string().contains("availability_zones"), "{err}");
        let err = plan(serde_json::json!({"subnets": ["subnet-1"]})).unwrap_err();
        assert!(err.to_string().contains("subnets"), "{err}");
    }

    #[test]
    fn check_names_the_field_of_a_wrong_type_or_bad_value() {
        let check = |v: serde_json::Value| Network.check(v.as_object().unwrap());
        let issues = check(serde_json::json!({"subnet_ids": 5}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["subnet_ids"]);
        assert!(
            issues[0].message.contains("a list or a string"),
            "{issues:?}"
        );
        let issues = check(serde_json::json!({"availability_zones": ["us-east-1a", 2]}));
        assert_eq!(issues[0].path, ["availability_zones", "1"], "{issues:?}");
        let issues = check(serde_json::json!({"vpc_name": ""}));
        assert_eq!(issues[0].path, ["vpc_name"], "{issues:?}");
        let issues = check(serde_json::json!({"vpc_id": "vpc-1", "shared_from": "${x.y}"}));
        assert_eq!(issues[0].path, ["vpc_id"], "{issues:?}");
        assert!(issues[0].message.contains("only one"), "{issues:?}");
        let issues = check(serde_json::json!({"availability_zones": "us-east-1a"}));
        assert_eq!(issues[0].path, ["availability_zones"], "{issues:?}");
        assert!(issues[0].message.contains("at least two"), "{issues:?}");
        assert!(check(serde_json::json!({"availability_zones": "${z.names}"})).is_empty());
    }
}
