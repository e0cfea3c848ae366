//! The Lambda function of `aws.lambda.function` and its SQS event source
//! mapping: created, adopted (tags), updated (configuration, code) and the
//! mapping kept to exactly the one wanted.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime, State,
};

use super::package::code_sha256;
use super::props::Spec;
use super::tagging::FunctionTagging;
use crate::kinds::aws::call::found;
use crate::kinds::aws::tags::converge;
use crate::kinds::aws::wait::poll_until;
use crate::kinds::aws::{HttpStatus, classify, errors};
use crate::kinds::{Cx, KindError};

/// How long `apply` waits for an update in progress before changing the
/// function again (Lambda refuses concurrent updates).
const UPDATE_WAIT: Duration = Duration::from_secs(90);

/// The function's configuration; `None` when it does not exist.
pub(super) async fn function_config(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<FunctionConfiguration>, KindError> {
    Ok(found(
        &format!("GetFunction {name}"),
        lambda.get_function().function_name(name).send().await,
        &["ResourceNotFoundException"],
    )?
    .and_then(|f| f.configuration().cloned()))
}

/// Lambda refuses to create a function with a role it cannot assume yet;
/// right after CreateRole that is IAM propagation (seconds), not a mistake.
fn role_not_ready(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("cannot be assumed") || (m.contains("role") && m.contains("permission"))
    })
}

/// Waits while the function is Pending or an update is InProgress (a
/// settle between two calls of one apply: Lambda refuses an update while
/// another runs; terraform-provider-aws lambda/function.go waits for
/// `LastUpdateStatus` Successful the same way).
async fn wait_idle(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<FunctionConfiguration, KindError> {
    let idle = poll_until(UPDATE_WAIT, || async {
        let c = function_config(lambda, name)
            .await?
            .ok_or_else(|| KindError::Transient(format!("function {name} is not visible yet")))?;
        let busy = c.state() == Some(&State::Pending)
            || c.last_update_status() == Some(&LastUpdateStatus::InProgress);
        Ok((!busy).then_some(c))
    })
    .await?;
    idle.ok_or_else(|| {
        KindError::Transient(format!(
            "function {name} is still busy with an earlier change"
        ))
    })
}

fn update_error<E, R>(what: &str, e: aws_sdk_lambda::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    match e.code() {
        // Another update is running: the engine retries.
        Some("ResourceConflictException") => {
            KindError::Transient(format!("{what}: an update is in progress"))
        }
        // IAM propagation: terraform-provider-aws (internal/service/lambda/
        // function.go, retryFunctionOp) retries exactly these
        // InvalidParameterValueException messages ("The role defined for the
        // function cannot be assumed by Lambda", "The provided execution role
        // does not have permissions") for its propagation timeout (2 min).
        Some("InvalidParameterValueException") if role_not_ready(e.message()) => {
            KindError::waiting(
                errors::describe(what, &e),
                "the new IAM role to become assumable by Lambda (IAM propagation)",
                Duration::from_secs(2 * 60),
            )
        }
        _ => classify(what, e),
    }
}

/// Whether the deployed configuration differs from `spec`.
fn config_differs(c: &FunctionConfiguration, spec: &Spec, role_arn: &str) -> bool {
    let env: HashMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    c.runtime().map(|r| r.as_str()) != Some(spec.runtime.as_str())
        || c.handler() != Some(spec.handler.as_str())
        || c.memory_size() != Some(spec.memory_mb)
        || c.timeout() != Some(spec.timeout_seconds)
        || c.role() != Some(role_arn)
        || env != spec.environment
}

/// Creates the function, or brings the existing one to `spec`. Returns its
/// ARN and deployed CodeSha256.
pub(super) async fn ensure_function(
    cx: &Cx,
    name: &str,
    spec: &Spec,
    role_arn: &str,
    zip: Vec<u8>,
) -> Result<(String, String), KindError> {
    let lambda = &cx.backends.aws.lambda;
    let sha = code_sha256(&zip);
    let our_tags: HashMap<String, String> = cx
        .tags()
        .into_iter()
        .chain([("Name".to_string(), name.to_string())])
        .collect();
    let environment = Environment::builder()
        .set_variables(Some(spec.environment.clone()))
        .build();
    let Some(existing) = function_config(lambda, name).await? else {
        let out = lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .role(role_arn)
            .handler(&spec.handler)
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_seconds)
            .environment(environment)
            .description(format!("envctl {}/{}", cx.tenant, cx.resource_id))
            .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
            .set_tags(Some(our_tags))
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("ResourceConflictException") => KindError::Transient(format!(
                    "CreateFunction {name}: created meanwhile; adopting it"
                )),
                _ => update_error(&format!("CreateFunction {name}"), e),
            })?;
        let arn = out.function_arn().unwrap_or_default().to_string();
        return Ok((arn, out.code_sha256().unwrap_or(&sha).to_string()));
    };
    let arn = existing.function_arn().unwrap_or_default().to_string();
    let function = format!("Lambda function {name}");
    converge(&FunctionTagging(lambda), cx, &function, &arn, our_tags).await?;
    let mut current = existing;
    if config_differs(&current, spec, role_arn) {
        wait_idle(lambda, name).await?;
        lambda
            .update_function_configuration()
            .function_name(name)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .role(role_arn)
            .handler(&spec.handler)
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_seconds)
            .environment(environment)
            .send()
            .await
            .map_err(|e| update_error(&format!("UpdateFunctionConfiguration {name}"), e))?;
        current = wait_idle(lambda, name).await?;
    }
    if current.code_sha256() != Some(sha.as_str()) {
        wait_idle(lambda, name).await?;
        let out = lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(zip))
            .send()
            .await
            .map_err(|e| update_error(&format!("UpdateFunctionCode {name}"), e))?;
        return Ok((arn, out.code_sha256().unwrap_or(&sha).to_string()));
    }
    Ok((arn, sha))
}

