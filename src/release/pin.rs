//! Pins: a tenant held at one revision. Rollouts skip a pinned tenant, and
//! `create` refuses it until it is unpinned; the pin itself is a row of the
//! state store.

/// Why a create of a pinned tenant is refused, and what to do.
pub fn refusal(tenant: &str, revision: i64) -> String {
    format!(
        "tenant {tenant} is pinned at revision {revision}: a create would change what it runs; \
         unpin it first with `envctl unpin tenant {tenant}` (see `envctl history tenant {tenant}`)"
    )
}
