//! `create`: walk the graph forward. A node starts when every dependency has
//! succeeded, or, on an `until: created` edge, once the dependency's apply
//! has returned its outputs (it may still be waiting until ready); its
//! references are resolved from those outputs; it is applied with retries,
//! waited on until ready, its outputs published to the value store, and the
//! journal told. On failure nothing new starts, running nodes
//! finish, and with rollback the nodes this run started are deleted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::delete::{Deleter, Target};
use super::limits::Limits;
use super::progress::Progress;
use super::redact::Redactor;
use super::retry::{wait_ready, with_retries};
use super::spec::{StoredGraph, spec_hash};
use super::walk::{After, Begin, Direction, Visit, WalkOptions, walk};
use super::{Engine, EngineError, ms_between};
use crate::budget::eta::{self, BudgetStatus, NodeProgress};
use crate::budget::{ExpectedDurations, NodeTiming, Report, Verdict, expected, report};
use crate::envapi::EnvKey;
use crate::graph::{Graph, Weight};
use crate::journal::{self, Journal, NodeRecord, NodeState};
use crate::kinds::{Backends, Cx, Kind, Outputs, kind_by_name};
use crate::lifecycle::{CreateMode, HowTo};
use crate::stack::{Resource, Stack, refs};
use crate::state::{NewRevision, TenantRow};
use crate::tenant::TenantName;

#[derive(Clone, Debug)]
pub struct CreateRequest {
    pub tenant: TenantName,
    pub stack: Stack,
    pub environment: String,
    pub budget: Duration,
    pub expires_at: Option<jiff::Timestamp>,
    pub rollback_on_failure: bool,
    /// Who asked for it; kept when `None` and the tenant already has one.
    pub owner: Option<String>,
    pub note: Option<String>,
    /// The run's id; a new one when `None` (the server picks it beforehand,
    /// so that it can show the run at once).
    pub run_id: Option<String>,
}

/// Where a node is in this run.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Waiting,
    Queued,
    Done(Instant, Instant),
    Skipped,
    Failed(Instant, Instant),
}

struct NodeResult {
    id: String,
    started: Option<Instant>,
    ended: Instant,
    result: Result<Outputs, String>,
}

/// What every node task shares.
struct Shared {
    limits: Limits,
    journal: Journal,
    engine: Engine,
    redactor: Redactor,
    started: Mutex<HashMap<String, Instant>>,
    /// Outputs of the nodes with `created` dependents, once apply returned
    /// them (the node may still be waiting until ready).
    applied: Mutex<HashMap<String, Outputs>>,
    /// When each node's apply returned (before its wait until ready): the
    /// report's critical path counts only that part across `created` edges.
    applied_at: Mutex<HashMap<String, Instant>>,
    /// The pooled nodes weighed as claims from a warm pool, not creates:
    /// those expected to hit at the start, corrected by each claim's outcome.
    claims: Mutex<BTreeSet<String>>,
}

impl Shared {
    /// What node `id` is expected to weigh: its claim when it takes (or is
    /// expected to take) a warm pool member, else its kind's create.
    fn weight(&self, graph: &Graph, expected: &ExpectedDurations, id: &str) -> Weight {
        let claimed = self.claims.lock().expect("claims table").contains(id);
        expected.node_weight(graph.kind_of(id), claimed)
    }
}

impl Engine {
    pub async fn create(&self, req: &CreateRequest) -> Result<Report, EngineError> {
        let graph = Graph::build(&req.stack)?;
        let run_id = req.run_id.clone().unwrap_or_else(super::new_run_id);
        let lock = self.state.lock_tenant(req.tenant.as_str(), &run_id).await?;
        let result = self.create_locked(req, &graph, &run_id).await;
        lock.release().await?;
        result
    }

