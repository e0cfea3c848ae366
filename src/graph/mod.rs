//! The dependency graph of a stack (petgraph underneath): one node per
//! resource, an edge from a dependency to its dependent. It knows nodes and
//! edges only ([`Input`]); the stack says which references and `depends_on`
//! entries become edges (`stack::edges`). Built once, then queried
//! by index-backed methods: topological waves and orders (`waves`), and the
//! longest weighted path (`critical`). Each edge says how long the dependent
//! waits ([`Until`]): until the dependency is ready (the default) or only
//! until it is created and its outputs are known. Pure: no I/O.

mod build;
mod critical;
mod waves;

use std::collections::{HashMap, HashSet};

pub use build::{CycleError, Input};
pub use critical::Weight;

/// How long a dependent waits for a dependency before it may start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Until {
    /// Until the dependency is ready (applied and its readiness seen).
    #[default]
    Ready,
    /// Until the dependency is created: `apply` has returned its outputs,
    /// readiness may still be pending.
    Created,
}

impl Until {
    /// The word used in stacks: `ready` or `created`.
    pub fn as_str(self) -> &'static str {
        match self {
            Until::Ready => "ready",
            Until::Created => "created",
        }
    }

    /// The words a stack may use, in the order shown to users.
    pub const WORDS: [&'static str; 2] = ["ready", "created"];

    /// `ready` or `created`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Until> {
        match s {
            "ready" => Some(Until::Ready),
            "created" => Some(Until::Created),
            _ => None,
        }
    }
}

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
    /// `(dependency, dependent)` edges that wait only until the dependency
    /// is created ([`Until::Created`]); every other edge waits until ready.
    created: HashSet<(usize, usize)>,
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

    /// How long `dependent` waits for `dependency` ([`Until::Ready`] also
    /// when there is no such edge).
    ///
    /// # Panics
    /// If either is not a node of the graph.
    pub fn until(&self, dependency: &str, dependent: &str) -> Until {
        if self
            .created
            .contains(&(self.idx(dependency), self.idx(dependent)))
        {
            Until::Created
        } else {
            Until::Ready
        }
    }

    /// Whether any dependent of `id` waits only until `id` is created.
    ///
    /// # Panics
    /// If `id` is not a node of the graph.
    pub fn has_created_dependents(&self, id: &str) -> bool {
        let i = self.idx(id);
        self.dependents[i]
            .iter()
            .any(|&d| self.created.contains(&(i, d)))
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
    fn created_edges_are_known_as_such_and_the_rest_wait_until_ready() {
        let g = graph(&["a", "b", "c"], &["a>b", "a>c", "b>c"])
            .unwrap()
            .with_created(&[("a".into(), "b".into()), ("c".into(), "a".into())]);
        assert_eq!(g.until("a", "b"), Until::Created);
        assert_eq!(g.until("a", "c"), Until::Ready);
        // Not an edge of the graph: ignored.
        assert_eq!(g.until("c", "a"), Until::Ready);
        assert!(g.has_created_dependents("a"));
        assert!(!g.has_created_dependents("b"));
        assert_eq!(Until::parse("created"), Some(Until::Created));
        assert_eq!(Until::parse("Ready"), None);
        assert_eq!(Until::default().as_str(), "ready");
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
