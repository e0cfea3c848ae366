//! Talking to AWS, for every part of envctl that does (the kinds, the value
//! store, the reaper, preflight, hibernation): the clients made from one SDK
//! configuration ([`clients`]), who this installation is ([`identity`]), and
//! how an SDK error is classified and worded ([`errors`]).

pub mod clients;
pub mod errors;
pub mod identity;

pub use clients::{AwsClients, MissingRegion};
pub use errors::{HttpStatus, classify, error_code};
