//! The compute kinds (`aws.ec2.network`, `aws.ec2.security_group`,
//! `aws.autoscaling.group`, `aws.lambda.function`) against a private moto
//! server. Every check of what exists in "AWS" uses the raw SDK, not the
//! kind under test. Tests run in parallel against one moto, each with its
//! own tenant.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Tag, TagSpecification};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use envctl::kinds::aws::autoscaling::Group;
use envctl::kinds::aws::ec2::network::Network;
use envctl::kinds::aws::ec2::security_group::SecurityGroup;
use envctl::kinds::aws::lambda::Function;
use envctl::kinds::{Cx, Kind, KindError, Outputs, Props, Readiness};
use serde_json::json;
use support::kinds::KindWorld;

const STACK: &str = "kinds-compute";

/// Records the operations the kinds call (an SDK interceptor on the clients
/// the kinds get), so a test can tell that an apply with nothing to do
/// changed nothing, which moto's answers alone cannot always show.
#[derive(Clone, Debug, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "record-calls"
    }

    // The operation's metadata is in the config bag once it has run (not
    // yet before it starts).
    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg.load::<Metadata>().map(|m| m.name().to_string());
        self.0
            .lock()
            .unwrap()
            .push(name.unwrap_or_else(|| "<unknown operation>".into()));
        Ok(())
    }
}

impl Calls {
    /// The calls since the last `take`.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The calls since the last `take` that change something.
    fn take_changes(&self) -> Vec<String> {
        const READS: [&str; 4] = ["Describe", "Get", "List", "Head"];
        self.take()
            .into_iter()
            .filter(|c| !READS.iter().any(|r| c.starts_with(r)))
            .collect()
    }
}

/// Everything one test needs: its tenant, the backends (with recorded
/// calls), and raw clients for checks.
struct T {
    world: KindWorld,
    calls: Calls,
}

impl std::ops::Deref for T {
    type Target = KindWorld;

    fn deref(&self) -> &KindWorld {
        &self.world
    }
}

impl T {
    fn new(tenant: &str) -> T {
        let calls = Calls::default();
        let recording = calls.clone();
        let world = KindWorld::with_kind_clients(STACK, tenant, "kc-values", |aws, config| {
            let mut recorded = aws.clone();
            recorded.ec2 = aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(config)
                    .interceptor(recording.clone())
                    .build(),
            );
            recorded.autoscaling = aws_sdk_autoscaling::Client::from_conf(
                aws_sdk_autoscaling::config::Builder::from(config)
                    .interceptor(recording.clone())
                    .build(),
            );
            recorded.lambda = aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .interceptor(recording.clone())
                    .build(),
            );
            recorded.iam = aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .interceptor(recording.clone())
                    .build(),
            );
            recorded.logs = aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(config)
                    .interceptor(recording.clone())
                    .build(),
            );
            recorded
        });
        T { world, calls }
    }

    /// Filters for everything of this tenant (raw EC2 checks).
    fn tenant_filter(&self) -> Filter {
        filter("tag:envctl:tenant", self.tenant.as_str())
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

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn ec2_tags(tags: &[Tag]) -> HashMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// Polls `ready` (the kind's real describe calls) until Ready; fails after
/// `limit`. Between polls it waits, as the engine does.
async fn wait_ready(kind: &dyn Kind, cx: &Cx, o: &Outputs, limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        match kind.ready(cx, o).await.unwrap() {
            Readiness::Ready => return,
            Readiness::Pending(why) => {
                assert!(
                    started.elapsed() < limit,
                    "{} not ready after {limit:?}: {why}",
                    kind.name()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

// ------------------------------------------------------------- raw EC2 ----

async fn vpcs(t: &T, filters: Vec<Filter>) -> Vec<aws_sdk_ec2::types::Vpc> {
    t.aws
        .ec2
        .describe_vpcs()
        .set_filters(Some(filters))
        .send()
        .await
        .unwrap()
        .vpcs()
        .to_vec()
}

async fn subnets(t: &T, filters: Vec<Filter>) -> Vec<aws_sdk_ec2::types::Subnet> {
    t.aws
        .ec2
        .describe_subnets()
        .set_filters(Some(filters))
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec()
}

async fn igws(t: &T, filters: Vec<Filter>) -> Vec<aws_sdk_ec2::types::InternetGateway> {
    t.aws
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(filters))
        .send()
        .await
        .unwrap()
        .internet_gateways()
        .to_vec()
}

async fn route_tables(t: &T, filters: Vec<Filter>) -> Vec<aws_sdk_ec2::types::RouteTable> {
    t.aws
        .ec2
        .describe_route_tables()
        .set_filters(Some(filters))
        .send()
        .await
        .unwrap()
        .route_tables()
        .to_vec()
}

async fn vpc_exists(t: &T, vpc_id: &str) -> bool {
    match t.aws.ec2.describe_vpcs().vpc_ids(vpc_id).send().await {
        Ok(o) => !o.vpcs().is_empty(),
        Err(e) if aws_code(&e) == Some("InvalidVpcID.NotFound") => false,
        Err(e) => panic!("DescribeVpcs {vpc_id}: {e:?}"),
    }
}

fn aws_code<E: aws_sdk_ec2::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_ec2::error::SdkError<E, R>,
) -> Option<&str> {
    envctl::kinds::aws::error_code(e)
}

/// A VPC with two subnets in two zones, made without envctl (untagged).
async fn raw_network(t: &T, cidr_prefix: &str) -> (String, Vec<String>) {
    let vpc = t
        .aws
        .ec2
        .create_vpc()
        .cidr_block(format!("{cidr_prefix}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let mut ids = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let s = t
            .aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("{cidr_prefix}.{}.0/20", i * 16))
            .availability_zone(*zone)
            .send()
            .await
            .unwrap();
        ids.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    (vpc, ids)
}

async fn delete_raw_network(t: &T, vpc: &str, subnet_ids: &[String]) {
    for s in subnet_ids {
        t.aws.ec2.delete_subnet().subnet_id(s).send().await.unwrap();
    }
    t.aws.ec2.delete_vpc().vpc_id(vpc).send().await.unwrap();
}

// ------------------------------------------------------------- network ----

/// What exists of this tenant and in `vpc` (other tests run meanwhile, so
/// only these are counted): tenant-tagged VPCs, subnets, gateways and route
/// tables, and the subnets, gateways and route tables of `vpc`.
async fn footprint(t: &T, vpc: &str) -> Vec<usize> {
    vec![
        vpcs(t, vec![t.tenant_filter()]).await.len(),
        subnets(t, vec![t.tenant_filter()]).await.len(),
        igws(t, vec![t.tenant_filter()]).await.len(),
        route_tables(t, vec![t.tenant_filter()]).await.len(),
        subnets(t, vec![filter("vpc-id", vpc)]).await.len(),
        igws(t, vec![filter("attachment.vpc-id", vpc)]).await.len(),
        route_tables(t, vec![filter("vpc-id", vpc)]).await.len(),
    ]
}

#[tokio::test]
async fn network_is_created_once_tagged_ready_swept_and_deleted() {
    let t = T::new("kc-net");
    let cx = t.cx("net");
    let first = Network.apply(&cx, &props(json!({}))).await.unwrap();
    let vpc_id = out(&first, "vpc_id");
    // The recorder sees the kind's calls (so its empty answers below mean
    // something).
    let made = t.calls.take_changes();
    for call in [
        "CreateVpc",
        "ModifyVpcAttribute",
        "CreateSubnet",
        "CreateInternetGateway",
        "AttachInternetGateway",
        "CreateRouteTable",
        "CreateRoute",
        "AssociateRouteTable",
    ] {
        assert!(made.iter().any(|c| c == call), "{call} not in {made:?}");
    }
    assert_eq!(out(&first, "cidr"), "10.40.0.0/16");
    assert_eq!(out(&first, "created"), "true");
    assert_eq!(
        out(&first, "subnet_ids"),
        format!("{},{}", out(&first, "subnet_a"), out(&first, "subnet_b"))
    );

    // Exactly one VPC, tagged, with DNS on.
    let ours = vpcs(&t, vec![t.tenant_filter()]).await;
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].vpc_id(), Some(vpc_id.as_str()));
    assert_eq!(ours[0].cidr_block(), Some("10.40.0.0/16"));
    t.assert_tagged("vpc", &ec2_tags(ours[0].tags()), "net");
    assert_eq!(
        ec2_tags(ours[0].tags()).get("Name").map(String::as_str),
        Some("envctl-kc-net-net")
    );
    for attribute in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
    ] {
        let a = t
            .aws
            .ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .unwrap();
        let on = a
            .enable_dns_hostnames()
            .or(a.enable_dns_support())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attribute:?}");
    }

    // Two subnets, /20 each, in two zones, tagged.
    let subs = subnets(&t, vec![filter("vpc-id", &vpc_id)]).await;
    assert_eq!(subs.len(), 2, "{subs:?}");
    let cidrs: BTreeSet<&str> = subs.iter().filter_map(|s| s.cidr_block()).collect();
    assert_eq!(
        cidrs,
        BTreeSet::from(["10.40.0.0/20", "10.40.16.0/20"]),
        "{subs:?}"
    );
    let zones: BTreeSet<&str> = subs.iter().filter_map(|s| s.availability_zone()).collect();
    assert_eq!(zones.len(), 2, "{zones:?}");
    for s in &subs {
        t.assert_tagged("subnet", &ec2_tags(s.tags()), "net");
    }

    // One gateway, attached, tagged; one route table with the default
    // route to it, associated with both subnets.
    let gws = igws(&t, vec![t.tenant_filter()]).await;
    assert_eq!(gws.len(), 1, "{gws:?}");
    let igw_id = gws[0].internet_gateway_id().unwrap().to_string();
    assert_eq!(gws[0].attachments()[0].vpc_id(), Some(vpc_id.as_str()));
    t.assert_tagged("internet gateway", &ec2_tags(gws[0].tags()), "net");
    let tables = route_tables(&t, vec![t.tenant_filter()]).await;
    assert_eq!(tables.len(), 1, "{tables:?}");
    t.assert_tagged("route table", &ec2_tags(tables[0].tags()), "net");
    assert!(
        tables[0]
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(igw_id.as_str())),
        "{tables:?}"
    );
    let associated: BTreeSet<&str> = tables[0]
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    let subnet_ids: BTreeSet<&str> = subs.iter().filter_map(|s| s.subnet_id()).collect();
    assert_eq!(associated, subnet_ids);

    // Again: the same network, nothing new, not one change made.
    t.calls.take();
    let second = Network.apply(&cx, &props(json!({}))).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    assert_eq!(vpcs(&t, vec![t.tenant_filter()]).await.len(), 1);
    assert_eq!(subnets(&t, vec![filter("vpc-id", &vpc_id)]).await.len(), 2);
    assert_eq!(igws(&t, vec![t.tenant_filter()]).await.len(), 1);
    let tables = route_tables(&t, vec![t.tenant_filter()]).await;
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].associations().len(), 2);
    assert_eq!(
        tables[0]
            .routes()
            .iter()
            .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .count(),
        1
    );

    wait_ready(&Network, &cx, &second, Duration::from_secs(30)).await;

    // A tenant whose name starts with ours is not swept with us.
    let other = T::new("kc-net-other");
    let other_out = Network
        .apply(&other.cx("net"), &props(json!({"cidr": "10.41.0.0/16"})))
        .await
        .unwrap();
    let found = Network.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "net");
    assert_eq!(out(&found[0].outputs, "vpc_id"), vpc_id);

    // Delete what the sweep found, as destroy after state loss would.
    Network.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!vpc_exists(&t, &vpc_id).await);
    assert!(subnets(&t, vec![t.tenant_filter()]).await.is_empty());
    assert!(igws(&t, vec![t.tenant_filter()]).await.is_empty());
    assert!(route_tables(&t, vec![t.tenant_filter()]).await.is_empty());
    Network.delete(&cx, &first).await.unwrap();
    assert!(Network.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    assert!(vpc_exists(&other, &out(&other_out, "vpc_id")).await);
    Network.delete(&other.cx("net"), &other_out).await.unwrap();
    assert!(!vpc_exists(&other, &out(&other_out, "vpc_id")).await);
}

