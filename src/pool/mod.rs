//! Warm pools: members of a stack's slow resources (`pool: {size, max_age}`
//! on a resource; first `aws.rds.instance`) made ahead of demand, with
//! neutral names (`envctl-pool-<hash>-<id>`), tagged `envctl:managed=true`
//! and `envctl:pool=<stack>/<resource>` and belonging to no tenant; a
//! create claims one atomically through the state store (`state::pools`)
//! and the kind hands it to the tenant ([`crate::kinds::Poolable`]): the
//! tenant's tags, new secrets, the claim-time properties.
//!
//! How fill resolves a member's properties, without a tenant: literals and
//! `${envctl.*}` values as loaded; a reference to a network adopted
//! read-only (`aws.ec2.network` with `shared_from`, `vpc_id`, `subnet_ids`
//! or `vpc_name`) by adopting it under the pool's context, which creates
//! and tags nothing; the kind's claim-time properties
//! ([`crate::kinds::Poolable::claim_props`]) are left out and replaced by
//! [`crate::kinds::Poolable::member_props`]. The stack is checked for this
//! at load (`stack::pooled`). At claim the engine resolves every property
//! as for any node.
//!
//! This module holds the pure decisions (keys, fingerprints, what a fill
//! does); [`fill`] makes and deletes members, [`claim`] is the engine's side.

pub mod claim;
pub mod fill;
pub mod status;

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::kinds::kind_by_name;
use crate::stack::Resource;
use crate::state::{MemberStatus, PoolMember};

/// The pool of `resource` of stack `stack`: `<stack>/<resource>`.
pub fn key(stack: &str, resource: &str) -> String {
    format!("{stack}/{resource}")
}

/// The properties a member of `kind` leaves to the claim; `None` when the
/// kind cannot be pooled.
pub fn claim_props(kind: &str) -> Option<&'static [&'static str]> {
    kind_by_name(kind)
        .and_then(|k| k.poolable())
        .map(|p| p.claim_props())
}

/// The kinds that can be pooled, for messages.
pub fn poolable_kinds() -> Vec<&'static str> {
    crate::kinds::all_kinds()
        .iter()
        .filter(|k| k.poolable().is_some())
        .map(|k| k.name())
        .collect()
}

/// SHA-256 of what a member is made from: the kind and the properties as
/// written, without the claim-time ones. A member made from other
/// properties is never claimed, and fill replaces it.
pub fn fingerprint(resource: &Resource) -> String {
    let skip = claim_props(&resource.kind).unwrap_or(&[]);
    let props: std::collections::BTreeMap<&String, &serde_json::Value> = resource
        .properties
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect();
    let mut h = Sha256::new();
    h.update(resource.kind.as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_string(&props).expect("JSON values serialize"));
    hex::encode(h.finalize())
}

/// A fresh neutral member name, `pool-<8 hex>` (a valid tenant name, used
/// for physical names only).
pub fn member_name() -> String {
    format!("pool-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// What a fill does to one pool.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FillPlan {
    /// Members to delete: available ones past `max_age` or made from other
    /// properties, and ones a drain or replacement left `deleting`.
    pub retire: Vec<String>,
    /// Members a fill began and never finished (`creating`): made again
    /// (every apply adopts what exists).
    pub resume: Vec<String>,
    /// New members to make.
    pub create: usize,
}

/// The fill of a pool of `size` members from `fingerprint` that are at
/// most `max_age` old at `now`.
pub fn plan(
    members: &[PoolMember],
    size: u32,
    max_age: Duration,
    fingerprint: &str,
    now: jiff::Timestamp,
) -> FillPlan {
    let mut p = FillPlan::default();
    let mut good = 0usize;
    for m in members {
        let age = m
            .created_at
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| now.duration_since(t).try_into().ok())
            .unwrap_or(Duration::ZERO);
        match m.status {
            MemberStatus::Claimed => {}
            MemberStatus::Deleting => p.retire.push(m.member.clone()),
            MemberStatus::Creating if m.fingerprint == fingerprint => {
                p.resume.push(m.member.clone());
                good += 1;
            }
            MemberStatus::Available if m.fingerprint == fingerprint && age <= max_age => good += 1,
            MemberStatus::Creating | MemberStatus::Available => p.retire.push(m.member.clone()),
        }
    }
    p.create = (size as usize).saturating_sub(good);
    p
}

