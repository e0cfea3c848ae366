//! What the engine remembers about a stack between runs: a hash of each
//! node's declared spec (to know whether a finished node may be skipped on
//! resume) and the graph of the last create (to destroy in reverse order even
//! when the stack file has changed or is gone). Neither holds a secret: the
//! hash covers the properties as written, with `${...}` references unresolved.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::graph::{CycleError, Graph};
use crate::stack::Resource;

/// Hash of kind, properties as written, dependencies and publish entries.
pub fn spec_hash(r: &Resource) -> String {
    let publish: Vec<String> = r
        .publish
        .iter()
        .map(|p| format!("{}>{}@{:?}:{}", p.output, p.key, p.level, p.secret))
        .collect();
    let doc = serde_json::json!({
        "kind": r.kind,
        "properties": r.properties,
        "depends_on": r.depends_on,
        "publish": publish,
    });
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// The graph of a create run as stored with the tenant.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StoredGraph {
    /// (id, kind) in file order.
    pub nodes: Vec<(String, String)>,
    /// (dependency, dependent).
    pub edges: Vec<(String, String)>,
}

impl StoredGraph {
    pub fn of(graph: &Graph) -> Self {
        let nodes = graph
            .ids()
            .map(|id| (id.to_string(), graph.kind_of(id).to_string()))
            .collect();
        let edges = graph
            .ids()
            .flat_map(|id| {
                graph
                    .dependencies(id)
                    .into_iter()
                    .map(move |d| (d.to_string(), id.to_string()))
            })
            .collect();
        Self { nodes, edges }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("graph serializes")
    }

    /// Parses a stored graph; an empty or unreadable one is empty.
    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    pub fn to_graph(&self) -> Result<Graph, CycleError> {
        Graph::from_edges(self.nodes.clone(), self.edges.clone())
    }
}
