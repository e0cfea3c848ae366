//! Re-applying a recorded revision through the normal create path, shared
//! by `envctl rollback tenant` and a rollout's automatic rollback: the
//! revision's content turned back into a stack (its catalogs written to a
//! scratch directory that lives as long as the [`Restored`]), with the
//! stack-wide settings (budget, timeouts, limits) of the stack file as it
//! is now, and the create request that applies it.

use std::path::{Path, PathBuf};

use crate::engine::CreateRequest;
use crate::stack::{Builtins, Stack};
use crate::state::{RevisionRow, StateError, StateStore};
use crate::tenant::TenantName;

use super::Snapshot;

/// A directory of this process, removed when dropped.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A revision made a stack again; keep it until its create has run (its
/// catalogs live in a scratch directory removed on drop).
pub struct Restored {
    pub stack: Stack,
    pub environment: String,
    _scratch: ScratchDir,
}

/// A revision's stored content, decoded.
pub fn content(row: &RevisionRow) -> Result<Snapshot, String> {
    Snapshot::from_json(&row.content_json).map_err(|e| {
        format!(
            "tenant {} revision {}: {e}; the state store may be from a newer envctl",
            row.tenant, row.revision
        )
    })
}

/// The stack-wide settings of a re-apply (budget, timeouts, limits,
/// expected durations): the stack file's at `path` as it is now, or the
/// defaults when it no longer loads.
pub fn settings(path: &Path, builtins: &Builtins) -> Stack {
    crate::stack::load_file_in(path, builtins).unwrap_or_else(|_| Stack {
        path: path.to_path_buf(),
        name: String::new(),
        environment: String::new(),
        budget: crate::stack::model::DEFAULT_BUDGET,
        ttl: None,
        expected: Default::default(),
        timeouts: Default::default(),
        limits: Default::default(),
        hibernate: None,
        resources: Vec::new(),
    })
}

/// Revision `row` as a stack to create. Refused (in words) when its
/// content cannot be decoded or held a secret literal.
pub fn restore(row: &RevisionRow, builtins: &Builtins) -> Result<Restored, String> {
    restore_as(&content(row)?, row, builtins)
}

/// `snap` — revision `row`'s content, or content derived from it (a
/// rollout's new catalog or tag) — as a stack to create, with the
/// stack-wide settings of `row`'s stack file.
pub fn restore_as(
    snap: &Snapshot,
    row: &RevisionRow,
    builtins: &Builtins,
) -> Result<Restored, String> {
    let scratch = ScratchDir(
        std::env::temp_dir().join(format!("envctl-reapply-{}", uuid::Uuid::new_v4().simple())),
    );
    let stack = super::restore::stack_of(
        snap,
        &settings(Path::new(&row.stack_path), builtins),
        &scratch.0,
    )
    .map_err(|e| {
        format!(
            "re-applying revision {} of tenant {}: {e}",
            row.revision, row.tenant
        )
    })?;
    Ok(Restored {
        stack,
        environment: row.environment.clone(),
        _scratch: scratch,
    })
}

/// The create request that applies `stack` to the existing `tenant`: its
/// expiry and owner stay (the revision is recorded as applied by the
/// owner), no rollback of its own (the caller decides what a failure
/// means).
pub async fn request(
    state: &StateStore,
    tenant: &TenantName,
    stack: Stack,
    environment: String,
) -> Result<CreateRequest, StateError> {
    let expires_at = state
        .tenant(tenant.as_str())
        .await?
        .and_then(|t| t.expires_at)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    Ok(CreateRequest {
        tenant: tenant.clone(),
        environment,
        budget: stack.budget,
        stack,
        expires_at,
        rollback_on_failure: false,
        owner: None,
        note: None,
        run_id: None,
    })
}
