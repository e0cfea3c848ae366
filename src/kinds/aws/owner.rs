//! Who an AWS resource belongs to, read from its tags: the one ownership
//! rule of every AWS kind. A resource is a tenant's when its
//! `envctl:tenant` tag names it; envctl manages it when `envctl:managed` is
//! `true` as well. Another tenant's resource is never adopted, changed or
//! deleted; an untagged one is adopted (and tagged) only by a create that
//! finds it under the name it would have made.

use std::collections::BTreeMap;

use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

/// A resource's tags, as every AWS kind reads them.
pub type Tags = BTreeMap<String, String>;

/// The tenant a resource is tagged with, if any.
pub fn tenant_of(t: &Tags) -> Option<&str> {
    t.get(tags::TENANT).map(String::as_str)
}

/// The tenant a resource is tagged with, when that is not `tenant`: delete
/// leaves such a resource alone (it is not ours, so ours is gone).
pub fn foreign_owner<'a>(t: &'a Tags, tenant: &str) -> Option<&'a str> {
    tenant_of(t).filter(|owner| *owner != tenant)
}

/// Whether `t` marks a resource of `tenant` that envctl manages.
pub fn managed_by(t: &Tags, tenant: &str) -> bool {
    tenant_of(t) == Some(tenant) && t.get(tags::MANAGED).map(String::as_str) == Some("true")
}

/// The `envctl:resource` id of a resource `tenant`'s envctl manages: what a
/// sweep reports; `None` for anything else.
pub fn swept_resource(tenant: &str, t: &Tags) -> Option<String> {
    managed_by(t, tenant)
        .then(|| t.get(tags::RESOURCE).cloned())
        .flatten()
}

/// Refuses `what` (e.g. `bucket acme-exports`) when its tags name another
/// tenant than `cx`'s: the sentence says whose it is and what to do.
pub fn refuse_foreign(what: &str, t: &Tags, cx: &Cx) -> Result<(), KindError> {
    match foreign_owner(t, cx.tenant.as_str()) {
        Some(owner) => Err(foreign(what, owner)),
        None => Ok(()),
    }
}

/// The error for `what`, found to be tenant `owner`'s.
pub fn foreign(what: &str, owner: &str) -> KindError {
    KindError::Permanent(format!(
        "{what} exists but belongs to tenant '{owner}' (tag {}); refusing to adopt it: give \
         this resource another id, or destroy tenant '{owner}' first",
        tags::TENANT
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_resource_is_managed_by_the_tenant_its_tags_name_with_managed_true() {
        let ours = tagged(&[
            (tags::TENANT, "acme"),
            (tags::MANAGED, "true"),
            (tags::RESOURCE, "db"),
        ]);
        assert!(managed_by(&ours, "acme"));
        assert_eq!(swept_resource("acme", &ours).as_deref(), Some("db"));
        // A prefix-sharing tenant is another tenant.
        assert!(!managed_by(&ours, "acm"));
        assert_eq!(swept_resource("acme-2", &ours), None);
        // Named but not managed: a lookalike.
        let lookalike = tagged(&[(tags::TENANT, "acme"), (tags::RESOURCE, "db")]);
        assert!(!managed_by(&lookalike, "acme"));
        assert_eq!(swept_resource("acme", &lookalike), None);
    }

    #[test]
    fn only_another_tenants_tag_makes_a_foreign_owner() {
        let theirs = tagged(&[(tags::TENANT, "globex")]);
        assert_eq!(foreign_owner(&theirs, "acme"), Some("globex"));
        assert_eq!(foreign_owner(&theirs, "globex"), None);
        assert_eq!(foreign_owner(&Tags::new(), "acme"), None);
        let message = foreign("bucket x", "globex").to_string();
        assert!(message.contains("belongs to tenant 'globex'"), "{message}");
        assert!(
            message.contains("destroy tenant 'globex' first"),
            "{message}"
        );
    }
}
