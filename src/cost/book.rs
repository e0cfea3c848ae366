//! The cost book: the price table, each stack's estimate and URL sources
//! (computed once: the table and the stacks change only with a restart), and
//! every tenant's hibernated periods and URL outputs, read for all tenants
//! at once and again only when the store's tenants change counter moves (at
//! most once per [`CHECK_EVERY`]). A tenant's cost in the list is then a
//! pure function of its row and this book — no query per tenant; the detail
//! of one tenant reads its own stored graph.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::accrual::{Span, spans_of};
use super::estimate::Estimate;
use super::links::{TenantUrl, url_sources, urls_of};
use super::prices::PriceTable;
use super::view::{CostView, OwnerCost, cost_view, per_owner};
use crate::engine::spec::StoredGraph;
use crate::stack::Stack;
use crate::state::{StateError, StateStore, TenantRow};

/// How often the book asks the store whether any tenant changed.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// One stack, priced.
#[derive(Debug)]
struct Priced {
    stack: Stack,
    estimate: Estimate,
    url_sources: Vec<(String, String, String)>,
}

/// Per-tenant facts read from the store for all tenants at once.
#[derive(Debug, Default)]
struct Facts {
    version: Option<i64>,
    checked: Option<Instant>,
    spans: HashMap<String, Vec<Span>>,
    outputs: HashMap<String, BTreeMap<String, BTreeMap<String, String>>>,
}

/// One tenant's cost with its resources priced one by one, and its URLs.
#[derive(Clone, Debug)]
pub struct TenantCost {
    pub cost: CostView,
    pub estimate: Estimate,
    pub urls: Vec<TenantUrl>,
}

#[derive(Debug)]
pub struct CostBook {
    pub table: Arc<PriceTable>,
    /// By the stack's name (`stack:` of its file), as tenants record it.
    stacks: BTreeMap<String, Priced>,
    facts: RwLock<Facts>,
    refresh: tokio::sync::Mutex<()>,
}

