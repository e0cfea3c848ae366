//! Test support for the end-to-end suites: a private moto server per test
//! binary on a free loopback port ([`moto`]), the test cluster's client
//! ([`cluster`]), the kinds' worlds and the
//! contract every kind keeps, the realism layer, and the ecosystem's API
//! tools ([`apitools`]: the OpenMetrics parser).
#![allow(dead_code)]

pub mod apitools;
pub mod cluster;
pub mod contract;
pub mod kinds;
pub mod moto;
pub mod rds;
pub mod realism;
pub mod sse;

pub use moto::{Moto, free_port, repo_root};