    async fn create_locked(
        &self,
        req: &CreateRequest,
        graph: &Graph,
        run_id: &str,
    ) -> Result<Report, EngineError> {
        let tenant = req.tenant.as_str();
        let origin = Instant::now();
        let started_at = jiff::Timestamp::now();
        let prior = self.state.tenant(tenant).await?;
        // Whether create may run, and how, is the tenant status's to say: a
        // hibernated tenant is woken first, a half-destroyed one destroyed
        // first. After a failed or interrupted create, finished nodes are
        // skipped (resume); after a complete one, every node is applied
        // again, adopting what exists and converging on the stack (like
        // `terraform apply`).
        let mode = match prior.as_ref().map(|p| p.status.may_create()) {
            None => CreateMode::Fresh,
            Some(Ok(mode)) => mode,
            Some(Err(refusal)) => {
                let how = HowTo {
                    wake: &format!("`envctl wake tenant {tenant}`"),
                    destroy: &format!("`envctl destroy tenant {tenant}`"),
                };
                return Err(EngineError::Refused(refusal.sentence(tenant, &how)));
            }
        };
        let resume = mode == CreateMode::Resume;
        if let Some(pin) = self.state.pinned(tenant).await? {
            return Err(EngineError::Refused(crate::release::pin::refusal(
                tenant,
                pin.revision,
            )));
        }
        // What this run applies, recorded as the tenant's next revision when
        // it succeeds (no secret value in it).
        let snapshot = crate::release::Snapshot::of(&req.stack, &req.environment)
            .map_err(EngineError::Refused)?;
        self.state.start_run(run_id, tenant, "create").await?;
        self.state
            .upsert_tenant(&TenantRow {
                name: tenant.into(),
                environment: req.environment.clone(),
                stack_name: req.stack.name.clone(),
                stack_path: req.stack.path.display().to_string(),
                status: "creating".into(),
                created_at: prior
                    .as_ref()
                    .map(|t| t.created_at.clone())
                    .unwrap_or_else(|| started_at.to_string()),
                updated_at: started_at.to_string(),
                expires_at: req.expires_at.map(|t| t.to_string()),
                protected: prior.as_ref().is_some_and(|t| t.protected),
                owner: req.owner.clone(),
                note: req.note.clone(),
                graph_json: StoredGraph::of(graph).to_json(),
            })
            .await?;
        let records = journal::replay(&self.state.events(tenant).await?)?;
        let journal = Journal::new(self.state.clone(), tenant, run_id, &records);
        self.backends.values.ensure_bucket().await?;

        let learned: BTreeMap<String, Duration> = self
            .state
            .recent_durations(expected::LEARN_WINDOW)
            .await?
            .into_iter()
            .filter_map(|(k, samples)| expected::learn(&samples).map(|d| (k, d)))
            .collect();
        let expected = ExpectedDurations::new(&req.stack.expected, &learned);
        let hits = crate::pool::claim::expected_hits(&self.state, &req.stack, tenant).await?;
        let mut limit_bounds = req.stack.limits.clone();
        limit_bounds.extend(self.limit_overrides.clone());
        let shared = Arc::new(Shared {
            limits: Limits::new(&limit_bounds, self.parallelism),
            journal,
            engine: self.clone(),
            redactor: Redactor::default(),
            started: Mutex::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
            applied_at: Mutex::new(HashMap::new()),
            claims: Mutex::new(hits),
        });

        let (_, planned) = graph.critical_path_split(&|id| shared.weight(graph, &expected, id));
        self.progress.send(Progress::RunStarted {
            operation: "create",
            tenant: tenant.into(),
            total: graph.len(),
            budget: req.budget,
            eta: planned,
        });

        let members: BTreeSet<String> = graph.ids().map(String::from).collect();
        let mut visit = CreateVisit {
            req,
            graph,
            records: &records,
            book: Book::new(graph, self.backends.clone(), &records, resume, origin),
            shared: shared.clone(),
            expected: &expected,
            warned: false,
            cancelled: false,
            failed: false,
            error: None,
        };
        walk(
            graph,
            WalkOptions {
                direction: Direction::Forward,
                members: &members,
                limits: &shared.limits,
                cancel: &self.cancel,
                tick: Duration::from_secs(1),
            },
            &mut visit,
        )
        .await;
        if let Some(e) = visit.error {
            return Err(e);
        }
        let CreateVisit {
            book,
            failed,
            cancelled,
            ..
        } = visit;

        let total = origin.elapsed();
        let verdict = eta::verdict(total, req.budget, failed, cancelled);
        if failed && req.rollback_on_failure {
            self.rollback(req, graph, &book, &shared).await?;
        }
        let applied_at = shared.applied_at.lock().expect("applied_at table").clone();
        let report = book.report(
            graph,
            req,
            run_id,
            started_at,
            total,
            verdict,
            &|id| shared.weight(graph, &expected, id),
            &applied_at,
        );
        let status = match verdict {
            Verdict::WithinBudget | Verdict::OverBudget => "ready",
            Verdict::Cancelled => "interrupted",
            Verdict::Failed if req.rollback_on_failure => "rolled_back",
            Verdict::Failed => "failed",
        };
        if status == "ready" {
            // Before the run is finished: a run whose revision could not be
            // recorded stays unfinished, and its rerun records it.
            self.state
                .record_revision(&NewRevision {
                    tenant,
                    run_id,
                    applied_by: req
                        .owner
                        .as_deref()
                        .or(prior.as_ref().and_then(|p| p.owner.as_deref())),
                    stack_name: &req.stack.name,
                    stack_path: &req.stack.path.display().to_string(),
                    environment: &req.environment,
                    content_json: &snapshot.to_json(),
                })
                .await?;
        }
        self.state.set_tenant_status(tenant, status).await?;
        self.finish_run(run_id, status, &report, total).await?;
        Ok(report)
    }

