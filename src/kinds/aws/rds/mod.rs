//! The `aws.rds.instance` kind: an encrypted RDS DB instance per tenant
//! resource, in its own DB subnet group, optionally with its own DB
//! parameter group. The master password comes in as a property (a reference
//! to a `secret.password` resource) and never goes anywhere but the RDS API:
//! not into outputs, errors or tags. What the instance keeps of it is a
//! salted SHA-256 fingerprint in a tag, so a rerun can tell whether the
//! password changed (and then sets the new one) without ever reading it.
//!
//! This module holds the [`Kind`] impl (apply, ready, delete, sweep); the
//! jobs live in [`props`] (properties, their checks and the outputs),
//! [`password`] (keeping the password out of everything but the API),
//! [`groups`] (the DB subnet and parameter groups), [`instance`] (create
//! and converge the DB instance), [`delete`] (delete, final snapshots) and
//! [`pool`] (warm-pool members and their claim).

mod delete;
mod groups;
mod instance;
mod password;
mod pool;
mod props;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::classify;
use super::owner::swept_resource;
use super::tags::tag_map;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Poolable, Props, Readiness, SweepCx,
};

pub use delete::{FINAL_SNAPSHOT_TAG, KEPT_FINAL_SNAPSHOT};
pub use password::PASSWORD_TAG;

use delete::{delete_instance, keep_final_snapshots};
use groups::{delete_groups, tags_of};
use instance::{apply, describe};
use password::{raw_password, redact};
use props::{NAME, OUTPUTS, SCHEMA};

/// States a DB instance does not leave without someone's help (the SDK's
/// `db_instance_available` waiter fails on the first five as well).
const FAILED_STATES: &[&str] = &[
    "deleted",
    "deleting",
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "inaccessible-encryption-credentials",
];

pub struct Instance;

#[async_trait]
impl Kind for Instance {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "rds"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// A single-AZ PostgreSQL db.t3.micro with 20 GiB goes from CreateDBInstance
    /// to `available` in about 8 minutes (typical figure for AWS, passing
    /// through `creating` and `backing-up`; the RDS user guide's "Viewing
    /// Amazon RDS DB instance status" lists the states but no durations; the
    /// SDK's `db_instance_available` waiter polls every 30 s for up to 30
    /// min). Multi-AZ takes longer.
    fn expected(&self) -> Duration {
        Duration::from_secs(8 * 60)
    }

    /// Terraform's aws_db_instance allows 40 minutes to create by default.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(40 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let password = raw_password(props);
        apply(cx, props)
            .await
            .map_err(|e| redact(e, password.as_deref()))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let id = out.require("identifier")?;
        let Some(i) = describe(&cx.backends.aws.rds, id).await? else {
            return Ok(Readiness::Pending(format!(
                "DB instance {id} not visible yet"
            )));
        };
        // A new master password (a rerun's, or a pool member's claim) is
        // pending until RDS applied it (ModifyDBInstance, see `pool`).
        let password_pending = i
            .pending_modified_values()
            .is_some_and(|p| p.master_user_password().is_some());
        match i.db_instance_status().unwrap_or("unknown") {
            "available" if password_pending => Ok(Readiness::Pending(
                "available; the new master password is still being applied".into(),
            )),
            "available" => Ok(Readiness::Ready),
            s if FAILED_STATES.contains(&s) => Err(KindError::Permanent(format!(
                "DB instance {id} is {s}; it will not become available without help"
            ))),
            s => Ok(Readiness::Pending(s.to_string())),
        }
    }

    /// Deletes the instance (with a final snapshot if asked), waits until it
    /// is gone, then deletes its subnet group and parameter group.
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let id = out.require("identifier")?;
        let final_snapshot = out
            .get("final_snapshot")
            .is_some_and(|v| v.expose() == "true");
        let rds = &cx.backends.aws.rds;
        let tenant = cx.tenant.as_str();
        delete_instance(rds, id, final_snapshot, tenant).await?;
        if final_snapshot {
            keep_final_snapshots(rds, id, &cx.tags()).await?;
        }
        delete_groups(rds, id, tenant).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let rds = &cx.backends.aws.rds;
        let tenant = cx.tenant.as_str();
        // identifier → (resource id, final snapshot)
        let mut found: BTreeMap<String, (String, bool)> = BTreeMap::new();
        let mut pages = rds.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBInstances", e))?;
            for i in page.db_instances() {
                let t = tag_map(i.tag_list());
                if let (Some(id), Some(resource)) =
                    (i.db_instance_identifier(), swept_resource(tenant, &t))
                {
                    let final_snapshot = t.get(FINAL_SNAPSHOT_TAG).is_some_and(|v| v == "true");
                    found.insert(id.to_string(), (resource, final_snapshot));
                }
            }
        }
        // Groups left behind by a delete that stopped half-way. Ours are all
        // named envctl-…; only those need their tags read.
        let mut groups: Vec<(String, String)> = Vec::new();
        let mut pages = rds.describe_db_subnet_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBSubnetGroups", e))?;
            for g in page.db_subnet_groups() {
                if let (Some(name), Some(arn)) = (g.db_subnet_group_name(), g.db_subnet_group_arn())
                {
                    groups.push((name.to_string(), arn.to_string()));
                }
            }
        }
        let mut pages = rds.describe_db_parameter_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBParameterGroups", e))?;
            for g in page.db_parameter_groups() {
                if let (Some(name), Some(arn)) =
                    (g.db_parameter_group_name(), g.db_parameter_group_arn())
                {
                    groups.push((name.to_string(), arn.to_string()));
                }
            }
        }
        for (name, arn) in groups {
            if !name.starts_with("envctl-") || found.contains_key(&name) {
                continue;
            }
            if let Some(resource) = swept_resource(tenant, &tags_of(rds, &arn).await?) {
                found.insert(name, (resource, false));
            }
        }
        Ok(found
            .into_iter()
            .map(|(identifier, (resource_id, final_snapshot))| Found {
                resource_id,
                outputs: Outputs::new()
                    .plain("identifier", identifier)
                    .plain("final_snapshot", final_snapshot.to_string()),
            })
            .collect())
    }

    fn poolable(&self) -> Option<&dyn Poolable> {
        Some(&pool::RdsPool)
    }
}
