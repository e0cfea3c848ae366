//! Row types of the state store and their decoding.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StateError, parse_event};
use crate::journal::Event;
use crate::lifecycle::{Operation, RunStatus, TenantStatus};

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TenantRow {
    pub name: String,
    pub environment: String,
    pub stack_name: String,
    pub stack_path: String,
    pub status: TenantStatus,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub protected: bool,
    /// Who asked for the tenant (a token's name, or the OS user of the CLI).
    pub owner: Option<String>,
    pub note: Option<String>,
    #[serde(skip)]
    pub graph_json: String,
}

impl TenantRow {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        Ok(Self {
            name: r.get("name"),
            environment: r.get("environment"),
            stack_name: r.get("stack_name"),
            stack_path: r.get("stack_path"),
            status: word(r, "tenants", "status")?,
            created_at: r.get("created_at"),
            updated_at: r.get("updated_at"),
            expires_at: r.get("expires_at"),
            protected: r.get::<i64, _>("protected") != 0,
            owner: r.get("owner"),
            note: r.get("note"),
            graph_json: r.get("graph_json"),
        })
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunRow {
    pub id: String,
    pub tenant: String,
    pub operation: Operation,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    #[serde(skip)]
    pub report_json: Option<String>,
}

impl RunRow {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        Ok(Self {
            id: r.get("id"),
            tenant: r.get("tenant"),
            operation: word(r, "runs", "operation")?,
            status: word(r, "runs", "status")?,
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
            report_json: r.get("report_json"),
        })
    }
}

/// A lifecycle column read as its enum; an unknown word is a corrupt row.
fn word<T: std::str::FromStr<Err = crate::lifecycle::UnknownWord>>(
    r: &AnyRow,
    table: &'static str,
    column: &str,
) -> Result<T, StateError> {
    r.get::<String, _>(column)
        .parse()
        .map_err(|e: crate::lifecycle::UnknownWord| StateError::Corrupt {
            table,
            detail: format!("{column}: {e}"),
        })
}

/// One journal event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub run_id: String,
    pub tenant: String,
    pub node: String,
    pub kind: String,
    pub event: Event,
    pub at_ms: i64,
    /// Plain outputs only.
    pub outputs: BTreeMap<String, String>,
    pub had_secrets: bool,
    pub spec_hash: Option<String>,
    pub error: Option<String>,
}

impl EventRow {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        let outputs_json: String = r.get("outputs_json");
        let outputs = serde_json::from_str(&outputs_json).map_err(|e| StateError::Corrupt {
            table: "events",
            detail: format!("outputs_json: {e}"),
        })?;
        Ok(Self {
            run_id: r.get("run_id"),
            tenant: r.get("tenant"),
            node: r.get("node"),
            kind: r.get("kind"),
            event: parse_event(&r.get::<String, _>("event"))?,
            at_ms: r.get("at_ms"),
            outputs,
            had_secrets: r.get::<i64, _>("had_secrets") != 0,
            spec_hash: r.get("spec_hash"),
            error: r.get("error"),
        })
    }
}

/// One state-changing request, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub role: String,
    /// For example `create`, `extend`, `destroy`, `login`, `reap`.
    pub action: String,
    /// The tenant or object acted on.
    pub target: String,
    /// `accepted`, `denied`, `rejected`, `failed`, ...
    pub result: String,
    pub detail: Option<String>,
}

impl AuditRow {
    pub(crate) fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        Ok(Self {
            at: r.get("at"),
            actor: r.get("actor"),
            role: r.get("role"),
            action: r.get("action"),
            target: r.get("target"),
            result: r.get("result"),
            detail: r.get("detail"),
        })
    }
}
