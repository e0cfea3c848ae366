//! Preflight `quotas`: what the stack would create against the region's
//! quotas — VPCs, internet gateways, Application, Network and Classic Load
//! Balancers, RDS DB instances, Elastic IPs. The applied value comes from
//! Service Quotas (GetServiceQuota); where that is denied or not answered
//! (an emulator, an SCP), AWS's documented default stands in and the plan
//! says so. Usage is counted with the services' Describe calls; the tenant's
//! own resources (tag `envctl:tenant`) are already there, so a rerun or a
//! resume never fails because of them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;

use super::{CallFailure, Check, Finding, PreflightCx, credentials, endpoint};
use crate::aws::AwsClients;
use crate::kinds::aws::ec2::network;
use crate::stack::{Resource, Stack};
use crate::tenant::tags;

pub struct Quotas;

pub const NAME: &str = "quotas";

/// A quota the stack's kinds count against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quota {
    Vpcs,
    InternetGateways,
    ApplicationLoadBalancers,
    NetworkLoadBalancers,
    ClassicLoadBalancers,
    DbInstances,
    ElasticIps,
}

/// Where a quota lives in Service Quotas and its documented default.
pub struct QuotaSpec {
    pub quota: Quota,
    pub name: &'static str,
    pub service_code: &'static str,
    pub quota_code: &'static str,
    pub default: u32,
    /// Where AWS documents the default.
    pub doc: &'static str,
}

/// The codes were checked against AWS's quota pages (which link each quota
/// to its Service Quotas console page by code) and against moto's table of
/// VPC defaults (`moto/servicequotas/resources/default_quotas/vpc.py`).
pub static SPECS: &[QuotaSpec] = &[
    QuotaSpec {
        quota: Quota::Vpcs,
        name: "VPCs per Region",
        service_code: "vpc",
        quota_code: "L-F678F1CE",
        default: 5,
        doc: "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    },
    QuotaSpec {
        quota: Quota::InternetGateways,
        name: "Internet gateways per Region",
        service_code: "vpc",
        quota_code: "L-A4707A72",
        default: 5,
        doc: "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    },
    QuotaSpec {
        quota: Quota::ApplicationLoadBalancers,
        name: "Application Load Balancers per Region",
        service_code: "elasticloadbalancing",
        quota_code: "L-53DA6B97",
        default: 50,
        doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html",
    },
    QuotaSpec {
        quota: Quota::NetworkLoadBalancers,
        name: "Network Load Balancers per Region",
        service_code: "elasticloadbalancing",
        quota_code: "L-69A177A2",
        default: 50,
        doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-limits.html",
    },
    QuotaSpec {
        quota: Quota::ClassicLoadBalancers,
        name: "Classic Load Balancers per Region",
        service_code: "elasticloadbalancing",
        quota_code: "L-E9E9831D",
        default: 20,
        doc: "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-limits.html",
    },
    QuotaSpec {
        quota: Quota::DbInstances,
        name: "DB instances",
        service_code: "rds",
        quota_code: "L-7B6409FD",
        default: 40,
        doc: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html",
    },
    QuotaSpec {
        quota: Quota::ElasticIps,
        name: "EC2-VPC Elastic IPs",
        service_code: "ec2",
        quota_code: "L-0263D0A3",
        default: 5,
        doc: "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
    },
];

pub fn spec(q: Quota) -> &'static QuotaSpec {
    SPECS
        .iter()
        .find(|s| s.quota == q)
        .expect("every quota has a spec")
}

/// What one resource of the stack counts against, if it creates anything
/// that does. Read from the kinds:
/// - `aws.ec2.network` creates a VPC and an internet gateway, unless it uses
///   adopts an existing or shared network (any of
///   [`network::ADOPTING_PROPS`]): then it creates nothing.
/// - `aws.elbv2.load_balancer` makes one load balancer of its `type`
///   (application by default, or network).
/// - `aws.elb.classic` one Classic Load Balancer; `aws.rds.instance` one DB
///   instance (a Multi-AZ standby does not count as another).
/// - No kind allocates an Elastic IP today (workers get auto-assigned public
///   addresses, which do not count); a kind that does adds its line here.
fn counts_against(r: &Resource) -> Vec<Quota> {
    let set = |key: &str| r.properties.get(key).is_some_and(|v| !v.is_null());
    match r.kind.as_str() {
        "aws.ec2.network" if !network::ADOPTING_PROPS.iter().any(|p| set(p)) => {
            vec![Quota::Vpcs, Quota::InternetGateways]
        }
        "aws.elbv2.load_balancer" => match r.properties.get("type").and_then(|t| t.as_str()) {
            Some("network") => vec![Quota::NetworkLoadBalancers],
            _ => vec![Quota::ApplicationLoadBalancers],
        },
        "aws.elb.classic" => vec![Quota::ClassicLoadBalancers],
        "aws.rds.instance" => vec![Quota::DbInstances],
        _ => vec![],
    }
}

/// How many of each quota the stack would create, from nothing.
pub fn planned(stack: &Stack) -> BTreeMap<Quota, u32> {
    let mut out = BTreeMap::new();
    for q in stack.resources.iter().flat_map(counts_against) {
        *out.entry(q).or_insert(0) += 1;
    }
    out
}

/// The quota's value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub value: u32,
    pub source: String,
}

