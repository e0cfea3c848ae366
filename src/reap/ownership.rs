//! Who owns what: the pure decisions of the reaper. Given what the state says
//! about a tenant and what the cloud and the cluster carry (tags, labels),
//! which resources are lookalikes (never touched), and whether state and tags
//! disagree (the tenant is refused). Given every managed resource, which ones
//! are orphans. No I/O here, so every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::kinds::k8s::{LABEL_MANAGED, LABEL_TENANT};
use crate::tenant::{TenantName, tags};

/// Label the `k8s.namespace` kind puts on a namespace: the tenant's stack.
pub const LABEL_STACK: &str = "envctl/stack";

/// A cloud resource and its tags, as the Resource Groups Tagging API reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedResource {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

impl TaggedResource {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub fn is_managed(&self) -> bool {
        self.tag(tags::MANAGED) == Some("true")
    }
}

/// A namespace and its labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl NamespaceInfo {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub fn is_managed(&self) -> bool {
        self.label(LABEL_MANAGED) == Some("true")
    }

    fn managed_for(&self, tenant: &str) -> bool {
        self.is_managed() && self.label(LABEL_TENANT) == Some(tenant)
    }
}

/// A resource that carries a tenant's name but not `envctl:managed=true`
/// (`envctl/managed=true` for a namespace): it only looks like the tenant's;
/// the reaper never touches it and lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lookalike {
    pub tenant: String,
    /// An ARN, or `namespace/NAME`.
    pub resource: String,
    pub why: String,
}

/// What the state says about one tenant: the facts its resources must agree with.
#[derive(Clone, Debug)]
pub struct Expected {
    pub tenant: String,
    pub environment: String,
    pub stack: String,
    /// Namespaces the tenant's log records (outputs of its `k8s.namespace`
    /// nodes); destroy deletes these by name.
    pub namespaces: BTreeSet<String>,
    /// Whether the tenant's graph or log has a Kubernetes kind at all.
    pub uses_kubernetes: bool,
    /// ARNs the tenant's log records (outputs named `arn` or `*_arn`):
    /// destroy deletes these by what the log says, so they must still be the
    /// tenant's.
    pub logged_arns: BTreeMap<String, String>,
}

/// The verdict on one tenant's resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assessment {
    pub lookalikes: Vec<Lookalike>,
    /// Each names the resource and how state and tags disagree; any one of
    /// them refuses the tenant.
    pub conflicts: Vec<String>,
}

