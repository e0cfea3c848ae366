//! One client per AWS service, all made from one `SdkConfig`: the standard
//! AWS settings decide the endpoint, region and credentials, so the same
//! binary talks to moto or to AWS.

use super::identity;

/// One client per AWS service, all from one `SdkConfig`.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub acm: aws_sdk_acm::Client,
    pub route53: aws_sdk_route53::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    pub rds: aws_sdk_rds::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    /// Resource Groups Tagging API: finds (and re-tags) resources of any
    /// service by tag; the reaper's view of what carries a tenant's tags.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// CloudWatch Logs: the log groups of Lambda functions.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The account id (STS), looked up once per process.
    pub identity: identity::Identity,
    /// The configuration every client above was made from: whatever else
    /// talks to AWS for these backends (preflight's clients) uses the same
    /// endpoint, region and credentials.
    pub config: aws_config::SdkConfig,
}

impl AwsClients {
    /// Loads the standard configuration chain (`AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, credentials, profiles). S3 uses path-style addressing so
    /// that emulators on loopback work. Fails when no region is configured.
    pub async fn from_env() -> Result<Self, MissingRegion> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if config.region().is_none() {
            return Err(MissingRegion);
        }
        Ok(Self::from_config(&config))
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            acm: aws_sdk_acm::Client::new(config),
            route53: aws_sdk_route53::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            elb: aws_sdk_elasticloadbalancing::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            identity: identity::Identity::new(config),
            config: config.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS region is configured: set AWS_REGION (e.g. AWS_REGION=us-east-1), or a region in the AWS profile"
)]
pub struct MissingRegion;
