//! `aws.rds.instance` in warm pools (`crate::pool`): a member is a DB
//! instance made by the kind's own apply under a pool context
//! (`envctl-pool-<hash>-<id>`, tagged `envctl:pool`, no tenant), with a
//! throwaway master password nobody keeps and the VPC's default security
//! group. A claim hands it to the tenant:
//!
//! - the tenant's tags on the instance and its subnet and parameter groups
//!   (AddTagsToResource), then `envctl:pool` removed from them
//!   (RemoveTagsFromResource; RDS API reference: "Removes metadata tags from
//!   an Amazon RDS resource");
//! - the tenant's master password and security groups in one
//!   ModifyDBInstance with `ApplyImmediately` (RDS API reference,
//!   ModifyDBInstance: `MasterUserPassword` "Changing this parameter doesn't
//!   result in an outage and the change is asynchronously applied as soon as
//!   possible. Between the time of the request and the completion of the
//!   request, the MasterUserPassword element exists in the
//!   PendingModifiedValues element of the operation response";
//!   `VpcSecurityGroupIds`, changed in place) — the converge path every
//!   rerun's apply takes, so a claim is as idempotent as an apply;
//! - readiness waits until the password applied: status `available` and no
//!   `PendingModifiedValues.MasterUserPassword` (see `super::Instance::ready`;
//!   terraform-provider-aws, internal/service/rds/instance.go, waits after
//!   a ModifyDBInstance through waitDBInstanceUpdated until `available`,
//!   with `resetting-master-credentials` and `modifying` among the pending
//!   states).

use std::time::Duration;

use async_trait::async_trait;

use super::groups::{subnet_group, untag};
use super::instance::{apply_member, describe};
use super::password::{raw_password, redact};
use super::props::MAX_NAME;
use crate::kinds::aws::classify;
use crate::kinds::{Cx, KindError, Outputs, Poolable, Props};
use crate::tenant::tags;

/// Properties applied at claim: the tenant's secret and its own groups.
const CLAIM_PROPS: &[&str] = &["password", "security_group_ids"];

pub(super) struct RdsPool;

#[async_trait]
impl Poolable for RdsPool {
    fn claim_props(&self) -> &'static [&'static str] {
        CLAIM_PROPS
    }

    /// A random 32-character password, replaced at claim and kept nowhere
    /// (not in the state, the journal or the value store).
    fn member_props(&self, props: &mut Props) -> Result<(), KindError> {
        let throwaway = crate::kinds::secret_password::generate(32, false)?;
        props.insert("password".into(), serde_json::Value::String(throwaway));
        props.remove("security_group_ids");
        Ok(())
    }

    /// The new master password applies asynchronously: status
    /// `resetting-master-credentials` for about a minute (AWS documents no
    /// figure; the realism layer's `rds_resetting_credentials`), plus the
    /// re-tagging and the security-group change, which apply at once.
    fn claim_expected(&self) -> Duration {
        Duration::from_secs(75)
    }

    fn physical_id(&self, out: &Outputs) -> String {
        out.get("identifier")
            .map(|v| v.expose().to_string())
            .unwrap_or_default()
    }

    fn member_outputs(&self, cx: &Cx, recorded: &Outputs) -> Outputs {
        let identifier = match recorded.get("identifier") {
            Some(v) => v.expose().to_string(),
            None => cx.physical_name(MAX_NAME),
        };
        Outputs::new()
            .plain("identifier", identifier)
            .plain("final_snapshot", "false")
    }

    async fn claim(&self, cx: &Cx, member: &Outputs, props: &Props) -> Result<Outputs, KindError> {
        let password = raw_password(props);
        claim(cx, member, props)
            .await
            .map_err(|e| redact(e, password.as_deref()))
    }
}

async fn claim(cx: &Cx, member: &Outputs, props: &Props) -> Result<Outputs, KindError> {
    let id = member.require("identifier")?;
    let outputs = apply_member(cx, props, id).await?;
    if outputs.get("identifier").map(|v| v.expose()) != Some(id) {
        return Ok(outputs); // the member was gone: the tenant's own instance
    }
    let rds = &cx.backends.aws.rds;
    let mut arns: Vec<String> = Vec::new();
    if let Some(i) = describe(rds, id).await?
        && let Some(arn) = i.db_instance_arn()
    {
        arns.push(arn.to_string());
        if i.db_parameter_groups()
            .iter()
            .any(|g| g.db_parameter_group_name() == Some(id))
        {
            let groups = rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(id)
                .send()
                .await
                .map_err(|e| classify(&format!("DescribeDBParameterGroups {id}"), e))?;
            arns.extend(
                groups
                    .db_parameter_groups()
                    .iter()
                    .filter_map(|g| g.db_parameter_group_arn().map(str::to_string)),
            );
        }
    }
    arns.extend(
        subnet_group(rds, id)
            .await?
            .and_then(|g| g.db_subnet_group_arn().map(str::to_string)),
    );
    for arn in arns {
        untag(rds, &arn, &[tags::POOL]).await?;
    }
    Ok(outputs)
}
