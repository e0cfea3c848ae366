//! The tags of ELBv2 load balancers, target groups, listeners and rules:
//! read in batches (DescribeTags), and the [`Tagging`] calls that
//! [`crate::kinds::aws::tags::converge`] uses.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::Tag;

use super::super::TAG_BATCH;
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::{Tagging, sdk_tags, tag_map};

/// The tags of each ARN (in batches of 20).
pub(super) async fn tags_of(
    elbv2: &Client,
    arns: &[String],
) -> Result<HashMap<String, Tags>, KindError> {
    let mut out = HashMap::new();
    for batch in arns.chunks(TAG_BATCH) {
        let answer = elbv2
            .describe_tags()
            .set_resource_arns(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeTags", e))?;
        for d in answer.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                out.insert(arn.to_string(), tag_map(d.tags()));
            }
        }
    }
    Ok(out)
}

/// The tagging calls of ELBv2 resources (by ARN).
pub(super) struct ElbV2Tagging<'a>(pub &'a Client);

#[async_trait]
impl Tagging for ElbV2Tagging<'_> {
    async fn read(&self, arn: &str) -> Result<Option<Tags>, KindError> {
        Ok(tags_of(self.0, &[arn.to_string()]).await?.remove(arn))
    }

    async fn add(&self, arn: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.0
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(sdk_tags::<Tag>(pairs)?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTags {arn}"), e))?;
        Ok(())
    }
}
