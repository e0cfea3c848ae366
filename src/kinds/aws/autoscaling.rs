//! The `aws.autoscaling.group` kind: a launch template and an Auto Scaling
//! group of EC2 instances from it, spread over the given subnets. Both carry
//! the tenant's tags; the group propagates them to its instances.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    AutoScalingGroup, LaunchTemplateSpecification, LifecycleState, Tag as AsgTag,
};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    ArchitectureType, InstanceType, LaunchTemplate, LaunchTemplateHttpTokensState,
    LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::call::client_token;
use super::classify;
use super::network::{ec2_tags, filter, managed_by, refuse_other_tenant, sweep_filters, tag_spec};
use super::props::{IntOrText, StringList, refusal};
use super::tags::tag_map;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Launch template names are at most 128 characters (group names 255); one
/// name serves both.
const MAX_NAME: usize = 128;
const DEFAULT_INSTANCE_TYPE: &str = "t3.small";
/// The most instances a group of this kind may have (a guard against typos;
/// raise it when a tenant really needs more).
const MAX_SIZE: i64 = 100;
/// How long `delete` waits in one attempt for the group to disappear; the
/// engine retries (and so keeps waiting) after that, within its own limit.
const DELETE_WAIT: Duration = Duration::from_secs(240);
/// The group's launch template version: the template's default one, so a
/// changed template (new default version) is used by new instances.
const TEMPLATE_VERSION: &str = "$Default";

pub struct Group;

/// An Auto Scaling group of EC2 instances from a launch template, spread
/// over the given subnets.
///
/// Both the template and the group carry the tenant's tags; the group
/// propagates them to its instances. Sizes: CreateAutoScalingGroup (Auto
/// Scaling API reference: "DesiredCapacity ... must be greater than or equal
/// to the minimum size of the group and less than or equal to the maximum
/// size"), capped at 100 here against typos. Instance types have the shape
/// of the EC2 API reference's `InstanceType` values; whether the region
/// offers one is asked at apply (DescribeInstanceTypes).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GroupProps {
    /// Subnets of the group, a list or one comma-separated string. Example:
    /// `${network.subnet_ids}`.
    subnet_ids: StringList,
    /// Security groups of the instances (ids starting with `sg-`), a list or
    /// one comma-separated string, e.g. `[${app-sg.group_id}]`; default none.
    #[serde(default)]
    security_group_ids: Option<StringList>,
    /// Load balancer target groups (ARNs) to register the instances with, a
    /// list or one comma-separated string, e.g. `[${alb.target_group_arn}]`.
    #[serde(default)]
    target_group_arns: Option<StringList>,
    /// EC2 instance type, `<family>.<size>`; default `t3.small`.
    #[serde(default)]
    instance_type: Option<String>,
    /// AMI of the instances (`ami-...`); default: the newest Amazon Linux
    /// 2023 image (owner amazon) for the instance type's architecture,
    /// looked up when the launch template is created and kept afterwards.
    #[serde(default)]
    image_id: Option<String>,
    /// Minimum number of instances, 0-100; default 1.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    min: Option<IntOrText>,
    /// Maximum number of instances, 0-100; default the larger of min,
    /// desired and 1.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    max: Option<IntOrText>,
    /// Desired number of instances, between min and max; default min at
    /// creation, and when absent later applies leave it to scaling
    /// policies.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    desired: Option<IntOrText>,
    /// Give each instance a public IPv4 address, its route out through the
    /// subnet's internet gateway; default true (false needs subnets with a
    /// NAT route).
    #[serde(default)]
    public_ip: Option<bool>,
}

/// The properties, checked.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    subnets: Vec<String>,
    security_groups: Vec<String>,
    target_groups: Vec<String>,
    instance_type: String,
    image_id: Option<String>,
    min: i32,
    max: i32,
    /// `None`: leave the group's current desired capacity (scaling policies
    /// own it) once the group exists; at creation it is `min`.
    desired: Option<i32>,
    /// Give each instance a public IPv4 address (its route out through the
    /// subnet's internet gateway; see [`GroupProps`]).
    public_ip: bool,
}

