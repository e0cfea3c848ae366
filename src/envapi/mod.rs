//! The environment-value store (env-api): the S3 key layout of DESIGN.md,
//! precedence of the three levels, and (in `store`) reading and writing them.
//!
//! ```text
//! <environment>/<tenant>/<service>/<KEY>   one service of one tenant
//! <environment>/<tenant>/common/<KEY>      every service of one tenant
//! <environment>/common/<KEY>               every tenant of an environment
//! ```

pub mod layout;
pub mod store;

pub use layout::{EnvKey, KeyError, Level, check_environment, merge, valid_key_name};
pub use store::{StoreError, ValueStore};
