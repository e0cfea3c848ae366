//! What cost and the page's links read of every tenant at once: all
//! hibernated periods, and the last outputs of the nodes that publish a
//! tenant's URLs — one query each for the whole list, never one per tenant.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use super::{HibernationPeriod, StateError, StateStore};

impl StateStore {
    /// Every tenant's hibernated periods, oldest first.
    pub async fn all_hibernation_periods(
        &self,
    ) -> Result<HashMap<String, Vec<HibernationPeriod>>, StateError> {
        let rows =
            sqlx::query("SELECT tenant, started_at, ended_at FROM hibernations ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db_err(e))?;
        let mut out: HashMap<String, Vec<HibernationPeriod>> = HashMap::new();
        for r in rows {
            out.entry(r.get("tenant"))
                .or_default()
                .push(HibernationPeriod {
                    started_at: r.get("started_at"),
                    ended_at: r.get("ended_at"),
                });
        }
        Ok(out)
    }

    /// For every tenant (or only `tenant`), the plain outputs of each of
    /// `nodes` as it last succeeded; a node deleted since (or never made) is
    /// absent.
    pub async fn last_outputs_of(
        &self,
        tenant: Option<&str>,
        nodes: &[String],
    ) -> Result<HashMap<String, BTreeMap<String, BTreeMap<String, String>>>, StateError> {
        let mut out: HashMap<String, BTreeMap<String, BTreeMap<String, String>>> = HashMap::new();
        // One query per node (a stack publishes its URLs from a node or
        // two), each for every tenant at once.
        for node in nodes {
            let rows = sqlx::query(
                "SELECT tenant, event, outputs_json FROM events
                 WHERE ($1 = '' OR tenant = $2) AND node = $3 AND event IN ('succeeded', 'deleted')
                 ORDER BY seq",
            )
            .bind(tenant.unwrap_or(""))
            .bind(tenant.unwrap_or(""))
            .bind(node)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
            for r in rows {
                let per = out.entry(r.get("tenant")).or_default();
                if r.get::<String, _>("event") == "deleted" {
                    per.remove(node);
                    continue;
                }
                let json: String = r.get("outputs_json");
                let outputs = serde_json::from_str(&json).map_err(|e| StateError::Corrupt {
                    table: "events",
                    detail: format!("outputs_json: {e}"),
                })?;
                per.insert(node.clone(), outputs);
            }
        }
        Ok(out)
    }
}