#[tokio::test]
async fn network_over_existing_vpc_creates_and_deletes_nothing() {
    let t = T::new("kc-netx");
    let (vpc, subnet_ids) = raw_network(&t, "10.61").await;
    let before = footprint(&t, &vpc).await;

    let cx = t.cx("shared");
    let o = Network
        .apply(&cx, &props(json!({ "vpc_id": vpc })))
        .await
        .unwrap();
    assert_eq!(out(&o, "vpc_id"), vpc);
    assert_eq!(out(&o, "created"), "false");
    assert_eq!(out(&o, "cidr"), "10.61.0.0/16");
    assert_eq!(out(&o, "subnet_a"), subnet_ids[0]);
    assert_eq!(out(&o, "subnet_b"), subnet_ids[1]);
    // Subnets given as one string (what a reference yields), VPC implied.
    let by_subnets = Network
        .apply(
            &cx,
            &props(json!({ "subnet_ids": format!("{},{}", subnet_ids[1], subnet_ids[0]) })),
        )
        .await
        .unwrap();
    assert_eq!(out(&by_subnets, "vpc_id"), vpc);
    assert_eq!(out(&by_subnets, "subnet_a"), subnet_ids[1]);
    assert_eq!(footprint(&t, &vpc).await, before, "nothing may be created");
    wait_ready(&Network, &cx, &o, Duration::from_secs(30)).await;
    assert!(Network.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    Network.delete(&cx, &o).await.unwrap();
    Network.delete(&cx, &by_subnets).await.unwrap();
    assert_eq!(footprint(&t, &vpc).await, before, "nothing may be deleted");
    assert!(vpc_exists(&t, &vpc).await);

    // A VPC of another tenant is refused.
    t.aws
        .ec2
        .create_tags()
        .resources(&vpc)
        .tags(
            Tag::builder()
                .key("envctl:tenant")
                .value("someone-else")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let err = Network
        .apply(&cx, &props(json!({ "vpc_id": vpc })))
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("someone-else"), "{err}");

    // A subnet that does not exist is named.
    let err = Network
        .apply(
            &cx,
            &props(json!({ "subnet_ids": [subnet_ids[0], "subnet-0000000000000dead"] })),
        )
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("subnet_ids"), "{err}");

    delete_raw_network(&t, &vpc, &subnet_ids).await;
}

