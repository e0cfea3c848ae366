//! The `aws.elb.classic` kind: a Classic Load Balancer per tenant resource,
//! with an HTTP:80 listener (and an HTTPS:443 one with a certificate), both
//! forwarding plain HTTP to the instances, and an HTTP health check.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancing::Client;
use aws_sdk_elasticloadbalancing::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancing::types::{HealthCheck, Listener, LoadBalancerDescription};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    MAX_NAME, Scheme, TAG_BATCH, check_elb_name, default_health_check_path, default_target_port,
};
use crate::kinds::aws::call::found;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::{Tags, foreign_owner, swept_resource};
use crate::kinds::aws::props::{
    health_check_path_issue, id_issue, non_empty, refuse, string_list, string_list_schema,
};
use crate::kinds::aws::tags::{Tagging, converge as converge_tags, sdk_tags, tag_map};
use crate::kinds::schema::{KindProps, PropSchema};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};

/// Health check: every 15 s, 5 s timeout, 3 successes make an instance
/// healthy, 2 failures unhealthy.
const HC_INTERVAL: i32 = 15;
const HC_TIMEOUT: i32 = 5;
const HC_HEALTHY: i32 = 3;
const HC_UNHEALTHY: i32 = 2;

pub struct ClassicLoadBalancer;

/// A Classic Load Balancer: HTTP:80 (and HTTPS:443 with a certificate)
/// forwarding plain HTTP to the instances, with an HTTP health check.
///
/// The listeners forward to `instance_port` over HTTP; the health check asks
/// `HTTP:<instance_port><health_check_path>` every 15 s (5 s timeout, 3
/// successes healthy, 2 failures unhealthy). Rules: Elastic Load Balancing
/// API reference (2012-06-01), CreateLoadBalancer (`Subnets`,
/// `SecurityGroups`, `Scheme`, `Listener.InstancePort` 1-65535) and
/// ConfigureHealthCheck (`HealthCheck.Target`, at most 1024 characters). The
/// name is envctl's, `envctl-<tenant>-<id>` shortened with a hash to 32
/// characters of letters, digits and `-` (`LoadBalancerName`), checked at
/// apply where the tenant is known.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ClassicProps {
    /// Subnets to place it in (at least one). A list, or a comma-separated
    /// string (as references yield), e.g. `${network.subnet_ids}`.
    #[serde(deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    subnet_ids: Vec<String>,
    /// Security groups (a list or a comma-separated string), e.g.
    /// `[${web-sg.group_id}]`; absent: one made by ELB.
    #[serde(default, deserialize_with = "string_list")]
    #[schemars(schema_with = "string_list_schema")]
    security_group_ids: Vec<String>,
    /// `internet-facing` (default) or `internal`; cannot change once created.
    #[serde(default)]
    scheme: Scheme,
    /// ACM or IAM certificate ARN, e.g. `${cert.arn}`: adds an HTTPS:443
    /// listener forwarding HTTP to `instance_port`; absent (or empty): HTTP
    /// only.
    #[serde(default)]
    certificate_arn: Option<String>,
    /// The instances' HTTP port; default 8080.
    #[serde(default = "default_target_port")]
    #[schemars(range(min = 1, max = 65535))]
    instance_port: u16,
    /// HTTP health check path on `instance_port`, starting with `/`; default
    /// `/healthcheck`.
    #[serde(default = "default_health_check_path")]
    #[schemars(length(max = 1024))]
    health_check_path: String,
}

impl KindProps for ClassicProps {
    /// At least one subnet; subnet and group ids by their prefix; the
    /// health-check path's characters (CreateLoadBalancer and
    /// ConfigureHealthCheck, ELB API reference). References are skipped.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        if self.subnet_ids.is_empty() {
            issues.push(PropIssue::new(
                &["subnet_ids"],
                "is empty; give at least one subnet id, e.g. ${network.subnet_ids}",
            ));
        }
        issues.extend(id_issue("subnet_ids", &self.subnet_ids, "subnet-"));
        issues.extend(id_issue(
            "security_group_ids",
            &self.security_group_ids,
            "sg-",
        ));
        issues.extend(health_check_path_issue(&self.health_check_path));
        issues
    }
}

/// The kind's name in stacks.
const NAME: &str = "aws.elb.classic";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<ClassicProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the load balancer name, envctl-<tenant>-<id> (at most 32 characters)",
    },
    OutputSpec {
        name: "dns_name",
        secret: false,
        doc: "the load balancer's DNS name",
    },
    OutputSpec {
        name: "canonical_hosted_zone_id",
        secret: false,
        doc: "the Route 53 hosted zone of the DNS name, for alias records",
    },
];