    /// Deletes what this run started, each node as soon as what depends on
    /// it is gone. A node that failed half-way has no outputs: it is found
    /// by its tags instead.
    async fn rollback(
        &self,
        req: &CreateRequest,
        graph: &Graph,
        book: &Book<'_>,
        shared: &Shared,
    ) -> Result<(), EngineError> {
        let started: BTreeSet<String> = book
            .phase
            .iter()
            .filter(|(_, p)| matches!(p, Phase::Done(..) | Phase::Failed(..)))
            .map(|(id, _)| id.clone())
            .collect();
        self.progress.send(Progress::RollbackStarted {
            nodes: started.len(),
        });
        let deleter = Deleter {
            engine: self,
            journal: &shared.journal,
            redactor: &shared.redactor,
        };
        let mut visit = RollbackVisit {
            deleter: &deleter,
            req,
            book,
            error: None,
        };
        walk(
            graph,
            WalkOptions {
                direction: Direction::Reverse,
                members: &started,
                limits: &shared.limits,
                cancel: &self.cancel,
                tick: Duration::from_secs(1),
            },
            &mut visit,
        )
        .await;
        visit.error.map_or(Ok(()), Err)
    }
}

/// Rollback's side of the reverse walk.
struct RollbackVisit<'a> {
    deleter: &'a Deleter<'a>,
    req: &'a CreateRequest,
    book: &'a Book<'a>,
    error: Option<EngineError>,
}

impl<'a> Visit<'a> for RollbackVisit<'a> {
    type Out = Result<(), EngineError>;

    fn begin(&mut self, id: &str) -> Begin<'a, Self::Out> {
        let resource = self.req.stack.resource(id).expect("stack resource");
        let kind = kind_by_name(&resource.kind).expect("validated kind");
        let cx = match self.book.cx(self.req, resource) {
            Ok(cx) => cx,
            Err(e) => {
                self.error.get_or_insert(e);
                return Begin::Stop;
            }
        };
        let target = match self.book.outputs.get(id) {
            Some(out) => Target::Outputs(out.clone()),
            None => Target::ByTag,
        };
        let deleter = self.deleter;
        let label = id.to_string();
        Begin::Run {
            api: kind.api(),
            work: Box::pin(
                async move { deleter.delete(label, kind, &cx, target).await.map(|_| ()) },
            ),
            created: None,
        }
    }

    fn finished(&mut self, _id: &str, out: Option<Self::Out>) -> After {
        match out {
            None | Some(Ok(())) => After::Release,
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                After::Stop
            }
        }
    }
}

/// Create's side of the forward walk: skips what an earlier run finished,
/// runs the rest, stops starting nodes after a failure or a cancel, and
/// keeps the forecast current.
struct CreateVisit<'a> {
    req: &'a CreateRequest,
    graph: &'a Graph,
    records: &'a BTreeMap<String, NodeRecord>,
    book: Book<'a>,
    shared: Arc<Shared>,
    expected: &'a ExpectedDurations,
    warned: bool,
    cancelled: bool,
    failed: bool,
    /// The run's own bookkeeping failed: the walk stops, create returns it.
    error: Option<EngineError>,
}

