//! The `aws.lambda.function` kind: a Lambda function from a local source
//! directory (zipped deterministically, so the same source gives the same
//! CodeSha256 and no needless update), its IAM execution role
//! `<name>-role`, its log group `/aws/lambda/<name>` ([`logs`]),
//! and optionally an SQS event source mapping.
//!
//! This module holds the [`Kind`] impl (apply, ready, delete, sweep); the
//! jobs live in [`props`] (properties, their checks and the outputs),
//! [`package`] (the zip), [`role`] (the IAM execution role), [`function`]
//! (the function and its event source mapping), [`logs`] (the log
//! group) and [`tagging`] (the role's and the function's tag calls).

mod function;
mod logs;
mod package;
mod props;
mod role;
mod tagging;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{LastUpdateStatus, State};

use super::call::found;
use super::classify;
use super::owner::swept_resource;
use super::tags::Tagging;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use function::{delete_mapping, ensure_function, ensure_mapping, function_config, mappings};
use package::build_package;
use props::{FunctionProps, NAME, OUTPUTS, SCHEMA};
use role::{ROLE_SUFFIX, delete_role, ensure_role, role_name_of_arn};
use tagging::{FunctionTagging, RoleTagging};

/// Function names are at most 64 characters.
const MAX_NAME: usize = 64;

pub struct Function;

#[async_trait]
impl Kind for Function {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "lambda"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// ~10 s: CreateRole answers at once but IAM changes are eventually
    /// consistent (IAM user guide, troubleshooting: "Changes that I make are
    /// not always immediately visible"), during which CreateFunction is
    /// refused and retried; a zip function then goes Pending -> Active,
    /// usually within seconds (Lambda developer guide, "Lambda function
    /// states"). An estimate for the budget's default.
    fn expected(&self) -> Duration {
        Duration::from_secs(10)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: FunctionProps = parse_props(props)?;
        let spec = p.spec()?;
        // Package first: a bad source fails before anything is created.
        let zip = build_package(&spec.source).await?;
        let name = cx.physical_name(MAX_NAME);
        let role_arn = ensure_role(cx, &spec).await?;
        // Before the function exists, so that its first run logs into a
        // tagged group with a retention.
        let log_group = logs::ensure(cx, &name, spec.log_retention_days).await?;
        let (arn, sha) = ensure_function(cx, &name, &spec, &role_arn, zip).await?;
        let mapping =
            ensure_mapping(&cx.backends.aws.lambda, &name, spec.queue_arn.as_deref()).await?;
        let mut out = Outputs::new()
            .plain("arn", arn)
            .plain("name", name)
            .plain("role_arn", role_arn)
            .plain("log_group", log_group)
            .plain("code_sha256", sha);
        if let Some(id) = mapping {
            out = out.plain("event_source_mapping_id", id);
        }
        Ok(out)
    }