/// Route 53 hosted zones of Classic (and Application) Load Balancer DNS
/// names by region, from the "Elastic Load Balancing endpoints and quotas"
/// page of the AWS General Reference. Used only when DescribeLoadBalancers
/// leaves `CanonicalHostedZoneNameID` out (AWS always sends it; moto 5.2
/// does not).
const HOSTED_ZONES: &[(&str, &str)] = &[
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
    ("ca-central-1", "ZQSVJUPU6J1EY"),
    ("eu-central-1", "Z215JYRZR1TBD5"),
    ("eu-west-1", "Z32O12XQLNTSW2"),
    ("eu-west-2", "ZHURV8PSTC4K8"),
    ("eu-west-3", "Z3Q77PNBQS71R4"),
    ("eu-north-1", "Z23TAZ6LKFMNIO"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-northeast-1", "Z14GRHDCWA56QT"),
    ("ap-northeast-2", "ZWKZPGTI48KDX"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("sa-east-1", "Z2P70J7HTTTPLU"),
];

struct Wanted {
    name: String,
    subnets: Vec<String>,
    security_groups: Vec<String>,
    scheme: Scheme,
    listeners: Vec<Listener>,
    health_check: HealthCheck,
}

fn wanted(cx: &Cx, props: &Props) -> Result<Wanted, KindError> {
    let p: ClassicProps = parse_props(props)?;
    let name = cx.physical_name(MAX_NAME);
    check_elb_name("load balancer", &name, cx)?;
    refuse(SCHEMA.issues(props))?;
    let port = i32::from(p.instance_port);
    let listener = |protocol: &str, lb_port: i32, cert: Option<String>| {
        Listener::builder()
            .protocol(protocol)
            .load_balancer_port(lb_port)
            .instance_protocol("HTTP")
            .instance_port(port)
            .set_ssl_certificate_id(cert)
            .build()
            .map_err(|e| KindError::Permanent(format!("listener: {e}")))
    };
    let mut listeners = vec![listener("HTTP", 80, None)?];
    if let Some(cert) = non_empty(p.certificate_arn) {
        listeners.push(listener("HTTPS", 443, Some(cert))?);
    }
    let health_check = HealthCheck::builder()
        .target(format!("HTTP:{port}{}", p.health_check_path))
        .interval(HC_INTERVAL)
        .timeout(HC_TIMEOUT)
        .healthy_threshold(HC_HEALTHY)
        .unhealthy_threshold(HC_UNHEALTHY)
        .build()
        .map_err(|e| KindError::Permanent(format!("health check: {e}")))?;
    Ok(Wanted {
        name,
        subnets: p.subnet_ids,
        security_groups: p.security_group_ids,
        scheme: p.scheme,
        listeners,
        health_check,
    })
}

async fn describe(elb: &Client, name: &str) -> Result<Option<LoadBalancerDescription>, KindError> {
    Ok(found(
        &format!("DescribeLoadBalancers {name}"),
        elb.describe_load_balancers()
            .load_balancer_names(name)
            .send()
            .await,
        &["LoadBalancerNotFound"],
    )?
    .and_then(|out| out.load_balancer_descriptions().first().cloned()))
}

/// The tags of each named load balancer (in batches of 20).
async fn tags_of(elb: &Client, names: &[String]) -> Result<HashMap<String, Tags>, KindError> {
    let mut out = HashMap::new();
    for batch in names.chunks(TAG_BATCH) {
        let answer = match elb
            .describe_tags()
            .set_load_balancer_names(Some(batch.to_vec()))
            .send()
            .await
        {
            Ok(a) => a,
            // One of them went away since it was listed: ask one by one.
            Err(e) if e.code() == Some("LoadBalancerNotFound") && batch.len() > 1 => {
                for name in batch {
                    out.extend(Box::pin(tags_of(elb, std::slice::from_ref(name))).await?);
                }
                continue;
            }
            Err(e) if e.code() == Some("LoadBalancerNotFound") => continue,
            Err(e) => return Err(classify("DescribeTags", e)),
        };
        for d in answer.tag_descriptions() {
            if let Some(name) = d.load_balancer_name() {
                out.insert(name.to_string(), tag_map(d.tags()));
            }
        }
    }
    Ok(out)
}

/// The tagging calls of Classic Load Balancers (by name).
struct ClassicTagging<'a>(&'a Client);

#[async_trait]
impl Tagging for ClassicTagging<'_> {
    async fn read(&self, name: &str) -> Result<Option<Tags>, KindError> {
        Ok(tags_of(self.0, &[name.to_string()]).await?.remove(name))
    }

    async fn add(&self, name: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        self.0
            .add_tags()
            .load_balancer_names(name)
            .set_tags(Some(sdk_tags(pairs)?))
            .send()
            .await
            .map_err(|e| classify(&format!("AddTags {name}"), e))?;
        Ok(())
    }
}

