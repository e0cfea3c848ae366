//! The DB instance of `aws.rds.instance`: found, created or brought to the
//! wanted settings, and its outputs once RDS has assigned its endpoint.

use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;

use super::delete::FINAL_SNAPSHOT_TAG;
use super::groups::{RdsTags, ensure_parameter_group, ensure_subnet_group, same_ids};
use super::password::{PASSWORD_TAG, fingerprint};
use super::props::{Wanted, wanted, wanted_as};
use crate::kinds::aws::call::{carried, created, found};
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::refuse_foreign;
use crate::kinds::aws::tags::{converge, sdk_tags, tag_map};
use crate::kinds::{Cx, KindError, Outputs, Props};

/// How long the engine retries `apply` while RDS has not assigned the new
/// instance its endpoint (a few minutes into creation).
const ENDPOINT_WITHIN: Duration = Duration::from_secs(30 * 60);

pub(super) async fn describe(
    rds: &Client,
    identifier: &str,
) -> Result<Option<DbInstance>, KindError> {
    Ok(found(
        &format!("DescribeDBInstances {identifier}"),
        rds.describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await,
        &["DBInstanceNotFound"],
    )?
    .and_then(|out| out.db_instances().first().cloned()))
}

fn instance_tags(w: &Wanted, cx: &Cx) -> Vec<(String, String)> {
    let mut t = cx.tags();
    t.push((
        PASSWORD_TAG.to_string(),
        fingerprint(&w.identifier, &w.password),
    ));
    t.push((FINAL_SNAPSHOT_TAG.to_string(), w.final_snapshot.to_string()));
    t
}

async fn create_instance(rds: &Client, cx: &Cx, w: &Wanted) -> Result<DbInstance, KindError> {
    let id = &w.identifier;
    let what = format!("CreateDBInstance {id}");
    let answer = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .engine(&w.engine)
        .set_engine_version(w.engine_version.clone())
        .db_instance_class(&w.instance_class)
        .allocated_storage(w.allocated_storage)
        .db_name(&w.database)
        .master_username(&w.username)
        .master_user_password(w.password.expose())
        .db_subnet_group_name(id)
        .set_vpc_security_group_ids(
            (!w.security_groups.is_empty()).then(|| w.security_groups.clone()),
        )
        .set_db_parameter_group_name(w.parameters.as_ref().map(|_| id.clone()))
        .multi_az(w.multi_az)
        .deletion_protection(w.deletion_protection)
        .storage_encrypted(true)
        .publicly_accessible(false)
        // Snapshots (automated, manual and the final one) carry the
        // instance's tags, so they are found and attributed like it (RDS API
        // reference, CreateDBInstance CopyTagsToSnapshot).
        .copy_tags_to_snapshot(true)
        .set_tags(Some(sdk_tags(instance_tags(w, cx))?))
        .send()
        .await;
    let out = created(&what, answer, &["DBInstanceAlreadyExists"])?;
    carried(&what, out.db_instance().cloned(), "instance")
}

/// Brings an existing instance to the wanted settings: what cannot change
/// is an error, the rest goes into one ModifyDBInstance (applied at once).
async fn converge_instance(
    rds: &Client,
    cx: &Cx,
    w: &Wanted,
    i: &DbInstance,
) -> Result<(), KindError> {
    let id = &w.identifier;
    let arn = i
        .db_instance_arn()
        .ok_or_else(|| KindError::Permanent(format!("DB instance {id}: no ARN")))?;
    let have_tags = tag_map(i.tag_list());
    refuse_foreign(&format!("DB instance {id}"), &have_tags, cx)?;
    let status = i.db_instance_status().unwrap_or("unknown");
    if matches!(status, "deleting" | "deleted") {
        return Err(KindError::Transient(format!(
            "DB instance {id} is being deleted; it can be created again once it is gone"
        )));
    }
    let fixed = [
        ("engine", i.engine(), Some(w.engine.as_str())),
        ("database", i.db_name(), Some(w.database.as_str())),
        ("username", i.master_username(), Some(w.username.as_str())),
    ];
    for (what, have, want) in fixed {
        if let (Some(have), Some(want)) = (have, want)
            && !have.eq_ignore_ascii_case(want)
        {
            return Err(KindError::Permanent(format!(
                "DB instance {id} exists with {what} '{have}', not '{want}'; it cannot change: \
                 destroy the resource first (or set {what}: {have})"
            )));
        }
    }

    let mut m = rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true);
    let mut changes: Vec<&str> = Vec::new();
    if i.db_instance_class() != Some(w.instance_class.as_str()) {
        m = m.db_instance_class(&w.instance_class);
        changes.push("instance_class");
    }
    match i.allocated_storage() {
        Some(have) if have > w.allocated_storage => {
            return Err(KindError::Permanent(format!(
                "DB instance {id} has {have} GiB; allocated_storage {} would shrink it, which \
                 RDS cannot do",
                w.allocated_storage
            )));
        }
        Some(have) if have < w.allocated_storage => {
            m = m.allocated_storage(w.allocated_storage);
            changes.push("allocated_storage");
        }
        _ => {}
    }
    if i.multi_az().unwrap_or(false) != w.multi_az {
        m = m.multi_az(w.multi_az);
        changes.push("multi_az");
    }
    if i.copy_tags_to_snapshot() != Some(true) {
        m = m.copy_tags_to_snapshot(true);
        changes.push("copy_tags_to_snapshot");
    }
    if i.deletion_protection().unwrap_or(false) != w.deletion_protection {
        m = m.deletion_protection(w.deletion_protection);
        changes.push("deletion_protection");
    }
    if !w.security_groups.is_empty() {
        let have = i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id());
        if !same_ids(have, &w.security_groups) {
            m = m.set_vpc_security_group_ids(Some(w.security_groups.clone()));
            changes.push("security_group_ids");
        }
    }
    if w.parameters.is_some()
        && !i
            .db_parameter_groups()
            .iter()
            .any(|g| g.db_parameter_group_name() == Some(id.as_str()))
    {
        m = m.db_parameter_group_name(id);
        changes.push("parameters");
    }
    let wanted_tags = instance_tags(w, cx);
    let new_fingerprint = fingerprint(id, &w.password);
    if have_tags.get(PASSWORD_TAG) != Some(&new_fingerprint) {
        m = m.master_user_password(w.password.expose());
        changes.push("password");
    }
    if !changes.is_empty() {
        if status != "available" {
            return Err(KindError::Transient(format!(
                "DB instance {id} is {status}; {} will be changed once it is available",
                changes.join(", ")
            )));
        }
        m.send().await.map_err(|e| {
            classify(
                &format!("ModifyDBInstance {id} ({})", changes.join(", ")),
                e,
            )
        })?;
    }
    // The fingerprint tag follows the password only once it was sent.
    let tagging = RdsTags {
        rds,
        name: id,
        known: Some(&have_tags),
    };
    converge(&tagging, cx, &format!("DB instance {id}"), arn, wanted_tags).await
}

