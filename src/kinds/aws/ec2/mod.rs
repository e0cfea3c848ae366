//! The EC2 kinds and what they share: the tags every EC2 resource envctl
//! makes carries ([`ec2_tags`], [`tag_spec`]), the filters that find a
//! tenant's resources ([`ours_filters`], [`sweep_filters`]), and how an
//! error on a just-made resource reads ([`configure_error`]). The kinds:
//! [`network`] (`aws.ec2.network`) and [`security_group`]
//! (`aws.ec2.security_group`); [`rules`] holds the EC2 text rules and
//! [`eni_holders`] what still holds a group, subnet or VPC on delete.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use crate::kinds::{Cx, KindError};
use crate::tenant::{TenantName, tags};

pub mod eni_holders;
pub mod network;
pub mod rules;
pub mod security_group;

/// `Name` plus the tags of [`Cx::tags`]: what every EC2 resource envctl
/// makes carries.
pub(crate) fn named_tags(cx: &Cx, name: &str) -> Vec<(String, String)> {
    let mut t = cx.tags();
    t.push(("Name".to_string(), name.to_string()));
    t
}

/// [`named_tags`] as EC2 tags.
pub(crate) fn ec2_tags(cx: &Cx, name: &str) -> Vec<Tag> {
    named_tags(cx, name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A tag specification for `CreateX` calls, so a resource never exists
/// untagged (a crash right after the create still leaves it findable).
pub(crate) fn tag_spec(resource_type: ResourceType, cx: &Cx, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(ec2_tags(cx, name)))
        .build()
}

/// The EC2 filter `name` = `value`.
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
