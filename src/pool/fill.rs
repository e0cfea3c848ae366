//! Making and deleting pool members: `envctl pool fill` (and `envctl
//! serve`'s refill) tops each pool of a stack up to its size, replacing
//! members past `max_age` or made from other properties; `envctl pool
//! drain` deletes every member no tenant claimed. Each member is made by
//! its kind's own apply and readiness wait under a pool [`Cx`] (see
//! `crate::pool` for how its properties are resolved), and deleted by its
//! kind's delete and gone wait, with the engine's retries.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::{FillPlan, drained, fingerprint, key, member_name, plan};
use crate::engine::RetryPolicy;
use crate::engine::retry::{wait_ready, with_retries};
use crate::kinds::{Backends, Cx, Kind, Outputs, Poolable, Props, kind_by_name};
use crate::stack::{Resource, Stack, refs};
use crate::state::{PoolMember, StateError, StateStore};
use crate::tenant::TenantName;

/// What one pool's fill or drain did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PoolOutcome {
    pub pool: String,
    /// Members made (or finished) and now available.
    pub created: Vec<String>,
    /// Members deleted.
    pub deleted: Vec<String>,
    /// Members that failed, with the (redacted) error.
    pub failed: Vec<(String, String)>,
    /// Why this pool was left alone: another process is filling it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Makes and deletes members of a stack's pools.
pub struct Pooler {
    pub backends: Arc<Backends>,
    pub state: StateStore,
    pub policy: RetryPolicy,
    pub cancel: CancellationToken,
}

/// The pooled resources of `stack` (all, or only `only`).
pub fn pooled<'s>(stack: &'s Stack, only: Option<&str>) -> Vec<&'s Resource> {
    stack
        .resources
        .iter()
        .filter(|r| r.pool.is_some() && only.is_none_or(|o| o == r.id))
        .collect()
}

fn kind_of(r: &Resource) -> (&'static dyn Kind, &'static dyn Poolable) {
    let kind = kind_by_name(&r.kind).expect("the stack was validated against the kinds");
    let poolable = kind
        .poolable()
        .expect("pool: on a kind that cannot be pooled is refused at load");
    (kind, poolable)
}

impl Pooler {
    /// The context of `member` of `r`'s pool: the member's neutral name as
    /// the "tenant" of physical names, `envctl:pool` instead of a tenant tag.
    fn member_cx(&self, stack: &Stack, resource_id: &str, member: &str) -> Cx {
        Cx {
            tenant: TenantName::parse(member).expect("member names are valid tenant names"),
            stack: stack.name.clone(),
            environment: stack.environment.clone(),
            resource_id: resource_id.to_string(),
            expires_at: None,
            publish: Vec::new(),
            interrupted: false,
            pool: Some(key(&stack.name, resource_id)),
            backends: self.backends.clone(),
        }
    }

    /// `r`'s properties for a member: without the claim-time ones, with
    /// the kind's member properties, references to adopted networks
    /// resolved by adopting them (read-only).
    async fn member_props(&self, stack: &Stack, r: &Resource, cx: &Cx) -> Result<Props, String> {
        let (_, poolable) = kind_of(r);
        let skip = poolable.claim_props();
        let props: Props = r
            .properties
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let found = refs::references(&serde_json::Value::Object(props.clone()))
            .map_err(|e| e.to_string())?;
        let mut inputs: BTreeMap<String, Outputs> = BTreeMap::new();
        for f in found {
            if inputs.contains_key(&f.resource) {
                continue;
            }
            let dep = stack
                .resource(&f.resource)
                .ok_or_else(|| format!("reference {f} names no resource"))?;
            let dep_kind = kind_by_name(&dep.kind).expect("validated");
            let dep_cx = Cx {
                resource_id: dep.id.clone(),
                ..cx.clone()
            };
            let out = with_retries(
                &self.policy,
                &self.cancel,
                || dep_kind.apply(&dep_cx, &dep.properties),
                |_, _| {},
            )
            .await
            .map_err(|e| format!("adopting {} for the pool: {e}", dep.id))?;
            inputs.insert(dep.id.clone(), out);
        }
        let lookup = |res: &str, out: &str| {
            inputs
                .get(res)
                .and_then(|o| o.get(out))
                .map(|v| v.expose().to_string())
        };
        let mut props = refs::substitute(&props, &lookup).map_err(|e| e.to_string())?;
        poolable
            .member_props(&mut props)
            .map_err(|e| e.to_string())?;
        Ok(props)
    }