#[tokio::test]
async fn network_bad_properties_fail_before_anything_is_created() {
    let t = T::new("kc-netp");
    let cx = t.cx("net");
    for (p, hint) in [
        (json!({"cidr": "10.40.0.0/24"}), "/16 to /19"),
        (
            json!({"cidr": "10.40.0.0/16", "vpc_id": "vpc-1234"}),
            "cidr",
        ),
        (json!({"availability_zones": ["us-east-1a"]}), "two"),
        (json!({"cdir": "10.40.0.0/16"}), "cdir"),
    ] {
        let err = Network.apply(&cx, &props(p.clone())).await.unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{p}: {err}");
        assert!(err.to_string().contains(hint), "{p}: {err}");
    }
    assert!(vpcs(&t, vec![t.tenant_filter()]).await.is_empty());
    // A zone that does not exist fails without leaving a half network
    // behind in later applies: the VPC is adopted, not duplicated.
    let bad = props(json!({"availability_zones": ["us-east-1a", "xx-nowhere-1z"]}));
    assert!(Network.apply(&cx, &bad).await.is_err());
    let good = props(json!({"availability_zones": ["us-east-1a", "us-east-1c"]}));
    let o = Network.apply(&cx, &good).await.unwrap();
    assert_eq!(vpcs(&t, vec![t.tenant_filter()]).await.len(), 1);
    let zones: BTreeSet<String> = subnets(&t, vec![filter("vpc-id", &out(&o, "vpc_id"))])
        .await
        .iter()
        .filter_map(|s| s.availability_zone().map(str::to_string))
        .collect();
    assert_eq!(
        zones,
        BTreeSet::from(["us-east-1a".to_string(), "us-east-1c".to_string()])
    );
    Network.delete(&cx, &o).await.unwrap();
    assert!(vpcs(&t, vec![t.tenant_filter()]).await.is_empty());
}

// ------------------------------------------------------ security group ----

/// The ingress rules of a group as (protocol, from, to, source).
async fn ingress(t: &T, group_id: &str) -> Vec<(String, i32, i32, String)> {
    let rules = t
        .aws
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", group_id))
        .send()
        .await
        .unwrap();
    let mut out: Vec<_> = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            let source = r
                .cidr_ipv4()
                .or(r.cidr_ipv6())
                .or(r.referenced_group_info().and_then(|g| g.group_id()))
                .unwrap_or_default()
                .to_string();
            (
                r.ip_protocol().unwrap_or_default().to_string(),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1),
                source,
            )
        })
        .collect();
    out.sort();
    out
}

async fn groups_of_tenant(t: &T) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    t.aws
        .ec2
        .describe_security_groups()
        .filters(t.tenant_filter())
        .send()
        .await
        .unwrap()
        .security_groups()
        .to_vec()
}

async fn group_exists(t: &T, group_id: &str) -> bool {
    match t
        .aws
        .ec2
        .describe_security_groups()
        .group_ids(group_id)
        .send()
        .await
    {
        Ok(o) => !o.security_groups().is_empty(),
        Err(e) if aws_code(&e) == Some("InvalidGroup.NotFound") => false,
        Err(e) => panic!("DescribeSecurityGroups {group_id}: {e:?}"),
    }
}

#[tokio::test]
async fn security_group_rules_are_added_once_and_converged() {
    let t = T::new("kc-sg");
    let (vpc, subnet_ids) = raw_network(&t, "10.62").await;
    let lb = t
        .aws
        .ec2
        .create_security_group()
        .group_name("kc-sg-lb")
        .description("load balancer")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let cx = t.cx("web-sg");
    let p = props(json!({
        "vpc_id": vpc,
        "description": "web servers",
        "ingress": [
            {"protocol": "tcp", "port": 443, "cidr": "0.0.0.0/0", "description": "https"},
            {"protocol": "tcp", "port": "8080", "source_group": lb},
            {"protocol": "icmp", "cidr": "10.0.0.0/8"},
        ],
    }));
    let first = SecurityGroup.apply(&cx, &p).await.unwrap();
    let group_id = out(&first, "group_id");
    assert_eq!(out(&first, "name"), "envctl-kc-sg-web-sg");
    let groups = groups_of_tenant(&t).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].group_id(), Some(group_id.as_str()));
    assert_eq!(groups[0].description(), Some("web servers"));
    assert_eq!(groups[0].vpc_id(), Some(vpc.as_str()));
    t.assert_tagged("security group", &ec2_tags(groups[0].tags()), "web-sg");
    let want = vec![
        ("icmp".to_string(), -1, -1, "10.0.0.0/8".to_string()),
        ("tcp".to_string(), 443, 443, "0.0.0.0/0".to_string()),
        ("tcp".to_string(), 8080, 8080, lb.clone()),
    ];
    assert_eq!(ingress(&t, &group_id).await, want);
    // Egress stays AWS's default: everything allowed.
    assert_eq!(groups[0].ip_permissions_egress().len(), 1);
    assert_eq!(
        groups[0].ip_permissions_egress()[0].ip_protocol(),
        Some("-1")
    );

    // Twice: the same group, each rule once, no call that changes anything.
    t.calls.take();
    let second = SecurityGroup.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    assert_eq!(groups_of_tenant(&t).await.len(), 1);
    assert_eq!(ingress(&t, &group_id).await, want);
    wait_ready(&SecurityGroup, &cx, &second, Duration::from_secs(30)).await;

    // A rule added by hand is left alone; a rule dropped from the stack is
    // revoked; a new one is added.
    t.aws
        .ec2
        .authorize_security_group_ingress()
        .group_id(&group_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("192.168.0.0/16").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let changed = props(json!({
        "vpc_id": vpc,
        "description": "web servers",
        "ingress": [
            {"protocol": "tcp", "port": 443, "cidr": "0.0.0.0/0"},
            {"protocol": "udp", "from_port": 5000, "to_port": 5010, "cidr": "10.0.0.0/8"},
        ],
    }));
    let third = SecurityGroup.apply(&cx, &changed).await.unwrap();
    assert_eq!(first, third);
    assert_eq!(
        ingress(&t, &group_id).await,
        vec![
            ("tcp".to_string(), 22, 22, "192.168.0.0/16".to_string()),
            ("tcp".to_string(), 443, 443, "0.0.0.0/0".to_string()),
            ("udp".to_string(), 5000, 5010, "10.0.0.0/8".to_string()),
        ]
    );

    let found = SecurityGroup.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "web-sg");
    assert_eq!(out(&found[0].outputs, "group_id"), group_id);
    SecurityGroup.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!group_exists(&t, &group_id).await);
    assert!(groups_of_tenant(&t).await.is_empty());
    SecurityGroup.delete(&cx, &first).await.unwrap();

    t.aws
        .ec2
        .delete_security_group()
        .group_id(&lb)
        .send()
        .await
        .unwrap();
    delete_raw_network(&t, &vpc, &subnet_ids).await;
}