    /// Ready when the function is Active with its last update Successful
    /// (GetFunctionConfiguration) and its event source mapping, if any, is
    /// Enabled. A Failed state or update is permanent, with Lambda's reason.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let lambda = &cx.backends.aws.lambda;
        let name = out.require("name")?;
        let Some(c) = function_config(lambda, name).await? else {
            return Ok(Readiness::Pending(format!(
                "function {name} not visible yet"
            )));
        };
        match c.state() {
            Some(State::Active) => {}
            Some(State::Failed) => {
                return Err(KindError::Permanent(format!(
                    "function {name} failed: {}",
                    c.state_reason().unwrap_or("no reason given")
                )));
            }
            other => {
                return Ok(Readiness::Pending(format!(
                    "function {name} is {}",
                    other.map_or("in no state yet", |s| s.as_str())
                )));
            }
        }
        match c.last_update_status() {
            Some(LastUpdateStatus::Successful) => {}
            Some(LastUpdateStatus::Failed) => {
                return Err(KindError::Permanent(format!(
                    "function {name}: the last update failed: {}",
                    c.last_update_status_reason().unwrap_or("no reason given")
                )));
            }
            other => {
                return Ok(Readiness::Pending(format!(
                    "function {name}: update {}",
                    other.map_or("status unknown", |s| s.as_str())
                )));
            }
        }
        if let Some(id) = out.get("event_source_mapping_id") {
            let id = id.expose();
            let answer = lambda.get_event_source_mapping().uuid(id).send().await;
            let what = format!("GetEventSourceMapping {id}");
            match found(&what, answer, &["ResourceNotFoundException"])? {
                Some(m) if m.state() == Some("Enabled") => {}
                Some(m) => {
                    return Ok(Readiness::Pending(format!(
                        "event source mapping {id} is {}",
                        m.state().unwrap_or("in no state yet")
                    )));
                }
                None => {
                    return Ok(Readiness::Pending(format!(
                        "event source mapping {id} not visible yet"
                    )));
                }
            }
        }
        Ok(Readiness::Ready)
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let lambda = &cx.backends.aws.lambda;
        let name = out.get("name").map(|v| v.expose().to_string());
        let role = out
            .get("role_arn")
            .map(|v| role_name_of_arn(v.expose()).to_string());
        if name.is_none() && role.is_none() {
            return Err(KindError::Permanent(
                "output 'name' (or 'role_arn') is missing".into(),
            ));
        }
        if let Some(name) = &name {
            for (id, _) in mappings(lambda, name).await? {
                delete_mapping(lambda, &id).await?;
            }
            match lambda.delete_function().function_name(name).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                Err(e) if e.code() == Some("ResourceConflictException") => {
                    return Err(KindError::Transient(format!(
                        "DeleteFunction {name}: an update is in progress"
                    )));
                }
                Err(e) => return Err(classify(&format!("DeleteFunction {name}"), e)),
            }
            // After the function: nothing writes to it any more.
            logs::delete(&cx.backends.aws.logs, name).await?;
        }
        if let Some(role) = &role {
            delete_role(&cx.backends.aws.iam, role).await?;
        }
        Ok(())
    }

    /// Functions and roles are found by name prefix (`envctl-<tenant>-`;
    /// neither API filters by tag) and kept when tagged with this tenant and
    /// managed. A role without its function (a run that crashed in between)
    /// is found too.
    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let lambda = &cx.backends.aws.lambda;
        let iam = &cx.backends.aws.iam;
        let prefix = format!("envctl-{}-", cx.tenant.as_str());
        let mut by_resource: BTreeMap<String, Outputs> = BTreeMap::new();

        let mut functions = Vec::new();
        let mut items = lambda.list_functions().into_paginator().items().send();
        while let Some(f) = items.next().await {
            let f = f.map_err(|e| classify("ListFunctions", e))?;
            if let (Some(name), Some(arn)) = (f.function_name(), f.function_arn())
                && name.starts_with(&prefix)
            {
                functions.push((
                    name.to_string(),
                    arn.to_string(),
                    f.role().unwrap_or_default().to_string(),
                ));
            }
        }
        for (name, arn, role) in functions {
            let Some(t) = FunctionTagging(lambda).read(&arn).await? else {
                continue;
            };
            let Some(resource_id) = swept_resource(cx.tenant.as_str(), &t) else {
                continue;
            };
            let mut out = Outputs::new().plain("name", name).plain("arn", arn);
            if !role.is_empty() {
                out = out.plain("role_arn", role);
            }
            by_resource.insert(resource_id, out);
        }

        // Log groups whose function is gone (a delete that stopped between
        // the two): delete() takes the function name and finds no function.
        for (function, resource_id) in
            logs::find(&cx.backends.aws.logs, &prefix, cx.tenant.as_str()).await?
        {
            by_resource
                .entry(resource_id)
                .or_insert_with(|| Outputs::new().plain("name", function));
        }

        let mut roles = Vec::new();
        let mut items = iam.list_roles().into_paginator().items().send();
        while let Some(r) = items.next().await {
            let r = r.map_err(|e| classify("ListRoles", e))?;
            if r.role_name().starts_with(&prefix) && r.role_name().ends_with(ROLE_SUFFIX) {
                roles.push((r.role_name().to_string(), r.arn().to_string()));
            }
        }
        let mut seen_roles: BTreeSet<String> = by_resource
            .values()
            .filter_map(|o| o.get("role_arn").map(|r| r.expose().to_string()))
            .collect();
        for (name, arn) in roles {
            if seen_roles.contains(&arn) {
                continue;
            }
            let Some(t) = RoleTagging(iam).read(&name).await? else {
                continue;
            };
            let Some(resource_id) = swept_resource(cx.tenant.as_str(), &t) else {
                continue;
            };
            seen_roles.insert(arn.clone());
            by_resource
                .entry(resource_id)
                .and_modify(|o| *o = o.clone().plain("role_arn", arn.clone()))
                .or_insert_with(|| Outputs::new().plain("role_arn", arn));
        }
        Ok(by_resource
            .into_iter()
            .map(|(resource_id, outputs)| Found {
                resource_id,
                outputs,
            })
            .collect())
    }
}