impl GroupProps {
    /// These properties with every `${ref}` replaced by a value of its
    /// shape, or dropped (its default then applies), so the literal rest is
    /// checked at validation.
    fn filled(&self) -> GroupProps {
        let list = |v: &StringList, with: &str| match v {
            StringList::Text(s) if is_ref(s) => StringList::Text(with.into()),
            StringList::Text(s) => StringList::Text(s.clone()),
            StringList::List(items) => StringList::List(
                items
                    .iter()
                    .map(|s| if is_ref(s) { with.into() } else { s.clone() })
                    .collect(),
            ),
        };
        let int = |v: &Option<IntOrText>| v.clone().filter(|v| !v.is_ref());
        let text = |v: &Option<String>| v.clone().filter(|v| !is_ref(v));
        GroupProps {
            subnet_ids: list(&self.subnet_ids, "subnet-ref"),
            security_group_ids: self.security_group_ids.as_ref().map(|l| list(l, "sg-ref")),
            target_group_arns: self.target_group_arns.as_ref().map(|l| list(l, "arn:ref")),
            instance_type: text(&self.instance_type),
            image_id: text(&self.image_id),
            min: int(&self.min),
            max: int(&self.max),
            desired: int(&self.desired),
            public_ip: self.public_ip,
        }
    }

    /// The checked spec; an issue names the property to fix.
    fn spec(self) -> Result<Spec, PropIssue> {
        let ids = |name: &str, list: Option<&StringList>, prefix: &str| {
            let items = list.map(StringList::items).unwrap_or_default();
            match items.iter().find(|id| !id.starts_with(prefix)) {
                Some(id) => Err(PropIssue::new(
                    &[name],
                    format!("contains '{id}', which is not an id starting with '{prefix}'"),
                )),
                None => Ok(items),
            }
        };
        let subnets = ids("subnet_ids", Some(&self.subnet_ids), "subnet-")?;
        if subnets.is_empty() {
            return Err(PropIssue::new(
                &["subnet_ids"],
                "is empty; give the subnets, e.g. ${network.subnet_ids}",
            ));
        }
        let security_groups = ids(
            "security_group_ids",
            self.security_group_ids.as_ref(),
            "sg-",
        )?;
        let target_groups = ids("target_group_arns", self.target_group_arns.as_ref(), "arn:")?;
        let instance_type = self
            .instance_type
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.to_string());
        if !is_instance_type(&instance_type) {
            return Err(PropIssue::new(
                &["instance_type"],
                format!(
                    "'{instance_type}' is not an EC2 instance type like t3.small (family.size, \
                     lowercase letters, digits and '-')"
                ),
            ));
        }
        if let Some(i) = &self.image_id
            && !i.starts_with("ami-")
        {
            return Err(PropIssue::new(
                &["image_id"],
                "is not an AMI id (ami-...); leave it out for the latest Amazon Linux 2023",
            ));
        }
        let size = |name: &str, v: Option<&IntOrText>| -> Result<Option<i32>, PropIssue> {
            let Some(v) = v else { return Ok(None) };
            match v.int() {
                Some(n) if (0..=MAX_SIZE).contains(&n) => Ok(Some(n as i32)),
                Some(n) => Err(PropIssue::new(
                    &[name],
                    format!("is {n}; use 0 to {MAX_SIZE}"),
                )),
                None => Err(PropIssue::new(
                    &[name],
                    format!("must be a whole number from 0 to {MAX_SIZE}, e.g. 2"),
                )),
            }
        };
        let min = size("min", self.min.as_ref())?.unwrap_or(1);
        let desired = size("desired", self.desired.as_ref())?;
        let max = size("max", self.max.as_ref())?.unwrap_or(min.max(desired.unwrap_or(min)).max(1));
        if min > max {
            return Err(PropIssue::new(
                &["min"],
                format!("min ({min}) is above max ({max}); lower min or raise max"),
            ));
        }
        if let Some(d) = desired
            && !(min..=max).contains(&d)
        {
            return Err(PropIssue::new(
                &["desired"],
                format!("desired ({d}) must be between min ({min}) and max ({max})"),
            ));
        }
        Ok(Spec {
            subnets,
            security_groups,
            target_groups,
            instance_type,
            image_id: self.image_id,
            min,
            max,
            desired,
            public_ip: self.public_ip.unwrap_or(true),
        })
    }
}

