//! The JSON API's handlers, one module per resource.

pub mod admin;
pub mod runs;
pub mod session;
pub mod tenants;
