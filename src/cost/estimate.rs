//! The estimate of one tenant: each resource of its stack priced from the
//! table by the properties it declares, running and hibernated. Pure: the
//! caller hands over the resources (and each service's requests).

use serde::Serialize;

use super::prices::PriceTable;
use crate::kinds::Props;

/// What one catalog service asks of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Replicas when running (an HPA's minimum).
    pub replicas: u32,
    /// CPU requested per replica.
    pub cpu_millis: u64,
    /// Memory requested per replica.
    pub memory_bytes: u64,
}

/// One resource to price.
#[derive(Clone, Debug)]
pub struct Item<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// The properties as the stack declares them (`None`: unknown, the
    /// kind's defaults are assumed).
    pub props: Option<&'a Props>,
    /// For `k8s.service`: the service's requests.
    pub workload: Option<Workload>,
}

/// The price of one resource.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub id: String,
    pub kind: String,
    /// What was priced, e.g. `db.t3.micro, 20 GB`.
    pub basis: String,
    /// Per hour while the tenant runs.
    pub running_hourly: f64,
    /// Per hour while it is hibernated.
    pub hibernated_hourly: f64,
    /// Why this resource could not be priced (it counts 0), and the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<String>,
}

/// The priced resources of one tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    pub lines: Vec<Line>,
}

impl Estimate {
    pub fn running_hourly(&self) -> f64 {
        self.lines.iter().map(|l| l.running_hourly).sum()
    }

    pub fn hibernated_hourly(&self) -> f64 {
        self.lines.iter().map(|l| l.hibernated_hourly).sum()
    }

    /// The reasons of the lines that could not be priced.
    pub fn unpriced(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| l.unpriced.as_ref().map(|u| format!("{}: {u}", l.id)))
            .collect()
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Prices every item; the order of `items` is kept.
pub fn estimate(table: &PriceTable, items: &[Item]) -> Estimate {
    Estimate {
        lines: items.iter().map(|i| line(table, i)).collect(),
    }
}

fn line(table: &PriceTable, item: &Item) -> Line {
    let empty = Props::new();
    let p = item.props.unwrap_or(&empty);
    let hpm = table.hours_per_month;
    let mut l = Line {
        id: item.id.to_string(),
        kind: item.kind.to_string(),
        basis: String::new(),
        running_hourly: 0.0,
        hibernated_hourly: 0.0,
        unpriced: None,
    };
    match item.kind {
        "aws.rds.instance" => {
            let engine = text(p, "engine").unwrap_or("postgres");
            let class = text(p, "instance_class").unwrap_or("db.t3.micro");
            let gb = number(p, "allocated_storage").unwrap_or(20.0);
            let factor = if flag(p, "multi_az") {
                table.rds.multi_az_factor
            } else {
                1.0
            };
            let storage = gb * table.rds.storage_gb_month / hpm * factor;
            l.basis = format!(
                "{engine} {class}, {gb} GB{}",
                if factor > 1.0 { ", Multi-AZ" } else { "" }
            );
            // A stopped instance bills its storage only.
            l.hibernated_hourly = storage;
            match table
                .rds
                .instance_hour
                .get(engine)
                .and_then(|c| c.get(class))
            {
                Some(h) => l.running_hourly = h * factor + storage,
                None => {
                    l.running_hourly = storage;
                    l.unpriced = Some(format!(
                        "no price for {engine} {class} in {}; add rds.instance_hour.{engine}.{class}",
                        table.source
                    ));
                }
            }
        }
        "aws.autoscaling.group" => {
            let ty = text(p, "instance_type").unwrap_or("t3.small");
            let n = number(p, "desired")
                .or_else(|| number(p, "min"))
                .unwrap_or(1.0);
            let public = !p.get("public_ip").is_some_and(|v| v == false);
            let per = table.ec2.root_volume_gb * table.ec2.ebs_gb_month / hpm
                + if public {
                    table.ec2.public_ipv4_hour
                } else {
                    0.0
                };
            l.basis = format!("{n} × {ty}");
            // Hibernated: the group at 0, its instances and volumes gone.
            match table.ec2.instance_hour.get(ty) {
                Some(h) => l.running_hourly = n * (h + per),
                None => {
                    l.running_hourly = n * per;
                    l.unpriced = Some(format!(
                        "no price for instance type {ty} in {}; add ec2.instance_hour.{ty}",
                        table.source
                    ));
                }
            }
        }
        "aws.elbv2.load_balancer" | "aws.elb.classic" => {
            let e = &table.elb;
            let zones = count(p, "subnet_ids").unwrap_or(e.assumed_zones);
            let internal = text(p, "scheme") == Some("internal");
            let ips = if internal { 0.0 } else { zones };
            let (name, hour) = match (item.kind, text(p, "type")) {
                ("aws.elb.classic", _) => ("classic", e.classic_hour),
                (_, Some("network")) => ("network", e.network_hour + e.assumed_lcu * e.nlcu_hour),
                _ => (
                    "application",
                    e.application_hour + e.assumed_lcu * e.lcu_hour,
                ),
            };
            l.basis = format!("{name}, {} LCU, {ips} public IPv4", e.assumed_lcu);
            // A hibernated tenant keeps its load balancer.
            l.running_hourly = hour + ips * e.public_ipv4_hour;
            l.hibernated_hourly = l.running_hourly;
        }
        "aws.route53.zone" => {
            l.basis = "hosted zone".into();
            l.running_hourly = table.route53.hosted_zone_month / hpm;
            l.hibernated_hourly = l.running_hourly;
        }
        "k8s.service" => match item.workload {
            Some(w) => {
                let cpu = w.cpu_millis as f64 / 1000.0;
                let gib = w.memory_bytes as f64 / GIB;
                l.basis = format!(
                    "{} × ({cpu} vCPU, {:.3} GiB) on {}",
                    w.replicas, gib, table.kubernetes.node
                );
                // Hibernated: the Deployment at 0 replicas.
                l.running_hourly = f64::from(w.replicas)
                    * (cpu * table.kubernetes.vcpu_hour + gib * table.kubernetes.gib_hour);
            }
            None => {
                l.unpriced =
                    Some("its service is not in the catalog; its requests are unknown".to_string())
            }
        },
        kind => match table.idle_month.get(kind) {
            Some(m) => {
                l.basis = "idle".into();
                l.running_hourly = m / hpm;
                l.hibernated_hourly = l.running_hourly;
            }
            None => {
                l.unpriced = Some(format!(
                    "kind {kind} has no price in {}; add it under idle_month",
                    table.source
                ))
            }
        },
    }
    l
}

/// A literal string property (a `${...}` reference is not known here).
fn text<'a>(p: &'a Props, key: &str) -> Option<&'a str> {
    p.get(key)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.contains("${"))
}

