//! The stack model, as loaded and validated.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::envapi::Level;
pub use crate::graph::Until;

/// Budget when a stack sets none: the mission's 15 minutes.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(15 * 60);
/// Environment when a stack sets none.
pub const DEFAULT_ENVIRONMENT: &str = "dev";

#[derive(Clone, Debug)]
pub struct Stack {
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// `stack:` — the stack's name, stamped as the `envctl:stack` tag.
    pub name: String,
    /// `environment:` — default environment of the value store.
    pub environment: String,
    /// `budget:` — time budget of a create run.
    pub budget: Duration,
    /// `ttl:` — default time-to-live of a tenant made from this stack.
    pub ttl: Option<Duration>,
    /// `expected:` — expected duration per kind, overriding the built-in defaults.
    pub expected: BTreeMap<String, Duration>,
    /// `timeouts:` — how long readiness may take per kind, overriding the
    /// kind's own (e.g. `aws.acm.certificate: 45m`).
    pub timeouts: BTreeMap<String, Duration>,
    /// `limits:` — concurrency bound per cloud API (e.g. `s3: 8`).
    pub limits: BTreeMap<String, usize>,
    /// `hibernate:` — when tenants of this stack sleep and wake, run by
    /// `envctl serve` (a tenant's own schedule overrides it).
    pub hibernate: Option<crate::hibernate::Schedule>,
    /// `resources:` — in file order.
    pub resources: Vec<Resource>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub id: String,
    pub kind: String,
    /// Properties as written, `${id.output}` references still in strings.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Explicit extra edges.
    pub depends_on: Vec<String>,
    /// How long this resource waits for a dependency before it starts, where
    /// the stack says (`until:` of a `depends_on` entry, or `wait_for:`);
    /// every other dependency is waited on until ready.
    pub wait_for: Vec<Wait>,
    pub publish: Vec<Publish>,
    /// `pool:` — keep members of this resource made ahead of demand, for
    /// creates to claim (see `crate::pool`).
    pub pool: Option<PoolSpec>,
    /// 1-based line of the resource in its file (0 when unknown).
    pub line: usize,
}

/// `pool: { size: N, max_age: DUR }` of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    /// How many available members fill keeps ready (1 to [`MAX_POOL_SIZE`]).
    pub size: u32,
    /// A member older than this is replaced by fill (default
    /// [`DEFAULT_POOL_MAX_AGE`]).
    pub max_age: Duration,
}

/// The largest `pool.size`.
pub const MAX_POOL_SIZE: u32 = 50;
/// `pool.max_age` when a stack sets none.
pub const DEFAULT_POOL_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// One dependency's [`Until`] as a stack sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The dependency's id.
    pub resource: String,
    pub until: Until,
    /// Where it was written (for messages).
    pub from: WaitFrom,
}

/// Where a [`Wait`] was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFrom {
    /// `until:` of the n-th (0-based) `depends_on` entry.
    DependsOn(usize),
    /// The resource's `wait_for:` mapping.
    WaitFor,
}

/// One output of a resource published as an environment value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub output: String,
    pub key: String,
    pub level: Level,
    pub secret: bool,
}

impl Stack {
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }
}

impl Resource {
    /// How long this resource waits for `dependency`: what the stack says,
    /// else [`Until::Ready`].
    pub fn until(&self, dependency: &str) -> Until {
        self.wait_for
            .iter()
            .find(|w| w.resource == dependency)
            .map_or(Until::Ready, |w| w.until)
    }
}
