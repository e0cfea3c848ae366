//! What still holds a security group, subnet or VPC when deleting it answers
//! DependencyViolation: the network interfaces that use it
//! (DescribeNetworkInterfaces filtered by `group-id`, `subnet-id` or
//! `vpc-id`, API reference), each put down to its owner — a load balancer, a
//! Lambda function, a database, an instance — so that the waiting message
//! says what is left ("2 network interfaces of ELB app/envctl-acme-alb/…"),
//! and a holder that is not the tenant's (someone's EC2 instance, another
//! tenant's load balancer in a shared network) fails at once with what to
//! do, instead of after 20 minutes of waiting.
//!
//! Why waiting is right otherwise: Elastic Load Balancing, Lambda and RDS
//! release their interfaces minutes after the resource is deleted (ELB User
//! Guide: the load balancer's network interfaces are deleted with it, not at
//! once; terraform-provider-aws `ec2/vpc_security_group.go` and
//! `vpc_subnet.go` retry DependencyViolation for the delete timeout, and
//! `lambda/function.go` documents ENIs lingering up to 45 min for Lambda).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};

use super::filter;
use crate::kinds::KindError;
use crate::kinds::aws::owner::tenant_of;
use crate::kinds::aws::tags::tag_map;
use crate::tenant::TenantName;

/// As long as [`crate::kinds::aws::errors`] waits for DependencyViolation.
const WITHIN: Duration = Duration::from_secs(20 * 60);

/// What a delete waits on: the filter DescribeNetworkInterfaces takes.
#[derive(Clone, Copy, Debug)]
pub enum Held<'a> {
    Group(&'a str),
    Subnet(&'a str),
    Vpc(&'a str),
}

impl Held<'_> {
    fn filter(&self) -> aws_sdk_ec2::types::Filter {
        match self {
            Held::Group(id) => filter("group-id", *id),
            Held::Subnet(id) => filter("subnet-id", *id),
            Held::Vpc(id) => filter("vpc-id", *id),
        }
    }

    fn id(&self) -> &str {
        match self {
            Held::Group(id) | Held::Subnet(id) | Held::Vpc(id) => id,
        }
    }
}

/// Who one interface belongs to, as far as its description, tags and
/// instance tell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// The tenant's (or being released by a deleted resource of the
    /// tenant's): waiting helps.
    Ours(String),
    /// Someone else's: waiting does not help.
    Foreign(String),
}

/// The facts about one interface that decide its owner.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub description: String,
    pub requester_managed: bool,
    pub available: bool,
    pub tags: BTreeMap<String, String>,
    /// The instance it is attached to, with that instance's tags and
    /// whether it is terminating.
    pub instance: Option<(String, BTreeMap<String, String>, bool)>,
}

/// The owner of one interface (pure; see the module documentation).
pub fn owner(f: &Facts, tenant: &TenantName) -> Owner {
    let prefix = format!("envctl-{}-", tenant.as_str());
    if let Some(t) = tenant_of(&f.tags) {
        return if t == tenant.as_str() {
            Owner::Ours(label(&f.description))
        } else {
            Owner::Foreign(format!("{} of tenant '{t}'", label(&f.description)))
        };
    }
    // "ELB app/<name>/<id>", "ELB net/<name>/<id>", "ELB <classic name>".
    if let Some(rest) = f.description.strip_prefix("ELB ") {
        let name = match rest.split('/').collect::<Vec<_>>().as_slice() {
            [_, name, _] => name.to_string(),
            _ => rest.to_string(),
        };
        let what = format!("ELB {rest}");
        return if name.starts_with(&prefix) {
            Owner::Ours(what)
        } else {
            Owner::Foreign(what)
        };
    }
    // "AWS Lambda VPC ENI-<function>-<uuid>".
    if let Some(rest) = f.description.strip_prefix("AWS Lambda VPC ENI-") {
        let what = format!(
            "Lambda function {}",
            rest.trim_end_matches(|c: char| c != '-')
        );
        let what = what.trim_end_matches('-').to_string();
        return if rest.starts_with(&prefix) {
            Owner::Ours(what)
        } else {
            Owner::Foreign(what)
        };
    }
    if let Some((id, itags, terminating)) = &f.instance {
        return match tenant_of(itags) {
            Some(t) if t == tenant.as_str() => Owner::Ours(format!("instance {id}")),
            _ if *terminating => Owner::Ours(format!("instance {id} (terminating)")),
            Some(t) => Owner::Foreign(format!("instance {id} of tenant '{t}'")),
            None => Owner::Foreign(format!("instance {id}")),
        };
    }
    // A service's interface we cannot name (a database's
    // "RDSNetworkInterface", say): it uses the tenant's group or subnet
    // because a resource of the tenant's asked it to; it goes with that
    // resource.
    if f.requester_managed {
        return Owner::Ours(label(&f.description));
    }
    // Made by hand (or by another tool), attached to nothing we know.
    Owner::Foreign(if f.available {
        format!("a detached {}", label(&f.description))
    } else {
        label(&f.description)
    })
}

