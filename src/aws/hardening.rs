//! How every S3 bucket envctl makes is locked down, in one place for the
//! `aws.s3.bucket` kind and the value store: default encryption with
//! S3-managed keys (SSE-S3) and all four public-access blocks. These are
//! what AWS applies to new buckets since 2023 (S3 User Guide, "Blocking
//! public access to your Amazon S3 storage" and "Setting default
//! server-side encryption behavior"); envctl sets them explicitly so an
//! adopted or older bucket converges too.

use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

/// Default encryption with SSE-S3 (AES256), for PutBucketEncryption.
pub fn default_encryption() -> ServerSideEncryptionConfiguration {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .expect("the SSE algorithm, the builder's one required field, is set");
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .expect("the rules, the builder's one required field, are set")
}

/// Every public-access block on, for PutPublicAccessBlock.
pub fn private_access() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_encrypted_and_closed_to_the_public() {
        let rules = default_encryption();
        let algorithm = rules.rules()[0]
            .apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().clone());
        assert_eq!(algorithm, Some(ServerSideEncryption::Aes256));
        let access = private_access();
        assert_eq!(
            [
                access.block_public_acls(),
                access.ignore_public_acls(),
                access.block_public_policy(),
                access.restrict_public_buckets()
            ],
            [Some(true); 4]
        );
    }
}
