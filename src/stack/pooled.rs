//! The rules of `pool:` on a resource, checked at load: only a kind that
//! can be pooled ([`crate::kinds::Poolable`]), and properties a member can
//! be made from without a tenant — literals, `${envctl.*}` values (already
//! substituted at load) and references to a network adopted read-only
//! (`aws.ec2.network` with `shared_from`, `vpc_id`, `subnet_ids` or
//! `vpc_name`, none of them a reference) — except the kind's claim-time
//! properties, which the claim applies (see `crate::pool`).

use super::load::{Problem, Seg};
use super::model::Stack;
use super::refs;
use super::validate::At;
use crate::kinds::aws::ec2::network::ADOPTING_PROPS;

const NETWORK_KIND: &str = "aws.ec2.network";

/// Whether resource `id` of `stack` is known without a tenant: a network
/// adopted read-only by literal properties.
fn shared_network(stack: &Stack, id: &str) -> bool {
    stack.resource(id).is_some_and(|r| {
        r.kind == NETWORK_KIND
            && ADOPTING_PROPS.iter().any(|p| r.properties.contains_key(*p))
            && r.properties
                .values()
                .all(|v| refs::references(v).is_ok_and(|found| found.is_empty()))
    })
}

/// Every problem of the stack's `pool:` settings.
pub(crate) fn check(stack: &Stack, at: &At) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, r) in stack.resources.iter().enumerate() {
        if r.pool.is_none() {
            continue;
        }
        let subject = Some(format!("resource '{}'", r.id));
        let Some(claimed) = crate::pool::claim_props(&r.kind) else {
            problems.push(Problem::new(
                at(Some(i), &[Seg::Key("pool")]),
                subject,
                format!(
                    "pool: kind {} cannot be pooled (kinds that can: {}); remove `pool:`",
                    r.kind,
                    crate::pool::poolable_kinds().join(", ")
                ),
            ));
            continue;
        };
        for (name, value) in &r.properties {
            if claimed.contains(&name.as_str()) {
                continue;
            }
            let Ok(found) = refs::references(value) else {
                continue; // a malformed reference is validate's to report
            };
            for f in found.iter().filter(|f| !shared_network(stack, &f.resource)) {
                problems.push(Problem::new(
                    at(Some(i), &[Seg::Key("properties"), Seg::Key(name)]),
                    subject.clone(),
                    format!(
                        "property '{name}' of a pooled resource references {f}, which a pool \
                         member cannot know without a tenant: a pooled resource may reference \
                         only ${{envctl.*}} values and networks adopted with shared_from (or \
                         vpc_id, subnet_ids, vpc_name), except its claim-time properties ({}); \
                         adopt a shared network (see stacks/shared-network.yaml), write a \
                         literal, or remove `pool:`",
                        claimed.join(", ")
                    ),
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::stack::load_str;

    const FILE: &str = "stacks/pooled.yaml";

    /// A pooled database on a shared network; `{network}` and `{pool}`
    /// are replaced by the cases (line 5: the network's properties, line
    /// 15: the database's `pool:`).
    const STACK: &str = "\
stack: pooled
resources:
  - id: network
    kind: aws.ec2.network
    properties: {network}
  - id: db-sg
    kind: aws.ec2.security_group
    properties: { vpc_id: '${network.vpc_id}', description: db }
  - id: db-password
    kind: secret.password
    publish:
      - { output: value, key: DB_PASSWORD, level: tenant, secret: true }
  - id: db
    kind: aws.rds.instance
    {pool}
    properties:
      instance_class: db.t3.micro
      subnet_ids: ${network.subnet_ids}
      password: ${db-password.value}
      security_group_ids: [ '${db-sg.group_id}' ]
";

    fn stack(network: &str, pool: &str) -> String {
        STACK.replace("{network}", network).replace("{pool}", pool)
    }

    fn err(text: &str) -> String {
        load_str(Path::new(FILE), text).unwrap_err().to_string()
    }

    #[test]
    fn a_pooled_database_on_a_shared_network_loads_with_claim_time_references() {
        let s = load_str(
            Path::new(FILE),
            &stack(
                "{ shared_from: shared-dev/network }",
                "pool: { size: 2, max_age: 3d }",
            ),
        )
        .unwrap();
        let p = s.resource("db").unwrap().pool.clone().unwrap();
        assert_eq!((p.size, p.max_age), (2, Duration::from_secs(3 * 86400)));
        let s = load_str(
            Path::new(FILE),
            &stack("{ vpc_id: vpc-123 }", "pool: { size: 1 }"),
        )
        .unwrap();
        assert_eq!(
            s.resource("db").unwrap().pool.as_ref().unwrap().max_age,
            crate::stack::model::DEFAULT_POOL_MAX_AGE
        );
    }

    #[test]
    fn a_pooled_resource_referencing_a_tenant_value_is_refused_at_its_line() {
        let msg = err(&stack("{ cidr: 10.0.0.0/16 }", "pool: { size: 2 }"));
        assert!(
            msg.contains("stacks/pooled.yaml:18: resource 'db': property 'subnet_ids' of a pooled resource references ${network.subnet_ids}"),
            "{msg}"
        );
        assert!(msg.contains("shared_from"), "{msg}");
        assert!(msg.contains("password, security_group_ids"), "{msg}");
        assert!(
            !msg.contains("'password'"),
            "the claim-time password is allowed: {msg}"
        );
    }

    #[test]
    fn a_pool_on_a_kind_that_cannot_be_pooled_names_the_kinds_that_can() {
        let text =
            "stack: s\nresources:\n  - id: q\n    kind: aws.sqs.queue\n    pool: { size: 2 }\n";
        let msg = err(text);
        assert!(
            msg.contains("stacks/pooled.yaml:5: resource 'q': pool: kind aws.sqs.queue cannot be pooled (kinds that can: aws.rds.instance); remove `pool:`"),
            "{msg}"
        );
    }

    #[test]
    fn bad_pool_settings_say_what_to_write() {
        let shared = "{ shared_from: shared-dev/network }";
        for (pool, want) in [
            (
                "pool: { size: 0 }",
                "pool.size is 0; write a whole number from 1 to 50",
            ),
            ("pool: { size: many }", "pool.size is many"),
            ("pool: { max_age: 7d }", "pool has no size; add `size: N`"),
            (
                "pool: { size: 2, max_age: soon }",
                "pool.max_age 'soon' is not a duration",
            ),
            ("pool: { size: 2, ttl: 7d }", "unknown field 'ttl' in pool"),
            (
                "pool: 2",
                "pool is a number; write a mapping such as `pool: {size: 2, max_age: 7d}`",
            ),
        ] {
            let msg = err(&stack(shared, pool));
            assert!(msg.contains(want), "{pool}: {msg}");
            assert!(msg.contains("stacks/pooled.yaml:15"), "{pool}: {msg}");
        }
    }
}
