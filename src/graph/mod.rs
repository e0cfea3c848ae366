//! The dependency graph of a stack (petgraph underneath): one node per
//! resource, an edge from a dependency to its dependent. It knows nodes and
//! edges only ([`Input`]); the stack says which references and `depends_on`
//! entries become edges (`stack::edges`). Built once, then queried
//! by index-backed methods: topological waves and orders (`waves`), and the
//! longest weighted path (`critical`). Pure: no I/O.

mod build;
mod critical;
mod waves;

use std::collections::HashMap;

pub use build::{CycleError, Input};

/// An acyclic dependency graph. Node order ("file order") is the order of
/// the resources in the stack; every listing breaks ties by it.
#[derive(Clone, Debug)]
pub struct Graph {
    ids: Vec<String>,
    kinds: Vec<String>,
    index: HashMap<String, usize>,
    /// Per node, the nodes it depends on, in file order.
    deps: Vec<Vec<usize>>,
    /// Per node, the nodes that depend on it, in file order.
    dependents: Vec<Vec<usize>>,
    /// Topological layers, each in file order.
    waves: Vec<Vec<usize>>,
}

impl Graph {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Node ids in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The kind of node `id`.
    ///
    /// # Panics
    /// If `id` is not a node of the graph.
    pub fn kind_of(&self, id: &str) -> &str {
        &self.kinds[self.idx(id)]
    }

    /// What `id` depends on (its direct dependencies), in file order.
    ///
    /// # Panics
    /// If `id` is not a node of the graph.
    pub fn dependencies(&self, id: &str) -> Vec<&str> {
        self.names(&self.deps[self.idx(id)])
    }

    /// What depends directly on `id`, in file order.
    ///
    /// # Panics
    /// If `id` is not a node of the graph.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        self.names(&self.dependents[self.idx(id)])
    }

    fn idx(&self, id: &str) -> usize {
        match self.index.get(id) {
            Some(&i) => i,
            None => panic!("'{id}' is not a node of the graph"),
        }
    }

    fn names(&self, idx: &[usize]) -> Vec<&str> {
        idx.iter().map(|&i| self.ids[i].as_str()).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A graph of kind-`k` nodes from `"a>b"` edges (a is a dependency of b).
    pub(crate) fn graph(nodes: &[&str], edges: &[&str]) -> Result<Graph, CycleError> {
        Graph::from_edges(
            nodes
                .iter()
                .map(|n| (n.to_string(), "k".to_string()))
                .collect(),
            edges
                .iter()
                .map(|e| {
                    let (a, b) = e.split_once('>').unwrap();
                    (a.to_string(), b.to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn neighbours_are_listed_in_file_order_both_ways() {
        let g = graph(&["c", "a", "b", "d"], &["b>d", "a>d", "c>d", "d>a"]);
        assert!(g.is_err()); // a>d and d>a
        let g = graph(&["c", "a", "b", "d"], &["b>d", "a>d", "c>d", "c>a"]).unwrap();
        assert_eq!(g.dependencies("d"), vec!["c", "a", "b"]);
        assert_eq!(g.dependents("c"), vec!["a", "d"]);
        assert_eq!(g.ids().collect::<Vec<_>>(), vec!["c", "a", "b", "d"]);
        assert_eq!(g.len(), 4);
        assert_eq!(g.kind_of("b"), "k");
    }

    #[test]
    fn duplicate_edges_count_once() {
        let g = graph(&["a", "b"], &["a>b", "a>b"]).unwrap();
        assert_eq!(g.dependencies("b"), vec!["a"]);
        assert_eq!(g.dependents("a"), vec!["b"]);
    }

    #[test]
    #[should_panic(expected = "'nope' is not a node")]
    fn asking_for_an_unknown_node_panics_with_its_name() {
        let g = graph(&["a"], &[]).unwrap();
        g.kind_of("nope");
    }
}
