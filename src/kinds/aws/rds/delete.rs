//! Deleting the DB instance of `aws.rds.instance`: the delete call (with a
//! final snapshot if asked), the wait until it is gone, and marking the
//! final snapshots as kept on purpose.

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::error::ProvideErrorMetadata;

use super::groups::RdsTags;
use super::instance::describe;
use crate::kinds::KindError;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::foreign_owner;
use crate::kinds::aws::tags::{Tagging, tag_map};
use crate::tenant::tags::KEPT as KEPT_TAG;

/// Tag holding whether deleting takes a final snapshot (for sweeps).
pub const FINAL_SNAPSHOT_TAG: &str = "envctl:final-snapshot";
/// Value of the `envctl:kept` tag on a final snapshot: left on purpose by a
/// destroy (data safety), not swept, not an orphan; deleted by hand.
pub const KEPT_FINAL_SNAPSHOT: &str = "final-snapshot";
/// How long a destroy waits, across attempts, for the instance to be gone
/// before its subnet and parameter groups can be deleted: terraform's
/// aws_db_instance allows 60 minutes to delete by default; a single-AZ
/// instance usually takes 5-10 minutes, a final snapshot adds its copy time.
const DELETE_WITHIN: Duration = Duration::from_secs(60 * 60);

pub(super) async fn delete_instance(
    rds: &Client,
    id: &str,
    final_snapshot: bool,
    tenant: &str,
) -> Result<(), KindError> {
    let Some(i) = describe(rds, id).await? else {
        return Ok(());
    };
    // Another tenant's instance under this name is not ours: ours is gone.
    if foreign_owner(&tag_map(i.tag_list()), tenant).is_some() {
        return Ok(());
    }
    if !matches!(i.db_instance_status(), Some("deleting" | "deleted")) {
        let mut call = rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .delete_automated_backups(true);
        call = if final_snapshot {
            let now = jiff::Timestamp::now().as_second();
            call.skip_final_snapshot(false)
                .final_db_snapshot_identifier(format!("{id}-final-{now}"))
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("DBInstanceNotFound") => return Ok(()),
            Err(e)
                if e.code() == Some("InvalidParameterCombination")
                    && e.message().is_some_and(|m| {
                        m.to_ascii_lowercase().contains("deletion protection")
                    }) =>
            {
                return Err(KindError::Permanent(format!(
                    "DB instance {id} has deletion protection; set deletion_protection: false \
                     and apply, then destroy"
                )));
            }
            // Busy (creating, modifying, backing up) or a snapshot name
            // taken this very second: try again shortly.
            Err(e)
                if matches!(
                    e.code(),
                    Some("InvalidDBInstanceState" | "DBSnapshotAlreadyExists")
                ) =>
            {
                return Err(KindError::Transient(format!(
                    "DeleteDBInstance {id}: {}",
                    e.message().unwrap_or("the instance is busy")
                )));
            }
            Err(e) => return Err(classify(&format!("DeleteDBInstance {id}"), e)),
        }
    }
    wait_gone(rds, id).await
}

/// Whether instance `id` is gone: DescribeDBInstances answers
/// DBInstanceNotFound (what terraform-provider-aws rds/instance.go
/// waitDBInstanceDeleted waits for). While it is not, a
/// [`KindError::Waiting`] naming its status: the engine calls `delete`
/// again (with backoff, under its progress and cancellation) until
/// [`DELETE_WITHIN`]. The subnet and parameter groups are deleted only
/// after this (deleting them earlier answers InvalidDBSubnetGroupStateFault).
async fn wait_gone(rds: &Client, id: &str) -> Result<(), KindError> {
    let Some(status) = describe(rds, id)
        .await?
        .map(|i| i.db_instance_status().unwrap_or("deleting").to_string())
    else {
        return Ok(());
    };
    Err(KindError::waiting(
        format!("DB instance {id} is still {status}"),
        format!("DB instance {id} to finish deleting"),
        DELETE_WITHIN,
    ))
}

/// Marks the final snapshots of instance `id` as kept on purpose: the
/// tenant's tags (copied from the instance by CopyTagsToSnapshot, given
/// again here for instances created before envctl set it) and
/// `envctl:kept=final-snapshot`, which the reaper's orphan detection and
/// the sweeps leave alone. DescribeDBSnapshots / AddTagsToResource (RDS API
/// reference; AddTagsToResource overwrites a key's value, so it is
/// idempotent).
pub(super) async fn keep_final_snapshots(
    rds: &Client,
    id: &str,
    tags: &[(String, String)],
) -> Result<(), KindError> {
    let prefix = format!("{id}-final-");
    let mut arns = Vec::new();
    let mut pages = rds
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .snapshot_type("manual")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("DescribeDBSnapshots {id}"), e))?;
        for snap in page.db_snapshots() {
            if snap
                .db_snapshot_identifier()
                .is_some_and(|s| s.starts_with(&prefix))
                && let Some(arn) = snap.db_snapshot_arn()
            {
                let have = tag_map(snap.tag_list());
                if have.get(KEPT_TAG).map(String::as_str) != Some(KEPT_FINAL_SNAPSHOT) {
                    arns.push(arn.to_string());
                }
            }
        }
    }
    let mut wanted = tags.to_vec();
    wanted.push((KEPT_TAG.to_string(), KEPT_FINAL_SNAPSHOT.to_string()));
    for arn in arns {
        let tagging = RdsTags {
            rds,
            name: &arn,
            known: None,
        };
        tagging.add(&arn, wanted.clone()).await?;
    }
    Ok(())
}