#[tokio::test]
async fn security_group_of_another_tenant_is_not_adopted() {
    let t = T::new("kc-sgx");
    let (vpc, subnet_ids) = raw_network(&t, "10.63").await;
    let cx = t.cx("db-sg");
    let theirs = t
        .aws
        .ec2
        .create_security_group()
        .group_name(cx.physical_name(255))
        .description("not ours")
        .vpc_id(&vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .tags(
                    Tag::builder()
                        .key("envctl:tenant")
                        .value("someone-else")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let err = SecurityGroup
        .apply(&cx, &props(json!({ "vpc_id": vpc })))
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(SecurityGroup.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    // Bad rules fail before anything is created.
    let cx2 = t.cx("other-sg");
    let err = SecurityGroup
        .apply(
            &cx2,
            &props(json!({ "vpc_id": vpc, "ingress": [{"protocol": "tcp", "cidr": "0.0.0.0/0"}] })),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ingress[0]"), "{err}");
    assert!(groups_of_tenant(&t).await.is_empty());

    t.aws
        .ec2
        .delete_security_group()
        .group_id(&theirs)
        .send()
        .await
        .unwrap();
    delete_raw_network(&t, &vpc, &subnet_ids).await;
}

// ---------------------------------------------------------- autoscaling ----

async fn raw_group(t: &T, name: &str) -> Option<aws_sdk_autoscaling::types::AutoScalingGroup> {
    t.aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
        .first()
        .cloned()
}

async fn templates_of_tenant(t: &T) -> Vec<aws_sdk_ec2::types::LaunchTemplate> {
    t.aws
        .ec2
        .describe_launch_templates()
        .filters(t.tenant_filter())
        .send()
        .await
        .unwrap()
        .launch_templates()
        .to_vec()
}

async fn default_template_data(t: &T, id: &str) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
    t.aws
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Default")
        .send()
        .await
        .unwrap()
        .launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn autoscaling_group_is_created_once_ready_swept_and_deleted_with_its_template() {
    let t = T::new("kc-asg");
    let (vpc, subnet_ids) = raw_network(&t, "10.64").await;
    let sg = t
        .aws
        .ec2
        .create_security_group()
        .group_name("kc-asg-app")
        .description("app")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let cx = t.cx("app");
    let p = props(json!({
        // Subnets as a reference yields them; groups as a list.
        "subnet_ids": subnet_ids.join(","),
        "security_group_ids": [sg],
        "min": 1,
        "max": 3,
        "desired": 2,
    }));
    let first = Group.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(name, "envctl-kc-asg-app");
    let template_id = out(&first, "launch_template_id");

    let g = raw_group(&t, &name).await.expect("group exists");
    assert_eq!(
        g.auto_scaling_group_arn(),
        Some(out(&first, "arn").as_str())
    );
    assert_eq!(
        (g.min_size(), g.max_size(), g.desired_capacity()),
        (Some(1), Some(3), Some(2))
    );
    let zone_subnets: BTreeSet<&str> = g.vpc_zone_identifier().unwrap().split(',').collect();
    assert_eq!(
        zone_subnets,
        subnet_ids
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        g.launch_template().and_then(|l| l.launch_template_id()),
        Some(template_id.as_str())
    );
    let group_tags: HashMap<String, String> = g
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    t.assert_tagged("group", &group_tags, "app");
    assert!(
        g.tags()
            .iter()
            .all(|t| t.propagate_at_launch() == Some(true))
    );

    // One template, tagged, launching t3.small from Amazon Linux 2023 with
    // the security group on a primary interface with a public address (the
    // instances' route out through the subnet's internet gateway).
    let templates = templates_of_tenant(&t).await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].launch_template_name(), Some(name.as_str()));
    t.assert_tagged("launch template", &ec2_tags(templates[0].tags()), "app");
    let data = default_template_data(&t, &template_id).await;
    assert_eq!(data.instance_type().map(|i| i.as_str()), Some("t3.small"));
    assert!(
        data.security_group_ids().is_empty(),
        "groups go on the interface"
    );
    let primary = &data.network_interfaces()[0];
    assert_eq!(primary.device_index(), Some(0));
    assert_eq!(primary.associate_public_ip_address(), Some(true));
    assert_eq!(primary.groups(), std::slice::from_ref(&sg));
    let image = t
        .aws
        .ec2
        .describe_images()
        .image_ids(data.image_id().unwrap())
        .send()
        .await
        .unwrap();
    let image_name = image.images()[0].name().unwrap();
    assert!(
        image_name.starts_with("al2023-ami-2023.") && image_name.ends_with("-x86_64"),
        "{image_name}"
    );

    // Instances carry the tenant's tags (propagated).
    wait_ready(&Group, &cx, &first, Duration::from_secs(60)).await;
    let g = raw_group(&t, &name).await.unwrap();
    let instance_ids: Vec<String> = g
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(instance_ids.len(), 2);
    let reservations = t
        .aws
        .ec2
        .describe_instances()
        .set_instance_ids(Some(instance_ids.clone()))
        .send()
        .await
        .unwrap();
    for i in reservations
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
    {
        t.assert_tagged("instance", &ec2_tags(i.tags()), "app");
    }

    // Twice: the same group (its instances untouched) and template, no new
    // template version, no call that changes anything. (moto replaces a
    // group on a second CreateAutoScalingGroup instead of refusing it, so
    // counting groups alone would not show a re-create.)
    t.calls.take();
    let second = Group.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    let again: Vec<String> = raw_group(&t, &name)
        .await
        .unwrap()
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(again, instance_ids);
    assert_eq!(templates_of_tenant(&t).await.len(), 1);
    let lt = &templates_of_tenant(&t).await[0];
    assert_eq!(lt.latest_version_number(), Some(1));
    let groups = t
        .aws
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups
            .auto_scaling_groups()
            .iter()
            .filter(|g| g.auto_scaling_group_name() == Some(name.as_str()))
            .count(),
        1
    );

    // A new instance type makes a new default template version; sizes converge.
    let mut bigger = p.clone();
    bigger.insert("instance_type".into(), json!("t3.medium"));
    bigger.insert("desired".into(), json!(1));
    let third = Group.apply(&cx, &bigger).await.unwrap();
    assert_eq!(first, third);
    let changes = t.calls.take_changes();
    assert!(
        changes.contains(&"CreateLaunchTemplateVersion".to_string())
            && changes.contains(&"UpdateAutoScalingGroup".to_string())
            && !changes.contains(&"CreateAutoScalingGroup".to_string()),
        "{changes:?}"
    );
    let data = default_template_data(&t, &template_id).await;
    assert_eq!(data.instance_type().map(|i| i.as_str()), Some("t3.medium"));
    assert_eq!(
        raw_group(&t, &name).await.unwrap().desired_capacity(),
        Some(1)
    );
    wait_ready(&Group, &cx, &third, Duration::from_secs(60)).await;

    let found = Group.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "app");
    assert_eq!(out(&found[0].outputs, "launch_template_id"), template_id);

    Group.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(raw_group(&t, &name).await.is_none());
    assert!(templates_of_tenant(&t).await.is_empty());
    let reservations = t
        .aws
        .ec2
        .describe_instances()
        .set_instance_ids(Some(instance_ids))
        .send()
        .await
        .unwrap();
    for i in reservations
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
    {
        assert_eq!(
            i.state().and_then(|s| s.name()).map(|n| n.as_str()),
            Some("terminated")
        );
    }
    Group.delete(&cx, &first).await.unwrap();
    assert!(Group.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    t.aws
        .ec2
        .delete_security_group()
        .group_id(&sg)
        .send()
        .await
        .unwrap();
    delete_raw_network(&t, &vpc, &subnet_ids).await;
}

#[tokio::test]
async fn autoscaling_sweep_finds_a_template_whose_group_was_never_made() {
    let t = T::new("kc-asgo");
    let cx = t.cx("workers");
    // A crashed run: the template exists, the group does not. A subnet that
    // does not exist makes CreateAutoScalingGroup fail after the template.
    let err = Group
        .apply(
            &cx,
            &props(json!({"subnet_ids": "subnet-0000000000000dead", "image_id": "ami-12c6146b"})),
        )
        .await;
    assert!(err.is_err(), "{err:?}");
    let templates = templates_of_tenant(&t).await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert!(raw_group(&t, &cx.physical_name(128)).await.is_none());

    let found = Group.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "workers");
    Group.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(templates_of_tenant(&t).await.is_empty());
    assert!(Group.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    // Bad sizes fail before anything is created.
    let err = Group
        .apply(
            &cx,
            &props(json!({"subnet_ids": ["subnet-1"], "min": 3, "max": 1})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(
        err.to_string().contains("min (3) is above max (1)"),
        "{err}"
    );
    assert!(templates_of_tenant(&t).await.is_empty());
}

// --------------------------------------------------------------- lambda ----

async fn raw_function(t: &T, name: &str) -> Option<aws_sdk_lambda::types::FunctionConfiguration> {
    match t.aws.lambda.get_function().function_name(name).send().await {
        Ok(f) => f.configuration().cloned(),
        Err(e) if envctl::kinds::aws::error_code(&e) == Some("ResourceNotFoundException") => None,
        Err(e) => panic!("GetFunction {name}: {e:?}"),
    }
}

async fn functions_named(t: &T, name: &str) -> usize {
    t.aws
        .lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter(|f| f.function_name() == Some(name))
        .count()
}

async fn role_exists(t: &T, name: &str) -> bool {
    match t.aws.iam.get_role().role_name(name).send().await {
        Ok(_) => true,
        Err(e) if envctl::kinds::aws::error_code(&e) == Some("NoSuchEntity") => false,
        Err(e) => panic!("GetRole {name}: {e:?}"),
    }
}

async fn roles_named(t: &T, name: &str) -> usize {
    t.aws
        .iam
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .filter(|r| r.role_name() == name)
        .count()
}

async fn role_tags(t: &T, name: &str) -> HashMap<String, String> {
    t.aws
        .iam
        .list_role_tags()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

async fn mappings_of(
    t: &T,
    name: &str,
) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
    t.aws
        .lambda
        .list_event_source_mappings()
        .function_name(name)
        .send()
        .await
        .unwrap()
        .event_source_mappings()
        .to_vec()
}

#[tokio::test]
async fn lambda_function_updates_only_when_its_source_or_config_changes() {
    let t = T::new("kc-fn");
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("index.py"),
        "def handler(event, context):\n    return {'v': 1}\n",
    )
    .unwrap();
    let cx = t.cx("resize");
    let mut p = props(json!({
        "source": src.path().to_str().unwrap(),
        "memory_mb": 256,
        "timeout_seconds": "20",
        "environment": {"THUMB_WIDTH": 128, "MODE": "fast"},
    }));
    let first = Function.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(name, "envctl-kc-fn-resize");
    assert_eq!(
        t.calls.take_changes(),
        [
            "CreateRole",
            "AttachRolePolicy",
            "CreateLogGroup",
            "PutRetentionPolicy",
            "CreateFunction"
        ]
    );
    let role = "envctl-kc-fn-resize-role";
    // Its log group exists before the function first runs, tagged, with the
    // default retention.
    assert_eq!(out(&first, "log_group"), format!("/aws/lambda/{name}"));
    let (retention, group_tags) = log_group(&t, &name).await.expect("log group");
    assert_eq!(retention, Some(14));
    t.assert_tagged("log group", &group_tags, "resize");
    assert!(out(&first, "role_arn").ends_with(&format!("/{role}")));

    let f = raw_function(&t, &name).await.expect("function exists");
    assert_eq!(f.function_arn(), Some(out(&first, "arn").as_str()));
    assert_eq!(f.handler(), Some("index.handler"));
    assert_eq!(f.runtime().map(|r| r.as_str()), Some("python3.12"));
    assert_eq!((f.memory_size(), f.timeout()), (Some(256), Some(20)));
    assert_eq!(f.role(), Some(out(&first, "role_arn").as_str()));
    assert_eq!(f.code_sha256(), Some(out(&first, "code_sha256").as_str()));
    let env = f.environment().unwrap().variables().unwrap();
    assert_eq!(env.get("THUMB_WIDTH").map(String::as_str), Some("128"));
    let fn_tags: HashMap<String, String> = t
        .aws
        .lambda
        .list_tags()
        .resource(f.function_arn().unwrap())
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default();
    t.assert_tagged("function", &fn_tags, "resize");
    assert_eq!(functions_named(&t, &name).await, 1);

    // The role: once, tagged, with the basic execution policy.
    assert_eq!(roles_named(&t, role).await, 1);
    t.assert_tagged("role", &role_tags(&t, role).await, "resize");
    let attached = t
        .aws
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect::<Vec<_>>(),
        ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    );

    // The same source again: same CodeSha256, no update at all (moto never
    // changes LastModified, so the calls made are what shows it).
    t.calls.take();
    let second = Function.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    let f2 = raw_function(&t, &name).await.unwrap();
    assert_eq!(f2.code_sha256(), f.code_sha256());
    assert_eq!(functions_named(&t, &name).await, 1);
    assert_eq!(roles_named(&t, role).await, 1);
    wait_ready(&Function, &cx, &second, Duration::from_secs(60)).await;

    // Hidden files and bytecode caches do not count as changes.
    std::fs::create_dir(src.path().join("__pycache__")).unwrap();
    std::fs::write(
        src.path().join("__pycache__/index.cpython-312.pyc"),
        b"junk",
    )
    .unwrap();
    let unchanged = Function.apply(&cx, &p).await.unwrap();
    assert_eq!(unchanged, first);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());

    // A changed source updates the code.
    std::fs::write(
        src.path().join("index.py"),
        "def handler(event, context):\n    return {'v': 2}\n",
    )
    .unwrap();
    let third = Function.apply(&cx, &p).await.unwrap();
    assert_ne!(out(&third, "code_sha256"), out(&first, "code_sha256"));
    assert_eq!(t.calls.take_changes(), ["UpdateFunctionCode"]);
    let f3 = raw_function(&t, &name).await.unwrap();
    assert_eq!(f3.code_sha256(), Some(out(&third, "code_sha256").as_str()));
    assert_eq!(out(&third, "arn"), out(&first, "arn"));

    // A changed setting updates the configuration only.
    p.insert("memory_mb".into(), json!(512));
    let fourth = Function.apply(&cx, &p).await.unwrap();
    assert_eq!(fourth, third);
    assert_eq!(t.calls.take_changes(), ["UpdateFunctionConfiguration"]);
    let f4 = raw_function(&t, &name).await.unwrap();
    assert_eq!(f4.memory_size(), Some(512));
    assert_eq!(f4.code_sha256(), f3.code_sha256());
    wait_ready(&Function, &cx, &fourth, Duration::from_secs(60)).await;

    let found = Function.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "resize");
    assert_eq!(out(&found[0].outputs, "name"), name);
    Function.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(raw_function(&t, &name).await.is_none());
    assert!(!role_exists(&t, role).await);
    assert!(log_group(&t, &name).await.is_none());
    Function.delete(&cx, &first).await.unwrap();
    assert!(Function.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

/// The retention and tags of the log group of function `name`; `None` when
/// it does not exist.
async fn log_group(t: &T, name: &str) -> Option<(Option<i32>, HashMap<String, String>)> {
    let group_name = format!("/aws/lambda/{name}");
    let out = t
        .aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&group_name)
        .send()
        .await
        .unwrap();
    let g = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group_name.as_str()))?;
    let arn = g.arn().unwrap().trim_end_matches(":*").to_string();
    let tags = t
        .aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default();
    Some((g.retention_in_days(), tags))
}