/// The members `drain` deletes: every one that is not a tenant's.
pub fn drained(members: &[PoolMember]) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.status != MemberStatus::Claimed)
        .map(|m| m.member.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, status: MemberStatus, fp: &str, created_at: &str) -> PoolMember {
        PoolMember {
            pool: "tenant/db".into(),
            member: name.into(),
            physical_id: String::new(),
            outputs: Default::default(),
            fingerprint: fp.into(),
            status,
            created_at: created_at.into(),
            claimed_by: None,
            claimed_at: None,
        }
    }

    const NOW: &str = "2026-12-07T00:00:00Z";
    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn fill_tops_up_to_size_counting_fresh_and_unfinished_members() {
        let members = [
            member("a", MemberStatus::Available, "fp", "2026-12-06T00:00:00Z"),
            member("b", MemberStatus::Creating, "fp", "2026-12-06T23:00:00Z"),
            member("c", MemberStatus::Claimed, "fp", "2026-12-01T00:00:00Z"),
        ];
        let p = plan(&members, 3, 7 * DAY, "fp", NOW.parse().unwrap());
        assert_eq!(
            p,
            FillPlan {
                retire: vec![],
                resume: vec!["b".into()],
                create: 1
            }
        );
    }

    #[test]
    fn members_past_max_age_or_of_other_properties_are_replaced() {
        let members = [
            member("old", MemberStatus::Available, "fp", "2026-11-20T00:00:00Z"),
            member(
                "other",
                MemberStatus::Available,
                "old-fp",
                "2026-12-06T00:00:00Z",
            ),
            member(
                "half",
                MemberStatus::Creating,
                "old-fp",
                "2026-12-06T00:00:00Z",
            ),
            member(
                "going",
                MemberStatus::Deleting,
                "fp",
                "2026-12-06T00:00:00Z",
            ),
            member("ok", MemberStatus::Available, "fp", "2026-12-06T00:00:00Z"),
        ];
        let p = plan(&members, 2, 7 * DAY, "fp", NOW.parse().unwrap());
        assert_eq!(p.retire, ["old", "other", "half", "going"]);
        assert_eq!(p.resume, Vec::<String>::new());
        assert_eq!(p.create, 1);
    }

    #[test]
    fn a_full_pool_needs_nothing_and_drain_spares_claimed_members() {
        let members = [
            member("a", MemberStatus::Available, "fp", "2026-12-06T00:00:00Z"),
            member("b", MemberStatus::Claimed, "fp", "2026-12-06T00:00:00Z"),
            member("c", MemberStatus::Creating, "fp", "2026-12-06T00:00:00Z"),
        ];
        let p = plan(&members, 1, 7 * DAY, "fp", NOW.parse().unwrap());
        assert_eq!(p.create, 0);
        assert_eq!(drained(&members), ["a", "c"]);
    }

    #[test]
    fn the_fingerprint_ignores_claim_time_properties_only() {
        let res = |props: serde_json::Value| Resource {
            id: "db".into(),
            kind: "aws.rds.instance".into(),
            properties: props.as_object().unwrap().clone(),
            depends_on: vec![],
            wait_for: vec![],
            publish: vec![],
            pool: None,
            line: 0,
        };
        let a = fingerprint(&res(serde_json::json!({
            "subnet_ids": "${network.subnet_ids}", "password": "${pw.value}"})));
        let b = fingerprint(&res(serde_json::json!({
            "subnet_ids": "${network.subnet_ids}", "password": "other",
            "security_group_ids": ["${sg.group_id}"]})));
        let c = fingerprint(&res(serde_json::json!({
            "subnet_ids": "${network.subnet_ids}", "instance_class": "db.t3.small"})));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(member_name().starts_with("pool-") && member_name().len() == 13);
        assert!(crate::tenant::TenantName::parse(&member_name()).is_ok());
    }
}