fn label(description: &str) -> String {
    if description.is_empty() {
        "network interface without description".into()
    } else {
        format!("'{description}'")
    }
}

/// The interfaces that `held` still has, with their owners.
async fn holders(
    ec2: &aws_sdk_ec2::Client,
    tenant: &TenantName,
    held: Held<'_>,
) -> Result<Vec<(String, Owner)>, aws_sdk_ec2::Error> {
    let enis: Vec<NetworkInterface> = ec2
        .describe_network_interfaces()
        .filters(held.filter())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?;
    let instance_ids: BTreeSet<String> = enis
        .iter()
        .filter_map(|n| n.attachment()?.instance_id().map(str::to_string))
        .collect();
    let mut instances = BTreeMap::new();
    if !instance_ids.is_empty() {
        let out = ec2
            .describe_instances()
            .set_instance_ids(Some(instance_ids.into_iter().collect()))
            .send()
            .await?;
        for i in out.reservations().iter().flat_map(|r| r.instances()) {
            let Some(id) = i.instance_id() else { continue };
            let terminating = i
                .state()
                .and_then(|s| s.name())
                .is_some_and(|s| matches!(s.as_str(), "shutting-down" | "terminated" | "stopping"));
            instances.insert(id.to_string(), (tag_map(i.tags()), terminating));
        }
    }
    Ok(enis
        .iter()
        .map(|n| {
            let instance = n.attachment().and_then(|a| a.instance_id()).map(|id| {
                let (t, term) = instances.get(id).cloned().unwrap_or_default();
                (id.to_string(), t, term)
            });
            let facts = Facts {
                description: n.description().unwrap_or_default().to_string(),
                requester_managed: n.requester_managed() == Some(true),
                available: n.status() == Some(&NetworkInterfaceStatus::Available),
                tags: tag_map(n.tag_set()),
                instance,
            };
            (
                n.network_interface_id().unwrap_or("?").to_string(),
                owner(&facts, tenant),
            )
        })
        .collect())
}

