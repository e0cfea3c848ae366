//! How an AWS SDK error reaches the user and the engine: one sentence
//! (`<Operation> <resource>: <Code>: <message>`, never the SDK's Debug dump),
//! and a class — permanent, transient (retried a few times), or waiting
//! (an answer AWS gives for a while after a related change, retried until
//! a deadline sized to AWS). The request id and the raw error go to the
//! debug log (`-v`).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::error::SdkError;

use crate::kinds::KindError;

/// Error codes AWS uses for conflicting concurrent calls: retried a few
/// times with backoff.
const CONFLICT_CODES: &[&str] = &[
    "ConcurrentAccess",
    "ConcurrentAccessException",
    "OperationAborted",
    "ProvisionedThroughputExceededException",
];

/// Throttling codes across the services envctl calls. AWS's own SDKs treat
/// these as retryable with backoff (the SDKs' "standard" retry mode lists
/// them); terraform-provider-aws raises the SDK's attempts to 25
/// (`max_retries`), i.e. minutes, not seconds — so do we.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
];

/// An error code AWS answers for a while after a related change, what it
/// waits for, and for how long at most.
struct WaitRule {
    code: &'static str,
    waiting_for: &'static str,
    within: Duration,
}

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Each rule with its source.
const WAIT_RULES: &[WaitRule] = &[
    // After a load balancer, database or Lambda in a VPC is deleted, its
    // network interfaces are released over minutes; until then deleting the
    // security groups, subnets, internet gateway and VPC they use answers
    // DependencyViolation ("resource ... has a dependent object").
    // terraform-provider-aws internal/service/ec2: vpc.go retries DeleteVpc
    // on DependencyViolation; vpc_security_group.go and vpc_subnet.go retry
    // it for the delete timeout (15-20 min); ELB docs: "the network
    // interfaces ... are deleted after the load balancer is deleted".
    WaitRule {
        code: "DependencyViolation",
        waiting_for: "dependent network interfaces (of a deleted load balancer, database or function) to be released",
        within: minutes(20),
    },
    // A certificate that ACM has just issued is not yet visible to ELB:
    // CreateListener / AddListenerCertificates answer CertificateNotFound.
    // terraform-provider-aws internal/service/elbv2/listener.go retries
    // CertificateNotFound on create (iamPropagationTimeout + more).
    WaitRule {
        code: "CertificateNotFound",
        waiting_for: "the new certificate to become visible to Elastic Load Balancing",
        within: minutes(5),
    },
    // ACM DeleteCertificate of a certificate a just-deleted listener used:
    // ResourceInUseException until ELB lets go of it. terraform-provider-aws
    // internal/service/acm/certificate.go retries it for the delete timeout
    // (certificateCrossServicePropagationTimeout, ~10 min).
    WaitRule {
        code: "ResourceInUseException",
        waiting_for: "the resource to be released by the service that used it",
        within: minutes(10),
    },
    // Route53: "PriorRequestNotComplete: The request was rejected because
    // Route 53 was still processing a prior request" (API reference,
    // ChangeResourceRecordSets errors); terraform retries it.
    WaitRule {
        code: "PriorRequestNotComplete",
        waiting_for: "Route 53 to finish the zone's previous change",
        within: minutes(2),
    },
    // SQS CreateQueue: "After you delete a queue, you must wait at least 60
    // seconds before creating a queue with the same name" (API reference,
    // QueueDeletedRecently). terraform-provider-aws sqs/queue.go retries it
    // for queueCreatedTimeout.
    WaitRule {
        code: "QueueDeletedRecently",
        waiting_for: "60 seconds after the queue of the same name was deleted (SQS's rule)",
        within: Duration::from_secs(90),
    },
    WaitRule {
        code: "AWS.SimpleQueueService.QueueDeletedRecently",
        waiting_for: "60 seconds after the queue of the same name was deleted (SQS's rule)",
        within: Duration::from_secs(90),
    },
    // RDS DeleteDBSubnetGroup while the instance using it is still
    // `deleting`: InvalidDBSubnetGroupStateFault. terraform-provider-aws
    // rds/subnet_group.go deletes after the instance is gone; we retry.
    WaitRule {
        code: "InvalidDBSubnetGroupStateFault",
        waiting_for: "the database that uses the subnet group to finish deleting",
        within: minutes(20),
    },
];

/// How long throttling is waited out (see [`THROTTLING_CODES`]).
const THROTTLING_WITHIN: Duration = minutes(5);

