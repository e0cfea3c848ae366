//! The tags of a certificate: read (ListTagsForCertificate), the ones this
//! resource wants, and their convergence through [`tags::converge`].

use async_trait::async_trait;

use super::VALIDATION_ZONE_TAG;
use super::props::Wanted;
use crate::kinds::aws::call::found;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::{self, Tagging, sdk_tags, tag_map};
use crate::kinds::{Cx, KindError};

/// The certificate's tags; `None` when it is gone.
pub(super) async fn cert_tags(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<Tags>, KindError> {
    Ok(found(
        &format!("ListTagsForCertificate {arn}"),
        acm.list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await,
        &["ResourceNotFoundException"],
    )?
    .map(|out| tag_map(out.tags())))
}

pub(super) fn wanted_tags(cx: &Cx, wanted: &Wanted) -> Vec<(String, String)> {
    let mut t = cx.tags();
    if let Some(z) = &wanted.zone_id {
        t.push((VALIDATION_ZONE_TAG.to_string(), z.clone()));
    }
    t
}

/// The tagging calls of ACM certificates (by ARN).
struct AcmTagging<'a>(&'a aws_sdk_acm::Client);

#[async_trait]
impl Tagging for AcmTagging<'_> {
    async fn read(&self, arn: &str) -> Result<Option<Tags>, KindError> {
        cert_tags(self.0, arn).await
    }

    async fn add(&self, arn: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.0
            .add_tags_to_certificate()
            .certificate_arn(arn)
            .set_tags(Some(sdk_tags(pairs)?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTagsToCertificate {arn}"), e))?;
        Ok(())
    }
}

/// Adds our tags where they are missing or differ; refuses a certificate of
/// another tenant.
pub(super) async fn ensure_tags(cx: &Cx, arn: &str, wanted: &Wanted) -> Result<(), KindError> {
    tags::converge(
        &AcmTagging(&cx.backends.aws.acm),
        cx,
        &format!("certificate {arn}"),
        arn,
        wanted_tags(cx, wanted),
    )
    .await
}