impl<'a> Visit<'a> for CreateVisit<'a> {
    type Out = NodeResult;

    fn begin(&mut self, id: &str) -> Begin<'a, NodeResult> {
        let resource = self
            .req
            .stack
            .resource(id)
            .expect("graph nodes are stack resources");
        let hash = spec_hash(resource);
        if self.book.can_skip(id, &hash) {
            let rec = &self.records[id];
            self.book
                .outputs
                .insert(id.to_string(), Outputs::from_plain_map(rec.outputs.clone()));
            self.book.phase.insert(id.to_string(), Phase::Skipped);
            self.shared
                .engine
                .progress
                .send(Progress::NodeSkipped { id: id.to_string() });
            return Begin::Skip;
        }
        self.book.phase.insert(id.to_string(), Phase::Queued);
        match self.book.job(self.graph, self.req, resource, hash) {
            Ok(mut job) => {
                // Dependents on `created` edges start once apply has
                // returned the outputs, while this node may still be
                // getting ready.
                let created = self.graph.has_created_dependents(id).then(|| {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    job.created = Some(tx);
                    rx
                });
                Begin::Run {
                    api: job.kind.api(),
                    work: Box::pin(run_node(self.shared.clone(), job)),
                    created,
                }
            }
            Err(e) => {
                self.error.get_or_insert(e);
                Begin::Stop
            }
        }
    }

    fn finished(&mut self, id: &str, out: Option<NodeResult>) -> After {
        let r = out.unwrap_or_else(|| NodeResult {
            id: id.to_string(),
            started: None,
            ended: Instant::now(),
            result: Err("cancelled before it started".into()),
        });
        let start = r.started.unwrap_or(r.ended);
        match r.result {
            Ok(out) => {
                self.book
                    .phase
                    .insert(r.id.clone(), Phase::Done(start, r.ended));
                self.book.outputs.insert(r.id.clone(), out);
                After::Release
            }
            Err(e) => {
                self.book
                    .phase
                    .insert(r.id.clone(), Phase::Failed(start, r.ended));
                self.book.errors.push((r.id.clone(), e));
                // A node stopped by Ctrl-C may finish before the walk sees
                // the signal: it is a cancel.
                if self.shared.engine.cancel.is_cancelled() {
                    self.cancelled();
                    After::Hold
                } else if !self.cancelled {
                    self.failed = true;
                    After::Stop
                } else {
                    After::Hold
                }
            }
        }
    }

    /// Its outputs, known since apply returned, are the inputs of the
    /// dependents on `created` edges.
    fn created(&mut self, id: &str) {
        let applied = self.shared.applied.lock().expect("applied table");
        if let Some(out) = applied.get(id) {
            self.book.outputs.insert(id.to_string(), out.clone());
        }
    }

    fn cancelled(&mut self) {
        if !self.cancelled {
            self.cancelled = true;
            self.shared.engine.progress.send(Progress::Cancelling);
        }
    }

    fn tick(&mut self) {
        let (eta, status) =
            self.book
                .forecast(self.graph, &self.shared, self.expected, self.req.budget);
        if status == BudgetStatus::Overrun && !self.warned {
            self.warned = true;
            self.shared.engine.progress.send(Progress::BudgetWarning {
                forecast: self.book.origin.elapsed() + eta,
                budget: self.req.budget,
            });
        }
    }
}

