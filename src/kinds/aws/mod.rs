//! AWS kinds and what they share: ownership by tags ([`owner`]), tag
//! convergence ([`tags`]), shared property shapes ([`props`]), call helpers
//! ([`call`]) and bounded polling ([`wait`]). The clients and the
//! classification of SDK errors live in [`crate::aws`] (the value store and
//! the reaper use them too) and are re-exported here for the kinds.

pub mod acm;
pub mod autoscaling;
pub mod call;
pub mod ec2;
pub mod elb;
pub mod lambda;
pub mod owner;
pub mod props;
pub mod rds;
pub mod route53;
pub mod s3;
pub mod sns;
pub mod sqs;
pub mod tags;
pub mod unanswered;
pub mod wait;

pub use crate::aws::{
    AwsClients, HttpStatus, MissingRegion, classify, error_code, errors, identity,
};
