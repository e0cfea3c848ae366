//! From a stack (and a tenant's stored graph) to the items the estimate
//! prices: each resource with its declared properties, each catalog service
//! with its requests and replicas.

use std::path::Path;

use super::estimate::{Estimate, Item, Workload, estimate};
use super::prices::PriceTable;
use crate::engine::spec::StoredGraph;
use crate::stack::Stack;

/// A catalog service's requests, from the catalog the node names.
fn workload(props: &crate::kinds::Props) -> Option<Workload> {
    let dir = props
        .get("catalog")
        .and_then(|v| v.as_str())
        .unwrap_or("blueprints");
    let name = props.get("service")?.as_str()?;
    let catalog = crate::kinds::k8s::service::catalog(Path::new(dir)).ok()?;
    let svc = catalog.service(name)?;
    let requests = &svc.resources().requests;
    Some(Workload {
        replicas: svc.hpa().map_or(svc.replicas(), |h| h.min),
        cpu_millis: crate::blueprint::cpu_millis(&requests.cpu).ok()?,
        memory_bytes: crate::blueprint::memory_bytes(&requests.memory).ok()?,
    })
}

/// The estimate of a stack as it stands.
pub fn of_stack(table: &PriceTable, stack: &Stack) -> Estimate {
    let items: Vec<Item> = stack
        .resources
        .iter()
        .map(|r| Item {
            id: &r.id,
            kind: &r.kind,
            props: Some(&r.properties),
            workload: (r.kind == crate::stack::expand::SERVICE_KIND)
                .then(|| workload(&r.properties))
                .flatten(),
        })
        .collect();
    estimate(table, &items)
}

/// The estimate of what a tenant's last create made (its stored graph), with
/// the properties its stack declares for each node; a node the stack no
/// longer has is priced with its kind's defaults. Without a stored graph,
/// the stack's.
pub fn of_graph(table: &PriceTable, graph: &StoredGraph, stack: Option<&Stack>) -> Estimate {
    if graph.nodes.is_empty() {
        return stack.map(|s| of_stack(table, s)).unwrap_or_default();
    }
    let items: Vec<Item> = graph
        .nodes
        .iter()
        .map(|(id, kind)| {
            let r = stack
                .and_then(|s| s.resource(id))
                .filter(|r| r.kind == *kind);
            Item {
                id,
                kind,
                props: r.map(|r| &r.properties),
                workload: r
                    .filter(|r| r.kind == crate::stack::expand::SERVICE_KIND)
                    .and_then(|r| workload(&r.properties)),
            }
        })
        .collect();
    estimate(table, &items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_stack() -> Stack {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/tenant.yaml");
        crate::stack::load_file_in(
            &path,
            &crate::stack::Builtins::with_domain("envctl-demo.net"),
        )
        .unwrap()
    }

    #[test]
    fn every_resource_of_the_shipped_stacks_is_priced() {
        let t = PriceTable::shipped();
        for file in [
            "tenant.yaml",
            "tenant-fast.yaml",
            "minimal.yaml",
            "shared-network.yaml",
            "shared-edge.yaml",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("stacks")
                .join(file);
            let stack = crate::stack::load_file_in(
                &path,
                &crate::stack::Builtins::with_domain("envctl-demo.net"),
            )
            .unwrap();
            let e = of_stack(&t, &stack);
            assert_eq!(e.unpriced(), Vec::<String>::new(), "{file}");
            assert_eq!(e.lines.len(), stack.resources.len());
        }
    }

    #[test]
    fn the_default_stack_costs_its_parts_and_less_hibernated() {
        let t = PriceTable::shipped();
        let e = of_stack(&t, &tenant_stack());
        let line = |id: &str| e.lines.iter().find(|l| l.id == id).unwrap().clone();
        assert!(line("database").running_hourly > 0.018);
        assert!(line("workers").running_hourly > 2.0 * 0.0208);
        let services: f64 = e
            .lines
            .iter()
            .filter(|l| l.kind == "k8s.service")
            .map(|l| l.running_hourly)
            .sum();
        assert!(services > 0.0);
        // Hibernated: no services, no workers, the database's storage only.
        let saved = e.running_hourly() - e.hibernated_hourly();
        let expected = services
            + line("workers").running_hourly
            + (line("database").running_hourly - line("database").hibernated_hourly);
        assert!((saved - expected).abs() < 1e-9, "{saved} vs {expected}");
        assert!(e.hibernated_hourly() > 0.0);
    }

    #[test]
    fn a_stored_graph_prices_what_was_made() {
        let t = PriceTable::shipped();
        let stack = tenant_stack();
        let graph = StoredGraph {
            nodes: vec![
                ("database".into(), "aws.rds.instance".into()),
                ("gone".into(), "aws.route53.zone".into()),
            ],
            edges: vec![],
        };
        let e = of_graph(&t, &graph, Some(&stack));
        assert_eq!(e.lines.len(), 2);
        assert!(
            e.lines[0].basis.contains("db.t3.micro, 20 GB"),
            "{:?}",
            e.lines[0]
        );
        assert!((e.lines[1].running_hourly * 730.0 - 0.5).abs() < 1e-9);
        let whole = of_graph(&t, &StoredGraph::default(), Some(&stack));
        assert_eq!(whole, of_stack(&t, &stack));
    }
}
