//! Talking to AWS, for every part of envctl that does (the kinds, the value
//! store, the reaper, preflight, hibernation): the clients made from one SDK
//! configuration ([`clients`]), who this installation is ([`identity`]), how
//! an SDK error is classified and worded ([`errors`]), and how buckets are
//! locked down ([`hardening`]).

pub mod clients;
pub mod errors;
pub mod hardening;
pub mod identity;

pub use clients::{AwsClients, MissingRegion};
pub use errors::{HttpStatus, classify, error_code};
