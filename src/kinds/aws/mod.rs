//! AWS kinds and what they share: ownership by tags ([`owner`]), tag
//! convergence ([`tags`]), shared property shapes ([`props`]), call helpers
//! ([`call`]) and bounded polling ([`wait`]). The clients and the
//! classification of SDK errors live in [`crate::aws`] (the value store and
//! the reaper use them too) and are re-exported here for the kinds.

pub mod acm;
pub mod autoscaling;
pub mod call;
pub mod dns_name;
pub mod ec2_rules;
pub mod elb_classic;
pub mod elbv2;
pub mod eni_holders;
pub mod lambda;
pub mod network;
pub mod owner;
pub mod props;
pub mod rds;
pub mod route53_delegation;
pub mod route53_record;
pub mod route53_zone;
pub mod s3;
pub mod security_group;
pub mod sns;
pub mod sqs;
pub mod tags;
pub mod unanswered;
pub mod wait;

pub use crate::aws::{
    AwsClients, HttpStatus, MissingRegion, classify, error_code, errors, identity,
};
