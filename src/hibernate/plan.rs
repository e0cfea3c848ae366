//! What hibernation touches and what it remembers, decided without I/O:
//! the tenant's namespaces, RDS instances and Auto Scaling groups found in
//! its journal; which statuses may hibernate or wake; and how a second
//! hibernation keeps the first one's memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::journal::{NodeRecord, NodeState};
use crate::lifecycle::TenantStatus;

/// The tenant's resources hibernation acts on, from its journal (the kinds'
/// plain outputs): never looked up by name or tag, so another tenant's
/// resources are never touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Namespaces whose Deployments and HPAs are scaled (k8s.namespace
    /// `name`, and the `namespace` of every k8s.service).
    pub namespaces: Vec<String>,
    /// RDS DB instance identifiers (aws.rds.instance `identifier`).
    pub rds: Vec<String>,
    /// Auto Scaling group names (aws.autoscaling.group `name`).
    pub asgs: Vec<String>,
}

impl Targets {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.rds.is_empty() && self.asgs.is_empty()
    }
}

/// The targets among the journal's live nodes (deleted or never-made ones
/// are left out).
pub fn targets(records: &BTreeMap<String, NodeRecord>) -> Targets {
    let mut t = Targets::default();
    for rec in records.values() {
        if matches!(rec.state, NodeState::Pending | NodeState::Deleted) {
            continue;
        }
        let out = |key: &str| rec.outputs.get(key).filter(|v| !v.is_empty()).cloned();
        match rec.kind.as_str() {
            "k8s.namespace" => t.namespaces.extend(out("name")),
            "k8s.service" => t.namespaces.extend(out("namespace")),
            "aws.rds.instance" => t.rds.extend(out("identifier")),
            "aws.autoscaling.group" => t.asgs.extend(out("name")),
            _ => {}
        }
    }
    for list in [&mut t.namespaces, &mut t.rds, &mut t.asgs] {
        list.sort();
        list.dedup();
    }
    t
}

/// A Deployment's replicas before hibernation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSize {
    pub namespace: String,
    pub name: String,
    pub replicas: i32,
}

/// An HPA removed by hibernation, kept whole (name, labels, annotations and
/// spec) so that wake applies it again as it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedHpa {
    pub namespace: String,
    pub name: String,
    /// The object as applied back (apiVersion, kind, metadata, spec).
    pub object: serde_json::Value,
}

/// An Auto Scaling group's sizes before hibernation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsgSize {
    pub name: String,
    pub min: i32,
    pub max: i32,
    pub desired: i32,
}

/// Everything wake needs to put back, stored as JSON in the state
/// (`hibernation_state.remembered_json`). Sizes and names only: no secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    #[serde(default)]
    pub deployments: Vec<DeploymentSize>,
    #[serde(default)]
    pub hpas: Vec<SavedHpa>,
    #[serde(default)]
    pub asgs: Vec<AsgSize>,
    /// RDS instances stopped by hibernation (started again by wake, and
    /// stopped again by `envctl serve` when AWS starts them after 7 days).
    #[serde(default)]
    pub rds: Vec<String>,
}

impl Remembered {
    /// What to remember after looking again at a tenant that may already be
    /// (partly) hibernated: what `self` (the earlier memory) holds wins, so a
    /// second hibernation never remembers the zeros the first one set; what
    /// only `now` saw is added.
    pub fn merged_with(mut self, now: Remembered) -> Remembered {
        for d in now.deployments {
            if !self
                .deployments
                .iter()
                .any(|k| k.namespace == d.namespace && k.name == d.name)
            {
                self.deployments.push(d);
            }
        }
        for h in now.hpas {
            if !self
                .hpas
                .iter()
                .any(|k| k.namespace == h.namespace && k.name == h.name)
            {
                self.hpas.push(h);
            }
        }
        for a in now.asgs {
            if !self.asgs.iter().any(|k| k.name == a.name) {
                self.asgs.push(a);
            }
        }
        for r in now.rds {
            if !self.rds.contains(&r) {
                self.rds.push(r);
            }
        }
        self
    }
}

/// The tenant statuses of hibernation.
pub const HIBERNATING: TenantStatus = TenantStatus::Hibernating;
pub const HIBERNATED: TenantStatus = TenantStatus::Hibernated;
pub const WAKING: TenantStatus = TenantStatus::Waking;

/// What a request to hibernate or wake does with a tenant in `status`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead (also when already done: the steps are idempotent and make
    /// sure everything is down, or up).
    Proceed,
    /// Nothing to do; the sentence says why.
    AlreadyDone(String),
    /// Refused; the sentence says why and what to do.
    Refuse(String),
}

