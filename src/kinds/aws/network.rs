//! The `aws.ec2.network` kind: a VPC with two public subnets in two zones, an
//! internet gateway and a route table sending 0.0.0.0/0 to it; or an
//! existing network adopted read-only (`vpc_id`, `subnet_ids`, `vpc_name`,
//! or `shared_from` another tenant's network: see [`ADOPTING_PROPS`]), which
//! envctl never changes nor deletes. Also the EC2 helpers the other EC2
//! kinds share: tags, filters, list properties.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InternetGateway, ResourceType, RouteTable, Subnet, SubnetState,
    Tag, TagSpecification, Vpc, VpcAttributeName, VpcState,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::eni_holders::{Held, dependency_violation};
use super::{classify, errors, unanswered};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::{TenantName, tags};

/// Longest `Name` tag value we write (EC2 allows 256 characters).
const MAX_NAME: usize = 128;
const DEFAULT_CIDR: &str = "10.40.0.0/16";
/// Each subnet is a /20 (4,096 addresses) carved from the start of the VPC.
const SUBNET_PREFIX: u8 = 20;
/// Subnets `a` and `b`.
const SUBNETS: usize = 2;

pub struct Network;

// ------------------------------------------------------ shared helpers ----

/// `Name` plus the tags of [`Cx::tags`], as EC2 tags.
pub(crate) fn ec2_tags(cx: &Cx, name: &str) -> Vec<Tag> {
    let mut t: Vec<Tag> = cx
        .tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    t.push(Tag::builder().key("Name").value(name).build());
    t
}

/// A tag specification for `CreateX` calls, so a resource never exists
/// untagged (a crash right after the create still leaves it findable).
pub(crate) fn tag_spec(resource_type: ResourceType, cx: &Cx, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(ec2_tags(cx, name)))
        .build()
}

use super::tags::tag_map;

pub(crate) fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Filters for the resources of one tenant resource.
pub(crate) fn ours_filters(tenant: &TenantName, resource_id: &str) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{}", tags::TENANT), tenant.as_str()),
        filter(&format!("tag:{}", tags::RESOURCE), resource_id),
    ]
}

/// Filters for everything of one tenant that envctl manages.
pub(crate) fn sweep_filters(tenant: &TenantName) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{}", tags::TENANT), tenant.as_str()),
        filter(&format!("tag:{}", tags::MANAGED), "true"),
    ]
}

/// Refuses a resource tagged with another tenant.
pub(crate) fn refuse_other_tenant(
    cx: &Cx,
    what: &str,
    t: &BTreeMap<String, String>,
) -> Result<(), KindError> {
    super::owner::refuse_foreign(what, t, cx)
}

/// Whether `t` marks a managed resource of `tenant`.
pub(crate) fn managed_by(t: &BTreeMap<String, String>, tenant: &TenantName) -> bool {
    super::owner::managed_by(t, tenant.as_str())
}

use super::call::client_token;

