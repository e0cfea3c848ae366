//! Resource kinds: one file per kind, each implementing [`Kind`]. A kind is
//! stateless; everything about one resource comes in through [`Cx`] (who and
//! where) and the resolved properties (what).
//!
//! The contract every kind keeps:
//! - `apply` looks for the resource first (deterministic name or tags) and
//!   adopts it; running it twice, or after a crash, never makes a duplicate.
//! - every cloud resource carries the tags of [`Cx::tags`].
//! - `delete` of a resource that is already gone is success.
//! - `sweep` finds the tenant's resources of this kind by tag, so a tenant
//!   whose state was lost can still be removed completely.

pub mod aws;
pub mod docs;
pub mod env_value;
pub mod k8s;
pub mod registry;
pub mod schema;
pub mod secret_password;
pub mod sim;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::envapi::{EnvKey, ValueStore};
use crate::secret::SecretString;
use crate::tenant::{TenantName, physical_name, tags};

pub use registry::{all_kinds, kind_by_name};

/// Resolved properties of one resource (references substituted).
pub type Props = serde_json::Map<String, serde_json::Value>;

/// A property a kind accepts.
#[derive(Debug)]
pub struct PropSpec {
    pub name: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// An output a kind produces.
#[derive(Debug)]
pub struct OutputSpec {
    pub name: &'static str,
    /// Secret outputs are never journaled, logged or printed; they may only be
    /// published with `secret: true`.
    pub secret: bool,
    pub doc: &'static str,
}

/// One output value: plain (journaled, printable) or secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputValue {
    Plain(String),
    Secret(SecretString),
}

impl OutputValue {
    /// The clear value, for substitution into another resource's properties
    /// and for publishing.
    pub fn expose(&self) -> &str {
        match self {
            OutputValue::Plain(s) => s,
            OutputValue::Secret(s) => s.expose(),
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, OutputValue::Secret(_))
    }
}

/// The outputs of one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs(BTreeMap<String, OutputValue>);

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn plain(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), OutputValue::Plain(value.into()));
        self
    }

    pub fn secret(mut self, name: &str, value: SecretString) -> Self {
        self.0.insert(name.into(), OutputValue::Secret(value));
        self
    }

    pub fn get(&self, name: &str) -> Option<&OutputValue> {
        self.0.get(name)
    }

    /// The plain value of `name`, or a permanent error naming it.
    pub fn require(&self, name: &str) -> Result<&str, KindError> {
        match self.0.get(name) {
            Some(v) => Ok(v.expose()),
            None => Err(KindError::Permanent(format!("output '{name}' is missing"))),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &OutputValue)> {
        self.0.iter()
    }

    /// Only the plain outputs: what may be written to the journal.
    pub fn plain_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter_map(|(k, v)| match v {
                OutputValue::Plain(s) => Some((k.clone(), s.clone())),
                OutputValue::Secret(_) => None,
            })
            .collect()
    }

    pub fn from_plain_map(map: BTreeMap<String, String>) -> Self {
        Self(
            map.into_iter()
                .map(|(k, v)| (k, OutputValue::Plain(v)))
                .collect(),
        )
    }

    pub fn has_secrets(&self) -> bool {
        self.0.values().any(OutputValue::is_secret)
    }

    /// The same outputs with every plain one for which `secret(name,
    /// value)` holds made secret (never journaled, printed or logged).
    pub fn conceal(self, secret: impl Fn(&str, &str) -> bool) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|(k, v)| match v {
                    OutputValue::Plain(s) if secret(&k, &s) => {
                        (k, OutputValue::Secret(SecretString::new(s)))
                    }
                    v => (k, v),
                })
                .collect(),
        )
    }
}

/// One poll of readiness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the reason is shown in progress output.
    Pending(String),
}

#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// Throttling, 5xx, timeouts, connection trouble: the engine retries.
    #[error("{0}")]
    Transient(String),
    /// Anything else: the node fails.
    #[error("{0}")]
    Permanent(String),
    /// The backend this kind needs is not configured at all (no kubeconfig,
    /// say). Fails a node that uses the kind; a sweep of a tenant that never
    /// used it skips the kind with a warning.
    #[error("{0}")]
    Unconfigured(String),
    /// An answer the cloud gives for a while after a related change (a
    /// deleted load balancer's network interfaces still being released, a new
    /// certificate not yet visible to ELB, an IAM role not yet assumable):
    /// the engine retries it until `within` has passed since it was first
    /// seen, and progress says what it waits for.
    #[error("waiting for {waiting_for} (up to {}): {message}", crate::budget::fmt_duration(*within))]
    Waiting {
        message: String,
        /// What has to happen, in words: "the load balancer's network
        /// interfaces to be released".
        waiting_for: String,
        within: Duration,
    },
}

impl KindError {
    /// Worth retrying: [`KindError::Transient`] (a few times, with backoff)
    /// or [`KindError::Waiting`] (until its own deadline).
    pub fn is_transient(&self) -> bool {
        matches!(self, KindError::Transient(_) | KindError::Waiting { .. })
    }

