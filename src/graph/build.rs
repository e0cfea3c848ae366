//! Building a [`Graph`] from its [`Input`] (nodes and edges; what a stack
//! turns into them is the stack's business); cycles are rejected with every
//! member named in order.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use petgraph::graph::{DiGraph, NodeIndex};

use super::Graph;

/// What a graph is built from: nodes with their kinds in file order, and
/// edges from a dependency to its dependent. A stack makes one with
/// `graph::Input::from(&stack)` (see `stack::edges`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Input {
    /// `(id, kind)` in file order.
    pub nodes: Vec<(String, String)>,
    /// `(dependency, dependent)`.
    pub edges: Vec<(String, String)>,
    /// The edges of `edges` on which the dependent waits only until the
    /// dependency is created ([`Until::Created`](super::Until)); the others
    /// wait until it is ready.
    pub created: Vec<(String, String)>,
}

/// The graph has at least one cycle. Each cycle lists its members in order,
/// each depending on the next, the last depending on the first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CycleError {
    pub cycles: Vec<Vec<String>>,
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.cycles.iter().map(|c| Self::chain(c)).collect();
        write!(
            f,
            "dependency cycle{}: {} ('a -> b' means a depends on b); remove one of these references or depends_on entries",
            if shown.len() > 1 { "s" } else { "" },
            shown.join("; ")
        )
    }
}

impl CycleError {
    /// `a -> b -> c -> a`.
    pub fn chain(members: &[String]) -> String {
        let mut s = members.join(" -> ");
        if let Some(first) = members.first() {
            s.push_str(" -> ");
            s.push_str(first);
        }
        s
    }
}

impl Graph {
    /// The graph of `input` (anything that converts into an [`Input`],
    /// such as `&Stack`): see [`Graph::from_edges`].
    pub fn build(input: impl Into<Input>) -> Result<Graph, CycleError> {
        let Input {
            nodes,
            edges,
            created,
        } = input.into();
        Ok(Graph::from_edges(nodes, edges)?.with_created(&created))
    }

    /// This graph with `created` (`(dependency, dependent)` pairs) waiting
    /// only until the dependency is created; pairs that are no edge of the
    /// graph are ignored.
    pub fn with_created(mut self, created: &[(String, String)]) -> Graph {
        for (a, b) in created {
            if let (Some(&a), Some(&b)) = (self.index.get(a), self.index.get(b))
                && self.deps[b].contains(&a)
            {
                self.created.insert((a, b));
            }
        }
        self
    }

    /// A graph from `(id, kind)` nodes in file order and `(dependency,
    /// dependent)` edges. Duplicate edges count once; a repeated node id
    /// keeps its first kind; edges naming an unknown node are ignored (a
    /// validated stack has none).
    pub fn from_edges(
        nodes: Vec<(String, String)>,
        edges: Vec<(String, String)>,
    ) -> Result<Graph, CycleError> {
        let mut ids = Vec::with_capacity(nodes.len());
        let mut kinds = Vec::with_capacity(nodes.len());
        let mut index = HashMap::with_capacity(nodes.len());
        for (id, kind) in nodes {
            if index.contains_key(&id) {
                continue;
            }
            index.insert(id.clone(), ids.len());
            ids.push(id);
            kinds.push(kind);
        }
        let n = ids.len();
        let mut pairs: Vec<(usize, usize)> = edges
            .iter()
            .filter_map(|(a, b)| Some((*index.get(a)?, *index.get(b)?)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();

        let mut deps = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for &(a, b) in &pairs {
            // Sorted pairs push each `dependents` list in order already.
            dependents[a].push(b);
            deps[b].push(a);
        }
        for d in &mut deps {
            d.sort_unstable();
        }

        let waves = match super::waves::layers(&deps, &dependents) {
            Some(w) => w,
            None => {
                return Err(CycleError {
                    cycles: cycles(n, &pairs, &deps)
                        .into_iter()
                        .map(|c| c.into_iter().map(|i| ids[i].clone()).collect())
                        .collect(),
                });
            }
        };
        Ok(Graph {
            ids,
            kinds,
            index,
            deps,
            dependents,
            waves,
            created: Default::default(),
        })
    }
}

/// One cycle per cyclic strongly connected component, ordered by its first
/// member in file order; each cycle starts at the component's first member
/// and follows "depends on" edges (shortest way round).
fn cycles(n: usize, pairs: &[(usize, usize)], deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, pairs.len());
    for _ in 0..n {
        g.add_node(());
    }
    for &(a, b) in pairs {
        g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
    }
    let mut comps: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&g)
        .into_iter()
        .map(|c| {
            let mut c: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
            c.sort_unstable();
            c
        })
        .filter(|c| c.len() > 1 || deps[c[0]].contains(&c[0]))
        .collect();
    comps.sort();