#[tokio::test]
async fn lambda_log_group_keeps_its_retention_and_is_swept_when_left_behind() {
    let t = T::new("kc-fnlog");
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("index.py"),
        "def handler(e, c):\n    return 1\n",
    )
    .unwrap();
    let cx = t.cx("audit");
    let mut p = props(json!({
        "source": src.path().to_str().unwrap(),
        "log_retention_days": 30,
    }));
    let first = Function.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    assert_eq!(log_group(&t, &name).await.unwrap().0, Some(30));
    // A rerun changes nothing; a new retention is set in place.
    t.calls.take();
    Function.apply(&cx, &p).await.unwrap();
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    p.insert("log_retention_days".into(), json!(7));
    Function.apply(&cx, &p).await.unwrap();
    assert_eq!(t.calls.take_changes(), ["PutRetentionPolicy"]);
    assert_eq!(log_group(&t, &name).await.unwrap().0, Some(7));

    // A retention CloudWatch Logs does not offer is refused at validation.
    let issues = Function.check(&props(json!({"source": "x", "log_retention_days": 10})));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].sentence().contains("'log_retention_days': is 10"),
        "{issues:?}"
    );

    // The function is gone (a delete that stopped half-way) and the state is
    // lost: the sweep still finds the log group, by its tags, and the delete
    // of what it found removes it.
    t.aws
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    let found = Function.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "audit");
    Function.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(log_group(&t, &name).await.is_none());
    assert!(!role_exists(&t, &format!("{name}-role")).await);
    assert!(Function.sweep(&t.sweep_cx()).await.unwrap().is_empty());
}

