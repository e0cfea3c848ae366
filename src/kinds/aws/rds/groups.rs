//! The DB subnet group and DB parameter group of an `aws.rds.instance`
//! (both named like the instance): created, adopted, converged and, after
//! the instance is gone, deleted; and RDS tagging for everything the kind
//! tags.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::Client;
use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, DbSubnetGroup, Parameter};

use super::props::Wanted;
use crate::kinds::aws::call::{carried, created, deleted, found};
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::{Tags, foreign_owner};
use crate::kinds::aws::tags::{Tagging, converge, sdk_tags, tag_map};
use crate::kinds::{Cx, KindError};

/// ModifyDBParameterGroup takes at most 20 parameters per call.
const PARAMETER_BATCH: usize = 20;

/// The tags of the RDS resource `arn` (ListTagsForResource).
pub(super) async fn tags_of(rds: &Client, arn: &str) -> Result<Tags, KindError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| classify(&format!("ListTagsForResource {arn}"), e))?;
    Ok(tag_map(out.tag_list()))
}

/// RDS tagging by ARN (ListTagsForResource, AddTagsToResource) of the
/// resource errors call `name`. `known` holds tags already read with the
/// resource (DescribeDBInstances answers them), so they are not read again.
pub(super) struct RdsTags<'a> {
    pub rds: &'a Client,
    pub name: &'a str,
    pub known: Option<&'a Tags>,
}

#[async_trait]
impl Tagging for RdsTags<'_> {
    async fn read(&self, arn: &str) -> Result<Option<Tags>, KindError> {
        match self.known {
            Some(have) => Ok(Some(have.clone())),
            None => tags_of(self.rds, arn).await.map(Some),
        }
    }

    async fn add(&self, arn: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(sdk_tags(pairs)?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTagsToResource {}", self.name), e))?;
        Ok(())
    }
}

/// Removes the tags `keys` from the RDS resource `arn` (RemoveTagsFromResource;
/// a key it does not carry is no error, RDS API reference).
pub(super) async fn untag(rds: &Client, arn: &str, keys: &[&str]) -> Result<(), KindError> {
    let have = tags_of(rds, arn).await?;
    let present: Vec<String> = keys
        .iter()
        .filter(|k| have.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    rds.remove_tags_from_resource()
        .resource_name(arn)
        .set_tag_keys(Some(present))
        .send()
        .await
        .map_err(|e| classify(&format!("RemoveTagsFromResource {arn}"), e))?;
    Ok(())
}

// ------------------------------------------------------ subnet group ----

/// The DB subnet group `name`, if it exists.
pub(super) async fn subnet_group(
    rds: &Client,
    name: &str,
) -> Result<Option<DbSubnetGroup>, KindError> {
    let answer = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await;
    Ok(found(
        &format!("DescribeDBSubnetGroups {name}"),
        answer,
        &["DBSubnetGroupNotFoundFault"],
    )?
    .and_then(|out| out.db_subnet_groups().first().cloned()))
}

/// Converges the tags of the group `arn`, `kind` (e.g. `DB subnet group`)
/// `name`.
async fn converge_group(
    rds: &Client,
    cx: &Cx,
    kind: &str,
    name: &str,
    arn: Option<&str>,
) -> Result<(), KindError> {
    let Some(arn) = arn else { return Ok(()) };
    let tagging = RdsTags {
        rds,
        name,
        known: None,
    };
    converge(&tagging, cx, &format!("{kind} {name}"), arn, cx.tags()).await
}

/// Whether `have` and `want` hold the same ids, in any order.
pub(super) fn same_ids<'a>(have: impl IntoIterator<Item = &'a str>, want: &[String]) -> bool {
    let mut have: Vec<&str> = have.into_iter().collect();
    let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
    have.sort_unstable();
    want.sort_unstable();
    have == want
}

pub(super) async fn ensure_subnet_group(
    rds: &Client,
    cx: &Cx,
    w: &Wanted,
) -> Result<(), KindError> {
    let name = &w.identifier;
    let group = match subnet_group(rds, name).await? {
        Some(g) => g,
        None => {
            let what = format!("CreateDBSubnetGroup {name}");
            let answer = rds
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
                .set_subnet_ids(Some(w.subnets.clone()))
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            let out = created(&what, answer, &["DBSubnetGroupAlreadyExists"])?;
            carried(&what, out.db_subnet_group().cloned(), "subnet group")?
        }
    };
    converge_group(
        rds,
        cx,
        "DB subnet group",
        name,
        group.db_subnet_group_arn(),
    )
    .await?;
    let have = group.subnets().iter().filter_map(|s| s.subnet_identifier());
    if !same_ids(have, &w.subnets) {
        rds.modify_db_subnet_group()
            .db_subnet_group_name(name)
            .set_subnet_ids(Some(w.subnets.clone()))
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyDBSubnetGroup {name}"), e))?;
    }
    Ok(())
}

