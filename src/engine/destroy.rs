//! `destroy`: delete what the journal knows in reverse dependency order
//! (dependents first, independent nodes side by side), then sweep every kind
//! for resources tagged with the tenant — so a tenant whose state was lost is
//! still removed completely — and finally the tenant's environment values.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::create::{delete_by_tag, delete_with_retries};
use super::limits::Limits;
use super::progress::Progress;
use super::retry::{StepError, with_retries};
use super::spec::StoredGraph;
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

struct Deletion {
    id: String,
    kind: String,
    start: Instant,
    end: Instant,
    error: Option<String>,
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
        let cx_for = |id: &str| Cx {
            tenant: req.tenant.clone(),
            stack: stack_name.clone(),
            environment: environment.clone(),
            resource_id: id.to_string(),
            expires_at: None,
            publish: Vec::new(),
            interrupted: false,
            backends: self.backends.clone(),
        };

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
        let limits = Arc::new(Limits::new(&self.limit_overrides, self.parallelism));
        let mut deletions: Vec<Deletion> = Vec::new();
        for level in reverse_levels(&graph, &to_delete) {
            if self.cancel.is_cancelled() {
                break;
            }
            let batch = level.iter().map(|id| {
                let rec = &records[id];
                let cx = cx_for(id);
                let journal = journal.clone();
                let limits = limits.clone();
                async move {
                    let kind = kind_by_name(&rec.kind);
                    let _permit = limits
                        .acquire(kind.map(|k| k.api()).unwrap_or("unknown"))
                        .await;
                    let start = Instant::now();
                    let error = match kind {
                        None => Some(format!(
                            "kind '{}' is unknown to this envctl; remove it by hand",
                            rec.kind
                        )),
                        Some(kind) => {
                            journal.delete_started(id, kind.name()).await?;
                            let outcome = if rec.outputs.is_empty() {
                                delete_by_tag(self, kind, &cx).await
                            } else {
                                let out = Outputs::from_plain_map(rec.outputs.clone());
                                delete_with_retries(self, kind, &cx, &out).await
                            };
                            match outcome {
                                Ok(()) => {
                                    journal.deleted(id, kind.name()).await?;
                                    None
                                }
                                Err(e) => {
                                    journal
                                        .delete_failed(id, kind.name(), &e.to_string())
                                        .await?;
                                    Some(e.to_string())
                                }
                            }
                        }
                    };
                    let d = Deletion {
                        id: id.clone(),
                        kind: rec.kind.clone(),
                        start,
                        end: Instant::now(),
                        error,
                    };
                    self.report_deletion(&d);
                    Ok::<_, EngineError>(d)
                }
            });
            for d in join_all(batch).await {
                deletions.push(d?);
            }
        }

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
                    let start = Instant::now();
                    let cx = cx_for(&f.resource_id);
                    journal.delete_started(&f.resource_id, kind.name()).await?;
                    let error = match delete_with_retries(self, *kind, &cx, &f.outputs).await {
                        Ok(()) => {
                            journal.deleted(&f.resource_id, kind.name()).await?;
                            None
                        }
                        Err(e) => {
                            journal
                                .delete_failed(&f.resource_id, kind.name(), &e.to_string())
                                .await?;
                            Some(e.to_string())
                        }
                    };
                    let d = Deletion {
                        id: format!("{} (sweep)", f.resource_id),
                        kind: kind.name().into(),
                        start,
                        end: Instant::now(),
                        error,
                    };
                    self.report_deletion(&d);
                    deletions.push(d);
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
        self.finish_run(run_id, status, &report, total).await?;
        Ok(report)
    }

    fn report_deletion(&self, d: &Deletion) {
        match &d.error {
            None => self.progress.send(Progress::NodeDeleted {
                id: d.id.clone(),
                kind: d.kind.clone(),
                elapsed: d.end - d.start,
            }),
            Some(e) => self.progress.send(Progress::NodeFailed {
                id: d.id.clone(),
                error: e.clone(),
            }),
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

/// Groups `members` into levels for deletion: a member is in a later level
/// than every member that depends on it, directly or through non-members.
fn reverse_levels(graph: &Graph, members: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut level: HashMap<String, usize> = HashMap::new();
    // Reverse topological order visits every dependent before its dependencies.
    for id in graph.reverse_topo_order() {
        let l = graph
            .dependents(&id)
            .into_iter()
            .filter_map(|d| level.get(d).map(|l| l + usize::from(members.contains(d))))
            .max()
            .unwrap_or(0);
        level.insert(id, l);
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    for id in members {
        let l = level.get(id).copied().unwrap_or(0);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(id.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_are_deleted_before_their_dependencies() {
        let g = Graph::from_edges(
            vec![
                ("a".into(), "k".into()),
                ("b".into(), "k".into()),
                ("c".into(), "k".into()),
            ],
            vec![("a".into(), "b".into()), ("b".into(), "c".into())],
        )
        .unwrap();
        let all: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            reverse_levels(&g, &all),
            vec![
                vec!["c".to_string()],
                vec!["b".to_string()],
                vec!["a".to_string()]
            ]
        );
        let some: BTreeSet<String> = ["a", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            reverse_levels(&g, &some),
            vec![vec!["c".to_string()], vec!["a".to_string()]]
        );
    }
}