#[tokio::test]
async fn lambda_from_the_stack_asset_with_a_queue_trigger() {
    let t = T::new("kc-fnq");
    let queue_url = t
        .aws
        .sqs
        .create_queue()
        .queue_name("kc-fnq-uploads")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = t
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let cx = t.cx("thumbnailer");
    // The repository's asset, relative to the directory the tests run in
    // (the crate root), as a stack would name it.
    let p = props(json!({
        "source": "stacks/assets/thumbnailer",
        "queue_arn": queue_arn,
    }));
    let first = Function.apply(&cx, &p).await.unwrap();
    let name = out(&first, "name");
    let mapping = out(&first, "event_source_mapping_id");
    let maps = mappings_of(&t, &name).await;
    assert_eq!(maps.len(), 1, "{maps:?}");
    assert_eq!(maps[0].uuid(), Some(mapping.as_str()));
    assert_eq!(maps[0].event_source_arn(), Some(queue_arn.as_str()));
    let role = "envctl-kc-fnq-thumbnailer-role";
    let inline = t
        .aws
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names(), ["envctl-sqs-read"]);

    // Twice: still one mapping (moto, unlike AWS, would accept a duplicate,
    // so this checks envctl's own lookup), and nothing changed.
    t.calls.take();
    let second = Function.apply(&cx, &p).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(t.calls.take_changes(), Vec::<String>::new());
    assert_eq!(mappings_of(&t, &name).await.len(), 1);
    wait_ready(&Function, &cx, &second, Duration::from_secs(60)).await;

    // Without the queue: mapping and read policy go.
    let no_queue = props(json!({"source": "stacks/assets/thumbnailer"}));
    let third = Function.apply(&cx, &no_queue).await.unwrap();
    assert!(third.get("event_source_mapping_id").is_none());
    assert!(mappings_of(&t, &name).await.is_empty());
    let inline = t
        .aws
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    assert!(inline.policy_names().is_empty());

    let again = Function.apply(&cx, &p).await.unwrap();
    assert_eq!(mappings_of(&t, &name).await.len(), 1);
    Function.delete(&cx, &again).await.unwrap();
    assert!(raw_function(&t, &name).await.is_none());
    assert!(mappings_of(&t, &name).await.is_empty());
    assert!(!role_exists(&t, role).await);
    Function.delete(&cx, &again).await.unwrap();
}

#[tokio::test]
async fn lambda_sweep_finds_a_role_left_without_its_function() {
    let t = T::new("kc-fnr");
    let cx = t.cx("orphan");
    // A bad source fails before anything is created.
    let err = Function
        .apply(
            &cx,
            &props(json!({"source": "stacks/assets/does-not-exist"})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KindError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");
    let role = "envctl-kc-fnr-orphan-role";
    assert!(!role_exists(&t, role).await);

    // A crashed run: the role exists (tagged as envctl makes it), the
    // function does not.
    let tags = [
        ("envctl:tenant", "kc-fnr"),
        ("envctl:stack", STACK),
        ("envctl:resource", "orphan"),
        ("envctl:managed", "true"),
    ];
    t.aws
        .iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(*k)
                        .value(*v)
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    t.aws
        .iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        .send()
        .await
        .unwrap();
    let found = Function.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].resource_id, "orphan");
    assert!(found[0].outputs.get("name").is_none());
    Function.delete(&cx, &found[0].outputs).await.unwrap();
    assert!(!role_exists(&t, role).await);
    assert!(Function.sweep(&t.sweep_cx()).await.unwrap().is_empty());

    // A role of another tenant with our name is not adopted.
    t.aws
        .iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("envctl:tenant")
                .value("someone-else")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = Function
        .apply(&cx, &props(json!({"source": "stacks/assets/thumbnailer"})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("someone-else"), "{err}");
    assert!(raw_function(&t, "envctl-kc-fnr-orphan").await.is_none());
    assert!(Function.sweep(&t.sweep_cx()).await.unwrap().is_empty());
    t.aws
        .iam
        .delete_role()
        .role_name(role)
        .send()
        .await
        .unwrap();
}

// ------------------------------------------- sharing, lost answers, rules ----

#[tokio::test]
async fn network_shared_from_another_tenant_is_adopted_read_only_and_left_by_destroy_and_sweep() {
    let owner = T::new("kc-share-owner");
    let user = T::new("kc-share-user");
    let ocx = owner.cx("network");
    let made = Network
        .apply(&ocx, &props(json!({ "cidr": "10.63.0.0/16" })))
        .await
        .unwrap();
    let vpc = out(&made, "vpc_id");
    let tags_before = ec2_tags(vpcs(&owner, vec![filter("vpc-id", &vpc)]).await[0].tags());
    let before = footprint(&owner, &vpc).await;
    user.calls.take();

    let ucx = user.cx("network");
    let shared = props(json!({ "shared_from": format!("{}/network", owner.tenant) }));
    let o = Network.apply(&ucx, &shared).await.unwrap();
    assert_eq!(out(&o, "vpc_id"), vpc);
    assert_eq!(out(&o, "created"), "false");
    assert_eq!(out(&o, "subnet_ids"), out(&made, "subnet_ids"));
    // Adopting by id instead is refused: the VPC is another tenant's, and
    // sharing it has to be said.
    let err = Network
        .apply(&ucx, &props(json!({ "vpc_id": vpc })))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shared_from"), "{err}");

    // The adopting tenant's destroy and sweep leave the network alone, and
    // it never called anything that changes AWS.
    assert!(Network.sweep(&user.sweep_cx()).await.unwrap().is_empty());
    Network.delete(&ucx, &o).await.unwrap();
    assert_eq!(user.calls.take_changes(), Vec::<String>::new());
    assert_eq!(footprint(&owner, &vpc).await, before);
    assert_eq!(
        ec2_tags(vpcs(&owner, vec![filter("vpc-id", &vpc)]).await[0].tags()),
        tags_before,
        "the adopted VPC is not re-tagged"
    );

    // A network that is not there is named, with the fix.
    let err = Network
        .apply(&ucx, &props(json!({ "shared_from": "nobody/network" })))
        .await
        .unwrap_err();
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("envctl create tenant nobody"),
        "{err}"
    );

    Network.delete(&ocx, &made).await.unwrap();
    assert!(!vpc_exists(&owner, &vpc).await);
}