/// An error from a call on a resource we have just found or created: "not
/// found" then means EC2's eventual consistency has not caught up yet (its
/// API reference: "resources might not be immediately visible"), which a
/// retry fixes.
pub(crate) fn configure_error<E, R>(what: &str, e: aws_sdk_ec2::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::HttpStatus,
{
    super::call::not_visible_yet(
        what,
        e,
        |c| c.ends_with(".NotFound"),
        "not visible yet (EC2 is eventually consistent)",
    )
}

// ---------------------------------------------------------- properties ----

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
struct NetworkProps {
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

use super::props::{StringList, refusal};

/// How an adopted network's VPC is found.
#[derive(Debug, PartialEq, Eq)]
enum VpcLookup {
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
enum Plan {
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
        let text = |v: &Option<String>, with: &str| {
            v.as_ref().map(|v| {
                if is_ref(v) {
                    with.to_string()
                } else {
                    v.clone()
                }
            })
        };
        let list = |v: &Option<StringList>| v.clone().filter(|l| !l.has_ref());
        NetworkProps {
            cidr: self.cidr.clone().filter(|c| !is_ref(c)),
            vpc_id: text(&self.vpc_id, "vpc-ref"),
            subnet_ids: list(&self.subnet_ids),
            availability_zones: list(&self.availability_zones),
            vpc_name: text(&self.vpc_name, "ref"),
            shared_from: text(&self.shared_from, "ref/ref"),
        }
    }

    /// What `apply` does; an issue names the property to fix.
    fn plan(self) -> Result<Plan, PropIssue> {
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

const NAME: &str = "aws.ec2.network";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<NetworkProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
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

// ------------------------------------------------------------- lookups ----

async fn describe_vpcs(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<Vpc>, KindError> {
    let mut out = Vec::new();
    let mut items = ec2
        .describe_vpcs()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send();
    while let Some(v) = items.next().await {
        out.push(v.map_err(|e| classify("DescribeVpcs", e))?);
    }
    Ok(out)
}

/// One VPC by id; `None` when it does not exist.
async fn vpc_by_id(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Result<Option<Vpc>, KindError> {
    match ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
        Ok(out) => Ok(out.vpcs().first().cloned()),
        Err(e) if e.code() == Some("InvalidVpcID.NotFound") => Ok(None),
        Err(e) => Err(classify(&format!("DescribeVpcs {vpc_id}"), e)),
    }
}

pub(crate) async fn describe_subnets(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<Subnet>, KindError> {
    let mut out = Vec::new();
    let mut items = ec2
        .describe_subnets()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send();
    while let Some(s) = items.next().await {
        out.push(s.map_err(|e| classify("DescribeSubnets", e))?);
    }
    Ok(out)
}

/// Subnets by id; a missing one is a permanent error naming it.
async fn subnets_by_id(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<Vec<Subnet>, KindError> {
    let found = match ec2
        .describe_subnets()
        .set_subnet_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(out) => out.subnets().to_vec(),
        Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {
            return Err(KindError::Permanent(format!(
                "properties: subnet_ids: {}",
                e.message().unwrap_or("a subnet does not exist")
            )));
        }
        Err(e) => return Err(classify("DescribeSubnets", e)),
    };
    // Keep the order given.
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|s| s.subnet_id() == Some(id))
                .cloned()
                .ok_or_else(|| {
                    KindError::Permanent(format!("properties: subnet_ids: {id} does not exist"))
                })
        })
        .collect()
}

async fn describe_igws(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<InternetGateway>, KindError> {
    let mut out = Vec::new();
    let mut items = ec2
        .describe_internet_gateways()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send();
    while let Some(g) = items.next().await {
        out.push(g.map_err(|e| classify("DescribeInternetGateways", e))?);
    }
    Ok(out)
}

async fn describe_route_tables(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<RouteTable>, KindError> {
    let mut out = Vec::new();
    let mut items = ec2
        .describe_route_tables()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send();
    while let Some(t) = items.next().await {
        out.push(t.map_err(|e| classify("DescribeRouteTables", e))?);
    }
    Ok(out)
}

/// The region's first two available zones (sorted by name; local and
/// wavelength zones left out).
async fn default_zones(ec2: &aws_sdk_ec2::Client) -> Result<Vec<String>, KindError> {
    let out = ec2
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .send()
        .await
        .map_err(|e| classify("DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    zones.dedup();
    if zones.len() < SUBNETS {
        return Err(KindError::Permanent(format!(
            "the region has {} available zone(s); a network needs two",
            zones.len()
        )));
    }
    zones.truncate(SUBNETS);
    Ok(zones)
}

fn outputs(vpc_id: &str, subnets: &[String], cidr: &str, created: bool) -> Outputs {
    Outputs::new()
        .plain("vpc_id", vpc_id)
        .plain("subnet_ids", subnets.join(","))
        .plain("subnet_a", subnets.first().cloned().unwrap_or_default())
        .plain("subnet_b", subnets.get(1).cloned().unwrap_or_default())
        .plain("cidr", cidr)
        .plain("created", created.to_string())
}

// -------------------------------------------------------------- create ----

/// Finds the VPC tagged as this resource, or creates it.
async fn ensure_vpc(cx: &Cx, name: &str, cidr: &str) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let what = format!("CreateVpc {cidr}");
    let mut found = describe_vpcs(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await?;
    if found.is_empty()
        && let Some(id) = unanswered::remembered(cx, &what)
    {
        // This process made it: read it by id, never make a second one.
        found.push(
            vpc_by_id(ec2, &id)
                .await?
                .ok_or_else(|| unanswered::not_visible_yet(&what, &id, "the VPC"))?,
        );
    }
    let vpc = match found.as_slice() {
        [] => {
            // CreateVpc takes no ClientToken (API reference: no such
            // parameter; terraform-provider-aws ec2/vpc_.go creates without
            // one). The tags on create make a VPC from a crashed run
            // findable by the lookup above, once EC2's eventual consistency
            // lets it; an unanswered create holds the next one back until
            // then (see `unanswered`), and the SDK does not resend it.
            unanswered::may_create(cx, &what, "the VPC")?;
            let out = match ec2
                .create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tag_spec(ResourceType::Vpc, cx, name))
                .customize()
                .config_override(unanswered::sdk_retries_off())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    unanswered::record_if_ambiguous(cx, &what, &e);
                    return Err(classify(&what, e));
                }
            };
            let vpc = out
                .vpc()
                .cloned()
                .ok_or_else(|| KindError::Permanent("CreateVpc: no VPC in answer".into()))?;
            if let Some(id) = vpc.vpc_id() {
                unanswered::remember(cx, &what, id);
            }
            vpc
        }
        [one] => one.clone(),
        many => {
            let ids: Vec<&str> = many.iter().filter_map(Vpc::vpc_id).collect();
            return Err(KindError::Permanent(format!(
                "{} VPCs are tagged as resource '{}' of tenant '{}' ({}); delete the extra ones \
                 (they were not made by envctl's apply, which adopts before creating)",
                ids.len(),
                cx.resource_id,
                cx.tenant,
                ids.join(", ")
            )));
        }
    };
    let vpc_id = vpc
        .vpc_id()
        .ok_or_else(|| KindError::Permanent("VPC without id".into()))?
        .to_string();
    if vpc.cidr_block() != Some(cidr) {
        return Err(KindError::Permanent(format!(
            "VPC {vpc_id} exists with CIDR {} but cidr is {cidr}; a VPC's primary block cannot \
             change: set cidr back, or destroy the network and create it again",
            vpc.cidr_block().unwrap_or("?")
        )));
    }
    // Instances and load balancers need DNS names inside the VPC (support
    // first: hostnames require it). One attribute per call (an EC2 rule);
    // read first so that an apply with nothing to do changes nothing.
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        let now = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(|e| configure_error(&format!("DescribeVpcAttribute {vpc_id}"), e))?;
        let enabled = match attribute {
            VpcAttributeName::EnableDnsSupport => now.enable_dns_support(),
            _ => now.enable_dns_hostnames(),
        }
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false);
        if enabled {
            continue;
        }
        let on = AttributeBooleanValue::builder().value(true).build();
        let call = ec2.modify_vpc_attribute().vpc_id(&vpc_id);
        let call = match attribute {
            VpcAttributeName::EnableDnsSupport => call.enable_dns_support(on),
            _ => call.enable_dns_hostnames(on),
        };
        call.send()
            .await
            .map_err(|e| configure_error(&format!("ModifyVpcAttribute {vpc_id}"), e))?;
    }
    Ok(vpc_id)
}

/// Finds subnet `i` (by its CIDR block, unique in a VPC) or creates it.
async fn ensure_subnet(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    cidr: &str,
    zone: &str,
    zone_given: bool,
) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let found = describe_subnets(
        ec2,
        vec![filter("vpc-id", vpc_id), filter("cidr-block", cidr)],
    )
    .await?;
    if let Some(s) = found.first() {
        let id = s.subnet_id().unwrap_or_default().to_string();
        if zone_given && s.availability_zone() != Some(zone) {
            return Err(KindError::Permanent(format!(
                "subnet {id} ({cidr}) exists in zone {} but availability_zones asks for {zone}; \
                 a subnet cannot move: restore availability_zones or recreate the network",
                s.availability_zone().unwrap_or("?")
            )));
        }
        return Ok(id);
    }
    // No ClientToken either, but a CIDR block is unique in a VPC: a second
    // CreateSubnet of the same block answers InvalidSubnet.Conflict, which
    // then means that the lookup above does not show ours yet.
    let what = format!("CreateSubnet {cidr} in {zone}");
    unanswered::may_create(cx, &what, "the subnet")?;
    let out = match ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(tag_spec(ResourceType::Subnet, cx, name))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.code() == Some("InvalidSubnet.Conflict") => {
            return Err(KindError::waiting(
                format!("{what}: a subnet with this block exists but the lookup does not show it"),
                format!("subnet {cidr} to become visible (EC2 is eventually consistent)"),
                Duration::from_secs(5 * 60),
            ));
        }
        Err(e) => {
            unanswered::record_if_ambiguous(cx, &what, &e);
            return Err(configure_error(&what, e));
        }
    };
    out.subnet()
        .and_then(Subnet::subnet_id)
        .map(str::to_string)
        .ok_or_else(|| KindError::Permanent("CreateSubnet: no subnet in answer".into()))
}