/// Decides about one tenant.
///
/// - `tagged`: every resource tagged `envctl:tenant=<tenant>`, managed or not;
/// - `logged`: the tags of the ARNs the log records that are not in `tagged`
///   (what the tagging API returns for them: a resource that is gone, or
///   carries no tag at all, is absent);
/// - `namespaces`: every namespace of the cluster, or `None` when no cluster
///   is configured.
pub fn assess(
    expected: &Expected,
    tagged: &[TaggedResource],
    logged: &[TaggedResource],
    namespaces: Option<&[NamespaceInfo]>,
) -> Assessment {
    let tenant = expected.tenant.as_str();
    let mut out = Assessment::default();
    let fix = format!(
        "check who owns it; if the tenant is really gone, remove it by hand (`envctl destroy tenant {tenant}` destroys what is tagged with it)"
    );

    // A resource a destroy kept on purpose (`envctl:kept`, an RDS final
    // snapshot) outlives the tenant's state by design: neither a lookalike
    // nor a conflict.
    for r in tagged
        .iter()
        .filter(|r| r.tag(tags::TENANT) == Some(tenant) && r.tag(tags::KEPT).is_none())
    {
        if !r.is_managed() {
            out.lookalikes.push(Lookalike {
                tenant: tenant.into(),
                resource: r.arn.clone(),
                why: format!(
                    "tagged {}={tenant} without {}=true",
                    tags::TENANT,
                    tags::MANAGED
                ),
            });
            continue;
        }
        for (key, want) in [
            (tags::ENVIRONMENT, expected.environment.as_str()),
            (tags::STACK, expected.stack.as_str()),
        ] {
            match r.tag(key) {
                Some(got) if got == want => {}
                Some(got) => out.conflicts.push(format!(
                    "{} is tagged {key}={got} but the state has tenant {tenant} with {key}={want}; {fix}",
                    r.arn
                )),
                None => out.conflicts.push(format!(
                    "{} is tagged {}={tenant} and {}=true but has no {key} tag (the state says {want}); {fix}",
                    r.arn,
                    tags::TENANT,
                    tags::MANAGED
                )),
            }
        }
    }

    for r in logged {
        let Some(node) = expected.logged_arns.get(&r.arn) else {
            continue;
        };
        let owner = r.tag(tags::TENANT);
        if owner != Some(tenant) || !r.is_managed() {
            out.conflicts.push(format!(
                "{} is recorded in the state as node '{node}' of tenant {tenant}, but is tagged {}={} and {}={}; {fix}",
                r.arn,
                tags::TENANT,
                owner.unwrap_or("(none)"),
                tags::MANAGED,
                r.tag(tags::MANAGED).unwrap_or("(none)"),
            ));
        }
    }

    match namespaces {
        None if expected.uses_kubernetes => out.conflicts.push(format!(
            "tenant {tenant} has Kubernetes resources but no cluster is configured, so its namespaces cannot be checked; set KUBECONFIG (or run in the cluster) and reap again"
        )),
        None => {}
        Some(all) => {
            for ns in all {
                let labelled_tenant = ns.label(LABEL_TENANT) == Some(tenant);
                let recorded = expected.namespaces.contains(&ns.name);
                let named_like = ns.name == tenant;
                if ns.managed_for(tenant) {
                    if let Some(stack) = ns.label(LABEL_STACK)
                        && stack != expected.stack
                    {
                        out.conflicts.push(format!(
                            "namespace/{} is labelled {LABEL_STACK}={stack} but the state has tenant {tenant} with stack {}; {fix}",
                            ns.name, expected.stack
                        ));
                    }
                    continue;
                }
                if recorded || (named_like && expected.uses_kubernetes) {
                    out.conflicts.push(format!(
                        "namespace/{} is {} tenant {tenant}'s in the state but lacks the labels {LABEL_MANAGED}=true and {LABEL_TENANT}={tenant}; {fix}",
                        ns.name,
                        if recorded { "recorded as" } else { "named like" }
                    ));
                } else if labelled_tenant || named_like {
                    out.lookalikes.push(Lookalike {
                        tenant: tenant.into(),
                        resource: format!("namespace/{}", ns.name),
                        why: if labelled_tenant {
                            format!("labelled {LABEL_TENANT}={tenant} without {LABEL_MANAGED}=true")
                        } else {
                            format!(
                                "named like the tenant, without the labels {LABEL_MANAGED}=true and {LABEL_TENANT}={tenant}"
                            )
                        },
                    });
                }
            }
        }
    }
    out
}

/// Managed resources of one tenant the state does not know (or knows as
/// destroyed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrphanGroup {
    /// The `envctl:tenant` tag (`envctl/tenant` label).
    pub tenant: String,
    /// The `envctl:environment` tags seen on its resources.
    pub environments: BTreeSet<String>,
    /// ARNs and `namespace/NAME`s.
    pub resources: Vec<String>,
}

impl OrphanGroup {
    /// Why this orphan may not be destroyed automatically (empty: it may).
    pub fn blockers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = TenantName::parse(&self.tenant) {
            out.push(format!(
                "its resources carry {}='{}', which is not a tenant name envctl makes ({e}); remove them by hand",
                tags::TENANT,
                self.tenant
            ));
        }
        if self.environments.len() > 1 {
            out.push(format!(
                "its resources disagree about {} ({}); remove them by hand, or with `envctl destroy tenant {} --environment ENV`",
                tags::ENVIRONMENT,
                self.environments
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                self.tenant
            ));
        }
        out
    }

    /// The environment to name in the destroy request, when the tags agree.
    pub fn environment(&self) -> Option<String> {
        match self.environments.len() {
            1 => self.environments.first().cloned(),
            _ => None,
        }
    }
}