/// What `apply` checks before any call, on the literal values: ids, the
/// instance type's shape, sizes 0-100 with min <= desired <= max
/// (CreateAutoScalingGroup, API reference: "DesiredCapacity ... must be
/// greater than or equal to the minimum size of the group and less than or
/// equal to the maximum size"). The group and template names are envctl's
/// (`envctl-<tenant>-<id>`, at most 128 characters of lowercase letters,
/// digits and `-`), within both references' rules (AutoScalingGroupName
/// 1-255 characters; LaunchTemplateName 3-128 of `[a-zA-Z0-9().\-/_]+`).
impl KindProps for GroupProps {
    fn check(&self) -> Vec<PropIssue> {
        match self.filled().spec() {
            Ok(_) => Vec::new(),
            Err(issue) => vec![issue],
        }
    }
}

/// The shape of an EC2 instance type: `<family>.<size>` in lowercase
/// letters, digits and `-` (`t3.small`, `m7g.2xlarge`, `u-6tb1.metal`), as
/// the `InstanceType` enum of the EC2 API reference spells every value.
/// Whether the region offers it is asked at apply (DescribeInstanceTypes).
fn is_instance_type(t: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    matches!(t.split_once('.'), Some((family, size)) if part(family) && part(size))
}

const NAME: &str = "aws.autoscaling.group";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<GroupProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the group name (also the launch template's), envctl-<tenant>-<id>",
    },
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the group ARN",
    },
    OutputSpec {
        name: "launch_template_id",
        secret: false,
        doc: "the launch template id (lt-...)",
    },
];

fn outputs(name: &str, arn: &str, template_id: &str) -> Outputs {
    Outputs::new()
        .plain("name", name)
        .plain("arn", arn)
        .plain("launch_template_id", template_id)
}

// ----------------------------------------------------- launch template ----

/// The launch template called `name`; `None` when there is none.
async fn template_by_name(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
) -> Result<Option<LaunchTemplate>, KindError> {
    match ec2
        .describe_launch_templates()
        .launch_template_names(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.launch_templates().first().cloned()),
        Err(e)
            if matches!(
                e.code(),
                Some(
                    "InvalidLaunchTemplateName.NotFoundException"
                        | "InvalidLaunchTemplateName.NotFound"
                )
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(&format!("DescribeLaunchTemplates {name}"), e)),
    }
}

/// The data of a template's default version.
async fn default_version(
    ec2: &aws_sdk_ec2::Client,
    template_id: &str,
) -> Result<Option<ResponseLaunchTemplateData>, KindError> {
    let out = ec2
        .describe_launch_template_versions()
        .launch_template_id(template_id)
        .versions(TEMPLATE_VERSION)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeLaunchTemplateVersions {template_id}"), e))?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .cloned())
}

/// The architecture (x86_64 or arm64) of an instance type; unknown types
/// are a permanent error.
async fn architecture(ec2: &aws_sdk_ec2::Client, instance_type: &str) -> Result<String, KindError> {
    let out = match ec2
        .describe_instance_types()
        .instance_types(InstanceType::from(instance_type))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if e.code() == Some("InvalidInstanceType") => {
            return Err(KindError::Permanent(format!(
                "properties: instance_type '{instance_type}' is not offered in this region"
            )));
        }
        Err(e) => {
            return Err(classify(
                &format!("DescribeInstanceTypes {instance_type}"),
                e,
            ));
        }
    };
    let archs: Vec<&ArchitectureType> = out
        .instance_types()
        .first()
        .and_then(|t| t.processor_info())
        .map(|p| p.supported_architectures().iter().collect())
        .unwrap_or_default();
    Ok(if archs.contains(&&ArchitectureType::Arm64) {
        "arm64".into()
    } else {
        "x86_64".into()
    })
}

/// The newest Amazon Linux 2023 AMI of `arch` (by creation date, then name,
/// so equal dates still give one answer).
async fn latest_amazon_linux(ec2: &aws_sdk_ec2::Client, arch: &str) -> Result<String, KindError> {
    let mut best: Option<(String, String, String)> = None;
    let mut items = ec2
        .describe_images()
        .owners("amazon")
        .filters(filter("name", format!("al2023-ami-2023.*-{arch}")))
        .filters(filter("architecture", arch))
        .filters(filter("state", "available"))
        .into_paginator()
        .items()
        .send();
    while let Some(image) = items.next().await {
        let image = image.map_err(|e| classify("DescribeImages", e))?;
        let (Some(id), Some(name)) = (image.image_id(), image.name()) else {
            continue;
        };
        let key = (
            image.creation_date().unwrap_or_default().to_string(),
            name.to_string(),
            id.to_string(),
        );
        if best.as_ref().is_none_or(|b| key > *b) {
            best = Some(key);
        }
    }
    best.map(|(_, _, id)| id).ok_or_else(|| {
        KindError::Permanent(format!(
            "no Amazon Linux 2023 image ({arch}) found in this region; set image_id"
        ))
    })
}

