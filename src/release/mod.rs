//! Releases: what a tenant runs, recorded per successful create as a
//! revision ([`Snapshot`]: the stack's nodes and the catalog's services as
//! applied, no secret value), and what applying a stack now would change
//! against it ([`diff`]): per node create, update in place, replace or
//! delete, with the changed fields, like `terraform plan`. Which property
//! changes force a replacement, and which kinds hold data, is
//! [`immutable`]'s table; [`restore`] turns a revision back into a stack
//! for a rollback. Pure apart from reading the catalog files in
//! [`Snapshot::of`] and writing them back in [`restore::stack_of`].

pub mod diff;
pub mod drift;
pub mod immutable;
pub mod pin;
pub mod reapply;
pub mod restore;
pub mod rollout;
pub mod snapshot;

pub use diff::{Action, Diff, FieldChange, NodeChange, diff};
pub use snapshot::{SECRET_MARKER, Snapshot};

#[cfg(test)]
mod tests;