    /// Makes (or finishes) `member` and records it available.
    async fn make(&self, stack: &Stack, r: &Resource, member: &str) -> Result<(), String> {
        let (kind, poolable) = kind_of(r);
        let cx = self.member_cx(stack, &r.id, member);
        let props = self.member_props(stack, r, &cx).await?;
        let out = with_retries(
            &self.policy,
            &self.cancel,
            || kind.apply(&cx, &props),
            |_, _| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        let timeout = stack
            .timeouts
            .get(&r.kind)
            .copied()
            .unwrap_or_else(|| kind.ready_timeout());
        wait_ready(
            &self.policy,
            &self.cancel,
            timeout,
            || kind.ready(&cx, &out),
            |_| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        self.state
            .pool_member_ready(
                &key(&stack.name, &r.id),
                member,
                &poolable.physical_id(&out),
                &out.plain_map(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Deletes `member` (unless a create claimed it meanwhile) and forgets it.
    async fn delete(&self, stack: &Stack, r: &Resource, m: &PoolMember) -> Result<bool, String> {
        let pool = key(&stack.name, &r.id);
        if !self
            .state
            .retire_pool_member(&pool, &m.member)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
        let (kind, poolable) = kind_of(r);
        let cx = self.member_cx(stack, &r.id, &m.member);
        let out = poolable.member_outputs(&cx, &Outputs::from_plain_map(m.outputs.clone()));
        with_retries(
            &self.policy,
            &self.cancel,
            || kind.delete(&cx, &out),
            |_, _| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        wait_ready(
            &self.policy,
            &self.cancel,
            kind.delete_timeout(),
            || kind.gone(&cx, &out),
            |_| {},
        )
        .await
        .map_err(|e| e.to_string())?;
        self.state
            .remove_pool_member(&pool, &m.member)
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Tops every pool of `stack` (or only resource `only`'s) up to its size.
    pub async fn fill(
        &self,
        stack: &Stack,
        only: Option<&str>,
    ) -> Result<Vec<PoolOutcome>, StateError> {
        let mut outcomes = Vec::new();
        for r in pooled(stack, only) {
            let spec = r.pool.as_ref().expect("pooled");
            let pool = key(&stack.name, &r.id);
            // One filler per pool (a CLI fill while `envctl serve` refills
            // would otherwise both make the missing members): the state
            // store's lock table, as for a tenant's run, with its heartbeat.
            let lock = match self
                .state
                .lock_tenant(&format!("pool/{pool}"), &crate::engine::new_run_id())
                .await
            {
                Ok(lock) => lock,
                Err(crate::state::LockHeld::Busy { host, pid, .. }) => {
                    outcomes.push(PoolOutcome {
                        pool,
                        skipped: Some(format!(
                            "pid {pid} on {host} is filling it; nothing to do here"
                        )),
                        ..Default::default()
                    });
                    continue;
                }
                Err(crate::state::LockHeld::State(e)) => return Err(e),
            };
            let fp = fingerprint(r);
            let members = self.state.pool_members(Some(&pool)).await?;
            let FillPlan {
                retire,
                resume,
                create,
            } = plan(
                &members,
                spec.size,
                spec.max_age,
                &fp,
                jiff::Timestamp::now(),
            );
            let mut o = PoolOutcome {
                pool: pool.clone(),
                ..Default::default()
            };
            let mut names = resume;
            for _ in 0..create {
                let name = member_name();
                self.state.add_pool_member(&pool, &name, &fp).await?;
                names.push(name);
            }
            let made = join_all(names.iter().map(|n| self.make(stack, r, n))).await;
            for (name, result) in names.into_iter().zip(made) {
                match result {
                    Ok(()) => o.created.push(name),
                    Err(e) => o.failed.push((name, e)),
                }
            }
            let old: Vec<&PoolMember> = members
                .iter()
                .filter(|m| retire.contains(&m.member))
                .collect();
            self.delete_all(stack, r, &old, &mut o).await;
            lock.release().await?;
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    /// Deletes every member of `stack`'s pools (or only resource `only`'s)
    /// that no tenant claimed.
    pub async fn drain(
        &self,
        stack: &Stack,
        only: Option<&str>,
    ) -> Result<Vec<PoolOutcome>, StateError> {
        let mut outcomes = Vec::new();
        for r in pooled(stack, only) {
            let pool = key(&stack.name, &r.id);
            let members = self.state.pool_members(Some(&pool)).await?;
            let names = drained(&members);
            let gone: Vec<&PoolMember> = members
                .iter()
                .filter(|m| names.contains(&m.member))
                .collect();
            let mut o = PoolOutcome {
                pool,
                ..Default::default()
            };
            self.delete_all(stack, r, &gone, &mut o).await;
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    async fn delete_all(
        &self,
        stack: &Stack,
        r: &Resource,
        members: &[&PoolMember],
        o: &mut PoolOutcome,
    ) {
        let results = join_all(members.iter().map(|m| self.delete(stack, r, m))).await;
        for (m, result) in members.iter().zip(results) {
            match result {
                Ok(true) => o.deleted.push(m.member.clone()),
                Ok(false) => {} // claimed meanwhile: its tenant's now
                Err(e) => o.failed.push((m.member.clone(), e)),
            }
        }
    }
}