fn same_listener(a: &Listener, b: &Listener) -> bool {
    a.protocol().eq_ignore_ascii_case(b.protocol())
        && a.load_balancer_port() == b.load_balancer_port()
        && a.instance_protocol()
            .unwrap_or(a.protocol())
            .eq_ignore_ascii_case(b.instance_protocol().unwrap_or(b.protocol()))
        && a.instance_port() == b.instance_port()
        && a.ssl_certificate_id() == b.ssl_certificate_id()
}

fn same_health_check(a: &HealthCheck, b: &HealthCheck) -> bool {
    a.target() == b.target()
        && a.interval() == b.interval()
        && a.timeout() == b.timeout()
        && a.healthy_threshold() == b.healthy_threshold()
        && a.unhealthy_threshold() == b.unhealthy_threshold()
}

/// Listeners, subnets, security groups and health check as wanted.
async fn converge(elb: &Client, w: &Wanted, lb: &LoadBalancerDescription) -> Result<(), KindError> {
    let name = &w.name;
    let have: Vec<&Listener> = lb
        .listener_descriptions()
        .iter()
        .filter_map(|d| d.listener())
        .collect();
    // A listener that differs is replaced (ELB cannot modify one in place,
    // except its certificate).
    let stale: Vec<i32> = have
        .iter()
        .filter(|h| !w.listeners.iter().any(|want| same_listener(h, want)))
        .map(|h| h.load_balancer_port())
        .collect();
    // One port per call: moto 5.2 keeps every listener when given several
    // ports at once (AWS takes a list; one at a time works on both).
    for port in &stale {
        elb.delete_load_balancer_listeners()
            .load_balancer_name(name)
            .load_balancer_ports(*port)
            .send()
            .await
            .map_err(|e| classify(&format!("DeleteLoadBalancerListeners {name} {port}"), e))?;
    }
    let missing: Vec<Listener> = w
        .listeners
        .iter()
        .filter(|want| {
            !have
                .iter()
                .any(|h| same_listener(h, want) && !stale.contains(&h.load_balancer_port()))
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        elb.create_load_balancer_listeners()
            .load_balancer_name(name)
            .set_listeners(Some(missing))
            .send()
            .await
            .map_err(|e| classify(&format!("CreateLoadBalancerListeners {name}"), e))?;
    }

    let have_subnets: BTreeSet<&str> = lb.subnets().iter().map(String::as_str).collect();
    let want_subnets: BTreeSet<&str> = w.subnets.iter().map(String::as_str).collect();
    let attach: Vec<String> = want_subnets
        .difference(&have_subnets)
        .map(|s| s.to_string())
        .collect();
    let detach: Vec<String> = have_subnets
        .difference(&want_subnets)
        .map(|s| s.to_string())
        .collect();
    if !attach.is_empty() {
        elb.attach_load_balancer_to_subnets()
            .load_balancer_name(name)
            .set_subnets(Some(attach))
            .send()
            .await
            .map_err(|e| classify(&format!("AttachLoadBalancerToSubnets {name}"), e))?;
    }
    if !detach.is_empty() {
        elb.detach_load_balancer_from_subnets()
            .load_balancer_name(name)
            .set_subnets(Some(detach))
            .send()
            .await
            .map_err(|e| classify(&format!("DetachLoadBalancerFromSubnets {name}"), e))?;
    }
    if !w.security_groups.is_empty() {
        let have: BTreeSet<&str> = lb.security_groups().iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = w.security_groups.iter().map(String::as_str).collect();
        if have != want {
            elb.apply_security_groups_to_load_balancer()
                .load_balancer_name(name)
                .set_security_groups(Some(w.security_groups.clone()))
                .send()
                .await
                .map_err(|e| classify(&format!("ApplySecurityGroupsToLoadBalancer {name}"), e))?;
        }
    }
    if !lb
        .health_check()
        .is_some_and(|hc| same_health_check(hc, &w.health_check))
    {
        elb.configure_health_check()
            .load_balancer_name(name)
            .health_check(w.health_check.clone())
            .send()
            .await
            .map_err(|e| classify(&format!("ConfigureHealthCheck {name}"), e))?;
    }
    Ok(())
}

fn hosted_zone(elb: &Client, lb: &LoadBalancerDescription) -> Result<String, KindError> {
    if let Some(id) = lb.canonical_hosted_zone_name_id() {
        return Ok(id.to_string());
    }
    let region = elb.config().region().map(|r| r.as_ref().to_string());
    HOSTED_ZONES
        .iter()
        .find(|(r, _)| Some(*r) == region.as_deref())
        .map(|(_, z)| z.to_string())
        .ok_or_else(|| {
            KindError::Permanent(format!(
                "load balancer {}: DescribeLoadBalancers gave no CanonicalHostedZoneNameID and \
                 region {} is not in envctl's table",
                lb.load_balancer_name().unwrap_or("?"),
                region.as_deref().unwrap_or("(none)")
            ))
        })
}

#[async_trait]
impl Kind for ClassicLoadBalancer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "elb"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// CreateLoadBalancer answers in seconds with the DNS name; the name
    /// starts resolving and the nodes take traffic within about a minute
    /// (typical figure for AWS; the Classic Load Balancer guide gives no
    /// number and the API reports no provisioning state).
    fn expected(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let w = wanted(cx, props)?;
        let elb = &cx.backends.aws.elb;
        let name = &w.name;
        if describe(elb, name).await?.is_none() {
            let created = elb
                .create_load_balancer()
                .load_balancer_name(name)
                .set_listeners(Some(w.listeners.clone()))
                .set_subnets(Some(w.subnets.clone()))
                .set_security_groups(
                    (!w.security_groups.is_empty()).then(|| w.security_groups.clone()),
                )
                .scheme(w.scheme.as_str())
                .set_tags(Some(sdk_tags(cx.tags())?))
                .send()
                .await;
            match created {
                Ok(_) => {}
                Err(e) if e.code() == Some("DuplicateLoadBalancerName") => {
                    return Err(KindError::Transient(format!(
                        "CreateLoadBalancer {name}: it was created meanwhile; adopting it next"
                    )));
                }
                Err(e) => return Err(classify(&format!("CreateLoadBalancer {name}"), e)),
            }
        }
        let lb = describe(elb, name).await?.ok_or_else(|| {
            KindError::Transient(format!("load balancer {name} is not visible yet"))
        })?;

        converge_tags(
            &ClassicTagging(elb),
            cx,
            &format!("load balancer {name}"),
            name,
            cx.tags(),
        )
        .await?;
        if let Some(s) = lb.scheme()
            && s != w.scheme.as_str()
        {
            return Err(KindError::Permanent(format!(
                "load balancer {name} exists with scheme {s}, not {}; the scheme cannot change: \
                 destroy the resource first",
                w.scheme.as_str()
            )));
        }
        converge(elb, &w, &lb).await?;

        Ok(Outputs::new()
            .plain("name", name)
            .plain("dns_name", lb.dns_name().unwrap_or_default())
            .plain("canonical_hosted_zone_id", hosted_zone(elb, &lb)?))
    }

    /// A Classic Load Balancer has no provisioning state in the API: it is
    /// ready once DescribeLoadBalancers shows it with a DNS name.
    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        match describe(&cx.backends.aws.elb, name).await? {
            Some(lb) if lb.dns_name().is_some_and(|d| !d.is_empty()) => Ok(Readiness::Ready),
            Some(_) => Ok(Readiness::Pending("no DNS name yet".into())),
            None => Ok(Readiness::Pending(format!(
                "load balancer {name} not visible yet"
            ))),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let elb = &cx.backends.aws.elb;
        // One of another tenant under this name is not ours: ours is gone.
        match tags_of(elb, &[name.to_string()]).await?.get(name) {
            None => return Ok(()),
            Some(t) if foreign_owner(t, cx.tenant.as_str()).is_some() => return Ok(()),
            Some(_) => {}
        }
        // Deleting a load balancer deletes its listeners; deleting one that
        // does not exist succeeds.
        match elb
            .delete_load_balancer()
            .load_balancer_name(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("LoadBalancerNotFound") => {}
            Err(e) => return Err(classify(&format!("DeleteLoadBalancer {name}"), e)),
        }
        Ok(())
    }

    /// Gone once DescribeLoadBalancers no longer shows it (or what it shows
    /// under the name is another tenant's, which delete left alone).
    async fn gone(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        let elb = &cx.backends.aws.elb;
        if describe(elb, name).await?.is_none() {
            return Ok(Readiness::Ready);
        }
        match tags_of(elb, &[name.to_string()]).await?.get(name) {
            None => Ok(Readiness::Ready),
            Some(t) if foreign_owner(t, cx.tenant.as_str()).is_some() => Ok(Readiness::Ready),
            Some(_) => Ok(Readiness::Pending(format!(
                "load balancer {name} is still being deleted"
            ))),
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let elb = &cx.backends.aws.elb;
        // Names may be cut short (32 characters): read every one's tags.
        let mut names = Vec::new();
        let mut pages = elb.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeLoadBalancers", e))?;
            names.extend(
                page.load_balancer_descriptions()
                    .iter()
                    .filter_map(|d| d.load_balancer_name().map(str::to_string)),
            );
        }
        let tags = tags_of(elb, &names).await?;
        let mut found = Vec::new();
        for name in names {
            if let Some(resource_id) = tags
                .get(&name)
                .and_then(|t| swept_resource(cx.tenant.as_str(), t))
            {
                found.push(Found {
                    resource_id,
                    outputs: Outputs::new().plain("name", name),
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(protocol: &str, port: i32, cert: Option<&str>) -> Listener {
        Listener::builder()
            .protocol(protocol)
            .load_balancer_port(port)
            .instance_protocol("HTTP")
            .instance_port(8080)
            .set_ssl_certificate_id(cert.map(str::to_string))
            .build()
            .unwrap()
    }

    #[test]
    fn listeners_compare_ignoring_protocol_case() {
        let a = listener("HTTP", 80, None);
        let b = listener("http", 80, None);
        assert!(same_listener(&a, &b));
        assert!(!same_listener(&a, &listener("HTTP", 81, None)));
        assert!(!same_listener(
            &listener("HTTPS", 443, Some("arn:1")),
            &listener("HTTPS", 443, Some("arn:2"))
        ));
    }

    #[test]
    fn check_refuses_literal_bad_values_and_skips_references() {
        let check = |v: serde_json::Value| ClassicLoadBalancer.check(v.as_object().unwrap());
        assert!(
            check(serde_json::json!({
                "subnet_ids": "${network.subnet_ids}", "security_group_ids": ["${sg.group_id}"],
            }))
            .is_empty()
        );
        let issues = check(serde_json::json!({"subnet_ids": ["subnet-1"], "instance_port": 0}));
        assert_eq!(issues[0].path, ["instance_port"], "{issues:?}");
        let issues =
            check(serde_json::json!({"subnet_ids": ["subnet-1"], "security_group_ids": ["web"]}));
        assert_eq!(issues[0].path, ["security_group_ids"], "{issues:?}");
    }

    #[test]
    fn wrongly_typed_and_out_of_range_literals_name_the_field() {
        let issues = |v: serde_json::Value| {
            ClassicLoadBalancer
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| (i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let found =
            issues(serde_json::json!({"subnet_ids": ["subnet-1"], "instance_port": "http"}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "instance_port");
        assert!(
            found[0].1.starts_with("must be a whole number"),
            "{found:?}"
        );
        let found = issues(serde_json::json!({"subnet_ids": "subnet-1", "instance_port": 70000}));
        assert_eq!(found[0].0, "instance_port", "{found:?}");
        assert!(
            found[0].1.contains("the most allowed is 65535"),
            "{found:?}"
        );
        let found = issues(serde_json::json!({"subnet_ids": ["subnet-1"], "scheme": "public"}));
        assert_eq!(
            found,
            [(
                "scheme".to_string(),
                "is public; use one of: internet-facing, internal".to_string()
            )]
        );
        let found = issues(serde_json::json!({"subnet_ids": 7}));
        assert_eq!(found[0].0, "subnet_ids", "{found:?}");
        let found = issues(serde_json::json!({"subnet_ids": "", "health_check_path": "up"}));
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["subnet_ids", "health_check_path"], "{found:?}");
    }

    #[test]
    fn the_schema_documents_every_property() {
        let schema = ClassicLoadBalancer.schema().unwrap();
        for field in schema.fields() {
            assert!(!field.description.is_empty(), "{}", field.name);
        }
        let subnets = schema.field(&["subnet_ids"]).unwrap();
        assert!(subnets.required, "{subnets:?}");
        assert_eq!(subnets.ty, "[string]");
        assert_eq!(
            schema.field(&["instance_port"]).unwrap().default.as_deref(),
            Some("8080")
        );
        assert_eq!(
            schema.field(&["scheme"]).unwrap().default.as_deref(),
            Some("internet-facing")
        );
    }

    #[test]
    fn hosted_zones_are_known_for_common_regions() {
        assert!(HOSTED_ZONES.iter().any(|(r, _)| *r == "us-east-1"));
        let regions: BTreeSet<&str> = HOSTED_ZONES.iter().map(|(r, _)| *r).collect();
        assert_eq!(regions.len(), HOSTED_ZONES.len());
    }
}
