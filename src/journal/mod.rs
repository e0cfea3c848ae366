//! The intent log of a tenant: one state per node, one function that decides
//! which transition is legal ([`next_state`]), and replay of the recorded
//! events into the current picture (used to resume a run).
//!
//! "Started" is recorded before a kind is called and "succeeded" with the
//! plain outputs after, so a crash at any instant leaves a log from which a
//! rerun knows what may exist: a started node is applied again (and adopts
//! what the crashed run made), a succeeded one is skipped.

mod transitions;

pub use transitions::{Event, IllegalTransition, NodeState, next_state};

use std::collections::BTreeMap;

use crate::kinds::Outputs;
use crate::state::{EventRow, StateError, StateStore};

/// What the log says about one node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRecord {
    pub kind: String,
    pub state: NodeState,
    /// Plain outputs of the last success (secret outputs are never logged).
    pub outputs: BTreeMap<String, String>,
    /// Hash of the kind and unresolved properties the node last succeeded with.
    pub spec_hash: Option<String>,
    /// True when the last success had secret outputs, which the log lacks.
    pub had_secrets: bool,
    pub last_error: Option<String>,
}

#[cfg(test)]
impl NodeRecord {
    /// A record of `kind` in `state` with these plain outputs, for tests.
    pub fn example(kind: &str, state: NodeState, outputs: &[(&str, &str)]) -> Self {
        Self {
            kind: kind.into(),
            state,
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            spec_hash: None,
            had_secrets: false,
            last_error: None,
        }
    }
}

/// Replays events, oldest first, into the state of every node. An event that
/// is not a legal transition is an error: the log was tampered with or two
/// writers raced, and guessing would risk orphans.
pub fn replay(events: &[EventRow]) -> Result<BTreeMap<String, NodeRecord>, IllegalTransition> {
    let mut nodes: BTreeMap<String, NodeRecord> = BTreeMap::new();
    for e in events {
        let rec = nodes.entry(e.node.clone()).or_insert_with(|| NodeRecord {
            kind: e.kind.clone(),
            state: NodeState::Pending,
            outputs: BTreeMap::new(),
            spec_hash: None,
            had_secrets: false,
            last_error: None,
        });
        rec.state = next_state(&e.node, rec.state, e.event)?;
        rec.kind = e.kind.clone();
        match e.event {
            Event::Succeeded => {
                rec.outputs = e.outputs.clone();
                rec.spec_hash = e.spec_hash.clone();
                rec.had_secrets = e.had_secrets;
                rec.last_error = None;
            }
            Event::Failed | Event::DeleteFailed => rec.last_error = e.error.clone(),
            Event::Deleted => {
                rec.outputs.clear();
                rec.spec_hash = None;
            }
            Event::Started | Event::DeleteStarted => {}
        }
    }
    Ok(nodes)
}

/// Writes the events of one run, checking each transition before it is
/// written. Cheap to clone; concurrent node tasks share one.
#[derive(Clone)]
pub struct Journal {
    store: StateStore,
    tenant: String,
    run_id: String,
    states: std::sync::Arc<std::sync::Mutex<BTreeMap<String, NodeState>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    State(#[from] StateError),
}

impl Journal {
    pub fn new(
        store: StateStore,
        tenant: &str,
        run_id: &str,
        current: &BTreeMap<String, NodeRecord>,
    ) -> Self {
        let states = current.iter().map(|(k, r)| (k.clone(), r.state)).collect();
        Self {
            store,
            tenant: tenant.into(),
            run_id: run_id.into(),
            states: std::sync::Arc::new(std::sync::Mutex::new(states)),
        }
    }

    fn advance(&self, node: &str, event: Event) -> Result<(), IllegalTransition> {
        let mut states = self.states.lock().expect("journal lock");
        let current = states.get(node).copied().unwrap_or(NodeState::Pending);
        let next = next_state(node, current, event)?;
        states.insert(node.to_string(), next);
        Ok(())
    }

    async fn write(
        &self,
        node: &str,
        kind: &str,
        event: Event,
        outputs: Option<&Outputs>,
        spec_hash: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        self.advance(node, event)?;
        let row = EventRow {
            run_id: self.run_id.clone(),
            tenant: self.tenant.clone(),
            node: node.into(),
            kind: kind.into(),
            event,
            at_ms: jiff::Timestamp::now().as_millisecond(),
            outputs: outputs.map(Outputs::plain_map).unwrap_or_default(),
            had_secrets: outputs.is_some_and(Outputs::has_secrets),
            spec_hash: spec_hash.map(str::to_string),
            error: error.map(str::to_string),
        };
        self.store.append_event(&row).await?;
        Ok(())
    }

    pub async fn started(
        &self,
        node: &str,
        kind: &str,
        spec_hash: &str,
    ) -> Result<(), JournalError> {
        self.write(node, kind, Event::Started, None, Some(spec_hash), None)
            .await
    }

    pub async fn succeeded(
        &self,
        node: &str,
        kind: &str,
        outputs: &Outputs,
        spec_hash: &str,
    ) -> Result<(), JournalError> {
        self.write(
            node,
            kind,
            Event::Succeeded,
            Some(outputs),
            Some(spec_hash),
            None,
        )
        .await
    }

    /// `error` must already be redacted of secret values.
    pub async fn failed(&self, node: &str, kind: &str, error: &str) -> Result<(), JournalError> {
        self.write(node, kind, Event::Failed, None, None, Some(error))
            .await
    }

    pub async fn delete_started(&self, node: &str, kind: &str) -> Result<(), JournalError> {
        self.write(node, kind, Event::DeleteStarted, None, None, None)
            .await
    }

    pub async fn deleted(&self, node: &str, kind: &str) -> Result<(), JournalError> {
        self.write(node, kind, Event::Deleted, None, None, None)
            .await
    }

    pub async fn delete_failed(
        &self,
        node: &str,
        kind: &str,
        error: &str,
    ) -> Result<(), JournalError> {
        self.write(node, kind, Event::DeleteFailed, None, None, Some(error))
            .await
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}
