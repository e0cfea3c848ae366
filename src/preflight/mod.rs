//! Preflight: before `create` touches anything (and as a section of `plan`),
//! check that the run can succeed as far as the accounts allow: the AWS
//! endpoint answers, the credentials are valid (account and region), the
//! value store's bucket is ours or can be created, the stack fits in the
//! region's quotas, a shared load balancer has room for the tenant's host
//! rules, and the Kubernetes API answers and lets envctl do what
//! the stack's Kubernetes kinds do. Every call here only reads.
//!
//! Each check family is one file implementing [`Check`]; the list of checks
//! is [`CHECKS`]. A check names the checks it needs ([`Check::after`]): when
//! one of those did not pass it is skipped, so one cause gives one message.
//! The decisions (what a failure means, what the fix is, what the stack
//! needs) are pure functions in each file, unit-tested there; the calls are
//! thin.
//!
//! To add a check: write `src/preflight/<name>.rs` with a unit struct that
//! implements [`Check`], declare it with `mod <name>;` below, and add one
//! entry to [`CHECKS`].

mod credentials;
mod endpoint;
mod kubernetes;
mod parent_zone;
mod quotas;
mod shared_edge;
mod value_store;

pub use quotas::Limit;
pub use shared_edge::{EdgeLimits, edge_limits};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::aws::HttpStatus;
use crate::error_text::innermost_cause as innermost;
use crate::kinds::Backends;
use crate::stack::Stack;
use crate::tenant::TenantName;

/// Every check, in the order they run (a check runs after those it needs).
static CHECKS: &[&dyn Check] = &[
    &endpoint::Endpoint,
    &credentials::Credentials,
    &value_store::ValueStoreCheck,
    &quotas::Quotas,
    &shared_edge::SharedEdge,
    &parent_zone::ParentZone,
    &kubernetes::Kubernetes,
];

/// How long one check may take before it counts as failed (an endpoint that
/// swallows packets must not hang a create).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// One check family.
#[async_trait]
pub trait Check: Send + Sync + 'static {
    /// Short name, shown in the plan's preflight section.
    fn name(&self) -> &'static str;
    /// Names of the checks that must pass before this one means anything.
    fn after(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether the stack needs this check at all.
    fn applies(&self, _stack: &Stack) -> bool {
        true
    }
    /// Runs the check: one finding, or several (one per quota, say).
    async fn run(&self, cx: &PreflightCx) -> Vec<Finding>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Not run: a check it needs did not pass.
    Skipped,
}

/// What one check found: on failure, what failed and why (`detail`) and what
/// to do (`fix`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn pass(check: &str, detail: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skipped(check: &str, detail: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            status: Status::Skipped,
            detail: detail.into(),
            fix: None,
        }
    }

    /// The failure as one sentence: what failed and why, then the fix.
    pub fn sentence(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}: {fix}", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// The result of every check, for `plan` and for the refusal of a create.
#[derive(Clone, Debug, Serialize)]
pub struct PreflightReport {
    /// The AWS account the credentials belong to (STS GetCallerIdentity).
    pub account: Option<String>,
    pub region: Option<String>,
    /// The caller's ARN (user or assumed role).
    pub caller: Option<String>,
    pub passed: bool,
    pub checks: Vec<Finding>,
}

impl PreflightReport {
    fn new(cx: &PreflightCx, checks: Vec<Finding>) -> Self {
        let identity = cx.identity.get().and_then(|r| r.as_ref().ok());
        Self {
            account: identity.map(|i| i.account.clone()),
            region: cx.region.clone(),
            caller: identity.map(|i| i.arn.clone()),
            passed: checks.iter().all(|f| f.status != Status::Fail),
            checks,
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().filter(|f| f.status == Status::Fail)
    }

    /// Why a create is refused: one sentence per failed check, or `None`
    /// when every check passed.
    pub fn refusal(&self) -> Option<String> {
        let failures: Vec<String> = self
            .failures()
            .map(|f| format!("preflight {}: {}", f.check, f.sentence()))
            .collect();
        if failures.is_empty() {
            None
        } else {
            Some(format!("{}\nnothing was created", failures.join("\n")))
        }
    }

    /// The section of `plan`'s table output.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "preflight: account {}, region {}: {}\n",
            self.account.as_deref().unwrap_or("unknown"),
            self.region.as_deref().unwrap_or("none"),
            if self.passed { "ready" } else { "FAILED" }
        );
        for f in &self.checks {
            let mark = match f.status {
                Status::Pass => "ok  ",
                Status::Fail => "FAIL",
                Status::Skipped => "skip",
            };
            out.push_str(&format!("  {mark} {:<12} {}\n", f.check, f.sentence()));
        }
        out.pop();
        out
    }
}

