//! AWS side of hibernation: stop and start a tenant's RDS instances, and
//! set its Auto Scaling groups to zero and back.
//!
//! RDS (API reference: StopDBInstance, StartDBInstance, DescribeDBInstances;
//! terraform-provider-aws internal/service/rds/instance_state.go and the
//! stopInstance/startInstance waits of instance.go): an instance stops only
//! from `available` and starts only from `stopped`; otherwise the call
//! answers InvalidDBInstanceState. `stopping` ends in `stopped`, `starting`
//! in `available`; other statuses (backing-up, modifying, ...) pass, so
//! they are waited out (terraform waits up to 30 minutes, as here). A
//! stopped instance is started by AWS itself after 7 days: `envctl serve`
//! stops it again ([`keep_stopped`]). Deleting a stopped instance is allowed
//! (DeleteDBInstance accepts `stopped`), so destroy and the reaper need no
//! wake first. moto stops and starts at once and enforces the two state
//! rules; the waits for the passing statuses are exercised on AWS only.
//!
//! Auto Scaling (API reference: UpdateAutoScalingGroup,
//! DescribeAutoScalingGroups; terraform-provider-aws
//! internal/service/autoscaling/group.go retries ScalingActivityInProgress
//! and ResourceContention on update): min and desired go to 0 (max stays),
//! and back to what was remembered.

use std::time::Duration;

use aws_sdk_autoscaling::error::ProvideErrorMetadata as _;

use super::plan::AsgSize;
use crate::aws::errors::describe;

/// An AWS error's code (to decide on) and its sentence (to show).
fn coded<E, R>(
    what: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> (Option<String>, String)
where
    E: aws_sdk_rds::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + crate::aws::HttpStatus,
{
    (e.code().map(str::to_string), describe(what, e))
}

/// How long an instance may take to stop or start (terraform's default).
pub const RDS_WITHIN: Duration = Duration::from_secs(30 * 60);
/// How often a status is read again while waiting.
const POLL: Duration = Duration::from_secs(2);

/// The instance's status, or `None` when it no longer exists.
async fn rds_status(rds: &aws_sdk_rds::Client, id: &str) -> Result<Option<String>, String> {
    match rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .db_instances()
            .first()
            .map(|i| i.db_instance_status().unwrap_or_default().to_string())),
        Err(e) if e.code() == Some("DBInstanceNotFound") => Ok(None),
        Err(e) => Err(describe(&format!("DescribeDBInstances {id}"), &e)),
    }
}

/// What one look at an instance says to do next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Done,
    Call,
    Wait,
}

/// Towards `stopped` (or `available` when `!stop`), from `status`.
fn next(status: &str, stop: bool) -> Next {
    match (status, stop) {
        ("stopped", true) | ("available", false) => Next::Done,
        ("available", true) | ("stopped", false) => Next::Call,
        _ => Next::Wait,
    }
}

/// Brings the instance to `stopped` (`stop`) or `available`, calling
/// StopDBInstance/StartDBInstance when its status allows and waiting out the
/// others, for at most `within`. A missing instance is done (a destroy got
/// there first).
pub async fn rds_to(
    rds: &aws_sdk_rds::Client,
    id: &str,
    stop: bool,
    within: Duration,
) -> Result<(), String> {
    let (goal, op) = if stop {
        ("stopped", "StopDBInstance")
    } else {
        ("available", "StartDBInstance")
    };
    let deadline = tokio::time::Instant::now() + within;
    let mut last = String::new();
    loop {
        let Some(status) = rds_status(rds, id).await? else {
            return Ok(());
        };
        match next(&status, stop) {
            Next::Done => return Ok(()),
            Next::Call => {
                let what = format!("{op} {id}");
                let sent = if stop {
                    let r = rds
                        .stop_db_instance()
                        .db_instance_identifier(id)
                        .send()
                        .await;
                    r.map(|_| ()).map_err(|e| coded(&what, &e))
                } else {
                    let r = rds
                        .start_db_instance()
                        .db_instance_identifier(id)
                        .send()
                        .await;
                    r.map(|_| ()).map_err(|e| coded(&what, &e))
                };
                match sent {
                    Ok(()) => {}
                    // The status changed between the look and the call:
                    // look again.
                    Err((Some(code), _)) if code == "InvalidDBInstanceState" => {}
                    Err((Some(code), _)) if code == "DBInstanceNotFound" => return Ok(()),
                    Err((_, message)) => return Err(message),
                }
            }
            Next::Wait => last = status,
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "DB instance {id} did not reach {goal} within {} (last status: {last}); run the command again to keep waiting",
                crate::budget::fmt_duration(within)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops again every instance of `ids` that is `available` (AWS starts a
/// stopped instance by itself after 7 days). Returns those it stopped.
pub async fn keep_stopped(
    rds: &aws_sdk_rds::Client,
    ids: &[String],
) -> Result<Vec<String>, String> {
    let mut restopped = Vec::new();
    for id in ids {
        if rds_status(rds, id).await?.as_deref() == Some("available") {
            // Don't wait for `stopped` here: the next pass looks again.
            match rds
                .stop_db_instance()
                .db_instance_identifier(id)
                .send()
                .await
            {
                Ok(_) => restopped.push(id.clone()),
                Err(e)
                    if matches!(
                        e.code(),
                        Some("InvalidDBInstanceState" | "DBInstanceNotFound")
                    ) => {}
                Err(e) => return Err(describe(&format!("StopDBInstance {id}"), &e)),
            }
        }
    }
    Ok(restopped)
}

/// The groups' sizes now; a group that no longer exists is left out.
pub async fn asg_sizes(
    asg: &aws_sdk_autoscaling::Client,
    names: &[String],
) -> Result<Vec<AsgSize>, String> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let out = asg
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| describe("DescribeAutoScalingGroups", &e))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .map(|g| AsgSize {
            name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
            min: g.min_size().unwrap_or(0),
            max: g.max_size().unwrap_or(0),
            desired: g.desired_capacity().unwrap_or(0),
        })
        .collect())
}

/// Sets a group's min and desired capacity (max as remembered), retrying
/// while a scaling activity or another update holds it (for at most a few
/// minutes).
pub async fn asg_resize(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
    min: i32,
    max: i32,
    desired: i32,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5 * 60);
    loop {
        match asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(min)
            .max_size(max)
            .desired_capacity(desired)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("ScalingActivityInProgress" | "ResourceContention")
                ) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(POLL).await;
            }
            Err(e)
                if e.code() == Some("ValidationError")
                    && e.message().is_some_and(|m| m.contains("not found")) =>
            {
                return Ok(());
            }
            Err(e) => {
                return Err(describe(
                    &format!(
                        "UpdateAutoScalingGroup {name} (min {min}, max {max}, desired {desired})"
                    ),
                    &e,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_and_start_call_only_from_their_states() {
        assert_eq!(next("available", true), Next::Call);
        assert_eq!(next("stopped", true), Next::Done);
        assert_eq!(next("stopping", true), Next::Wait);
        assert_eq!(next("backing-up", true), Next::Wait);
        assert_eq!(next("stopped", false), Next::Call);
        assert_eq!(next("available", false), Next::Done);
        assert_eq!(next("starting", false), Next::Wait);
        // Stopping must end before a start can be asked for.
        assert_eq!(next("stopping", false), Next::Wait);
    }
}