/// The internet gateway attached to the VPC; else ours (tagged) attached
/// now; else a new one.
async fn ensure_igw(cx: &Cx, name: &str, vpc_id: &str) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let attached = describe_igws(ec2, vec![filter("attachment.vpc-id", vpc_id)]).await?;
    if let Some(id) = attached
        .first()
        .and_then(InternetGateway::internet_gateway_id)
    {
        return Ok(id.to_string());
    }
    let tagged = describe_igws(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await?;
    let what = format!("CreateInternetGateway for {vpc_id}");
    let made_here = unanswered::remembered(cx, &what);
    let id = match tagged
        .iter()
        .find(|g| g.attachments().is_empty())
        .and_then(InternetGateway::internet_gateway_id)
    {
        Some(id) => id.to_string(),
        // This process made it (the attach failed): read it by id.
        None if made_here.is_some() => {
            let id = made_here.unwrap_or_default();
            let by_id = describe_igws(ec2, vec![filter("internet-gateway-id", &id)]).await?;
            if by_id.is_empty() {
                return Err(unanswered::not_visible_yet(
                    &what,
                    &id,
                    "the internet gateway",
                ));
            }
            id
        }
        // No ClientToken (API reference), nothing unique: the tags on
        // create, the marker of an unanswered create and no SDK resend are
        // what keep it to one gateway.
        None => {
            unanswered::may_create(cx, &what, "the internet gateway")?;
            match ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, cx, name))
                .customize()
                .config_override(unanswered::sdk_retries_off())
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    unanswered::record_if_ambiguous(cx, &what, &e);
                    return Err(classify(&what, e));
                }
            }
            .internet_gateway()
            .and_then(InternetGateway::internet_gateway_id)
            .map(str::to_string)
            .ok_or_else(|| {
                KindError::Permanent("CreateInternetGateway: no gateway in answer".into())
            })
            .inspect(|id| unanswered::remember(cx, &what, id))?
        }
    };
    match ec2
        .attach_internet_gateway()
        .internet_gateway_id(&id)
        .vpc_id(vpc_id)
        .send()
        .await
    {
        Ok(_) => Ok(id),
        // Attached meanwhile (a concurrent run): use what is attached now.
        Err(e) if e.code() == Some("Resource.AlreadyAssociated") => Err(KindError::Transient(
            format!("AttachInternetGateway {id}: the VPC got a gateway meanwhile; looking again"),
        )),
        Err(e) => Err(configure_error(
            &format!("AttachInternetGateway {id} to {vpc_id}"),
            e,
        )),
    }
}

