//! What `aws.autoscaling.group` accepts: the typed properties, the checked
//! [`Spec`] an apply works from, their check at validation (ids, the
//! instance type's shape, sizes), and the outputs.

use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::kinds::aws::props::{IntOrText, StringList};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{OutputSpec, Outputs, PropIssue};

const DEFAULT_INSTANCE_TYPE: &str = "t3.small";
/// The most instances a group of this kind may have (a guard against typos;
/// raise it when a tenant really needs more).
const MAX_SIZE: i64 = 100;

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
pub(super) struct GroupProps {
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
pub(super) struct Spec {
    pub(super) subnets: Vec<String>,
    pub(super) security_groups: Vec<String>,
    pub(super) target_groups: Vec<String>,
    pub(super) instance_type: String,
    pub(super) image_id: Option<String>,
    pub(super) min: i32,
    pub(super) max: i32,
    /// `None`: leave the group's current desired capacity (scaling policies
    /// own it) once the group exists; at creation it is `min`.
    pub(super) desired: Option<i32>,
    /// Give each instance a public IPv4 address (its route out through the
    /// subnet's internet gateway; see [`GroupProps`]).
    pub(super) public_ip: bool,
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
    pub(super) fn spec(self) -> Result<Spec, PropIssue> {
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

pub(super) const NAME: &str = "aws.autoscaling.group";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<GroupProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
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

pub(super) fn outputs(name: &str, arn: &str, template_id: &str) -> Outputs {
    Outputs::new()
        .plain("name", name)
        .plain("arn", arn)
        .plain("launch_template_id", template_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::aws::autoscaling::Group;
    use crate::kinds::aws::props::refusal;
    use crate::kinds::{Kind, KindError, parse_props};

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