impl CostBook {
    /// Prices `stacks` with `table`. An error names the stack's resource
    /// that the table cannot price, and the fix.
    pub fn new<'a>(
        table: PriceTable,
        stacks: impl IntoIterator<Item = &'a Stack>,
    ) -> Result<Self, String> {
        let book = Self::lenient(table, stacks);
        for p in book.stacks.values() {
            if let Some(first) = p.estimate.unpriced().into_iter().next() {
                return Err(format!(
                    "stack {} ({}): resource {first}",
                    p.stack.name,
                    p.stack.path.display()
                ));
            }
        }
        Ok(book)
    }

    /// Prices `stacks`, leaving what the table cannot price at 0 (each
    /// view lists it under `unpriced`).
    pub fn lenient<'a>(table: PriceTable, stacks: impl IntoIterator<Item = &'a Stack>) -> Self {
        let mut priced = BTreeMap::new();
        for stack in stacks {
            priced.entry(stack.name.clone()).or_insert_with(|| Priced {
                stack: stack.clone(),
                url_sources: url_sources(stack),
                estimate: super::pricing::of_stack(&table, stack),
            });
        }
        Self {
            table: Arc::new(table),
            stacks: priced,
            facts: RwLock::new(Facts::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// For the CLI: prices the stack file each tenant was created from
    /// (one per stack name); a file that no longer loads leaves its
    /// tenants without a cost.
    pub fn of_stack_files(
        table: PriceTable,
        rows: &[TenantRow],
        builtins: &crate::stack::Builtins,
    ) -> Self {
        let mut stacks: BTreeMap<&str, Stack> = BTreeMap::new();
        for r in rows {
            if stacks.contains_key(r.stack_name.as_str()) {
                continue;
            }
            match crate::stack::load_file_in(std::path::Path::new(&r.stack_path), builtins) {
                Ok(s) if s.name == r.stack_name => {
                    stacks.insert(&r.stack_name, s);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(tenant = %r.name, error = %e, "no cost: its stack file does not load")
                }
            }
        }
        Self::lenient(table, stacks.values())
    }

    /// Brings the per-tenant facts up to date when the store's tenants may
    /// have changed: nothing when checked within [`CHECK_EVERY`], one read
    /// of the counter otherwise, and the two whole-list reads when it moved.
    pub async fn refresh(&self, state: &StateStore) -> Result<(), StateError> {
        if self.checked_recently() {
            return Ok(());
        }
        let _one = self.refresh.lock().await;
        if self.checked_recently() {
            return Ok(());
        }
        let version = state.tenants_version().await?;
        let known = self.facts.read().expect("cost book lock").version;
        if known == Some(version) {
            self.facts.write().expect("cost book lock").checked = Some(Instant::now());
            return Ok(());
        }
        self.load(state, Some(version)).await
    }

    /// Reads the per-tenant facts of every tenant now.
    pub async fn load(&self, state: &StateStore, version: Option<i64>) -> Result<(), StateError> {
        let periods = state.all_hibernation_periods().await?;
        let mut nodes: Vec<String> = self
            .stacks
            .values()
            .flat_map(|p| p.url_sources.iter().map(|(_, node, _)| node.clone()))
            .collect();
        nodes.sort();
        nodes.dedup();
        let outputs = state.last_outputs_of(None, &nodes).await?;
        let mut f = self.facts.write().expect("cost book lock");
        *f = Facts {
            version,
            checked: Some(Instant::now()),
            spans: periods
                .into_iter()
                .map(|(t, p)| (t, spans_of(&p)))
                .collect(),
            outputs,
        };
        Ok(())
    }

    fn checked_recently(&self) -> bool {
        self.facts
            .read()
            .expect("cost book lock")
            .checked
            .is_some_and(|c| c.elapsed() < CHECK_EVERY)
    }

    /// A tenant's cost and URLs from its row and the book (no query); no
    /// cost when its stack is not one the book knows.
    pub fn tenant(&self, row: &TenantRow) -> (Option<CostView>, Vec<TenantUrl>) {
        let Some(p) = self.stacks.get(&row.stack_name) else {
            return (None, Vec::new());
        };
        let f = self.facts.read().expect("cost book lock");
        let spans = f.spans.get(&row.name).map_or(&[][..], Vec::as_slice);
        let cost = cost_view(&self.table, row, &p.estimate, spans, jiff::Timestamp::now());
        let urls = f
            .outputs
            .get(&row.name)
            .map(|o| urls_of(&p.url_sources, o))
            .unwrap_or_default();
        (Some(cost), urls)
    }

    /// One tenant in full: `row` with its stored graph, priced node by node
    /// (with its stack's properties when the book knows the stack), its
    /// periods and URLs read from the store now.
    pub async fn detail(
        &self,
        state: &StateStore,
        row: &TenantRow,
    ) -> Result<TenantCost, StateError> {
        let priced = self.stacks.get(&row.stack_name);
        let graph = StoredGraph::from_json(&row.graph_json);
        let estimate = super::pricing::of_graph(&self.table, &graph, priced.map(|p| &p.stack));
        let spans = spans_of(&state.hibernation_periods(&row.name).await?);
        let urls = match priced {
            Some(p) => {
                let nodes: Vec<String> = p.url_sources.iter().map(|(_, n, _)| n.clone()).collect();
                let mut all = state.last_outputs_of(Some(&row.name), &nodes).await?;
                all.remove(&row.name)
                    .map(|o| urls_of(&p.url_sources, &o))
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let cost = cost_view(&self.table, row, &estimate, &spans, jiff::Timestamp::now());
        Ok(TenantCost {
            cost,
            estimate,
            urls,
        })
    }

    /// Totals per owner over `rows`, from the book.
    pub fn owners(&self, rows: &[TenantRow]) -> Vec<OwnerCost> {
        let views: Vec<(&TenantRow, CostView)> = rows
            .iter()
            .filter_map(|r| self.tenant(r).0.map(|c| (r, c)))
            .collect();
        per_owner(&self.table, views.iter().map(|(r, c)| (*r, c)))
    }
}