/// Groups managed resources and namespaces by tenant and keeps the tenants
/// that are not in `live` (the state's tenants that are not destroyed).
/// Unmanaged resources are ignored: they are never envctl's to remove; so
/// are managed ones without a tenant tag (envctl's shared resources, such as
/// the value-store bucket, tagged `envctl:role=values`).
pub fn find_orphans(
    managed: &[TaggedResource],
    namespaces: &[NamespaceInfo],
    live: &BTreeSet<String>,
) -> Vec<OrphanGroup> {
    let mut groups: BTreeMap<String, OrphanGroup> = BTreeMap::new();
    // Kept on purpose (`envctl:kept`): not an orphan.
    for r in managed
        .iter()
        .filter(|r| r.is_managed() && r.tag(tags::KEPT).is_none())
    {
        // A warm-pool member no tenant claimed carries `envctl:pool` and no
        // tenant: nobody's orphan (`envctl pool drain` removes it).
        let Some(tenant) = r.tag(tags::TENANT) else {
            continue;
        };
        if live.contains(tenant) {
            continue;
        }
        let g = groups_entry(&mut groups, tenant);
        g.resources.push(r.arn.clone());
        if let Some(env) = r.tag(tags::ENVIRONMENT) {
            g.environments.insert(env.to_string());
        }
    }
    for ns in namespaces.iter().filter(|n| n.is_managed()) {
        let Some(tenant) = ns.label(LABEL_TENANT) else {
            continue;
        };
        if live.contains(tenant) {
            continue;
        }
        groups_entry(&mut groups, tenant)
            .resources
            .push(format!("namespace/{}", ns.name));
    }
    groups.into_values().collect()
}

