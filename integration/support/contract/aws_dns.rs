//! Contract cases of the DNS kinds: `aws.route53.zone`,
//! `aws.acm.certificate` and `aws.route53.record`. Every tenant's zone is
//! `<tenant>.envctl-e2e.net` under a public parent zone made with a raw call
//! (as `make local-up` does); the certificate and the record get their
//! tenant's zone from the zone kind first, as `kinds_edge` does.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_route53::types::TagResourceType;
use envctl::kinds::{Cx, Outputs, Props, kind_by_name};
use serde_json::json;

use super::{Case, Marks, RESOURCE, out, props};
use crate::support::kinds::KindWorld;

pub static CASES: [&dyn Case; 3] = [&Zone, &Certificate, &Record];

/// The parent of every tenant zone: a name that is not reserved (RFC
/// 2606/6761).
const BASE: &str = "envctl-e2e.net";

/// Serializes the creation of the parent zone (tests run in parallel).
static PARENT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Ids of the hosted zones named `name`.
async fn zone_ids(w: &KindWorld, name: &str) -> Vec<String> {
    let out = w
        .aws
        .route53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .send()
        .await
        .unwrap();
    out.hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.') == name)
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .collect()
}

/// The public parent zone, made unless it exists.
async fn ensure_parent(w: &KindWorld) {
    let _one = PARENT.lock().await;
    if zone_ids(w, BASE).await.is_empty() {
        w.aws
            .route53
            .create_hosted_zone()
            .name(BASE)
            .caller_reference(format!("by-hand-{BASE}"))
            .send()
            .await
            .unwrap();
    }
}

fn domain(w: &KindWorld) -> String {
    format!("{}.{BASE}", w.tenant)
}

/// The tenant's zone, made by the zone kind (resource `dns`).
async fn tenant_zone(w: &KindWorld) -> String {
    ensure_parent(w).await;
    let zone = kind_by_name("aws.route53.zone").unwrap();
    let o = zone
        .apply(&w.cx("dns"), &props(json!({"subdomain_of": BASE})))
        .await
        .unwrap();
    out(&o, "zone_id")
}

async fn zone_tags(w: &KindWorld, id: &str) -> HashMap<String, String> {
    w.aws
        .route53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .send()
        .await
        .unwrap()
        .resource_tag_set()
        .map(|s| {
            s.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------- zone ----

struct Zone;

#[async_trait]
impl Case for Zone {
    fn kind_name(&self) -> &'static str {
        "aws.route53.zone"
    }
    fn code(&self) -> &'static str {
        "zone"
    }
    fn identity(&self) -> &'static str {
        "zone_id"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        ensure_parent(w).await;
        props(json!({"subdomain_of": BASE}))
    }
    async fn count(&self, w: &KindWorld, _out: &Outputs) -> usize {
        zone_ids(w, &domain(w)).await.len()
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        Some(Marks::Tags(zone_tags(w, &out(o, "zone_id")).await))
    }
}

// --------------------------------------------------------- certificate ----

struct Certificate;

async fn cert_tags(w: &KindWorld, arn: &str) -> HashMap<String, String> {
    w.aws
        .acm
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect()
}

#[async_trait]
impl Case for Certificate {
    fn kind_name(&self) -> &'static str {
        "aws.acm.certificate"
    }
    fn code(&self) -> &'static str {
        "cert"
    }
    fn identity(&self) -> &'static str {
        "arn"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let zone_id = tenant_zone(w).await;
        props(json!({"domain": domain(w), "zone_id": zone_id}))
    }
    /// Certificates (of any status) tagged with the tenant.
    async fn count(&self, w: &KindWorld, _out: &Outputs) -> usize {
        let list = w.aws.acm.list_certificates().send().await.unwrap();
        let mut n = 0;
        for s in list.certificate_summary_list() {
            let tags = cert_tags(w, s.certificate_arn().unwrap()).await;
            if tags.get("envctl:tenant").map(String::as_str) == Some(w.tenant.as_str()) {
                n += 1;
            }
        }
        n
    }
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        Some(Marks::Tags(cert_tags(w, &out(o, "arn")).await))
    }
}

// -------------------------------------------------------------- record ----

struct Record;

/// The values of the record sets named `name` (without the final dot) of
/// type `rtype` in zone `zone_id`.
async fn sets(w: &KindWorld, zone_id: &str, name: &str, rtype: &str) -> Vec<Vec<String>> {
    let out = w
        .aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    assert!(!out.is_truncated(), "more records than one page");
    out.resource_record_sets()
        .iter()
        .filter(|s| s.name().trim_end_matches('.') == name && s.r#type().as_str() == rtype)
        .map(|s| {
            s.resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect()
        })
        .collect()
}

#[async_trait]
impl Case for Record {
    fn kind_name(&self) -> &'static str {
        "aws.route53.record"
    }
    fn code(&self) -> &'static str {
        "rec"
    }
    fn identity(&self) -> &'static str {
        "fqdn"
    }
    async fn prepare(&self, w: &KindWorld, _cx: &mut Cx) -> Props {
        let zone_id = tenant_zone(w).await;
        props(json!({
            "zone_id": zone_id, "name": "app", "type": "CNAME", "values": ["target.example.com"],
        }))
    }
    async fn count(&self, w: &KindWorld, o: &Outputs) -> usize {
        sets(w, &out(o, "zone_id"), &out(o, "fqdn"), "CNAME")
            .await
            .len()
    }
    /// Record sets carry no tags: the ownership marker beside the record
    /// (`<resource-id>._envctl-<tenant>.<zone>`, TXT, one `"key=value"` string each).
    async fn marks(&self, w: &KindWorld, o: &Outputs) -> Option<Marks> {
        // Named after the resource id, not the record's name.
        let marker = format!("{RESOURCE}._envctl-{}.{}", w.tenant, domain(w));
        let found = sets(w, &out(o, "zone_id"), &marker, "TXT").await;
        assert!(found.len() <= 1, "{marker}: {found:?}");
        let fields = found
            .first()?
            .iter()
            .flat_map(|v| v.split("\" \""))
            .filter_map(|f| f.trim_matches('"').split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Marks::Marker(fields))
    }
}
