//! A stack as the graph's input: one node per resource, an edge from a
//! dependency to its dependent for every `${id.output}` reference in the
//! properties and every `depends_on` entry; the edges the stack says wait
//! only `until: created` (`depends_on` entry or `wait_for:`) are marked so.

use super::model::Stack;
use super::refs;
use crate::graph::{CycleError, Graph, Input, Until};

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
        let mut created = Vec::new();
        for r in &stack.resources {
            for w in &r.wait_for {
                if w.until == Until::Created {
                    created.push((w.resource.clone(), r.id.clone()));
                }
            }
            for value in r.properties.values() {
                for reference in refs::references(value).unwrap_or_default() {
                    edges.push((reference.resource, r.id.clone()));
                }
            }
            for d in &r.depends_on {
                edges.push((d.clone(), r.id.clone()));
            }
        }
        Input {
            nodes,
            edges,
            created,
        }
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
            wait_for: vec![],
            publish: vec![],
            pool: None,
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
        assert_eq!(g.until("db", "app"), Until::Ready);

        // `until: created` on q's depends_on entry marks that edge only.
        let mut stack = stack;
        stack.resources[2].wait_for.push(crate::stack::model::Wait {
            resource: "db".into(),
            until: Until::Created,
            from: crate::stack::model::WaitFrom::DependsOn(0),
        });
        let input = Input::from(&stack);
        assert_eq!(input.created, vec![("db".to_string(), "q".to_string())]);
        let g = stack.graph().unwrap();
        assert_eq!(g.until("db", "q"), Until::Created);
        assert_eq!(g.until("db", "app"), Until::Ready);
    }

    #[test]
    fn the_default_stack_lets_the_dns_records_overlap_the_load_balancer_getting_ready() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/tenant.yaml");
        let builtins = crate::stack::Builtins::with_domain("envs.mycompany.com");
        let stack = crate::stack::load_file_in(&path, &builtins).unwrap();
        let g = stack.graph().unwrap();
        for record in ["app-record", "api-record"] {
            assert_eq!(g.until("alb", record), Until::Created, "{record}");
            assert_eq!(g.until("zone", record), Until::Ready, "{record}");
        }
        // The plan counts only alb's apply part on those edges: on the
        // chain zone -> certificate -> alb -> app-record (the rest weighing
        // nothing), the record's time disappears behind alb's wait.
        let expected = crate::budget::ExpectedDurations::new(&stack.expected, &Default::default());
        let chain = ["zone", "certificate", "alb", "app-record"];
        let weight = |id: &str| {
            if chain.contains(&id) {
                expected.weight(g.kind_of(id))
            } else {
                crate::graph::Weight::whole(std::time::Duration::ZERO)
            }
        };
        let alb = weight("alb");
        let record = weight("app-record").total;
        assert!(alb.total - alb.apply > record, "{alb:?} vs {record:?}");
        let (path, overlapped) = g.critical_path_split(&weight);
        let (_, all_ready) = g.critical_path(&|id| weight(id).total);
        assert_eq!(path, vec!["zone", "certificate", "alb"]);
        assert_eq!(overlapped, all_ready - record);
    }

    #[test]
    fn the_fast_stack_loads_and_waits_for_its_database_not_for_an_edge() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let builtins = crate::stack::Builtins::with_domain("envs.mycompany.com");
        let fast =
            crate::stack::load_file_in(&root.join("stacks/tenant-fast.yaml"), &builtins).unwrap();
        let kind = |id: &str| {
            fast.resources
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.kind.as_str())
        };
        // Shared: no load balancer, certificate or VPC of its own.
        for r in &fast.resources {
            assert!(
                !["aws.elbv2.load_balancer", "aws.acm.certificate"].contains(&r.kind.as_str()),
                "{}: {}",
                r.id,
                r.kind
            );
        }
        assert_eq!(kind("edge"), Some("aws.elbv2.host_rule"));
        assert_eq!(
            fast.resources
                .iter()
                .find(|r| r.id == "network")
                .unwrap()
                .properties["shared_from"],
            "shared-dev/network"
        );
        let g = fast.graph().unwrap();
        for record in ["app-record", "api-record"] {
            let deps = g.dependencies(record);
            assert!(
                deps.contains(&"edge") && deps.contains(&"parent-zone"),
                "{deps:?}"
            );
        }
        assert!(g.dependencies("workers").contains(&"edge"));
        // The plan: with the kinds' default durations, the database is the
        // longest wait; the edge is seconds.
        let expected = crate::budget::ExpectedDurations::new(&fast.expected, &Default::default());
        let (path, _) = g.critical_path(&|id| expected.weight(g.kind_of(id)).total);
        assert!(path.contains(&"database".to_string()), "{path:?}");
        assert!(!path.contains(&"edge".to_string()), "{path:?}");

        // The shared edge it adopts: a wildcard certificate, a 404 default.
        let edge =
            crate::stack::load_file_in(&root.join("stacks/shared-edge.yaml"), &builtins).unwrap();
        edge.graph().unwrap();
        let props = |id: &str| {
            &edge
                .resources
                .iter()
                .find(|r| r.id == id)
                .unwrap()
                .properties
        };
        assert_eq!(props("certificate")["domain"], "*.envs.mycompany.com");
        assert_eq!(props("alb")["unmatched"], "not-found");
    }
}