fn groups_entry<'a>(
    groups: &'a mut BTreeMap<String, OrphanGroup>,
    tenant: &str,
) -> &'a mut OrphanGroup {
    groups
        .entry(tenant.to_string())
        .or_insert_with(|| OrphanGroup {
            tenant: tenant.to_string(),
            ..Default::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(arn: &str, t: &[(&str, &str)]) -> TaggedResource {
        TaggedResource {
            arn: arn.into(),
            tags: t
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn ours(arn: &str, tenant: &str) -> TaggedResource {
        res(
            arn,
            &[
                (tags::TENANT, tenant),
                (tags::MANAGED, "true"),
                (tags::ENVIRONMENT, "dev"),
                (tags::STACK, "basic"),
            ],
        )
    }

    fn ns(name: &str, labels: &[(&str, &str)]) -> NamespaceInfo {
        NamespaceInfo {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn expected(uses_kubernetes: bool) -> Expected {
        Expected {
            tenant: "acme".into(),
            environment: "dev".into(),
            stack: "basic".into(),
            namespaces: BTreeSet::new(),
            uses_kubernetes,
            logged_arns: BTreeMap::new(),
        }
    }

    #[test]
    fn agreeing_managed_resources_pass_and_unmanaged_ones_are_lookalikes() {
        let tagged = [
            ours("arn:aws:s3:::envctl-acme-a", "acme"),
            res("arn:aws:s3:::acme-lookalike", &[(tags::TENANT, "acme")]),
            res(
                "arn:aws:sqs:us-east-1:1:q",
                &[(tags::TENANT, "acme"), (tags::MANAGED, "false")],
            ),
        ];
        let a = assess(&expected(false), &tagged, &[], None);
        assert!(a.conflicts.is_empty(), "{:?}", a.conflicts);
        let resources: Vec<_> = a.lookalikes.iter().map(|l| l.resource.as_str()).collect();
        assert_eq!(
            resources,
            ["arn:aws:s3:::acme-lookalike", "arn:aws:sqs:us-east-1:1:q"]
        );
        assert!(a.lookalikes[0].why.contains("without envctl:managed=true"));
    }

    #[test]
    fn another_environment_stack_or_a_missing_tag_is_a_conflict_naming_the_resource() {
        let mut prod = ours("arn:aws:s3:::envctl-acme-a", "acme");
        prod.tags.insert(tags::ENVIRONMENT.into(), "prod".into());
        let mut other_stack = ours("arn:aws:sns:us-east-1:1:t", "acme");
        other_stack.tags.insert(tags::STACK.into(), "tenant".into());
        let mut untagged_env = ours("arn:aws:sqs:us-east-1:1:q", "acme");
        untagged_env.tags.remove(tags::ENVIRONMENT);
        let a = assess(
            &expected(false),
            &[prod, other_stack, untagged_env],
            &[],
            None,
        );
        assert_eq!(a.conflicts.len(), 3, "{:?}", a.conflicts);
        assert!(a.conflicts[0].contains("arn:aws:s3:::envctl-acme-a"));
        assert!(a.conflicts[0].contains("envctl:environment=prod"));
        assert!(a.conflicts[0].contains("envctl:environment=dev"));
        assert!(a.conflicts[1].contains("envctl:stack=tenant"));
        assert!(a.conflicts[2].contains("has no envctl:environment tag"));
    }

    #[test]
    fn a_logged_resource_now_tagged_for_someone_else_is_a_conflict() {
        let mut e = expected(false);
        e.logged_arns
            .insert("arn:aws:s3:::envctl-acme-a".into(), "uploads".into());
        e.logged_arns
            .insert("arn:aws:s3:::envctl-acme-b".into(), "exports".into());
        let logged = [
            ours("arn:aws:s3:::envctl-acme-a", "initech"),
            res("arn:aws:s3:::envctl-acme-b", &[(tags::TENANT, "acme")]),
            // Not in the log: not this check's business.
            ours("arn:aws:s3:::unrelated", "initech"),
        ];
        let a = assess(&e, &[], &logged, None);
        assert_eq!(a.conflicts.len(), 2, "{:?}", a.conflicts);
        assert!(a.conflicts[0].contains("node 'uploads'"));
        assert!(a.conflicts[0].contains("envctl:tenant=initech"));
        assert!(a.conflicts[1].contains("envctl:managed=(none)"));
    }

    #[test]
    fn namespaces_of_the_tenant_must_carry_its_labels() {
        let managed = [
            (LABEL_TENANT, "acme"),
            (LABEL_MANAGED, "true"),
            (LABEL_STACK, "basic"),
        ];
        let mut e = expected(true);
        e.namespaces.insert("team-acme".into());
        // Recorded in the log, labels gone: refuse.
        let a = assess(&e, &[], &[], Some(&[ns("team-acme", &[])]));
        assert_eq!(a.conflicts.len(), 1);
        assert!(a.conflicts[0].contains("namespace/team-acme is recorded as"));
        // Named like the tenant of a Kubernetes stack, unlabelled: refuse.
        let a = assess(&expected(true), &[], &[], Some(&[ns("acme", &[])]));
        assert!(a.conflicts[0].contains("namespace/acme is named like"));
        // Managed but for another stack: refuse.
        let a = assess(
            &expected(true),
            &[],
            &[],
            Some(&[ns(
                "acme",
                &[
                    (LABEL_TENANT, "acme"),
                    (LABEL_MANAGED, "true"),
                    (LABEL_STACK, "other"),
                ],
            )]),
        );
        assert!(a.conflicts[0].contains("envctl/stack=other"));
        // Properly labelled: fine.
        let a = assess(&e, &[], &[], Some(&[ns("team-acme", &managed)]));
        assert_eq!(a, Assessment::default());
    }

    #[test]
    fn unmanaged_namespaces_are_lookalikes_unless_the_tenant_owns_that_name() {
        let found = [
            ns("acme", &[]),
            ns("acme-copy", &[(LABEL_TENANT, "acme")]),
            ns("other", &[(LABEL_TENANT, "other"), (LABEL_MANAGED, "true")]),
        ];
        // An AWS-only tenant: destroy never touches namespaces it did not label.
        let a = assess(&expected(false), &[], &[], Some(&found));
        assert!(a.conflicts.is_empty(), "{:?}", a.conflicts);
        let names: Vec<_> = a.lookalikes.iter().map(|l| l.resource.as_str()).collect();
        assert_eq!(names, ["namespace/acme", "namespace/acme-copy"]);
    }

    #[test]
    fn without_a_cluster_only_a_kubernetes_tenant_is_refused() {
        assert!(
            assess(&expected(false), &[], &[], None)
                .conflicts
                .is_empty()
        );
        let a = assess(&expected(true), &[], &[], None);
        assert!(a.conflicts[0].contains("no cluster is configured"));
    }

    #[test]
    fn available_pool_members_are_nobodys_orphans() {
        let member = res(
            "arn:aws:rds:us-east-1:1:db:envctl-pool-1a2b3c4d-db",
            &[
                (tags::MANAGED, "true"),
                (tags::POOL, "tenant/db"),
                (tags::RESOURCE, "db"),
            ],
        );
        assert!(find_orphans(&[member], &[], &BTreeSet::new()).is_empty());
        // Once claimed it is its tenant's, an orphan when that tenant is gone.
        let claimed = res(
            "arn:aws:rds:us-east-1:1:db:envctl-pool-1a2b3c4d-db",
            &[(tags::MANAGED, "true"), (tags::TENANT, "acme")],
        );
        assert_eq!(find_orphans(&[claimed], &[], &BTreeSet::new()).len(), 1);
    }

    #[test]
    fn orphans_are_managed_resources_of_tenants_not_alive_in_the_state() {
        let managed = [
            ours("arn:1", "acme"),
            ours("arn:2", "gone"),
            ours("arn:3", "gone"),
            res("arn:4", &[(tags::TENANT, "lookalike")]),
            // envctl's shared value bucket: managed, no tenant.
            res(
                "arn:5",
                &[(tags::MANAGED, "true"), ("envctl:role", "values")],
            ),
            // A final snapshot the destroy of "gone" kept on purpose.
            res(
                "arn:6",
                &[
                    (tags::TENANT, "gone"),
                    (tags::MANAGED, "true"),
                    (tags::ENVIRONMENT, "dev"),
                    (tags::KEPT, "final-snapshot"),
                ],
            ),
        ];
        let namespaces = [
            ns("gone", &[(LABEL_TENANT, "gone"), (LABEL_MANAGED, "true")]),
            ns("acme", &[(LABEL_TENANT, "acme"), (LABEL_MANAGED, "true")]),
            ns("plain", &[(LABEL_TENANT, "plain")]),
        ];
        let live = BTreeSet::from(["acme".to_string()]);
        let orphans = find_orphans(&managed, &namespaces, &live);
        assert_eq!(
            orphans,
            [OrphanGroup {
                tenant: "gone".into(),
                environments: BTreeSet::from(["dev".to_string()]),
                resources: vec!["arn:2".into(), "arn:3".into(), "namespace/gone".into()],
            }]
        );
        assert!(orphans[0].blockers().is_empty());
        assert_eq!(orphans[0].environment().as_deref(), Some("dev"));
    }

    #[test]
    fn an_orphan_with_a_bad_name_or_mixed_environments_is_not_destroyed() {
        let bad = OrphanGroup {
            tenant: "Not_A_Tenant".into(),
            ..Default::default()
        };
        assert!(bad.blockers()[0].contains("not a tenant name"));
        let mixed = OrphanGroup {
            tenant: "acme".into(),
            environments: BTreeSet::from(["dev".to_string(), "prod".to_string()]),
            resources: vec!["arn:1".into()],
        };
        assert!(mixed.blockers()[0].contains("disagree about envctl:environment (dev, prod)"));
        assert_eq!(mixed.environment(), None);
    }
}