// --------------------------------------------------- parameter group ----

/// The DB parameter group `name`, if it exists.
async fn parameter_group(rds: &Client, name: &str) -> Result<Option<DbParameterGroup>, KindError> {
    let answer = rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await;
    // moto answers an empty list where AWS answers "not found".
    Ok(found(
        &format!("DescribeDBParameterGroups {name}"),
        answer,
        &["DBParameterGroupNotFound"],
    )?
    .and_then(|out| out.db_parameter_groups().first().cloned()))
}

pub(super) async fn ensure_parameter_group(
    rds: &Client,
    cx: &Cx,
    name: &str,
    family: &str,
    values: &BTreeMap<String, String>,
) -> Result<(), KindError> {
    let group = match parameter_group(rds, name).await? {
        Some(g) => g,
        None => {
            let what = format!("CreateDBParameterGroup {name}");
            let answer = rds
                .create_db_parameter_group()
                .db_parameter_group_name(name)
                .db_parameter_group_family(family)
                .description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            let out = created(&what, answer, &["DBParameterGroupAlreadyExists"])?;
            carried(&what, out.db_parameter_group().cloned(), "parameter group")?
        }
    };
    converge_group(
        rds,
        cx,
        "DB parameter group",
        name,
        group.db_parameter_group_arn(),
    )
    .await?;
    if let Some(have) = group.db_parameter_group_family()
        && have != family
    {
        return Err(KindError::Permanent(format!(
            "DB parameter group {name} is of family {have}, not {family}; a family change (a \
             major version upgrade) is not done by envctl"
        )));
    }
    // Only user-set parameters: the group's own choices are not ours.
    let mut current = BTreeMap::new();
    let mut pages = rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("DescribeDBParameters {name}"), e))?;
        for p in page.parameters() {
            if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                current.insert(n.to_string(), v.to_string());
            }
        }
    }
    let changes: Vec<Parameter> = values
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| {
            // pending-reboot is accepted for static and dynamic parameters
            // alike; a new instance boots with them anyway.
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect();
    for batch in changes.chunks(PARAMETER_BATCH) {
        rds.modify_db_parameter_group()
            .db_parameter_group_name(name)
            .set_parameters(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| classify(&format!("ModifyDBParameterGroup {name}"), e))?;
    }
    Ok(())
}

/// Whether the group described by `arn` is tagged for another tenant.
async fn foreign_group(rds: &Client, arn: Option<&str>, tenant: &str) -> Result<bool, KindError> {
    let Some(arn) = arn else { return Ok(false) };
    Ok(foreign_owner(&tags_of(rds, arn).await?, tenant).is_some())
}

pub(super) async fn delete_groups(rds: &Client, name: &str, tenant: &str) -> Result<(), KindError> {
    if let Some(g) = subnet_group(rds, name).await?
        && !foreign_group(rds, g.db_subnet_group_arn(), tenant).await?
    {
        let answer = rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await;
        // Still used by an instance being deleted: classify makes it a wait.
        deleted(
            &format!("DeleteDBSubnetGroup {name}"),
            answer,
            &["DBSubnetGroupNotFoundFault"],
        )?;
    }
    match parameter_group(rds, name).await? {
        Some(g) if !foreign_group(rds, g.db_parameter_group_arn(), tenant).await? => {
            delete_parameter_group(rds, name).await
        }
        _ => Ok(()),
    }
}

async fn delete_parameter_group(rds: &Client, name: &str) -> Result<(), KindError> {
    match rds
        .delete_db_parameter_group()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("DBParameterGroupNotFound") => Ok(()),
        Err(e) if e.code() == Some("InvalidDBParameterGroupState") => Err(KindError::Transient(
            format!("DeleteDBParameterGroup {name}: still in use; retrying"),
        )),
        Err(e) => Err(classify(&format!("DeleteDBParameterGroup {name}"), e)),
    }
}
