//! The critical path: the longest path through the DAG when each node weighs
//! its (expected or actual) duration. It bounds how short a run can be.

use std::time::Duration;

use super::Graph;

impl Graph {
    /// The longest weighted path, first node to last, and its length. Ties
    /// go to the earlier node in file order; zero-weight nodes at the start
    /// of a path are left out, and a graph whose every path weighs zero has
    /// an empty critical path.
    pub fn critical_path(&self, weight: &dyn Fn(&str) -> Duration) -> (Vec<String>, Duration) {
        let w: Vec<Duration> = self.ids.iter().map(|id| weight(id)).collect();
        let (path, len) = self.longest_path(&w);
        (path.into_iter().map(|i| self.ids[i].clone()).collect(), len)
    }

    /// Length of the longest weighted path (no path reconstruction).
    pub fn critical_length(&self, weight: &dyn Fn(&str) -> Duration) -> Duration {
        self.critical_path(weight).1
    }

    /// [`Graph::critical_path`] over node indices with weights by index.
    pub(crate) fn longest_path(&self, w: &[Duration]) -> (Vec<usize>, Duration) {
        let n = self.ids.len();
        let mut dist = vec![Duration::ZERO; n];
        let mut prev = vec![usize::MAX; n];
        for v in self.topo_indices() {
            let mut best = Duration::ZERO;
            for &u in &self.deps[v] {
                if dist[u] > best {
                    best = dist[u];
                    prev[v] = u;
                }
            }
            dist[v] = best + w[v];
        }
        let mut end = None;
        let mut longest = Duration::ZERO;
        for (v, &d) in dist.iter().enumerate() {
            if d > longest {
                longest = d;
                end = Some(v);
            }
        }
        let mut path = Vec::new();
        let mut cur = end;
        while let Some(v) = cur {
            path.push(v);
            cur = (prev[v] != usize::MAX).then_some(prev[v]);
        }
        path.reverse();
        (path, longest)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::graph;
    use super::*;

    fn secs(table: &'static [(&'static str, u64)]) -> impl Fn(&str) -> Duration {
        move |id| Duration::from_secs(table.iter().find(|(n, _)| *n == id).map_or(0, |(_, s)| *s))
    }

    #[test]
    fn diamond_takes_the_heavier_branch() {
        let g = graph(&["a", "b", "c", "d"], &["a>b", "a>c", "b>d", "c>d"]).unwrap();
        let (path, len) = g.critical_path(&secs(&[("a", 1), ("b", 2), ("c", 5), ("d", 1)]));
        assert_eq!(path, vec!["a", "c", "d"]);
        assert_eq!(len, Duration::from_secs(7));
    }

    #[test]
    fn a_single_heavy_node_beats_a_long_light_chain() {
        let g = graph(&["a", "b", "c", "big"], &["a>b", "b>c"]).unwrap();
        let (path, len) = g.critical_path(&secs(&[("a", 1), ("b", 1), ("c", 1), ("big", 10)]));
        assert_eq!(
            (path, len),
            (vec!["big".to_string()], Duration::from_secs(10))
        );
        let (path, len) = g.critical_path(&secs(&[("a", 4), ("b", 4), ("c", 4), ("big", 10)]));
        assert_eq!(
            (path, len),
            (
                vec!["a".to_string(), "b".into(), "c".into()],
                Duration::from_secs(12)
            )
        );
    }

    #[test]
    fn ties_go_to_the_earlier_node_in_file_order() {
        let g = graph(&["x", "y", "z"], &["x>z", "y>z"]).unwrap();
        let (path, _) = g.critical_path(&|_| Duration::from_secs(1));
        assert_eq!(path, vec!["x", "z"]);
    }

    #[test]
    fn zero_weight_prefix_is_left_out_and_all_zero_is_empty() {
        let g = graph(&["done", "b"], &["done>b"]).unwrap();
        let (path, len) = g.critical_path(&secs(&[("b", 3)]));
        assert_eq!((path, len), (vec!["b".to_string()], Duration::from_secs(3)));
        let (path, len) = g.critical_path(&|_| Duration::ZERO);
        assert!(path.is_empty() && len.is_zero());
    }

    #[test]
    fn a_layered_thousand_node_graph_has_twenty_waves_and_a_twenty_node_critical_path() {
        // 1,000 nodes in 20 layers of 50, each depending on 5 of the layer before.
        let nodes: Vec<(String, String)> = (0..1000)
            .map(|i| (format!("n{i}"), "k".to_string()))
            .collect();
        let mut edges = Vec::new();
        for i in 50..1000 {
            for j in 0..5 {
                edges.push((
                    format!("n{}", (i / 50 - 1) * 50 + (i * 7 + j * 11) % 50),
                    format!("n{i}"),
                ));
            }
        }
        // Speed is measured by `make bench`, not asserted here.
        let g = Graph::from_edges(nodes, edges).unwrap();
        let waves = g.waves();
        let (path, _) = g.critical_path(&|id| Duration::from_millis(id.len() as u64));
        let _ = g.reverse_topo_order();
        assert_eq!(waves.len(), 20);
        assert_eq!(path.len(), 20);
    }
}
