//! The stack: a tenant's infrastructure declared in YAML. This module owns the
//! model; `load` parses a file, `validate` checks it against the kinds, and
//! `refs` finds and substitutes `${id.output}` references.

pub mod builtins;
mod decode;
pub mod edges;
pub mod expand;
pub mod json_schema;
pub mod load;
mod locate;
pub mod model;
pub mod paths;
pub mod pooled;
mod problem;
pub mod public_names;
pub mod refs;
pub mod validate;

pub use builtins::Builtins;
pub use load::{
    Problem, StackError, load_file, load_file_in, load_str, load_str_in, load_str_with,
};
pub use model::{PoolSpec, Publish, Resource, Stack, Wait, WaitFrom};
pub use refs::{Ref, RefError, RefSyntaxError, references, substitute};
pub use validate::{Catalog, KindInfo, validate};
