//! A stack as the graph's input: one node per resource, an edge from a
//! dependency to its dependent for every `${id.output}` reference in the
//! properties and every `depends_on` entry.

use super::model::Stack;
use super::refs;
use crate::graph::{CycleError, Graph, Input};

impl From<&Stack> for Input {
    /// References that do not parse or name no resource are left out
    /// (validation reports them; the graph ignores edges to unknown nodes).
    fn from(stack: &Stack) -> Input {
        let nodes = stack
            .resources
            .iter()
            .map(|r| (r.id.clone(), r.kind.clone()))
            .collect();
        let mut edges = Vec::new();
        for r in &stack.resources {
            for value in r.properties.values() {
                for reference in refs::references(value).unwrap_or_default() {
                    edges.push((reference.resource, r.id.clone()));
                }
            }
            for d in &r.depends_on {
                edges.push((d.clone(), r.id.clone()));
            }
        }
        Input { nodes, edges }
    }
}

impl Stack {
    /// The dependency graph of this stack.
    pub fn graph(&self) -> Result<Graph, CycleError> {
        Graph::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Resource;

    #[test]
    fn stack_references_and_depends_on_become_edges() {
        let res = |id: &str, props: serde_json::Value, deps: &[&str]| Resource {
            id: id.into(),
            kind: "k".into(),
            properties: props.as_object().unwrap().clone(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            publish: vec![],
            line: 0,
        };
        let stack = Stack {
            path: "s.yaml".into(),
            name: "s".into(),
            environment: "dev".into(),
            budget: crate::stack::model::DEFAULT_BUDGET,
            ttl: None,
            expected: Default::default(),
            timeouts: Default::default(),
            limits: Default::default(),
            hibernate: None,
            resources: vec![
                res("db", serde_json::json!({}), &[]),
                res(
                    "app",
                    serde_json::json!({"url": "x-${db.host}", "n": ["${q.arn}"]}),
                    &[],
                ),
                res("q", serde_json::json!({}), &["db"]),
            ],
        };
        let input = Input::from(&stack);
        assert_eq!(input.nodes[1], ("app".to_string(), "k".to_string()));
        let g = stack.graph().unwrap();
        assert_eq!(g.dependencies("app"), vec!["db", "q"]);
        assert_eq!(g.dependencies("q"), vec!["db"]);
        assert_eq!(g.dependents("db"), vec!["app", "q"]);
    }
}
