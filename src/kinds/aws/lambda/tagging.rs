//! The tagging calls of the Lambda kind's two taggable parts, for
//! [`tags::converge`](crate::kinds::aws::tags::converge): the IAM execution
//! role (ListRoleTags / TagRole) and the function (ListTags / TagResource).

use async_trait::async_trait;

use crate::kinds::KindError;
use crate::kinds::aws::call::found;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::{Tagging, sdk_tags, tag_map};

/// An IAM role's tags, by role name.
pub(super) struct RoleTagging<'a>(pub &'a aws_sdk_iam::Client);

#[async_trait]
impl Tagging for RoleTagging<'_> {
    /// `None` when the role does not exist (IAM answers NoSuchEntity).
    async fn read(&self, name: &str) -> Result<Option<Tags>, KindError> {
        let tags = self
            .0
            .list_role_tags()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        Ok(found(&format!("ListRoleTags {name}"), tags, &["NoSuchEntity"])?.map(|t| tag_map(&t)))
    }

    async fn add(&self, name: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.0
            .tag_role()
            .role_name(name)
            .set_tags(Some(sdk_tags(pairs)?))
            .send()
            .await
            .map_err(|e| classify(&format!("TagRole {name}"), e))?;
        Ok(())
    }
}

/// A Lambda function's tags, by function ARN.
pub(super) struct FunctionTagging<'a>(pub &'a aws_sdk_lambda::Client);

#[async_trait]
impl Tagging for FunctionTagging<'_> {
    /// `None` when the function does not exist (ResourceNotFoundException).
    async fn read(&self, arn: &str) -> Result<Option<Tags>, KindError> {
        let answer = self.0.list_tags().resource(arn).send().await;
        Ok(found(
            &format!("ListTags {arn}"),
            answer,
            &["ResourceNotFoundException"],
        )?
        .map(|out| {
            out.tags()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect()
        }))
    }

    async fn add(&self, arn: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.0
            .tag_resource()
            .resource(arn)
            .set_tags(Some(pairs.into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(&format!("TagResource {arn}"), e))?;
        Ok(())
    }
}