/// May a tenant in `status` hibernate? Ready ones may; hibernating,
/// hibernated or waking ones make sure everything is down again (so a
/// second hibernate, or one after an interrupted wake, is safe).
pub fn may_hibernate(name: &str, status: TenantStatus) -> Decision {
    use TenantStatus::*;
    match status {
        Ready | Hibernating | Hibernated | Waking => Decision::Proceed,
        Creating | Failed | Interrupted | RolledBack => Decision::Refuse(format!(
            "tenant '{name}' is {status}; finish its create first (run `envctl create tenant {name}` again), then hibernate it"
        )),
        Destroying | Destroyed => Decision::Refuse(format!(
            "tenant '{name}' is {status}; there is nothing to hibernate"
        )),
        other => Decision::Refuse(format!(
            "tenant '{name}' is {other}; only a ready tenant can hibernate"
        )),
    }
}

/// May a tenant in `status` wake? Hibernated, hibernating (an interrupted
/// hibernation) and waking (an interrupted wake) ones may; a ready one has
/// nothing to do.
pub fn may_wake(name: &str, status: TenantStatus) -> Decision {
    match status {
        HIBERNATED | HIBERNATING | WAKING => Decision::Proceed,
        TenantStatus::Ready => {
            Decision::AlreadyDone(format!("tenant '{name}' is awake (ready) already"))
        }
        other => Decision::Refuse(format!(
            "tenant '{name}' is {other}, not hibernated; there is nothing to wake"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_from_live_nodes_outputs() {
        let mut r = BTreeMap::new();
        r.insert(
            "ns".into(),
            NodeRecord::example("k8s.namespace", NodeState::Succeeded, &[("name", "t-acme")]),
        );
        r.insert(
            "svc-a".into(),
            NodeRecord::example(
                "k8s.service",
                NodeState::Succeeded,
                &[("namespace", "t-acme"), ("deployment", "a")],
            ),
        );
        r.insert(
            "db".into(),
            NodeRecord::example(
                "aws.rds.instance",
                NodeState::Succeeded,
                &[("identifier", "acme-db")],
            ),
        );
        r.insert(
            "old-db".into(),
            NodeRecord::example(
                "aws.rds.instance",
                NodeState::Deleted,
                &[("identifier", "gone")],
            ),
        );
        r.insert(
            "web".into(),
            NodeRecord::example(
                "aws.autoscaling.group",
                NodeState::Succeeded,
                &[("name", "acme-web")],
            ),
        );
        r.insert(
            "bucket".into(),
            NodeRecord::example("aws.s3.bucket", NodeState::Succeeded, &[("name", "b")]),
        );
        let t = targets(&r);
        assert_eq!(t.namespaces, vec!["t-acme".to_string()]);
        assert_eq!(t.rds, vec!["acme-db".to_string()]);
        assert_eq!(t.asgs, vec!["acme-web".to_string()]);
    }

    #[test]
    fn a_second_hibernation_keeps_the_first_ones_sizes() {
        let first = Remembered {
            deployments: vec![DeploymentSize {
                namespace: "n".into(),
                name: "a".into(),
                replicas: 3,
            }],
            asgs: vec![AsgSize {
                name: "g".into(),
                min: 1,
                max: 4,
                desired: 2,
            }],
            rds: vec!["db".into()],
            hpas: vec![],
        };
        let now = Remembered {
            deployments: vec![
                DeploymentSize {
                    namespace: "n".into(),
                    name: "a".into(),
                    replicas: 0,
                },
                DeploymentSize {
                    namespace: "n".into(),
                    name: "b".into(),
                    replicas: 2,
                },
            ],
            asgs: vec![AsgSize {
                name: "g".into(),
                min: 0,
                max: 4,
                desired: 0,
            }],
            rds: vec!["db".into()],
            hpas: vec![],
        };
        let merged = first.merged_with(now);
        assert_eq!(merged.deployments[0].replicas, 3);
        assert_eq!(merged.deployments[1].name, "b");
        assert_eq!(
            merged.asgs,
            vec![AsgSize {
                name: "g".into(),
                min: 1,
                max: 4,
                desired: 2
            }]
        );
        assert_eq!(merged.rds, vec!["db".to_string()]);
    }

    #[test]
    fn statuses_that_may_hibernate_and_wake() {
        assert_eq!(may_hibernate("t", TenantStatus::Ready), Decision::Proceed);
        assert_eq!(may_hibernate("t", HIBERNATED), Decision::Proceed);
        assert!(
            matches!(may_hibernate("t", TenantStatus::Creating), Decision::Refuse(m) if m.contains("finish its create"))
        );
        assert!(matches!(
            may_hibernate("t", TenantStatus::Destroyed),
            Decision::Refuse(_)
        ));
        assert_eq!(may_wake("t", HIBERNATED), Decision::Proceed);
        assert_eq!(may_wake("t", WAKING), Decision::Proceed);
        assert!(matches!(
            may_wake("t", TenantStatus::Ready),
            Decision::AlreadyDone(_)
        ));
        assert!(matches!(
            may_wake("t", TenantStatus::Failed),
            Decision::Refuse(_)
        ));
    }
}
