//! The edge kinds (`aws.route53.zone`, `aws.route53.record`,
//! `aws.acm.certificate`) against a private moto server. Every check of what
//! exists in "AWS" uses the raw SDK, not the kind under test. Tests run in
//! parallel against one moto, each with its own tenant and domain.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType, TagResourceType,
};
use envctl::aws::AwsClients;
use envctl::kinds::aws::acm::Certificate;
use envctl::kinds::aws::route53::record::Record;
use envctl::kinds::aws::route53::zone::Zone;
use envctl::kinds::{Found, Kind, KindError, Outputs, Props, Readiness};
use serde_json::json;
use support::kinds::KindWorld;

const STACK: &str = "kinds-edge";
/// The parent domain of every tenant zone in these tests: a name that is
/// not reserved (RFC 2606/6761), whose public zone [`T::new`] creates.
const BASE: &str = "envctl-e2e.net";
/// A load balancer's canonical hosted zone (us-east-1 ALB), for aliases.
const ELB_ZONE: &str = "Z35SXDOTRQ7X7K";

/// One test's tenant, backends and raw clients (see `support::kinds`).
struct T(KindWorld);

impl std::ops::Deref for T {
    type Target = KindWorld;

    fn deref(&self) -> &KindWorld {
        &self.0
    }
}

/// Serializes the creation of the parent zone (tests run in parallel).
static PARENT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The public hosted zone named `name`, created unless one exists (as
/// `make local-up` does for the local backends).
async fn ensure_public_zone(aws: &AwsClients, name: &str) -> String {
    let _one = PARENT.lock().await;
    if let Some(id) = zone_ids(aws, name).await.into_iter().next() {
        return id;
    }
    foreign_zone(aws, name).await
}

impl T {
    async fn new(tenant: &str) -> T {
        let t = T(KindWorld::new(STACK, tenant, "ke-values"));
        ensure_public_zone(&t.aws, BASE).await;
        t
    }

    /// `<tenant>.envctl-e2e.net`, the zone `subdomain_of: envctl-e2e.net` gives.
    fn domain(&self) -> String {
        format!("{}.{BASE}", self.tenant)
    }

    /// The tenant's own zone through the zone kind.
    async fn zone(&self) -> Outputs {
        Zone.apply(&self.cx("dns"), &props(json!({"subdomain_of": BASE})))
            .await
            .unwrap()
    }
}

fn props(v: serde_json::Value) -> Props {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("props must be an object, got {other}"),
    }
}

fn out(o: &Outputs, name: &str) -> String {
    o.require(name).unwrap().to_string()
}

fn only(found: &[Found], resource_id: &str) -> Outputs {
    let matching: Vec<&Found> = found
        .iter()
        .filter(|f| f.resource_id == resource_id)
        .collect();
    assert_eq!(matching.len(), 1, "{resource_id} in {found:?}");
    matching[0].outputs.clone()
}

// ------------------------------------------------------ raw Route53 ----

/// Ids of the hosted zones named `name`.
async fn zone_ids(aws: &AwsClients, name: &str) -> Vec<String> {
    let out = aws
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

async fn zone_exists(aws: &AwsClients, id: &str) -> bool {
    match aws.route53.get_hosted_zone().id(id).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_no_such_hosted_zone()) =>
        {
            false
        }
        Err(e) => panic!("GetHostedZone {id}: {e:?}"),
    }
}