/// Our route table with 0.0.0.0/0 to the gateway, associated with the subnets.
async fn ensure_route_table(
    cx: &Cx,
    name: &str,
    vpc_id: &str,
    igw_id: &str,
    subnets: &[String],
) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let mut filters = ours_filters(&cx.tenant, &cx.resource_id);
    filters.push(filter("vpc-id", vpc_id));
    let found = describe_route_tables(ec2, filters).await?;
    let table = match found.into_iter().next() {
        Some(t) => t,
        None => ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(client_token(&["route-table", vpc_id, name]))
            .tag_specifications(tag_spec(ResourceType::RouteTable, cx, name))
            .send()
            .await
            .map_err(|e| configure_error(&format!("CreateRouteTable in {vpc_id}"), e))?
            .route_table()
            .cloned()
            .ok_or_else(|| KindError::Permanent("CreateRouteTable: no table in answer".into()))?,
    };
    let table_id = table
        .route_table_id()
        .ok_or_else(|| KindError::Permanent("route table without id".into()))?
        .to_string();

    let default_route = table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
    match default_route {
        Some(r) if r.gateway_id() == Some(igw_id) => {}
        Some(_) => {
            ec2.replace_route()
                .route_table_id(&table_id)
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(igw_id)
                .send()
                .await
                .map_err(|e| configure_error(&format!("ReplaceRoute in {table_id}"), e))?;
        }
        None => match ec2
            .create_route()
            .route_table_id(&table_id)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw_id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("RouteAlreadyExists") => {}
            Err(e) => return Err(configure_error(&format!("CreateRoute in {table_id}"), e)),
        },
    }

    for subnet in subnets {
        if table
            .associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet))
        {
            continue;
        }
        match ec2
            .associate_route_table()
            .route_table_id(&table_id)
            .subnet_id(subnet)
            .send()
            .await
        {
            Ok(_) => {}
            // The subnet has another table: switch it to ours.
            Err(e) if e.code() == Some("Resource.AlreadyAssociated") => {
                let other =
                    describe_route_tables(ec2, vec![filter("association.subnet-id", subnet)])
                        .await?;
                let assoc = other
                    .iter()
                    .flat_map(|t| t.associations())
                    .find(|a| a.subnet_id() == Some(subnet))
                    .and_then(|a| a.route_table_association_id())
                    .ok_or_else(|| {
                        KindError::Transient(format!(
                            "subnet {subnet} is associated with a route table that cannot be found yet"
                        ))
                    })?;
                ec2.replace_route_table_association()
                    .association_id(assoc)
                    .route_table_id(&table_id)
                    .send()
                    .await
                    .map_err(|e| {
                        configure_error(&format!("ReplaceRouteTableAssociation {subnet}"), e)
                    })?;
            }
            Err(e) => {
                return Err(configure_error(
                    &format!("AssociateRouteTable {table_id} {subnet}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

async fn apply_create(
    cx: &Cx,
    cidr: &str,
    subnet_cidrs: &[String; SUBNETS],
    zones: Option<Vec<String>>,
) -> Result<Outputs, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let name = cx.physical_name(MAX_NAME);
    let zone_given = zones.is_some();
    let zones = match zones {
        Some(z) => z,
        None => default_zones(ec2).await?,
    };
    let vpc_id = ensure_vpc(cx, &name, cidr).await?;
    let mut subnets = Vec::with_capacity(SUBNETS);
    for (i, (sub_cidr, zone)) in subnet_cidrs.iter().zip(&zones).enumerate() {
        let suffix = if i == 0 { "a" } else { "b" };
        let sub_name = format!("{name}-{suffix}");
        subnets.push(ensure_subnet(cx, &sub_name, &vpc_id, sub_cidr, zone, zone_given).await?);
    }
    let igw_id = ensure_igw(cx, &name, &vpc_id).await?;
    ensure_route_table(cx, &format!("{name}-public"), &vpc_id, &igw_id, &subnets).await?;
    Ok(outputs(&vpc_id, &subnets, cidr, true))
}

// ------------------------------------------------------------ existing ----

/// The one VPC `filters` match, or a permanent error saying what `wanted`
/// found instead.
async fn one_vpc(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
    wanted: &str,
    fix: &str,
) -> Result<String, KindError> {
    let found = describe_vpcs(ec2, filters).await?;
    let ids: Vec<&str> = found.iter().filter_map(Vpc::vpc_id).collect();
    match ids.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(KindError::Permanent(format!(
            "properties: no VPC is {wanted} in this account and region; {fix}"
        ))),
        many => Err(KindError::Permanent(format!(
            "properties: {} VPCs are {wanted} ({}); give vpc_id to pick one",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// Adopts an existing network: reads it, creates nothing, and never
/// deletes, re-tags or changes it (`created` is "false", so `delete` leaves
/// it, and it carries no tags of this tenant, so the sweep never finds it).
async fn apply_existing(
    cx: &Cx,
    lookup: VpcLookup,
    subnet_ids: Option<Vec<String>>,
    zones: Option<Vec<String>>,
) -> Result<Outputs, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    let subnets = match &subnet_ids {
        Some(ids) => subnets_by_id(ec2, ids).await?,
        None => Vec::new(),
    };
    // Another tenant's network may only be used when the stack says so.
    let shared = matches!(lookup, VpcLookup::Shared { .. });
    let vpc_id = match lookup {
        VpcLookup::Id(Some(v)) => Some(v),
        VpcLookup::Id(None) => None,
        VpcLookup::Name(n) => Some(
            one_vpc(
                ec2,
                vec![filter("tag:Name", n.as_str())],
                &format!("named '{n}' (tag Name)"),
                "check vpc_name, or give vpc_id",
            )
            .await?,
        ),
        VpcLookup::Shared { tenant, resource } => Some(
            one_vpc(
                ec2,
                vec![
                    filter(&format!("tag:{}", tags::TENANT), tenant.as_str()),
                    filter(&format!("tag:{}", tags::RESOURCE), resource.as_str()),
                    filter(&format!("tag:{}", tags::MANAGED), "true"),
                ],
                &format!("the network '{resource}' of tenant '{tenant}'"),
                &format!(
                    "create the shared network first (e.g. envctl create tenant {tenant} \
                     --stack stacks/shared-network.yaml)"
                ),
            )
            .await?,
        ),
    };
    let vpc_id = match vpc_id {
        Some(v) => v,
        None => subnets
            .first()
            .and_then(Subnet::vpc_id)
            .map(str::to_string)
            .ok_or_else(|| KindError::Permanent("properties: subnet_ids: no VPC".into()))?,
    };
    if let Some(s) = subnets.iter().find(|s| s.vpc_id() != Some(vpc_id.as_str())) {
        return Err(KindError::Permanent(format!(
            "properties: subnet {} is in VPC {}, not in {vpc_id}; all subnet_ids must be in one VPC",
            s.subnet_id().unwrap_or("?"),
            s.vpc_id().unwrap_or("?")
        )));
    }
    let vpc = vpc_by_id(ec2, &vpc_id).await?.ok_or_else(|| {
        KindError::Permanent(format!("properties: vpc_id: VPC {vpc_id} does not exist"))
    })?;
    if !shared {
        refuse_other_tenant(cx, &format!("VPC {vpc_id}"), &tag_map(vpc.tags())).map_err(|e| {
            KindError::Permanent(format!(
                "{e}; to share another tenant's network on purpose, use shared_from: \
                 <tenant>/<resource>"
            ))
        })?;
    }

    let chosen: Vec<String> = match subnet_ids {
        Some(ids) => ids,
        None => {
            // One subnet per zone (the lowest CIDR block), in the zones asked
            // for or the first two zones that have subnets.
            let all = describe_subnets(ec2, vec![filter("vpc-id", &vpc_id)]).await?;
            let mut by_zone: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
            for s in &all {
                let (Some(zone), Some(id)) = (s.availability_zone(), s.subnet_id()) else {
                    continue;
                };
                let start = s
                    .cidr_block()
                    .and_then(|c| parse_cidr(c).ok())
                    .map_or(u32::MAX, |(a, _)| u32::from(a));
                by_zone
                    .entry(zone.to_string())
                    .or_default()
                    .push((start, id.to_string()));
            }
            let order: Vec<String> = match &zones {
                Some(z) => z.clone(),
                None => by_zone.keys().cloned().collect(),
            };
            let picked: Vec<String> = order
                .iter()
                .filter_map(|z| {
                    by_zone
                        .get(z)
                        .and_then(|v| v.iter().min())
                        .map(|(_, id)| id.clone())
                })
                .take(SUBNETS)
                .collect();
            if picked.len() < SUBNETS {
                return Err(KindError::Permanent(format!(
                    "VPC {vpc_id} has subnets in {} of the zones wanted ({}); a network needs \
                     subnets in two zones: give subnet_ids, or other availability_zones",
                    picked.len(),
                    order.join(", ")
                )));
            }
            picked
        }
    };
    Ok(outputs(
        &vpc_id,
        &chosen,
        vpc.cidr_block().unwrap_or_default(),
        false,
    ))
}

// -------------------------------------------------------------- delete ----

/// What besides network interfaces still holds a VPC (its security groups
/// other than the default one), for the message of a DependencyViolation.
async fn vpc_dependents(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> String {
    let groups: Vec<String> = match ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
    {
        Ok(out) => out
            .security_groups()
            .iter()
            .filter(|g| g.group_name() != Some("default"))
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    };
    if groups.is_empty() {
        "the VPC's remaining dependencies".into()
    } else {
        format!("security groups {}", groups.join(", "))
    }
}

async fn delete_igw(
    ec2: &aws_sdk_ec2::Client,
    tenant: &TenantName,
    igw: &InternetGateway,
) -> Result<(), KindError> {
    let Some(id) = igw.internet_gateway_id() else {
        return Ok(());
    };
    for a in igw.attachments() {
        let Some(vpc) = a.vpc_id() else { continue };
        match ec2
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.code(),
                    Some("Gateway.NotAttached" | "InvalidInternetGatewayID.NotFound")
                ) => {}
            // Public addresses still mapped in the VPC (API reference,
            // DetachInternetGateway: "The VPC must not contain any running
            // instances with Elastic IP addresses or public IPv4
            // addresses"): they go with their instances or load balancers.
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&format!("DetachInternetGateway {id}"), &e);
                return Err(dependency_violation(
                    ec2,
                    tenant,
                    Held::Vpc(vpc),
                    message,
                    "the public addresses mapped in the VPC",
                )
                .await);
            }
            Err(e) => return Err(classify(&format!("DetachInternetGateway {id}"), e)),
        }
    }
    match ec2
        .delete_internet_gateway()
        .internet_gateway_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("InvalidInternetGatewayID.NotFound") => Ok(()),
        Err(e) if e.code() == Some("DependencyViolation") => Err(KindError::waiting(
            errors::describe(&format!("DeleteInternetGateway {id}"), &e),
            "the gateway's detachment to take effect",
            Duration::from_secs(5 * 60),
        )),
        Err(e) => Err(classify(&format!("DeleteInternetGateway {id}"), e)),
    }
}

/// Deletes the network a `Create` apply made: route tables, gateway,
/// subnets, then the VPC.
async fn delete_created(cx: &Cx, vpc_id: Option<&str>) -> Result<(), KindError> {
    let ec2 = &cx.backends.aws.ec2;
    if let Some(vpc_id) = vpc_id
        && let Some(vpc) = vpc_by_id(ec2, vpc_id).await?
    {
        let t = tag_map(vpc.tags());
        if t.get(tags::TENANT).map(String::as_str) != Some(cx.tenant.as_str())
            || t.get(tags::MANAGED).map(String::as_str) != Some("true")
        {
            return Err(KindError::Permanent(format!(
                "refusing to delete VPC {vpc_id}: it is not tagged as a managed resource of \
                 tenant '{}'",
                cx.tenant
            )));
        }
        // Route tables other than the main one: associations first.
        for table in describe_route_tables(ec2, vec![filter("vpc-id", vpc_id)]).await? {
            let Some(table_id) = table.route_table_id() else {
                continue;
            };
            if table.associations().iter().any(|a| a.main() == Some(true)) {
                continue;
            }
            for a in table.associations() {
                let Some(assoc) = a.route_table_association_id() else {
                    continue;
                };
                match ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("InvalidAssociationID.NotFound") => {}
                    Err(e) => return Err(classify(&format!("DisassociateRouteTable {assoc}"), e)),
                }
            }
            match ec2
                .delete_route_table()
                .route_table_id(table_id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidRouteTableID.NotFound") => {}
                Err(e) if e.code() == Some("DependencyViolation") => {
                    return Err(KindError::Transient(format!(
                        "DeleteRouteTable {table_id}: still associated"
                    )));
                }
                Err(e) => return Err(classify(&format!("DeleteRouteTable {table_id}"), e)),
            }
        }
        for igw in describe_igws(ec2, vec![filter("attachment.vpc-id", vpc_id)]).await? {
            delete_igw(ec2, &cx.tenant, &igw).await?;
        }
        for subnet in describe_subnets(ec2, vec![filter("vpc-id", vpc_id)]).await? {
            let Some(id) = subnet.subnet_id() else {
                continue;
            };
            match ec2.delete_subnet().subnet_id(id).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {}
                Err(e) if e.code() == Some("DependencyViolation") => {
                    let message = errors::describe(&format!("DeleteSubnet {id}"), &e);
                    return Err(dependency_violation(
                        ec2,
                        &cx.tenant,
                        Held::Subnet(id),
                        message,
                        "what still uses the subnet",
                    )
                    .await);
                }
                Err(e) => return Err(classify(&format!("DeleteSubnet {id}"), e)),
            }
        }
        match ec2.delete_vpc().vpc_id(vpc_id).send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidVpcID.NotFound") => {}
            Err(e) if e.code() == Some("DependencyViolation") => {
                let message = errors::describe(&format!("DeleteVpc {vpc_id}"), &e);
                let other = vpc_dependents(ec2, vpc_id).await;
                return Err(dependency_violation(
                    ec2,
                    &cx.tenant,
                    Held::Vpc(vpc_id),
                    message,
                    &other,
                )
                .await);
            }
            Err(e) => return Err(classify(&format!("DeleteVpc {vpc_id}"), e)),
        }
    }
    // A gateway made by a run that crashed before attaching it.
    for igw in describe_igws(ec2, ours_filters(&cx.tenant, &cx.resource_id)).await? {
        delete_igw(ec2, &cx.tenant, &igw).await?;
    }
    unanswered::forget(cx);
    Ok(())
}