/// One node, ready to run.
struct Job {
    id: String,
    kind: &'static dyn Kind,
    resource: Resource,
    hash: String,
    cx: Cx,
    /// Outputs of the node's dependencies, by id.
    inputs: HashMap<String, Outputs>,
    /// The stack's `timeouts:` for the kind, or the kind's own.
    ready_timeout: Duration,
    /// Told once apply has returned, when dependents wait only until this
    /// node is created.
    created: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Runs one node; the walk holds its slot of the API.
async fn run_node(shared: Arc<Shared>, mut job: Job) -> NodeResult {
    let engine = &shared.engine;
    let created = job.created.take();
    let started = Instant::now();
    shared
        .started
        .lock()
        .expect("started table")
        .insert(job.id.clone(), started);
    let result = apply_node(&shared, &job, created).await;
    let result = match result {
        Ok(out) => Ok(out),
        Err(message) => {
            let message = shared.redactor.redact(&message);
            if let Err(e) = shared
                .journal
                .failed(&job.id, job.kind.name(), &message)
                .await
            {
                tracing::error!(node = %job.id, error = %e, "could not journal a failure");
            }
            engine.progress.send(Progress::NodeFailed {
                id: job.id.clone(),
                error: message.clone(),
            });
            Err(message)
        }
    };
    NodeResult {
        id: job.id,
        started: Some(started),
        ended: Instant::now(),
        result,
    }
}

/// Started → apply → (created: told on `created`) → ready → publish →
/// succeeded. Errors come back as text.
async fn apply_node(
    shared: &Shared,
    job: &Job,
    created: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<Outputs, String> {
    let engine = &shared.engine;
    let kind = job.kind;
    shared
        .journal
        .started(&job.id, kind.name(), &job.hash)
        .await
        .map_err(|e| e.to_string())?;
    engine.progress.send(Progress::NodeStarted {
        id: job.id.clone(),
        kind: kind.name().into(),
    });
    let t0 = Instant::now();
    let lookup = |res: &str, out: &str| {
        job.inputs
            .get(res)
            .and_then(|o| o.get(out))
            .map(|v| v.expose().to_string())
    };
    let props = refs::substitute(&job.resource.properties, &lookup).map_err(|e| e.to_string())?;
    // The API's rules on values that came from references, before the first
    // call: a bad resolved value fails the node without creating anything.
    if let Some(issue) = kind.check(&props).into_iter().next() {
        return Err(shared.redactor.redact(&format!(
            "property '{}' (after resolving references): {}",
            issue.path.join("."),
            issue.message
        )));
    }
    // A pooled node takes a warm member when there is one (a hit): the kind
    // hands it to the tenant; otherwise (a miss) it is created as usual.
    // (A poolable node without `pool:` still goes to the member its tenant
    // holds: a rollback re-applies a revision, which does not record it.)
    let member = match kind.poolable() {
        Some(_) => crate::pool::claim::take(&engine.state, &job.cx, &job.resource)
            .await
            .map_err(|e| e.to_string())?,
        None => None,
    };
    if kind.poolable().is_some() {
        let mut claims = shared.claims.lock().expect("claims table");
        match member {
            Some(_) => claims.insert(job.id.clone()),
            None => claims.remove(&job.id),
        };
    }
    let on_retry = |attempt, e: &crate::kinds::KindError| {
        engine.progress.send(Progress::NodeRetrying {
            id: job.id.clone(),
            attempt,
            error: shared.redactor.redact(&e.to_string()),
        })
    };
    let outputs = match (&member, kind.poolable()) {
        (Some(m), Some(poolable)) => {
            engine.progress.send(Progress::NodeWaiting {
                id: job.id.clone(),
                reason: format!("claiming pool member {} ({})", m.member, m.physical_id),
            });
            let recorded = Outputs::from_plain_map(m.outputs.clone());
            with_retries(
                &engine.policy,
                &engine.cancel,
                || poolable.claim(&job.cx, &recorded, &props),
                on_retry,
            )
            .await
            .map(|out| out.plain(crate::pool::claim::MEMBER_OUTPUT, m.member.clone()))
        }
        _ => {
            with_retries(
                &engine.policy,
                &engine.cancel,
                || kind.apply(&job.cx, &props),
                on_retry,
            )
            .await
        }
    }
    .map_err(|e| e.to_string())?;
    // An output is secret when the stack publishes it as secret, or when it
    // holds another resource's secret (an env.value whose value is a
    // password reference): then it is never journaled, and the redactor
    // masks it everywhere.
    let outputs = outputs.conceal(|name, value| {
        job.resource
            .publish
            .iter()
            .any(|p| p.secret && p.output == name)
            || shared.redactor.holds_secret(value)
    });
    shared.redactor.learn(&outputs);
    shared
        .applied_at
        .lock()
        .expect("applied_at table")
        .insert(job.id.clone(), Instant::now());
    if let Some(tx) = created {
        shared
            .applied
            .lock()
            .expect("applied table")
            .insert(job.id.clone(), outputs.clone());
        // The walk may have stopped listening (a cancelled run): fine.
        let _ = tx.send(());
    }
    wait_ready(
        &engine.policy,
        &engine.cancel,
        job.ready_timeout,
        || kind.ready(&job.cx, &outputs),
        |reason| {
            engine.progress.send(Progress::NodeWaiting {
                id: job.id.clone(),
                reason: reason.to_string(),
            })
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    for (key, p) in job.cx.publish.iter().zip(&job.resource.publish) {
        let value = outputs.get(&p.output).ok_or_else(|| {
            format!(
                "kind {} gave no output '{}' to publish",
                kind.name(),
                p.output
            )
        })?;
        engine
            .backends
            .values
            .put(key, value.expose(), p.secret || value.is_secret())
            .await
            .map_err(|e| e.to_string())?;
    }
    shared
        .journal
        .succeeded(&job.id, kind.name(), &outputs, &job.hash)
        .await
        .map_err(|e| e.to_string())?;
    let elapsed = t0.elapsed();
    // A claim is learned apart from the kind's creates.
    let learned_as = match member {
        Some(_) => crate::budget::expected::claim_key(kind.name()),
        None => kind.name().to_string(),
    };
    if let Err(e) = engine.state.record_duration(&learned_as, elapsed).await {
        tracing::warn!(error = %e, "could not record a duration");
    }
    engine.progress.send(Progress::NodeSucceeded {
        id: job.id.clone(),
        kind: kind.name().into(),
        elapsed,
    });
    Ok(outputs)
}

/// The run's bookkeeping: where each node is, its outputs, what failed.
struct Book<'a> {
    records: &'a BTreeMap<String, NodeRecord>,
    resume: bool,
    origin: Instant,
    backends: Arc<Backends>,
    phase: BTreeMap<String, Phase>,
    outputs: HashMap<String, Outputs>,
    errors: Vec<(String, String)>,
}

impl<'a> Book<'a> {
    fn new(
        graph: &Graph,
        backends: Arc<Backends>,
        records: &'a BTreeMap<String, NodeRecord>,
        resume: bool,
        origin: Instant,
    ) -> Self {
        let phase = graph
            .ids()
            .map(|id| (id.to_string(), Phase::Waiting))
            .collect();
        Self {
            records,
            resume,
            origin,
            backends,
            phase,
            outputs: HashMap::new(),
            errors: Vec::new(),
        }
    }

    /// Resuming, a node that succeeded with the same spec and no secret
    /// outputs (which the journal cannot give back) is not applied again.
    fn can_skip(&self, id: &str, hash: &str) -> bool {
        self.resume
            && self.records.get(id).is_some_and(|r| {
                r.state == NodeState::Succeeded
                    && r.spec_hash.as_deref() == Some(hash)
                    && !r.had_secrets
            })
    }

    fn cx(&self, req: &CreateRequest, resource: &Resource) -> Result<Cx, EngineError> {
        Ok(Cx {
            tenant: req.tenant.clone(),
            stack: req.stack.name.clone(),
            environment: req.environment.clone(),
            resource_id: resource.id.clone(),
            expires_at: req.expires_at,
            publish: publish_keys(&req.tenant, &req.environment, resource)?,
            interrupted: self
                .records
                .get(&resource.id)
                .is_some_and(|r| r.state == NodeState::Started),
            pool: None,
            backends: self.backends.clone(),
        })
    }

    fn job(
        &self,
        graph: &Graph,
        req: &CreateRequest,
        resource: &Resource,
        hash: String,
    ) -> Result<Job, EngineError> {
        let kind = kind_by_name(&resource.kind).expect("the stack was validated against the kinds");
        let inputs = graph
            .dependencies(&resource.id)
            .into_iter()
            .filter_map(|d| self.outputs.get(d).map(|o| (d.to_string(), o.clone())))
            .collect();
        Ok(Job {
            id: resource.id.clone(),
            kind,
            resource: resource.clone(),
            hash,
            cx: self.cx(req, resource)?,
            inputs,
            created: None,
            ready_timeout: req
                .stack
                .timeouts
                .get(&resource.kind)
                .copied()
                .unwrap_or_else(|| kind.ready_timeout()),
        })
    }

    fn forecast(
        &self,
        graph: &Graph,
        shared: &Shared,
        expected: &ExpectedDurations,
        budget: Duration,
    ) -> (Duration, BudgetStatus) {
        let started = shared.started.lock().expect("started table").clone();
        let now = Instant::now();
        let progress_of = |id: &str| match self.phase.get(id) {
            Some(Phase::Done(..)) | Some(Phase::Skipped) => NodeProgress::Done,
            _ => match started.get(id) {
                Some(t) if !matches!(self.phase.get(id), Some(Phase::Failed(..))) => {
                    let elapsed = now - *t;
                    if self.outputs.contains_key(id) {
                        // Created, waiting until ready.
                        NodeProgress::Created { elapsed }
                    } else {
                        NodeProgress::Running { elapsed }
                    }
                }
                _ => NodeProgress::Pending,
            },
        };
        let eta = eta::eta(graph, &progress_of, &|id| {
            shared.weight(graph, expected, id)
        });
        let elapsed = self.origin.elapsed();
        let status = eta::status(elapsed, eta, budget);
        let done = self
            .phase
            .values()
            .filter(|p| matches!(p, Phase::Done(..) | Phase::Skipped))
            .count();
        // In flight: spawned and not finished (running, or waiting for a
        // slot of its API).
        let running = self
            .phase
            .values()
            .filter(|p| matches!(p, Phase::Queued))
            .count();
        shared.engine.progress.send(Progress::Status {
            done,
            running,
            total: graph.len(),
            elapsed,
            eta,
            budget,
            status,
        });
        (eta, status)
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        graph: &Graph,
        req: &CreateRequest,
        run_id: &str,
        started_at: jiff::Timestamp,
        total: Duration,
        verdict: Verdict,
        expected: &dyn Fn(&str) -> Weight,
        applied_at: &HashMap<String, Instant>,
    ) -> Report {
        let nodes: Vec<NodeTiming> = graph
            .ids()
            .map(|id| {
                let (start, end, status) = match self.phase.get(id) {
                    Some(Phase::Done(s, e)) => (Some(*s), Some(*e), "succeeded"),
                    Some(Phase::Failed(s, e)) => (Some(*s), Some(*e), "failed"),
                    Some(Phase::Skipped) => (None, None, "skipped"),
                    _ => (None, None, "not_started"),
                };
                NodeTiming {
                    id: id.to_string(),
                    kind: graph.kind_of(id).to_string(),
                    start_ms: start.map(|t| ms_between(self.origin, t)),
                    end_ms: end.map(|t| ms_between(self.origin, t)),
                    applied_ms: start
                        .and(applied_at.get(id))
                        .map(|t| ms_between(self.origin, *t)),
                    status: status.into(),
                    expected_ms: expected(id).total.as_millis() as u64,
                }
            })
            .collect();
        let (critical_path, critical_path_ms) = report::actual_critical_path(graph, &nodes);
        Report {
            tenant: req.tenant.to_string(),
            run_id: run_id.into(),
            operation: "create".into(),
            stack: req.stack.name.clone(),
            environment: req.environment.clone(),
            started_at: started_at.to_string(),
            budget_ms: req.budget.as_millis() as u64,
            total_ms: total.as_millis() as u64,
            verdict,
            nodes,
            critical_path,
            critical_path_ms,
            errors: self.errors.clone(),
        }
    }
}

/// The value-store keys a resource publishes to.
pub(super) fn publish_keys(
    tenant: &TenantName,
    environment: &str,
    resource: &Resource,
) -> Result<Vec<EnvKey>, EngineError> {
    resource
        .publish
        .iter()
        .map(|p| EnvKey::new(environment, Some(tenant.as_str()), p.level.clone(), &p.key))
        .collect::<Result<_, _>>()
        .map_err(EngineError::from)
}