#[tokio::test]
async fn security_groups_that_name_each_other_are_swept_after_state_loss() {
    let t = T::new("kc-sgx");
    let (vpc, subnet_ids) = raw_network(&t, "10.64").await;
    let group = |id: &str, source: Option<&str>| {
        let ingress = match source {
            Some(g) => json!([{ "protocol": "tcp", "port": 8080, "source_group": g }]),
            None => json!([]),
        };
        (
            t.cx(id),
            props(json!({ "vpc_id": vpc, "ingress": ingress })),
        )
    };
    let (acx, _) = group("sg-a", None);
    let a = SecurityGroup
        .apply(&acx, &group("sg-a", None).1)
        .await
        .unwrap();
    let a_id = out(&a, "group_id");
    let b = SecurityGroup
        .apply(&t.cx("sg-b"), &group("sg-b", Some(&a_id)).1)
        .await
        .unwrap();
    let b_id = out(&b, "group_id");
    // a allows b, b allows a: neither can go first on AWS unless the other's
    // rule is revoked.
    SecurityGroup
        .apply(&acx, &group("sg-a", Some(&b_id)).1)
        .await
        .unwrap();
    assert_eq!(ingress(&t, &a_id).await.len(), 1);
    assert_eq!(ingress(&t, &b_id).await.len(), 1);

    // State lost: the sweep finds both; delete them in the order that fails
    // on AWS without revoking (the referenced group first), one call each.
    let mut found = SecurityGroup.sweep(&t.sweep_cx()).await.unwrap();
    assert_eq!(found.len(), 2);
    found.sort_by_key(|f| f.resource_id != "sg-a");
    for f in &found {
        let id = out(&f.outputs, "group_id");
        SecurityGroup
            .delete(&t.cx(&f.resource_id), &f.outputs)
            .await
            .unwrap();
        assert!(!group_exists(&t, &id).await, "{id} is deleted");
        // AWS refuses (DependencyViolation) to delete a group another
        // group's rule names; moto does not, so the test checks that no
        // rule naming it was left.
        for g in groups_of_tenant(&t).await {
            let names_it = g
                .ip_permissions()
                .iter()
                .flat_map(|p| p.user_id_group_pairs())
                .any(|p| p.group_id() == Some(id.as_str()));
            assert!(
                !names_it,
                "{} still names deleted {id}",
                g.group_id().unwrap()
            );
        }
    }
    assert!(groups_of_tenant(&t).await.is_empty());
    delete_raw_network(&t, &vpc, &subnet_ids).await;
}

/// Makes EC2 behave as after a lost answer, at the kind's boundary: the
/// first CreateVpc is carried out by moto but answered with a 500, and the
/// next `hide` tag lookups (DescribeVpcs with filters) show no VPC, as
/// EC2's eventual consistency may.
#[derive(Clone, Debug)]
struct LostAnswer {
    lose_create: Arc<std::sync::atomic::AtomicBool>,
    /// Answer the first CreateInternetGateway with a 500 (moto made it).
    lose_igw: Arc<std::sync::atomic::AtomicBool>,
    hide: Arc<std::sync::atomic::AtomicUsize>,
    creates: Arc<std::sync::atomic::AtomicUsize>,
}

/// The EC2 action of the request in flight (its query body names it),
/// kept from before sending until its answer is read.
#[derive(Clone, Debug)]
struct Action(String);

impl aws_smithy_types::config_bag::Storable for Action {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for LostAnswer {
    fn name(&self) -> &'static str {
        "lost-answer"
    }

    fn read_before_transmit(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = ctx
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).to_string())
            .unwrap_or_default();
        cfg.interceptor_state().store_put(Action(body));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use std::sync::atomic::Ordering;
        let body = cfg
            .load::<Action>()
            .map(|a| a.0.clone())
            .unwrap_or_default();
        let response = ctx.response_mut();
        if body.contains("Action=CreateInternetGateway")
            && self.lose_igw.swap(false, Ordering::SeqCst)
        {
            *response.status_mut() = 500.try_into().unwrap();
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(
                "<Response><Errors><Error><Code>InternalError</Code><Message>An internal \
                 error has occurred</Message></Error></Errors><RequestID>1</RequestID></Response>",
            );
        } else if body.contains("Action=CreateVpc") {
            self.creates.fetch_add(1, Ordering::SeqCst);
            if self.lose_create.swap(false, Ordering::SeqCst) {
                *response.status_mut() = 500.try_into().unwrap();
                *response.body_mut() = aws_smithy_types::body::SdkBody::from(
                    "<Response><Errors><Error><Code>InternalError</Code><Message>An internal \
                     error has occurred</Message></Error></Errors><RequestID>1</RequestID></Response>",
                );
            }
        } else if body.contains("Action=DescribeVpcs")
            && body.contains("Filter")
            && self
                .hide
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(
                "<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
                 <requestId>1</requestId><vpcSet/></DescribeVpcsResponse>",
            );
        }
        Ok(())
    }
}

impl LostAnswer {
    /// A tenant whose EC2 client goes through this interceptor.
    fn world(&self, tenant: &str) -> T {
        let interceptor = self.clone();
        let world = KindWorld::with_kind_clients(STACK, tenant, "kc-values", |aws, config| {
            let mut c = aws.clone();
            c.ec2 = aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(config)
                    .interceptor(interceptor)
                    .build(),
            );
            c
        });
        T {
            world,
            calls: Calls::default(),
        }
    }
}

/// Applies the network again after each retryable error, as the engine
/// does; the outputs and the errors seen on the way.
async fn apply_as_the_engine_does(cx: &Cx, p: &Props) -> (Outputs, Vec<KindError>) {
    let mut errors = Vec::new();
    loop {
        match Network.apply(cx, p).await {
            Ok(o) => return (o, errors),
            Err(e) if e.is_transient() && errors.len() < 10 => errors.push(e),
            Err(e) => panic!("{e} after {errors:?}"),
        }
    }
}

#[tokio::test]
async fn a_lost_create_vpc_answer_and_a_lagging_lookup_make_one_vpc_not_two() {
    let lost = LostAnswer {
        lose_create: Arc::new(true.into()),
        lose_igw: Arc::new(false.into()),
        hide: Arc::new(3.into()),
        creates: Arc::new(0.into()),
    };
    let t = lost.world("kc-lost");
    let cx = t.cx("net");
    let p = props(json!({ "cidr": "10.65.0.0/16" }));
    let (o, errors) = apply_as_the_engine_does(&cx, &p).await;
    assert!(
        matches!(errors[0], KindError::Transient(_)),
        "the 500 first: {errors:?}"
    );
    assert!(
        errors[1..].iter().all(|e| matches!(
            e,
            KindError::Waiting { message, .. } if message.contains("got no answer")
        )),
        "then waits for the lookup instead of creating: {errors:?}"
    );
    // The first lookup (before any VPC) used one of the three lagging ones.
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        lost.creates.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "CreateVpc is sent once (no SDK resend, no second create)"
    );
    let tenant_vpcs = vpcs(&t, vec![t.tenant_filter()]).await;
    assert_eq!(tenant_vpcs.len(), 1, "one VPC");
    assert_eq!(tenant_vpcs[0].vpc_id(), Some(out(&o, "vpc_id").as_str()));
    Network.delete(&cx, &o).await.unwrap();
    assert!(vpcs(&t, vec![t.tenant_filter()]).await.is_empty());
}

/// CreateVpc answered, then a later step of the same apply failed (the
/// gateway's answer lost), and the retry's tag lookup lags: the retry reads
/// the VPC it made by id instead of making a second one. Found by the
/// realism layer's default-stack run (a second VPC and its subnets).
#[tokio::test]
async fn a_failed_step_after_create_vpc_and_a_lagging_lookup_make_one_vpc_not_two() {
    let lost = LostAnswer {
        lose_create: Arc::new(false.into()),
        lose_igw: Arc::new(true.into()),
        hide: Arc::new(3.into()),
        creates: Arc::new(0.into()),
    };
    let t = lost.world("kc-step");
    let cx = t.cx("net");
    let p = props(json!({ "cidr": "10.66.0.0/16" }));
    let (o, errors) = apply_as_the_engine_does(&cx, &p).await;
    assert!(
        !errors.is_empty(),
        "the gateway's lost answer failed a step"
    );
    assert_eq!(
        lost.creates.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "CreateVpc is sent once although the retry's tag lookup showed no VPC"
    );
    let tenant_vpcs = vpcs(&t, vec![t.tenant_filter()]).await;
    assert_eq!(tenant_vpcs.len(), 1, "one VPC");
    assert_eq!(tenant_vpcs[0].vpc_id(), Some(out(&o, "vpc_id").as_str()));
    assert_eq!(
        igws(&t, vec![t.tenant_filter()]).await.len(),
        1,
        "one gateway"
    );
    Network.delete(&cx, &o).await.unwrap();
    assert!(vpcs(&t, vec![t.tenant_filter()]).await.is_empty());
}