/// Usage in the region: every resource that counts, and how many of them are
/// this tenant's own (already made by an earlier run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub total: u32,
    pub own: u32,
}

/// Whether the stack fits: it needs `planned` minus what the tenant already
/// has; it fits when usage plus that need stays within the quota.
pub fn decide(spec: &QuotaSpec, limit: &Limit, usage: Usage, planned: u32) -> Finding {
    let need = planned.saturating_sub(usage.own);
    let own = if usage.own > 0 {
        format!(", {} of them this tenant's own", usage.own)
    } else {
        String::new()
    };
    let numbers = format!(
        "{} ({}): {} in use{own}, {need} more needed, quota {} ({})",
        spec.name, spec.quota_code, usage.total, limit.value, limit.source
    );
    if usage.total.saturating_add(need) <= limit.value {
        return Finding::pass(NAME, numbers);
    }
    let share = match spec.quota {
        Quota::Vpcs | Quota::InternetGateways => {
            ", let tenants share one network (aws.ec2.network with shared_from, vpc_id or subnet_ids, see the README)"
        }
        _ => "",
    };
    Finding::fail(
        NAME,
        format!(
            "the stack would exceed {}: {} in use + {need} needed > quota {} ({})",
            spec.name, usage.total, limit.value, limit.source
        ),
        format!(
            "request an increase in Service Quotas (service {}, quota {} \"{}\"){share}, or destroy unused tenants (`envctl get tenants`, `envctl destroy tenant NAME`)",
            spec.service_code, spec.quota_code, spec.name
        ),
    )
}

/// The limit from a GetServiceQuota answer, or the documented default.
pub fn limit_of(spec: &QuotaSpec, answer: Result<Option<f64>, String>) -> Limit {
    match answer {
        Ok(Some(v)) if v >= 0.0 => Limit {
            value: v.min(u32::MAX as f64) as u32,
            source: "applied quota, Service Quotas".into(),
        },
        Ok(_) => Limit {
            value: spec.default,
            source: format!("AWS default, {}; Service Quotas gave no value", spec.doc),
        },
        Err(why) => Limit {
            value: spec.default,
            source: format!("AWS default, {}; Service Quotas: {why}", spec.doc),
        },
    }
}

