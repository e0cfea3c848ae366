//! Node states and the one function that decides which transition is legal.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Never started.
    Pending,
    /// Apply was called; the resource may or may not exist.
    Started,
    Succeeded,
    Failed,
    DeleteStarted,
    Deleted,
    DeleteFailed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Started,
    Succeeded,
    Failed,
    DeleteStarted,
    Deleted,
    DeleteFailed,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Succeeded => "succeeded",
            Event::Failed => "failed",
            Event::DeleteStarted => "delete_started",
            Event::Deleted => "deleted",
            Event::DeleteFailed => "delete_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Some(match s {
            "started" => Event::Started,
            "succeeded" => Event::Succeeded,
            "failed" => Event::Failed,
            "delete_started" => Event::DeleteStarted,
            "deleted" => Event::Deleted,
            "delete_failed" => Event::DeleteFailed,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "intent log: node '{node}' cannot go from {from:?} on event {event:?}; the log is inconsistent (two writers?), inspect it with `envctl describe tenant`"
)]
pub struct IllegalTransition {
    pub node: String,
    pub from: NodeState,
    pub event: Event,
}

/// The state after `event`, or an error if the log may not say that.
///
/// - `Started` may follow anything but a running delete: a rerun applies a
///   node again whatever its last outcome (apply adopts what exists).
/// - `Succeeded`/`Failed` only follow `Started`.
/// - `DeleteStarted` may follow anything: destroy also covers nodes that never
///   finished, and a crashed destroy is rerun.
/// - `Deleted`/`DeleteFailed` only follow `DeleteStarted`.
pub fn next_state(
    node: &str,
    from: NodeState,
    event: Event,
) -> Result<NodeState, IllegalTransition> {
    use NodeState as S;
    let to = match (from, event) {
        (S::DeleteStarted, Event::Started) => None,
        (_, Event::Started) => Some(S::Started),
        (S::Started, Event::Succeeded) => Some(S::Succeeded),
        (S::Started, Event::Failed) => Some(S::Failed),
        (_, Event::DeleteStarted) => Some(S::DeleteStarted),
        (S::DeleteStarted, Event::Deleted) => Some(S::Deleted),
        (S::DeleteStarted, Event::DeleteFailed) => Some(S::DeleteFailed),
        _ => None,
    };
    to.ok_or_else(|| IllegalTransition {
        node: node.to_string(),
        from,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NodeState as S;

    #[test]
    fn success_and_failure_only_follow_started() {
        assert_eq!(
            next_state("n", S::Started, Event::Succeeded),
            Ok(S::Succeeded)
        );
        assert_eq!(next_state("n", S::Started, Event::Failed), Ok(S::Failed));
        for from in [
            S::Pending,
            S::Succeeded,
            S::Failed,
            S::Deleted,
            S::DeleteStarted,
        ] {
            assert!(next_state("n", from, Event::Succeeded).is_err(), "{from:?}");
            assert!(next_state("n", from, Event::Failed).is_err(), "{from:?}");
        }
    }

    #[test]
    fn a_rerun_may_start_any_node_not_being_deleted() {
        for from in [
            S::Pending,
            S::Started,
            S::Succeeded,
            S::Failed,
            S::Deleted,
            S::DeleteFailed,
        ] {
            assert_eq!(
                next_state("n", from, Event::Started),
                Ok(S::Started),
                "{from:?}"
            );
        }
        assert!(next_state("n", S::DeleteStarted, Event::Started).is_err());
    }

    #[test]
    fn deleted_only_follows_delete_started() {
        assert_eq!(
            next_state("n", S::DeleteStarted, Event::Deleted),
            Ok(S::Deleted)
        );
        for from in [S::Pending, S::Started, S::Succeeded, S::Deleted] {
            let err = next_state("db", from, Event::Deleted).unwrap_err();
            assert!(err.to_string().contains("node 'db'"), "{err}");
        }
    }
}
