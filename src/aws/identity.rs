//! Who this installation is on AWS: the account id (STS GetCallerIdentity),
//! looked up once per process and shared by every clone, and the region.
//! Names that must be unique beyond the account (S3 buckets) are built from
//! them ([`crate::kinds::aws::s3::bucket_names`]).

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::classify;
use crate::kinds::KindError;

/// The account id behind the configured credentials, cached for the process.
#[derive(Clone, Debug)]
pub struct Identity {
    sts: aws_sdk_sts::Client,
    account: Arc<OnceCell<String>>,
}

impl Identity {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(config),
            account: Arc::new(OnceCell::new()),
        }
    }

    /// The 12-digit account id. The first call asks STS GetCallerIdentity
    /// (STS API reference: "Returns details about the IAM user or role whose
    /// credentials are used to call the operation"; it needs no permission,
    /// "No permissions are required to perform this operation");
    /// terraform-provider-aws reads the account the same way at configure
    /// time (hashicorp/aws-sdk-go-base,
    /// `getAccountIDAndPartitionFromSTSGetCallerIdentity`). A
    /// failed call is not cached: the next caller asks again.
    pub async fn account_id(&self) -> Result<String, KindError> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| classify("GetCallerIdentity", e))?;
                out.account()
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        KindError::Permanent(
                            "GetCallerIdentity: the answer names no account id".into(),
                        )
                    })
            })
            .await
            .cloned()
    }

    /// The configured region, if any.
    pub fn region(&self) -> Option<String> {
        self.sts.config().region().map(|r| r.as_ref().to_string())
    }
}