async fn zone_tags(aws: &AwsClients, id: &str) -> HashMap<String, String> {
    aws.route53
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

/// A zone created behind envctl's back (CallerReference not envctl's).
async fn foreign_zone(aws: &AwsClients, name: &str) -> String {
    let out = aws
        .route53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("by-hand-{name}"))
        .send()
        .await
        .unwrap();
    out.hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

/// Every record set of a zone: (name without trailing dot, type, values).
async fn records(aws: &AwsClients, zone_id: &str) -> Vec<(String, String, Vec<String>)> {
    let out = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    assert!(!out.is_truncated(), "more records than one page");
    out.resource_record_sets()
        .iter()
        .map(|s| {
            let mut values: Vec<String> = s
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect();
            if let Some(a) = s.alias_target() {
                values.push(format!(
                    "ALIAS {} {} {}",
                    a.dns_name().trim_end_matches('.'),
                    a.hosted_zone_id(),
                    a.evaluate_target_health()
                ));
            }
            (
                s.name()
                    .trim_end_matches('.')
                    .replace("\\052", "*")
                    .to_string(),
                s.r#type().as_str().to_string(),
                values,
            )
        })
        .collect()
}

/// The record sets named `name` of type `rtype`.
async fn sets_of(aws: &AwsClients, zone_id: &str, name: &str, rtype: &str) -> Vec<Vec<String>> {
    records(aws, zone_id)
        .await
        .into_iter()
        .filter(|(n, t, _)| n == name && t == rtype)
        .map(|(_, _, v)| v)
        .collect()
}

async fn upsert(aws: &AwsClients, zone_id: &str, name: &str, rtype: RrType, values: &[&str]) {
    let mut set = ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .ttl(60);
    for v in values {
        set = set.resource_records(ResourceRecord::builder().value(*v).build().unwrap());
    }
    change(aws, zone_id, ChangeAction::Upsert, set.build().unwrap()).await;
}

async fn change(aws: &AwsClients, zone_id: &str, action: ChangeAction, set: ResourceRecordSet) {
    aws.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(action)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Deletes a zone made by hand (its records first).
async fn delete_foreign_zone(aws: &AwsClients, zone_id: &str) {
    let out = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    for s in out.resource_record_sets() {
        if matches!(s.r#type(), RrType::Soa | RrType::Ns) {
            continue;
        }
        change(aws, zone_id, ChangeAction::Delete, s.clone()).await;
    }
    aws.route53
        .delete_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .unwrap();
}

// ---------------------------------------------------------- raw ACM ----

/// The ARNs of the certificates tagged with `tenant`.
async fn tenant_certs(aws: &AwsClients, tenant: &str) -> Vec<String> {
    let out = aws.acm.list_certificates().send().await.unwrap();
    let mut arns = Vec::new();
    for s in out.certificate_summary_list() {
        let arn = s.certificate_arn().unwrap();
        if cert_tags(aws, arn)
            .await
            .get("envctl:tenant")
            .map(String::as_str)
            == Some(tenant)
        {
            arns.push(arn.to_string());
        }
    }
    arns
}

async fn cert_tags(aws: &AwsClients, arn: &str) -> HashMap<String, String> {
    aws.acm
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

async fn cert_exists(aws: &AwsClients, arn: &str) -> bool {
    match aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => panic!("DescribeCertificate {arn}: {e:?}"),
    }
}

/// The validation CNAMEs ACM asks for: (name, value) without trailing dots.
async fn validation_cnames(aws: &AwsClients, arn: &str) -> Vec<(String, String)> {
    let out = aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .certificate()
        .unwrap()
        .domain_validation_options()
        .iter()
        .filter_map(|d| d.resource_record())
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_string(),
                r.value().trim_end_matches('.').to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

// ------------------------------------------------------------ zones ----

#[tokio::test]
async fn zone_is_created_once_tagged_swept_and_deleted_with_its_records() {
    let t = T::new("ke-zone").await;
    let cx = t.cx("dns");
    let p = props(json!({"subdomain_of": BASE}));

    let first = Zone.apply(&cx, &p).await.unwrap();
    let name = t.domain();
    assert_eq!(out(&first, "name"), name);
    assert_eq!(out(&first, "adopted"), "false");
    let id = out(&first, "zone_id");
    assert_eq!(zone_ids(&t.aws, &name).await, vec![id.clone()]);
    assert!(!out(&first, "name_servers").is_empty());
    t.assert_tagged("zone", &zone_tags(&t.aws, &id).await, "dns");

    // Twice, and with `domain` spelled out: the same zone.
    let second = Zone.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    let third = Zone
        .apply(
            &cx,
            &props(json!({"domain": format!("{}.", name.to_uppercase())})),
        )
        .await
        .unwrap();
    assert_eq!(first, third);
    assert_eq!(zone_ids(&t.aws, &name).await.len(), 1);
    assert_eq!(Zone.ready(&cx, &first).await.unwrap(), Readiness::Ready);

    // Another tenant whose name starts with ours is not swept with us.
    let other = T::new("ke-zone-2").await;
    let other_out = other.zone().await;
    let found = Zone.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "dns");
    assert_eq!(out(&found[0].outputs, "zone_id"), id);

    // Records written by anyone, including a delegation, go with the zone.
    upsert(
        &t.aws,
        &id,
        &format!("www.{name}"),
        RrType::A,
        &["10.0.0.1"],
    )
    .await;
    upsert(
        &t.aws,
        &id,
        &format!("txt.{name}"),
        RrType::Txt,
        &["\"hello\""],
    )
    .await;
    upsert(
        &t.aws,
        &id,
        &format!("sub.{name}"),
        RrType::Ns,
        &["ns-1.example.net"],
    )
    .await;
    // Delete what the sweep found, as destroy after state loss would.
    Zone.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!zone_exists(&t.aws, &id).await);
    Zone.delete(&cx, &first).await.unwrap();
    assert!(Zone.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    assert!(zone_exists(&t.aws, &out(&other_out, "zone_id")).await);

    Zone.delete(&other.cx("dns"), &other_out).await.unwrap();
    assert!(!zone_exists(&t.aws, &out(&other_out, "zone_id")).await);
}

#[tokio::test]
async fn existing_zone_is_adopted_only_when_asked_and_never_deleted() {
    let t = T::new("ke-adopt").await;
    let cx = t.cx("dns");
    let name = format!("shared-ke-adopt.{BASE}");
    let id = foreign_zone(&t.aws, &name).await;

    let err = Zone
        .apply(&cx, &props(json!({"domain": name})))
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("adopt: true"), "{err}");
    assert_eq!(zone_ids(&t.aws, &name).await, vec![id.clone()]);

    let p = props(json!({"domain": name, "adopt": true}));
    let first = Zone.apply(&cx, &p).await.unwrap();
    assert_eq!(out(&first, "zone_id"), id);
    assert_eq!(out(&first, "adopted"), "true");
    assert_eq!(out(&first, "name"), name);
    let second = Zone.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(zone_ids(&t.aws, &name).await, vec![id.clone()]);
    // Not tagged as the tenant's (other tenants may adopt it too), only
    // marked as used by envctl.
    let tags = zone_tags(&t.aws, &id).await;
    assert_eq!(tags.get("envctl:tenant"), None, "{tags:?}");
    assert_eq!(tags.get("envctl:adopted").map(String::as_str), Some("true"));
    assert!(Zone.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    // Delete never removes it, not even with outputs that lost the
    // `adopted` flag.
    Zone.delete(&cx, &first).await.unwrap();
    assert!(zone_exists(&t.aws, &id).await);
    let without_flag = Outputs::new().plain("zone_id", id.clone());
    let err = Zone.delete(&cx, &without_flag).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(zone_exists(&t.aws, &id).await);

    // A zone of another tenant is neither adopted nor deleted.
    let other = T::new("ke-adopt-2").await;
    let other_out = Zone
        .apply(
            &other.cx("dns"),
            &props(json!({"domain": format!("b.{name}")})),
        )
        .await
        .unwrap();
    let err = Zone
        .apply(
            &cx,
            &props(json!({"domain": format!("b.{name}"), "adopt": true})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ke-adopt-2"), "{err}");
    let err = Zone.delete(&cx, &other_out).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(zone_exists(&t.aws, &out(&other_out, "zone_id")).await);

    Zone.delete(&other.cx("dns"), &other_out).await.unwrap();
    delete_foreign_zone(&t.aws, &id).await;
}

#[tokio::test]
async fn zone_left_untagged_by_a_crash_is_adopted_and_swept() {
    let t = T::new("ke-crash").await;
    let name = t.domain();
    // What a crash between CreateHostedZone and tagging leaves: a zone with
    // envctl's CallerReference and no tags.
    let id = t
        .aws
        .route53
        .create_hosted_zone()
        .name(&name)
        .caller_reference("envctl/ke-crash/dns/20260101/0")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let found = Zone.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(out(&only(&found, "dns"), "zone_id"), id);

    let o = t.zone().await;
    assert_eq!(out(&o, "zone_id"), id);
    assert_eq!(out(&o, "adopted"), "false");
    assert_eq!(zone_ids(&t.aws, &name).await, vec![id.clone()]);
    t.assert_tagged("zone", &zone_tags(&t.aws, &id).await, "dns");

    // A rerun with an expiry retags it in place.
    let at: jiff::Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
    let mut cx = t.cx("dns");
    cx.expires_at = Some(at);
    assert_eq!(
        Zone.apply(&cx, &props(json!({"subdomain_of": BASE})))
            .await
            .unwrap(),
        o
    );
    assert_eq!(
        zone_tags(&t.aws, &id).await.get("envctl:expires-at"),
        Some(&at.to_string())
    );

    Zone.delete(&t.cx("dns"), &o).await.unwrap();
    assert!(!zone_exists(&t.aws, &id).await);
}

#[tokio::test]
async fn zone_properties_are_checked_before_anything_is_created() {
    let t = T::new("ke-zprops").await;
    let cx = t.cx("dns");
    for bad in [
        json!({}),
        json!({"domain": "a.test", "subdomain_of": "b.test"}),
        json!({"domain": "no_dots"}),
        json!({"domain": "a.test", "adpot": true}),
        json!({"subdomain_of": "bad..test"}),
    ] {
        let err = Zone.apply(&cx, &props(bad.clone())).await.unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{bad}: {err}");
    }
    assert!(zone_ids(&t.aws, &t.domain()).await.is_empty());
    assert!(Zone.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

/// The name servers of a zone's delegation in `parent`: the values of the NS
/// record set `name` there, normalized and sorted (empty when none).
async fn delegation_in(aws: &AwsClients, parent: &str, name: &str) -> Vec<Vec<String>> {
    sets_of(aws, parent, name, "NS")
        .await
        .into_iter()
        .map(|v| {
            let mut v: Vec<String> = v
                .iter()
                .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            v.sort();
            v
        })
        .collect()
}

fn sorted_servers(o: &Outputs) -> Vec<String> {
    let mut v: Vec<String> = out(o, "name_servers")
        .split(',')
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn zone_delegates_itself_from_its_parent_and_removes_the_delegation_before_it_goes() {
    let t = T::new("ke-deleg").await;
    let parent = ensure_public_zone(&t.aws, BASE).await;
    let cx = t.cx("dns");
    let zone = t.zone().await;
    let name = t.domain();
    assert_eq!(out(&zone, "parent_zone_id"), parent);
    assert_eq!(
        delegation_in(&t.aws, &parent, &name).await,
        vec![sorted_servers(&zone)],
        "the parent delegates the zone to its own name servers"
    );
    assert_eq!(
        zone_tags(&t.aws, &out(&zone, "zone_id"))
            .await
            .get("envctl:parent-zone"),
        Some(&parent)
    );
    // A rerun writes nothing new: still one NS record set.
    assert_eq!(t.zone().await, zone);
    assert_eq!(delegation_in(&t.aws, &parent, &name).await.len(), 1);

    Zone.delete(&cx, &zone).await.unwrap();
    assert!(!zone_exists(&t.aws, &out(&zone, "zone_id")).await);
    assert!(
        delegation_in(&t.aws, &parent, &name).await.is_empty(),
        "no dangling delegation after the zone is gone"
    );
    assert!(zone_exists(&t.aws, &parent).await, "the parent stays");
}

#[tokio::test]
async fn the_sweep_after_state_loss_removes_the_delegation_found_by_tag_or_by_name() {
    for (tenant, drop_tag) in [("ke-deleg-lost", false), ("ke-deleg-lost2", true)] {
        let t = T::new(tenant).await;
        let parent = ensure_public_zone(&t.aws, BASE).await;
        let cx = t.cx("dns");
        let zone = t.zone().await;
        let id = out(&zone, "zone_id");
        if drop_tag {
            // A zone delegated before the tag existed: found in the parent
            // by its name and name servers.
            t.aws
                .route53
                .change_tags_for_resource()
                .resource_type(TagResourceType::Hostedzone)
                .resource_id(&id)
                .remove_tag_keys("envctl:parent-zone")
                .send()
                .await
                .unwrap();
        }
        // The state is lost: only the sweep knows the zone.
        let found = Zone.sweep(&t.sweep_cx()).await.unwrap();
        let swept = only(&found, "dns");
        Zone.delete(&cx, &swept).await.unwrap();
        assert!(!zone_exists(&t.aws, &id).await);
        assert!(
            delegation_in(&t.aws, &parent, &t.domain()).await.is_empty(),
            "{tenant}: the delegation went with the zone"
        );
    }
}

#[tokio::test]
async fn zone_without_a_parent_zone_asks_to_delegate_its_name_servers() {
    let t = T::new("ke-noparent").await;
    let cx = t.cx("dns");
    let lonely = "no-parent-zone-here.net";
    let err = Zone
        .apply(&cx, &props(json!({"subdomain_of": lonely})))
        .await
        .unwrap_err();
    let KindError::Permanent(m) = &err else {
        panic!("{err:?}");
    };
    let name = format!("{}.{lonely}", t.tenant);
    assert!(
        m.contains("delegate these name servers first: ")
            && m.contains(&format!("(add an NS record for {name} in {lonely})")),
        "{m}"
    );
    let ids = zone_ids(&t.aws, &name).await;
    let servers = t
        .aws
        .route53
        .get_hosted_zone()
        .id(&ids[0])
        .send()
        .await
        .unwrap()
        .delegation_set()
        .unwrap()
        .name_servers()
        .to_vec();
    assert!(
        m.contains(&servers[0]),
        "the message lists the zone's name servers: {m}"
    );
    // Delegated by hand: the same zone, no parent needed.
    let ok = Zone
        .apply(
            &cx,
            &props(json!({"subdomain_of": lonely, "delegated": true})),
        )
        .await
        .unwrap();
    assert_eq!(out(&ok, "zone_id"), ids[0]);
    assert_eq!(out(&ok, "parent_zone_id"), "");
    Zone.delete(&cx, &ok).await.unwrap();
    assert!(zone_ids(&t.aws, &name).await.is_empty());
}

#[tokio::test]
async fn a_delegation_envctl_did_not_write_is_never_overwritten() {
    let t = T::new("ke-deleg-foreign").await;
    let parent = ensure_public_zone(&t.aws, BASE).await;
    let name = t.domain();
    upsert(
        &t.aws,
        &parent,
        &name,
        RrType::Ns,
        &["ns-1.elsewhere.example.net"],
    )
    .await;
    let err = Zone
        .apply(&t.cx("dns"), &props(json!({"subdomain_of": BASE})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not overwrite a delegation it did not write"),
        "{err}"
    );
    assert_eq!(
        delegation_in(&t.aws, &parent, &name).await,
        vec![vec!["ns-1.elsewhere.example.net".to_string()]]
    );
    // Clean up: the zone the failed apply made, then the foreign record.
    for f in Zone.sweep(&t.sweep_cx()).await.unwrap() {
        Zone.delete(&t.cx("dns"), &f.outputs).await.unwrap();
    }
    assert_eq!(
        delegation_in(&t.aws, &parent, &name).await.len(),
        1,
        "the foreign delegation is left alone by delete too"
    );
    let set = ResourceRecordSet::builder()
        .name(&name)
        .r#type(RrType::Ns)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("ns-1.elsewhere.example.net")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    change(&t.aws, &parent, ChangeAction::Delete, set).await;
}

// ---------------------------------------------------------- records ----

#[tokio::test]
async fn record_is_upserted_once_marked_ready_swept_and_deleted() {
    let t = T::new("ke-rec").await;
    let zone = t.zone().await;
    let zone_id = out(&zone, "zone_id");
    let name = t.domain();
    let cx = t.cx("app");
    let p = props(json!({
        "zone_id": format!("/hostedzone/{zone_id}"), "name": "app", "type": "CNAME",
        "values": ["target.example.com"]
    }));

    let first = Record.apply(&cx, &p).await.unwrap();
    let fqdn = format!("app.{name}");
    assert_eq!(out(&first, "fqdn"), fqdn);
    assert_eq!(out(&first, "zone_id"), zone_id);
    assert_eq!(out(&first, "type"), "CNAME");
    assert!(!out(&first, "change_id").is_empty());
    assert_eq!(
        sets_of(&t.aws, &zone_id, &fqdn, "CNAME").await,
        vec![vec!["target.example.com".to_string()]]
    );
    // The ownership marker, in the same zone.
    let marker = sets_of(
        &t.aws,
        &zone_id,
        &format!("app._envctl-ke-rec.{name}"),
        "TXT",
    )
    .await;
    assert_eq!(marker.len(), 1, "{marker:?}");
    assert!(
        marker[0][0].contains("\"envctl:tenant=ke-rec\""),
        "{marker:?}"
    );
    assert!(
        marker[0][0].contains(&format!("\"name={fqdn}\"")),
        "{marker:?}"
    );

    let second = Record.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(sets_of(&t.aws, &zone_id, &fqdn, "CNAME").await.len(), 1);
    assert_eq!(Record.ready(&cx, &second).await.unwrap(), Readiness::Ready);

    // New values replace the old ones in place.
    let p = props(json!({
        "zone_id": zone_id, "name": "app", "type": "CNAME", "ttl": 60,
        "values": ["other.example.com"]
    }));
    Record.apply(&cx, &p).await.unwrap();
    assert_eq!(
        sets_of(&t.aws, &zone_id, &fqdn, "CNAME").await,
        vec![vec!["other.example.com".to_string()]]
    );
    // A new name moves the record: the old one is removed.
    let p = props(json!({
        "zone_id": zone_id, "name": "www", "type": "CNAME", "values": ["other.example.com"]
    }));
    let moved = Record.apply(&cx, &p).await.unwrap();
    let www = format!("www.{name}");
    assert_eq!(out(&moved, "fqdn"), www);
    assert!(sets_of(&t.aws, &zone_id, &fqdn, "CNAME").await.is_empty());
    assert_eq!(sets_of(&t.aws, &zone_id, &www, "CNAME").await.len(), 1);

    // A wildcard and a TXT record (quoted for us).
    let wild = Record
        .apply(
            &t.cx("wild"),
            &props(json!({"zone_id": zone_id, "name": "*", "type": "A", "values": ["10.0.0.2", "10.0.0.1"]})),
        )
        .await
        .unwrap();
    assert_eq!(out(&wild, "fqdn"), format!("*.{name}"));
    let mut wild_values = sets_of(&t.aws, &zone_id, &format!("*.{name}"), "A").await;
    wild_values[0].sort();
    assert_eq!(
        wild_values,
        vec![vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()]]
    );
    let txt = Record
        .apply(
            &t.cx("spf"),
            &props(
                json!({"zone_id": zone_id, "name": "@", "type": "TXT", "values": ["v=spf1 -all"]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out(&txt, "fqdn"), name);
    assert_eq!(
        sets_of(&t.aws, &zone_id, &name, "TXT").await,
        vec![vec!["\"v=spf1 -all\"".to_string()]]
    );

    // The sweep finds each record by its marker.
    let found = Record.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    let swept = only(&found, "app");
    assert_eq!(out(&swept, "fqdn"), www);
    assert_eq!(out(&swept, "zone_id"), zone_id);
    assert_eq!(out(&swept, "type"), "CNAME");
    assert_eq!(out(&only(&found, "wild"), "fqdn"), format!("*.{name}"));

    // Delete with the sweep's outputs, then with the journal's: gone, and
    // the marker with it.
    Record.delete(&cx, &swept).await.unwrap();
    assert!(sets_of(&t.aws, &zone_id, &www, "CNAME").await.is_empty());
    assert!(
        sets_of(
            &t.aws,
            &zone_id,
            &format!("app._envctl-ke-rec.{name}"),
            "TXT"
        )
        .await
        .is_empty()
    );
    Record.delete(&cx, &moved).await.unwrap();
    Record.delete(&t.cx("wild"), &wild).await.unwrap();
    assert!(
        sets_of(&t.aws, &zone_id, &format!("*.{name}"), "A")
            .await
            .is_empty()
    );
    assert_eq!(Record.sweep(&t.sweep_cx()).await.unwrap().len(), 1);

    // The zone goes with the record still in it; then the record's delete
    // has nothing left to do.
    Zone.delete(&t.cx("dns"), &zone).await.unwrap();
    assert!(!zone_exists(&t.aws, &zone_id).await);
    Record.delete(&t.cx("spf"), &txt).await.unwrap();
    assert!(Record.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

#[tokio::test]
async fn record_envctl_did_not_write_is_taken_over_only_when_allowed() {
    let t = T::new("ke-own").await;
    let zone = t.zone().await;
    let zone_id = out(&zone, "zone_id");
    let taken = format!("taken.{}", t.domain());
    upsert(
        &t.aws,
        &zone_id,
        &taken,
        RrType::Cname,
        &["theirs.example.com"],
    )
    .await;
    let cx = t.cx("taken");
    let mut p = json!({
        "zone_id": zone_id, "name": "taken", "type": "CNAME", "values": ["ours.example.com"]
    });

    let err = Record.apply(&cx, &props(p.clone())).await.unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("allow_overwrite"), "{err}");
    assert_eq!(
        sets_of(&t.aws, &zone_id, &taken, "CNAME").await,
        vec![vec!["theirs.example.com".to_string()]]
    );
    // Nothing claims it: delete leaves it alone.
    let guessed = Outputs::new()
        .plain("zone_id", zone_id.clone())
        .plain("fqdn", taken.clone())
        .plain("type", "CNAME")
        .plain("change_id", "C0");
    Record.delete(&cx, &guessed).await.unwrap();
    assert_eq!(sets_of(&t.aws, &zone_id, &taken, "CNAME").await.len(), 1);

    p["allow_overwrite"] = json!(true);
    let o = Record.apply(&cx, &props(p.clone())).await.unwrap();
    assert_eq!(
        sets_of(&t.aws, &zone_id, &taken, "CNAME").await,
        vec![vec!["ours.example.com".to_string()]]
    );
    // Once taken over it is ours: no flag needed any more.
    p["allow_overwrite"] = json!(false);
    assert_eq!(Record.apply(&cx, &props(p)).await.unwrap(), o);
    Record.delete(&cx, &o).await.unwrap();
    assert!(sets_of(&t.aws, &zone_id, &taken, "CNAME").await.is_empty());

    // Bad properties fail before anything is written.
    for bad in [
        json!({"zone_id": zone_id, "name": "x", "type": "CNAME", "values": ["a.test", "b.test"]}),
        json!({"zone_id": zone_id, "name": "x", "type": "A"}),
        json!({"zone_id": zone_id, "name": "x", "type": "BOGUS", "values": ["1"]}),
        json!({"zone_id": zone_id, "name": "@", "type": "NS", "values": ["ns.test"]}),
        json!({"zone_id": zone_id, "name": "x.elsewhere.test.", "type": "A", "values": ["10.0.0.1"]}),
        json!({"zone_id": "ZNOSUCHZONE", "name": "x", "type": "A", "values": ["10.0.0.1"]}),
        json!({"zone_id": zone_id, "name": "x", "type": "A", "values": ["10.0.0.1"], "tll": 5}),
    ] {
        let err = Record
            .apply(&t.cx("x"), &props(bad.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{bad}: {err}");
    }
    let left: Vec<_> = records(&t.aws, &zone_id)
        .await
        .into_iter()
        .filter(|(_, t, _)| t != "SOA" && t != "NS")
        .collect();
    assert!(left.is_empty(), "{left:?}");

    Zone.delete(&t.cx("dns"), &zone).await.unwrap();
}

#[tokio::test]
async fn records_in_an_adopted_zone_are_swept_after_state_loss_and_the_zone_stays() {
    let t = T::new("ke-lost").await;
    let shared = format!("shared-ke-lost.{BASE}");
    let zone_id = foreign_zone(&t.aws, &shared).await;
    upsert(
        &t.aws,
        &zone_id,
        &format!("keep.{shared}"),
        RrType::A,
        &["10.9.9.9"],
    )
    .await;

    let zone = Zone
        .apply(
            &t.cx("dns"),
            &props(json!({"domain": shared, "adopt": true})),
        )
        .await
        .unwrap();
    assert_eq!(out(&zone, "zone_id"), zone_id);
    // An alias to a load balancer.
    let alias = props(json!({
        "zone_id": zone_id, "name": "ke-lost", "type": "A",
        "alias": {"dns_name": "ke-lost-lb-1.us-east-1.elb.amazonaws.com.", "hosted_zone_id": ELB_ZONE,
                  "evaluate_target_health": true}
    }));
    let first = Record.apply(&t.cx("app"), &alias).await.unwrap();
    let fqdn = format!("ke-lost.{shared}");
    assert_eq!(out(&first, "fqdn"), fqdn);
    assert_eq!(
        sets_of(&t.aws, &zone_id, &fqdn, "A").await,
        vec![vec![format!(
            "ALIAS ke-lost-lb-1.us-east-1.elb.amazonaws.com {ELB_ZONE} true"
        )]]
    );
    assert_eq!(Record.apply(&t.cx("app"), &alias).await.unwrap(), first);

    // A second tenant writes into the same shared zone, directly by id.
    let other = T::new("ke-lost-2").await;
    let other_out = Record
        .apply(
            &other.cx("app"),
            &props(json!({"zone_id": zone_id, "name": "ke-lost-2", "type": "A", "values": ["10.0.0.7"]})),
        )
        .await
        .unwrap();

    // State lost: the sweep finds exactly this tenant's record.
    let found = Record.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let swept = only(&found, "app");
    assert_eq!(out(&swept, "fqdn"), fqdn);
    Record.delete(&t.cx("app"), &swept).await.unwrap();
    assert!(sets_of(&t.aws, &zone_id, &fqdn, "A").await.is_empty());
    assert!(Zone.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    Zone.delete(&t.cx("dns"), &zone).await.unwrap();

    // The zone, the foreign record and the other tenant's record remain.
    assert!(zone_exists(&t.aws, &zone_id).await);
    assert_eq!(
        sets_of(&t.aws, &zone_id, &format!("keep.{shared}"), "A").await,
        vec![vec!["10.9.9.9".to_string()]]
    );
    assert_eq!(
        sets_of(&t.aws, &zone_id, &format!("ke-lost-2.{shared}"), "A")
            .await
            .len(),
        1
    );
    assert_eq!(Record.sweep(&other.sweep_cx()).await.unwrap().len(), 1);

    Record.delete(&other.cx("app"), &other_out).await.unwrap();
    assert!(Record.sweep(&other.sweep_cx()).await.unwrap().is_empty());
    delete_foreign_zone(&t.aws, &zone_id).await;
}

// ----------------------------------------------------- certificates ----

#[tokio::test]
async fn certificate_is_requested_once_validated_by_dns_polled_swept_and_deleted() {
    let t = T::new("ke-cert").await;
    let zone = t.zone().await;
    let zone_id = out(&zone, "zone_id");
    let domain = t.domain();
    let cx = t.cx("cert");
    let p = props(json!({"domain": domain, "zone_id": zone_id}));

    let t0 = Instant::now();
    let first = Certificate.apply(&cx, &p).await.unwrap();
    // moto issues the certificate when it is described more than a second
    // after the request: a poll within that second must still be pending.
    let poll = Certificate.ready(&cx, &first).await.unwrap();
    let polled_early = t0.elapsed() < Duration::from_millis(900);
    if polled_early {
        assert!(matches!(poll, Readiness::Pending(_)), "{poll:?}");
    } else {
        eprintln!(
            "first poll came {:?} after the request; not checked",
            t0.elapsed()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut polls = 1;
    let mut last = poll;
    while last != Readiness::Ready {
        assert!(Instant::now() < deadline, "still {last:?} after 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
        last = Certificate.ready(&cx, &first).await.unwrap();
        polls += 1;
    }
    if polled_early {
        assert!(polls >= 2, "ready after {polls} polls");
    }

    let arn = out(&first, "arn");
    assert_eq!(out(&first, "domain"), domain);
    assert_eq!(out(&first, "zone_id"), zone_id);
    assert_eq!(tenant_certs(&t.aws, "ke-cert").await, vec![arn.clone()]);
    let tags = cert_tags(&t.aws, &arn).await;
    t.assert_tagged("certificate", &tags, "cert");
    assert_eq!(
        tags.get("envctl:validation-zone").map(String::as_str),
        Some(zone_id.as_str())
    );
    let described = t
        .aws
        .acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let c = described.certificate().unwrap();
    assert_eq!(c.status().unwrap().as_str(), "ISSUED");
    let mut sans = c.subject_alternative_names().to_vec();
    sans.sort();
    assert_eq!(sans, vec![format!("*.{domain}"), domain.clone()]);

    // The validation CNAMEs ACM asks for are in the zone.
    let cnames = validation_cnames(&t.aws, &arn).await;
    assert!(!cnames.is_empty());
    for (name, value) in &cnames {
        let sets = sets_of(&t.aws, &zone_id, name, "CNAME").await;
        assert_eq!(sets.len(), 1, "{name}: {sets:?}");
        assert_eq!(sets[0].len(), 1);
        assert_eq!(sets[0][0].trim_end_matches('.'), value);
        assert!(out(&first, "validation_records").contains(&format!("{name}={value}")));
    }

    // Applied again: the same certificate, found by its tags; a new expiry
    // retags it in place.
    let second = Certificate.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    let at: jiff::Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
    let mut expiring = t.cx("cert");
    expiring.expires_at = Some(at);
    assert_eq!(Certificate.apply(&expiring, &p).await.unwrap(), first);
    assert_eq!(tenant_certs(&t.aws, "ke-cert").await, vec![arn.clone()]);
    assert_eq!(
        cert_tags(&t.aws, &arn).await.get("envctl:expires-at"),
        Some(&at.to_string())
    );

    let found = Certificate.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let swept = only(&found, "cert");
    assert_eq!(out(&swept, "arn"), arn);
    assert_eq!(out(&swept, "zone_id"), zone_id);

    // Delete with what the sweep found: the certificate and its CNAMEs go.
    Certificate.delete(&cx, &swept).await.unwrap();
    assert!(!cert_exists(&t.aws, &arn).await);
    for (name, _) in &cnames {
        assert!(
            sets_of(&t.aws, &zone_id, name, "CNAME").await.is_empty(),
            "{name}"
        );
    }
    Certificate.delete(&cx, &first).await.unwrap();
    assert!(Certificate.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    assert!(tenant_certs(&t.aws, "ke-cert").await.is_empty());

    Zone.delete(&t.cx("dns"), &zone).await.unwrap();
    assert!(!zone_exists(&t.aws, &zone_id).await);
}

#[tokio::test]
async fn certificate_checks_its_zone_and_properties_before_requesting() {
    let t = T::new("ke-certx").await;
    let zone = t.zone().await;
    let zone_id = out(&zone, "zone_id");
    let cx = t.cx("cert");
    for bad in [
        // The zone does not cover the name.
        json!({"domain": "www.elsewhere.test", "zone_id": zone_id}),
        json!({"domain": t.domain(), "subject_alternative_names": ["api.elsewhere.test"], "zone_id": zone_id}),
        json!({"domain": t.domain(), "zone_id": "ZNOSUCHZONE"}),
        json!({"domain": "not a domain"}),
        json!({"domain": t.domain(), "zone": zone_id}),
    ] {
        let err = Certificate
            .apply(&cx, &props(bad.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{bad}: {err}");
    }
    assert!(tenant_certs(&t.aws, "ke-certx").await.is_empty());

    // A zone of another tenant is not written into.
    let other = T::new("ke-certx-2").await;
    let other_zone = other.zone().await;
    let err = Certificate
        .apply(
            &cx,
            &props(json!({"domain": other.domain(), "zone_id": out(&other_zone, "zone_id")})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ke-certx-2"), "{err}");
    assert!(tenant_certs(&t.aws, "ke-certx").await.is_empty());

    // Without a zone the records are only reported; no SANs when asked.
    let o = Certificate
        .apply(
            &cx,
            &props(
                json!({"domain": format!("api.{}", t.domain()), "subject_alternative_names": []}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out(&o, "zone_id"), "");
    assert!(out(&o, "validation_records").contains("acm-validations.aws"));
    let records_left: Vec<_> = records(&t.aws, &zone_id)
        .await
        .into_iter()
        .filter(|(_, t, _)| t == "CNAME")
        .collect();
    assert!(records_left.is_empty(), "{records_left:?}");
    Certificate.delete(&cx, &o).await.unwrap();
    assert!(tenant_certs(&t.aws, "ke-certx").await.is_empty());

    Zone.delete(&t.cx("dns"), &zone).await.unwrap();
    Zone.delete(&other.cx("dns"), &other_zone).await.unwrap();
}