#[async_trait]
impl Check for Quotas {
    fn name(&self) -> &'static str {
        NAME
    }
    fn after(&self) -> &'static [&'static str] {
        &[endpoint::NAME, credentials::NAME]
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        let planned = planned(&cx.stack);
        if planned.is_empty() {
            return vec![Finding::pass(
                NAME,
                "the stack creates nothing that counts against a checked quota",
            )];
        }
        let backends = match cx.backends(NAME) {
            Ok(b) => b,
            Err(failed) => return failed,
        };
        let mut out = Vec::new();
        for (quota, count) in planned {
            let spec = spec(quota);
            let usage = match usage(&backends.aws, cx.tenant.as_str(), quota).await {
                Ok(u) => u,
                Err((call, failure)) => {
                    out.push(Finding::fail(
                        NAME,
                        format!(
                            "cannot count the {} in use ({call}: {})",
                            spec.name,
                            failure.describe()
                        ),
                        format!(
                            "allow {call} to these credentials (create needs it too), or run with --skip-preflight in an emergency"
                        ),
                    ));
                    continue;
                }
            };
            let limit = limit_of(spec, applied(cx, spec).await);
            out.push(decide(spec, &limit, usage, count));
        }
        out
    }
}

/// GetServiceQuota: "Retrieves the applied quota value for the specified
/// account-level or resource-level quota. For some quotas, only the default
/// values are available" (Service Quotas API reference). Like
/// terraform-provider-aws (internal/service/servicequotas/find.go,
/// findServiceQuotaByID), NoSuchResourceException, an ErrorReason in the
/// answer or an empty value mean "no applied value"; we then use the
/// documented default.
async fn applied(cx: &PreflightCx, spec: &QuotaSpec) -> Result<Option<f64>, String> {
    match cx
        .clients
        .quotas
        .get_service_quota()
        .service_code(spec.service_code)
        .quota_code(spec.quota_code)
        .send()
        .await
    {
        Ok(out) => match out.quota() {
            Some(q) if q.error_reason().is_some() => Err(q
                .error_reason()
                .and_then(|r| r.error_message())
                .unwrap_or("ErrorReason in the answer")
                .to_string()),
            Some(q) => Ok(q.value()),
            None => Ok(None),
        },
        Err(e) => Err(CallFailure::of(&e).describe()),
    }
}

type UsageError = (&'static str, CallFailure);

fn has_tenant_tag<'a>(
    mut t: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    tenant: &str,
) -> bool {
    t.any(|(k, v)| k == Some(tags::TENANT) && v == Some(tenant))
}

fn count(tenant_flags: impl Iterator<Item = bool>) -> Usage {
    let mut u = Usage { total: 0, own: 0 };
    for own in tenant_flags {
        u.total += 1;
        u.own += u32::from(own);
    }
    u
}

