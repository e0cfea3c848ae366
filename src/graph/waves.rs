//! Topological layers ("waves") and the orders derived from them: wave 0
//! depends on nothing; every other node sits one wave after its latest
//! dependency. Creation walks the waves forward, deletion backward.

use super::Graph;

/// Kahn's algorithm with levels; `None` when a cycle leaves nodes unplaced.
pub(super) fn layers(deps: &[Vec<usize>], dependents: &[Vec<usize>]) -> Option<Vec<Vec<usize>>> {
    let n = deps.len();
    let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut level = vec![0usize; n];
    let mut stack: Vec<usize> = (0..n).filter(|&v| missing[v] == 0).collect();
    let mut placed = 0;
    let mut depth = 0;
    while let Some(v) = stack.pop() {
        placed += 1;
        depth = depth.max(level[v] + 1);
        for &d in &dependents[v] {
            level[d] = level[d].max(level[v] + 1);
            missing[d] -= 1;
            if missing[d] == 0 {
                stack.push(d);
            }
        }
    }
    if placed < n {
        return None;
    }
    let mut waves = vec![Vec::new(); depth];
    for (v, &l) in level.iter().enumerate() {
        waves[l].push(v);
    }
    Some(waves)
}

impl Graph {
    /// Topological layers: wave 0 has no dependencies, each node is in the
    /// wave after its latest dependency; file order inside a wave.
    pub fn waves(&self) -> Vec<Vec<String>> {
        self.waves
            .iter()
            .map(|w| w.iter().map(|&i| self.ids[i].clone()).collect())
            .collect()
    }

    /// Every node after all its dependencies (the waves, in order).
    pub fn topo_order(&self) -> Vec<String> {
        self.topo_indices().map(|i| self.ids[i].clone()).collect()
    }

    /// Every node before all its dependencies: the order for deletion (the
    /// waves, last first; file order inside a wave).
    pub fn reverse_topo_order(&self) -> Vec<String> {
        self.waves
            .iter()
            .rev()
            .flatten()
            .map(|&i| self.ids[i].clone())
            .collect()
    }

    pub(super) fn topo_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.waves.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::graph;

    #[test]
    fn diamond_has_three_waves() {
        let g = graph(&["d", "b", "c", "a"], &["a>b", "a>c", "b>d", "c>d"]).unwrap();
        assert_eq!(g.waves(), vec![vec!["a"], vec!["b", "c"], vec!["d"]]);
        assert_eq!(g.topo_order(), vec!["a", "b", "c", "d"]);
    }

    #[test]
    fn a_node_waits_for_its_latest_dependency() {
        // e depends on a (wave 0) and c (wave 2): e is in wave 3.
        let g = graph(&["a", "b", "c", "e", "f"], &["a>b", "b>c", "c>e", "a>e"]).unwrap();
        assert_eq!(
            g.waves(),
            vec![vec!["a", "f"], vec!["b"], vec!["c"], vec!["e"]]
        );
    }

    #[test]
    fn reverse_order_puts_dependents_before_dependencies() {
        let g = graph(&["a", "b", "c", "d"], &["a>b", "b>c", "a>d"]).unwrap();
        let order = g.reverse_topo_order();
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
        for id in g.ids() {
            for dep in g.dependencies(id) {
                assert!(pos(id) < pos(dep), "{id} must come before {dep}: {order:?}");
            }
        }
        assert_eq!(order, vec!["c", "b", "d", "a"]);
    }

    #[test]
    fn empty_graph_has_no_waves() {
        let g = graph(&[], &[]).unwrap();
        assert!(g.waves().is_empty() && g.topo_order().is_empty() && g.is_empty());
    }
}
