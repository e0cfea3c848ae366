//! What the AWS kinds share about making a call: idempotency tokens, the
//! ARN partition of a region, how an error on a resource that was just
//! found or created reads (AWS is eventually consistent: a new resource may
//! be "not found" by the next call for a while, which a retry fixes), and
//! how a request that cannot be built reads.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use super::{HttpStatus, classify, error_code};
use crate::kinds::KindError;

/// An idempotency token (at most 64 ASCII characters, what EC2's
/// `ClientToken` and ACM's `IdempotencyToken` accept at the most) derived
/// from what identifies the request, so a retried create is the same
/// request.
pub fn client_token(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

/// A request that could not even be built (an SDK builder refusing what it
/// was given), as a permanent error: `what` names the request.
pub fn permanent(what: &str, e: impl std::fmt::Display) -> KindError {
    KindError::Permanent(format!("{what}: {e}"))
}

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// The answer of a call on a resource that may not exist: `Ok(None)` when
/// the error's code is one of `missing` (e.g. `DBInstanceNotFound`: AWS
/// says "not found" with an error, not an empty answer), the answer when
/// there is one, and any other error [`classify`]'d as `what`.
pub fn found<T, E, R>(
    what: &str,
    result: Result<T, SdkError<E, R>>,
    missing: &[&str],
) -> Result<Option<T>, KindError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match result {
        Ok(answer) => Ok(Some(answer)),
        Err(e) if error_code(&e).is_some_and(|c| missing.contains(&c)) => Ok(None),
        Err(e) => Err(classify(what, e)),
    }
}

/// A delete (or detach) whose target is already gone (`missing` codes)
/// succeeded: deleting is idempotent.
pub fn deleted<T, E, R>(
    what: &str,
    result: Result<T, SdkError<E, R>>,
    missing: &[&str],
) -> Result<(), KindError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    found(what, result, missing).map(|_| ())
}

/// An error from a call on a resource we have just found or created: when
/// its code says the resource is missing (`missing(code)`), that is the
/// service's eventual consistency — `lag` says how it shows, e.g. "the new
/// bucket is not visible yet" — and transient; anything else is
/// [`classify`]'d. Sources: EC2 API reference, "Eventual consistency";
/// S3 User Guide, "Amazon S3 data consistency model" (bucket operations);
/// SQS API reference, CreateQueue ("up to a minute").
pub fn not_visible_yet<E, R>(
    what: &str,
    e: SdkError<E, R>,
    missing: impl Fn(&str) -> bool,
    lag: &str,
) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    if error_code(&e).is_some_and(missing) {
        KindError::Transient(format!("{what}: {lag}"))
    } else {
        classify(what, e)
    }
}

/// The answer of a create whose target may have been made meanwhile — by a
/// racing process, or by an earlier attempt of this one whose answer was
/// lost: an error whose code is one of `exists` (e.g.
/// `DuplicateLoadBalancerName`) is transient, so the engine's next attempt
/// finds the resource and adopts it, as terraform-provider-aws's resources
/// read back what they create; any other error is [`classify`]'d as `what`.
pub fn created<T, E, R>(
    what: &str,
    result: Result<T, SdkError<E, R>>,
    exists: &[&str],
) -> Result<T, KindError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match result {
        Ok(answer) => Ok(answer),
        Err(e) if error_code(&e).is_some_and(|c| exists.contains(&c)) => Err(KindError::Transient(
            format!("{what}: it was created meanwhile; adopting it next"),
        )),
        Err(e) => Err(classify(what, e)),
    }
}

/// What an answer must carry (`part`, e.g. the new resource's ARN): its
/// absence is a permanent error reading "`what`: no `noun` in the answer".
pub fn carried<T>(what: &str, part: Option<T>, noun: &str) -> Result<T, KindError> {
    part.ok_or_else(|| KindError::Permanent(format!("{what}: no {noun} in the answer")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    #[allow(clippy::result_large_err)] // the SDK's own error type, as callers get it
    fn failed(code: &str) -> Result<(), SdkError<ErrorMetadata, Response>> {
        Err(SdkError::service_error(
            ErrorMetadata::builder().code(code).message("m").build(),
            Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty()),
        ))
    }

    #[test]
    fn a_create_that_lost_the_race_is_retried_to_adopt() {
        let err = created("CreateX a", failed("DuplicateX"), &["DuplicateX"]).unwrap_err();
        assert!(matches!(&err, KindError::Transient(m) if m.contains("created meanwhile")));
        let err = created("CreateX a", failed("ValidationError"), &["DuplicateX"]).unwrap_err();
        assert!(!matches!(err, KindError::Transient(_)));
        assert!(
            created(
                "CreateX a",
                Ok::<_, SdkError<ErrorMetadata, Response>>(7),
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn an_answer_without_its_part_is_permanent() {
        let err = carried::<()>("CreateX a", None, "ARN").unwrap_err();
        assert!(matches!(&err, KindError::Permanent(m) if m == "CreateX a: no ARN in the answer"));
    }
}