#[tokio::test]
async fn a_security_group_description_with_an_apostrophe_exits_2_at_validation_creating_nothing() {
    let t = T::new("kc-apos");
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("apostrophe.yaml");
    std::fs::write(
        &stack,
        "stack: apostrophe\nresources:\n  - id: network\n    kind: aws.ec2.network\n  \
         - id: web-sg\n    kind: aws.ec2.security_group\n    properties:\n      \
         vpc_id: ${network.vpc_id}\n      description: the tenant's load balancer\n",
    )
    .unwrap();
    let moto = support::kinds::shared_moto();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_envctl"));
    c.args(["create", "tenant", t.tenant.as_str(), "--stack"])
        .arg(&stack)
        .env("ENVCTL_STATE", dir.path().join("state.sqlite"))
        .env("ENVCTL_VALUES_BUCKET", "kc-values-apos")
        .stdin(std::process::Stdio::null());
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    let run = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("apostrophe.yaml:9"), "file:line: {stderr}");
    assert!(
        stderr.contains("description") && stderr.contains("apostrophe"),
        "{stderr}"
    );
    assert!(vpcs(&t, vec![t.tenant_filter()]).await.is_empty(), "no VPC");
    assert!(groups_of_tenant(&t).await.is_empty(), "no security group");
    assert!(!dir.path().join("state.sqlite").exists(), "no state");
}

/// Calls `op` again after each retryable error, as the engine does (with a
/// short pause between attempts), until it succeeds; fails on a permanent
/// error or after `limit`. Returns the value and the retryable errors seen.
async fn until_ok<T, F, Fut>(limit: Duration, mut op: F) -> (T, Vec<KindError>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, KindError>>,
{
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        match op().await {
            Ok(v) => return (v, seen),
            Err(e) if e.is_transient() && started.elapsed() < limit => {
                seen.push(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e} (after {} retries: {seen:?})", seen.len()),
        }
    }
}

#[tokio::test]
async fn through_the_realism_proxy_a_deleted_load_balancers_interfaces_are_named_while_deletes_wait()
 {
    use envctl::kinds::aws::elb::v2::LoadBalancer;
    let moto = support::kinds::shared_moto();
    let realism = support::realism::Realism::start(&moto, Default::default());
    let aws = envctl::kinds::aws::AwsClients::from_config(&realism.sdk_config());
    let backends = Arc::new(envctl::kinds::Backends {
        values: envctl::envapi::ValueStore::new(aws.s3.clone(), "kc-values-realism"),
        aws,
        kube: envctl::kinds::k8s::KubeClient::from_env(),
    });
    let tenant = envctl::tenant::TenantName::parse("kc-linger").unwrap();
    let cx = |id: &str| Cx {
        tenant: tenant.clone(),
        stack: STACK.into(),
        environment: support::kinds::ENVIRONMENT.into(),
        resource_id: id.into(),
        expires_at: None,
        publish: Vec::new(),
        interrupted: false,
        pool: None,
        backends: backends.clone(),
    };
    let limit = Duration::from_secs(120);
    let (net_cx, sg_cx, lb_cx) = (cx("network"), cx("alb-sg"), cx("alb"));
    let net_props = props(json!({ "cidr": "10.66.0.0/16" }));

    let (net, _) = until_ok(limit, || Network.apply(&net_cx, &net_props)).await;
    let vpc = out(&net, "vpc_id");
    let sg_props = props(json!({
        "vpc_id": vpc,
        "description": "HTTP from anywhere to the tenant load balancer",
        "ingress": [{ "protocol": "tcp", "port": 80, "cidr": "0.0.0.0/0" }],
    }));
    let (sg, _) = until_ok(limit, || SecurityGroup.apply(&sg_cx, &sg_props)).await;
    let lb_props = props(json!({
        "type": "application",
        "subnet_ids": out(&net, "subnet_ids"),
        "security_group_ids": [out(&sg, "group_id")],
        "vpc_id": vpc,
    }));
    let (lb, _) = until_ok(limit, || LoadBalancer.apply(&lb_cx, &lb_props)).await;
    until_ok(limit, || LoadBalancer.delete(&lb_cx, &lb)).await;

    // The load balancer is gone, its interfaces are not: the group's delete
    // waits, saying which interfaces are left, then succeeds.
    let (_, waits) = until_ok(limit, || SecurityGroup.delete(&sg_cx, &sg)).await;
    let lb_name = out(&lb, "name");
    assert!(
        waits.iter().any(|e| matches!(
            e,
            KindError::Waiting { message, .. }
                if message.contains("still attached: 2 network interfaces of ELB app/")
                    && message.contains(&lb_name)
        )),
        "a wait names the interfaces: {waits:?}"
    );
    let (_, _) = until_ok(limit, || Network.delete(&net_cx, &net)).await;
    let raw = aws_sdk_ec2::Client::new(&realism.moto_sdk_config());
    let left = raw
        .describe_vpcs()
        .filters(filter("tag:envctl:tenant", tenant.as_str()))
        .send()
        .await
        .unwrap();
    assert!(left.vpcs().is_empty());
}

#[tokio::test]
async fn through_the_realism_proxy_a_new_role_is_waited_for_and_the_log_group_comes_first() {
    let moto = support::kinds::shared_moto();
    let realism = support::realism::Realism::start(&moto, Default::default());
    let aws = envctl::kinds::aws::AwsClients::from_config(&realism.sdk_config());
    let backends = Arc::new(envctl::kinds::Backends {
        values: envctl::envapi::ValueStore::new(aws.s3.clone(), "kc-values-realism-fn"),
        aws,
        kube: envctl::kinds::k8s::KubeClient::from_env(),
    });
    let cx = Cx {
        tenant: envctl::tenant::TenantName::parse("kc-iam").unwrap(),
        stack: STACK.into(),
        environment: support::kinds::ENVIRONMENT.into(),
        resource_id: "worker".into(),
        expires_at: None,
        publish: Vec::new(),
        interrupted: false,
        pool: None,
        backends,
    };
    let src = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("index.py"),
        "def handler(e, c):\n    return 1\n",
    )
    .unwrap();
    let p = props(json!({ "source": src.path().to_str().unwrap() }));

    // The role was created a moment ago: Lambda cannot assume it yet (IAM
    // propagation), and the kind says it waits for that, for 2 minutes.
    let (o, waits) = until_ok(Duration::from_secs(60), || Function.apply(&cx, &p)).await;
    assert!(realism.stat("iam.role_not_assumable") >= 1);
    assert!(!waits.is_empty());
    for w in &waits {
        let KindError::Waiting {
            waiting_for,
            within,
            ..
        } = w
        else {
            panic!("{w:?}");
        };
        assert!(waiting_for.contains("IAM role"), "{waiting_for}");
        assert_eq!(*within, Duration::from_secs(120));
    }
    // The log group was made before the function, and only once.
    let raw = envctl::kinds::aws::AwsClients::from_config(&realism.moto_sdk_config());
    let name = out(&o, "name");
    let groups = raw
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1, "{groups:?}");
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));

    until_ok(Duration::from_secs(60), || Function.delete(&cx, &o)).await;
    let groups = raw
        .logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{name}"))
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty(), "{groups:?}");
}