fn template_data(cx: &Cx, name: &str, spec: &Spec, image_id: &str) -> RequestLaunchTemplateData {
    let tagged = |rt: ResourceType| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(rt)
            .set_tags(Some(ec2_tags(cx, name)))
            .build()
    };
    let groups = if spec.security_groups.is_empty() {
        None
    } else {
        Some(spec.security_groups.clone())
    };
    let data = RequestLaunchTemplateData::builder()
        .image_id(image_id)
        .instance_type(InstanceType::from(spec.instance_type.as_str()));
    // The route out: a public address on the primary interface. With a
    // network interface in the template, its security groups go there, not
    // at the top (RequestLaunchTemplateData, API reference: "If you specify
    // a network interface, you must specify any security groups ... as part
    // of the network interface"); terraform-provider-aws
    // ec2/launch_template.go: `network_interfaces.associate_public_ip_address`.
    let data = if spec.public_ip {
        data.network_interfaces(
            LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .associate_public_ip_address(true)
                .delete_on_termination(true)
                .set_groups(groups)
                .build(),
        )
    } else {
        data.set_security_group_ids(groups)
    };
    data
        // IMDSv2 only: instance credentials need a session token.
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .build(),
        )
        .tag_specifications(tagged(ResourceType::Instance))
        .tag_specifications(tagged(ResourceType::Volume))
        .build()
}

/// Whether a template version already launches what `spec` asks for.
fn same_template(have: &ResponseLaunchTemplateData, spec: &Spec, image_id: &str) -> bool {
    let groups: BTreeSet<&str> = have
        .security_group_ids()
        .iter()
        .map(String::as_str)
        .collect();
    let primary = have
        .network_interfaces()
        .iter()
        .find(|n| n.device_index().unwrap_or(0) == 0);
    let public = primary.and_then(|n| n.associate_public_ip_address()) == Some(true);
    let groups: BTreeSet<&str> = match primary {
        Some(n) => groups
            .into_iter()
            .chain(n.groups().iter().map(String::as_str))
            .collect(),
        None => groups,
    };
    let wanted: BTreeSet<&str> = spec.security_groups.iter().map(String::as_str).collect();
    have.image_id() == Some(image_id)
        && have.instance_type().map(|t| t.as_str()) == Some(spec.instance_type.as_str())
        && groups == wanted
        && public == spec.public_ip
}

/// Finds or creates the launch template; when its default version differs
/// from `spec`, adds a version and makes it the default. Returns its id.
async fn ensure_template(cx: &Cx, name: &str, spec: &Spec) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    if let Some(t) = template_by_name(ec2, name).await? {
        let id = t
            .launch_template_id()
            .ok_or_else(|| KindError::Permanent("launch template without id".into()))?
            .to_string();
        refuse_other_tenant(
            cx,
            &format!("launch template {name} ({id})"),
            &tag_map(t.tags()),
        )?;
        let have = default_version(ec2, &id)
            .await?
            .unwrap_or_else(|| ResponseLaunchTemplateData::builder().build());
        // Without image_id, the image chosen at creation stays.
        let image_id = match (&spec.image_id, have.image_id()) {
            (Some(i), _) => i.clone(),
            (None, Some(i)) => i.to_string(),
            (None, None) => {
                latest_amazon_linux(ec2, &architecture(ec2, &spec.instance_type).await?).await?
            }
        };
        if !same_template(&have, spec, &image_id) {
            if spec.instance_type != have.instance_type().map(|t| t.as_str()).unwrap_or_default() {
                architecture(ec2, &spec.instance_type).await?;
            }
            let data = template_data(cx, name, spec, &image_id);
            let version = ec2
                .create_launch_template_version()
                .launch_template_id(&id)
                .client_token(client_token(&[&id, &format!("{data:?}")]))
                .launch_template_data(data)
                .send()
                .await
                .map_err(|e| classify(&format!("CreateLaunchTemplateVersion {name}"), e))?;
            let number = version
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    KindError::Permanent("CreateLaunchTemplateVersion: no version in answer".into())
                })?;
            ec2.modify_launch_template()
                .launch_template_id(&id)
                .default_version(number.to_string())
                .send()
                .await
                .map_err(|e| classify(&format!("ModifyLaunchTemplate {name}"), e))?;
        }
        return Ok(id);
    }
    let arch = architecture(ec2, &spec.instance_type).await?;
    let image_id = match &spec.image_id {
        Some(i) => i.clone(),
        None => latest_amazon_linux(ec2, &arch).await?,
    };
    let data = template_data(cx, name, spec, &image_id);
    // No ClientToken here: the name is unique in the account and region, so
    // a second create can only fail (AlreadyExists), never duplicate; a token
    // would instead make a re-create soon after a destroy return the deleted
    // template (EC2 remembers tokens for hours). Template versions do get
    // one, scoped by the template's id.
    match ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(data)
        .tag_specifications(tag_spec(ResourceType::LaunchTemplate, cx, name))
        .send()
        .await
    {
        Ok(out) => out
            .launch_template()
            .and_then(LaunchTemplate::launch_template_id)
            .map(str::to_string)
            .ok_or_else(|| KindError::Permanent("CreateLaunchTemplate: no id in answer".into())),
        // Made meanwhile (a concurrent or crashed run): the next attempt adopts it.
        Err(e) if e.code() == Some("InvalidLaunchTemplateName.AlreadyExistsException") => {
            Err(KindError::Transient(format!(
                "CreateLaunchTemplate {name}: created meanwhile; adopting it"
            )))
        }
        Err(e) => Err(classify(&format!("CreateLaunchTemplate {name}"), e)),
    }
}

