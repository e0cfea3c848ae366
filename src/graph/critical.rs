//! The critical path: the longest path through the DAG when each node weighs
//! its (expected or actual) duration. It bounds how short a run can be. A
//! dependent on a `created` edge ([`Until::Created`](super::Until)) may start
//! once its dependency's apply part is over, so such an edge carries only
//! that part ([`Weight::apply`]) of the dependency.

use std::time::Duration;

use super::Graph;

/// What a node weighs: its whole duration, and the part of it until its
/// outputs are known (apply), which is all a `created` edge waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weight {
    /// Until `apply` has returned (at most `total`).
    pub apply: Duration,
    /// Until ready.
    pub total: Duration,
}

impl Weight {
    /// A node whose outputs are known only when it is done.
    pub fn whole(total: Duration) -> Weight {
        Weight {
            apply: total,
            total,
        }
    }
}

impl Graph {
    /// The longest weighted path, first node to last, and its length. Ties
    /// go to the earlier node in file order; zero-weight nodes at the start
    /// of a path are left out, and a graph whose every path weighs zero has
    /// an empty critical path.
    ///
    /// Every edge counts its dependency's whole weight, `created` ones too:
    /// for weights that have no apply part (such as actual durations); see
    /// [`Graph::critical_path_split`].
    pub fn critical_path(&self, weight: &dyn Fn(&str) -> Duration) -> (Vec<String>, Duration) {
        let w: Vec<Weight> = self
            .ids
            .iter()
            .map(|id| Weight::whole(weight(id)))
            .collect();
        let (path, len) = self.longest_path(&w);
        (path.into_iter().map(|i| self.ids[i].clone()).collect(), len)
    }

    /// [`Graph::critical_path`] where a `created` edge counts only its
    /// dependency's apply part: the dependent starts `apply` after the
    /// dependency started, and the path's length is when the last node is
    /// ready.
    pub fn critical_path_split(&self, weight: &dyn Fn(&str) -> Weight) -> (Vec<String>, Duration) {
        let w: Vec<Weight> = self.ids.iter().map(|id| weight(id)).collect();
        let (path, len) = self.longest_path(&w);
        (path.into_iter().map(|i| self.ids[i].clone()).collect(), len)
    }

    /// Length of the longest weighted path (no path reconstruction), with
    /// `created` edges counting the apply part ([`Graph::critical_path_split`]).
    pub fn critical_length(&self, weight: &dyn Fn(&str) -> Weight) -> Duration {
        self.critical_path_split(weight).1
    }

    /// [`Graph::critical_path_split`] over node indices with weights by index.
    pub(crate) fn longest_path(&self, w: &[Weight]) -> (Vec<usize>, Duration) {
        let n = self.ids.len();
        // When each node is done, and when its outputs are known.
        let mut dist = vec![Duration::ZERO; n];
        let mut known = vec![Duration::ZERO; n];
        let mut prev = vec![usize::MAX; n];
        for v in self.topo_indices() {
            let mut best = Duration::ZERO;
            for &u in &self.deps[v] {
                let at = if self.created.contains(&(u, v)) {
                    known[u]
                } else {
                    dist[u]
                };
                if at > best {
                    best = at;
                    prev[v] = u;
                }
            }
            dist[v] = best + w[v].total;
            known[v] = best + w[v].apply.min(w[v].total);
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
    fn a_created_edge_counts_only_the_apply_part_of_its_dependency() {
        // lb (apply 2s of 180s) -> dns (60s) -> svc (45s).
        let g = graph(&["lb", "dns", "svc"], &["lb>dns", "dns>svc"]).unwrap();
        let w = |id: &str| match id {
            "lb" => Weight {
                apply: Duration::from_secs(2),
                total: Duration::from_secs(180),
            },
            "dns" => Weight::whole(Duration::from_secs(60)),
            _ => Weight::whole(Duration::from_secs(45)),
        };
        let (path, ready_len) = g.critical_path_split(&w);
        assert_eq!(path, vec!["lb", "dns", "svc"]);
        assert_eq!(ready_len, Duration::from_secs(285));
        let g = g.with_created(&[("lb".into(), "dns".into())]);
        let (path, len) = g.critical_path_split(&w);
        // dns starts at 2s and is done at 62s, svc at 107s; lb is ready at 180s.
        assert_eq!(path, vec!["lb"]);
        assert_eq!(len, Duration::from_secs(180));
        // With a shorter lb, the path goes through the created edge and is
        // shorter than the ready one by exactly lb's ready part.
        let short = |id: &str| match id {
            "lb" => Weight {
                apply: Duration::from_secs(2),
                total: Duration::from_secs(100),
            },
            other => w(other),
        };
        let (path, len) = g.critical_path_split(&short);
        assert_eq!(path, vec!["lb", "dns", "svc"]);
        assert_eq!(len, Duration::from_secs(107));
        assert_eq!(
            g.critical_length(&short),
            Duration::from_secs(100 + 60 + 45 - 98)
        );
        // The plain critical path ignores the apply part.
        assert_eq!(
            g.critical_path(&|id| short(id).total).1,
            Duration::from_secs(205)
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
