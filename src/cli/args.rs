//! The command-line grammar (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::output::Format;

#[derive(Parser, Debug)]
#[command(
    name = "envctl",
    version,
    about = "Stand up and tear down complete single-tenant environments"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// State store: a SQLite file path or sqlite:// URL, or a postgres:// URL shared by several processes and machines [default: <data dir>/envctl/state.sqlite]
    #[arg(long, env = "ENVCTL_STATE", global = true)]
    pub state: Option<String>,
    /// S3 bucket of the environment-value store, owned by this AWS account [default: envctl-values-<account>-<region>-an, in the account's own namespace]
    #[arg(long, env = "ENVCTL_VALUES_BUCKET", global = true)]
    pub values_bucket: Option<String>,
    /// DNS domain of this installation, e.g. envs.mycompany.com: stacks use it as ${envctl.domain} (tenant zones are made under it, delegated from its public hosted zone in this AWS account). Reserved names (.test, example.com, ...) are refused for certificates
    #[arg(long, env = "ENVCTL_DOMAIN", global = true)]
    pub domain: Option<String>,
    /// Price table for the cost that `get tenants` and `describe tenant` show (a YAML file like the shipped prices/aws-us-east-1.yaml) [default: the shipped table]
    #[arg(long, env = "ENVCTL_PRICES", global = true)]
    pub prices: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create (or resume, or converge) a tenant from a stack
    Create {
        #[command(subcommand)]
        target: TenantTarget<CreateArgs>,
    },
    /// Show what create would do: waves, critical path, ETA. Touches nothing
    Plan {
        #[command(subcommand)]
        target: TenantTarget<PlanArgs>,
    },
    /// Remove everything of a tenant, in reverse order, then by tag
    Destroy {
        #[command(subcommand)]
        target: DestroyTarget,
    },
    /// List tenants
    Get {
        #[command(subcommand)]
        target: GetTarget,
    },
    /// Show one tenant: status, expiry, nodes and their outputs
    Describe {
        #[command(subcommand)]
        target: NamedTarget,
    },
    /// Print the report of a tenant's last run
    Report {
        #[command(subcommand)]
        target: ReportTarget,
    },
    /// Print the Kubernetes manifests create would apply (secrets masked). Touches nothing
    Render {
        #[command(subcommand)]
        target: TenantTarget<RenderArgs>,
    },
    /// Read and edit the environment-value store
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Push a tenant's expiry later
    Extend {
        #[command(subcommand)]
        target: TenantTarget<ExtendArgs>,
    },
    /// Mark a tenant so that the reaper never destroys it
    Protect {
        #[command(subcommand)]
        target: NamedTarget,
    },
    /// Let the reaper destroy a tenant again once it expires
    Unprotect {
        #[command(subcommand)]
        target: NamedTarget,
    },
    /// Destroy expired tenants (never protected ones); report orphaned resources
    ///
    /// Touches only resources tagged envctl:managed=true; a tenant whose state and tags disagree
    /// is refused and left untouched. Exit codes: 0 done (or nothing to do), 1 a tenant or orphan
    /// was refused or its destroy failed (so a CronJob run shows as failed), 2 bad input.
    Reap(ReapArgs),
    /// Run the HTTP API and web page; runs creates, destroys and the reaper
    Serve(ServeArgs),
    /// Scale a tenant down to nothing, remembering its sizes; or set its sleep/wake schedule
    ///
    /// Scales its Deployments to zero (removing and remembering their HPAs), stops its RDS
    /// instances and sets its Auto Scaling groups to zero. With --sleep (and --wake,
    /// --time-zone) it only sets the tenant's own schedule, run by `envctl serve`. Exit codes:
    /// 0 hibernated, 1 a step failed (run it again), 2 bad input.
    Hibernate {
        #[command(subcommand)]
        target: TenantTarget<HibernateArgs>,
    },
    /// Describe a kind's properties and outputs, or one field, from its schema
    ///
    /// Like `kubectl explain`: `envctl explain aws.sqs.queue`, `envctl explain
    /// aws.ec2.security_group.ingress.port`. Without an argument, lists the kinds.
    Explain(ExplainArgs),
    /// Print the JSON Schema of the stack format (editors use it through the
    /// yaml-language-server modeline atop stacks/*.yaml)
    Schema,
    /// List a tenant's recorded revisions, like `kubectl rollout history`
    ///
    /// Every successful create records one: the stack and catalog content it applied (no secret
    /// value), who applied it, when and from which run.
    History {
        #[command(subcommand)]
        target: NamedTarget,
    },
    /// Show what create would change on a tenant against its last revision, like `terraform plan`
    ///
    /// Loads the stack and catalog exactly as create does and contacts no AWS or Kubernetes
    /// API. Exit codes: 0 no changes, 3 changes to apply, 1 error, 2 bad input.
    Diff {
        #[command(subcommand)]
        target: TenantTarget<DiffArgs>,
    },
    /// Hold a tenant at a revision: rollouts skip it and create refuses it until it is unpinned
    Pin {
        #[command(subcommand)]
        target: TenantTarget<PinArgs>,
    },
    /// Remove a tenant's pin: create (and rollouts) may change it again
    Unpin {
        #[command(subcommand)]
        target: NamedTarget,
    },
    /// Re-apply a recorded revision (default: the one before the newest) through create
    ///
    /// The revision's stack nodes and catalog are applied like any create and recorded as a new
    /// revision. Exit codes: 0 done, 1 the run failed (run it again), 2 bad input (no such
    /// revision, a pinned tenant, a revision that held a secret literal).
    Rollback {
        #[command(subcommand)]
        target: TenantTarget<RollbackArgs>,
    },
    /// Upgrade many tenants to a stack in health-gated waves (canary first, then batches)
    ///
    /// Each tenant's change against its latest revision is applied through create (no change:
    /// nothing runs), gated on health (Deployments complete, then available for the soak) and
    /// rolled back to its previous revision when the apply or the gate fails. Pinned tenants are
    /// skipped; replacing a data-bearing resource is refused unless --allow-replace names it.
    /// `rollout status|pause|resume|abort` act on a recorded rollout. Exit codes: 0 succeeded
    /// (or paused), 1 a tenant failed or the rollout stopped or was aborted, 2 bad input (nothing
    /// was recorded).
    Rollout(RolloutCmd),
    /// Warm pools: make members of a stack's pooled resources ahead of demand, show their level, or delete them
    ///
    /// `fill` tops every pool of the stack (`pool:` on a resource) up to its size and replaces
    /// members past max_age or made from other properties; `status` shows each pool's level and
    /// what its idle members cost per day; `drain` deletes every member no tenant claimed.
    /// Exit codes: 0 done, 1 a member failed, 2 bad input.
    Pool {
        #[command(subcommand)]
        command: PoolCommand,
    },
    /// Put a hibernated tenant back as it was and wait until it is ready
    ///
    /// Exit codes: 0 ready (or awake already), 1 a step failed or timed out (run it again), 2 bad input.
    Wake {
        #[command(subcommand)]
        target: TenantTarget<WakeArgs>,
    },
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// KIND or KIND.FIELD[.FIELD…], e.g. aws.sqs.queue.dead_letter
    pub target: Option<String>,
}