/// Counts what is in use in the region for `quota`.
async fn usage(aws: &AwsClients, tenant: &str, quota: Quota) -> Result<Usage, UsageError> {
    match quota {
        // DescribeVpcs / DescribeInternetGateways (EC2 API reference) list
        // every VPC / gateway of the region with its tags; the default VPC
        // and its gateway count against the quotas too.
        Quota::Vpcs => {
            let mut flags = Vec::new();
            let mut pages = aws.ec2.describe_vpcs().into_paginator().items().send();
            while let Some(v) = pages.next().await {
                let v = v.map_err(|e| ("DescribeVpcs", CallFailure::of(&e)))?;
                flags.push(has_tenant_tag(
                    v.tags().iter().map(|t| (t.key(), t.value())),
                    tenant,
                ));
            }
            Ok(count(flags.into_iter()))
        }
        Quota::InternetGateways => {
            let mut flags = Vec::new();
            let mut pages = aws
                .ec2
                .describe_internet_gateways()
                .into_paginator()
                .items()
                .send();
            while let Some(g) = pages.next().await {
                let g = g.map_err(|e| ("DescribeInternetGateways", CallFailure::of(&e)))?;
                flags.push(has_tenant_tag(
                    g.tags().iter().map(|t| (t.key(), t.value())),
                    tenant,
                ));
            }
            Ok(count(flags.into_iter()))
        }
        // DescribeAddresses is not paginated (EC2 API reference); only
        // addresses of the VPC domain count against L-0263D0A3.
        Quota::ElasticIps => {
            let out = aws
                .ec2
                .describe_addresses()
                .filters(Filter::builder().name("domain").values("vpc").build())
                .send()
                .await
                .map_err(|e| ("DescribeAddresses", CallFailure::of(&e)))?;
            Ok(count(out.addresses().iter().map(|a| {
                has_tenant_tag(a.tags().iter().map(|t| (t.key(), t.value())), tenant)
            })))
        }
        Quota::ApplicationLoadBalancers | Quota::NetworkLoadBalancers => {
            use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;
            let wanted = if quota == Quota::ApplicationLoadBalancers {
                LoadBalancerTypeEnum::Application
            } else {
                LoadBalancerTypeEnum::Network
            };
            let mut arns = Vec::new();
            let mut pages = aws.elbv2.describe_load_balancers().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| ("DescribeLoadBalancers", CallFailure::of(&e)))?;
                arns.extend(
                    page.load_balancers()
                        .iter()
                        .filter(|lb| lb.r#type() == Some(&wanted))
                        .filter_map(|lb| lb.load_balancer_arn().map(str::to_string)),
                );
            }
            // DescribeTags takes at most 20 ARNs per call (ELBv2 API reference).
            let mut own = 0;
            for chunk in arns.chunks(20) {
                let out = aws
                    .elbv2
                    .describe_tags()
                    .set_resource_arns(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| ("DescribeTags", CallFailure::of(&e)))?;
                own += out
                    .tag_descriptions()
                    .iter()
                    .filter(|d| {
                        has_tenant_tag(d.tags().iter().map(|t| (t.key(), t.value())), tenant)
                    })
                    .count() as u32;
            }
            Ok(Usage {
                total: arns.len() as u32,
                own,
            })
        }
        Quota::ClassicLoadBalancers => {
            let mut names = Vec::new();
            let mut pages = aws.elb.describe_load_balancers().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| ("DescribeLoadBalancers", CallFailure::of(&e)))?;
                names.extend(
                    page.load_balancer_descriptions()
                        .iter()
                        .filter_map(|lb| lb.load_balancer_name().map(str::to_string)),
                );
            }
            // DescribeTags: at most 20 names per call (ELB API reference).
            let mut own = 0;
            for chunk in names.chunks(20) {
                let out = aws
                    .elb
                    .describe_tags()
                    .set_load_balancer_names(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| ("DescribeTags", CallFailure::of(&e)))?;
                own += out
                    .tag_descriptions()
                    .iter()
                    .filter(|d| {
                        has_tenant_tag(d.tags().iter().map(|t| (Some(t.key()), t.value())), tenant)
                    })
                    .count() as u32;
            }
            Ok(Usage {
                total: names.len() as u32,
                own,
            })
        }
        // DescribeDBInstances returns each instance's TagList (RDS API
        // reference, DBInstance).
        Quota::DbInstances => {
            let mut flags = Vec::new();
            let mut pages = aws
                .rds
                .describe_db_instances()
                .into_paginator()
                .items()
                .send();
            while let Some(db) = pages.next().await {
                let db = db.map_err(|e| ("DescribeDBInstances", CallFailure::of(&e)))?;
                flags.push(has_tenant_tag(
                    db.tag_list().iter().map(|t| (t.key(), t.value())),
                    tenant,
                ));
            }
            Ok(count(flags.into_iter()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Status;
    use super::*;

    fn stack(yaml: &str) -> Stack {
        crate::stack::load_str(Path::new("t.yaml"), yaml).unwrap()
    }

    #[test]
    fn a_network_an_alb_and_a_database_need_a_vpc_a_gateway_an_alb_and_a_db_instance() {
        // The parts of stacks/tenant.yaml that count against quotas.
        let s = stack(
            "stack: t\nresources:\n  - id: network\n    kind: aws.ec2.network\n    properties: { cidr: 10.40.0.0/16 }\n  - id: alb\n    kind: aws.elbv2.load_balancer\n    properties: { type: application, subnet_ids: \"${network.subnet_ids}\", vpc_id: \"${network.vpc_id}\" }\n  - id: pw\n    kind: secret.password\n    publish: [{ output: value, key: DB_PASSWORD, level: tenant, secret: true }]\n  - id: database\n    kind: aws.rds.instance\n    properties: { engine: postgres, password: \"${pw.value}\", subnet_ids: \"${network.subnet_ids}\" }\n  - id: files\n    kind: aws.s3.bucket\n",
        );
        let p = planned(&s);
        assert_eq!(
            p,
            BTreeMap::from([
                (Quota::Vpcs, 1),
                (Quota::InternetGateways, 1),
                (Quota::ApplicationLoadBalancers, 1),
                (Quota::DbInstances, 1),
            ])
        );
    }

    #[test]
    fn an_adopted_network_needs_no_vpc_and_a_network_lb_counts_as_nlb() {
        let s = stack(
            "stack: t\nresources:\n  - id: net\n    kind: aws.ec2.network\n    properties: { vpc_id: vpc-0123 }\n  - id: nlb\n    kind: aws.elbv2.load_balancer\n    properties: { type: network, subnet_ids: \"${net.subnet_ids}\", vpc_id: \"${net.vpc_id}\" }\n  - id: clb\n    kind: aws.elb.classic\n    properties: { subnet_ids: \"${net.subnet_ids}\" }\n",
        );
        assert_eq!(
            planned(&s),
            BTreeMap::from([
                (Quota::NetworkLoadBalancers, 1),
                (Quota::ClassicLoadBalancers, 1)
            ])
        );
        let shared = stack(
            "stack: t\nresources:\n  - id: net\n    kind: aws.ec2.network\n    properties: { subnet_ids: [subnet-1, subnet-2] }\n",
        );
        assert!(planned(&shared).is_empty());
    }

    fn limit(v: u32) -> Limit {
        Limit {
            value: v,
            source: "test".into(),
        }
    }

    #[test]
    fn exceeding_a_quota_names_it_with_usage_need_and_the_fix() {
        let f = decide(spec(Quota::Vpcs), &limit(5), Usage { total: 5, own: 0 }, 1);
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.detail,
            "the stack would exceed VPCs per Region: 5 in use + 1 needed > quota 5 (test)"
        );
        let fix = f.fix.unwrap();
        assert!(
            fix.contains("L-F678F1CE") && fix.contains("Service Quotas"),
            "{fix}"
        );
        assert!(fix.contains("share one network") && fix.contains("destroy unused tenants"));
        let db = decide(
            spec(Quota::DbInstances),
            &limit(40),
            Usage { total: 40, own: 0 },
            1,
        );
        assert!(!db.fix.unwrap().contains("share one network"));
    }

    #[test]
    fn a_rerun_is_not_refused_because_of_the_tenants_own_resources() {
        // Full region, but the one VPC the stack needs is the tenant's own.
        let f = decide(spec(Quota::Vpcs), &limit(5), Usage { total: 5, own: 1 }, 1);
        assert_eq!(f.status, Status::Pass, "{}", f.detail);
        assert!(f.detail.contains("1 of them this tenant's own"));
        assert!(f.detail.contains("0 more needed"));
        // Room for exactly what is needed passes; one less fails.
        assert_eq!(
            decide(spec(Quota::Vpcs), &limit(5), Usage { total: 4, own: 0 }, 1).status,
            Status::Pass
        );
        assert_eq!(
            decide(spec(Quota::Vpcs), &limit(5), Usage { total: 4, own: 0 }, 2).status,
            Status::Fail
        );
    }

    #[test]
    fn without_an_applied_value_the_documented_default_is_used_and_said() {
        let s = spec(Quota::ApplicationLoadBalancers);
        let l = limit_of(s, Err("NoSuchResourceException: not available".into()));
        assert_eq!(l.value, 50);
        assert!(
            l.source
                .starts_with("AWS default, https://docs.aws.amazon.com/")
        );
        assert!(l.source.contains("NoSuchResourceException"));
        assert_eq!(limit_of(s, Ok(Some(75.0))).value, 75);
        assert_eq!(limit_of(s, Ok(None)).value, 50);
    }

    #[test]
    fn every_quota_has_one_spec_with_a_quota_code() {
        for s in SPECS {
            assert!(
                s.quota_code.starts_with("L-") && s.default > 0,
                "{}",
                s.name
            );
            assert_eq!(SPECS.iter().filter(|o| o.quota == s.quota).count(), 1);
        }
    }
}