/// The service error code of an SDK error, if it has one.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// The one-line description of an SDK error: `<what>: <Code>: <message>` for
/// an AWS answer, a sentence naming the endpoint for a connection failure.
/// `what` is `<Operation> <resource>`, e.g. `DeleteSecurityGroup sg-0abc`.
pub fn describe<E, R>(what: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code();
            let message = se.err().message().map(one_line);
            match (code, message) {
                (Some(c), Some(m)) if !m.is_empty() => format!("{what}: {c}: {m}"),
                (Some(c), _) => format!("{what}: {c}"),
                (None, Some(m)) if !m.is_empty() => {
                    format!("{what}: HTTP {}: {m}", se.raw().status_code())
                }
                (None, _) => format!("{what}: HTTP {} with no error code", se.raw().status_code()),
            }
        }
        SdkError::DispatchFailure(_) => format!(
            "{what}: cannot reach {}: {}; check AWS_ENDPOINT_URL, AWS_REGION and the network",
            endpoint_described(),
            innermost(err)
        ),
        SdkError::TimeoutError(_) => format!(
            "{what}: {} did not answer in time; check AWS_ENDPOINT_URL, AWS_REGION and the network",
            endpoint_described()
        ),
        SdkError::ResponseError(r) => format!(
            "{what}: unreadable answer (HTTP {}) from {}: {}",
            r.raw().status_code(),
            endpoint_described(),
            innermost(err)
        ),
        SdkError::ConstructionFailure(_) => {
            format!("{what}: the request could not be built: {}", innermost(err))
        }
        _ => format!("{what}: {}", innermost(err)),
    }
}

/// Turns an SDK error into a [`KindError`]: the codes of [`WAIT_RULES`] and
/// throttling wait until their deadline; 5xx answers, timeouts, connection
/// failures and conflicting concurrent calls are transient; everything else
/// is permanent. `what` says which call failed (`<Operation> <resource>`).
pub fn classify<E, R>(what: &str, err: SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let message = describe(what, &err);
    if let SdkError::ServiceError(se) = &err {
        tracing::debug!(
            request_id = se.err().meta().extra("aws_request_id").unwrap_or("-"),
            error = ?se.err(),
            "{what} failed"
        );
    } else {
        tracing::debug!(error = ?err, "{what} failed");
    }
    let code = error_code(&err);
    if let Some(rule) = code.and_then(|c| WAIT_RULES.iter().find(|r| r.code == c)) {
        return KindError::waiting(message, rule.waiting_for, rule.within);
    }
    if code.is_some_and(|c| THROTTLING_CODES.contains(&c)) {
        return KindError::waiting(
            message,
            "AWS to stop throttling these calls",
            THROTTLING_WITHIN,
        );
    }
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ResponseError(r) => r.raw().status_code() >= 500,
        SdkError::ServiceError(se) => {
            se.raw().status_code() >= 500 || code.is_some_and(|c| CONFLICT_CODES.contains(&c))
        }
        _ => false,
    };
    if transient {
        KindError::Transient(message)
    } else {
        KindError::Permanent(message)
    }
}

/// Where AWS calls go, in words: the `AWS_ENDPOINT_URL` when one is set,
/// otherwise the region's endpoints.
fn endpoint_described() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => format!("the AWS endpoint {url} (AWS_ENDPOINT_URL)"),
        _ => match std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")) {
            Ok(region) => format!("the AWS endpoints of region {region}"),
            Err(_) => "the AWS endpoints".to_string(),
        },
    }
}

/// The innermost cause of an error chain on one line: the useful part,
/// without the SDK's wrappers.
fn innermost(err: &dyn std::error::Error) -> String {
    one_line(&crate::error_text::innermost_cause(err))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The HTTP status of a raw response (implemented for the SDK's response type).
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(
        status: u16,
        code: &str,
        message: &str,
    ) -> SdkError<DeleteSecurityGroupError, Response> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message(message)
            .custom("aws_request_id", "req-1")
            .build();
        let raw = Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from("<Response><Errors>...raw xml...</Errors></Response>"),
        );
        SdkError::service_error(DeleteSecurityGroupError::generic(meta), raw)
    }

    #[test]
    fn an_aws_answer_reads_as_operation_resource_code_message_without_the_raw_body() {
        let e = classify(
            "DeleteSecurityGroup sg-1",
            service_error(
                400,
                "InvalidGroup.InUse",
                "Group sg-1 is used by\n another group",
            ),
        );
        let text = e.to_string();
        assert_eq!(
            text,
            "DeleteSecurityGroup sg-1: InvalidGroup.InUse: Group sg-1 is used by another group"
        );
        assert!(matches!(e, KindError::Permanent(_)));
    }

    #[test]
    fn dependency_violation_waits_for_minutes_not_a_few_retries() {
        let e = classify(
            "DeleteSecurityGroup sg-1",
            service_error(
                400,
                "DependencyViolation",
                "resource sg-1 has a dependent object",
            ),
        );
        let KindError::Waiting {
            within,
            waiting_for,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        assert!(*within >= minutes(15), "{within:?}");
        assert!(waiting_for.contains("network interfaces"));
    }

    #[test]
    fn throttling_waits_and_server_errors_are_transient() {
        assert!(matches!(
            classify(
                "CreateVpc",
                service_error(400, "RequestLimitExceeded", "slow down")
            ),
            KindError::Waiting { .. }
        ));
        assert!(matches!(
            classify("CreateVpc", service_error(503, "Unavailable", "try later")),
            KindError::Transient(_)
        ));
    }
}