/// Who the credentials are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// What went wrong with one AWS call, reduced to what the decisions need
/// (never the SDK's Debug dump).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// No connection: refused, DNS, TLS; the innermost cause.
    Unreachable(String),
    Timeout,
    /// The service answered with an error.
    Service {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// The request was not sent (no credentials, say); the cause.
    NotSent(String),
}

impl CallFailure {
    pub fn of<E, R>(e: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug + 'static,
    {
        match e {
            SdkError::TimeoutError(_) => CallFailure::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => CallFailure::Timeout,
            // Connection trouble (refused, DNS, TLS) is an I/O failure; a
            // dispatch failure of another kind happened before anything was
            // sent, e.g. resolving credentials (aws-smithy-runtime-api,
            // `OrchestratorError::into_sdk_error`, phase BeforeTransmit).
            SdkError::DispatchFailure(d) if d.is_io() => CallFailure::Unreachable(innermost(e)),
            SdkError::ServiceError(se) => CallFailure::Service {
                status: se.raw().status_code(),
                code: se.err().code().map(str::to_string),
                message: se.err().message().map(str::to_string),
            },
            SdkError::ResponseError(r) => CallFailure::Service {
                status: r.raw().status_code(),
                code: None,
                message: Some(innermost(e)),
            },
            _ => CallFailure::NotSent(innermost(e)),
        }
    }

    /// `Code: message` of a service error, or the cause.
    pub fn describe(&self) -> String {
        match self {
            CallFailure::Unreachable(why) | CallFailure::NotSent(why) => why.clone(),
            CallFailure::Timeout => "no answer in time".into(),
            CallFailure::Service {
                status,
                code,
                message,
            } => match (code, message) {
                (Some(c), Some(m)) if !m.is_empty() => format!("{c}: {m}"),
                (Some(c), _) => c.clone(),
                (None, Some(m)) if !m.is_empty() => format!("HTTP {status}: {m}"),
                _ => format!("HTTP {status}"),
            },
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            CallFailure::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CallFailure::Service { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The clients preflight needs beyond the engine's: STS and Service Quotas,
/// from the same standard configuration.
#[derive(Clone, Debug)]
pub struct PreflightClients {
    pub sts: aws_sdk_sts::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub region: Option<String>,
}

impl PreflightClients {
    /// From the standard AWS settings, like the engine's clients. Calls get a
    /// time limit and two attempts: preflight must answer quickly.
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_config(&config)
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(Duration::from_secs(10))
            .build();
        let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(2);
        let sts = aws_sdk_sts::config::Builder::from(config)
            .timeout_config(timeouts.clone())
            .retry_config(retry.clone())
            .build();
        let quotas = aws_sdk_servicequotas::config::Builder::from(config)
            .timeout_config(timeouts)
            .retry_config(retry)
            .build();
        Self {
            sts: aws_sdk_sts::Client::from_conf(sts),
            quotas: aws_sdk_servicequotas::Client::from_conf(quotas),
            region: config.region().map(|r| r.to_string()),
        }
    }
}

/// What the checks look at: the tenant and its stack, the engine's backends
/// (AWS clients and the value store) — or why they could not be set up — and
/// preflight's own clients.
pub struct PreflightCx {
    pub tenant: TenantName,
    pub stack: Stack,
    backends: Result<Arc<Backends>, String>,
    pub clients: PreflightClients,
    pub region: Option<String>,
    identity: OnceCell<Result<Identity, CallFailure>>,
}

impl PreflightCx {
    /// `backends` is what setting up the engine's backends gave: when that
    /// failed (the value store's name needs the account, say), the checks
    /// that need them say so, after the endpoint and credentials checks have
    /// named the cause.
    pub fn new(
        tenant: TenantName,
        stack: Stack,
        backends: Result<Arc<Backends>, String>,
        clients: PreflightClients,
    ) -> Self {
        Self {
            tenant,
            stack,
            backends,
            region: clients.region.clone(),
            clients,
            identity: OnceCell::new(),
        }
    }

    /// The engine's backends, or the failure of `check` that they could not
    /// be set up.
    pub fn backends(&self, check: &str) -> Result<&Backends, Vec<Finding>> {
        self.backends.as_deref().map_err(|why| {
            vec![Finding::fail(
                check,
                format!("the AWS clients and value store could not be set up ({why})"),
                "fix the cause named there (usually the AWS settings) and retry",
            )]
        })
    }

    /// STS GetCallerIdentity, called once and shared by the endpoint and
    /// credentials checks. It needs no permission: "No permissions are
    /// required to perform this operation" (STS API reference,
    /// GetCallerIdentity); terraform-provider-aws validates credentials
    /// with the same call (`aws_caller_identity`, and the provider's
    /// `skip_requesting_account_id`).
    pub async fn identity(&self) -> &Result<Identity, CallFailure> {
        self.identity
            .get_or_init(|| async {
                match self.clients.sts.get_caller_identity().send().await {
                    Ok(out) => Ok(Identity {
                        account: out.account().unwrap_or_default().to_string(),
                        arn: out.arn().unwrap_or_default().to_string(),
                    }),
                    Err(e) => Err(CallFailure::of(&e)),
                }
            })
            .await
    }

    /// The account id, once the credentials check has passed.
    pub async fn account(&self) -> Option<String> {
        self.identity()
            .await
            .as_ref()
            .ok()
            .map(|i| i.account.clone())
    }
}

/// Runs every check that applies to the stack, in order; a check whose
/// prerequisites did not pass is skipped.
pub async fn run(cx: &PreflightCx) -> PreflightReport {
    let mut findings: Vec<Finding> = Vec::new();
    for check in CHECKS {
        if !check.applies(&cx.stack) {
            continue;
        }
        if let Some(why) = blocked_by(check.after(), &findings) {
            findings.push(Finding::skipped(check.name(), why));
            continue;
        }
        let found = match tokio::time::timeout(CHECK_TIMEOUT, check.run(cx)).await {
            Ok(found) => found,
            Err(_) => vec![Finding::fail(
                check.name(),
                format!(
                    "the {} check got no answer within {}s",
                    check.name(),
                    CHECK_TIMEOUT.as_secs()
                ),
                "check the network path to the endpoints (proxy, firewall, VPN) and try again",
            )],
        };
        findings.extend(found);
    }
    PreflightReport::new(cx, findings)
}

/// Why a check with prerequisites `after` cannot run, given the findings so
/// far; `None` when every prerequisite ran and passed.
fn blocked_by(after: &[&str], findings: &[Finding]) -> Option<String> {
    let not_passed: Vec<&str> = after
        .iter()
        .copied()
        .filter(|name| {
            let mine: Vec<&Finding> = findings.iter().filter(|f| f.check == *name).collect();
            mine.is_empty() || mine.iter().any(|f| f.status != Status::Pass)
        })
        .collect();
    if not_passed.is_empty() {
        None
    } else {
        Some(format!(
            "not checked: {} did not pass",
            not_passed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_runs_only_after_its_prerequisites_pass() {
        let found = vec![
            Finding::pass("endpoint", "answers"),
            Finding::fail("credentials", "rejected", "fix them"),
        ];
        assert_eq!(blocked_by(&["endpoint"], &found), None);
        assert_eq!(
            blocked_by(&["endpoint", "credentials"], &found).as_deref(),
            Some("not checked: credentials did not pass")
        );
        // A prerequisite that never ran (not applicable, or later in the
        // list) blocks too: nothing is assumed.
        assert!(blocked_by(&["kubernetes"], &found).is_some());
        let skipped = vec![Finding::skipped("credentials", "not checked")];
        assert!(blocked_by(&["credentials"], &skipped).is_some());
    }

    #[test]
    fn the_refusal_has_one_sentence_per_failure_and_says_nothing_was_created() {
        let report = PreflightReport {
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            caller: None,
            passed: false,
            checks: vec![
                Finding::pass("endpoint", "answers"),
                Finding::fail("quotas", "VPCs per Region: 5 used + 1 needed > 5", "ask"),
                Finding::fail("kubernetes", "unreachable", "check KUBECONFIG"),
            ],
        };
        let text = report.refusal().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "preflight quotas: VPCs per Region: 5 used + 1 needed > 5: ask",
                "preflight kubernetes: unreachable: check KUBECONFIG",
                "nothing was created"
            ]
        );
        let all_passed = PreflightReport {
            passed: true,
            checks: vec![Finding::pass("endpoint", "answers")],
            ..report
        };
        assert_eq!(all_passed.refusal(), None);
    }

    #[test]
    fn service_errors_are_described_by_code_and_message_never_debug() {
        let f = CallFailure::Service {
            status: 403,
            code: Some("InvalidClientTokenId".into()),
            message: Some("The security token included in the request is invalid.".into()),
        };
        assert_eq!(
            f.describe(),
            "InvalidClientTokenId: The security token included in the request is invalid."
        );
        let bare = CallFailure::Service {
            status: 403,
            code: None,
            message: None,
        };
        assert_eq!(bare.describe(), "HTTP 403");
    }
}