/// The function's event source mappings (id, source ARN).
pub(super) async fn mappings(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Vec<(String, String)>, KindError> {
    let items = lambda
        .list_event_source_mappings()
        .function_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let what = format!("ListEventSourceMappings {name}");
    let Some(items) = found(&what, items, &["ResourceNotFoundException"])? else {
        return Ok(Vec::new());
    };
    Ok(items
        .iter()
        .filter_map(|m| {
            let source = m.event_source_arn().unwrap_or_default().to_string();
            Some((m.uuid()?.to_string(), source))
        })
        .collect())
}

pub(super) async fn delete_mapping(
    lambda: &aws_sdk_lambda::Client,
    id: &str,
) -> Result<(), KindError> {
    match lambda.delete_event_source_mapping().uuid(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        // Still being created or updated: the engine retries.
        Err(e) if e.code() == Some("ResourceInUseException") => Err(KindError::Transient(format!(
            "DeleteEventSourceMapping {id}: the mapping is changing state"
        ))),
        Err(e) => Err(classify(&format!("DeleteEventSourceMapping {id}"), e)),
    }
}

/// Keeps exactly one mapping from `queue_arn` (none without it); returns its id.
pub(super) async fn ensure_mapping(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    queue_arn: Option<&str>,
) -> Result<Option<String>, KindError> {
    let mut keep = None;
    for (id, source) in mappings(lambda, name).await? {
        if Some(source.as_str()) == queue_arn && keep.is_none() {
            keep = Some(id);
        } else {
            delete_mapping(lambda, &id).await?;
        }
    }
    let Some(queue) = queue_arn else {
        return Ok(None);
    };
    if keep.is_some() {
        return Ok(keep);
    }
    // No idempotency token exists for mappings, and moto (unlike AWS, which
    // answers ResourceConflictException) accepts duplicates: the lookup
    // above is what prevents a second one.
    let out = lambda
        .create_event_source_mapping()
        .function_name(name)
        .event_source_arn(queue)
        .batch_size(10)
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("ResourceConflictException") => KindError::Transient(format!(
                "CreateEventSourceMapping {name}: created meanwhile; adopting it"
            )),
            _ => update_error(&format!("CreateEventSourceMapping {name}"), e),
        })?;
    Ok(out.uuid().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_lambda_cannot_assume_yet_is_waited_for_two_minutes() {
        use aws_sdk_lambda::operation::create_function::CreateFunctionError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let err = |message: &str| {
            let meta = ErrorMetadata::builder()
                .code("InvalidParameterValueException")
                .message(message)
                .build();
            aws_sdk_lambda::error::SdkError::service_error(
                CreateFunctionError::generic(meta),
                Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from("")),
            )
        };
        let e = update_error(
            "CreateFunction f",
            err("The role defined for the function cannot be assumed by Lambda."),
        );
        let KindError::Waiting {
            within,
            waiting_for,
            message,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(*within, Duration::from_secs(120));
        assert!(waiting_for.contains("IAM role"), "{waiting_for}");
        assert!(message.contains("cannot be assumed"), "{message}");
        // Any other invalid value is the user's to fix.
        assert!(matches!(
            update_error("CreateFunction f", err("Value 'python2' is not a runtime")),
            KindError::Permanent(_)
        ));
    }
}
