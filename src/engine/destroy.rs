//! `destroy`: delete what the journal knows in reverse dependency order —
//! each node as soon as everything that depends on it is gone — then sweep
//! every kind for resources tagged with the tenant — so a tenant whose state
//! was lost is still removed completely — and finally the tenant's
//! environment values.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::delete::{Deleter, Deletion, Target};
use super::limits::Limits;
use super::progress::Progress;
use super::redact::Redactor;
use super::retry::{StepError, with_retries};
use super::spec::StoredGraph;
use super::walk::{After, Begin, Direction, Visit, WalkOptions, walk};
use super::{Engine, EngineError, ms_between};
use crate::budget::{NodeTiming, Report, Verdict};
use crate::graph::Graph;
use crate::journal::{self, Journal, NodeRecord, NodeState};
use crate::kinds::{Cx, KindError, Outputs, SweepCx, all_kinds, kind_by_name};
use crate::stack::model::DEFAULT_BUDGET;
use crate::tenant::TenantName;

#[derive(Clone, Debug)]
pub struct DestroyRequest {
    pub tenant: TenantName,
    /// Environment whose values to remove, besides the one in the state and
    /// those found in the value store.
    pub environment: Option<String>,
    /// The run's id; a new one when `None`.
    pub run_id: Option<String>,
}

impl Engine {
    pub async fn destroy(&self, req: &DestroyRequest) -> Result<Report, EngineError> {
        let run_id = req.run_id.clone().unwrap_or_else(super::new_run_id);
        let lock = self.state.lock_tenant(req.tenant.as_str(), &run_id).await?;
        let result = self.destroy_locked(req, &run_id).await;
        lock.release().await?;
        result
    }

    async fn destroy_locked(
        &self,
        req: &DestroyRequest,
        run_id: &str,
    ) -> Result<Report, EngineError> {
        let tenant = req.tenant.as_str();
        let origin = Instant::now();
        let started_at = jiff::Timestamp::now();
        let prior = self.state.tenant(tenant).await?;
        self.state.start_run(run_id, tenant, "destroy").await?;
        if prior.is_some() {
            self.state.set_tenant_status(tenant, "destroying").await?;
        }
        let records = journal::replay(&self.state.events(tenant).await?)?;
        let journal = Journal::new(self.state.clone(), tenant, run_id, &records);
        let stored = prior
            .as_ref()
            .map(|t| StoredGraph::from_json(&t.graph_json))
            .unwrap_or_default();
        let graph = destroy_graph(&stored, &records)?;
        let environment = prior
            .as_ref()
            .map(|t| t.environment.clone())
            .or_else(|| req.environment.clone())
            .unwrap_or_else(|| crate::stack::model::DEFAULT_ENVIRONMENT.into());
        let stack_name = prior
            .as_ref()
            .map(|t| t.stack_name.clone())
            .unwrap_or_default();
        let base_cx = Cx {
            tenant: req.tenant.clone(),
            stack: stack_name.clone(),
            environment: environment.clone(),
            resource_id: String::new(),
            expires_at: None,
            publish: Vec::new(),
            interrupted: false,
            pool: None,
            backends: self.backends.clone(),
        };
        let cx_for = |id: &str| cx_of(&base_cx, id);

        let to_delete: BTreeSet<String> = records
            .iter()
            .filter(|(_, r)| !matches!(r.state, NodeState::Pending | NodeState::Deleted))
            .map(|(id, _)| id.clone())
            .collect();
        self.progress.send(Progress::RunStarted {
            operation: "destroy",
            tenant: tenant.into(),
            total: to_delete.len(),
            budget: DEFAULT_BUDGET,
            eta: Duration::ZERO,
        });
        let limits = Limits::new(&self.limit_overrides, self.parallelism);
        let redactor = Redactor::default();
        let deleter = Deleter {
            engine: self,
            journal: &journal,
            redactor: &redactor,
        };
        let mut visit = DestroyVisit {
            deleter: &deleter,
            records: &records,
            base_cx: &base_cx,
            deletions: Vec::new(),
            error: None,
        };
        walk(
            &graph,
            WalkOptions {
                direction: Direction::Reverse,
                members: &to_delete,
                limits: &limits,
                cancel: &self.cancel,
                tick: Duration::from_secs(1),
            },
            &mut visit,
        )
        .await;
        if let Some(e) = visit.error {
            return Err(e);
        }
        let mut deletions = visit.deletions;

        let used_kinds: BTreeSet<&str> = records
            .values()
            .map(|r| r.kind.as_str())
            .chain(stored.nodes.iter().map(|(_, k)| k.as_str()))
            .collect();
        // The sweep: whatever is still tagged with the tenant, in reverse
        // registry order (dependents before what they depend on).
        if !self.cancel.is_cancelled() {
            let sweep_cx = SweepCx {
                tenant: req.tenant.clone(),
                backends: self.backends.clone(),
            };
            for kind in all_kinds().iter().rev() {
                let found = with_retries(
                    &self.policy,
                    &self.cancel,
                    || kind.sweep(&sweep_cx),
                    |_, _| {},
                )
                .await;
                let found = match found {
                    Ok(f) => f,
                    // A tenant that never used the kind (by its log) cannot
                    // have resources of it: skip, say so.
                    Err(StepError::Kind(KindError::Unconfigured(reason)))
                        if !used_kinds.contains(kind.name()) =>
                    {
                        self.progress.send(Progress::SweepSkipped {
                            kind: kind.name().into(),
                            reason,
                        });
                        continue;
                    }
                    Err(e) => {
                        let now = Instant::now();
                        deletions.push(Deletion {
                            id: format!("sweep:{}", kind.name()),
                            kind: kind.name().into(),
                            start: now,
                            end: now,
                            error: Some(e.to_string()),
                        });
                        continue;
                    }
                };
                self.progress.send(Progress::Sweep {
                    kind: kind.name().into(),
                    found: found.len(),
                });
                for f in found {
                    let cx = cx_for(&f.resource_id);
                    let label = format!("{} (sweep)", f.resource_id);
                    let target = Target::Outputs(f.outputs);
                    deletions.push(deleter.delete(label, *kind, &cx, target).await?);
                }
            }
        }

        // The tenant's values, in every environment where it has some.
        if !self.cancel.is_cancelled() {
            let mut envs: BTreeSet<String> = self
                .backends
                .values
                .tenant_environments(tenant)
                .await?
                .into_iter()
                .collect();
            envs.insert(environment.clone());
            if let Some(e) = &req.environment {
                envs.insert(e.clone());
            }
            for env in envs {
                self.backends.values.delete_tenant(&env, tenant).await?;
            }
        }

        let total = origin.elapsed();
        let failed = deletions.iter().any(|d| d.error.is_some());
        let verdict = if self.cancel.is_cancelled() {
            Verdict::Cancelled
        } else if failed {
            Verdict::Failed
        } else {
            Verdict::WithinBudget
        };
        let report = Report {
            tenant: tenant.into(),
            run_id: run_id.into(),
            operation: "destroy".into(),
            stack: stack_name,
            environment,
            started_at: started_at.to_string(),
            budget_ms: DEFAULT_BUDGET.as_millis() as u64,
            total_ms: total.as_millis() as u64,
            verdict,
            nodes: deletions
                .iter()
                .map(|d| NodeTiming {
                    id: d.id.clone(),
                    kind: d.kind.clone(),
                    start_ms: Some(ms_between(origin, d.start)),
                    end_ms: Some(ms_between(origin, d.end)),
                    applied_ms: None,
                    status: if d.error.is_some() {
                        "delete_failed"
                    } else {
                        "deleted"
                    }
                    .into(),
                    expected_ms: 0,
                })
                .collect(),
            critical_path: Vec::new(),
            critical_path_ms: 0,
            errors: deletions
                .iter()
                .filter_map(|d| d.error.clone().map(|e| (d.id.clone(), e)))
                .collect(),
        };
        let status = match verdict {
            Verdict::WithinBudget | Verdict::OverBudget => "destroyed",
            Verdict::Cancelled => "interrupted",
            Verdict::Failed => "destroy_failed",
        };
        if prior.is_some() {
            self.state.set_tenant_status(tenant, status).await?;
        }
        if status == "destroyed" {
            // Warm-pool members it claimed went with it (they carried its
            // tags); their rows are history now.
            self.state.forget_claimed_pool_members(tenant).await?;
        }
        self.finish_run(run_id, status, &report, total).await?;
        Ok(report)
    }
}