fn number(p: &Props, key: &str) -> Option<f64> {
    match p.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
}

fn flag(p: &Props, key: &str) -> bool {
    matches!(p.get(key), Some(serde_json::Value::Bool(true)))
}

/// The length of a literal list, or of a comma-separated literal string.
fn count(p: &Props, key: &str) -> Option<f64> {
    match p.get(key)? {
        serde_json::Value::Array(a) if !a.iter().any(|v| v.to_string().contains("${")) => {
            Some(a.len() as f64)
        }
        serde_json::Value::String(s) if !s.contains("${") => {
            Some(s.split(',').filter(|x| !x.trim().is_empty()).count() as f64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: serde_json::Value) -> Props {
        v.as_object().unwrap().clone()
    }

    fn one(kind: &str, p: Option<&Props>, workload: Option<Workload>) -> Line {
        let t = PriceTable::shipped();
        let e = estimate(
            &t,
            &[Item {
                id: "r",
                kind,
                props: p,
                workload,
            }],
        );
        e.lines[0].clone()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rds_runs_class_plus_storage_and_hibernates_at_storage_only() {
        let p = props(
            serde_json::json!({"engine": "postgres", "instance_class": "db.t3.micro", "allocated_storage": 20}),
        );
        let l = one("aws.rds.instance", Some(&p), None);
        let storage = 20.0 * 0.115 / 730.0;
        assert!(close(l.running_hourly, 0.018 + storage), "{l:?}");
        assert!(close(l.hibernated_hourly, storage), "{l:?}");
        assert_eq!(l.unpriced, None);
    }

    #[test]
    fn multi_az_doubles_rds() {
        let p = props(serde_json::json!({"instance_class": "db.t3.small", "multi_az": true}));
        let l = one("aws.rds.instance", Some(&p), None);
        let storage = 20.0 * 0.115 / 730.0;
        assert!(close(l.running_hourly, 2.0 * (0.036 + storage)), "{l:?}");
    }

    #[test]
    fn an_unknown_class_is_unpriced_with_the_fix() {
        let p = props(serde_json::json!({"instance_class": "db.x9.huge"}));
        let l = one("aws.rds.instance", Some(&p), None);
        let u = l.unpriced.unwrap();
        assert!(
            u.contains("add rds.instance_hour.postgres.db.x9.huge"),
            "{u}"
        );
    }

    #[test]
    fn an_autoscaling_group_costs_its_desired_instances_and_nothing_hibernated() {
        let p = props(
            serde_json::json!({"instance_type": "t3.small", "min": 1, "desired": 2, "subnet_ids": "${network.subnet_ids}"}),
        );
        let l = one("aws.autoscaling.group", Some(&p), None);
        let per = 0.0208 + 8.0 * 0.08 / 730.0 + 0.005;
        assert!(close(l.running_hourly, 2.0 * per), "{l:?}");
        assert_eq!(l.hibernated_hourly, 0.0);
    }

    #[test]
    fn an_alb_counts_its_lcu_and_one_public_address_per_zone() {
        let p = props(serde_json::json!({"subnet_ids": ["a", "b", "c"]}));
        let l = one("aws.elbv2.load_balancer", Some(&p), None);
        assert!(
            close(l.running_hourly, 0.0225 + 0.008 + 3.0 * 0.005),
            "{l:?}"
        );
        assert_eq!(l.running_hourly, l.hibernated_hourly);
        let p = props(serde_json::json!({"subnet_ids": "${n.ids}", "scheme": "internal"}));
        let l = one("aws.elbv2.load_balancer", Some(&p), None);
        assert!(close(l.running_hourly, 0.0225 + 0.008), "{l:?}");
    }

    #[test]
    fn a_zone_costs_its_monthly_fee_and_free_kinds_nothing() {
        let l = one("aws.route53.zone", None, None);
        assert!(close(l.running_hourly * 730.0, 0.5), "{l:?}");
        let l = one("aws.acm.certificate", None, None);
        assert_eq!((l.running_hourly, l.unpriced), (0.0, None));
    }

    #[test]
    fn a_service_costs_its_requests_and_nothing_hibernated() {
        let w = Workload {
            replicas: 2,
            cpu_millis: 250,
            memory_bytes: 512 * 1024 * 1024,
        };
        let l = one("k8s.service", None, Some(w));
        assert!(
            close(l.running_hourly, 2.0 * (0.25 * 0.024 + 0.5 * 0.006)),
            "{l:?}"
        );
        assert_eq!(l.hibernated_hourly, 0.0);
        assert!(one("k8s.service", None, None).unpriced.is_some());
    }
}