    let mut in_comp = vec![usize::MAX; n];
    let mut out = Vec::new();
    for (ci, comp) in comps.iter().enumerate() {
        for &v in comp {
            in_comp[v] = ci;
        }
        let start = comp[0];
        // BFS from `start` along depends-on edges back to `start`.
        let mut prev = vec![usize::MAX; n];
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        'bfs: while let Some(v) = queue.pop_front() {
            for &d in &deps[v] {
                if in_comp[d] != ci {
                    continue;
                }
                if d == start {
                    last = Some(v);
                    break 'bfs;
                }
                if prev[d] == usize::MAX {
                    prev[d] = v;
                    queue.push_back(d);
                }
            }
        }
        let mut cycle = Vec::new();
        let mut v = last.expect("a strongly connected component has a cycle through each member");
        while v != start {
            cycle.push(v);
            v = prev[v];
        }
        cycle.push(start);
        cycle.reverse();
        out.push(cycle);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::graph;
    use super::*;

    fn cycles_of(nodes: &[&str], edges: &[&str]) -> Vec<Vec<String>> {
        graph(nodes, edges).unwrap_err().cycles
    }

    #[test]
    fn three_cycle_lists_every_member_in_depends_on_order() {
        // b depends on a, c on b, a on c: a -> c -> b -> a.
        let cycles = cycles_of(&["x", "a", "b", "c"], &["a>b", "b>c", "c>a", "x>a"]);
        assert_eq!(cycles, vec![vec!["a", "c", "b"]]);
        let err = graph(&["x", "a", "b", "c"], &["a>b", "b>c", "c>a"]).unwrap_err();
        assert!(err.to_string().contains("a -> c -> b -> a"), "{err}");
    }

    #[test]
    fn self_dependency_is_a_cycle_of_one() {
        let err = graph(&["a", "b"], &["a>b", "b>b"]).unwrap_err();
        assert_eq!(err.cycles, vec![vec!["b"]]);
        assert!(err.to_string().contains("b -> b"), "{err}");
    }

    #[test]
    fn separate_cycles_are_each_reported() {
        let cycles = cycles_of(
            &["a", "b", "c", "d", "e"],
            &["a>b", "b>a", "c>d", "d>e", "e>c"],
        );
        assert_eq!(cycles, vec![vec!["a", "b"], vec!["c", "e", "d"]]);
    }

    #[test]
    fn edges_to_unknown_nodes_are_ignored() {
        let g = graph(&["a", "b"], &["a>b", "ghost>b", "a>ghost"]).unwrap();
        assert_eq!(g.dependencies("b"), vec!["a"]);
    }

    #[test]
    fn build_takes_an_input_like_from_edges() {
        let input = Input {
            nodes: vec![("a".into(), "k".into()), ("b".into(), "j".into())],
            edges: vec![("a".into(), "b".into())],
            created: vec![("a".into(), "b".into())],
        };
        let g = Graph::build(input.clone()).unwrap();
        assert_eq!(g.dependencies("b"), vec!["a"]);
        assert_eq!(g.kind_of("b"), "j");
        assert_eq!(g.until("a", "b"), super::super::Until::Created);
        let cyclic = Input {
            edges: vec![("a".into(), "b".into()), ("b".into(), "a".into())],
            ..input
        };
        assert_eq!(
            Graph::build(cyclic).unwrap_err().cycles,
            vec![vec!["a", "b"]]
        );
    }
}