/// The context of node `id` of the tenant of `base`.
fn cx_of(base: &Cx, id: &str) -> Cx {
    Cx {
        resource_id: id.to_string(),
        ..base.clone()
    }
}

/// Destroy's side of the reverse walk: each journaled node deleted by its
/// outputs (by its tags when it has none).
struct DestroyVisit<'a> {
    deleter: &'a Deleter<'a>,
    records: &'a BTreeMap<String, NodeRecord>,
    /// The tenant's context; each node's is this with its id.
    base_cx: &'a Cx,
    deletions: Vec<Deletion>,
    /// The run's own bookkeeping failed: the walk stops, destroy returns it.
    error: Option<EngineError>,
}

impl<'a> Visit<'a> for DestroyVisit<'a> {
    type Out = Result<Deletion, EngineError>;

    fn begin(&mut self, id: &str) -> Begin<'a, Self::Out> {
        let rec = &self.records[id];
        let Some(kind) = kind_by_name(&rec.kind) else {
            let now = Instant::now();
            let d = Deletion {
                id: id.to_string(),
                kind: rec.kind.clone(),
                start: now,
                end: now,
                error: Some(format!(
                    "kind '{}' is unknown to this envctl; remove it by hand",
                    rec.kind
                )),
            };
            self.deleter.report(&d);
            self.deletions.push(d);
            return Begin::Skip;
        };
        let target = if rec.outputs.is_empty() {
            Target::ByTag
        } else {
            Target::Outputs(Outputs::from_plain_map(rec.outputs.clone()))
        };
        let cx = cx_of(self.base_cx, id);
        let deleter = self.deleter;
        let label = id.to_string();
        Begin::Run {
            api: kind.api(),
            work: Box::pin(async move { deleter.delete(label, kind, &cx, target).await }),
            created: None,
        }
    }

    fn finished(&mut self, _id: &str, out: Option<Self::Out>) -> After {
        match out {
            // Cancelled before it started: nothing more starts anyway.
            None => After::Release,
            Some(Ok(d)) => {
                self.deletions.push(d);
                After::Release
            }
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                After::Stop
            }
        }
    }
}

/// The stored graph of the last create, plus any journaled node it lacks
/// (as a node without edges).
fn destroy_graph(
    stored: &StoredGraph,
    records: &BTreeMap<String, NodeRecord>,
) -> Result<Graph, EngineError> {
    let mut g = stored.clone();
    let known: BTreeSet<String> = g.nodes.iter().map(|(id, _)| id.clone()).collect();
    for (id, r) in records {
        if !known.contains(id) {
            g.nodes.push((id.clone(), r.kind.clone()));
        }
    }
    Ok(g.to_graph()?)
}