    /// A [`KindError::Waiting`] for `within`.
    pub fn waiting(
        message: impl Into<String>,
        waiting_for: impl Into<String>,
        within: Duration,
    ) -> Self {
        KindError::Waiting {
            message: message.into(),
            waiting_for: waiting_for.into(),
            within,
        }
    }
}

/// What every kind can reach: the AWS clients, the value store and the
/// Kubernetes client.
pub struct Backends {
    pub aws: aws::AwsClients,
    pub values: ValueStore,
    pub kube: k8s::KubeClient,
}

/// Who and where: the context of one resource of one tenant.
#[derive(Clone)]
pub struct Cx {
    pub tenant: TenantName,
    pub stack: String,
    pub environment: String,
    pub resource_id: String,
    pub expires_at: Option<jiff::Timestamp>,
    /// Where this resource's outputs are published (a generated secret is
    /// adopted from the first of these on a rerun).
    pub publish: Vec<EnvKey>,
    /// The journal's last word on this node is `started`: an earlier apply
    /// began and never recorded an outcome (the process died mid-apply), so
    /// a create call of it may have reached the cloud unanswered. Kinds
    /// whose creates have no idempotency token use it to re-check their
    /// lookup for a while before creating ([`aws::unanswered`]).
    pub interrupted: bool,
    /// `Some(<stack>/<resource>)` while a warm-pool fill makes a member
    /// (`crate::pool`): then `tenant` is the member's neutral name
    /// (`pool-<hash>`), used for physical names only, and [`Cx::tags`]
    /// carry `envctl:pool` instead of `envctl:tenant`: the member belongs
    /// to no tenant until a create claims it.
    pub pool: Option<String>,
    pub backends: Arc<Backends>,
}

impl Cx {
    /// Deterministic physical name, see [`physical_name`].
    pub fn physical_name(&self, max_len: usize) -> String {
        physical_name(&self.tenant, &self.resource_id, max_len)
    }

    /// The tags every cloud resource of this tenant carries (of a pool
    /// member: `envctl:pool` in place of `envctl:tenant`).
    pub fn tags(&self) -> Vec<(String, String)> {
        let owner = match &self.pool {
            Some(pool) => (tags::POOL.to_string(), pool.clone()),
            None => (tags::TENANT.to_string(), self.tenant.to_string()),
        };
        let mut t = vec![
            owner,
            (tags::STACK.to_string(), self.stack.clone()),
            (tags::RESOURCE.to_string(), self.resource_id.clone()),
            (tags::MANAGED.to_string(), "true".to_string()),
            (tags::ENVIRONMENT.to_string(), self.environment.clone()),
        ];
        if let Some(at) = self.expires_at {
            t.push((tags::EXPIRES_AT.to_string(), at.to_string()));
        }
        t
    }
}

/// Context of a sweep: find everything of one tenant, whatever the state says.
#[derive(Clone)]
pub struct SweepCx {
    pub tenant: TenantName,
    pub backends: Arc<Backends>,
}

/// A resource found by a sweep: its logical id (from the `envctl:resource`
/// tag) and the outputs `delete` needs.
#[derive(Clone, Debug)]
pub struct Found {
    pub resource_id: String,
    pub outputs: Outputs,
}

/// A property value that breaks a rule of the cloud's API (characters,
/// length, range), found before anything is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropIssue {
    /// Where, from the property name down: `["ingress", "0", "cidr"]`.
    pub path: Vec<String>,
    /// What is wrong and the fix, e.g. "contains an apostrophe, which AWS
    /// does not allow in a security-group description; allowed: ...".
    pub message: String,
}

impl PropIssue {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
        }
    }

    /// As a sentence: `property 'ingress.0.cidr': <message>`.
    pub fn sentence(&self) -> String {
        if self.path.is_empty() {
            // A rule across properties (one of two, not both).
            return format!("properties: {}", self.message);
        }
        format!("property '{}': {}", self.path.join("."), self.message)
    }
}

/// The literal string value of property `name`: `None` when it is absent, not
/// a string, or holds a `${ref}` (checked once resolved, before apply).
pub fn literal<'a>(props: &'a Props, name: &str) -> Option<&'a str> {
    props
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.contains("${"))
}

/// Deserializes resolved properties into a kind's typed properties.
pub fn parse_props<T: serde::de::DeserializeOwned>(props: &Props) -> Result<T, KindError> {
    schema::parse(props)
}

