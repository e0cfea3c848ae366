//! Creates that may have happened without our knowing: a create call with
//! no idempotency token (CreateVpc, CreateInternetGateway, ...) whose answer
//! was lost (timeout, dropped connection, 5xx) may still have made the
//! resource, and the tag lookup that runs before creating again is
//! eventually consistent on EC2, so it may not show it yet. A kind records
//! such an ambiguous failure here ([`record_if_ambiguous`]) and asks
//! [`may_create`] before each create: within a window sized to EC2's
//! eventual consistency after the unanswered call, creating again waits
//! (the kind's lookup runs again on each retry and adopts what appears).
//!
//! A node whose journal says `started` with no outcome (the process died
//! mid-apply, [`Cx::interrupted`]) gets the same window, counted from the
//! first apply of this process: the journal does not say whether or when a
//! create was sent, so the kind assumes one may have been, just before the
//! crash.
//!
//! Sources: "Eventual consistency in the Amazon EC2 API" (EC2 Developer
//! Guide: retry Describe "starting with a couple of seconds of wait time,
//! and increasing gradually up to a few minutes"); terraform-provider-aws
//! `internal/service/ec2/consts.go` waits `ec2PropagationTimeout` (5 min)
//! for a new resource to become visible, and `iamPropagationTimeout` (2 min).
//! We take 2 minutes by default: a lookup that still misses a resource after
//! that is rare, and the cost of the window is paid only after an ambiguous
//! failure or a crash. `ENVCTL_EC2_VISIBILITY_WINDOW` (seconds) overrides it,
//! for tests whose fake AWS lags by a scaled amount.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::error::SdkError;
use tokio::time::Instant;

use super::HttpStatus;
use crate::kinds::{Cx, KindError};

const DEFAULT_WINDOW: Duration = Duration::from_secs(120);

/// The re-check window (see the module documentation).
pub fn window() -> Duration {
    std::env::var("ENVCTL_EC2_VISIBILITY_WINDOW")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_WINDOW)
}

/// What this process knows of one node's unanswered creates.
#[derive(Clone, Copy, Debug)]
enum Mark {
    /// A create may have reached AWS at this instant.
    Since(Instant),
    /// The window of an interrupted apply has passed; do not open it again.
    Settled,
}

fn marks() -> &'static Mutex<HashMap<String, Mark>> {
    static MARKS: std::sync::OnceLock<Mutex<HashMap<String, Mark>>> = std::sync::OnceLock::new();
    MARKS.get_or_init(Default::default)
}

/// The node's own mark (an interrupted apply).
fn key(cx: &Cx) -> String {
    format!("{}\n{}", cx.tenant, cx.resource_id)
}

/// The mark of one create call of the node (`what`: "CreateVpc <cidr>").
fn op_key(cx: &Cx, what: &str) -> String {
    format!("{}\n{}\n{what}", cx.tenant, cx.resource_id)
}

/// Whether a failed call may still have been carried out by AWS: no answer
/// (timeout, connection dropped after sending, unreadable answer) or a
/// server error. A refused request (4xx) or one never built is not.
pub fn is_ambiguous<E, R: HttpStatus>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // Connection refused and the like cannot be told from a reset after
        // the request went out; only a failure on our side is certain.
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ServiceError(se) => se.raw().status_code() >= 500,
        _ => false,
    }
}

/// Records that a create of this node may have happened (when `err` is
/// ambiguous), so that the next create waits for the lookup to catch up.
pub fn record_if_ambiguous<E, R: HttpStatus>(cx: &Cx, what: &str, err: &SdkError<E, R>) {
    if is_ambiguous(err) {
        tracing::debug!(
            resource = %cx.resource_id,
            "{what} got no clear answer; a second create waits {:?} for the lookup",
            window()
        );
        marks()
            .lock()
            .expect("marks lock")
            .insert(op_key(cx, what), Mark::Since(Instant::now()));
    }
}

/// Asks whether this node may create `what` now (its lookup found nothing):
/// `Err(Waiting)` while the window of an earlier unanswered create (or of an
/// interrupted apply) is open, `Ok` otherwise. `what` names the call and the
/// resource, e.g. `"CreateVpc 10.40.0.0/16"`; `resource` says it in words.
pub fn may_create(cx: &Cx, what: &str, resource: &str) -> Result<(), KindError> {
    decide(cx, what, resource, Instant::now(), window())
}

fn decide(
    cx: &Cx,
    what: &str,
    resource: &str,
    now: Instant,
    window: Duration,
) -> Result<(), KindError> {
    let mut marks = marks().lock().expect("marks lock");
    if cx.interrupted && !marks.contains_key(&key(cx)) {
        marks.insert(key(cx), Mark::Since(now));
    }
    // The node's mark (an interrupted apply: any create of it may have been
    // sent) and this call's own (it went unanswered before).
    for (k, why) in [
        (
            key(cx),
            "the previous run stopped during this resource's apply",
        ),
        (op_key(cx, what), "an earlier create of it got no answer"),
    ] {
        match marks.get(&k).copied() {
            None | Some(Mark::Settled) => {}
            Some(Mark::Since(at)) if now.saturating_duration_since(at) >= window => {
                marks.insert(k, Mark::Settled);
            }
            Some(Mark::Since(at)) => {
                return Err(KindError::waiting(
                    format!(
                        "{what}: not sent yet: {why} {}s ago, so {resource} may exist without \
                         being visible to the lookup yet (EC2 is eventually consistent); \
                         looking again before creating",
                        now.saturating_duration_since(at).as_secs()
                    ),
                    format!("{resource} an unanswered create may have made to become visible"),
                    // The engine retries until then; the window closes
                    // first, and the create goes ahead.
                    window + Duration::from_secs(60),
                ));
            }
        }
    }
    Ok(())
}