/// "2 network interfaces of ELB app/x/1, 1 of instance i-1".
fn summary(owners: &[&str]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in owners {
        *counts.entry(o).or_default() += 1;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, (o, n))| {
            let noun = match (i, *n) {
                (0, 1) => "network interface",
                (0, _) => "network interfaces",
                _ => "",
            };
            if noun.is_empty() {
                format!("{n} of {o}")
            } else {
                format!("{n} {noun} of {o}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a DependencyViolation on `held`: permanent, naming them,
/// when interfaces that are not the tenant's hold it; waiting, naming what
/// is left, otherwise. `message` is the classified AWS answer; `other` says
/// what else may hold it when no interface does (e.g. "another group's
/// rules").
pub async fn dependency_violation(
    ec2: &aws_sdk_ec2::Client,
    tenant: &TenantName,
    held: Held<'_>,
    message: String,
    other: &str,
) -> KindError {
    let found = match holders(ec2, tenant, held).await {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "DescribeNetworkInterfaces for {}", held.id());
            return KindError::waiting(
                message,
                format!("what still uses {} to be released", held.id()),
                WITHIN,
            );
        }
    };
    decide(&found, tenant, held, message, other)
}

fn decide(
    found: &[(String, Owner)],
    tenant: &TenantName,
    held: Held<'_>,
    message: String,
    other: &str,
) -> KindError {
    let foreign: Vec<&str> = found
        .iter()
        .filter_map(|(_, o)| match o {
            Owner::Foreign(w) => Some(w.as_str()),
            Owner::Ours(_) => None,
        })
        .collect();
    if !foreign.is_empty() {
        let ids: Vec<&str> = found
            .iter()
            .filter(|(_, o)| matches!(o, Owner::Foreign(_)))
            .map(|(id, _)| id.as_str())
            .collect();
        let (is, them) = if foreign.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        return KindError::Permanent(format!(
            "{message}; held by {} ({}), which {is} not tenant '{tenant}''s, so waiting would \
             not help: delete {them} or move {them} off {}, then run destroy again",
            summary(&foreign),
            ids.join(", "),
            held.id()
        ));
    }
    let ours: Vec<&str> = found
        .iter()
        .filter_map(|(_, o)| match o {
            Owner::Ours(w) => Some(w.as_str()),
            Owner::Foreign(_) => None,
        })
        .collect();
    if ours.is_empty() {
        return KindError::waiting(
            message,
            format!("{other} to let go of {}", held.id()),
            WITHIN,
        );
    }
    let left = summary(&ours);
    KindError::waiting(
        format!("{message}; still attached: {left}"),
        format!("{left} to be released"),
        WITHIN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::tags;

    fn acme() -> TenantName {
        TenantName::parse("acme").unwrap()
    }

    fn eni(description: &str) -> Facts {
        Facts {
            description: description.into(),
            requester_managed: true,
            ..Facts::default()
        }
    }

    #[test]
    fn load_balancer_interfaces_are_told_apart_by_the_tenant_prefix() {
        assert_eq!(
            owner(&eni("ELB app/envctl-acme-alb/50dc6c495c0c9188"), &acme()),
            Owner::Ours("ELB app/envctl-acme-alb/50dc6c495c0c9188".into())
        );
        assert!(matches!(
            owner(&eni("ELB app/envctl-beta-alb/1"), &acme()),
            Owner::Foreign(_)
        ));
        assert!(matches!(
            owner(&eni("ELB envctl-acme-web"), &acme()),
            Owner::Ours(_)
        ));
        assert!(matches!(
            owner(
                &eni("AWS Lambda VPC ENI-envctl-acme-thumbnailer-1f2e"),
                &acme()
            ),
            Owner::Ours(_)
        ));
        assert!(matches!(
            owner(&eni("RDSNetworkInterface"), &acme()),
            Owner::Ours(_)
        ));
    }

    #[test]
    fn someone_elses_instance_or_hand_made_interface_is_foreign() {
        let mut f = Facts {
            description: "Primary network interface".into(),
            instance: Some(("i-1".into(), BTreeMap::new(), false)),
            ..Facts::default()
        };
        assert_eq!(owner(&f, &acme()), Owner::Foreign("instance i-1".into()));
        f.instance = Some((
            "i-1".into(),
            BTreeMap::from([(tags::TENANT.to_string(), "acme".to_string())]),
            false,
        ));
        assert!(matches!(owner(&f, &acme()), Owner::Ours(_)));
        f.instance = Some(("i-2".into(), BTreeMap::new(), true));
        assert!(
            matches!(owner(&f, &acme()), Owner::Ours(_)),
            "terminating goes away"
        );
        let hand = Facts {
            description: "my debug eni".into(),
            available: true,
            ..Facts::default()
        };
        assert!(matches!(owner(&hand, &acme()), Owner::Foreign(_)));
    }

    #[test]
    fn the_message_names_what_is_left_or_fails_early_for_foreign_holders() {
        let lb = Owner::Ours("ELB app/envctl-acme-alb/5".into());
        let e = decide(
            &[("eni-1".into(), lb.clone()), ("eni-2".into(), lb)],
            &acme(),
            Held::Group("sg-1"),
            "DeleteSecurityGroup sg-1: DependencyViolation: resource sg-1 has a dependent object"
                .into(),
            "another group's rules",
        );
        let KindError::Waiting {
            message,
            waiting_for,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert!(
            message.ends_with("still attached: 2 network interfaces of ELB app/envctl-acme-alb/5"),
            "{message}"
        );
        assert_eq!(
            waiting_for,
            "2 network interfaces of ELB app/envctl-acme-alb/5 to be released"
        );
        let e = decide(
            &[("eni-9".into(), Owner::Foreign("instance i-9".into()))],
            &acme(),
            Held::Subnet("subnet-1"),
            "DeleteSubnet subnet-1: DependencyViolation: x".into(),
            "",
        );
        let KindError::Permanent(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.contains(
                "held by 1 network interface of instance i-9 (eni-9), which is not tenant \
                 'acme''s, so waiting would not help: delete it or move it off subnet-1"
            ),
            "{m}"
        );
    }
}
