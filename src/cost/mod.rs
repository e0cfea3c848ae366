//! What a tenant costs: a dated price table (`prices/`), the estimate of
//! each resource of a stack from it, running and hibernated, the cost
//! accrued since creation over hibernated periods, the views and per-owner
//! totals that the CLI, the API and the page show — and the tenant's public
//! URLs, read with the same per-tenant facts.

pub mod accrual;
pub mod book;
pub mod estimate;
pub mod links;
pub mod prices;
pub mod pricing;
pub mod view;

pub use book::{CostBook, TenantCost};
pub use estimate::{Estimate, Line};
pub use links::TenantUrl;
pub use prices::{PriceError, PriceTable};
pub use view::{CostView, OwnerCost};
