//! envctl: a single-tenant environment provisioner. `create` stands up a
//! tenant's stack (AWS resources, environment values, later Kubernetes) as a
//! dependency graph inside a time budget; `destroy` removes all of it.

pub mod aws;
pub mod blueprint;
pub mod budget;
pub mod cli;
pub mod cost;
pub mod engine;
pub mod envapi;
pub mod error_text;
pub mod graph;
pub mod hibernate;
pub mod journal;
pub mod kinds;
pub mod lifecycle;
pub mod pool;
pub mod preflight;
pub mod reap;
pub mod release;
pub mod secret;
pub mod serve;
pub mod stack;
pub mod state;
pub mod suggest;
pub mod tenant;
pub mod ttl;
