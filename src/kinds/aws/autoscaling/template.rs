//! The launch template of `aws.autoscaling.group`: found by name or
//! created, a new default version when the spec changed, the default image
//! (the newest Amazon Linux 2023 for the instance type's architecture),
//! and its deletion.

use std::collections::BTreeSet;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    ArchitectureType, InstanceType, LaunchTemplate, LaunchTemplateHttpTokensState,
    LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData,
};

use super::props::Spec;
use crate::kinds::aws::call::client_token;
use crate::kinds::aws::classify;
use crate::kinds::aws::ec2::{ec2_tags, filter, tag_spec};
use crate::kinds::aws::owner::refuse_foreign;
use crate::kinds::aws::tags::tag_map;
use crate::kinds::{Cx, KindError};

/// The group's launch template version: the template's default one, so a
/// changed template (new default version) is used by new instances.
pub(super) const TEMPLATE_VERSION: &str = "$Default";

/// The launch template called `name`; `None` when there is none.
pub(super) async fn template_by_name(
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
pub(super) async fn ensure_template(cx: &Cx, name: &str, spec: &Spec) -> Result<String, KindError> {
    let ec2 = &cx.backends.aws.ec2;
    if let Some(t) = template_by_name(ec2, name).await? {
        let id = t
            .launch_template_id()
            .ok_or_else(|| KindError::Permanent("launch template without id".into()))?
            .to_string();
        refuse_foreign(
            &format!("launch template {name} ({id})"),
            &tag_map(t.tags()),
            cx,
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

pub(super) async fn delete_template(
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