#[derive(Args, Debug)]
pub struct HibernateArgs {
    pub name: String,
    /// Set the tenant's own schedule instead of hibernating now: when to sleep (cron, e.g. "0 20 * * 1-5")
    #[arg(long)]
    pub sleep: Option<String>,
    /// With --sleep: when to wake (cron, e.g. "0 7 * * 1-5"); without it the tenant wakes when asked
    #[arg(long, requires = "sleep")]
    pub wake: Option<String>,
    /// With --sleep: the time zone the schedule is read in (IANA name, e.g. Europe/Madrid) [default: UTC]
    #[arg(long, requires = "sleep")]
    pub time_zone: Option<String>,
    /// Remove the tenant's own schedule (its stack's applies again)
    #[arg(long, conflicts_with = "sleep")]
    pub no_schedule: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct WakeArgs {
    pub name: String,
    /// How long to wait for the Deployments to be ready
    #[arg(long, default_value = "15m")]
    pub timeout: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct ExtendArgs {
    pub name: String,
    /// How much later, e.g. 3d; counted from the current expiry (or now, if that has passed)
    #[arg(long)]
    pub by: String,
    /// Longest time-to-live from now an extension may reach
    #[arg(long, default_value = "30d")]
    pub max_ttl: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct ReapArgs {
    /// List what would be destroyed; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also destroy orphans: managed resources of tenants the state does not know
    #[arg(long)]
    pub orphans: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: the config's, else 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<String>,
    /// Server configuration (YAML): tokens, stacks, limits, reaper schedule
    #[arg(long, env = "ENVCTL_SERVE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum TenantTarget<A: Args> {
    Tenant(A),
}

#[derive(Args, Debug)]
pub struct StackArgs {
    /// Tenant name: a lowercase RFC 1123 label of at most 40 characters
    pub name: String,
    /// Stack file
    #[arg(long, env = "ENVCTL_STACK", default_value = "stacks/tenant.yaml")]
    pub stack: PathBuf,
    /// Environment of the value store [default: the stack's]
    #[arg(long)]
    pub environment: Option<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Time budget, e.g. 15m [default: the stack's]
    #[arg(long)]
    pub budget: Option<String>,
    /// Time to live, e.g. 7d [default: the stack's]
    #[arg(long)]
    pub ttl: Option<String>,
    /// On failure, delete what this run created, in reverse order
    #[arg(long)]
    pub rollback_on_failure: bool,
    /// Who the tenant is for [default: the OS user running envctl]
    #[arg(long)]
    pub owner: Option<String>,
    /// A free-text note kept with the tenant (e.g. "demo for Initech")
    #[arg(long)]
    pub note: Option<String>,
    /// Validate and plan only
    #[arg(long)]
    pub dry_run: bool,
    /// Concurrency bound for one cloud API, e.g. --limit rds=2 (repeatable)
    #[arg(long = "limit", value_name = "API=N")]
    pub limits: Vec<String>,
    /// Nodes running at once, all APIs together
    #[arg(long, default_value_t = crate::engine::limits::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Emergencies only: create without the preflight checks (credentials, endpoint, value
    /// bucket, quotas, Kubernetes access), e.g. when an account policy denies a read they need
    #[arg(long)]
    pub skip_preflight: bool,
    /// Format of the final report
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Plan without the preflight checks (then plan calls no AWS or Kubernetes API)
    #[arg(long)]
    pub skip_preflight: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub name: String,
    /// Stack file [default: the stack of the tenant's last revision]
    #[arg(long, env = "ENVCTL_STACK")]
    pub stack: Option<PathBuf>,
    /// Environment of the value store [default: the stack's]
    #[arg(long)]
    pub environment: Option<String>,
    /// Compare the tenant's newest revision with what actually runs (the
    /// live Kubernetes objects, the AWS resources' tags) and report drift;
    /// exit 3 when there is drift
    #[arg(long, conflicts_with_all = ["stack", "environment"])]
    pub live: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct PinArgs {
    pub name: String,
    /// The revision to pin at [default: the newest, the one the tenant runs]
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    pub name: String,
    /// The revision to re-apply [default: the one before the newest]
    #[arg(long)]
    pub to: Option<i64>,
    /// Emergencies only: without the preflight checks (as for create)
    #[arg(long)]
    pub skip_preflight: bool,
    /// Format of the final report
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Only this catalog service
    #[arg(long)]
    pub service: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DestroyTarget {
    Tenant(DestroyArgs),
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    pub name: String,
    /// Do not ask for confirmation
    #[arg(long, short)]
    pub yes: bool,
    /// Also remove the tenant's values in this environment (found by itself otherwise)
    #[arg(long)]
    pub environment: Option<String>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum GetTarget {
    Tenants(GetTenantsArgs),
    /// Rollouts, newest first: status and tenant counts
    Rollouts(GetRolloutsArgs),
    /// Estimated cost per owner: tenants alive, hourly and monthly now,
    /// accrued by all of the owner's tenants (destroyed ones included)
    Costs(GetCostsArgs),
    /// Warm pools of a stack: level, stale members, idle cost per day (as `pool status`)
    Pools(PoolArgs),
}

#[derive(Subcommand, Debug)]
pub enum PoolCommand {
    /// Make members until every pool of the stack holds its size; replace stale ones
    Fill(PoolArgs),
    /// Each pool's level: available, creating, claimed, stale, idle cost per day
    Status(PoolArgs),
    /// Delete every member of the stack's pools that no tenant claimed
    Drain(PoolArgs),
}

#[derive(Args, Debug)]
pub struct PoolArgs {
    /// Stack file whose pooled resources to act on
    #[arg(long, env = "ENVCTL_STACK", default_value = "stacks/tenant.yaml")]
    pub stack: PathBuf,
    /// Only the pool of this resource id
    #[arg(long)]
    pub resource: Option<String>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct GetRolloutsArgs {
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RolloutCmd {
    #[command(subcommand)]
    pub command: Option<RolloutCommand>,
    #[command(flatten)]
    pub start: RolloutArgs,
}

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// A rollout's waves and tenants: outcome, revisions, reason [default: the newest rollout]
    Status(RolloutStatusArgs),
    /// Start no further tenant of a running rollout (tenants under way finish their step)
    Pause(RolloutIdArgs),
    /// Continue a paused rollout, or one whose envctl died (from its intent log)
    Resume(RolloutIdArgs),
    /// End a rollout: no further tenant starts; those done stay as they are
    Abort(RolloutIdArgs),
}

#[derive(Args, Debug)]
pub struct RolloutArgs {
    /// The stack (and its catalog) to roll out: the same content for every tenant
    #[arg(long, conflicts_with_all = ["catalog", "service"])]
    pub stack: Option<PathBuf>,
    /// A service catalog directory to put in place of each tenant's own (the rest of each tenant's stack stays)
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// One service whose image tag changes in each tenant's catalog (with --tag)
    #[arg(long, value_name = "NAME", requires = "tag")]
    pub service: Option<String>,
    /// The image tag --service gets
    #[arg(long, value_name = "TAG", requires = "service")]
    pub tag: Option<String>,
    /// Tenants, comma-separated names or globs (`acme,shop-*`), in the order to roll out
    #[arg(long, conflicts_with = "all")]
    pub tenants: Option<String>,
    /// Every tenant with a recorded revision (not destroyed), by name
    #[arg(long)]
    pub all: bool,
    /// The first N tenants form wave 0 alone, before any batch
    #[arg(long, default_value_t = 0)]
    pub canary: usize,
    /// Tenants per wave after the canaries, run in parallel: N, or P% of the rollout's tenants
    #[arg(long, default_value = "25%")]
    pub batch: String,
    /// Failed tenants tolerated; one more stops the rollout (the rest stay pending)
    #[arg(long, default_value_t = 0)]
    pub max_failures: usize,
    /// At most N tenants being changed (applied, gated or rolled back) at once, within a wave [default: the whole wave]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unavailable: Option<u32>,
    /// How long a tenant's Deployments must stay fully available after its rollout completed
    #[arg(long, default_value = "10s")]
    pub soak: String,
    /// After the soak, GET this URL (`{tenant}` is replaced by the tenant's name); it must answer 2xx 3 times in a row
    #[arg(long, value_name = "URL")]
    pub http_check: Option<String>,
    /// How long the --http-check may take before the tenant fails its gate
    #[arg(
        long,
        value_name = "DUR",
        default_value = "60s",
        requires = "http_check"
    )]
    pub http_check_timeout: String,
    /// A node (by id) whose replacement or deletion, though it holds data, is allowed; repeatable
    #[arg(long = "allow-replace", value_name = "RESOURCE")]
    pub allow_replace: Vec<String>,
    /// The environment every tenant is applied in [default: each tenant's latest revision's]
    #[arg(short, long)]
    pub environment: Option<String>,
    /// Format of the final report
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct RolloutStatusArgs {
    pub id: Option<String>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct RolloutIdArgs {
    pub id: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct GetCostsArgs {
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct GetTenantsArgs {
    /// Include destroyed tenants
    #[arg(long)]
    pub all: bool,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum NamedTarget {
    Tenant(NamedArgs),
}

#[derive(Args, Debug)]
pub struct NamedArgs {
    pub name: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum ReportTarget {
    Tenant(ReportArgs),
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    pub name: String,
    /// Which run: the last create (default) or the last destroy
    #[arg(long, default_value = "create")]
    pub operation: crate::lifecycle::Operation,
    /// Also write the timeline picture (SVG) here
    #[arg(long)]
    pub svg: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// List the keys visible at a scope
    Ls(EnvScope),
    /// Show values; with --service the merged view a service sees
    Get(EnvGetArgs),
    /// Set a value (VALUE '-' reads it from stdin)
    Set(EnvSetArgs),
    /// Remove a value
    Rm(EnvKeyArgs),
}

#[derive(Args, Debug)]
pub struct EnvScope {
    #[arg(long, env = "ENVCTL_ENVIRONMENT", default_value = crate::stack::model::DEFAULT_ENVIRONMENT)]
    pub environment: String,
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, requires = "tenant")]
    pub service: Option<String>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct EnvGetArgs {
    /// One KEY; all keys when omitted
    pub key: Option<String>,
    #[command(flatten)]
    pub scope: EnvScope,
    /// Show secret values in clear
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Args, Debug)]
pub struct EnvKeyArgs {
    pub key: String,
    #[arg(long, env = "ENVCTL_ENVIRONMENT", default_value = crate::stack::model::DEFAULT_ENVIRONMENT)]
    pub environment: String,
    /// Tenant level (tenant-common, or one service with --service); environment-common without it
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, requires = "tenant")]
    pub service: Option<String>,
}

#[derive(Args, Debug)]
pub struct EnvSetArgs {
    #[command(flatten)]
    pub at: EnvKeyArgs,
    pub value: String,
    /// Mark the value secret (masked when read, unless --reveal)
    #[arg(long)]
    pub secret: bool,
}