#[async_trait]
pub trait Kind: Send + Sync + 'static {
    /// The name used in stacks, e.g. `aws.s3.bucket`.
    fn name(&self) -> &'static str;
    /// The cloud API whose concurrency bound this kind shares, e.g. `s3`.
    fn api(&self) -> &'static str;
    /// The typed schema of the properties ([`schema::KindProps`]): the
    /// source of [`Kind::props`], `envctl explain`, `envctl schema` and the
    /// default [`Kind::check`].
    fn schema(&self) -> Option<&'static schema::PropSchema> {
        None
    }
    /// The top-level properties (derived from [`Kind::schema`]).
    fn props(&self) -> &'static [PropSpec] {
        self.schema().map(|s| s.specs()).unwrap_or(&[])
    }
    fn outputs(&self) -> &'static [OutputSpec];
    /// Expected time from apply to ready on the real cloud (budget default).
    fn expected(&self) -> Duration;
    /// The share (0 to 1) of [`Kind::expected`] spent in [`Kind::apply`],
    /// before the outputs are known; the rest is the wait in [`Kind::ready`].
    /// A dependent on a `created` edge waits for this part only (budget and
    /// critical path). Default [`DEFAULT_APPLY_SHARE`](crate::budget::expected::DEFAULT_APPLY_SHARE).
    fn apply_share(&self) -> f64 {
        crate::budget::expected::DEFAULT_APPLY_SHARE
    }
    /// How long readiness may take before the node fails.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(30 * 60)
    }

    /// The rules of the cloud's API that literal property values break
    /// (characters, lengths, ranges), so that bad input fails at validation
    /// with exit 2 and nothing created. Values holding a `${ref}` are skipped
    /// at load ([`literal`]) and checked by the engine once resolved, before
    /// `apply`. Each rule cites its API reference.
    fn check(&self, props: &Props) -> Vec<PropIssue> {
        self.schema().map(|s| s.issues(props)).unwrap_or_default()
    }

    /// Creates the resource, or adopts the one a previous run made.
    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError>;
    /// One poll: is it usable yet?
    async fn ready(&self, _cx: &Cx, _out: &Outputs) -> Result<Readiness, KindError> {
        Ok(Readiness::Ready)
    }
    /// Starts deleting it and returns quickly; already gone is success.
    /// Waiting until it has really gone away belongs in [`Kind::gone`], so
    /// that the wait runs under the engine's progress, cancellation and
    /// budget. (Calls that must wait for the cloud before they can even be
    /// made, such as a dependency still being released, return
    /// [`KindError::Waiting`] and the engine calls `delete` again.)
    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError>;
    /// One poll after [`Kind::delete`], symmetric with [`Kind::ready`]: is
    /// the resource fully gone? [`Readiness::Ready`] means gone (a lookup
    /// that finds nothing); [`Readiness::Pending`] means still going away,
    /// with the reason shown in progress ("deleting", "terminating: 2
    /// pods left"). Never sleeps or loops: the engine polls it with backoff
    /// until [`Kind::delete_timeout`]. Transient errors are retried; a
    /// permanent one fails the deletion. The default, for resources that
    /// are gone when `delete` returns: `Ready`.
    async fn gone(&self, _cx: &Cx, _out: &Outputs) -> Result<Readiness, KindError> {
        Ok(Readiness::Ready)
    }
    /// How long [`Kind::gone`] may stay `Pending` before the deletion fails.
    fn delete_timeout(&self) -> Duration {
        Duration::from_secs(30 * 60)
    }
    /// Finds this tenant's resources of this kind by tag.
    async fn sweep(&self, _cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        Ok(Vec::new())
    }
    /// Warm-pool support ([`Poolable`]); `None`: the kind cannot be pooled.
    fn poolable(&self) -> Option<&dyn Poolable> {
        None
    }
}

/// The part a kind plays in warm pools (`crate::pool`). A member is made by
/// the kind's own [`Kind::apply`] under a pool [`Cx`] (neutral name, pool
/// tags), from the properties without the [`Poolable::claim_props`] and
/// with [`Poolable::member_props`] in their place; a create then claims it.
#[async_trait]
pub trait Poolable: Send + Sync {
    /// Properties applied at claim, not at fill: they may hold values of
    /// the tenant (references to its other resources, its secrets).
    fn claim_props(&self) -> &'static [&'static str];
    /// Adds what a member needs in place of the claim-time properties
    /// (e.g. a throwaway password, replaced at claim).
    fn member_props(&self, props: &mut Props) -> Result<(), KindError>;
    /// The member's cloud id, from its outputs.
    fn physical_id(&self, out: &Outputs) -> String;
    /// How long a claim takes until ready, when nothing was learned yet:
    /// what the ETA and the critical path count for a pooled node that
    /// hits (a miss counts [`Kind::expected`]).
    fn claim_expected(&self) -> Duration;
    /// The outputs [`Kind::delete`] needs to delete a member that belongs
    /// to no tenant (`recorded`: what its fill recorded, empty when the
    /// fill died before): e.g. no final snapshot, as a member never held a
    /// tenant's data.
    fn member_outputs(&self, cx: &Cx, recorded: &Outputs) -> Outputs;
    /// Hands `member` (its plain outputs as the fill recorded them) to
    /// `cx`'s tenant with the full resolved `props`: re-tags it (the
    /// tenant's [`Cx::tags`], without `envctl:pool`), re-keys its secrets,
    /// applies the claim-time properties, and returns its outputs. The
    /// engine then waits for [`Kind::ready`], which must not say ready
    /// before the new secrets apply. Idempotent: a rerun after a crash
    /// claims the same member again.
    async fn claim(&self, cx: &Cx, member: &Outputs, props: &Props) -> Result<Outputs, KindError>;
}