async fn delete_template(
    ec2: &aws_sdk_ec2::Client,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<(), KindError> {
    let id = match (id, name) {
        (Some(id), _) => id.to_string(),
        (None, Some(name)) => match template_by_name(ec2, name).await? {
            Some(t) => t.launch_template_id().unwrap_or_default().to_string(),
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    match ec2
        .delete_launch_template()
        .launch_template_id(&id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.code().is_some_and(|c| {
                c.starts_with("InvalidLaunchTemplateId.")
                    || c.starts_with("InvalidLaunchTemplateName.")
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(classify(&format!("DeleteLaunchTemplate {id}"), e)),
    }
}

// --------------------------------------------------------------- group ----

/// The group called `name`; `None` when there is none.
async fn group_by_name(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
) -> Result<Option<AutoScalingGroup>, KindError> {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| classify(&format!("DescribeAutoScalingGroups {name}"), e))?;
    Ok(out.auto_scaling_groups().first().cloned())
}

fn group_tags(g: &AutoScalingGroup) -> BTreeMap<String, String> {
    g.tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// Our tags plus Name, propagated to the instances.
fn asg_tags(cx: &Cx, name: &str) -> Vec<AsgTag> {
    ec2_tags(cx, name)
        .into_iter()
        .filter_map(|t| {
            Some(
                AsgTag::builder()
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .key(t.key()?)
                    .value(t.value()?)
                    .propagate_at_launch(true)
                    .build(),
            )
        })
        .collect()
}

fn template_spec(template_id: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(template_id)
        .version(TEMPLATE_VERSION)
        .build()
}

fn being_deleted(g: &AutoScalingGroup) -> bool {
    g.status()
        .is_some_and(|s| s.to_ascii_lowercase().contains("delete"))
}

/// Brings an existing group to `spec`: sizes, subnets, template, tags and
/// target groups.
async fn converge_group(
    cx: &Cx,
    name: &str,
    g: &AutoScalingGroup,
    spec: &Spec,
    template_id: &str,
) -> Result<(), KindError> {
    let asg = &cx.backends.aws.autoscaling;
    let subnets: BTreeSet<&str> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let wanted_subnets: BTreeSet<&str> = spec.subnets.iter().map(String::as_str).collect();
    let template_ok = g.launch_template().is_some_and(|t| {
        t.launch_template_id() == Some(template_id) && t.version() == Some(TEMPLATE_VERSION)
    });
    let desired_ok = spec.desired.is_none_or(|d| g.desired_capacity() == Some(d));
    if g.min_size() != Some(spec.min)
        || g.max_size() != Some(spec.max)
        || !desired_ok
        || subnets != wanted_subnets
        || !template_ok
    {
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(spec.min)
            .max_size(spec.max)
            .set_desired_capacity(spec.desired)
            .vpc_zone_identifier(spec.subnets.join(","))
            .launch_template(template_spec(template_id))
            .send()
            .await
            .map_err(|e| classify(&format!("UpdateAutoScalingGroup {name}"), e))?;
    }
    let have = group_tags(g);
    let missing: Vec<AsgTag> = asg_tags(cx, name)
        .into_iter()
        .filter(|t| {
            t.key()
                .is_some_and(|k| have.get(k).map(String::as_str) != t.value())
        })
        .collect();
    if !missing.is_empty() {
        asg.create_or_update_tags()
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(|e| classify(&format!("CreateOrUpdateTags {name}"), e))?;
    }
    let attached: BTreeSet<&str> = g.target_group_arns().iter().map(String::as_str).collect();
    let to_attach: Vec<String> = spec
        .target_groups
        .iter()
        .filter(|t| !attached.contains(t.as_str()))
        .cloned()
        .collect();
    if !to_attach.is_empty() {
        asg.attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(to_attach))
            .send()
            .await
            .map_err(|e| classify(&format!("AttachLoadBalancerTargetGroups {name}"), e))?;
    }
    Ok(())
}

/// The latest failed scaling activity, to say why instances do not come.
async fn last_failure(asg: &aws_sdk_autoscaling::Client, name: &str) -> Option<String> {
    let out = asg
        .describe_scaling_activities()
        .auto_scaling_group_name(name)
        .max_records(5)
        .send()
        .await
        .ok()?;
    out.activities()
        .iter()
        .find(|a| a.status_code().is_some_and(|s| s.as_str() == "Failed"))
        .map(|a| {
            a.status_message()
                .or(a.description())
                .unwrap_or("a launch failed")
                .to_string()
        })
}

#[async_trait]
impl Kind for Group {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "autoscaling"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~90 s: the template and group exist within seconds; readiness waits
    /// for the instances to be InService, i.e. launched (`pending` ->
    /// `running`, typically well under a minute for an EBS-backed Amazon
    /// Linux 2023 instance) and passing the EC2 status health check. No
    /// lifecycle hooks or ELB health checks are involved. An estimate for the
    /// budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(90)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(15 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: GroupProps = parse_props(props)?;
        let spec = p.spec().map_err(refusal)?;
        let name = cx.physical_name(MAX_NAME);
        let asg = &cx.backends.aws.autoscaling;

        let existing = group_by_name(asg, &name).await?;
        if let Some(g) = &existing {
            refuse_other_tenant(cx, &format!("auto scaling group {name}"), &group_tags(g))?;
            if being_deleted(g) {
                return Err(KindError::Transient(format!(
                    "auto scaling group {name} is being deleted; waiting before creating it again"
                )));
            }
        }
        let template_id = ensure_template(cx, &name, &spec).await?;
        match existing {
            Some(g) => converge_group(cx, &name, &g, &spec, &template_id).await?,
            // moto 5.2 replaces an existing group on a second
            // CreateAutoScalingGroup instead of answering AlreadyExists, so
            // the lookup above is what keeps this idempotent there.
            None => match asg
                .create_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .launch_template(template_spec(&template_id))
                .min_size(spec.min)
                .max_size(spec.max)
                .desired_capacity(spec.desired.unwrap_or(spec.min))
                .vpc_zone_identifier(spec.subnets.join(","))
                .set_target_group_arns(if spec.target_groups.is_empty() {
                    None
                } else {
                    Some(spec.target_groups.clone())
                })
                .set_tags(Some(asg_tags(cx, &name)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("AlreadyExists") => {
                    return Err(KindError::Transient(format!(
                        "CreateAutoScalingGroup {name}: created meanwhile; adopting it"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateAutoScalingGroup {name}"), e)),
            },
        }
        let g = group_by_name(asg, &name).await?.ok_or_else(|| {
            KindError::Transient(format!("auto scaling group {name} is not visible yet"))
        })?;
        let arn = g.auto_scaling_group_arn().unwrap_or_default();
        Ok(outputs(&name, arn, &template_id))
    }

    /// Ready when at least the desired number of instances (and at least
    /// `min`) are InService and Healthy, as DescribeAutoScalingGroups
    /// reports them. moto launches the instances at once as InService, so
    /// there the same check passes on the first poll.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        let asg = &cx.backends.aws.autoscaling;
        let Some(g) = group_by_name(asg, name).await? else {
            return Ok(Readiness::Pending(format!("group {name} not visible yet")));
        };
        let wanted = g
            .desired_capacity()
            .unwrap_or(0)
            .max(g.min_size().unwrap_or(0));
        let in_service = g
            .instances()
            .iter()
            .filter(|i| {
                i.lifecycle_state() == Some(&LifecycleState::InService)
                    && i.health_status()
                        .is_none_or(|h| h.eq_ignore_ascii_case("healthy"))
            })
            .count() as i32;
        if in_service >= wanted {
            return Ok(Readiness::Ready);
        }
        let why = match last_failure(asg, name).await {
            Some(f) => format!("; last launch failure: {f}"),
            None => String::new(),
        };
        Ok(Readiness::Pending(format!(
            "{in_service}/{wanted} instances InService{why}"
        )))
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let asg = &cx.backends.aws.autoscaling;
        let ec2 = &cx.backends.aws.ec2;
        if let Some(g) = group_by_name(asg, name).await? {
            refuse_other_tenant(cx, &format!("auto scaling group {name}"), &group_tags(&g))?;
            if !being_deleted(&g) {
                match asg
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .force_delete(true)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e)
                        if e.code() == Some("ValidationError")
                            && e.message().is_some_and(|m| m.contains("not found")) => {}
                    Err(e)
                        if matches!(
                            e.code(),
                            Some("ResourceInUse" | "ScalingActivityInProgress")
                        ) =>
                    {
                        return Err(KindError::Transient(format!(
                            "DeleteAutoScalingGroup {name}: a scaling activity is in progress"
                        )));
                    }
                    Err(e) => return Err(classify(&format!("DeleteAutoScalingGroup {name}"), e)),
                }
            }
            // ForceDelete terminates the instances; the group disappears
            // when they are gone. Only then can the template go.
            let started = tokio::time::Instant::now();
            let mut pause = Duration::from_secs(1);
            while group_by_name(asg, name).await?.is_some() {
                if started.elapsed() >= DELETE_WAIT {
                    return Err(KindError::Transient(format!(
                        "auto scaling group {name} is still terminating its instances"
                    )));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
        }
        let template_id = out.get("launch_template_id").map(|v| v.expose());
        delete_template(ec2, template_id.filter(|t| !t.is_empty()), Some(name)).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let asg = &cx.backends.aws.autoscaling;
        let ec2 = &cx.backends.aws.ec2;
        let mut found = Vec::new();
        let mut names = BTreeSet::new();
        let filters = [tags::TENANT, tags::MANAGED].map(|k| {
            let v = if k == tags::TENANT {
                cx.tenant.as_str()
            } else {
                "true"
            };
            aws_sdk_autoscaling::types::Filter::builder()
                .name(format!("tag:{k}"))
                .values(v)
                .build()
        });
        let mut items = asg
            .describe_auto_scaling_groups()
            .set_filters(Some(filters.to_vec()))
            .into_paginator()
            .items()
            .send();
        while let Some(g) = items.next().await {
            let g = g.map_err(|e| classify("DescribeAutoScalingGroups", e))?;
            let t = group_tags(&g);
            let (Some(resource_id), Some(name)) =
                (t.get(tags::RESOURCE), g.auto_scaling_group_name())
            else {
                continue;
            };
            if !managed_by(&t, &cx.tenant) {
                continue;
            }
            names.insert(name.to_string());
            let template_id = g
                .launch_template()
                .and_then(|l| l.launch_template_id())
                .unwrap_or_default();
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(
                    name,
                    g.auto_scaling_group_arn().unwrap_or_default(),
                    template_id,
                ),
            });
        }
        // Templates whose group was never made (or is gone).
        let mut items = ec2
            .describe_launch_templates()
            .set_filters(Some(sweep_filters(&cx.tenant)))
            .into_paginator()
            .items()
            .send();
        while let Some(lt) = items.next().await {
            let lt = lt.map_err(|e| classify("DescribeLaunchTemplates", e))?;
            let t = tag_map(lt.tags());
            let (Some(resource_id), Some(name), Some(id)) = (
                t.get(tags::RESOURCE),
                lt.launch_template_name(),
                lt.launch_template_id(),
            ) else {
                continue;
            };
            if managed_by(&t, &cx.tenant) && !names.contains(name) {
                found.push(Found {
                    resource_id: resource_id.clone(),
                    outputs: Outputs::new()
                        .plain("name", name)
                        .plain("launch_template_id", id),
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Result<Spec, KindError> {
        let props = match v {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        parse_props::<GroupProps>(&props)?.spec().map_err(refusal)
    }

    #[test]
    fn defaults_and_list_forms() {
        let s = spec(serde_json::json!({"subnet_ids": "subnet-a,subnet-b"})).unwrap();
        assert_eq!(s.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!((s.min, s.max, s.desired), (1, 1, None));
        assert_eq!(s.instance_type, "t3.small");
        let s = spec(serde_json::json!({
            "subnet_ids": ["subnet-a"], "security_group_ids": "sg-1",
            "min": "2", "desired": 3,
        }))
        .unwrap();
        assert_eq!((s.min, s.max, s.desired), (2, 3, Some(3)));
        assert_eq!(s.security_groups, ["sg-1"]);
    }

    #[test]
    fn instance_types_have_the_shape_of_the_api_enum() {
        for ok in ["t3.small", "m7g.2xlarge", "u-6tb1.metal", "c6in.32xlarge"] {
            assert!(is_instance_type(ok), "{ok}");
        }
        for bad in [
            "t3",
            "T3.small",
            "t3.small ",
            ".small",
            "t3.",
            "t3 small",
            "db.t3.micro",
        ] {
            assert!(!is_instance_type(bad), "{bad}");
        }
    }

    #[test]
    fn check_reports_literal_sizes_and_skips_references() {
        let check = |v: serde_json::Value| Group.check(v.as_object().unwrap());
        assert!(
            check(serde_json::json!({
                "subnet_ids": "${network.subnet_ids}", "security_group_ids": ["${app.group_id}"],
                "target_group_arns": ["${alb.target_group_arn}"], "min": 1, "max": 4, "desired": 2,
            }))
            .is_empty()
        );
        let issues = check(serde_json::json!({
            "subnet_ids": "${network.subnet_ids}", "min": 3, "max": 2,
        }));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["min"]);
        assert!(issues[0].message.contains("above max"), "{issues:?}");
        let issues = check(serde_json::json!({
            "subnet_ids": "${network.subnet_ids}", "instance_type": "large",
        }));
        assert_eq!(issues[0].path, ["instance_type"], "{issues:?}");
    }

    #[test]
    fn bad_sizes_and_ids_name_the_property() {
        for (props, hint) in [
            (
                serde_json::json!({"subnet_ids": ""}),
                "'subnet_ids': is empty",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "min": 3, "max": 2}),
                "min (3) is above max (2)",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "max": 2, "desired": 5}),
                "desired (5)",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "max": 1000}),
                "'max': is 1000",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "min": "two"}),
                "'min': must be a whole number",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "image_id": "al2023"}),
                "image_id",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "security_group_ids": ["web"]}),
                "security_group_ids",
            ),
            (
                serde_json::json!({"subnet_ids": "subnet-a", "size": 1}),
                "size",
            ),
            (serde_json::json!({"min": 1}), "subnet_ids"),
        ] {
            let err = spec(props.clone()).unwrap_err();
            assert!(!err.is_transient());
            assert!(err.to_string().contains(hint), "{props}: {err}");
        }
    }

    #[test]
    fn check_names_the_field_of_a_wrong_type_or_out_of_range_size() {
        let check = |v: serde_json::Value| Group.check(v.as_object().unwrap());
        let issues = check(serde_json::json!({"subnet_ids": "subnet-a", "min": true}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["min"]);
        assert!(issues[0].message.contains("whole number"), "{issues:?}");
        let issues = check(serde_json::json!({"subnet_ids": "subnet-a", "max": 1000}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["max"]);
        assert!(issues[0].message.contains("100"), "{issues:?}");
        let issues = check(serde_json::json!({"subnet_ids": ["subnet-a", 7]}));
        assert_eq!(issues[0].path, ["subnet_ids", "1"], "{issues:?}");
        let issues = check(serde_json::json!({"subnet_ids": "subnet-a", "desired": 3, "max": 2}));
        assert_eq!(issues[0].path, ["desired"], "{issues:?}");
        let issues = check(serde_json::json!({"subnet_ids": "subnet-a", "public_ip": "yes"}));
        assert_eq!(issues[0].path, ["public_ip"], "{issues:?}");
    }
}