#[async_trait]
impl Kind for Network {
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

    /// ~30 s: about ten EC2 calls (VPC, two DNS attributes, two subnets,
    /// gateway and attachment, route table, route, two associations), each
    /// answering in about a second; VPCs and subnets go `pending` ->
    /// `available` within seconds, and the EC2 API reference ("Eventual
    /// consistency in the Amazon EC2 API") warns that new resources may not
    /// be visible at once, which costs retries. The figure is an estimate
    /// for the budget's default (the budget learns real ones from past runs).
    fn expected(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: NetworkProps = parse_props(props)?;
        match p.plan().map_err(refusal)? {
            Plan::Create {
                cidr,
                subnet_cidrs,
                zones,
            } => apply_create(cx, &cidr, &subnet_cidrs, zones).await,
            Plan::Existing {
                vpc,
                subnet_ids,
                zones,
            } => apply_existing(cx, vpc, subnet_ids, zones).await,
        }
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let vpc_id = out.require("vpc_id")?;
        let Some(vpc) = vpc_by_id(ec2, vpc_id).await? else {
            return Ok(Readiness::Pending(format!("VPC {vpc_id} not visible yet")));
        };
        if vpc.state() != Some(&VpcState::Available) {
            return Ok(Readiness::Pending(format!(
                "VPC {vpc_id} is {}",
                vpc.state().map_or("in an unknown state", |s| s.as_str())
            )));
        }
        let ids: Vec<String> = out
            .require("subnet_ids")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let subnets = match ec2
            .describe_subnets()
            .set_subnet_ids(Some(ids.clone()))
            .send()
            .await
        {
            Ok(o) => o.subnets().to_vec(),
            Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => {
                return Ok(Readiness::Pending("subnets not visible yet".into()));
            }
            Err(e) => return Err(classify("DescribeSubnets", e)),
        };
        for id in &ids {
            match subnets.iter().find(|s| s.subnet_id() == Some(id)) {
                None => return Ok(Readiness::Pending(format!("subnet {id} not visible yet"))),
                Some(s) if s.state() != Some(&SubnetState::Available) => {
                    return Ok(Readiness::Pending(format!(
                        "subnet {id} is {}",
                        s.state().map_or("in an unknown state", |s| s.as_str())
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Readiness::Ready)
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        if out.get("created").map(|v| v.expose()) == Some("false") {
            // An existing network: not ours to delete.
            return Ok(());
        }
        let vpc_id = out
            .get("vpc_id")
            .map(|v| v.expose())
            .filter(|v| !v.is_empty());
        if vpc_id.is_none() && out.get("internet_gateway_id").is_none() {
            return Err(KindError::Permanent("output 'vpc_id' is missing".into()));
        }
        delete_created(cx, vpc_id).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut resources = BTreeSet::new();
        for vpc in describe_vpcs(ec2, sweep_filters(&cx.tenant)).await? {
            let t = tag_map(vpc.tags());
            let (Some(resource_id), Some(vpc_id)) = (t.get(tags::RESOURCE), vpc.vpc_id()) else {
                continue;
            };
            let mut subnets: Vec<(String, String)> =
                describe_subnets(ec2, vec![filter("vpc-id", vpc_id)])
                    .await?
                    .iter()
                    .filter_map(|s| Some((s.cidr_block()?.to_string(), s.subnet_id()?.to_string())))
                    .collect();
            subnets.sort();
            let ids: Vec<String> = subnets.into_iter().map(|(_, id)| id).collect();
            resources.insert(resource_id.clone());
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(vpc_id, &ids, vpc.cidr_block().unwrap_or_default(), true),
            });
        }
        // Gateways left by a run that crashed between creating and attaching.
        for igw in describe_igws(ec2, sweep_filters(&cx.tenant)).await? {
            let t = tag_map(igw.tags());
            let (Some(resource_id), Some(id)) = (t.get(tags::RESOURCE), igw.internet_gateway_id())
            else {
                continue;
            };
            if igw.attachments().is_empty() && resources.insert(resource_id.clone()) {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("internet_gateway_id", id)
                        .plain("created", "true"),
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