fn outputs(w: &Wanted, i: &DbInstance, host: &str, port: i32) -> Outputs {
    Outputs::new()
        .plain("host", host)
        .plain("port", port.to_string())
        .plain("database", i.db_name().unwrap_or(&w.database))
        .plain("username", i.master_username().unwrap_or(&w.username))
        .plain("arn", i.db_instance_arn().unwrap_or_default())
        .plain("identifier", &w.identifier)
        .plain("final_snapshot", w.final_snapshot.to_string())
}

pub(super) async fn apply(cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
    let w = wanted(cx, props)?;
    let existing = describe(&cx.backends.aws.rds, &w.identifier).await?;
    apply_wanted(cx, w, existing).await
}

/// Hands the warm-pool member `identifier` to `cx`'s tenant: the path of
/// a rerun's apply (converge the subnet group and the instance: the
/// tenant's tags, its password and security groups, applied at once). A
/// member that is gone is replaced by the tenant's own instance.
pub(super) async fn apply_member(
    cx: &Cx,
    props: &Props,
    identifier: &str,
) -> Result<Outputs, KindError> {
    let w = wanted_as(identifier, props)?;
    let Some(existing) = describe(&cx.backends.aws.rds, identifier).await? else {
        // Deleted behind envctl's back after the claim: the tenant gets its
        // own, as on a miss (a rerun comes here again and adopts that one).
        tracing::warn!(
            member = identifier,
            tenant = %cx.tenant,
            "the claimed pool member is gone; creating the tenant's own DB instance"
        );
        return apply(cx, props).await;
    };
    apply_wanted(cx, w, Some(existing)).await
}

async fn apply_wanted(
    cx: &Cx,
    w: Wanted,
    existing: Option<DbInstance>,
) -> Result<Outputs, KindError> {
    let rds = &cx.backends.aws.rds;
    let id = &w.identifier;
    // Another tenant's instance under our name: refuse before making
    // anything.
    if let Some(i) = &existing {
        refuse_foreign(&format!("DB instance {id}"), &tag_map(i.tag_list()), cx)?;
    }
    ensure_subnet_group(rds, cx, &w).await?;
    if let Some((family, values)) = &w.parameters {
        ensure_parameter_group(rds, cx, id, family, values).await?;
    }
    let instance = match existing {
        Some(i) => {
            converge_instance(rds, cx, &w, &i).await?;
            i
        }
        None => create_instance(rds, cx, &w).await?,
    };
    // RDS assigns the endpoint a few minutes into creation; the outputs need
    // it, so apply waits for it (the engine calls apply again, under its
    // progress and cancellation; everything above is idempotent), and
    // ready() then waits for `available`.
    let endpoint = |i: &DbInstance| {
        i.endpoint()
            .and_then(|e| Some((e.address()?.to_string(), e.port()?)))
    };
    if endpoint(&instance).is_none() {
        let status = instance.db_instance_status().unwrap_or("not visible yet");
        return Err(KindError::waiting(
            format!("DB instance {id} is {status}; RDS has not assigned its endpoint yet"),
            format!("RDS to assign DB instance {id} its endpoint"),
            ENDPOINT_WITHIN,
        ));
    }
    let (host, port) = endpoint(&instance).unwrap_or_default();
    Ok(outputs(&w, &instance, &host, port))
}