fn made() -> &'static Mutex<HashMap<String, String>> {
    static MADE: std::sync::OnceLock<Mutex<HashMap<String, String>>> = std::sync::OnceLock::new();
    MADE.get_or_init(Default::default)
}

/// Remembers the id that create `what` of this node answered with. When a
/// later step of the same apply fails and the engine retries it, the tag
/// lookup may still not show what was just made (eventual consistency), so
/// the kind asks [`remembered`] and reads it by id instead of creating a
/// second one. Seen with the realism layer: CreateVpc answered, then
/// CreateInternetGateway got a 5xx, and the retry made a second VPC.
pub fn remember(cx: &Cx, what: &str, id: &str) {
    made()
        .lock()
        .expect("made lock")
        .insert(op_key(cx, what), id.to_string());
}

/// The id create `what` of this node answered with in this process, if any.
pub fn remembered(cx: &Cx, what: &str) -> Option<String> {
    made()
        .lock()
        .expect("made lock")
        .get(&op_key(cx, what))
        .cloned()
}

/// The answer when [`remembered`] names a resource a lookup by id does not
/// show yet either: wait for it rather than make another.
pub fn not_visible_yet(what: &str, id: &str, resource: &str) -> KindError {
    KindError::waiting(
        format!("{what}: made {id} moments ago, but it is not visible yet"),
        format!("{resource} {id} to become visible (EC2 is eventually consistent)"),
        DEFAULT_WINDOW,
    )
}

/// A per-call override that turns the SDK's own retries off, for a create
/// with no idempotency token: the SDK's standard retry mode resends a call
/// that timed out or got a 5xx (AWS SDKs and Tools Reference Guide,
/// "Retry behavior"), which for CreateVpc or CreateInternetGateway can make
/// a second resource. The engine retries instead, through the kind's lookup
/// and [`may_create`].
pub fn sdk_retries_off() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// Forgets this node's marks (after a delete: a new create starts clean).
pub fn forget(cx: &Cx) {
    let node = key(cx);
    let prefix = format!("{node}\n");
    marks()
        .lock()
        .expect("marks lock")
        .retain(|k, _| *k != node && !k.starts_with(&prefix));
    made()
        .lock()
        .expect("made lock")
        .retain(|k, _| !k.starts_with(&prefix));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::{Backends, Cx};
    use std::sync::Arc;

    fn cx(resource: &str, interrupted: bool) -> Cx {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let aws = crate::kinds::aws::AwsClients::from_config(&config);
        Cx {
            tenant: crate::tenant::TenantName::parse("acme").unwrap(),
            stack: "s".into(),
            environment: "dev".into(),
            resource_id: resource.into(),
            expires_at: None,
            publish: Vec::new(),
            interrupted,
            pool: None,
            backends: Arc::new(Backends {
                values: crate::envapi::ValueStore::new(aws.s3.clone(), "b"),
                aws,
                kube: crate::kinds::k8s::KubeClient::from_env(),
            }),
        }
    }

    fn mark(cx: &Cx, what: &str, at: Instant) {
        marks()
            .lock()
            .unwrap()
            .insert(op_key(cx, what), Mark::Since(at));
    }

    #[tokio::test]
    async fn a_create_without_an_unanswered_one_before_goes_ahead() {
        let cx = cx("net-clean", false);
        assert!(decide(&cx, "CreateVpc", "the VPC", Instant::now(), window()).is_ok());
    }

    #[tokio::test]
    async fn after_an_unanswered_create_a_second_one_waits_until_the_window_closes() {
        let cx = cx("net-lost", false);
        let t0 = Instant::now();
        mark(&cx, "CreateVpc", t0);
        let w = Duration::from_secs(120);
        // Another create of the node is not held back by this one's mark.
        assert!(decide(&cx, "CreateSubnet", "the subnet", t0, w).is_ok());
        let e = decide(&cx, "CreateVpc", "the VPC", t0 + Duration::from_secs(30), w).unwrap_err();
        let KindError::Waiting {
            within, message, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert!(*within > w, "the engine must keep retrying past the window");
        assert!(message.contains("got no answer 30s ago"), "{message}");
        assert!(decide(&cx, "CreateVpc", "the VPC", t0 + w, w).is_ok());
        // Settled: the next create does not wait again.
        assert!(decide(&cx, "CreateVpc", "the VPC", t0 + w, w).is_ok());
    }

    #[tokio::test]
    async fn an_interrupted_apply_waits_once_from_the_first_attempt_of_this_process() {
        let cx = cx("net-crashed", true);
        let t0 = Instant::now();
        let w = Duration::from_secs(120);
        let e = decide(&cx, "CreateVpc", "the VPC", t0, w).unwrap_err();
        assert!(e.to_string().contains("previous run stopped"), "{e}");
        assert!(
            decide(
                &cx,
                "CreateSubnet",
                "the subnet",
                t0 + Duration::from_secs(5),
                w
            )
            .is_err()
        );
        assert!(decide(&cx, "CreateSubnet", "the subnet", t0 + w, w).is_ok());
        assert!(decide(&cx, "CreateInternetGateway", "the gateway", t0 + w, w).is_ok());
    }
}
