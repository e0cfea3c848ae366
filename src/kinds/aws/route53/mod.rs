//! Route 53: the hosted zone and record kinds, the delegation of a zone from
//! its parent, the Route 53 calls they and the certificate kind share
//! ([`api`]), and domain names as Route 53 and ACM take them ([`dns_name`]).

pub mod api;
pub mod delegation;
pub mod dns_name;
pub mod record;
pub mod zone;
